"""The SLURM executor: `sbatch --parsable` each job in dependency order, chained with afterok.

`--kill-on-invalid-dep=yes` makes SLURM cancel a job whose dependency failed instead of leaving it PENDING
(DependencyNeverSatisfied) forever. Resubmitting a run skips complete jobs and for an array resubmits only the
tasks whose shard marker is missing. A submit stops before it gets here while the run's jobs are still queued or
running, or cancels them first with --take-over (pipeline/run_lock.py); a job found active all the same (requeued
by hand in between) is kept, not submitted twice.

`max_parallel` N (a sweep's `max_parallel`, or `submit --max-parallel`) puts the sweep's train jobs into N lanes:
train job i also waits (`afterany`) for train job i - N, so each lane runs one train job at a time and no more
than N run at once, whatever the queue does. Dependencies rather than an array throttle (`%N`): every train job
keeps its own readable script and spec and can be resubmitted alone.
"""

from __future__ import annotations

import shlex
import shutil
import subprocess
import time
from pathlib import Path

from pipeline.errors import UserError
from pipeline.run_records import JobState, PlanRecord, Submission
from pipeline.rundir import jobs_to_run, save_submission
from pipeline.slurm_query import ACTIVE, query_states
from pipeline.stage_registry import STAGE


def sbatch_argv(script: str, dependency: list[str], array: list[int] | None, after_any: str | None = None) -> list[str]:
    """The sbatch command line of one job: after the jobs `dependency` (ids), in the lane of `after_any`."""
    cmd = ["sbatch", "--parsable", "--kill-on-invalid-dep=yes"]
    conditions = (["afterok:" + ":".join(dependency)] if dependency else []) + (
        [f"afterany:{after_any}"] if after_any else []
    )
    if conditions:
        cmd.append("--dependency=" + ",".join(conditions))  # "," = all of them
    if array is not None:
        cmd.append("--array=" + ",".join(str(t) for t in array))
    cmd.append(script)
    return cmd


def sbatch(script: str, dependency: list[str], array: list[int] | None, after_any: str | None = None) -> str:
    cmd = sbatch_argv(script, dependency, array, after_any)
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        raise UserError(
            f"sbatch refused {script}: {proc.stderr.strip()} (fix the profile's resources or GPU "
            f"options, then resubmit)"
        )
    return proc.stdout.strip().split(";")[0]


def submit_slurm(
    run_dir: Path, plan: PlanRecord, record: Submission, max_parallel: int | None = None
) -> dict[str, str]:
    """Submit what is not complete and not already queued; returns job id -> SLURM id of this submission.
    With `max_parallel`, at most that many train jobs run at once (lanes of afterany dependencies)."""
    if shutil.which("sbatch") is None:
        raise UserError(
            "sbatch not found: this machine has no SLURM client; use --executor local, or submit from a login node"
        )
    states = record.jobs
    previous = {jid: s.slurm_id for jid, s in states.items() if s.slurm_id}
    live = query_states(list(previous.values()))
    submitted: dict[str, str] = {}
    trains: list[str] = []  # SLURM ids of this submission's train jobs, in order: lane i % N
    for job_id, job, tasks in jobs_to_run(plan, record):
        old = previous.get(job_id)
        if old and live.get(old) in ACTIVE:
            submitted[job_id] = old
            if STAGE[job.stage].throttled:
                trains.append(old)
            print(f"  {job_id}: already {live[old].lower()} as job {old}, not resubmitted", flush=True)
            continue
        deps = [submitted[d] for d in job.deps if d in submitted]
        array = tasks if job.array else None
        throttled = STAGE[job.stage].throttled
        lane = trains[-max_parallel] if throttled and max_parallel and len(trains) >= max_parallel else None
        slurm_id = sbatch(job.script, deps, array, after_any=lane)
        if throttled:
            trains.append(slurm_id)
        submitted[job_id] = slurm_id
        earlier = states.get(job_id)
        history = (earlier.history if earlier else []) + ([old] if old else [])
        states[job_id] = JobState(slurm_id=slurm_id, tasks=array, submitted=time.time(), history=history)
        what = f" tasks {','.join(map(str, array))}" if array else ""
        print(
            f"  {job_id}: submitted as job {slurm_id}{what}"
            + (f" after {','.join(deps)}" if deps else "")
            + (f", in the lane of {lane}" if lane else ""),
            flush=True,
        )
        save_submission(run_dir, record)
    save_submission(run_dir, record)
    return submitted


def planned_sbatch_lines(plan: PlanRecord, max_parallel: int | None = None) -> list[str]:
    """What `submit_slurm` would run for `plan` on a first submission, as shell lines: each job's
    id kept in a variable named after its stage, the jobs after it depending on that variable."""
    counts: dict[str, int] = {}
    for job in plan.jobs.values():
        counts[job.stage] = counts.get(job.stage, 0) + 1
    names: dict[str, str] = {}
    numbered: dict[str, int] = {}
    trains: list[str] = []
    lines = []
    for job_id in plan.order():
        job = plan.jobs[job_id]
        tasks = job.missing_tasks()
        if not tasks:
            lines.append(f"# {job_id}: complete, not submitted")
            continue
        stage = job.stage
        numbered[stage] = numbered.get(stage, 0) + 1
        name = stage if counts[stage] == 1 else f"{stage}_{numbered[stage]}"
        deps = ["$" + names[d] for d in job.deps if d in names]
        throttled = STAGE[stage].throttled
        lane = trains[-max_parallel] if throttled and max_parallel and len(trains) >= max_parallel else None
        argv = sbatch_argv(job.script, deps, tasks if job.array else None, after_any=lane)
        names[job_id] = name
        if throttled:
            trains.append("$" + name)
        lines.append(f"{name}=$({' '.join(a if a.startswith('--') else shlex.quote(a) for a in argv)})")
    return lines
