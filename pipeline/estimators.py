"""The estimator registry: one entry per pose estimator, the only place that knows their differences.

An entry says which image runs the estimator, whether it wants a GPU, the settings it accepts (with defaults),
the pose layout its adapter writes and the feature dimension we expect the trainer to see. The expected dimension
is documentation and a sanity check only: preprocess measures the real one from a pose file.

Adding an estimator = a `containers/<image>.def` + `<image>.requirements.txt`, one entry here, and an adapter
module `pipeline/stages/estimators/<name>.py` exposing `load(settings)` and `estimate(model, frames, fps) -> Pose`.
This module imports nothing heavy: the composer on a login node reads it.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Estimator:
    name: str
    image: str                      # containers/<image>.def, .venvs/<image>
    wants_gpu: bool                 # on clusters; locally every estimator runs on the CPU
    layout: str                     # human description of the pose-format header the adapter writes
    points: int                     # points per frame in the written .pose (all components)
    dims: int                       # spatial dimensions per point (confidence is stored separately)
    reduce_holistic: bool           # whether the trainer applies pose-format's reduce_holistic
    expected_feat_dim: int          # what the trainer should see; preprocess checks against a real file
    settings: dict[str, Any] = field(default_factory=dict)   # accepted settings and their defaults
    ran_here: bool = False          # run on real video on our CPU machines (README says which)


ESTIMATORS: dict[str, Estimator] = {
    "mediapipe": Estimator(
        name="mediapipe", image="mediapipe", wants_gpu=False,
        layout="MediaPipe Holistic via pose-format: POSE(33) FACE(468) LEFT_HAND(21) RIGHT_HAND(21) "
               "POSE_WORLD(33), XYZC",
        points=576, dims=3, reduce_holistic=True, expected_feat_dim=534,
        # model_complexity 2 downloads a model at run time: offline nodes cannot, so at most 1.
        settings={"model_complexity": 1, "refine_face_landmarks": False,
                  "min_detection_confidence": 0.5, "min_tracking_confidence": 0.5},
        ran_here=True,
    ),
    "mmposewholebody": Estimator(
        name="mmposewholebody", image="mmposewholebody", wants_gpu=True,
        layout="COCO-WholeBody 133 keypoints via MMPose (BODY 17, FEET 6, FACE 68, LEFT_HAND 21, RIGHT_HAND 21), XYC",
        points=133, dims=2, reduce_holistic=False, expected_feat_dim=266,
        settings={"device": "auto"},
    ),
    "openpifpaf": Estimator(
        name="openpifpaf", image="openpifpaf", wants_gpu=True,
        layout="COCO-WholeBody 133 keypoints via OpenPifPaf's wholebody checkpoint, XYC",
        points=133, dims=2, reduce_holistic=False, expected_feat_dim=266,
        settings={"checkpoint": "shufflenetv2k30-wholebody", "device": "auto"},
    ),
}

TRAINER_IMAGE = "trainer"
ALL_IMAGES = sorted({e.image for e in ESTIMATORS.values()} | {TRAINER_IMAGE})


def check_settings(estimator: str, settings: dict[str, Any]) -> list[str]:
    """Names of settings the estimator does not accept (empty when all are known)."""
    return sorted(set(settings) - set(ESTIMATORS[estimator].settings))


def resolved_settings(estimator: str, settings: dict[str, Any]) -> dict[str, Any]:
    """The estimator's defaults updated with the user's settings (what the stage key hashes)."""
    return {**ESTIMATORS[estimator].settings, **settings}
