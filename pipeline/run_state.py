"""The state of a run's jobs, one row per stage job: from SLURM (`scontrol show job`, then `squeue`) while it
knows the job, then from the stages' own completion markers (complete → COMPLETED; ran but no marker → FAILED;
never started → CANCELLED), or from the local executor's record. Read by `pipeline.status` and
`pipeline.summarize`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

from pipeline.run_records import JobRecord, PlanRecord, Submission
from pipeline.rundir import log_path
from pipeline.slurm_query import FAILED, aggregate, query_records
from pipeline.stages.markers import marker_paths


@dataclass
class JobRow:
    """One stage job's line in `pipeline.status`."""

    job: str  # its id, stage/key
    stage: str
    id: str  # its SLURM job id, "-" for the local executor
    state: str
    log: Optional[str]
    elapsed: Optional[float]  # seconds, from its completion markers
    failed_tasks: list[Optional[str]] = field(default_factory=list)  # the array tasks SLURM says failed
    requeued: int = 0


def marker_seconds(job: JobRecord) -> float | None:
    files = marker_paths(job.output_dir, job.array)
    seconds = [json.loads(f.read_text()).get("seconds", 0) for f in files if f.exists()]
    return sum(seconds) if seconds else None


def slurm_logs(run_dir: Path, job: JobRecord, slurm_id: str, tasks: list[int] | None) -> list[Path]:
    if job.array:
        return [log_path(run_dir / "logs", job.name, slurm_id, t) for t in (tasks or range(job.array))]
    return [log_path(run_dir / "logs", job.name, slurm_id, None)]


REQUEUE_LINE = "saved; requeueing job"  # what a requeueing job script prints (pipeline/compose.py)


def requeues(recs: list[dict], logs: list[Path]) -> int:
    """How often a job was requeued: SLURM's Restarts while it remembers the job, else its log's requeue lines."""
    counted = [int(r["Restarts"]) for r in recs if r.get("Restarts", "").isdigit()]
    if counted:
        return max(counted)
    return sum(p.read_text(errors="replace").count(REQUEUE_LINE) for p in logs if p.exists())


def job_rows(run_dir: Path, plan: PlanRecord, record: Submission) -> list[JobRow]:
    slurm = record.executor == "slurm"
    ids = [s.slurm_id for s in record.jobs.values() if s.slurm_id]
    records = query_records(ids) if slurm else {}
    rows = []
    for job_id in plan.order():
        job, info = plan.jobs[job_id], record.jobs.get(job_id)
        slurm_id = info.slurm_id if info else None
        complete = job.complete
        row = JobRow(job_id, job.stage, slurm_id or "-", "", info.log if info else None, marker_seconds(job))
        if slurm and slurm_id:
            recs = records.get(slurm_id, [])
            logs = slurm_logs(run_dir, job, slurm_id, info.tasks if info else None)
            row.log = str(logs[0]) if len(logs) == 1 else str(logs[0].parent / f"{job.name}-{slurm_id}_*.out")
            row.requeued = requeues(recs, logs)
            if recs:
                row.state = aggregate([r.get("JobState", "UNKNOWN") for r in recs])
                row.failed_tasks = [r.get("ArrayTaskId") for r in recs if r.get("JobState") in FAILED]
                if row.state in FAILED:
                    bad = [p for p, r in zip(logs, recs) if r.get("JobState") in FAILED] or logs
                    row.log = str(bad[0])
            elif complete:
                row.state = "COMPLETED"
            else:
                ran = [p for p in logs if p.exists()]
                row.state = "FAILED" if ran else "CANCELLED"
                row.log = str(ran[0]) if ran else row.log
        elif complete:
            row.state = "COMPLETED"
        else:
            row.state = (info.state if info else None) or "NOT SUBMITTED"
        rows.append(row)
    return rows
