"""One submit of a run at a time: a second submit of a run that a live submit holds stops in one line (exit 2),
two submits started together run the stages once, and a lock whose holder ended is taken over with one line."""

import fcntl
import json
import os
import subprocess
import sys

import pytest

from conftest import PROJECT, needs_mediapipe, submit


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
