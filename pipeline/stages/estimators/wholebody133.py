"""COCO-WholeBody (133 keypoints) predictions → pose-format `Pose`, shared by the MMPose and OpenPifPaf adapters.

Writes the COCO-WholeBody header of the downloadable archives (BODY 23, FACE 68, LEFT_HAND 21, RIGHT_HAND 21; XYC;
point names as pipeline/pose_headers.py records them). A frame where no
person was found is kept (so frame counts match the video) with zero confidence and masked coordinates.
"""

from __future__ import annotations

NUM_KEYPOINTS = 133


def to_pose(per_frame: list, fps: float, width: int, height: int):
    """per_frame: for each frame, None (no person) or (keypoints (133, 2), scores (133,)) of the main person."""
    import numpy as np
    import numpy.ma as ma
    from pose_format.numpy import NumPyPoseBody
    from pose_format.pose import Pose
    from pose_format.pose_header import PoseHeader, PoseHeaderDimensions

    from pipeline.pose_headers import coco_wholebody_components

    frames = len(per_frame)
    data = np.zeros((frames, 1, NUM_KEYPOINTS, 2), dtype=np.float32)
    conf = np.zeros((frames, 1, NUM_KEYPOINTS), dtype=np.float32)
    mask = np.ones_like(data, dtype=bool)
    for t, person in enumerate(per_frame):
        if person is None:
            continue
        keypoints, scores = person
        keypoints, scores = np.asarray(keypoints, dtype=np.float32), np.asarray(scores, dtype=np.float32)
        if keypoints.shape != (NUM_KEYPOINTS, 2) or scores.shape != (NUM_KEYPOINTS,):
            raise ValueError(
                f"frame {t}: expected {NUM_KEYPOINTS} keypoints (x, y) and scores, "
                f"got {keypoints.shape} and {scores.shape}"
            )
        data[t, 0], conf[t, 0], mask[t, 0] = keypoints, scores, False
    header = PoseHeader(
        version=0.2,
        dimensions=PoseHeaderDimensions(width=width, height=height, depth=0),
        components=coco_wholebody_components(),
    )
    return Pose(header, NumPyPoseBody(fps=fps, data=ma.array(data, mask=mask), confidence=conf))


def main_person(people: list) -> int | None:
    """Index of the person with the highest mean score (the signer faces the camera), or None."""
    if not people:
        return None
    return max(range(len(people)), key=lambda i: float(sum(people[i][1]) / len(people[i][1])))
