"""The requeue logic of train/translate job scripts, run by bash with stand-ins for the stage and `scontrol`
(no cluster): the batch shell passes USR1 on to the stage, requeues on exit 75, and gives up past the limit.
tests/test_slurm.py runs the same scripts on a real cluster."""

import os
import signal
import stat
import subprocess
from pathlib import Path

import pytest

from pipeline.compose import make_sbatch_script

from conftest import wait_for

# a stage that saves and exits 75 on USR1, and says when it is running
STAGE = 'bash -c \'trap "echo saved; exit 75" USR1; touch "$WORK/running"; while :; do sleep 0.05; done\''


def script(tmp_path: Path, limit: int) -> Path:
    text = make_sbatch_script(
        STAGE, job_name="train-x", log_dir=str(tmp_path), time="01:00:00", cpus=1, mem="1G", requeue_limit=limit
    )
    path = tmp_path / "train.sbatch"
    path.write_text(text)
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    fake = bin_dir / "scontrol"
    fake.write_text('#!/bin/bash\necho "$@" >> "$WORK/scontrol.calls"\n')
    fake.chmod(fake.stat().st_mode | stat.S_IEXEC)
    return path


def run_until_signalled(tmp_path: Path, path: Path, restarts: int) -> subprocess.CompletedProcess:
    env = {
        **os.environ,
        "WORK": str(tmp_path),
        "SLURM_JOB_ID": "4242",
        "SLURM_RESTART_COUNT": str(restarts),
        "PATH": f"{tmp_path / 'bin'}{os.pathsep}{os.environ['PATH']}",
    }
    job = subprocess.Popen(["bash", str(path)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    wait_for(lambda: (tmp_path / "running").exists() or job.poll() is not None, "the stage to start", 30)
    if job.poll() is None:
        job.send_signal(signal.SIGUSR1)  # what SLURM does 90 s before the time limit (B:USR1@90)
    out, err = job.communicate(timeout=30)
    return subprocess.CompletedProcess(job.args, job.returncode, out, err)


def test_usr1_reaches_the_stage_and_the_job_requeues_itself(tmp_path):
    proc = run_until_signalled(tmp_path, script(tmp_path, limit=5), restarts=2)
    assert proc.returncode == 0, proc.stderr
    assert "saved" in proc.stdout and "saved; requeueing job 4242 (restart 3 of at most 5)" in proc.stdout
    assert (tmp_path / "scontrol.calls").read_text() == "requeue 4242\n"


@pytest.mark.parametrize("restarts, when", [(3, "stopped to be requeued, but "), (4, "")])
def test_past_max_requeues_the_job_fails_and_says_why(tmp_path, restarts, when):
    proc = run_until_signalled(tmp_path, script(tmp_path, limit=3), restarts=restarts)
    assert proc.returncode == 1
    assert f"error: {when}it was requeued {restarts} times already (training.max_requeues: 3): giving up" in proc.stderr
    assert not (tmp_path / "scontrol.calls").exists()


def test_a_requeue_that_slurm_did_first_is_said_so_not_called_a_local_job(tmp_path):
    """An administrator's `scontrol requeue` signals the job, the stage saves and exits 75, and our own requeue is
    then refused (the job is requeued already): the log says what happened."""
    text = make_sbatch_script(
        "bash -c 'exit 75'",
        job_name="train-x",
        log_dir=str(tmp_path),
        time="1:00:00",
        cpus=1,
        mem="1G",
        requeue_limit=5,
    )
    (tmp_path / "train.sbatch").write_text(text)
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for name, body in (
        ("scontrol", 'echo "Requested operation is presently disabled" >&2; exit 1'),
        ("squeue", "echo REQUEUED"),
    ):
        (bin_dir / name).write_text(f"#!/bin/bash\n{body}\n")
        (bin_dir / name).chmod(0o755)
    env = {**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}", "SLURM_JOB_ID": "123", "SLURM_RESTART_COUNT": "0"}
    proc = subprocess.run(["bash", str(tmp_path / "train.sbatch")], capture_output=True, text=True, env=env)
    assert proc.returncode == 75
    assert "scontrol requeue refused (job state: REQUEUED): requeued by SLURM before the stage asked" in proc.stderr
    assert "not a SLURM job" not in proc.stderr
