"""`python -m pipeline.status jobs/<run> [--wait]`: per stage job id(s), state, elapsed time, log; a failed
stage's log tail.

States come from SLURM (`scontrol show job`, then `squeue`) while it knows the job, then from the stages' own
completion markers (complete → COMPLETED; ran but no marker → FAILED; never started → CANCELLED), or from the
local executor's record. `--wait` polls until nothing is pending or running and exits 1 if a stage failed.
"""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from pipeline.errors import UserError, run_cli
from pipeline.provenance import write_provenance
from pipeline.rundir import load_run, log_path, tail, topological
from pipeline.slurm_query import ACTIVE, FAILED, aggregate, query_records
from pipeline.tables import format_table
from pipeline.stages.markers import marker_paths, missing_tasks


def marker_seconds(job: dict) -> float | None:
    files = marker_paths(job["output_dir"], job["array"])
    seconds = [json.loads(f.read_text()).get("seconds", 0) for f in files if f.exists()]
    return sum(seconds) if seconds else None


def slurm_logs(run_dir: Path, job: dict, slurm_id: str, tasks: list[int] | None) -> list[Path]:
    if job["array"]:
        return [log_path(run_dir / "logs", job["name"], slurm_id, t) for t in (tasks or range(job["array"]))]
    return [log_path(run_dir / "logs", job["name"], slurm_id, None)]


REQUEUE_LINE = "saved; requeueing job"     # what a requeueing job script prints (pipeline/compose.py)


def requeues(recs: list[dict], logs: list[Path]) -> int:
    """How often a job was requeued: SLURM's Restarts while it remembers the job, else its log's requeue lines."""
    counted = [int(r["Restarts"]) for r in recs if r.get("Restarts", "").isdigit()]
    if counted:
        return max(counted)
    return sum(p.read_text(errors="replace").count(REQUEUE_LINE) for p in logs if p.exists())


def job_rows(run_dir: Path, plan: dict, record: dict) -> list[dict]:
    states = record.get("jobs", {})
    ids = [s["slurm_id"] for s in states.values() if s.get("slurm_id")]
    records = query_records(ids) if record.get("executor") == "slurm" else {}
    rows = []
    for job_id in topological(plan["jobs"]):
        job, info = plan["jobs"][job_id], states.get(job_id, {})
        complete = not missing_tasks(job["output_dir"], job["array"])
        row = {"job": job_id, "stage": job["stage"], "id": info.get("slurm_id", "-"), "log": info.get("log"),
               "elapsed": marker_seconds(job), "failed_tasks": [], "requeued": 0}
        if record.get("executor") == "slurm" and info.get("slurm_id"):
            recs = records.get(info["slurm_id"], [])
            logs = slurm_logs(run_dir, job, info["slurm_id"], info.get("tasks"))
            row["log"] = str(logs[0]) if len(logs) == 1 else str(logs[0].parent / f"{job['name']}-{info['slurm_id']}_*.out")
            row["requeued"] = requeues(recs, logs)
            if recs:
                row["state"] = aggregate([r.get("JobState", "UNKNOWN") for r in recs])
                row["failed_tasks"] = [r.get("ArrayTaskId") for r in recs if r.get("JobState") in FAILED]
                if row["state"] in FAILED:
                    bad = [p for p, r in zip(logs, recs) if r.get("JobState") in FAILED] or logs
                    row["log"] = str(bad[0])
            elif complete:
                row["state"] = "COMPLETED"
            else:
                ran = [p for p in logs if p.exists()]
                row["state"] = "FAILED" if ran else "CANCELLED"
                row["log"] = str(ran[0]) if ran else row["log"]
        elif complete:
            row["state"] = "COMPLETED"
        else:
            row["state"] = info.get("state", "NOT SUBMITTED")
        rows.append(row)
    return rows


def print_rows(rows: list[dict], run: str) -> None:
    table = [("stage", "job id", "state", "requeued", "elapsed", "log")]
    for r in rows:
        elapsed = f"{r['elapsed']:.0f}s" if r["elapsed"] is not None else "-"
        table.append((r["stage"], str(r["id"]), r["state"], str(r["requeued"]), elapsed, r["log"] or "-"))
    print(f"run {run}")
    print("\n".join(format_table(table, indent="  ")))
    for r in rows:
        if r["state"] in FAILED and r["log"]:
            tasks = f" (tasks {', '.join(map(str, r['failed_tasks']))})" if r["failed_tasks"] else ""
            print(f"\n{r['job']} {r['state']}{tasks}; last lines of {r['log']}:\n{tail(Path(r['log']))}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m pipeline.status", description=__doc__.split("\n\n")[0]
                                     .split(": ", 1)[1])
    parser.add_argument("run_dir", type=Path, help="a run folder written by pipeline.submit, e.g. jobs/demo")
    parser.add_argument("--wait", action="store_true", help="poll until the run ends; exit 1 if a stage failed")
    parser.add_argument("--interval", type=float, default=10.0, help="seconds between polls with --wait")
    parser.add_argument("--json", action="store_true", help="print the rows as JSON")
    args = parser.parse_args(argv)
    if not args.run_dir.is_dir():
        raise UserError(f"{args.run_dir}: no such run folder (runs are under jobs/)")
    while True:
        plan, record = load_run(args.run_dir)
        rows = job_rows(args.run_dir, plan, record)
        active = [r for r in rows if r["state"] in ACTIVE]
        if not args.wait or not active:
            break
        time.sleep(args.interval)
    write_provenance(args.run_dir, plan, record)
    if args.json:
        print(json.dumps(rows, indent=1))
    else:
        print_rows(rows, plan.get("run", args.run_dir.name))
    return 1 if any(r["state"] in FAILED for r in rows) else 0


if __name__ == "__main__":
    run_cli(main)
