"""Estimating new inputs for `python -m pipeline.translate`: every video and frame folder of the spec, in one job, in
the pose type's image, with the run's estimator and settings, by the estimate stage's own worker code
(pipeline/stages/pose_workers.py: workers, prefetching, atomic writes).

Every input is checked before anything is estimated: a video that cannot be decoded, a folder without images and a
`.pose` file whose header is not of the run's pose type stop the job in one line (`error: INPUT: why`, exit 2).

    python -m pipeline.stages.estimate_inputs --spec <out>/spec.json
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from pipeline.errors import UserError
from pipeline.stages.frames import MediaError, frame_files, iter_frames, video_info
from pipeline.stages.manifest import Example
from pipeline.stages.markers import DONE, write_marker
from pipeline.stages.new_inputs import InputsSpec, NewInput, read_spec
from pipeline.stages.pose_workers import resolve_workers, run_shard


def check_media(item: NewInput, fps: float) -> tuple[int, float]:
    """(frames, fps) of a video or frame folder whose first frame decodes; UserError naming the input if not."""
    path = Path(item.path)
    try:
        next(iter_frames(path))  # opens it and decodes one frame (a generator: closed right after)
        frames, video_fps = (len(frame_files(path)), fps) if path.is_dir() else video_info(path)[:2]
    except (MediaError, StopIteration) as exc:
        reason = str(exc).replace(f" in {item.path}", "").replace(f" {item.path}", "") or "no frames"
        raise UserError(
            f"{item.path}: cannot be decoded ({reason}); give a video OpenCV reads, a folder of .png/.jpg frames or "
            f"a .pose file"
        ) from None
    return frames, video_fps or fps


def check_pose(item: NewInput, pose_type: str) -> None:
    """A given `.pose` file must have a header of the run's pose type (pipeline/stages/pose_checks.py's rule)."""
    from pipeline.stages.pose_checks import header_problem, read_pose

    try:
        signature = read_pose(Path(item.path)).signature
    except Exception as exc:  # pose-format raises many kinds on a damaged file
        raise UserError(f"{item.path}: unreadable pose file ({type(exc).__name__}: {exc})") from None
    problem = header_problem(pose_type, signature)
    if problem:
        raise UserError(f"{item.path}: not a {pose_type} pose file, which this model takes: {problem}")


def run(spec: InputsSpec) -> dict:
    """Check every input, then estimate the videos and frame folders."""
    examples = []
    for item in spec.inputs:
        if item.kind == "pose":
            check_pose(item, spec.pose_type)
            continue
        frames, fps = check_media(item, spec.fps)
        examples.append(Example(item.name, "test", item.path, frames, fps, ""))
    workers = min(resolve_workers(spec.workers), max(1, len(examples)))
    out = spec.estimated_dir
    out.mkdir(parents=True, exist_ok=True)
    started = time.time()
    frames_done, failures = run_shard(examples, out, spec.pose_type, spec.settings, workers, "estimate")
    seconds = time.time() - started
    paths = {item.name: item.path for item in spec.inputs}
    if failures:
        example_id, reason = failures[0]
        more = f" (and {len(failures) - 1} more input(s))" if len(failures) > 1 else ""
        raise UserError(f"{paths[example_id]}: cannot estimate its poses: {reason}{more}")
    rate = frames_done / seconds if seconds > 0 else 0.0
    print(f"estimated {len(examples)} input(s), {frames_done} frames in {seconds:.1f}s ({rate:.1f} frames/s)")
    return {"inputs": len(examples), "frames": frames_done, "estimate_seconds": round(seconds, 3), "workers": workers}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Estimate the poses of new inputs (pipeline.translate's job).")
    parser.add_argument("--spec", required=True, help="the spec.json pipeline.translate wrote")
    args = parser.parse_args(argv)
    spec = read_spec(Path(args.spec))
    started = time.time()
    try:
        facts = run(spec)
    except UserError as exc:
        print(f"error: {exc}", file=sys.stderr, flush=True)
        sys.exit(2)
    write_marker(spec.estimated_dir / DONE, started, stage="estimate_inputs", run=spec.run, **facts)


if __name__ == "__main__":
    main()
