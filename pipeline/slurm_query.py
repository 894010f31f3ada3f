"""Asking SLURM what state jobs are in: `scontrol show job -o` (works without accounting/slurmdbd while the job
is younger than MinJobAge), with `squeue` as a fallback. An array job's state is the most pressing of its tasks'.
"""

from __future__ import annotations

import re
import shutil
import subprocess

ACTIVE = {"PENDING", "RUNNING", "CONFIGURING", "COMPLETING", "REQUEUED", "RESIZING", "SUSPENDED"}
FAILED = {"FAILED", "CANCELLED", "TIMEOUT", "NODE_FAIL", "OUT_OF_MEMORY", "PREEMPTED", "BOOT_FAIL", "DEADLINE"}
# which task state speaks for an array: failures first, then activity, then success
_PRIORITY = [
    "FAILED",
    "OUT_OF_MEMORY",
    "TIMEOUT",
    "NODE_FAIL",
    "CANCELLED",
    "PREEMPTED",
    "RUNNING",
    "COMPLETING",
    "CONFIGURING",
    "PENDING",
    "REQUEUED",
    "SUSPENDED",
    "COMPLETED",
]


def parse_scontrol(text: str) -> dict[str, list[dict]]:
    """`scontrol show job -o` output → base job id -> list of records (one per array task)."""
    out: dict[str, list[dict]] = {}
    for line in text.splitlines():
        fields = dict(re.findall(r"(\w+)=(\S*)", line))
        if "JobId" not in fields:
            continue
        base = fields.get("ArrayJobId") or fields["JobId"]
        out.setdefault(base, []).append(fields)
    return out


def aggregate(states: list[str]) -> str:
    for state in _PRIORITY:
        if state in states:
            return state
    return states[0] if states else "UNKNOWN"


def query_records(ids: list[str]) -> dict[str, list[dict]]:
    """Per job id the scontrol records of the job (or its array tasks); jobs SLURM forgot are absent."""
    if not ids or shutil.which("scontrol") is None:
        return {}
    records: dict[str, list[dict]] = {}
    for job_id in ids:
        proc = subprocess.run(["scontrol", "show", "job", "-o", job_id], capture_output=True, text=True)
        if proc.returncode == 0:
            records.update(parse_scontrol(proc.stdout))
    return records


def task_states(ids: list[str]) -> dict[str, list[str]]:
    """Per job id the states of the job (or of its array tasks): scontrol, else squeue; jobs SLURM forgot are
    absent."""
    records = query_records(ids)
    states = {jid: [r.get("JobState", "UNKNOWN") for r in recs] for jid, recs in records.items()}
    missing = [i for i in ids if i not in states]
    if missing and shutil.which("squeue"):
        proc = subprocess.run(["squeue", "-h", "-j", ",".join(missing), "-o", "%F %T"], capture_output=True, text=True)
        for line in proc.stdout.splitlines():
            parts = line.split()
            if len(parts) == 2:
                states.setdefault(parts[0], []).append(parts[1])
    return states


def query_states(ids: list[str]) -> dict[str, str]:
    return {jid: aggregate(states) for jid, states in task_states(ids).items()}


def active_states(ids: list[str]) -> dict[str, str]:
    """The jobs among `ids` with a task still queued or running, each with the most pressing of those tasks' states
    (an array with a failed task and a running one is still running)."""
    return {
        jid: aggregate([s for s in states if s in ACTIVE])
        for jid, states in task_states(ids).items()
        if any(s in ACTIVE for s in states)
    }
