"""The stage graph: experiments + a profile → stage jobs with stable keys, shared where their inputs are the same.

A stage job's key is a hash of exactly what determines its output (the dataset for prepare; that plus the estimator
and its settings for estimate; ... the hyperparameters and replicate number for train), so two experiments that
differ only in a training hyperparameter get the same prepare/estimate/preprocess keys and share those jobs.
Settings that change how work is done but not its result (shards, workers, failure thresholds, resources) are in
the job's spec, not its key. Outputs go to `<data_dir>/<stage>/<key>/`; paths are absolute and the same on the
host and inside containers (containers bind every path at the same place).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

from pipeline.config import stage_resources
from pipeline.errors import UserError
from pipeline.keys import as_plain, dataset_identity, stable_hash
from pipeline.paths import project_path
from pipeline.pose_types import POSE_TYPES, TRAINER_IMAGE, resolved_settings
from pipeline.schema import Experiment, Profile
from pipeline.stage_registry import STAGES, Resources
from pipeline.stages.sample_data import VERSION as SAMPLE_VERSION
from pipeline.stages.specs import StageSpec, load_spec


@dataclass
class StageJob:
    stage: str
    key: str  # "<readable label>-<hash>", unique within its stage
    image: str
    spec: StageSpec  # everything the stage reads: inputs, outputs, parameters (stages/specs.py)
    output_dir: str
    deps: list[str]  # ids (stage/key) of the jobs this one needs
    resources: Resources
    array: int = 0  # number of array tasks; 0 = a plain job
    runs: list[str] = field(default_factory=list)
    mounts: list[tuple[str, bool]] = field(default_factory=list)  # (path, read_only) it needs besides data_dir

    @property
    def id(self) -> str:
        return f"{self.stage}/{self.key}"


@dataclass
class Plan:
    jobs: dict[str, StageJob] = field(default_factory=dict)  # id -> job, in dependency order
    runs: dict[str, dict[str, str]] = field(default_factory=dict)  # run name -> stage -> job id
    experiments: dict[str, Experiment] = field(default_factory=dict)

    def count_by_stage(self) -> dict[str, int]:
        counts = {s: 0 for s in STAGES}
        for job in self.jobs.values():
            counts[job.stage] += 1
        return {s: n for s, n in counts.items() if n}


def _add(
    plan: Plan,
    run: str,
    stage: str,
    label: str,
    identity: dict,
    image: str,
    spec: dict,
    deps: list[str],
    resources: Resources,
    data_dir: Path,
    array: int = 0,
    mounts: Sequence[tuple[str, bool]] = (),
) -> StageJob:
    key = f"{label}-{stable_hash({'stage': stage, **identity})}"
    job_id = f"{stage}/{key}"
    job = plan.jobs.get(job_id)
    if job is None:
        out = data_dir / stage / key
        # the typed spec the job reads (pipeline/stages/specs.py): a key unknown or missing fails here, at submit
        typed = load_spec({"stage": stage, "key": key, "output_dir": str(out), **spec}, f"{stage} job {key}: spec")
        job = StageJob(stage, key, image, typed, str(out), deps, resources, array, mounts=list(mounts))
        plan.jobs[job_id] = job
    if run not in job.runs:
        job.runs.append(run)
    plan.runs.setdefault(run, {})[stage] = job_id
    return job


def add_experiment(plan: Plan, exp: Experiment, profile: Profile, until: str = "evaluate") -> None:
    """Add one experiment's stage jobs to the plan, reusing jobs already there with the same key."""
    if exp.name in plan.runs:
        raise UserError(f"{exp.source}: name: two runs are called {exp.name!r}; give each run its own name")
    stages = STAGES[: STAGES.index(until) + 1]
    data_dir, cache_dir = Path(profile.data_dir), Path(profile.cache_dir)  # absolute (load_profile)
    est = POSE_TYPES[exp.estimate.estimator]
    res = lambda stage: stage_resources(stage, profile, exp, est.wants_gpu)  # noqa: E731
    plan.experiments[exp.name] = exp

    # the key hashes the root as configured (relative roots stay relative: the same key in every clone);
    # an unset dataset.url stays out of it, so keys from before that option existed still match
    dataset = dataset_identity(exp.dataset)
    resolved = {**dataset, "root": str(project_path(exp.dataset.root or f"data/datasets/{exp.dataset.name}"))}
    # prepare writes the sample dataset or fetches annotations (read-write); estimate reads frames/videos (read-only)
    root = resolved["root"]
    identity: dict[str, Any] = {"dataset": dataset}
    if exp.dataset.layout == "sample":  # regenerated clips must not reuse poses of older ones
        identity["sample_version"] = SAMPLE_VERSION
    prep_spec = {"dataset": resolved, **({"download": download_settings(profile)} if exp.dataset.url else {})}
    prep = _add(
        plan,
        exp.name,
        "prepare",
        f"{exp.dataset.name}-{exp.dataset.layout}",
        identity,
        est.image if exp.estimate.source == "estimate" and est.image else TRAINER_IMAGE,
        prep_spec,
        [],
        res("prepare"),
        data_dir,
        mounts=[(root, exp.dataset.layout not in ("sample", "annotations"))],
    )
    if exp.estimate.source != "estimate":  # pre-estimated poses: no estimate job, preprocess reads them
        if "preprocess" in stages:
            pre = add_pose_source_preprocess(plan, exp, prep, data_dir, res("preprocess"), profile)
            add_training(plan, exp, pre, stages, data_dir, cache_dir, res)
        return
    if "estimate" not in stages:
        return
    settings = resolved_settings(est.name, exp.estimate.settings)
    ident = {"prepare": prep.key, "estimator": est.name, "settings": settings}
    estimate = _add(
        plan,
        exp.name,
        "estimate",
        f"{exp.dataset.name}-{est.name}",
        ident,
        est.image or TRAINER_IMAGE,  # source estimate: config checked the type has an image
        {
            **ident,
            "manifest_dir": prep.output_dir,
            "shards": exp.estimate.shards,
            "workers": exp.estimate.workers,
            "max_failure_fraction": exp.estimate.max_failure_fraction,
        },
        [prep.id],
        res("estimate"),
        data_dir,
        array=exp.estimate.shards,
        mounts=[(root, True)],
    )
    if "preprocess" not in stages:
        return
    ident = {"estimate": estimate.key, **preprocess_identity(exp)}
    pre = _add(
        plan,
        exp.name,
        "preprocess",
        f"{exp.dataset.name}-{est.name}",
        ident,
        TRAINER_IMAGE,
        {
            **ident,
            **preprocess_checks(exp),
            "manifest_dir": prep.output_dir,
            "poses_dir": estimate.output_dir,
            "pose_source": "estimate",
        },
        [estimate.id],
        res("preprocess"),
        data_dir,
    )
    add_training(plan, exp, pre, stages, data_dir, cache_dir, res)


def preprocess_identity(exp: Experiment) -> dict:
    """What preprocess computes from besides its poses: the prompts, and the control and pose noise only when set
    (so that keys of ordinary runs stay as they were)."""
    ident: dict[str, Any] = {
        "encoder_prompt": exp.preprocess.encoder_prompt,
        "decoder_prompt": exp.preprocess.decoder_prompt,
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


def pose_download_dir(data_dir: Path, pose_type: str, url: str) -> Path:
    """Where a pose type's archive is fetched and extracted: one folder per (type, URL), shared by every run."""
    return data_dir / "downloads" / "poses" / f"{pose_type}-{stable_hash(url, 8)}"


def download_settings(profile: Profile) -> dict:
    """How the jobs that fetch archives download (pipeline.archives.download's keywords): not part of any key."""
    return {
        "user_agent": profile.download_user_agent,
        "attempts": profile.download_attempts,
        "retry_wait": profile.download_retry_wait,
    }


def add_pose_source_preprocess(
    plan: Plan, exp: Experiment, prep: StageJob, data_dir: Path, resources: Resources, profile: Profile
) -> StageJob:
    """The preprocess job of a run whose poses are downloaded or in a folder (its only upstream: prepare)."""
    est = POSE_TYPES[exp.estimate.estimator]
    src = exp.estimate.source
    poses: dict[str, Any] = {"source": src, "pose_type": est.name}
    if src == "download":
        poses["url"] = exp.estimate.url or est.download_url
        poses_dir = pose_download_dir(data_dir, est.name, poses["url"])
        mounts = []
    else:
        poses["folder"] = exp.estimate.folder
        poses_dir = project_path(exp.estimate.folder)
        mounts = [(str(poses_dir), True)]
    ident = {"prepare": prep.key, "poses": poses, **preprocess_identity(exp)}
    return _add(
        plan,
        exp.name,
        "preprocess",
        f"{exp.dataset.name}-{est.name}-{src}",
        ident,
        TRAINER_IMAGE,
        {
            **ident,
            **preprocess_checks(exp),
            "manifest_dir": prep.output_dir,
            "poses_dir": str(poses_dir),
            "pose_source": src,
            "dataset_limit": exp.dataset.limit,
            "sha256": exp.estimate.sha256,
            **({"download": download_settings(profile)} if src == "download" else {}),
        },
        [prep.id],
        resources,
        data_dir,
        mounts=mounts,
    )


def add_training(
    plan: Plan, exp: Experiment, pre: StageJob, stages: tuple, data_dir: Path, cache_dir: Path, res
) -> None:
    """train → translate → evaluate after a preprocess job, as far as `stages` goes."""
    est = POSE_TYPES[exp.estimate.estimator]
    if "train" not in stages:
        return
    label = f"{exp.dataset.name}-{est.name}-seed{exp.training.seed}"
    if exp.replicate:
        label += f"-rep{exp.replicate}"
    # how often a job may be requeued changes nothing it computes: not part of the key; torch's thread count
    # changes the order of every sum (benchmarks/learnability.py varies it): part of the key only when set
    training = {
        k: v
        for k, v in as_plain(exp.training).items()
        if k != "max_requeues" and not (k == "torch_threads" and v is None)
    }
    ident = {"preprocess": pre.key, "model": as_plain(exp.model), "training": training, "replicate": exp.replicate}
    train = _add(
        plan,
        exp.name,
        "train",
        label,
        ident,
        TRAINER_IMAGE,
        {
            **ident,
            "preprocess_dir": pre.output_dir,
            "cache_dir": str(cache_dir),
            "run_name": exp.name,
            "reduce_holistic": est.reduce_holistic,
            "use_gpu": res("train").gpu,
            "max_requeues": exp.training.max_requeues,
            "encoder_prompt": exp.preprocess.encoder_prompt,
        },
        [pre.id],
        res("train"),
        data_dir,
    )
    if "translate" not in stages:
        return
    ident = {"train": train.key, "translate": as_plain(exp.translate)}
    trans = _add(
        plan,
        exp.name,
        "translate",
        label,
        ident,
        TRAINER_IMAGE,
        {
            **ident,
            "train_dir": train.output_dir,
            "preprocess_dir": pre.output_dir,
            "cache_dir": str(cache_dir),
            "use_gpu": res("translate").gpu,
            "max_requeues": exp.training.max_requeues,
        },
        [train.id],
        res("translate"),
        data_dir,
    )
    if "evaluate" not in stages:
        return
    ident = {"translate": trans.key, "evaluate": as_plain(exp.evaluate)}
    _add(
        plan,
        exp.name,
        "evaluate",
        label,
        ident,
        TRAINER_IMAGE,
        {
            **ident,
            "translate_dir": trans.output_dir,
            "references": str(Path(pre.output_dir) / "test.tsv"),
            "cache_dir": str(cache_dir),
        },
        [trans.id],
        res("evaluate"),
        data_dir,
    )


def build_plan(experiments: list[Experiment], profile: Profile, until: str = "evaluate") -> Plan:
    plan = Plan()
    for exp in experiments:
        add_experiment(plan, exp, profile, until)
    return plan
