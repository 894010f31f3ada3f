"""A run folder's records (plan.json, submission.json) are read typed: what submit writes reads back the same, a
record that is not what pipeline/run_records.py says stops `pipeline.status` in one line naming the file, the key
and what to do, and keys a newer version wrote are left out with a note."""

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
    job = JobRecord(
        "prepare", "k", "trainer", [], 0, str(out), ["r"], str(folder / "prepare.sbatch"), "", "prepare-k", Resources()
    )
    job.resources = Resources(cpus=2)
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


def set_key(*path):
    def change(data):
        for key in path[:-2]:
            data = data[key]
        data[path[-2]] = path[-1]

    return change


@pytest.mark.parametrize(
    "change, message",
    [
        (set_key("jobs", "prepare/k", "array", "two"), "plan.json: jobs.prepare/k.array: expected an integer"),
        (set_key("jobs", "prepare/k", "deps", "ab"), "plan.json: jobs.prepare/k.deps: expected a list"),
        (set_key("jobs", "prepare/k", "deps", ["train/x"]), "jobs.prepare/k.deps: 'train/x' is no job of this plan"),
        (set_key("jobs", "prepare/k", "stage", "paint"), "jobs.prepare/k.stage: 'paint' is no stage"),
        (set_key("runs", "r", "prepare", "prepare/y"), "runs.r.prepare: 'prepare/y' is no job of this plan"),
        (set_key("runs", "x"), "plan.json: runs: expected a mapping"),
        (lambda p: p["jobs"]["prepare/k"].pop("spec"), "plan.json: jobs.prepare/k.spec: required key is missing"),
    ],
)
def test_a_damaged_plan_stops_status_in_one_line_naming_file_key_and_remedy(tmp_path, change, message):
    folder = tmp_path / "jobs" / "r"
    write_run(folder, tmp_path)
    data = json.loads((folder / "plan.json").read_text())
    change(data)
    (folder / "plan.json").write_text(json.dumps(data))
    with pytest.raises(UserError, match="submit the run again to rewrite it"):
        load_run(folder)
    proc = subprocess.run(
        [sys.executable, "-m", "pipeline.status", str(folder)], cwd=PROJECT, capture_output=True, text=True
    )
    assert proc.returncode == 2 and len(proc.stderr.strip().splitlines()) == 1, proc.stderr
    assert message in proc.stderr and str(folder / "plan.json") in proc.stderr


@pytest.mark.parametrize(
    "text, message",
    [
        ('{"jobs": {"prepare/k": {"state": "RUNN', "submission.json: not valid JSON"),
        ('{"jobs": {"prepare/k": {"history": null}}}', "jobs.prepare/k.history: expected a list, got None"),
        ('{"jobs": {"prepare/k": {"tasks": "0,1"}}}', "jobs.prepare/k.tasks: expected a list"),
    ],
)
def test_a_damaged_submission_says_how_to_go_on(tmp_path, text, message):
    folder = tmp_path / "jobs" / "r"
    write_run(folder, tmp_path)
    (folder / "submission.json").write_text(text)
    with pytest.raises(UserError, match=message) as caught:
        load_run(folder)
    assert "move it aside and submit again" in str(caught.value) and "squeue --me" in str(caught.value)


def test_keys_a_newer_version_wrote_are_left_out_with_a_note(tmp_path, capsys):
    folder = tmp_path / "jobs" / "r"
    write_run(folder, tmp_path)
    (folder / "submission.json").write_text('{"executor": "slurm", "colour": 1, "jobs": {"prepare/k": {"x": 2}}}')
    _, record = load_run(folder)
    assert record.executor == "slurm" and record.jobs["prepare/k"] == JobState()
    assert (
        "left out keys this version of the pipeline does not know (colour, jobs.prepare/k.x)" in capsys.readouterr().err
    )
