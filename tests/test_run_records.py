"""A run folder's records (plan.json, submission.json) are read typed: what submit writes reads back the same, and a
record that is not what pipeline/run_records.py says stops `pipeline.status` in one line naming the file and key."""

import json
import subprocess
import sys

import pytest

from pipeline.errors import UserError
from pipeline.keys import as_plain
from pipeline.run_records import JobRecord, JobState, PlanRecord, Submission, read_plan, read_submission
from pipeline.rundir import load_run, save_submission
from pipeline.stage_registry import Resources

from conftest import PROJECT


def write_run(folder, tmp_path) -> PlanRecord:
    out = tmp_path / "data" / "prepare" / "k"
    job = JobRecord("prepare", [], 0, str(out), str(folder / "prepare.sbatch"), "prepare-k", "k", "trainer")
    job.resources, job.runs = Resources(cpus=2), ["r"]
    plan = PlanRecord({"prepare/k": job}, {"r": {"prepare": "prepare/k"}}, {"r": {"name": "r"}}, {"r": "abc"}, "r")
    folder.mkdir(parents=True)
    (folder / "plan.json").write_text(json.dumps(as_plain(plan)))
    return plan


def test_records_read_back_as_written(tmp_path):
    folder = tmp_path / "jobs" / "r"
    plan = write_run(folder, tmp_path)
    record = Submission(run="r", executor="local")
    record.jobs["prepare/k"] = JobState("FAILED", log="x.out", exit_code=3, task=None)
    save_submission(folder, record)
    read, submitted = load_run(folder)
    assert read == plan and read.jobs["prepare/k"].resources == Resources(cpus=2)
    assert submitted.jobs["prepare/k"] == record.jobs["prepare/k"] and submitted.updated is not None
    assert read_submission(folder / "absent.json") == Submission() and read_plan(folder / "absent.json") is None
    assert not read.jobs["prepare/k"].complete and read.jobs["prepare/k"].missing_tasks() == [0]


@pytest.mark.parametrize(
    "change, message",
    [
        (lambda p: p["jobs"]["prepare/k"].update(array="two"), "plan.json: jobs.prepare/k.array: expected an integer"),
        (lambda p: p["jobs"]["prepare/k"].update(colour=1), "plan.json: jobs.prepare/k.colour: unknown key"),
        (lambda p: p["jobs"]["prepare/k"].pop("script"), "plan.json: jobs.prepare/k.script: required key is missing"),
    ],
)
def test_a_damaged_plan_stops_status_in_one_line_naming_file_and_key(tmp_path, change, message):
    folder = tmp_path / "jobs" / "r"
    write_run(folder, tmp_path)
    data = json.loads((folder / "plan.json").read_text())
    change(data)
    (folder / "plan.json").write_text(json.dumps(data))
    with pytest.raises(UserError, match=message.replace("/", "/")):
        load_run(folder)
    proc = subprocess.run(
        [sys.executable, "-m", "pipeline.status", str(folder)], cwd=PROJECT, capture_output=True, text=True
    )
    assert proc.returncode == 2 and len(proc.stderr.strip().splitlines()) == 1, proc.stderr
    assert message in proc.stderr and str(folder / "plan.json") in proc.stderr


def test_a_submission_cut_short_says_so(tmp_path):
    folder = tmp_path / "jobs" / "r"
    write_run(folder, tmp_path)
    (folder / "submission.json").write_text('{"jobs": {"prepare/k": {"state": "RUNN')
    with pytest.raises(UserError, match=r"submission.json: not valid JSON .*submit the run again"):
        load_run(folder)
