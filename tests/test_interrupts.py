"""Interrupted local runs recover: Ctrl-C (SIGINT to the submit process) during estimation and during training ends
every process of the job, marks nothing unfinished as done, and the next submit completes the run; a stage that runs
out of disk stops with "disk full writing <path>" and leaves nothing half-written marked done."""

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import PROJECT, needs_mediapipe, needs_trainer, output_dir, plan_of, submit, wait_for


def start_submit(tmp_path: Path, *extra: str) -> subprocess.Popen:
    argv = [sys.executable, "-m", "pipeline.submit", "config/smoke.yaml", "--jobs-dir", str(tmp_path / "jobs")]
    argv += ["--profile-set", f"data_dir={tmp_path / 'data'}", "--profile-set", f"cache_dir={tmp_path / 'cache'}"]
    argv += ["--set", f"dataset.root={tmp_path / 'datasets' / 'sample'}", *extra]
    return subprocess.Popen(argv, cwd=PROJECT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def log_of(tmp_path: Path, stage: str) -> str:
    logs = sorted((tmp_path / "jobs" / "smoke" / "logs").glob(f"{stage}-*.out"))
    return "".join(p.read_text() for p in logs)


def processes_of(tmp_path: Path) -> list[str]:
    """Command lines of live processes that mention the test's folder (a run's stages do: their spec path)."""
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit() and int(entry) != os.getpid():
            try:
                cmdline = Path(f"/proc/{entry}/cmdline").read_bytes().replace(b"\0", b" ").decode()
            except OSError:
                continue
            if str(tmp_path) in cmdline:
                found.append(cmdline)
    return found


def interrupt_when(tmp_path: Path, stage: str, started: str) -> subprocess.CompletedProcess:
    """Start the smoke run, send SIGINT to the submit process once `stage`'s log says `started`, wait for it."""
    proc = start_submit(tmp_path)
    wait_for(lambda: started in log_of(tmp_path, stage) or proc.poll() is not None, f"{stage}: {started}")
    assert proc.poll() is None, "the run ended before it could be interrupted"
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=300)
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)


@needs_mediapipe
@needs_trainer
@pytest.mark.slow
def test_ctrl_c_during_estimation_and_training_stops_everything_and_the_rerun_completes(tmp_path):
    stopped = interrupt_when(tmp_path, "estimate", "examples in shard")
    assert stopped.returncode == 130 and "interrupted" in stopped.stderr, stopped.stdout + stopped.stderr
    assert "interrupted; stopping it" in stopped.stdout and processes_of(tmp_path) == []
    estimate = output_dir(tmp_path, "smoke", "estimate")
    assert not (estimate / ".done.shard-0-of-2.json").exists() and not list(estimate.glob(".*.tmp"))

    stopped = interrupt_when(tmp_path, "train", "pipeline.stages.mmh_train")
    assert stopped.returncode == 130, stopped.stdout + stopped.stderr
    assert processes_of(tmp_path) == [] and not (output_dir(tmp_path, "smoke", "train") / ".done.json").exists()
    assert "complete, skipped" in stopped.stdout  # prepare, finished by the first submit, was not redone

    done = submit("config/smoke.yaml", tmp_path)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    plan = plan_of(tmp_path, "smoke")
    assert all((Path(j["output_dir"]) / ".done.json").exists() for j in plan["jobs"].values() if not j["array"])


@needs_mediapipe
def test_a_full_disk_stops_the_stage_in_one_line_and_marks_nothing_done(tmp_path):
    assert submit("config/smoke.yaml", tmp_path, "--until", "prepare").returncode == 0
    # the job's shell ignores SIGXFSZ and limits files to 120 KB: a pose file of a clip is larger
    limited = ["--profile-set", "setup=[\"trap '' XFSZ\", 'ulimit -f 120']", "--set", "estimate.shards=1"]
    proc = submit("config/smoke.yaml", tmp_path, "--until", "estimate", *limited)
    assert proc.returncode == 1, proc.stdout[-3000:]
    log = log_of(tmp_path, "estimate")
    estimate = output_dir(tmp_path, "smoke", "estimate")
    assert (
        f"error: estimate: disk full writing {estimate}/" in log and "File too large" in log and "Traceback" not in log
    )
    assert not list(estimate.glob(".done*")) and not list(estimate.glob(".*.tmp")) and not list(estimate.glob("*.pose"))
    proc = submit("config/smoke.yaml", tmp_path, "--until", "estimate", "--set", "estimate.shards=1")
    assert proc.returncode == 0 and (estimate / ".done.shard-0-of-1.json").exists(), proc.stdout[-3000:]
