"""The local executor: runs a run's sbatch scripts with bash, in dependency order, on this machine.

Array tasks run one after another with SLURM_ARRAY_TASK_ID/COUNT set, logs go to the same paths SLURM would use
(job id "local"), and the first failure stops the run with the stage, its log and the log's last lines.
"""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

from pipeline.rundir import jobs_to_run, log_path, save_submission, tail, topological


def run_local(run_dir: Path, plan: dict, record: dict, env: dict | None = None) -> bool:
    """Run every job of `plan` (plan.json form) not yet complete. Returns True when all finished."""
    states = record.setdefault("jobs", {})
    for job_id, job, tasks in jobs_to_run(plan, states):
        started = time.time()
        for task in tasks:
            log = log_path(run_dir / "logs", job["name"], "local", task if job["array"] else None)
            log.parent.mkdir(parents=True, exist_ok=True)
            task_env = {**os.environ, **(env or {}), "SLURM_JOB_NAME": job["name"], "SLURM_JOB_ID": "local"}
            label = job_id
            if job["array"]:
                task_env.update(
                    SLURM_ARRAY_TASK_ID=str(task), SLURM_ARRAY_TASK_COUNT=str(job["array"]), SLURM_ARRAY_JOB_ID="local"
                )
                label += f" task {task + 1}/{job['array']}"
            print(f"  {label}: running (log {log})", flush=True)
            states[job_id] = {"state": "RUNNING", "log": str(log), "started": started}
            save_submission(run_dir, record)
            with open(log, "a") as handle:
                code = subprocess.run(
                    ["bash", job["script"]],
                    stdout=handle,
                    stderr=subprocess.STDOUT,
                    env=task_env,
                    stdin=subprocess.DEVNULL,
                ).returncode
            if code != 0:
                states[job_id] = {
                    "state": "FAILED",
                    "log": str(log),
                    "exit_code": code,
                    "task": task,
                    "started": started,
                    "ended": time.time(),
                }
                order = topological(plan["jobs"])
                for later in order[order.index(job_id) + 1 :]:
                    states[later] = {"state": "CANCELLED", "reason": f"{job_id} failed"}
                save_submission(run_dir, record)
                print(f"\nFAILED: {label} exited with {code}. Log: {log}\n--- last lines ---\n{tail(log)}", flush=True)
                return False
        states[job_id] = {"state": "COMPLETED", "log": str(log), "started": started, "ended": time.time()}
        save_submission(run_dir, record)
    return True
