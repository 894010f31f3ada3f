"""Typed stage specs: the one contract between the plan and the stages.

`pipeline/plan.py` builds one of these per stage job (`build_spec`: unknown or missing keys fail at submit time,
in one line), writes it as the JSON the job reads, and the stage loads it back into the same dataclass
(`load_spec`, in `stage_main`): a stage reads attributes (`spec.output_dir`), never string keys. The experiment's own
sections (dataset, model, training, translate, evaluate) keep their config dataclasses.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, Optional

from pipeline.schema import Dataset, Evaluate, Model, Training, Translate
from pipeline.yaml_layers import from_dict


@dataclass
class Download:
    """How a job that fetches an archive downloads (pipeline.archives.download's keywords; the profile's)."""

    user_agent: Optional[str] = None
    attempts: int = 5
    retry_wait: float = 15.0


@dataclass
class PoseSource:
    """Where pre-estimated poses come from: a download or a folder."""

    source: str
    pose_type: str
    url: Optional[str] = None
    folder: Optional[str] = None


@dataclass
class StageSpec:
    stage: str
    key: str
    output_dir: str


@dataclass
class PrepareSpec(StageSpec):
    dataset: Dataset  # root resolved to an absolute path
    download: Optional[Download] = None


@dataclass
class EstimateSpec(StageSpec):
    prepare: str  # the prepare job's key
    estimator: str
    settings: dict
    manifest_dir: str
    shards: int
    workers: Any  # a number or "auto"
    max_failure_fraction: float = 0.0
    limit: Optional[int] = None  # --limit of the stage command (trials)


@dataclass
class PreprocessSpec(StageSpec):
    encoder_prompt: str
    decoder_prompt: str
    estimator: str  # the pose type and what the registry says of it
    points: int
    dims: int
    reduce_holistic: bool
    expected_feat_dim: int
    max_missing_fraction: float
    manifest_dir: str
    poses_dir: str
    pose_source: str = "estimate"  # estimate | download | folder
    estimate: Optional[str] = None  # the estimate job's key (pose_source estimate)
    prepare: Optional[str] = None  # the prepare job's key (pre-estimated poses)
    poses: Optional[PoseSource] = None
    control: Optional[str] = None
    pose_noise: float = 0.0
    dataset_limit: Optional[int] = None
    sha256: Optional[str] = None
    download: Optional[Download] = None


@dataclass
class TrainSpec(StageSpec):
    preprocess: str
    model: Model
    training: Training
    replicate: int
    preprocess_dir: str
    cache_dir: str
    run_name: str
    reduce_holistic: bool
    use_gpu: bool
    max_requeues: int
    encoder_prompt: str


@dataclass
class TranslateSpec(StageSpec):
    train: str
    translate: Translate
    train_dir: str
    preprocess_dir: str
    cache_dir: str
    use_gpu: bool
    max_requeues: int


@dataclass
class EvaluateSpec(StageSpec):
    translate: str
    evaluate: Evaluate
    translate_dir: str
    references: str
    cache_dir: str


SPEC_TYPES = {
    "prepare": PrepareSpec,
    "estimate": EstimateSpec,
    "preprocess": PreprocessSpec,
    "train": TrainSpec,
    "translate": TranslateSpec,
    "evaluate": EvaluateSpec,
}


def load_spec(data: dict, where: str) -> StageSpec:
    """The stage's spec from its JSON; a key that is unknown, missing or of the wrong type fails in one line."""
    stage = data.get("stage")
    if stage not in SPEC_TYPES:
        from pipeline.errors import UserError

        raise UserError(f"{where}: stage: expected one of {', '.join(SPEC_TYPES)}, got {stage!r}")
    return from_dict(SPEC_TYPES[stage], data, {}, "", where)


def as_json(spec: StageSpec) -> dict:
    return dataclasses.asdict(spec)


def download_kwargs(download: Optional[Download]) -> Optional[dict]:
    """pipeline.archives.download's keywords from a spec's download settings (None: its defaults)."""
    return dataclasses.asdict(download) if download else None
