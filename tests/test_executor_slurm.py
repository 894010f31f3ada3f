"""The SLURM executor's sbatch calls, with a stand-in `sbatch` that records its arguments (no cluster needed):
a sweep's `max_parallel` puts its train jobs into lanes of afterany dependencies. tests/test_slurm.py checks the
same on a real cluster from the scheduler's own records."""

import json
import os
import stat
from pathlib import Path

import pytest

from pipeline.errors import UserError
from pipeline.executor_slurm import submit_slurm
from pipeline.run_records import JobRecord, PlanRecord, Submission
from pipeline.stage_registry import Resources
from pipeline.sweep import load_sweep


def fake_sbatch(folder: Path) -> Path:
    """An `sbatch` that prints ids 101, 102, ... and appends its arguments to calls.jsonl."""
    folder.mkdir(parents=True, exist_ok=True)
    script = folder / "sbatch"
    script.write_text(
        "#!/usr/bin/env python3\nimport json, sys, pathlib\nlog = pathlib.Path(__file__).parent / "
        '"calls.jsonl"\nn = len(log.read_text().splitlines()) if log.exists() else 0\n'
        'log.open("a").write(json.dumps(sys.argv[1:]) + "\\n")\nprint(101 + n)\n'
    )
    script.chmod(script.stat().st_mode | stat.S_IEXEC)
    return folder / "calls.jsonl"


def sweep_plan(tmp_path: Path, points: int) -> PlanRecord:
    """prepare <- train.i <- evaluate.i for i < points."""
    deps = {"prepare/p": []}
    for i in range(points):
        deps[f"train/t{i}"] = ["prepare/p"]
        deps[f"evaluate/e{i}"] = [f"train/t{i}"]
    jobs = {
        job_id: JobRecord(
            stage=job_id.split("/")[0],
            key=job_id.split("/")[1],
            image="trainer",
            deps=needs,
            array=0,
            output_dir=str(tmp_path / "out" / job_id),
            runs=["sweep"],
            script=str(tmp_path / f"{job_id}.sbatch"),
            spec="",
            name=job_id.replace("/", "-"),
            resources=Resources(),
        )
        for job_id, needs in deps.items()
    }
    return PlanRecord(jobs)


def dependency(call: list[str]) -> str:
    return next((a.split("=", 1)[1] for a in call if a.startswith("--dependency=")), "")


@pytest.mark.parametrize("max_parallel", [None, 2])
def test_max_parallel_chains_train_jobs_into_lanes(tmp_path, monkeypatch, max_parallel):
    calls = fake_sbatch(tmp_path / "bin")
    monkeypatch.setenv("PATH", f"{tmp_path / 'bin'}{os.pathsep}{os.environ['PATH']}")
    (tmp_path / "run").mkdir()
    ids = submit_slurm(tmp_path / "run", sweep_plan(tmp_path, 5), Submission(), max_parallel)
    deps = {Path(json.loads(line)[-1]).stem: dependency(json.loads(line)) for line in calls.read_text().splitlines()}
    trains = [ids[f"train/t{i}"] for i in range(5)]
    for i in range(5):
        lane = f",afterany:{trains[i - 2]}" if max_parallel and i >= 2 else ""
        assert deps[f"t{i}"] == f"afterok:{ids['prepare/p']}{lane}"
        assert deps[f"e{i}"] == f"afterok:{trains[i]}"  # evaluate jobs are not throttled


def test_max_parallel_must_be_a_positive_whole_number(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        f"sweep:\n  base: {Path(__file__).resolve().parent.parent / 'config/smoke.yaml'}\n"
        f"  repeat: 2\n  max_parallel: 0\n"
    )
    with pytest.raises(UserError, match=r"sweep.max_parallel: expected a whole number >= 1, got 0"):
        load_sweep(bad)
