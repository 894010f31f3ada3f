"""Pose perturbation for robustness checks: a copy of a pose file with seeded Gaussian noise on every point
that was seen.

Another CPU's MediaPipe kernels round differently, so the poses a user gets for the same frames are not the bytes
we got. `preprocess.pose_noise: SIGMA` (in the pose file's own units: pixels for MediaPipe) makes preprocess write
perturbed copies under `<out>/poses/` and point the TSVs at them, so a benchmark can show that a result does not
hang on the last digits of the poses. Masked points (not seen) stay masked; confidences are unchanged. The noise
of a file depends only on its example id and the sigma, so a rerun writes the same bytes.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np

from pipeline.stages.markers import atomic_path


def noise_seed(example_id: str, sigma: float) -> int:
    return int.from_bytes(hashlib.sha256(f"{example_id}:{sigma!r}".encode()).digest()[:8], "little")


def write_perturbed(pose, target: Path, sigma: float, example_id: str) -> None:
    """Write `pose` (a pose_format.Pose) with N(0, sigma²) added to each seen coordinate, atomically, to target."""
    body = pose.body
    data = np.ma.getdata(body.data).astype(np.float32)
    mask = np.ma.getmaskarray(body.data)
    rng = np.random.default_rng(noise_seed(example_id, sigma))
    noisy = data + np.asarray(rng.normal(0.0, sigma, size=data.shape), dtype=np.float32)
    body.data = np.ma.masked_array(np.where(mask, data, noisy), mask=mask)
    with atomic_path(target) as tmp, open(tmp, "wb") as handle:
        pose.write(handle)
