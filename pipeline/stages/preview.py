"""Skeleton previews for the report: a few test clips of each pose type, drawn by pose-format's own visualizer.

A step of `pipeline.summarize`, run in the MediaPipe image (pose-format with OpenCV and Pillow) through the run's
runtime: `python -m pipeline.stages.preview --spec jobs/<sweep>/previews/input.json` writes one small animated GIF
per clip into the spec's `output_dir` and `previews.json` beside them (label, clip, file, or why not).

`pose_format.pose_visualizer.PoseVisualizer` draws on a canvas of the header's width × height, so the pose is
scaled first (x and y, and the header's dimensions) to at most `size` pixels on its longer side, and only every
k-th frame is kept (at most `max_frames`, the frame rate divided by k, so the GIF plays at the clip's speed).
A pose file that cannot be read or drawn is reported in previews.json and the others are still drawn.
"""

from __future__ import annotations

import argparse
import io
import json
import math
import sys
from pathlib import Path


def downscaled(pose, size: int, max_frames: int):
    """The pose scaled to at most `size` pixels on its longer side, with at most `max_frames` frames."""
    import numpy as np
    from pose_format.pose_header import PoseHeaderDimensions

    dims = pose.header.dimensions
    width, height = dims.width, dims.height
    if width <= 0 or height <= 0:  # no canvas in the header: the points' own extent
        pose.focus()
        width, height = (
            max(1, math.ceil(pose.header.dimensions.width)),
            max(1, math.ceil(pose.header.dimensions.height)),
        )
    scale = size / max(width, height)
    factor = np.ones(pose.body.data.shape[-1], dtype=pose.body.data.dtype)
    factor[:2] = scale
    step = max(1, math.ceil(len(pose.body.data) / max_frames))
    pose.body.data = pose.body.data[::step] * factor
    pose.body.confidence = pose.body.confidence[::step]
    pose.body.fps = pose.body.fps / step
    pose.header.dimensions = PoseHeaderDimensions(max(1, round(width * scale)), max(1, round(height * scale)), 0)
    return pose


def render(pose_path: str, start_ms: int, end_ms: int, target: Path, size: int, max_frames: int) -> None:
    from pose_format import Pose
    from pose_format.pose_visualizer import PoseVisualizer

    window = {"start_time": start_ms, "end_time": end_ms} if end_ms else {}
    pose = Pose.read(io.BytesIO(Path(pose_path).read_bytes()), **window)
    if len(pose.body.data) == 0:
        raise ValueError("no frames")
    visualizer = PoseVisualizer(downscaled(pose, size, max_frames))
    visualizer.save_gif(str(target), visualizer.draw())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--spec", required=True, help="input.json written by pipeline.summarize")
    args = parser.parse_args(argv)
    spec = json.loads(Path(args.spec).read_text())
    out = Path(spec["output_dir"])
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for group_index, group in enumerate(spec["previews"]):
        for clip_index, clip in enumerate(group["clips"]):
            target = out / f"{group_index}-{clip_index}.gif"
            entry = {"label": group["label"], "id": clip["id"], "text": clip.get("text", ""), "file": str(target)}
            try:
                render(clip["pose"], clip.get("start", 0), clip.get("end", 0), target, spec["size"], spec["max_frames"])
            except Exception as exc:  # one unreadable file: said in the report, the others drawn
                entry.update(file=None, error=f"{type(exc).__name__}: {exc}"[:300])
            written.append(entry)
    (out / "previews.json").write_text(json.dumps(written, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
