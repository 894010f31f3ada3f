"""One submit of a run at a time: a second submit of a run that a live submit holds stops in one line (exit 2),
two submits started together run the stages once, and a lock whose holder ended is taken over with one line.
On SLURM (stand-in commands, no cluster; tests/test_slurm.py has the real one) the run's queued or running jobs
hold it: a second submit stops in one line and writes nothing, --take-over cancels exactly those jobs and submits
anew, and jobs that ended let the resubmission go on."""

import fcntl
import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from pipeline.run_lock import when

from conftest import PROJECT, files_of, live_jobs_refusal, needs_mediapipe, plan_of, submit


def submit_process(config: str, tmp_path, *extra: str) -> subprocess.Popen:
    argv = [sys.executable, "-m", "pipeline.submit", config, "--jobs-dir", str(tmp_path / "jobs")]
    argv += ["--profile-set", f"data_dir={tmp_path / 'data'}", "--profile-set", f"cache_dir={tmp_path / 'cache'}"]
    argv += ["--set", f"dataset.root={tmp_path / 'datasets' / 'sample'}", "--until", "prepare", *extra]
    return subprocess.Popen(argv, cwd=PROJECT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


@pytest.mark.parametrize(
    "config, run", [("config/smoke.yaml", "smoke"), ("config/sweeps/smoke_repeatability.yaml", "smoke_repeatability")]
)
def test_a_second_submit_of_a_held_run_stops_in_one_line_and_runs_once_released(tmp_path, config, run):
    lock = tmp_path / "jobs" / run / ".submit.lock"
    lock.parent.mkdir(parents=True)
    with open(lock, "a+") as handle:  # a live submit holding the run
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        handle.write(json.dumps({"pid": os.getpid(), "host": "login1", "since": 0}))
        handle.flush()
        proc = submit(config, tmp_path, "--until", "prepare")
        assert proc.returncode == 2, proc.stdout + proc.stderr
        lines = proc.stderr.strip().splitlines()
        assert len(lines) == 1 and f"run {run}: another submit holds it (pid {os.getpid()} on login1" in lines[0]
        assert "python -m pipeline.status" in lines[0] and not (tmp_path / "jobs" / run / "plan.json").exists()
        handle.seek(0)
        handle.truncate()
    proc = submit(config, tmp_path, "--until", "prepare")
    assert proc.returncode == 0 and "took over" not in proc.stdout, proc.stdout + proc.stderr
    assert lock.read_text() == ""  # released in order


def test_a_lock_left_by_a_killed_submit_is_taken_over_with_one_line(tmp_path):
    lock = tmp_path / "jobs" / "smoke" / ".submit.lock"
    lock.parent.mkdir(parents=True)
    lock.write_text(json.dumps({"pid": 999999, "host": "login1", "since": 0}))  # no process holds the flock
    proc = submit("config/smoke.yaml", tmp_path, "--until", "prepare")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "note: run smoke: took over the lock of a submit that ended (pid 999999 on login1" in proc.stdout


@needs_mediapipe
def test_two_submits_started_together_run_the_stages_once(tmp_path):
    first, second = (submit_process("config/smoke.yaml", tmp_path) for _ in range(2))
    results = [(p.wait(timeout=600), p.stdout.read(), p.stderr.read()) for p in (first, second)]
    ran = [out.count("prepare/") and ": running (log" in out for _, out, _ in results]
    assert sum(bool(r) for r in ran) == 1, results  # exactly one ran prepare
    for code, out, err in results:
        # the other was refused while the first held the run, or came after it and found prepare complete
        assert (code == 0 and ("complete, skipped" in out or ": running (log" in out)) or (
            code == 2 and "another submit holds it" in err
        ), (code, out, err)


# The SLURM half, with stand-ins for sbatch, scontrol, squeue and scancel that keep the queue in slurm.json: a submit
# ends once its jobs are queued, and those jobs hold the run until they end.
FAKE_SLURM = r"""#!/usr/bin/env python3
import json, pathlib, sys
state = pathlib.Path(__file__).parent / "slurm.json"
queue = json.loads(state.read_text()) if state.exists() else {"next": 101, "jobs": {}, "calls": []}
command, args = pathlib.Path(sys.argv[0]).name, sys.argv[1:]
queue["calls"].append([command, *args])
ACTIVE = {"PENDING", "RUNNING", "COMPLETING"}
if command == "sbatch":
    job = str(queue["next"])
    queue["next"] += 1
    queue["jobs"][job] = ["PENDING"]
    print(job)
elif command == "scontrol":  # scontrol show job -o ID: one line per (array) task
    if args[-1] not in queue["jobs"]:
        print("slurm_load_jobs error: Invalid job id specified", file=sys.stderr)
        state.write_text(json.dumps(queue))
        sys.exit(1)
    for task, s in enumerate(queue["jobs"][args[-1]]):
        print(f"JobId={int(args[-1]) + task} ArrayJobId={args[-1]} ArrayTaskId={task} JobState={s}")
elif command == "squeue":  # squeue -h -j IDS -o "%F %T": queued and running jobs only
    for job in args[args.index("-j") + 1].split(","):
        for s in queue["jobs"].get(job, []):
            if s in ACTIVE:
                print(job, s)
elif command == "scancel":
    for job in args:
        queue["jobs"][job] = ["CANCELLED" if s in ACTIVE else s for s in queue["jobs"][job]]
state.write_text(json.dumps(queue))
"""


class FakeSlurm:
    def __init__(self, folder):
        folder.mkdir(parents=True)
        for command in ("sbatch", "scontrol", "squeue", "scancel"):
            (folder / command).write_text(FAKE_SLURM)
            (folder / command).chmod(0o755)
        self.state = folder / "slurm.json"
        self.env = {"PATH": f"{folder}{os.pathsep}{os.environ['PATH']}"}

    def queue(self) -> dict:
        return json.loads(self.state.read_text())

    def set(self, **states) -> None:  # job id -> the states of its tasks, or None: SLURM forgot it
        queue = self.queue()
        for job, tasks in states.items():
            if tasks is None:
                queue["jobs"].pop(job[1:])
            else:
                queue["jobs"][job[1:]] = tasks
        self.state.write_text(json.dumps(queue))

    def calls(self, command: str) -> list[list[str]]:
        return [c[1:] for c in self.queue()["calls"] if c[0] == command]


def slurm_submit(config: str, tmp_path, fake: FakeSlurm, *extra: str) -> subprocess.CompletedProcess:
    return submit(config, tmp_path, "--profile", "local-slurm", "--runtime", "host", *extra, env=fake.env)


def first_submit(tmp_path, config="config/smoke.yaml", run="smoke", until="preprocess"):
    fake = FakeSlurm(tmp_path / "bin")
    proc = slurm_submit(config, tmp_path, fake, "--until", until)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    record = json.loads((tmp_path / "jobs" / run / "submission.json").read_text())
    assert record["pid"] > 0 and record["host"] == socket.gethostname()  # who submitted the jobs
    return fake, record


@pytest.mark.parametrize(
    "config, run, until, jobs",
    [
        (
            "config/smoke.yaml",
            "smoke",
            "preprocess",
            "101 (prepare) RUNNING, 102 (estimate) RUNNING, 103 (preprocess) PENDING",
        ),
        (
            "config/sweeps/smoke_repeatability.yaml",
            "smoke_repeatability",
            "train",
            "101 (prepare) RUNNING, 102 (estimate) RUNNING, 103 (preprocess) PENDING, 104 (train) PENDING, "
            "105 (train) PENDING, 106 (train) PENDING",
        ),
    ],
)
def test_a_second_submit_while_its_slurm_jobs_are_queued_stops_in_one_line_and_writes_nothing(
    tmp_path, config, run, until, jobs
):
    fake, record = first_submit(tmp_path, config, run, until)
    fake.set(_101=["RUNNING"], _102=["FAILED", "RUNNING"])  # an array with a failed task and a running one
    run_dir = tmp_path / "jobs" / run
    before = files_of(run_dir)
    proc = slurm_submit(config, tmp_path, fake, "--until", until)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert proc.stderr.splitlines() == [live_jobs_refusal(run, run_dir, jobs, record)]
    assert files_of(run_dir) == before  # plan.json, submission.json, scripts and specs as they were
    assert len(fake.calls("sbatch")) == len(jobs.split(", ")) and not fake.calls("scancel")
    dry = slurm_submit(config, tmp_path, fake, "--until", until, "--dry-run", "--quiet")  # never refused
    assert dry.returncode == 0, dry.stdout + dry.stderr
    assert f"note: a submit now would stop: run {run}: its SLURM jobs are still queued or running: {jobs}" in dry.stdout
    assert files_of(run_dir) == before and not fake.calls("scancel")


def test_take_over_cancels_exactly_the_live_jobs_then_submits_anew(tmp_path):
    fake, record = first_submit(tmp_path)
    plan = plan_of(tmp_path, "smoke")
    prepare = plan["runs"]["smoke"]["prepare"]
    Path(plan["jobs"][prepare]["output_dir"]).mkdir(parents=True)
    (Path(plan["jobs"][prepare]["output_dir"]) / ".done.json").write_text("{}")  # prepare ran to completion
    fake.set(_101=["COMPLETED"], _102=["COMPLETED", "RUNNING"])
    proc = slurm_submit("config/smoke.yaml", tmp_path, fake, "--until", "preprocess", "--take-over")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert fake.calls("scancel") == [["102", "103"]]
    assert (
        f"note: run smoke: --take-over: cancelled its SLURM jobs 102 (estimate) RUNNING, 103 (preprocess) PENDING "
        f"(submitted by pid {record['pid']} on {record['host']} at {when(record['submitted'])})\n" in proc.stdout
    )
    assert f"{prepare}: complete, skipped" in proc.stdout
    again = json.loads((tmp_path / "jobs" / "smoke" / "submission.json").read_text())
    estimate, preprocess = (plan["runs"]["smoke"][s] for s in ("estimate", "preprocess"))
    assert [c[-1] for c in fake.calls("sbatch")[3:]] == [
        plan["jobs"][estimate]["script"],
        plan["jobs"][preprocess]["script"],
    ]
    assert again["jobs"][estimate]["slurm_id"] == "104" and again["jobs"][estimate]["history"] == ["102"]
    assert again["jobs"][preprocess]["slurm_id"] == "105" and "--dependency=afterok:104" in fake.calls("sbatch")[4]
    assert again["pid"] != record["pid"]  # the new jobs are the take-over's


def test_jobs_that_ended_or_that_slurm_forgot_let_the_resubmit_go_on(tmp_path):
    fake, _ = first_submit(tmp_path)
    fake.set(_101=["FAILED"], _102=["COMPLETED", "CANCELLED"], _103=None)
    proc = slurm_submit("config/smoke.yaml", tmp_path, fake, "--until", "preprocess")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert not fake.calls("scancel") and "--take-over" not in proc.stdout + proc.stderr
    assert len(fake.calls("sbatch")) == 6 and proc.stdout.count("submitted as job") == 3
    history = [
        s["history"] for s in json.loads((tmp_path / "jobs" / "smoke" / "submission.json").read_text())["jobs"].values()
    ]
    assert sorted(history) == [["101"], ["102"], ["103"]]
