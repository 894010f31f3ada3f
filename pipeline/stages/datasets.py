"""Dataset layouts → manifest examples. Each reader checks its tree and says what it expected to find.

- `official`: the RWTH-PHOENIX-Weather-2014T release, `<root>/annotations/manual/PHOENIX-2014-T.{train,dev,test}
  .corpus.csv` (`|`-separated: name|video|start|end|speaker|orth|translation) and
  `<root>/features/fullFrame-210x260px/{train,dev,test}/<name>/*.png` at 25 fps. `dev` becomes `validation`.
  No video is made: estimation reads the frames.
- `videos`: the original pipeline's layout, `<root>/{train,validation,test}/*.mp4` and
  `<root>/PHOENIX-2014-T.{split}.corpus_poses.tsv` (tab-separated; the basename of `signal` or `video_path` is the
  id, `output` the text).
- `sample`: the project's generated sample, written in the official layout (see sample_data.py).
- `manifest` and `how2sign`: any corpus, by one table per split, and the How2Sign release (see corpus.py).
- `annotations`: only the official corpus CSVs (`annotations/manual/PHOENIX-2014-T.{train,dev,test}.corpus.csv`,
  at `<root>` or anywhere below it, e.g. inside the public annotations archive): texts for pre-estimated poses.
"""

from __future__ import annotations

import csv
from pathlib import Path

from pipeline.errors import UserError
from pipeline.schema import DATASET_LAYOUTS
from pipeline.stages.frames import MediaError, frame_files, video_info
from pipeline.stages.manifest import SPLITS, Example

PHOENIX_FPS = 25.0
OFFICIAL_SPLITS = {"train": "train", "validation": "dev", "test": "test"}
FRAMES_DIR = Path("features") / "fullFrame-210x260px"
OFFICIAL_COLUMNS = ["name", "video", "start", "end", "speaker", "orth", "translation"]


def corpus_csv(root: Path, split: str) -> Path:
    return root / "annotations" / "manual" / f"PHOENIX-2014-T.{OFFICIAL_SPLITS[split]}.corpus.csv"


def find_annotations(root: Path) -> Path | None:
    """The folder holding `annotations/manual/PHOENIX-2014-T.train.corpus.csv`: root itself or one below it."""
    if corpus_csv(root, "train").exists():
        return root
    for depth in range(1, 5):
        found = sorted(root.glob("/".join(["*"] * depth) + "/" + str(corpus_csv(Path(), "train"))))
        if found:
            return found[0].parents[2]
    return None


def read_official(root: Path, frames_expected: bool = True) -> tuple[list[Example], list[str]]:
    """Examples and problems (one line each: file:line: id: reason) of an official-layout tree.
    Without `frames_expected` (layout annotations) only the texts are read."""
    if not (root / "annotations" / "manual").is_dir():
        raise UserError(
            f"dataset.root {root}: expected the official PHOENIX-2014-T layout with annotations/manual/"
            f"PHOENIX-2014-T.{{train,dev,test}}.corpus.csv and {FRAMES_DIR}/{{train,dev,test}}/<name>/; "
            f"point dataset.root at the PHOENIX-2014-T folder inside the release, or set dataset.layout"
        )
    examples, problems = [], []
    for split, name in OFFICIAL_SPLITS.items():
        path = corpus_csv(root, split)
        if not path.exists():
            raise UserError(f"{path}: missing; the official layout has one corpus CSV per split (train, dev, test)")
        with open(path, newline="", encoding="utf-8") as handle:
            reader = csv.reader(handle, delimiter="|", quoting=csv.QUOTE_NONE)
            header = next(reader, None)
            if header != OFFICIAL_COLUMNS:
                raise UserError(
                    f"{path}:1: expected the header {'|'.join(OFFICIAL_COLUMNS)}, got {'|'.join(header or [])}"
                )
            for lineno, row in enumerate(reader, start=2):
                if len(row) != len(OFFICIAL_COLUMNS):
                    problems.append(
                        f"{path}:{lineno}: expected {len(OFFICIAL_COLUMNS)} '|'-separated fields, "
                        f"got {len(row)}; row skipped"
                    )
                    continue
                rec = dict(zip(OFFICIAL_COLUMNS, row))
                folder = root / FRAMES_DIR / name / rec["name"]
                frames = len(frame_files(folder)) if frames_expected and folder.is_dir() else 0
                if frames == 0 and frames_expected:
                    problems.append(f"{path}:{lineno}: {rec['name']}: no frames in {folder}")
                text = rec["translation"].strip()
                if not text:
                    problems.append(f"{path}:{lineno}: {rec['name']}: empty translation")
                examples.append(
                    Example(
                        rec["name"],
                        split,
                        str(folder),
                        frames,
                        PHOENIX_FPS,
                        text,
                        rec["orth"].strip(),
                        rec["speaker"].strip(),
                    )
                )
    return examples, problems


def read_videos(root: Path) -> tuple[list[Example], list[str]]:
    """Examples and problems of the original pipeline's mp4 + corpus_poses.tsv layout."""
    examples, problems = [], []
    for split in SPLITS:
        split_dir = root / split
        tsv = root / f"PHOENIX-2014-T.{split}.corpus_poses.tsv"
        if not split_dir.is_dir() or not tsv.exists():
            raise UserError(
                f"dataset.root {root}: expected the original pipeline's layout, {split}/*.mp4 and "
                f"PHOENIX-2014-T.{split}.corpus_poses.tsv for each of {', '.join(SPLITS)}; "
                f"missing {split_dir if not split_dir.is_dir() else tsv}"
            )
        texts: dict[str, tuple[str, int]] = {}
        with open(tsv, newline="", encoding="utf-8") as handle:
            reader = csv.DictReader(handle, delimiter="\t")
            column = next((c for c in ("signal", "video_path") if c in (reader.fieldnames or [])), None)
            if column is None or "output" not in (reader.fieldnames or []):
                raise UserError(
                    f"{tsv}:1: expected columns 'signal' (or 'video_path') and 'output', "
                    f"got {', '.join(reader.fieldnames or [])}"
                )
            for lineno, row in enumerate(reader, start=2):
                texts[Path(row[column]).stem] = ((row["output"] or "").strip(), lineno)
        for video in sorted(split_dir.glob("*.mp4")):
            text, lineno = texts.get(video.stem, ("", 0))
            where = f"{tsv}:{lineno}" if lineno else str(tsv)
            if not lineno:
                problems.append(f"{where}: {video.stem}: no row for this video")
            elif not text:
                problems.append(f"{where}: {video.stem}: empty output text")
            try:
                frames, fps, _, _ = video_info(video)
            except MediaError as exc:
                problems.append(f"{video}: {video.stem}: {exc}")
                frames, fps = 0, 0.0
            examples.append(Example(video.stem, split, str(video), frames, fps or PHOENIX_FPS, text))
    return examples, problems


def read_dataset(ds: dict, root: Path, keypoints: Path | None = None) -> tuple[list[Example], list[str]]:
    """Examples and problems of the dataset described by the `dataset` settings `ds`, whose tree is at root;
    with `keypoints`, each example's media is its OpenPose JSON folder below it (layouts manifest and how2sign)."""
    layout = ds["layout"]
    if layout in ("manifest", "how2sign"):
        from pipeline.stages.corpus import read_corpus

        return read_corpus(ds, root, keypoints)
    if keypoints is not None:
        raise UserError(f"estimate.source openpose_json: needs dataset.layout manifest or how2sign, not {layout}")
    if layout in ("official", "sample"):
        return read_official(root)
    if layout == "videos":
        return read_videos(root)
    if layout == "annotations":
        found = find_annotations(root)
        if found is None:
            raise UserError(
                f"dataset.root {root}: no {corpus_csv(Path(), 'train')} at or below it; point "
                f"dataset.root at the PHOENIX-2014-T folder or the extracted annotations archive, or "
                f"set dataset.url to that archive"
            )
        return read_official(found, frames_expected=False)
    raise UserError(f"dataset.layout: unknown layout {layout!r}; allowed: {', '.join(DATASET_LAYOUTS)}")
