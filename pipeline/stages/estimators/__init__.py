"""Estimator adapters: each module turns its model's output into a pose-format `Pose` with a proper header.

Contract (one module per name in pipeline/estimators.py):
    load(settings: dict) -> model                  # once per worker process
    estimate(model, frames: list, fps: float) -> Pose   # frames: RGB uint8 arrays, all the same size
"""

from __future__ import annotations

import importlib
from types import ModuleType


def adapter(name: str) -> ModuleType:
    return importlib.import_module(f"pipeline.stages.estimators.{name}")
