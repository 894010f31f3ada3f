"""MediaPipe Holistic through pose-format's `load_holistic`, in the worker process that loaded MediaPipe once.

Each clip gets a fresh Holistic graph (`reuse=False`, about 40 ms): pose-format's pooled graph carries tracking
state from one clip into the next (its blank-frame flush is not a full reset), which made a clip's landmarks
depend on which clips its shard held before it. With a fresh graph a pose depends only on its clip, so 1 or N
array tasks give byte-identical poses.

Writes POSE(33) FACE(468, or 478 with refine_face_landmarks) LEFT_HAND(21) RIGHT_HAND(21) POSE_WORLD(33) points,
XYZC, exactly as `video_to_pose --format mediapipe` does (same defaults: model_complexity 1).
"""

from __future__ import annotations


def load(settings: dict) -> dict:
    """MediaPipe builds its graph lazily on first use and pose-format pools it; the 'model' is the config."""
    import mediapipe  # noqa: F401  (fail early, in the worker, if the image lacks it)

    config = {k: v for k, v in settings.items()}
    if config.get("model_complexity", 1) > 1:
        raise ValueError("model_complexity 2 downloads a model at run time; use 0 or 1 (offline nodes)")
    return config


def estimate(model: dict, frames: list, fps: float):
    from pose_format.utils.holistic import load_holistic

    height, width = frames[0].shape[:2]
    # load_holistic adds keys to the dict it is given: pass a copy
    return load_holistic(
        frames, fps=fps, width=width, height=height, progress=False, additional_holistic_config=dict(model), reuse=False
    )
