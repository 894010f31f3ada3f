"""preprocess.pose_noise: perturbed copies keep every masked point masked, move every seen point by about sigma,
and are the same bytes on a rerun (the noise depends only on the example id and sigma)."""

import pytest

from conftest import needs_trainer, run_in

pytestmark = needs_trainer

PERTURB = r"""
import json, sys
import numpy as np
from pathlib import Path
from pose_format import Pose
from pose_format.numpy import NumPyPoseBody
from pose_format.pose_header import PoseHeader, PoseHeaderComponent, PoseHeaderDimensions
from pipeline.stages.pose_noise import write_perturbed

out = Path(sys.argv[1])
def original():
    comp = PoseHeaderComponent("BODY", [f"p{i}" for i in range(50)], [], [], "XYC")
    header = PoseHeader(0.1, PoseHeaderDimensions(210, 260, 0), [comp])
    rng = np.random.default_rng(0)
    data = rng.uniform(0, 200, size=(40, 1, 50, 2)).astype(np.float32)
    mask = np.zeros_like(data, dtype=bool); mask[:, :, :10] = True          # ten points never seen
    conf = np.where(mask[..., 0], 0.0, 1.0).astype(np.float32)
    return Pose(header, NumPyPoseBody(fps=25, data=np.ma.masked_array(data, mask), confidence=conf))
write_perturbed(original(), out / "a.pose", 0.5, "clip1")
write_perturbed(original(), out / "b.pose", 0.5, "clip1")
write_perturbed(original(), out / "c.pose", 0.5, "clip2")
src = original().body.data
read = lambda n: Pose.read((out / n).read_bytes()).body.data
a = read("a.pose")
diff = (np.ma.getdata(a) - np.ma.getdata(src))[~np.ma.getmaskarray(src)]
print(json.dumps({"result": {
    "mask_same": bool((np.ma.getmaskarray(a) == np.ma.getmaskarray(src)).all()),
    "masked_unchanged": bool((np.ma.getdata(a)[np.ma.getmaskarray(src)]
                              == np.ma.getdata(src)[np.ma.getmaskarray(src)]).all()),
    "std": float(diff.std()), "mean": float(diff.mean()),
    "rerun_same": (out / "a.pose").read_bytes() == (out / "b.pose").read_bytes(),
    "other_id_differs": (out / "a.pose").read_bytes() != (out / "c.pose").read_bytes()}}))
"""


def test_perturbed_copy_moves_seen_points_by_sigma_keeps_masks_and_is_reproducible(tmp_path):
    r = run_in("trainer", PERTURB, str(tmp_path)).result
    assert r["mask_same"] and r["masked_unchanged"]
    assert r["std"] == pytest.approx(0.5, rel=0.1) and abs(r["mean"]) < 0.05
    assert r["rerun_same"] and r["other_id_differs"]
