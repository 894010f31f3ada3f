"""MMPose whole-body (RTMPose/RTMW through `MMPoseInferencer('wholebody')`) → 133-keypoint `Pose`.

Runs in the mmposewholebody image (GPU on clusters). Weights are fetched by MMPose into the bound cache on first
use: on offline compute nodes run `python -m pipeline.fetch_models` on the login node first.
"""

from __future__ import annotations

from pipeline.stages.estimators.wholebody133 import main_person, to_pose


def load(settings: dict):
    from mmpose.apis import MMPoseInferencer

    device = settings.get("device", "auto")
    if device == "auto":
        import torch

        device = "cuda" if torch.cuda.is_available() else "cpu"
    return MMPoseInferencer("wholebody", device=device)


def predictions_to_people(frame_predictions: list) -> list:
    """MMPose's per-frame `predictions[0]` (a list of person dicts) → [(keypoints, scores), ...]."""
    return [(p["keypoints"], p["keypoint_scores"]) for p in frame_predictions]


def convert(results: list, fps: float, width: int, height: int):
    """Inferencer results (one dict per frame, with 'predictions') → Pose; split out so tests can feed outputs."""
    per_frame = []
    for result in results:
        people = predictions_to_people(result["predictions"][0] if result["predictions"] else [])
        best = main_person(people)
        per_frame.append(None if best is None else people[best])
    return to_pose(per_frame, fps, width, height)


def estimate(model, frames: list, fps: float):
    import numpy as np

    height, width = frames[0].shape[:2]
    bgr = [np.ascontiguousarray(f[:, :, ::-1]) for f in frames]  # MMPose takes OpenCV-order arrays
    results = list(model(bgr, show=False, return_vis=False))
    return convert(results, fps, width, height)
