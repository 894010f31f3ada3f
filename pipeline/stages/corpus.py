"""Corpora beyond Phoenix: `dataset.layout: manifest` (any corpus, described by one table per split) and
`dataset.layout: how2sign` (the How2Sign release as downloaded).

A manifest is one TSV or CSV per split (`dataset.splits`: split -> file, relative to `dataset.root`; tab- or
comma-separated, told by its header line). `dataset.columns` names the columns that hold:
- `media` (required): a video file, a folder of frame images or a `.pose` file, relative to the manifest's folder;
- `text` (required): the translation;
- `start`, `end` (optional, both or neither): a segment of the media, in `dataset.time_unit` (seconds,
  milliseconds or frames); empty cells or no such columns mean all of it;
- `id` (optional; default `<split>-<line>`), `signer`, `source_lang` and `target_lang` (optional: per-row
  prompts `__<lang>__`, over `preprocess.encoder_prompt` / `decoder_prompt`).
Every source video is estimated once, however many examples are segments of it: examples share its pose file
(`pose_id`, from the media's path) and MultimodalHugs reads their segments through `signal_start` / `signal_end`.

A row that cannot be used (media not found, start or end unreadable, end <= start, a segment past the media's
end, empty text, a repeated id) is reported as `file:line: id: reason`; it stays in the manifest with its
problem, and preprocess leaves it out under `preprocess.max_missing_fraction` (nothing is dropped silently).

How2Sign: `how2sign_realigned_{train,val,test}.csv` at or below the root (tab-separated `VIDEO_ID, VIDEO_NAME,
SENTENCE_ID, SENTENCE_NAME, START_REALIGNED, END_REALIGNED, SENTENCE`, times in seconds) with either the
sentence clips (`<SENTENCE_NAME>.mp4`, `dataset.media: clips`) or the raw long videos (`<VIDEO_NAME>.mp4` cut at the
realigned times, `dataset.media: videos`) anywhere below the root, as the release's archives unpack.
"""

from __future__ import annotations

import csv
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Optional

from pipeline.errors import UserError
from pipeline.stages.manifest import SPLITS, Example

SECONDS_PER_UNIT = {"seconds": 1.0, "milliseconds": 0.001}  # and "frames": divided by the media's fps
DEFAULT_FPS = 25.0
HOW2SIGN_SPLITS = {"train": "train", "validation": "val", "test": "test"}
HOW2SIGN_COLUMNS = {
    "id": "SENTENCE_NAME",
    "media": "SENTENCE_NAME",
    "start": "START_REALIGNED",
    "end": "END_REALIGNED",
    "text": "SENTENCE",
}
HOW2SIGN_HEADER = [
    "VIDEO_ID",
    "VIDEO_NAME",
    "SENTENCE_ID",
    "SENTENCE_NAME",
    "START_REALIGNED",
    "END_REALIGNED",
    "SENTENCE",
]


@dataclass
class Layout:
    """How to read one corpus: which file per split, which column holds what, in which time unit."""

    files: dict[str, Path]
    columns: dict[str, str]
    time_unit: str = "seconds"
    fps: float = DEFAULT_FPS  # frame folders (and the frames unit for them)
    # media cell -> path; default: relative to the manifest's folder
    resolve: Optional[Callable[[str, Path], Path]] = None
    whole_media: bool = False  # How2Sign clips: the media is the sentence, start/end not applied
    problems: list[str] = field(default_factory=list)
    probe: Optional[Callable[[Path, float], tuple[int, float]]] = None  # (frames, fps) of a media; default: probe


def pose_id_for(media: Path, root: Path) -> str:
    """A file name for the pose of `media`, unique within the corpus: its path below root, '/' -> '__'."""
    media, root = Path(os.path.abspath(media)), Path(os.path.abspath(root))
    try:
        rel = media.relative_to(root)
    except ValueError:  # media outside the root: its absolute path names it
        rel = Path(*media.parts[1:])
    stem = rel.with_suffix("") if rel.suffix else rel
    return re.sub(r"[^A-Za-z0-9._-]+", "_", "__".join(stem.parts))


def probe(media: Path, fps: float) -> tuple[int, float]:
    """(frames, fps) of a video, a frame folder or a pose file; raises MediaError when unreadable."""
    from pipeline.stages.frames import MediaError, frame_files, video_info

    if media.is_dir():
        return len(frame_files(media)), fps
    if media.suffix == ".pose":
        from pose_format import Pose
        from pose_format.pose_body import EmptyPoseBody

        try:  # the header and frame count only: preprocess reads (and checks) the whole file
            with open(media, "rb") as handle:
                pose = Pose.read(handle, pose_body=EmptyPoseBody)
        except Exception as exc:  # pose-format raises many kinds on a damaged file
            raise MediaError(f"unreadable pose file {media} ({type(exc).__name__}: {exc})") from None
        return int(pose.body.data.shape[0]), float(pose.body.fps)
    frames, video_fps, _, _ = video_info(media)
    return frames, video_fps or fps


def sniff_delimiter(header_line: str) -> str:
    return "\t" if "\t" in header_line else ","


def read_table(path: Path) -> tuple[list[str], list[tuple[int, dict]]]:
    """Header and (line number, row) of a TSV/CSV."""
    with open(path, newline="", encoding="utf-8") as handle:
        first = handle.readline()
        handle.seek(0)
        reader = csv.DictReader(handle, delimiter=sniff_delimiter(first))
        rows = [(n, row) for n, row in enumerate(reader, start=2)]
        return list(reader.fieldnames or []), rows


def seconds(value: str, unit: str, fps: float) -> float:
    number = float(value)
    return number / fps if unit == "frames" else number * SECONDS_PER_UNIT[unit]


def read_layout(layout: Layout, root: Path) -> tuple[list[Example], list[str]]:
    """Examples and problems (file:line: id: reason) of a corpus described by `layout`."""
    examples: list[Example] = []
    problems = list(layout.problems)
    probed: dict[Path, tuple[int, float] | str] = {}
    seen: set[str] = set()
    cols = layout.columns
    for split in SPLITS:
        path = layout.files[split]
        if not path.is_file():
            raise UserError(f"{path}: no such file (the {split} manifest; dataset.splits.{split})")
        header, rows = read_table(path)
        for role in ("media", "text", *[r for r in ("start", "end") if r in cols]):
            if cols[role] not in header:
                raise UserError(
                    f"{path}:1: no column {cols[role]!r} (dataset.columns.{role}); the header has: {', '.join(header)}"
                )
        for lineno, row in rows:
            cell = lambda role: (row.get(cols[role]) or "").strip() if role in cols else ""  # noqa: E731
            example_id = cell("id") or f"{split}-{lineno}"
            where = f"{path}:{lineno}: {example_id}"
            problem = ""
            if example_id in seen:
                problem = "id used twice; give every row its own id"
            seen.add(example_id)
            value = cell("media")
            media = (layout.resolve or (lambda v, p: p.parent / v))(value, path) if value else None
            frames, fps = 0, layout.fps
            if media is None or not media.exists():
                problem = problem or (f"media {value!r} not found ({media})" if value else "no media")
            else:
                if media not in probed:
                    try:
                        probed[media] = (layout.probe or probe)(media, layout.fps)
                    except Exception as exc:  # cv2 / pose-format on an unreadable file
                        probed[media] = str(exc)
                info = probed[media]
                if isinstance(info, str):
                    problem = problem or info
                else:
                    frames, fps = info
            start = end = 0.0
            if not layout.whole_media and (cell("start") or cell("end")):
                try:
                    start, end = (seconds(cell(r), layout.time_unit, fps) for r in ("start", "end"))
                except ValueError:
                    problem = problem or (
                        f"start {cell('start')!r} and end {cell('end')!r}: expected two numbers ({layout.time_unit})"
                    )
                else:
                    if start < 0 or end <= start:
                        problem = problem or f"end {cell('end')} is not after start {cell('start')}"
                    elif frames and fps and end > frames / fps + 1.0 / fps:
                        problem = problem or (
                            f"segment {start:.3f}-{end:.3f} s ends after the media ({frames / fps:.3f} s)"
                        )
            text = cell("text")
            if not text:
                problem = problem or "empty text"
            if problem:
                problems.append(f"{where}: {problem}")
            examples.append(
                Example(
                    example_id,
                    split,
                    str(media or ""),
                    frames,
                    fps,
                    text,
                    "",
                    cell("signer"),
                    start,
                    end,
                    pose_id_for(media, root) if media is not None else "",
                    cell("source_lang"),
                    cell("target_lang"),
                    problem,
                )
            )
    return examples, problems


def manifest_layout(ds: dict, root: Path) -> Layout:
    """The `manifest` layout from the dataset settings (validated where the config is read: one file per split)."""
    splits = ds["splits"]
    columns = {"media": "media", "text": "text", **(ds.get("columns") or {})}
    return Layout(
        {s: root / splits[s] for s in SPLITS},
        columns,
        ds.get("time_unit") or "seconds",
        float(ds.get("fps") or DEFAULT_FPS),
    )


def how2sign_layout(ds: dict, root: Path) -> Layout:
    """The How2Sign release: realigned CSVs and clips or raw videos, found anywhere below the root."""
    files = {}
    for split, name in HOW2SIGN_SPLITS.items():
        found = sorted(root.rglob(f"how2sign_realigned_{name}.csv"))
        if not found:
            raise UserError(
                f"dataset.root {root}: no how2sign_realigned_{name}.csv at or below it; point "
                f"dataset.root at your How2Sign download (the realigned sentence CSVs and the videos)"
            )
        files[split] = found[0]
    videos = {p.stem: p for p in sorted(root.rglob("*.mp4"))}
    media = ds.get("media") or "clips"
    columns = dict(HOW2SIGN_COLUMNS)
    if media == "videos":
        columns["media"] = "VIDEO_NAME"

    def resolve(value: str, manifest: Path) -> Path:
        return videos.get(value, root / f"{value}.mp4")

    fps = float(ds.get("fps") or DEFAULT_FPS)  # frame folders and keypoint folders; videos say their own
    return Layout(files, columns, "seconds", fps, resolve, whole_media=media == "clips")


def media_cells(ds: dict, root: Path) -> list[tuple[Path, int, str]] | None:
    """(manifest file, line, media cell) of every row of a `manifest` corpus, read at submit (the plan asks whether
    every media is a pose file; binds.py which folders hold them); None when a split file or its media column cannot
    be read (prepare then says why)."""
    try:
        layout = manifest_layout(ds, root)
        cells = []
        for path in layout.files.values():
            header, rows = read_table(path)
            if layout.columns["media"] not in header:
                return None
            cells += [(path, n, (row.get(layout.columns["media"]) or "").strip()) for n, row in rows]
        return cells
    except (OSError, UnicodeDecodeError, csv.Error, UserError, KeyError, TypeError):  # e.g. a split not given
        return None


def with_keypoints(layout: Layout, keypoints: Path) -> Layout:
    """The layout with each example's media being its folder of OpenPose JSON keypoints, found by the media's
    name anywhere below `keypoints` (estimate.source openpose_json; see openpose_json.py). Videos are not needed."""
    from pipeline.stages.openpose_json import KeypointFolders, keypoint_frames

    if not keypoints.is_dir():
        raise UserError(f"estimate.folder {keypoints}: no such folder (OpenPose JSON keypoints, one folder per clip)")
    folders = KeypointFolders(keypoints)

    def resolve(value: str, manifest: Path) -> Path:
        name = Path(value).stem if Path(value).suffix in (".mp4", ".mov", ".avi", ".mkv") else Path(value).name
        return folders.find(name) or keypoints / name

    layout.resolve, layout.probe = resolve, lambda folder, fps: (keypoint_frames(folder), fps)
    return layout


def read_corpus(ds: dict, root: Path, keypoints: Optional[Path] = None) -> tuple[list[Example], list[str]]:
    layout = how2sign_layout(ds, root) if ds["layout"] == "how2sign" else manifest_layout(ds, root)
    if keypoints is not None:
        layout = with_keypoints(layout, keypoints)
    return read_layout(layout, root)
