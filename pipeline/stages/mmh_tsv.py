"""The MultimodalHugs TSV: its columns, and writing one atomically. Preprocess writes the three splits'; translating
new inputs (pipeline/stages/translate_inputs.py) writes one for its inputs, with a placeholder `output` cell, since
MultimodalHugs' generate fails on rows without one."""

from __future__ import annotations

import csv
from pathlib import Path

from pipeline.stages.markers import atomic_path

TSV_COLUMNS = ["signal", "signal_start", "signal_end", "encoder_prompt", "decoder_prompt", "output"]


def write_tsv(path: Path, rows: list[dict]) -> None:
    with atomic_path(path) as tmp, open(tmp, "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=TSV_COLUMNS, delimiter="\t", lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
