"""Pose estimation speed: the original pipeline's way vs our estimate stage vs MediaPipe alone.

    python benchmarks/estimate.py                      # 10 clips x 116 frames (Phoenix: 210x260, ~116 frames a clip)
    python benchmarks/estimate.py --clips 4 --frames 25   # CI-sized

(a) original: one `video_to_pose --format mediapipe` process per clip (model loaded per clip, one core)
(b) ours:     the estimate stage's shard worker (`run_shard`), with 1 worker and with one worker per core
(c) limit:    one MediaPipe Holistic graph on frames decoded beforehand (no I/O, no packing)
Prints frames/s and ratios. Runs in .venvs/mediapipe (re-executes itself there when needed).
Targets: (b) with one worker >= 0.9 x (c); (b) on the whole machine >= 2 x (a).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VENV = ROOT / ".venvs" / "mediapipe" / "bin"


def make_clips(folder: Path, clips: int, frames: int) -> list[Path]:
    import cv2

    from pipeline.stages.sample_data import clip_frames

    paths = []
    for i in range(clips):
        path = folder / f"clip{i:03d}.mp4"
        writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), 25.0, (210, 260))
        for frame in clip_frames(i, frames):
            writer.write(cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
        writer.release()
        paths.append(path)
    return paths


def original(paths: list[Path], out: Path) -> float:
    start = time.perf_counter()
    for path in paths:
        subprocess.run(
            [
                str(VENV / "video_to_pose"),
                "--format",
                "mediapipe",
                "-i",
                str(path),
                "-o",
                str(out / f"{path.stem}.pose"),
            ],
            check=True,
            capture_output=True,
        )
    return time.perf_counter() - start


def ours(paths: list[Path], out: Path, workers: int) -> float:
    from pipeline.stages.frames import video_info
    from pipeline.stages.manifest import Example
    from pipeline.stages.pose_workers import run_shard

    examples = [Example(p.stem, "train", str(p), video_info(p)[0], 25.0, "x") for p in paths]
    start = time.perf_counter()
    _, failures = run_shard(examples, out, "mediapipe", {"model_complexity": 1}, workers, "benchmark")
    assert not failures, failures
    return time.perf_counter() - start


def limit(paths: list[Path]) -> float:
    import mediapipe as mp

    from pipeline.stages.frames import read_frames

    decoded = [read_frames(p) for p in paths]
    holistic = mp.solutions.holistic.Holistic(model_complexity=1, static_image_mode=False)
    start = time.perf_counter()
    for frames in decoded:
        for frame in frames:
            holistic.process(frame)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clips", type=int, default=10)
    parser.add_argument("--frames", type=int, default=116)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1, help="workers for the whole-machine run")
    args = parser.parse_args()
    try:
        import mediapipe  # noqa: F401
    except ImportError:
        if not (VENV / "python").exists():
            sys.exit("needs .venvs/mediapipe: python -m pipeline.build --runtime venv mediapipe")
        os.execve(str(VENV / "python"), [str(VENV / "python"), *sys.argv], {**os.environ, "PYTHONPATH": str(ROOT)})
    sys.path.insert(0, str(ROOT))
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        paths = make_clips(tmp, args.clips, args.frames)
        total = args.clips * args.frames
        rows = []
        for label, run in [
            ("(a) original: video_to_pose per clip", lambda o: original(paths, o)),
            ("(b) ours, 1 worker", lambda o: ours(paths, o, 1)),
            (f"(b) ours, {args.workers} workers", lambda o: ours(paths, o, args.workers)),
            ("(c) MediaPipe alone, pre-decoded", lambda o: limit(paths)),
        ]:
            out = tmp / label.split()[0].strip("()") / str(len(rows))
            out.mkdir(parents=True)
            rows.append((label, total / run(out)))
    a, b1, bn, c = (r[1] for r in rows)
    print(f"\n{args.clips} clips x {args.frames} frames (210x260), {os.cpu_count()} cores\n")
    print(f"| {'method':<40} | frames/s | vs (a) | vs (c) |\n|{'-' * 42}|---------:|-------:|-------:|")
    for label, fps in rows:
        print(f"| {label:<40} | {fps:8.1f} | {fps / a:5.2f}x | {fps / c:5.2f}x |")
    print(
        f"\ntargets: (b) 1 worker >= 0.9 x (c): {b1 / c:.2f}  {'ok' if b1 >= 0.9 * c else 'MISSED'};  "
        f"(b) whole machine >= 2 x (a): {bn / a:.2f}  {'ok' if bn >= 2 * a else 'MISSED'}"
    )


if __name__ == "__main__":
    main()
