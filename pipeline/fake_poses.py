"""`python -m pipeline.fake_poses`: pose files of any of the eight pose types without estimating anything, for
tests and for trying the chain on a pose type whose data you do not have.

    python -m pipeline.fake_poses --pose-type openpose --dest data/fake/openpose [--clips 8 4 4] [--people 2]

writes `<dest>/poses/{train,validation,test}/<id>.pose` and `<dest>/annotations/manual/PHOENIX-2014-T.*.corpus.csv`
(the official columns), so that `estimate.source: folder` + `dataset.layout: annotations` runs on it:

    python -m pipeline.submit config/demo.yaml --set estimate.estimator=openpose --set estimate.source=folder \\
        --set estimate.folder=data/fake/openpose/poses --set dataset.layout=annotations \\
        --set dataset.root=data/fake/openpose

Headers come from pose-format's own helpers where 0.15.0 has one (alphapose_136, the COCO-WholeBody types,
openpose), from the producing code's definitions for sapiens and smplest_x (pipeline/pose_headers.py: component and
point names as the real archives carry them), and for mediapipe from MediaPipe's point names (reduce_holistic).
The values are random: nothing can be learned from them. Needs numpy and pose-format (the trainer venv has both).
"""

from __future__ import annotations

import argparse
import csv
import importlib
from pathlib import Path

from pipeline.errors import UserError, run_cli
from pipeline.pose_headers import HEADERS
from pipeline.pose_types import POSE_TYPES

HOLISTIC_BODY = [
    "NOSE",
    "LEFT_EYE_INNER",
    "LEFT_EYE",
    "LEFT_EYE_OUTER",
    "RIGHT_EYE_INNER",
    "RIGHT_EYE",
    "RIGHT_EYE_OUTER",
    "LEFT_EAR",
    "RIGHT_EAR",
    "MOUTH_LEFT",
    "MOUTH_RIGHT",
    "LEFT_SHOULDER",
    "RIGHT_SHOULDER",
    "LEFT_ELBOW",
    "RIGHT_ELBOW",
    "LEFT_WRIST",
    "RIGHT_WRIST",
    "LEFT_PINKY",
    "RIGHT_PINKY",
    "LEFT_INDEX",
    "RIGHT_INDEX",
    "LEFT_THUMB",
    "RIGHT_THUMB",
    "LEFT_HIP",
    "RIGHT_HIP",
    "LEFT_KNEE",
    "RIGHT_KNEE",
    "LEFT_ANKLE",
    "RIGHT_ANKLE",
    "LEFT_HEEL",
    "RIGHT_HEEL",
    "LEFT_FOOT_INDEX",
    "RIGHT_FOOT_INDEX",
]
HOLISTIC_HAND = (
    ["WRIST"]
    + [f"{finger}_{joint}" for finger, joints in (("THUMB", ("CMC", "MCP", "IP", "TIP")),) for joint in joints]
    + [
        f"{finger}_{joint}"
        for finger in ("INDEX_FINGER", "MIDDLE_FINGER", "RING_FINGER", "PINKY")
        for joint in ("MCP", "PIP", "DIP", "TIP")
    ]
)
CORPUS_HEADER = ["name", "video", "start", "end", "speaker", "orth", "translation"]


def point_names(pose_type: str, component: str, count: int) -> list[str]:
    if POSE_TYPES[pose_type].reduce_holistic:  # MediaPipe's point names, so reduce_holistic finds them
        if component.endswith("HAND_LANDMARKS"):
            return HOLISTIC_HAND
        return HOLISTIC_BODY if component.startswith("POSE") else [str(i) for i in range(count)]
    return [f"{component.lower()}_{i}" for i in range(count)]


def components(pose_type: str) -> list:
    """pose-format header components for the pose type (a pose-format helper where there is one)."""
    from pose_format.pose_header import PoseHeaderComponent

    entry = POSE_TYPES[pose_type]
    if pose_type in HEADERS:  # as the producing code writes it (pipeline/pose_headers.py)
        return [
            PoseHeaderComponent(
                name=name, points=list(points), limbs=[], colors=[(255, 255, 255)], point_format=entry.fmt
            )
            for name, points in HEADERS[pose_type][1]
        ]
    if entry.fake_header:
        module, name = entry.fake_header.rsplit(".", 1)
        found = getattr(importlib.import_module(module), name)
        return list(found() if callable(found) else found)
    return [
        PoseHeaderComponent(
            name=name,
            points=point_names(pose_type, name, count),
            limbs=[],
            colors=[(255, 0, 0)],
            point_format=entry.fmt,
        )
        for name, count in entry.components
    ]


def fake_pose(pose_type: str, frames: int = 20, people: int = 1, seed: int = 0, fps: float = 25.0):
    """A pose-format Pose of the pose type with random points (confidence 1 for every person)."""
    import numpy as np
    from pose_format import Pose
    from pose_format.numpy import NumPyPoseBody
    from pose_format.pose_header import PoseHeader, PoseHeaderDimensions

    if pose_type not in POSE_TYPES:
        raise UserError(f"--pose-type {pose_type}: unknown; one of {', '.join(POSE_TYPES)}")
    header = PoseHeader(
        version=0.2, dimensions=PoseHeaderDimensions(width=210, height=260, depth=1), components=components(pose_type)
    )
    rng = np.random.default_rng(seed)
    data = rng.normal(size=(frames, people, header.total_points(), header.num_dims())).astype(np.float32)
    confidence = np.ones((frames, people, header.total_points()), dtype=np.float32)
    return Pose(header, NumPyPoseBody(fps=fps, data=np.ma.masked_array(data), confidence=confidence))


def write_pose(pose, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as handle:
        pose.write(handle)


def write_corpus(root: Path, split_ids: dict[str, list[str]], text=lambda i, split: f"fake sentence {i}") -> None:
    """The official corpus CSVs (dev for validation) for the given ids."""
    manual = root / "annotations" / "manual"
    manual.mkdir(parents=True, exist_ok=True)
    for split, ids in split_ids.items():
        official = "dev" if split == "validation" else split
        with open(manual / f"PHOENIX-2014-T.{official}.corpus.csv", "w", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle, delimiter="|", lineterminator="\n")
            writer.writerow(CORPUS_HEADER)
            for i, example_id in enumerate(ids):
                writer.writerow([example_id, f"{example_id}/1/*.png", -1, -1, "Signer01", "GLOSS", text(i, split)])


def write_fake_set(dest: Path, pose_type: str, clips=(8, 4, 4), people: int = 1, frames: int = 20) -> dict:
    """Fake poses + corpus CSVs under dest (see the module's doc). Returns {split: [ids]}."""
    ids = {}
    for split, count in zip(("train", "validation", "test"), clips):
        ids[split] = [f"{split}_{i:04d}" for i in range(count)]
        for i, example_id in enumerate(ids[split]):
            write_pose(
                fake_pose(pose_type, frames, people, seed=1000 * len(ids) + i),
                dest / "poses" / split / f"{example_id}.pose",
            )
    write_corpus(dest, ids)
    return ids


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m pipeline.fake_poses",
        description=__doc__.split("\n\n")[0].split(": ", 1)[1],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--pose-type", required=True, help=f"one of {', '.join(POSE_TYPES)}")
    parser.add_argument("--dest", type=Path, required=True, help="where to write poses/ and annotations/")
    parser.add_argument("--clips", type=int, nargs=3, default=[8, 4, 4], metavar=("TRAIN", "VAL", "TEST"))
    parser.add_argument("--people", type=int, default=1, help="people per frame (>1: as OpenPose may write)")
    parser.add_argument("--frames", type=int, default=20)
    args = parser.parse_args(argv)
    if args.pose_type not in POSE_TYPES:
        raise UserError(f"--pose-type {args.pose_type}: unknown; one of {', '.join(POSE_TYPES)}")
    ids = write_fake_set(args.dest, args.pose_type, args.clips, args.people, args.frames)
    print(
        f"wrote {sum(map(len, ids.values()))} fake {args.pose_type} poses under {args.dest / 'poses'} and the "
        f"corpus CSVs under {args.dest / 'annotations'}"
    )
    return 0


if __name__ == "__main__":
    run_cli(main)
