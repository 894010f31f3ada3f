"""The manifest: one TSV per split listing the examples of a prepared dataset.

Columns: id, split, media (a video file, a folder of frame images or a `.pose` file), frames and fps of the media,
text, gloss, signer; then, for corpora beyond Phoenix (see corpus.py): start and end (seconds into the media;
0 and 0: all of it), pose_id (the name of the pose file estimated from the media: examples cut from one long video
share it, so the video is estimated once; empty: the id), source_lang and target_lang (the row's languages, which
become its prompts), problem (why the example cannot be used: it stays in the manifest, reported, and preprocess
leaves it out under its fraction setting). Manifests written before those columns existed read with the defaults.
Written by prepare; read by estimate (what to estimate) and preprocess (the texts).
"""

from __future__ import annotations

import csv
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

from pipeline.schema import SPLITS
from pipeline.stages.markers import atomic_path


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
    start: float = 0.0
    end: float = 0.0
    pose_id: str = ""
    source_lang: str = ""
    target_lang: str = ""
    problem: str = ""

    @property
    def pose_name(self) -> str:
        """The pose file's name (without .pose) that estimation writes for this example's media."""
        return self.pose_id or self.id

    @property
    def is_segment(self) -> bool:
        return bool(self.start or self.end)


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
    numbers: dict[str, Any] = {"frames": int, "fps": float, "start": float, "end": float}
    typed: list[dict[str, Any]] = [{k: numbers[k](v) if k in numbers else v for k, v in row.items()} for row in rows]
    return [Example(**values) for values in typed]


def read_all(manifest_dir: Path) -> list[Example]:
    """All splits, in split order."""
    out: list[Example] = []
    for split in SPLITS:
        path = Path(manifest_dir) / f"{split}.tsv"
        if not path.exists():
            raise FileNotFoundError(f"{path}: no manifest; has the prepare stage run?")
        out += read_manifest(path)
    return out
