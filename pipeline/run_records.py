"""The records in a run's folder, typed: `plan.json` (its jobs, which run uses which job, the experiments) and
`submission.json` (how and when it was submitted, each job's state). pipeline.submit and the executors write them;
status, summarize, provenance, translate and export read them through `read_plan` / `read_submission`, so a
record that is not what this module says stops in one line naming the file and the key.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

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
    deps: list[str]  # ids (stage/key) of the jobs this one needs
    array: int  # number of array tasks; 0 = a plain job
    output_dir: str
    script: str  # jobs/<run>/<stage>[.<first run>].sbatch
    name: str  # the SLURM job name
    key: str = ""
    image: str = ""
    spec: str = ""  # jobs/<run>/specs/<stage>-<key>.json
    runs: list[str] = field(default_factory=list)
    resources: Optional[Resources] = None

    def missing_tasks(self) -> list[int]:
        """The tasks whose completion marker is missing ([0] for a plain job not complete): the one place that
        decides whether a job of a run folder is complete."""
        return missing_tasks(self.output_dir, self.array)

    @property
    def complete(self) -> bool:
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
        return from_dict(Experiment, self.experiments[run], {}, "", where)


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

    def state(self, job_id: str) -> JobState:
        """The job's entry (created empty when the job has none yet)."""
        return self.jobs.setdefault(job_id, JobState())


def _read(path: Path) -> Optional[dict]:
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        return None
    except ValueError as exc:
        raise UserError(f"{path}: not valid JSON ({exc}); was it cut short? submit the run again to rewrite it")
    if not isinstance(data, dict):
        raise UserError(f"{path}: expected a JSON object, got {type(data).__name__}")
    return data


def read_plan(path: Path) -> Optional[PlanRecord]:
    """plan.json at `path`, or None when there is none."""
    data = _read(path)
    return None if data is None else from_dict(PlanRecord, data, {}, "", str(path))


def read_submission(path: Path) -> Submission:
    """submission.json at `path`; an empty record when the run was never submitted."""
    data = _read(path)
    return Submission() if data is None else from_dict(Submission, data, {}, "", str(path))
