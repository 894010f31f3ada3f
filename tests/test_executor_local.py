"""The local executor: dependency order, array tasks, stop at the first failure, resume what is missing."""

import json
from pathlib import Path

from pipeline.executor_local import run_local
from pipeline.run_records import JobRecord, PlanRecord, Submission
from pipeline.stage_registry import Resources


def make_run(tmp_path: Path, fail_task: int | None = None) -> tuple[Path, PlanRecord]:
    """Three jobs c <- b (array of 2) <- a, in scrambled order; each script logs itself and writes its marker."""
    run_dir, trace = tmp_path / "run", tmp_path / "trace.txt"
    (run_dir / "logs").mkdir(parents=True, exist_ok=True)
    jobs = {}
    for name, deps, array in (("c", ["b"], 0), ("a", [], 0), ("b", ["a"], 2)):
        out = tmp_path / "out" / name
        marker = f'"{out}/.done.shard-${{SLURM_ARRAY_TASK_ID}}-of-{array}.json"' if array else f'"{out}/.done.json"'
        fail = ""
        if name == "b" and fail_task is not None:
            fail = (
                f'[ "$SLURM_ARRAY_TASK_ID" = "{fail_task}" ] && '
                f'{{ echo "boom in task $SLURM_ARRAY_TASK_ID"; exit 7; }}\n'
            )
        script = run_dir / f"{name}.sbatch"
        script.write_text(
            f'#!/bin/bash\nset -euo pipefail\n{fail}echo "{name}${{SLURM_ARRAY_TASK_ID:-}}" >> "{trace}"\n'
            f'mkdir -p "{out}" && echo {{}} > {marker}\n'
        )
        stage = "prepare" if name == "a" else "estimate" if name == "b" else "train"
        jobs[name] = JobRecord(
            stage, name, "trainer", deps, array, str(out), ["r"], str(script), "", f"job-{name}", Resources()
        )
    return run_dir, PlanRecord(jobs)


def test_topological_order_puts_dependencies_first():
    _, plan = make_run(Path("/tmp/unused-plan"))
    assert plan.order() == ["a", "b", "c"]


def test_runs_jobs_in_dependency_order_with_array_tasks_and_slurm_logs(tmp_path):
    run_dir, plan = make_run(tmp_path)
    assert run_local(run_dir, plan, Submission()) is True
    assert (tmp_path / "trace.txt").read_text().split() == ["a", "b0", "b1", "c"]
    assert (run_dir / "logs" / "job-b-local_1.out").exists() and (run_dir / "logs" / "job-c-local.out").exists()
    record = json.loads((run_dir / "submission.json").read_text())
    assert {k: v["state"] for k, v in record["jobs"].items()} == {"a": "COMPLETED", "b": "COMPLETED", "c": "COMPLETED"}


def test_failure_stops_the_run_names_stage_and_log_and_resume_reruns_only_the_failed_task(tmp_path, capsys):
    run_dir, plan = make_run(tmp_path, fail_task=1)
    record = Submission()
    assert run_local(run_dir, plan, record) is False
    assert (tmp_path / "trace.txt").read_text().split() == ["a", "b0"]
    printed = capsys.readouterr().out
    assert "FAILED: b task 2/2 exited with 7" in printed and "job-b-local_1.out" in printed
    assert "boom in task 1" in printed  # the log's last lines
    assert record.jobs["b"].state == "FAILED" and record.jobs["c"].state == "CANCELLED"

    fixed_dir, fixed_plan = make_run(tmp_path)  # same outputs, the failure removed
    assert run_local(fixed_dir, fixed_plan, Submission()) is True
    assert (tmp_path / "trace.txt").read_text().split() == ["a", "b0", "b1", "c"]
