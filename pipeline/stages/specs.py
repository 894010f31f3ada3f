"""Typed stage specs: the one contract between the plan and the stages.

One dataclass per stage says what its job reads, and its `plan` says where each value comes from: given the
experiment, the profile and the run's jobs planned so far, it returns the job's label, its identity (what
determines its output, hashed into its key), the spec's values and the stage it waits for; or None where the stage
has no job in this run (no estimate job for pre-estimated poses). `pipeline/plan.py` walks the stage registry in
order and calls each; `load_spec` builds the dataclass (a key unknown or missing fails at submit, in one line), the
job reads it back as JSON into the same dataclass (`stage_main`): a stage reads attributes, never string keys.
The experiment's own sections (dataset, model, training, translate, evaluate) keep their config dataclasses.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Optional

from pipeline.keys import as_plain, dataset_identity, stable_hash, training_identity
from pipeline.paths import project_path
from pipeline.pose_types import POSE_TYPES, resolved_settings
from pipeline.schema import Dataset, Evaluate, Experiment, Model, Profile, Training, Translate
from pipeline.stage_registry import STAGE_TABLE
from pipeline.stages.markers import DONE, array_task, shard_marker
from pipeline.yaml_layers import from_dict


@dataclass
class PlanContext:
    """What a spec's `plan` reads: the experiment, the profile (its folders absolute), the run's jobs planned so far
    by stage (each with `.key`, `.output_dir`, `.spec`), and whether a stage's job gets a GPU."""

    exp: Experiment
    profile: Profile
    jobs: dict[str, Any]
    gpu: Callable[[str], bool]

    @property
    def cache_dir(self) -> str:
        return self.profile.cache_dir


@dataclass
class Planned:
    """A stage's job as its spec plans it (pipeline/plan.py adds the key, output folder, image and resources)."""

    label: str  # readable part of the key
    identity: dict  # what determines the output: hashed into the key
    values: dict  # the spec's fields (besides stage, key, output_dir)
    after: Optional[str] = None  # the stage whose job of this run it waits for
    array: int = 0  # array tasks; 0: a plain job
    mounts: list = field(default_factory=list)  # (path, read_only) beyond what pipeline/binds.py derives: none so far


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
class Launch:
    """How a train job's processes are laid out and what each computes (pipeline/distributed.py plans it): nodes ×
    nproc_per_node processes of `batch_size` (per device) × `gradient_accumulation_steps`."""

    nodes: int = 1
    nproc_per_node: int = 1
    distributed: str = "ddp"  # ddp | fsdp
    backend: str = "gloo"  # nccl on GPUs
    batch_size: int = 8
    gradient_accumulation_steps: int = 1

    @property
    def processes(self) -> int:
        return self.nodes * self.nproc_per_node


@dataclass
class StageSpec:
    stage: str
    key: str
    output_dir: str

    @classmethod
    def plan(cls, ctx: PlanContext) -> Optional[Planned]:
        raise NotImplementedError(f"{cls.__name__}.plan")

    def marker(self) -> Path:
        """The completion marker this job (or this array task) writes when it is done."""
        return Path(self.output_dir) / DONE

    def limit_examples(self, limit: int) -> None:
        """`--limit N` of the stage command (trials); only stages that take it say how."""
        from pipeline.errors import UserError

        raise UserError(f"--limit: the {self.stage} stage takes no example limit (estimate does)")

    def processes(self) -> Optional[Launch]:
        """How the job's processes are launched (torchrun: nodes, processes per node, batch split); None: one
        process. Only the stages that launch several say so."""
        return None

    def requeue_limit(self) -> Optional[int]:
        """How often the job may requeue itself; None for stages that never requeue (stage_registry `requeues`)."""
        return None


@dataclass
class PrepareSpec(StageSpec):
    dataset: Dataset  # root resolved to an absolute path
    download: Optional[Download] = None
    keypoints: Optional[str] = None  # estimate.source openpose_json: the folder of per-example keypoint folders

    @classmethod
    def plan(cls, ctx: PlanContext) -> Optional[Planned]:
        from pipeline.stages.sample_data import VERSION as SAMPLE_VERSION

        ds = ctx.exp.dataset
        # the key hashes the root as configured (relative roots stay relative: the same key in every clone);
        # an unset dataset.url stays out of it, so keys from before that option existed still match
        dataset = dataset_identity(ds)
        root = str(project_path(ds.root or f"data/datasets/{ds.name}"))
        identity: dict[str, Any] = {"dataset": dataset}
        if ds.layout == "sample":  # regenerated clips must not reuse poses of older ones
            identity["sample_version"] = SAMPLE_VERSION
        values = {"dataset": {**dataset, "root": root}, **download_values(ctx.profile, bool(ds.url))}
        if ctx.exp.estimate.source == "openpose_json":  # each example's media is its folder of keypoint JSONs
            identity["keypoints"] = ctx.exp.estimate.folder
            values["keypoints"] = str(project_path(ctx.exp.estimate.folder))
        return Planned(f"{ds.name}-{ds.layout}", identity, values)


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
    source: str = "estimate"  # estimate: run the estimator; openpose_json: convert OpenPose's JSON keypoints

    def marker(self) -> Path:
        return shard_marker(Path(self.output_dir), array_task(), self.shards)

    def limit_examples(self, limit: int) -> None:
        self.limit = limit

    @classmethod
    def plan(cls, ctx: PlanContext) -> Optional[Planned]:
        exp = ctx.exp
        if exp.estimate.source not in ("estimate", "openpose_json"):  # pre-estimated poses: preprocess reads them
            return None
        est, prep = POSE_TYPES[exp.estimate.estimator], ctx.jobs["prepare"]
        if exp.estimate.source == "estimate" and poses_given(exp, prep.spec.dataset.root, est.image is not None):
            return None  # a manifest of .pose media: nothing to estimate, preprocess reads them
        ident = {
            "prepare": prep.key,
            "estimator": est.name,
            "settings": resolved_settings(est.name, exp.estimate.settings),
        }
        if exp.estimate.source != "estimate":  # (absent for estimation: older keys still match)
            ident["source"] = exp.estimate.source
        values = {
            **ident,
            "manifest_dir": prep.output_dir,
            "shards": exp.estimate.shards,
            "workers": exp.estimate.workers,
            "max_failure_fraction": exp.estimate.max_failure_fraction,
        }
        label = f"{exp.dataset.name}-{est.name}" + ("-json" if exp.estimate.source == "openpose_json" else "")
        return Planned(label, ident, values, "prepare", exp.estimate.shards)


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
    # estimate (our estimate job's, also for openpose_json) | download | folder | manifest (the media are poses)
    pose_source: str = "estimate"
    max_frames: Optional[int] = None  # training and validation examples longer than this are left out
    estimate: Optional[str] = None  # the estimate job's key (pose_source estimate)
    prepare: Optional[str] = None  # the prepare job's key (pre-estimated poses)
    poses: Optional[PoseSource] = None
    control: Optional[str] = None
    pose_noise: float = 0.0
    dataset_limit: Optional[int] = None
    sha256: Optional[str] = None
    download: Optional[Download] = None

    @classmethod
    def plan(cls, ctx: PlanContext) -> Optional[Planned]:
        exp, prep = ctx.exp, ctx.jobs["prepare"]
        est = POSE_TYPES[exp.estimate.estimator]
        src = exp.estimate.source
        if src in ("estimate", "openpose_json") and "estimate" not in ctx.jobs:  # .pose media given in a manifest
            ident = {"prepare": prep.key, "pose_source": "manifest", **preprocess_identity(exp)}
            values = {**ident, **preprocess_checks(exp), "manifest_dir": prep.output_dir, "poses_dir": ""}
            label = f"{exp.dataset.name}-{est.name}-manifest"
            return Planned(label, ident, values, "prepare")  # binds.py binds the manifest's media
        if src in ("estimate", "openpose_json"):
            estimate = ctx.jobs["estimate"]
            ident = {"estimate": estimate.key, **preprocess_identity(exp)}
            values = {**ident, **preprocess_checks(exp), "manifest_dir": prep.output_dir}
            values.update(poses_dir=estimate.output_dir, pose_source="estimate")
            return Planned(f"{exp.dataset.name}-{est.name}", ident, values, "estimate")
        # downloaded or in a folder: no estimate job, its only upstream is prepare
        poses: dict[str, Any] = {"source": src, "pose_type": est.name}
        if src == "download":
            poses["url"] = exp.estimate.url or est.download_url
            poses_dir = pose_download_dir(Path(ctx.profile.data_dir), est.name, poses["url"])
        else:
            poses["folder"] = exp.estimate.folder
            poses_dir = project_path(exp.estimate.folder)
        ident = {"prepare": prep.key, "poses": poses, **preprocess_identity(exp)}
        values = {
            **ident,
            **preprocess_checks(exp),
            "manifest_dir": prep.output_dir,
            "poses_dir": str(poses_dir),
            "pose_source": src,
            "dataset_limit": exp.dataset.limit,
            "sha256": exp.estimate.sha256,
            **download_values(ctx.profile, src == "download"),
        }
        return Planned(f"{exp.dataset.name}-{est.name}-{src}", ident, values, "prepare")


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
    launch: Optional[Launch] = None  # None: one process, the configured batch (specs written before it existed)

    @classmethod
    def plan(cls, ctx: PlanContext) -> Optional[Planned]:
        from pipeline.distributed import plan_launch

        exp, pre = ctx.exp, ctx.jobs["preprocess"]
        # how often a job may be requeued changes nothing it computes: not part of the key; torch's thread count
        # changes the order of every sum (benchmarks/learnability.py varies it): part of the key only when set; so
        # are the processes (keys.training_identity: at one process, the keys of older runs)
        training = {
            k: v
            for k, v in training_identity(exp.training).items()
            if k != "max_requeues" and not (k == "torch_threads" and v is None)
        }
        ident = {"preprocess": pre.key, "model": as_plain(exp.model), "training": training, "replicate": exp.replicate}
        values = {
            **ident,
            "preprocess_dir": pre.output_dir,
            "cache_dir": ctx.cache_dir,
            "run_name": exp.name,
            "reduce_holistic": POSE_TYPES[exp.estimate.estimator].reduce_holistic,
            "use_gpu": ctx.gpu("train"),
            "max_requeues": exp.training.max_requeues,
            "encoder_prompt": exp.preprocess.encoder_prompt,
            "launch": plan_launch(exp, ctx.profile, ctx.gpu("train")),
        }
        return Planned(model_label(exp), ident, values, "preprocess")

    def processes(self) -> Optional[Launch]:
        return self.launch

    def requeue_limit(self) -> Optional[int]:
        return self.max_requeues


@dataclass
class TranslateSpec(StageSpec):
    train: str
    translate: Translate
    train_dir: str
    preprocess_dir: str
    cache_dir: str
    use_gpu: bool
    max_requeues: int

    @classmethod
    def plan(cls, ctx: PlanContext) -> Optional[Planned]:
        exp, train = ctx.exp, ctx.jobs["train"]
        ident = {"train": train.key, "translate": as_plain(exp.translate)}
        values = {
            **ident,
            "train_dir": train.output_dir,
            "preprocess_dir": ctx.jobs["preprocess"].output_dir,
            "cache_dir": ctx.cache_dir,
            "use_gpu": ctx.gpu("translate"),
            "max_requeues": exp.training.max_requeues,
        }
        return Planned(model_label(exp), ident, values, "train")

    def requeue_limit(self) -> Optional[int]:
        return self.max_requeues


@dataclass
class EvaluateSpec(StageSpec):
    translate: str
    evaluate: Evaluate
    translate_dir: str
    references: str
    cache_dir: str

    @classmethod
    def plan(cls, ctx: PlanContext) -> Optional[Planned]:
        exp, trans = ctx.exp, ctx.jobs["translate"]
        ident = {"translate": trans.key, "evaluate": as_plain(exp.evaluate)}
        values = {
            **ident,
            "translate_dir": trans.output_dir,
            "references": str(Path(ctx.jobs["preprocess"].output_dir) / "test.tsv"),
            "cache_dir": ctx.cache_dir,
        }
        return Planned(model_label(exp), ident, values, "translate")


# each stage of the registry with the spec class it names (stage_registry.Stage.spec)
SPEC_TYPES: dict[str, type[StageSpec]] = {s.name: globals()[s.spec] for s in STAGE_TABLE}


def model_label(exp: Experiment) -> str:
    """The readable part of the keys of a run's train, translate and evaluate jobs."""
    label = f"{exp.dataset.name}-{exp.estimate.estimator}-seed{exp.training.seed}"
    return f"{label}-rep{exp.replicate}" if exp.replicate else label


def preprocess_identity(exp: Experiment) -> dict:
    """What preprocess computes from besides its poses: the prompts, and the control and pose noise only when set
    (so that keys of ordinary runs stay as they were)."""
    ident: dict[str, Any] = {
        "encoder_prompt": exp.preprocess.encoder_prompt,
        "decoder_prompt": exp.preprocess.decoder_prompt,
        "max_frames": exp.model.max_frames,  # preprocess leaves out longer training/validation examples
    }
    if exp.preprocess.control:
        ident["control"] = exp.preprocess.control
    if exp.preprocess.pose_noise:
        ident["pose_noise"] = exp.preprocess.pose_noise
    return ident


def preprocess_checks(exp: Experiment) -> dict:
    """What preprocess checks the pose files against (the registry's entry) and how many it may leave out."""
    est = POSE_TYPES[exp.estimate.estimator]
    return {
        "estimator": est.name,
        "points": est.points,
        "dims": est.dims,
        "reduce_holistic": est.reduce_holistic,
        "expected_feat_dim": est.expected_feat_dim,
        "max_missing_fraction": exp.preprocess.max_missing_fraction,
    }


def poses_given(exp: Experiment, root: str, can_estimate: bool) -> bool:
    """Whether every example of a `manifest` corpus gives a `.pose` file as its media (nothing to estimate), read
    from the split files at submit. A corpus that mixes media is estimated, which a pose type without an image
    cannot be: that stops here, naming the first row that is not a pose file."""
    if exp.dataset.layout != "manifest":
        return False
    from pipeline.stages.corpus import media_cells

    cells = media_cells(as_plain(exp.dataset), Path(root))
    if cells is None:  # the split files cannot be read here: prepare will say why
        return False
    other = next(((path, line, cell) for path, line, cell in cells if not cell.endswith(".pose")), None)
    if other is None:
        return bool(cells)
    if not can_estimate:
        from pipeline.errors import UserError

        raise UserError(
            f"{other[0]}:{other[1]}: media {other[2]!r} is not a .pose file, and we cannot estimate "
            f"{exp.estimate.estimator} here (no image); give every example a .pose file of that type, or set "
            f"estimate.source to download or folder"
        )
    return False


def pose_download_dir(data_dir: Path, pose_type: str, url: str) -> Path:
    """Where a pose type's archive is fetched and extracted: one folder per (type, URL), shared by every run."""
    return data_dir / "downloads" / "poses" / f"{pose_type}-{stable_hash(url, 8)}"


def download_values(profile: Profile, fetches: bool) -> dict:
    """A fetching job's `download` value: how it downloads (the profile's; in no key), or nothing."""
    if not fetches:
        return {}
    return {
        "download": {
            "user_agent": profile.download_user_agent,
            "attempts": profile.download_attempts,
            "retry_wait": profile.download_retry_wait,
        }
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
