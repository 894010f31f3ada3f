"""OpenPose JSON keypoints as a pose source (`estimate.source: openpose_json`): one folder of `*_keypoints.json` per
example, as OpenPose's `--write_json` writes them and How2Sign releases them ("B-F-H 2D keypoints",
`openpose_output/json/<SENTENCE_NAME>/`), converted once into a `.pose` file of the registry's `openpose` type.

- prepare finds each example's folder by its media's name (How2Sign: SENTENCE_NAME) anywhere below
  `estimate.folder` (`KeypointFolders`) and counts its frames (`keypoint_frames`: the highest frame number + 1);
- the estimate job (trainer image, no estimator) converts each folder with pose-format's own
  `load_openpose_directory`: its header (OpenPose_Components, 137 points, XYC) and its points, at the example's
  fps; frames missing from the numbering stay in place as frames with zero confidence, as that loader fills them;
- a folder that cannot be converted is reported as `file: reason` and left out (estimate's failures, then
  preprocess under `preprocess.max_missing_fraction`): no JSON files, a stray file that is not a
  `*_keypoints.json` (the loader reads every file of the folder), a truncated or non-JSON file, a JSON without a
  `people` list or a person without one of the four keypoint lists, nobody found in any frame. Frames with two
  people are kept as two people; preprocess reduces them to the signer, as for downloaded OpenPose archives.
"""

from __future__ import annotations

import json
import os
import re
import sys
from pathlib import Path
from typing import Optional

from pipeline.stages.frames import MediaError
from pipeline.stages.manifest import Example
from pipeline.stages.markers import atomic_path

# pose-format's own OPENPOSE_FRAME_PATTERN (utils/openpose.py), repeated so that counting frames needs no import
FRAME_PATTERN = re.compile(r"(?:^|\D)(\d+)\_keypoints.json")


class KeypointFolders:
    """Finds an example's keypoint folder by name below a top folder: first beside the folders found so far (one
    stat each: How2Sign keeps them all in one folder), else through one walk of the tree, kept."""

    def __init__(self, top: Path):
        self.top = Path(top)
        self.parents: list[Path] = [self.top]
        self.index: Optional[dict[str, Path]] = None

    def find(self, name: str) -> Optional[Path]:
        for parent in self.parents:
            if (parent / name).is_dir():
                return parent / name
        if self.index is None:
            self.index = {}
            for folder, subfolders, _ in os.walk(self.top):
                for sub in subfolders:
                    self.index.setdefault(sub, Path(folder) / sub)
        found = self.index.get(name)
        if found is not None and found.parent not in self.parents:
            self.parents.append(found.parent)
        return found


def keypoint_frames(folder: Path) -> int:
    """Frames of a keypoint folder as pose-format's loader will make them: the highest frame number + 1."""
    numbers = [int(m[-1]) for name in os.listdir(folder) if (m := FRAME_PATTERN.findall(name))]
    if not numbers:
        raise MediaError(f"{folder}: no *_keypoints.json files (expected OpenPose's --write_json output)")
    return max(numbers) + 1


def culprit(folder: Path, exc: Exception) -> str:
    """`file: reason` for a folder pose-format's loader failed on: the first file that explains the error."""
    names = sorted(os.listdir(folder))
    for name in names:
        if not FRAME_PATTERN.findall(name):
            return f"{folder / name}: stray file, not an OpenPose *_keypoints.json (every file of the folder is read)"
    frames = {}
    for name in names:
        try:
            with open(folder / name) as handle:
                frames[name] = json.load(handle)
        except (ValueError, OSError) as error:
            return f"{folder / name}: truncated or not JSON ({type(error).__name__}: {error})"
        if not isinstance(frames[name], dict) or not isinstance(frames[name].get("people"), list):
            return f"{folder / name}: no 'people' list (expected OpenPose's --write_json output)"
    missing = exc.args[0] if isinstance(exc, KeyError) and exc.args else None
    for name, frame in frames.items():
        if missing and any(missing not in person for person in frame["people"]):
            return (
                f"{folder / name}: a person without {missing!r} (run OpenPose with --face --hand, as How2Sign's "
                f"B-F-H keypoints are)"
            )
    return f"{folder}: pose-format cannot load it ({type(exc).__name__}: {exc})"


def convert(folder: Path, fps: float):
    """The Pose of one keypoint folder (pose-format's `load_openpose_directory`); MediaError(`file: reason`)."""
    from pose_format.utils.openpose import load_openpose_directory

    if not folder.is_dir():
        raise MediaError(f"{folder}: no such keypoint folder")
    keypoint_frames(folder)  # no JSON at all: its own line
    try:
        pose = load_openpose_directory(str(folder), fps=fps)
    except (IndexError, KeyError, ValueError, TypeError, OSError) as exc:  # UnicodeDecodeError is a ValueError
        raise MediaError(culprit(folder, exc)) from None
    if pose.body.data.shape[1] == 0:
        raise MediaError(f"{folder}: nobody found in any of its {pose.body.data.shape[0]} frames")
    return pose


def convert_shard(examples: list[Example], out: Path, label: str) -> tuple[int, list[tuple[str, str]]]:
    """Convert every example without a pose file yet (atomic writes: a rerun skips finished ones); returns
    (frames written, failures [(id, reason)]). Progress in examples."""
    from tqdm import tqdm

    todo = [e for e in examples if not (out / f"{e.id}.pose").exists()]
    print(
        f"{label}: {len(examples)} keypoint folder(s) in shard, {len(examples) - len(todo)} already converted, "
        f"{len(todo)} to convert",
        flush=True,
    )
    frames, gaps, failures = 0, 0, []
    for ex in tqdm(todo, unit="folder", mininterval=10, file=sys.stdout, ncols=100, desc=label):
        try:
            pose = convert(Path(ex.media), ex.fps)
        except MediaError as exc:
            failures.append((ex.id, str(exc)))
            continue
        with atomic_path(out / f"{ex.id}.pose") as tmp, open(tmp, "wb") as handle:
            pose.write(handle)
        written = int(pose.body.data.shape[0])
        frames += written
        gaps += written - sum(1 for n in os.listdir(ex.media) if FRAME_PATTERN.findall(n))
    if gaps:
        print(
            f"{label}: {gaps} frame(s) missing from the folders' numbering, kept in place with zero confidence",
            flush=True,
        )
    return frames, failures
