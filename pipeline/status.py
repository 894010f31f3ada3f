"""`python -m pipeline.status jobs/<run> [--wait]`: per stage job id(s), state, elapsed time, log; a failed
stage's log tail.

States: see pipeline/run_state.py. `--wait` polls until nothing is pending or running and exits 1 if a stage failed.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import time
from pathlib import Path

from pipeline.errors import run_cli
from pipeline.provenance import write_provenance
from pipeline.run_state import JobRow, job_rows
from pipeline.rundir import find_run_dir, load_run, tail
from pipeline.slurm_query import ACTIVE, FAILED
from pipeline.tables import format_table


def print_rows(rows: list[JobRow], run: str) -> None:
    table = [("stage", "job id", "state", "requeued", "elapsed", "log")]
    for r in rows:
        elapsed = f"{r.elapsed:.0f}s" if r.elapsed is not None else "-"
        table.append((r.stage, str(r.id), r.state, str(r.requeued), elapsed, r.log or "-"))
    print(f"run {run}")
    print("\n".join(format_table(table, indent="  ")))
    for r in rows:
        if r.state in FAILED and r.log:
            tasks = f" (tasks {', '.join(map(str, r.failed_tasks))})" if r.failed_tasks else ""
            print(f"\n{r.job} {r.state}{tasks}; last lines of {r.log}:\n{tail(Path(r.log))}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m pipeline.status", description=__doc__.split("\n\n")[0].split(": ", 1)[1]
    )
    parser.add_argument(
        "run_dir",
        type=Path,
        help="a run folder written by pipeline.submit, e.g. jobs/demo (from any directory: relative paths are "
        "also looked up in the project), or a run name",
    )
    parser.add_argument("--wait", action="store_true", help="poll until the run ends; exit 1 if a stage failed")
    parser.add_argument("--interval", type=float, default=10.0, help="seconds between polls with --wait")
    parser.add_argument("--json", action="store_true", help="print the rows as JSON")
    args = parser.parse_args(argv)
    args.run_dir = find_run_dir(args.run_dir)
    while True:
        plan, record = load_run(args.run_dir)
        rows = job_rows(args.run_dir, plan, record)
        active = [r for r in rows if r.state in ACTIVE]
        if not args.wait or not active:
            break
        time.sleep(args.interval)
    write_provenance(args.run_dir, plan, record)
    if args.json:
        print(json.dumps([dataclasses.asdict(r) for r in rows], indent=1))
    else:
        print_rows(rows, plan.run or args.run_dir.name)
    return 1 if any(r.state in FAILED for r in rows) else 0


if __name__ == "__main__":
    run_cli(main)
