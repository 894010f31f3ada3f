"""The pose-type registry: one entry per pose type the field compares, the only place that knows their differences.

A pose type is what a `.pose` file holds: which points, how many spatial dimensions, and so what feature dimension
the trainer sees. Each entry also says where its poses can come from: estimated here (`image` names the container
and the adapter `pipeline/stages/estimators/<name>.py`), or pre-estimated (`download_url`: the archive of Phoenix
poses the original pipeline's estimator comparison uses; any type can also come from a local folder).
`expected_feat_dim` is checked, never trusted: preprocess measures the real dimension from a file.

The eight types and their numbers are those of the original pipeline's comparison (branch `add-further-pose-types`,
O'Brien et al. 2026). `components` counts the points of each component; `header_source` names the producing code
(file and commit) whose header our fake poses carry: names and points in pipeline/pose_headers.py (which also
renames sapiens' and smplest_x's to names stock pose-format knows), or pose-format 0.15.0's own helper where it
writes the same header (`fake_header`: openpose; mediapipe's names come from pipeline/fake_poses.py).

Adding an estimator we run ourselves = a `containers/<image>.def` + `<image>.requirements.txt`, `image=` here, and
an adapter module exposing `load(settings)` and `estimate(model, frames, fps) -> Pose`.
This module imports nothing heavy: the composer on a login node reads it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Optional

from pipeline.pose_headers import HEADERS

POSES_URL = "https://datasets.sigma-sign-language.com/poses"
ANNOTATIONS_URL = "https://datasets.sigma-sign-language.com/public/phoenix/phoenix-annotations.tar.gz"
SOURCES = ("estimate", "download", "folder", "openpose_json")


@dataclass(frozen=True)
class PoseType:
    name: str
    layout: str  # human description of the points
    points: int  # points per frame in the .pose file (all components)
    dims: int  # spatial dimensions per point (confidence is stored separately)
    expected_feat_dim: int  # what the trainer should see; preprocess checks against a real file
    components: tuple  # ((name, points), ...) for fake poses; sums to `points`
    fake_header: str = ""  # pose-format helper our fakes take their header from ("" = from components)
    reduce_holistic: bool = False  # whether the trainer applies pose-format's reduce_holistic
    image: Optional[str] = None  # containers/<image>.def that estimates it here; None: pre-estimated only
    wants_gpu: bool = False  # on clusters; locally every estimator runs on the CPU
    settings: dict[str, Any] = field(default_factory=dict)  # accepted estimate.settings and their defaults
    download_url: Optional[str] = None  # pre-estimated Phoenix poses (zip, or tar.gz for mediapipe)
    ran_here: bool = False  # run on real video on our CPU machines (README says which)
    header_source: str = ""  # the producing code our fake headers follow (pipeline/pose_headers.py)
    accepted_points: tuple = ()  # other point counts real files of this type are known to carry

    @property
    def fmt(self) -> str:
        return "XYZC" if self.dims == 3 else "XYC"


_WHOLEBODY = (("BODY", 23), ("FACE", 68), ("LEFT_HAND", 21), ("RIGHT_HAND", 21))
_HOLISTIC = (
    ("POSE_LANDMARKS", 33),
    ("FACE_LANDMARKS", 468),
    ("LEFT_HAND_LANDMARKS", 21),
    ("RIGHT_HAND_LANDMARKS", 21),
    ("POSE_WORLD_LANDMARKS", 33),
)

POSE_TYPES: dict[str, PoseType] = {
    p.name: p
    for p in [
        PoseType(
            "alphapose_136",
            "AlphaPose Halpe-136: BODY 26, FACE 68, hands 2 x 21, XYC",
            136,
            2,
            272,
            (("BODY_136", 26), ("FACE_136", 68), ("LEFT_HAND_136", 21), ("RIGHT_HAND_136", 21)),
            header_source=HEADERS["alphapose_136"][0],
            download_url=f"{POSES_URL}/alphapose_136/phoenix.zip",
        ),
        PoseType(
            "mediapipe",
            "MediaPipe Holistic via pose-format: POSE(33) FACE(468) LEFT_HAND(21) RIGHT_HAND(21) "
            "POSE_WORLD(33), XYZC; 178 points after reduce_holistic",
            576,
            3,
            534,
            _HOLISTIC,
            reduce_holistic=True,
            header_source="pose-format 0.15.0 utils/holistic.py (load_holistic, as video_to_pose and our adapter)",
            image="mediapipe",
            # model_complexity 2 downloads a model at run time: offline nodes cannot, so at most 1.
            settings={
                "model_complexity": 1,
                "refine_face_landmarks": False,
                "min_detection_confidence": 0.5,
                "min_tracking_confidence": 0.5,
            },
            download_url=f"{POSES_URL}/holistic/phoenix.tar.gz",
            ran_here=True,
        ),
        PoseType(
            "mmposewholebody",
            "COCO-WholeBody 133 via MMPose (BODY 23, FACE 68, hands 2 x 21), XYC",
            133,
            2,
            266,
            _WHOLEBODY,
            header_source=HEADERS["mmposewholebody"][0],
            image="mmposewholebody",
            wants_gpu=True,
            settings={"device": "auto"},
            download_url=f"{POSES_URL}/mmposewholebody/phoenix.zip",
        ),
        PoseType(
            "openpifpaf",
            "COCO-WholeBody 133 via OpenPifPaf's wholebody checkpoint, XYC",
            133,
            2,
            266,
            _WHOLEBODY,
            header_source=HEADERS["openpifpaf"][0],
            image="openpifpaf",
            wants_gpu=True,
            settings={"checkpoint": "shufflenetv2k30-wholebody", "device": "auto"},
            download_url=f"{POSES_URL}/openpifpaf/phoenix.zip",
        ),
        PoseType(
            "openpose",
            "OpenPose BODY_25 + face 70 + hands 2 x 21, XYC; may hold several people",
            137,
            2,
            274,
            (
                ("pose_keypoints_2d", 25),
                ("face_keypoints_2d", 70),
                ("hand_left_keypoints_2d", 21),
                ("hand_right_keypoints_2d", 21),
            ),
            fake_header="pose_format.utils.openpose.OpenPose_Components",
            header_source="pose-format 0.15.0 utils/openpose.py OpenPose_Components "
            "(the same names in sign-language-processing/pose @5075f7b)",
            download_url=f"{POSES_URL}/openpose/phoenix.zip",
        ),
        PoseType(
            "sapiens",
            "Sapiens (Goliath keypoints), 310 points, XYC",
            310,
            2,
            620,
            (("BODY_SAPIENS", 30), ("FACE_SAPIENS", 238), ("LEFT_HAND_SAPIENS", 21), ("RIGHT_HAND_SAPIENS", 21)),
            header_source=HEADERS["sapiens"][0],
            download_url=f"{POSES_URL}/sapiens/phoenix.zip",
        ),
        PoseType(
            "sdpose",
            "COCO-WholeBody 133 via SDPose, XYC",
            133,
            2,
            266,
            _WHOLEBODY,
            header_source=HEADERS["sdpose"][0],
            download_url=f"{POSES_URL}/sdpose/phoenix.zip",
        ),
        PoseType(
            "smplest_x",
            "SMPLest-X joints projected to 2D: BODY 25, hands 2 x 21 (wrist repeated), FACE 72; 139 points, XYC",
            139,
            2,
            278,
            (("BODY", 25), ("LEFT_HAND", 21), ("RIGHT_HAND", 21), ("FACE", 72)),
            header_source=HEADERS["smplest_x"][0],
            accepted_points=(137,),  # the producing code's earlier version (pose_headers.SMPLEST_X_137)
            download_url=f"{POSES_URL}/smplest_x/phoenix.zip",
        ),
    ]
}

# the pose types we can estimate ourselves (each has an image and an adapter)
ESTIMATORS: dict[str, PoseType] = {n: p for n, p in POSE_TYPES.items() if p.image}
TRAINER_IMAGE = "trainer"
ALL_IMAGES = sorted({p.image for p in ESTIMATORS.values() if p.image} | {TRAINER_IMAGE})
# images whose venvs build on CPU-only machines from PyPI alone; the GPU estimators need the cluster (CUDA wheels,
# model downloads)
VENV_IMAGES = sorted({p.image for p in ESTIMATORS.values() if p.image and not p.wants_gpu} | {TRAINER_IMAGE})
# MediaPipe Holistic: the components reduce_holistic keeps, with their sizes (the world landmarks are optional)
HOLISTIC_KEPT = dict(_HOLISTIC[:4])


def check_settings(pose_type: str, settings: dict[str, Any]) -> list[str]:
    """Names of settings the estimator does not accept (empty when all are known)."""
    return sorted(set(settings) - set(POSE_TYPES[pose_type].settings))


def resolved_settings(pose_type: str, settings: dict[str, Any]) -> dict[str, Any]:
    """The estimator's defaults updated with the user's settings (what the stage key hashes)."""
    return {**POSE_TYPES[pose_type].settings, **settings}
