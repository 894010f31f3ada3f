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

from pipeline.binds import job_mounts, unique
from pipeline.config import stage_resources
from pipeline.errors import UserError
from pipeline.keys import stable_hash
from pipeline.pose_types import POSE_TYPES, TRAINER_IMAGE
from pipeline.schema import Experiment, Profile
from pipeline.stage_registry import STAGE, STAGES, Resources
from pipeline.stages.markers import missing_tasks
from pipeline.stages.specs import SPEC_TYPES, PlanContext, Planned, StageSpec, load_spec


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
    mounts: list[tuple[str, bool]] = field(default_factory=list)  # (path, read_only) besides data_dir: binds.py

    @property
    def id(self) -> str:
        return f"{self.stage}/{self.key}"

    def missing_tasks(self) -> list[int]:
        """Tasks whose completion marker is missing, as a run folder's JobRecord says it (stages/markers.py)."""
        return missing_tasks(self.output_dir, self.array)


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
    planned: Planned,
    image: str,
    resources: Resources,
    data_dir: Path,
    upstream: dict[str, StageJob],
) -> StageJob:
    """The job `planned` (its spec's plan), or the job already in the plan with the same key, for `run`."""
    key = f"{planned.label}-{stable_hash({'stage': stage, **planned.identity})}"
    job_id = f"{stage}/{key}"
    job = plan.jobs.get(job_id)
    if job is None:
        out = data_dir / stage / key
        # the typed spec the job reads (pipeline/stages/specs.py): a key unknown or missing fails here, at submit
        values = {"stage": stage, "key": key, "output_dir": str(out), **planned.values}
        typed = load_spec(values, f"{stage} job {key}: spec")
        # what it reads and writes besides data_dir, from its spec and those before it (pipeline/binds.py)
        mounts = job_mounts(typed, {s: j.spec for s, j in upstream.items()}) + list(planned.mounts)
        deps = [upstream[planned.after].id] if planned.after else []
        job = StageJob(stage, key, image, typed, str(out), deps, resources, planned.array, mounts=unique(mounts))
        plan.jobs[job_id] = job
    if run not in job.runs:
        job.runs.append(run)
    plan.runs.setdefault(run, {})[stage] = job_id
    return job


def add_experiment(plan: Plan, exp: Experiment, profile: Profile, until: str = STAGES[-1]) -> None:
    """Add one experiment's stage jobs to the plan, reusing jobs already there with the same key: each stage of
    the registry in order, as its spec's `plan` says (pipeline/stages/specs.py)."""
    if exp.name in plan.runs:
        raise UserError(f"{exp.source}: name: two runs are called {exp.name!r}; give each run its own name")
    est = POSE_TYPES[exp.estimate.estimator]
    plan.experiments[exp.name] = exp
    res = lambda stage: stage_resources(stage, profile, exp, est.wants_gpu)  # noqa: E731
    ctx = PlanContext(exp, profile, {}, lambda stage: res(stage).gpu)
    for stage in STAGES[: STAGES.index(until) + 1]:
        planned = SPEC_TYPES[stage].plan(ctx)
        if planned is None:
            continue
        # an estimator-image stage runs in the pose type's image where we estimate it, else in the trainer's
        own = STAGE[stage].image == "estimator" and exp.estimate.source == "estimate"
        image = est.image if own and est.image else TRAINER_IMAGE
        ctx.jobs[stage] = _add(plan, exp.name, stage, planned, image, res(stage), Path(profile.data_dir), ctx.jobs)


def build_plan(experiments: list[Experiment], profile: Profile, until: str = STAGES[-1]) -> Plan:
    plan = Plan()
    for exp in experiments:
        add_experiment(plan, exp, profile, until)
    return plan
