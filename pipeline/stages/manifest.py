"""The manifest: one TSV per split listing the examples of a prepared dataset.

Columns: id, split, media (a video file or a folder of frame images), frames, fps, text, gloss, signer.
Written by prepare; read by estimate (what to estimate) and preprocess (the texts).
"""
from __future__ import annotations

import csv
from dataclasses import asdict, dataclass, fields
from pathlib import Path

from pipeline.stages.markers import atomic_path

SPLITS = ("train", "validation", "test")


@dataclass
class Example:
    id: str
    split: str
    media: str
    frames: int
    fps: float
    text: str
    gloss: str = ""
    signer: str = ""


COLUMNS = [f.name for f in fields(Example)]


def write_manifest(path: Path, examples: list[Example]) -> None:
    with atomic_path(path) as tmp, open(tmp, "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=COLUMNS, delimiter="\t", quoting=csv.QUOTE_MINIMAL)
        writer.writeheader()
        for ex in examples:
            writer.writerow(asdict(ex))


def read_manifest(path: Path) -> list[Example]:
    with open(path, newline="") as handle:
        rows = list(csv.DictReader(handle, delimiter="\t"))
    return [Example(**{**row, "frames": int(row["frames"]), "fps": float(row["fps"])}) for row in rows]


def read_all(manifest_dir: Path) -> list[Example]:
    """All splits, in split order."""
    out: list[Example] = []
    for split in SPLITS:
        path = Path(manifest_dir) / f"{split}.tsv"
        if not path.exists():
            raise FileNotFoundError(f"{path}: no manifest; has the prepare stage run?")
        out += read_manifest(path)
    return out
