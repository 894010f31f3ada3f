"""The headers of the pre-estimated pose types as their producing code writes them, where stock pose-format 0.15.0
writes them otherwise or not at all, and the renaming that lets stock pose-format and MultimodalHugs v0.5.4 read them.

- alphapose_136: sign-language-processing/pose `src/python/pose_format/utils/alphapose.py` at f88c610
  (`get_alphapose_136_components`, which `load_alphapose_wholebody_from_json` writes for 136 keypoints): BODY_136
  (26, pose-format 0.15.0's order), FACE_136 (68, `face-0` ...; 0.15.0 spells `face_0`), LEFT_HAND_136 and
  RIGHT_HAND_136 (21 each, `hand_0` ...); 136 points, XYC.
- mmposewholebody, openpifpaf, sdpose: all three write `cocowholebody_components()` (their `*_components()` return
  it), sign-language-processing/pose `src/python/pose_format/utils/cocowholebody133_header.py` at 059cbfc (the same
  names in GerrySant/pose at c127ee7): BODY (23), FACE (68, `face-0` ...), LEFT_HAND (`left_hand_0` ...),
  RIGHT_HAND (`right_hand_0` ...); 133 points, XYC. pose-format 0.15.0 names both hands `hand_0` ...

- sapiens: GerrySant/pose `src/python/pose_format/utils/sapiens.py` at 7a54341 (`get_sapiens_components`):
  components BODY_SAPIENS (30: the Goliath body points, then the two wrists again as `left_wrist_body`,
  `right_wrist_body`), FACE_SAPIENS (238), LEFT_HAND_SAPIENS and RIGHT_HAND_SAPIENS (21 each, the same side-free
  names: `thumb4` ... `wrist`); 310 points, XYC.
- smplest_x: GerrySant/pose `src/python/pose_format/utils/smplest_x.py` at 491bc34 (`get_smplx_components`, which
  the original pipeline's fake poses import): components BODY (25: `Pelvis`, `L_Hip`, ...), LEFT_HAND and
  RIGHT_HAND (21 each, the same side-free names: `Thumb_1` ... `Pinky_4`, then `Wrist_Hand`, the body's wrist
  again), FACE (72: `Face_1` ...); 139 points, XYC: the original pipeline's 139 points / 278 features. The file's
  earlier version (d90e720, `SMPLEST_X_137`) wrote 137 points, hands of 20 sided names (`L_Thumb_1` ...); the
  registry accepts that count too, and preprocess measures the real dimension.

Stock pose-format detects a layout by component names. On sapiens' names it raises ("Could not detect pose
format"), so leg hiding and `Pose.normalize` fail; smplest_x's names are taken for COCO-WholeBody, whose leg and
shoulder points (`left_hip`, `left_shoulder`, ...) SMPL-X spells otherwise, so legs stay and normalisation fails.
`KNOWN_NAMES` renames, points and values unchanged: sapiens' components to COCO-WholeBody's (BODY, FACE,
LEFT_HAND, RIGHT_HAND; its body points already carry COCO's names), smplest_x's body points to COCO's. Then
pose-format 0.15.0 hides the legs and normalises on the shoulders as for COCO-WholeBody. Preprocess applies it to
the copy it trains on (see stages/preprocess.py).
"""

from __future__ import annotations

import copy

_GOLIATH_BODY = """nose left_eye right_eye left_ear right_ear left_shoulder right_shoulder left_elbow right_elbow
left_hip right_hip left_knee right_knee left_ankle right_ankle left_big_toe left_small_toe left_heel right_big_toe
right_small_toe right_heel""".split()
_GOLIATH_ARMS = (
    "left_olecranon right_olecranon left_cubital_fossa right_cubital_fossa left_acromion right_acromion neck"
)
_HAND = """thumb4 thumb3 thumb2 thumb_third_joint forefinger4 forefinger3 forefinger2 forefinger_third_joint
middle_finger4 middle_finger3 middle_finger2 middle_finger_third_joint ring_finger4 ring_finger3 ring_finger2
ring_finger_third_joint pinky_finger4 pinky_finger3 pinky_finger2 pinky_finger_third_joint wrist""".split()


_BORDER = ("3", "midpoint_1", "12", "midpoint_4", "9", "midpoint_3", "6", "midpoint_2")


def _eye(side: str, part: str) -> list[str]:
    return [f"{side}_center_of_{part}"] + [f"{side}_border_of_{part}_{n}" for n in _BORDER]


def _numbered(prefix: str, order: str, line: str) -> list[str]:
    """`<prefix>_<name>_of_<line>` in the order given by a spec such as 'inner_end outer_end centerpoint 2 1'."""
    return [f"{prefix}_{'midpoint_' + n if n.isdigit() else n}_of_{line}" for n in order.split()]


_SAPIENS_FACE = (
    """center_of_glabella center_of_nose_root tip_of_nose_bridge midpoint_1_of_nose_bridge midpoint_2_of_nose_bridge
    midpoint_3_of_nose_bridge center_of_labiomental_groove tip_of_chin upper_startpoint_of_r_eyebrow
    lower_startpoint_of_r_eyebrow end_of_r_eyebrow upper_midpoint_1_of_r_eyebrow lower_midpoint_1_of_r_eyebrow
    upper_midpoint_2_of_r_eyebrow upper_midpoint_3_of_r_eyebrow lower_midpoint_2_of_r_eyebrow
    lower_midpoint_3_of_r_eyebrow upper_startpoint_of_l_eyebrow lower_startpoint_of_l_eyebrow end_of_l_eyebrow
    upper_midpoint_1_of_l_eyebrow lower_midpoint_1_of_l_eyebrow upper_midpoint_2_of_l_eyebrow
    upper_midpoint_3_of_l_eyebrow lower_midpoint_2_of_l_eyebrow lower_midpoint_3_of_l_eyebrow""".split()
    + _numbered("l", "inner_end outer_end centerpoint 2 1 6 5 4 3", "upper_lash_line")
    + _numbered("l", "outer_end 6 2 5 centerpoint 4 1 3", "upper_eyelid_line")
    + _numbered("l", "6 2 5 centerpoint 4 1 3", "upper_crease_line")
    + _numbered("r", "inner_end outer_end centerpoint 1 2 3 4 5 6", "upper_lash_line")
    + _numbered("r", "outer_end 3 1 4 centerpoint 5 2 6", "upper_eyelid_line")
    + _numbered("r", "3 1 4 centerpoint 5 2 6", "upper_crease_line")
    + _numbered("l", "inner_end outer_end centerpoint 2 1 6 5 4 3", "lower_lash_line")
    + _numbered("l", "outer_end 6 2 5 centerpoint 4 1 3", "lower_eyelid_line")
    + _numbered("r", "inner_end outer_end centerpoint 1 2 3 4 5 6", "lower_lash_line")
    + _numbered("r", "outer_end 3 1 4 centerpoint 5 2 6", "lower_eyelid_line")
    + """tip_of_nose bottom_center_of_nose r_outer_corner_of_nose l_outer_corner_of_nose inner_corner_of_r_nostril
    outer_corner_of_r_nostril upper_corner_of_r_nostril inner_corner_of_l_nostril outer_corner_of_l_nostril
    upper_corner_of_l_nostril r_outer_corner_of_mouth l_outer_corner_of_mouth center_of_cupid_bow
    center_of_lower_outer_lip""".split()
    + [f"midpoint_{n}_of_{lip}_outer_lip" for n, lip in ((1, "upper"), (2, "upper"), (1, "lower"), (2, "lower"))]
    + [f"midpoint_{n}_of_{lip}_outer_lip" for lip in ("upper", "lower") for n in (3, 4, 5, 6)]
    + "r_inner_corner_of_mouth l_inner_corner_of_mouth center_of_upper_inner_lip center_of_lower_inner_lip".split()
    + [f"midpoint_{n}_of_{lip}_inner_lip" for n, lip in ((1, "upper"), (2, "upper"), (1, "lower"), (2, "lower"))]
    + [f"midpoint_{n}_of_{lip}_inner_lip" for lip in ("upper", "lower") for n in (3, 4, 5, 6)]
    + [
        f"{side}_{name}"
        for side, helix in (("l", "1 2 3 4 5 6 7"), ("r", "1 8 3 4 5 6 7"))
        for name in [
            "top_end_of_inferior_crus",
            "top_end_of_superior_crus",
            "start_of_antihelix",
            "end_of_antihelix",
            "midpoint_1_of_antihelix",
            "midpoint_1_of_inferior_crus",
            "midpoint_2_of_antihelix",
            "midpoint_3_of_antihelix",
        ]
        + [f"point_{n}_of_inner_helix" for n in helix.split()]
        + [
            "highest_point_of_antitragus",
            "bottom_point_of_tragus",
            "protruding_point_of_tragus",
            "top_point_of_tragus",
            "start_point_of_crus_of_helix",
            "deepest_point_of_concha",
            "tip_of_ear_lobe",
            "midpoint_between_22_15",
            "bottom_connecting_point_of_ear_lobe",
            "top_connecting_point_of_helix",
            "point_8_of_inner_helix" if side == "l" else "point_2_of_inner_helix",
        ]
    ]
    + _eye("l", "iris")
    + _eye("r", "iris")
    + _eye("l", "pupil")
    + _eye("r", "pupil")
)

SAPIENS = (
    ("BODY_SAPIENS", _GOLIATH_BODY + _GOLIATH_ARMS.split() + ["left_wrist_body", "right_wrist_body"]),
    ("FACE_SAPIENS", _SAPIENS_FACE),
    ("LEFT_HAND_SAPIENS", _HAND),
    ("RIGHT_HAND_SAPIENS", _HAND),
)

_SMPLX_BODY = """Pelvis L_Hip R_Hip L_Knee R_Knee L_Ankle R_Ankle Neck L_Shoulder R_Shoulder L_Elbow R_Elbow L_Wrist
R_Wrist L_Big_toe L_Small_toe L_Heel R_Big_toe R_Small_toe R_Heel L_Ear R_Ear L_Eye R_Eye Nose""".split()
_SMPLX_FINGERS = [f"{f}_{j}" for f in ("Thumb", "Index", "Middle", "Ring", "Pinky") for j in range(1, 5)]
SMPLEST_X = (
    ("BODY", _SMPLX_BODY),
    ("LEFT_HAND", [*_SMPLX_FINGERS, "Wrist_Hand"]),
    ("RIGHT_HAND", [*_SMPLX_FINGERS, "Wrist_Hand"]),
    ("FACE", [f"Face_{i}" for i in range(1, 73)]),
)
SMPLEST_X_137 = (  # @d90e720
    ("BODY", _SMPLX_BODY),
    ("LEFT_HAND", [f"L_{f}" for f in _SMPLX_FINGERS]),
    ("RIGHT_HAND", [f"R_{f}" for f in _SMPLX_FINGERS]),
    ("FACE", [f"Face_{i}" for i in range(1, 73)]),
)

_ALPHAPOSE_BODY = """nose left_eye right_eye left_ear right_ear left_shoulder right_shoulder left_elbow right_elbow
left_wrist right_wrist left_hip right_hip left_knee right_knee left_ankle right_ankle head_top neck pelvis left_big_toe
right_big_toe left_small_toe right_small_toe left_heel right_heel""".split()
ALPHAPOSE_136 = (
    ("BODY_136", _ALPHAPOSE_BODY),
    ("FACE_136", [f"face-{i}" for i in range(68)]),
    ("LEFT_HAND_136", [f"hand_{i}" for i in range(21)]),
    ("RIGHT_HAND_136", [f"hand_{i}" for i in range(21)]),
)
_COCO_BODY = """nose left_eye right_eye left_ear right_ear left_shoulder right_shoulder left_elbow right_elbow
left_wrist right_wrist left_hip right_hip left_knee right_knee left_ankle right_ankle left_big_toe left_small_toe
left_heel right_big_toe right_small_toe right_heel""".split()
COCO_WHOLEBODY = (
    ("BODY", _COCO_BODY),
    ("FACE", [f"face-{i}" for i in range(68)]),
    ("LEFT_HAND", [f"left_hand_{i}" for i in range(21)]),
    ("RIGHT_HAND", [f"right_hand_{i}" for i in range(21)]),
)
_COCO_SOURCE = "sign-language-processing/pose src/python/pose_format/utils/cocowholebody133_header.py @059cbfc"

# pose type -> (where its header comes from, its components as written: ((name, [points]), ...))
HEADERS = {
    "alphapose_136": (
        "sign-language-processing/pose src/python/pose_format/utils/alphapose.py @f88c610",
        ALPHAPOSE_136,
    ),
    "mmposewholebody": (_COCO_SOURCE, COCO_WHOLEBODY),
    "openpifpaf": (_COCO_SOURCE, COCO_WHOLEBODY),
    "sdpose": (_COCO_SOURCE, COCO_WHOLEBODY),
    "sapiens": ("GerrySant/pose src/python/pose_format/utils/sapiens.py @7a54341", SAPIENS),
    "smplest_x": ("GerrySant/pose src/python/pose_format/utils/smplest_x.py @491bc34", SMPLEST_X),
}


def coco_wholebody_components() -> list:
    """pose-format 0.15.0's COCO-WholeBody components (limbs, colours) with the point names the archives' producing
    code writes (`COCO_WHOLEBODY`): what our own MMPose and OpenPifPaf adapters write, so that a pose estimated
    here and one downloaded have the same header."""
    from pose_format.utils.cocowholebody133_header import cocowholebody_components

    found = cocowholebody_components()
    written = dict(COCO_WHOLEBODY)
    assert [c.name for c in found] == list(written) and all(len(c.points) == len(written[c.name]) for c in found)
    for component in found:
        component.points = list(written[component.name])
    return found


def _smplx_to_coco(name: str) -> str:
    side = {"L": "left", "R": "right"}.get(name[:1]) if name[1:2] == "_" else None
    return f"{side}_{name[2:].lower()}" if side else name.lower()


# pose type -> (component renames, point renames per component after the component rename)
KNOWN_NAMES = {
    "sapiens": (
        {
            "BODY_SAPIENS": "BODY",
            "FACE_SAPIENS": "FACE",
            "LEFT_HAND_SAPIENS": "LEFT_HAND",
            "RIGHT_HAND_SAPIENS": "RIGHT_HAND",
        },
        {},
    ),
    "smplest_x": ({}, {"BODY": {name: _smplx_to_coco(name) for name in _SMPLX_BODY}}),
}


def renamed_to_known(pose_type: str, header):
    """A copy of a pose-format header with names stock pose-format knows (see the module's doc), or None when
    nothing needs renaming. A copy: pose-format may share one header object between the files it reads. Points,
    their order and their values stay as they are."""
    if pose_type not in KNOWN_NAMES:
        return None
    header = copy.deepcopy(header)
    components, points = KNOWN_NAMES[pose_type]
    changed = False
    for component in header.components:
        new = components.get(component.name, component.name)
        changed |= new != component.name
        component.name = new
        renames = points.get(new, {})
        renamed = [renames.get(p, p) for p in component.points]
        changed |= renamed != list(component.points)
        component.points = renamed
    return header if changed else None
