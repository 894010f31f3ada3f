"""The records in a run's folder, typed: `plan.json` (its jobs, which run uses which job, the experiments) and
`submission.json` (how and when it was submitted, each job's state). pipeline.submit and the executors write them;
status, summarize, provenance, translate and export read them through `read_plan` / `read_submission`, so a
record that is not what this module says stops in one line naming the file and the key.
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

from pipeline.errors import UserError
from pipeline.schema import Experiment
from pipeline.stage_registry import STAGES, Resources
from pipeline.stages.markers import missing_tasks
from pipeline.yaml_layers import from_dict

STAGE_INDEX = {stage: i for i, stage in enumerate(STAGES)}


@dataclass
class JobRecord:
    """One stage job of plan.json: what it runs, where it writes, what it waits for."""

    stage: str
    key: str
    image: str
    deps: list[str]  # ids (stage/key) of the jobs this one needs
    array: int  # number of array tasks; 0 = a plain job
    output_dir: str
    runs: list[str]  # the runs (of a sweep) that use this job
    script: str  # jobs/<run>/<stage>[.<first run>].sbatch
    spec: str  # jobs/<run>/specs/<stage>-<key>.json
    name: str  # the SLURM job name
    resources: Resources

    def missing_tasks(self) -> list[int]:
        """The tasks whose completion marker is missing ([0] for a plain job not complete): the one place that
        decides whether a job of a run folder is complete."""
        return missing_tasks(self.output_dir, self.array)

    @property
    def complete(self) -> bool:
        """Every task's completion marker is there."""
        return not self.missing_tasks()


@dataclass
class PlanRecord:
    """plan.json: the run's jobs and, per run (several in a sweep), its experiment and its job per stage."""

    jobs: dict[str, JobRecord]  # job id (stage/key) -> job
    runs: dict[str, dict[str, str]] = field(default_factory=dict)  # run name -> stage -> job id
    experiments: dict[str, dict] = field(default_factory=dict)  # run name -> its resolved config (plain)
    config_hashes: dict[str, str] = field(default_factory=dict)  # run name -> keys.config_hash
    run: str = ""  # the run (or sweep) the folder is named after
    config_hash: str = ""
    profile: str = ""
    executor: str = ""
    runtime: str = ""

    def order(self) -> list[str]:
        """Job ids, every job after the jobs it depends on (stage order, then id)."""
        order: list[str] = []
        visiting: set[str] = set()

        def visit(job_id: str) -> None:
            if job_id in order:
                return
            if job_id in visiting:
                raise ValueError(f"dependency cycle through {job_id}")
            visiting.add(job_id)
            for dep in self.jobs[job_id].deps:
                visit(dep)
            order.append(job_id)

        for job_id in sorted(self.jobs, key=lambda j: (STAGE_INDEX[self.jobs[j].stage], j)):
            visit(job_id)
        return order

    def jobs_of(self, run: str) -> dict[str, JobRecord]:
        """Stage -> job of one run."""
        return {stage: self.jobs[job_id] for stage, job_id in self.runs[run].items()}

    def experiment(self, run: str, where: str) -> Experiment:
        """The run's resolved experiment, typed (`where`: the file, for errors)."""
        return from_dict(Experiment, self.experiments[run], {}, "", where)

    def check(self, path: Path) -> None:
        """Every dependency and every run's job is a job of the plan, every stage a stage of the registry."""
        for job_id, job in self.jobs.items():
            if job.stage not in STAGE_INDEX:
                raise UserError(f"{path}: jobs.{job_id}.stage: {job.stage!r} is no stage of this pipeline")
            for dep in job.deps:
                if dep not in self.jobs:
                    raise UserError(f"{path}: jobs.{job_id}.deps: {dep!r} is no job of this plan")
        for run, stages in self.runs.items():
            for stage, job_id in stages.items():
                if job_id not in self.jobs:
                    raise UserError(f"{path}: runs.{run}.{stage}: {job_id!r} is no job of this plan")


@dataclass
class JobState:
    """One job's entry in submission.json, as the executor last saw it."""

    state: Optional[str] = None  # RUNNING, COMPLETED, FAILED, CANCELLED (local executor); SLURM asks squeue
    slurm_id: Optional[str] = None
    tasks: Optional[list[int]] = None  # the array tasks this submission asked for
    log: Optional[str] = None
    submitted: Optional[float] = None
    started: Optional[float] = None
    ended: Optional[float] = None
    exit_code: Optional[int] = None
    task: Optional[int] = None  # the array task that failed
    reason: Optional[str] = None  # why it was cancelled
    skipped: bool = False  # complete before this submission
    history: list[str] = field(default_factory=list)  # earlier SLURM ids of this job


@dataclass
class Submission:
    """submission.json: who submitted the run, how, with which code, and each job's state."""

    jobs: dict[str, JobState] = field(default_factory=dict)
    run: Optional[str] = None
    executor: Optional[str] = None
    profile: Optional[str] = None
    runtime: Optional[str] = None
    image_manifest: Optional[str] = None  # the images' (or venvs') manifest.json: their sha256
    config_hash: Optional[str] = None
    git_commit: Optional[str] = None
    submitted: Optional[float] = None
    pid: Optional[int] = None  # the submit that queued the jobs: a second submit names it (pipeline/run_lock.py)
    host: Optional[str] = None
    updated: Optional[float] = None
    varied: list[str] = field(default_factory=list)  # the keys a sweep varies
    config: Optional[str] = None  # the experiment or sweep file
    overrides: list[str] = field(default_factory=list)  # --set
    max_parallel: Optional[int] = None
    run_order: list[str] = field(default_factory=list)  # the sweep's order: its first system is the baseline
    baseline: Optional[str] = None  # the sweep's summary.baseline

    def slurm_id(self, job_id: str) -> Optional[str]:
        """The job's SLURM id in this submission, None when it has none (local, or not submitted)."""
        entry = self.jobs.get(job_id)
        return entry.slurm_id if entry else None

    def entry(self, job_id: str) -> JobState:
        """The job's entry, to update: created empty when the job has none yet (to read one: `jobs.get`)."""
        return self.jobs.setdefault(job_id, JobState())


def _read(path: Path, remedy: str) -> Optional[dict]:
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        return None
    except ValueError as exc:
        raise UserError(f"{path}: not valid JSON ({exc}); was it cut short? {remedy}") from None
    if not isinstance(data, dict):
        raise UserError(f"{path}: expected a JSON object, got {type(data).__name__}; {remedy}")
    return data


def _typed(cls: type, data: dict, path: Path, remedy: str) -> Any:
    """`cls` from a record; keys this version does not know (a newer one wrote them) are left out with a note."""
    unknown: list[str] = []
    try:
        record = from_dict(cls, data, {}, "", str(path), unknown)
    except UserError as exc:
        raise UserError(f"{exc}; {remedy}") from None
    if unknown:
        print(
            f"note: {path}: left out keys this version of the pipeline does not know ({', '.join(unknown)}); "
            f"written by a newer one?",
            file=sys.stderr,
        )
    return record


PLAN_REMEDY = "submit the run again to rewrite it"
SUBMISSION_REMEDY = (
    "move it aside and submit again (its SLURM job ids go with it: `squeue --me` lists jobs of earlier submits "
    "still queued)"
)


def read_plan(path: Path) -> Optional[PlanRecord]:
    """plan.json at `path`, or None when there is none."""
    data = _read(path, PLAN_REMEDY)
    if data is None:
        return None
    plan = _typed(PlanRecord, data, path, PLAN_REMEDY)
    try:
        plan.check(path)
    except UserError as exc:
        raise UserError(f"{exc}; {PLAN_REMEDY}") from None
    return plan


def read_submission(path: Path) -> Submission:
    """submission.json at `path`; an empty record when the run was never submitted."""
    data = _read(path, SUBMISSION_REMEDY)
    return Submission() if data is None else _typed(Submission, data, path, SUBMISSION_REMEDY)
