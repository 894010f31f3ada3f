"""OpenPifPaf with its whole-body checkpoint (COCO-WholeBody, 133 keypoints) → `Pose`.

Runs in the openpifpaf image. The checkpoint is downloaded by OpenPifPaf into the bound cache on first use.
"""

from __future__ import annotations

from pipeline.stages.estimators.wholebody133 import main_person, to_pose


def load(settings: dict):
    import openpifpaf

    kwargs = {"checkpoint": settings.get("checkpoint", "shufflenetv2k30-wholebody")}
    return openpifpaf.Predictor(**kwargs)


def annotations_to_people(annotations: list) -> list:
    """OpenPifPaf annotations (each `.data` of shape (133, 3): x, y, confidence) → [(keypoints, scores)]."""
    return [(a.data[:, :2], a.data[:, 2]) for a in annotations]


def convert(per_frame_annotations: list, fps: float, width: int, height: int):
    per_frame = []
    for frame_annotations in per_frame_annotations:
        people = annotations_to_people(frame_annotations)
        best = main_person(people)
        per_frame.append(None if best is None else people[best])
    return to_pose(per_frame, fps, width, height)


def estimate(model, frames: list, fps: float):
    height, width = frames[0].shape[:2]
    per_frame = [model.numpy_image(frame)[0] for frame in frames]
    return convert(per_frame, fps, width, height)
