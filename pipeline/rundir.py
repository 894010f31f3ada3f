"""A run's folder under jobs/: where its scripts, specs, logs, plan and submission record live.

jobs/<run>/<stage>[.<first run>].sbatch   one script per stage job
jobs/<run>/specs/<stage>-<key>.json       what each stage reads
jobs/<run>/logs/                          %x-%j.out / %x-%A_%a.out
jobs/<run>/plan.json                      jobs, dependencies, outputs, which runs use which job
jobs/<run>/submission.json                executor, job ids / local states, config hash, git commit, times
"""

from __future__ import annotations

import json
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

from pipeline.errors import UserError
from pipeline.keys import as_plain, config_hash
from pipeline.paths import PROJECT_ROOT
from pipeline.plan import Plan
from pipeline.run_records import JobRecord, PlanRecord, Submission, read_plan, read_submission
from pipeline.stages.markers import write_json


@dataclass
class JobFiles:
    script: Path
    spec: Path
    name: str  # the SLURM job name


def job_files(plan: Plan, run_dir: Path) -> dict[str, JobFiles]:
    """File names per job: `<stage>.sbatch` when the stage has one job, else `<stage>.<first run>.sbatch`."""
    counts = plan.count_by_stage()
    files = {}
    for job_id, job in plan.jobs.items():
        stem = job.stage if counts[job.stage] == 1 else f"{job.stage}.{job.runs[0]}"
        files[job_id] = JobFiles(
            run_dir / f"{stem}.sbatch", run_dir / "specs" / f"{job.stage}-{job.key}.json", f"{job.stage}-{job.key}"
        )
    return files


def git_commit() -> str | None:
    try:
        out = subprocess.run(
            ["git", "-C", str(PROJECT_ROOT), "rev-parse", "HEAD"], capture_output=True, text=True, timeout=10
        )
        return out.stdout.strip() or None
    except (OSError, subprocess.SubprocessError):
        return None


def plan_record(plan: Plan, files: dict[str, JobFiles], **about: str) -> PlanRecord:
    """plan.json of `plan` (`about`: run, config_hash, profile, executor, runtime)."""
    experiments = {
        name: {k: v for k, v in as_plain(exp).items() if k != "source"} for name, exp in plan.experiments.items()
    }
    jobs = {
        job_id: JobRecord(
            stage=j.stage,
            key=j.key,
            image=j.image,
            deps=j.deps,
            array=j.array,
            output_dir=j.output_dir,
            runs=j.runs,
            script=str(files[job_id].script),
            spec=str(files[job_id].spec),
            name=files[job_id].name,
            resources=j.resources,
        )
        for job_id, j in plan.jobs.items()
    }
    hashes = {name: config_hash(exp) for name, exp in plan.experiments.items()}  # provenance's too
    return PlanRecord(jobs, plan.runs, experiments, hashes, **about)


def read_json(path: Path) -> dict:
    try:
        return json.loads(Path(path).read_text())
    except FileNotFoundError:
        return {}


def find_run_dir(path: Path) -> Path:
    """A run folder named on the command line: as given (relative to the working directory), else relative to the
    project root (`jobs/phoenix`, where submit writes it from any directory), else a run name under jobs/."""
    for candidate in (Path(path), PROJECT_ROOT / path, PROJECT_ROOT / "jobs" / path):
        if candidate.is_dir():
            return candidate
    raise UserError(
        f"{path}: no such run folder here, in {PROJECT_ROOT} or in {PROJECT_ROOT / 'jobs'} (submit writes runs "
        f"to jobs/<run>/ in the project unless given --jobs-dir)"
    )


def load_run(run_dir: Path) -> tuple[PlanRecord, Submission]:
    """(plan.json, submission.json) of a run folder."""
    run_dir = Path(run_dir)
    plan = read_plan(run_dir / "plan.json")
    if plan is None:
        raise UserError(f"{run_dir}: no plan.json here; expected a folder written by pipeline.submit (jobs/<run>)")
    return plan, read_submission(run_dir / "submission.json")


def save_submission(run_dir: Path, record: Submission) -> None:
    record.updated = time.time()
    write_json(Path(run_dir) / "submission.json", as_plain(record))


def log_path(pattern_dir: Path, job_name: str, job_id: str, task: int | None) -> Path:
    """The log file of one job (task), as SLURM names it from %x-%j / %x-%A_%a."""
    if task is None:
        return Path(pattern_dir) / f"{job_name}-{job_id}.out"
    return Path(pattern_dir) / f"{job_name}-{job_id}_{task}.out"


def tail(path: Path, lines: int = 15) -> str:
    try:
        return "\n".join(Path(path).read_text(errors="replace").splitlines()[-lines:])
    except FileNotFoundError:
        return f"(no log at {path})"


def jobs_to_run(plan: PlanRecord, record: Submission) -> Iterator[tuple[str, JobRecord, list[int]]]:
    """(job id, job, missing tasks) in dependency order for every job not complete; complete jobs are recorded
    as COMPLETED (skipped) in `record` and announced."""
    for job_id in plan.order():
        job = plan.jobs[job_id]
        tasks = job.missing_tasks()
        if tasks:
            yield job_id, job, tasks
        else:
            state = record.entry(job_id)
            state.state, state.skipped = "COMPLETED", True
            print(f"  {job_id}: complete, skipped", flush=True)
