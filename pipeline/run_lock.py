"""One submit of a run at a time: a lock on the run folder (`jobs/<run>/.submit.lock`), held by the submit that
composes, submits and (with the local executor) runs the run's jobs, and on SLURM by the jobs it submitted.

The lock is the operating system's (`flock`): it goes when its holder's process ends, however it ends, so a lock
left by a killed submit is taken over by the next one, which says so. The file records who holds it (pid, host,
since when) for the message a second submit prints: it stops with exit code 2 and one line saying what to do.
A sweep is one run folder: two submits of the same sweep exclude each other the same way.

A SLURM submit ends once its jobs are queued; its jobs then hold the run. While any of the jobs in the run's
`submission.json` is still queued or running (`scontrol`, else `squeue`: pipeline/slurm_query.py), the next submit
stops, before it writes anything, with one line naming the submit that queued them (pid, host, when), the jobs and
their states, and what to do; `--take-over` cancels those jobs (`scancel`), waits until SLURM has ended them, and
submits as usual. Jobs that ended, or that SLURM no longer knows, hold nothing: the submit resubmits what is not
complete.
"""

from __future__ import annotations

import fcntl
import json
import os
import socket
import subprocess
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from pipeline.errors import UserError
from pipeline.paths import display_path
from pipeline.run_records import Submission, read_submission
from pipeline.slurm_query import active_states

LOCK_NAME = ".submit.lock"
END_TIMEOUT = 300.0  # seconds a take-over waits for cancelled jobs to end (SLURM's KillWait is 30 s by default)


def holder_of(path: Path) -> dict:
    try:
        return json.loads(path.read_text() or "{}")
    except (OSError, ValueError):
        return {}


def when(seconds: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(seconds))


def describe(holder: dict) -> str:
    return f"pid {holder.get('pid', '?')} on {holder.get('host', '?')} since {when(holder.get('since', 0))}"


def live_slurm_jobs(run_dir: Path) -> tuple[Submission, dict[str, str]]:
    """(submission.json, SLURM id -> state of each of its jobs still queued or running, in submission order)."""
    record = read_submission(run_dir / "submission.json")
    if record.executor != "slurm":
        return record, {}
    ids = sorted({s.slurm_id for s in record.jobs.values() if s.slurm_id}, key=lambda i: (len(i), i))
    live = active_states(ids)
    return record, {i: live[i] for i in ids if i in live}


def jobs_line(record: Submission, live: dict[str, str]) -> str:
    """`101 (prepare) PENDING, 102 (estimate) RUNNING (submitted by pid 4242 on login1 at 2025-05-01 10:00:00)`"""
    stage = {s.slurm_id: job_id.split("/")[0] for job_id, s in record.jobs.items() if s.slurm_id}
    jobs = ", ".join(f"{i} ({stage.get(i, '?')}) {state}" for i, state in live.items())
    by = f"by pid {record.pid} on {record.host or '?'} " if record.pid else ""
    return f"{jobs} (submitted {by}at {when(record.submitted or 0)})"


def live_jobs_message(run_dir: Path, run: str, record: Submission, live: dict[str, str]) -> str:
    return (
        f"run {run}: its SLURM jobs are still queued or running: {jobs_line(record, live)}; wait for them to end, "
        f"follow them with `python -m pipeline.status {display_path(run_dir)}`, or submit again with --take-over "
        f"to cancel them and submit anew"
    )


def take_over_slurm_jobs(run_dir: Path, run: str, take_over: bool) -> None:
    """Stop (UserError) while the run's SLURM jobs are queued or running; with `take_over`, cancel them, say so
    in one line and wait until SLURM has ended them."""
    record, live = live_slurm_jobs(run_dir)
    if not live:
        return
    if not take_over:
        raise UserError(live_jobs_message(run_dir, run, record, live))
    proc = subprocess.run(["scancel", *live], capture_output=True, text=True)
    if proc.returncode != 0:
        raise UserError(
            f"run {run}: --take-over: scancel {' '.join(live)} failed: {proc.stderr.strip() or proc.returncode}; "
            f"cancel them by hand (scancel), then submit again"
        )
    print(f"note: run {run}: --take-over: cancelled its SLURM jobs {jobs_line(record, live)}", flush=True)
    deadline = time.monotonic() + END_TIMEOUT
    while still := active_states(list(live)):
        if time.monotonic() > deadline:
            raise UserError(
                f"run {run}: --take-over: the cancelled jobs have not ended after {END_TIMEOUT:.0f} s "
                f"({', '.join(f'{i} {s}' for i, s in still.items())}); submit again with --take-over once "
                f"`squeue -j {','.join(still)}` no longer lists them"
            )
        time.sleep(1)


@contextmanager
def run_lock(run_dir: Path, run: str, take_over: bool = False) -> Iterator[None]:
    """Hold the run's lock for the block; another live holder stops this submit in one line (UserError), and so
    do the run's SLURM jobs still queued or running, unless `take_over` (then they are cancelled first)."""
    run_dir.mkdir(parents=True, exist_ok=True)
    path = run_dir / LOCK_NAME
    with open(path, "a+") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise UserError(
                f"run {run}: another submit holds it ({describe(holder_of(path))}); wait for it, follow it with "
                f"`python -m pipeline.status {run_dir}`, or stop that process and submit again"
            ) from None
        previous = holder_of(path)
        if previous.get("pid"):  # a holder that ended without releasing: its process is gone
            print(f"note: run {run}: took over the lock of a submit that ended ({describe(previous)})", flush=True)
        handle.seek(0)
        handle.truncate()
        handle.write(json.dumps({"pid": os.getpid(), "host": socket.gethostname(), "since": time.time()}))
        handle.flush()
        try:
            take_over_slurm_jobs(run_dir, run, take_over)
            yield
        finally:
            handle.seek(0)
            handle.truncate()  # released in order: the next submit has nothing to take over
