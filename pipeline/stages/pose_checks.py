"""What preprocess checks and fixes in each pose file: its header against its pose type and its set, and the
number of people per frame.

Header rule: the header's points and spatial dimensions must be the registry's for the pose type (for MediaPipe
Holistic the four components reduce_holistic keeps must be there with their sizes; the world landmarks are
optional), every component must declare the same point format, and every file of a set must have the same
components as the first one. A file that breaks the rule is left out and reported by id.

People rule (several people per frame: OpenPose and other bottom-up estimators report every person they see; the
stock MultimodalHugs keeps person 0, whoever that is): we keep one track, the signer. The anchor is the single most
confident detection of the file (sum of its points' confidences); from there, forwards and backwards, each frame
keeps the person whose confident points' centre is nearest the centre kept in the frame before. Frames with nobody
keep an empty person. The reduced file is written beside the TSVs and the TSV points at it.

`check_pose_file` does all of that for one file and returns a `CheckedPose`: a few numbers, never the poses, so
that preprocess can hold one per file of a 35 000-example corpus and run it in worker processes.
`measure_feat_dim` says how many features per frame the trainer sees for a file.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

import numpy as np

from pipeline.errors import UserError
from pipeline.pose_types import HOLISTIC_KEPT, POSE_TYPES
from pipeline.stages.markers import atomic_path


@dataclass
class PoseFile:
    pose: Any  # pose_format.Pose
    signature: tuple  # ((component, points, format), ...)
    people: int
    frames_with_several: int  # frames where more than one person has a confident point


def read_pose(path: Path) -> PoseFile:
    from pose_format import Pose

    with open(path, "rb") as handle:
        pose = Pose.read(handle.read())
    signature = tuple((c.name, len(c.points), c.format) for c in pose.header.components)
    confidence = np.asarray(pose.body.confidence)
    present = (confidence > 0).any(axis=-1).sum(axis=1) if confidence.ndim == 3 else np.zeros(0)
    return PoseFile(pose, signature, int(confidence.shape[1]) if confidence.ndim == 3 else 1, int((present > 1).sum()))


@dataclass(frozen=True)
class CheckedPose:
    """What preprocess keeps of one pose file once it is checked (and copied where it had to change)."""

    source: str  # the file as given
    path: str  # the file to train on: the source, or its reduced / renamed / perturbed copy
    problem: Optional[str]  # why it cannot be used (None: usable)
    signature: tuple = ()  # ((component, points, format), ...)
    frames: int = 0
    fps: float = 0.0
    points: int = 0  # points its header declares
    people: int = 0
    frames_with_several: int = 0
    renamed: bool = False


def check_pose_file(source: Path, copy: Path, pose_type: str, noise: float, name: str) -> CheckedPose:
    """Read one pose file, check its header against its pose type, and where needed write the copy to train on:
    several people reduced to the signer, names renamed for stock pose-format (pipeline/pose_headers.py), pose
    noise added (pose_noise.py, seeded by `name`). Runs in preprocess's worker processes."""
    from pipeline.pose_headers import renamed_to_known
    from pipeline.stages.pose_noise import write_perturbed

    try:
        found = read_pose(source)
    except Exception as exc:  # pose-format raises many kinds on a damaged file
        return CheckedPose(str(source), str(source), f"unreadable pose file {source} ({type(exc).__name__}: {exc})")
    body = found.pose.body
    facts = {
        "signature": found.signature,
        "frames": int(body.data.shape[0]),
        "fps": float(body.fps),
        "points": found.pose.header.total_points(),
        "people": found.people,
        "frames_with_several": found.frames_with_several,
    }
    reason = header_problem(pose_type, found.signature)
    if reason:
        return CheckedPose(str(source), str(source), f"{reason} in {source}", **facts)
    path = source
    header = renamed_to_known(pose_type, found.pose.header)
    if header is not None:
        found.pose.header = header
    if found.people > 1:
        write_single_person(found, copy)
        path = copy
        found = read_pose(copy) if noise else found
    if noise:
        write_perturbed(found.pose, copy, noise, name)
        path = copy
    elif header is not None and path != copy:
        with atomic_path(copy) as tmp, open(tmp, "wb") as handle:
            found.pose.write(handle)
        path = copy
    return CheckedPose(str(source), str(path), None, renamed=header is not None, **facts)


def header_problem(pose_type: str, signature: tuple) -> str | None:
    """Why this header does not fit the pose type (None when it does)."""
    entry = POSE_TYPES[pose_type]
    formats = {fmt for _, _, fmt in signature}
    if len(formats) > 1:
        return f"header mixes point formats {sorted(formats)} across its components"
    fmt = formats.pop() if formats else ""
    dims = len(fmt) - 1 if fmt.endswith("C") else len(fmt)
    points = sum(n for _, n, _ in signature)
    if dims != entry.dims:
        return f"header declares {fmt} ({dims} dims per point); {pose_type} has {entry.dims}"
    if entry.reduce_holistic:
        sizes = {name: n for name, n, _ in signature}
        wrong = [f"{name} {sizes.get(name, 'absent')}" for name, n in HOLISTIC_KEPT.items() if sizes.get(name) != n]
        if wrong:
            return (
                f"header is not MediaPipe Holistic: {', '.join(wrong)} (expected "
                f"{', '.join(f'{k} {v}' for k, v in HOLISTIC_KEPT.items())})"
            )
    elif points != entry.points and points not in entry.accepted_points:
        known = " or ".join(str(n) for n in (entry.points, *entry.accepted_points))
        return f"header has {points} points; {pose_type} has {known}"
    return None


def describe(signature: tuple) -> str:
    return ", ".join(f"{name} {n} {fmt}" for name, n, fmt in signature)


def signer_track(data: np.ndarray, confidence: np.ndarray) -> np.ndarray:
    """Index of the person kept in each frame (see the module's rule). data (F, P, N, D), confidence (F, P, N)."""
    frames, people = confidence.shape[:2]
    score = confidence.sum(axis=-1)  # (F, P)
    weight = confidence[..., None]
    total = weight.sum(axis=2)
    centre = np.where(total > 0, (data * weight).sum(axis=2) / np.maximum(total, 1e-9), np.nan)  # (F, P, D)
    chosen = np.zeros(frames, dtype=int)
    anchor = int(score.max(axis=1).argmax())
    chosen[anchor] = int(score[anchor].argmax())
    for order in (range(anchor + 1, frames), range(anchor - 1, -1, -1)):
        last = centre[anchor, chosen[anchor]]
        for f in order:
            present = score[f] > 0
            if not present.any():
                continue  # nobody: person 0, empty
            distance = np.where(present, np.linalg.norm(np.nan_to_num(centre[f] - last, nan=np.inf), axis=-1), np.inf)
            chosen[f] = int(distance.argmin()) if np.isfinite(distance).any() else int(score[f].argmax())
            last = centre[f, chosen[f]]
    return chosen


def write_single_person(pose_file: PoseFile, target: Path) -> None:
    """The file reduced to the signer's track, one person per frame."""
    from pose_format import Pose
    from pose_format.numpy import NumPyPoseBody

    body = pose_file.pose.body
    data = np.ma.getdata(body.data).astype(np.float32)
    mask = np.ma.getmaskarray(body.data)
    confidence = np.asarray(body.confidence, dtype=np.float32)
    keep = signer_track(np.where(mask, 0.0, data), confidence)
    rows = np.arange(data.shape[0])
    reduced = np.ma.masked_array(data[rows, keep][:, None], mask=mask[rows, keep][:, None])
    pose = Pose(
        pose_file.pose.header, NumPyPoseBody(fps=body.fps, data=reduced, confidence=confidence[rows, keep][:, None])
    )
    with atomic_path(target) as tmp, open(tmp, "wb") as handle:
        pose.write(handle)


def measure_feat_dim(pose_file: str | Path, reduce_holistic: bool) -> int:
    """Features per frame the trainer will see for this pose file: loaded through MultimodalHugs' own
    PoseModalityProcessor (hide legs, reduce_holistic for MediaPipe, flatten), else the same steps in pose-format."""
    try:
        from multimodalhugs.processors import PoseModalityProcessor
    except ImportError:
        PoseModalityProcessor = None
    if PoseModalityProcessor is not None:
        try:
            tensor = PoseModalityProcessor(reduce_holistic_poses=reduce_holistic)._load_pose(str(pose_file))
        except Exception as exc:  # e.g. pose_hide_legs on a header pose-format does not recognise
            raise UserError(
                f"{pose_file}: MultimodalHugs cannot load this pose file ({type(exc).__name__}: "
                f"{str(exc)[:200]}); the trainer would fail on it the same way"
            ) from None
        return int(tensor.shape[1])
    from pose_format import Pose  # same steps, without MultimodalHugs
    from pose_format.utils.generic import pose_hide_legs
    from pose_format.utils.generic import reduce_holistic as reduce

    with open(pose_file, "rb") as handle:
        pose = Pose.read(handle.read())
    pose_hide_legs(pose)
    if reduce_holistic:
        pose = reduce(pose)
    return pose.header.total_points() * pose.header.num_dims()
