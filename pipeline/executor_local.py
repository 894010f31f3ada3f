"""The local executor: runs a run's sbatch scripts with bash, in dependency order, on this machine.

Array tasks run one after another with SLURM_ARRAY_TASK_ID/COUNT set, logs go to the same paths SLURM would use
(job id "local"), and the first failure stops the run with the stage, its log and the log's last lines.
Ctrl-C stops the running job's whole process group (TERM, then KILL): no stage goes on alone, nothing unfinished
carries a marker, and the next submit carries on.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

from pipeline.run_records import JobState, PlanRecord, Submission
from pipeline.rundir import jobs_to_run, log_path, save_submission, tail

STOP_GRACE = 60.0  # seconds a stopped job has to save (training: a checkpoint) before it is killed


def stop_job(proc: subprocess.Popen, label: str) -> None:
    """End a job's whole process group: TERM (stages save what they can and exit without their marker), then
    KILL after STOP_GRACE seconds. Nothing of it runs on after this returns."""
    print(f"\n  {label}: interrupted; stopping it (every process of the job)", flush=True)
    try:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=STOP_GRACE)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    except ProcessLookupError:
        pass
    try:  # stragglers that outlived bash (pool workers)
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def run_local(run_dir: Path, plan: PlanRecord, record: Submission, env: dict | None = None) -> bool:
    """Run every job of `plan` not yet complete, keeping `record` (submission.json) up to date. Returns True when
    all finished."""
    states = record.jobs
    for job_id, job, tasks in jobs_to_run(plan, record):
        started = time.time()
        for task in tasks:
            log = log_path(run_dir / "logs", job.name, "local", task if job.array else None)
            log.parent.mkdir(parents=True, exist_ok=True)
            task_env = {**os.environ, **(env or {}), "SLURM_JOB_NAME": job.name, "SLURM_JOB_ID": "local"}
            label = job_id
            if job.array:
                task_env.update(
                    SLURM_ARRAY_TASK_ID=str(task), SLURM_ARRAY_TASK_COUNT=str(job.array), SLURM_ARRAY_JOB_ID="local"
                )
                label += f" task {task + 1}/{job.array}"
            print(f"  {label}: running (log {log})", flush=True)
            states[job_id] = JobState("RUNNING", log=str(log), started=started)
            save_submission(run_dir, record)
            with open(log, "a") as handle:
                # its own process group: on Ctrl-C (or TERM) here, the whole job is stopped, not only bash
                proc = subprocess.Popen(
                    ["bash", job.script],
                    stdout=handle,
                    stderr=subprocess.STDOUT,
                    env=task_env,
                    stdin=subprocess.DEVNULL,
                    start_new_session=True,
                )
                try:
                    code = proc.wait()
                except BaseException:  # KeyboardInterrupt, SystemExit from a signal handler
                    stop_job(proc, label)
                    states[job_id] = JobState("CANCELLED", reason="interrupted", log=str(log))
                    save_submission(run_dir, record)
                    raise
            if code != 0:
                states[job_id] = JobState(
                    "FAILED", log=str(log), exit_code=code, task=task, started=started, ended=time.time()
                )
                order = plan.order()
                for later in order[order.index(job_id) + 1 :]:
                    states[later] = JobState("CANCELLED", reason=f"{job_id} failed")
                save_submission(run_dir, record)
                print(f"\nFAILED: {label} exited with {code}. Log: {log}\n--- last lines ---\n{tail(log)}", flush=True)
                return False
        states[job_id] = JobState("COMPLETED", log=str(log), started=started, ended=time.time())
        save_submission(run_dir, record)
    return True
