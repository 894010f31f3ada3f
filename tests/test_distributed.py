"""Training on several processes, the login side (pipeline/distributed.py): the batch split, the bad inputs refused in
one line each, the keys of one-process runs unchanged, the plan table and the trial's last lines, the train job's
torchrun lines, its requeueing with a setup step (bash with stand-ins), and the train stage's own refusals."""

import json
import os
import signal
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from pipeline.compose import make_sbatch_script
from pipeline.config import load_experiment, load_profile
from pipeline.distributed import split_batch
from pipeline.errors import UserError
from pipeline.plan import build_plan

from conftest import PROJECT, needs_trainer, run_in, wait_for


def dry_run(tmp_path: Path, *args: str, config: str = "config/smoke.yaml", profile: str = "local"):
    return subprocess.run(
        [sys.executable, "-m", "pipeline.submit", config, "--dry-run", "--quiet", "--profile", profile]
        + ["--jobs-dir", str(tmp_path / "jobs"), *args],
        capture_output=True,
        text=True,
        cwd=PROJECT,
    )


def train_job(*overrides: str, profile: str = "local"):
    plan = build_plan([load_experiment(PROJECT / "config/demo.yaml", list(overrides))], load_profile(profile))
    return plan.jobs[plan.runs["demo"]["train"]]


@pytest.mark.parametrize(
    "batch, accumulation, processes, split",
    [
        (8, 3, 4, (2, 3)),  # How2Sign's 8 × 3 on 4 GPUs: the accumulation is not divisible, the batch is
        (16, 1, 2, (8, 1)),  # the demo on 2 processes: 8 per process
        (8, 4, 4, (8, 1)),  # the accumulation first: the per-device batch stays
        (8, 3, 6, (4, 1)),  # 6 = 3 out of the accumulation × 2 out of the batch
        (4, 1, 1, (4, 1)),
        (8, 3, 5, None),  # 5 divides neither
    ],
)
def test_the_effective_batch_is_kept_by_dividing_the_accumulation_then_the_batch(batch, accumulation, processes, split):
    assert split_batch(batch, accumulation, processes) == split
    if split:
        assert split[0] * split[1] * processes == batch * accumulation


def test_the_train_spec_carries_the_per_device_batch_and_the_effective_batch_can_grow():
    keep = train_job("training.nproc_per_node=2").spec.launch
    assert (keep.processes, keep.batch_size, keep.gradient_accumulation_steps, keep.backend) == (2, 8, 1, "gloo")
    grow = train_job("training.nproc_per_node=2", "training.effective_batch=grow").spec.launch
    assert (grow.batch_size, grow.gradient_accumulation_steps) == (16, 1)
    gpus = train_job("training.nproc_per_node=4", "training.nodes=2", profile="uzh").spec.launch
    assert (gpus.processes, gpus.backend) == (8, "nccl")


def test_the_keys_of_one_process_runs_do_not_change_and_several_processes_train_another_model():
    one = train_job()
    assert train_job("training.nproc_per_node=1", "training.nodes=1", "training.distributed=ddp").key == one.key
    assert train_job("training.effective_batch=grow").key == one.key  # one process: keep and grow are the same
    two = train_job("training.nproc_per_node=2")
    assert two.key != one.key
    assert train_job("training.nproc_per_node=2", "training.effective_batch=grow").key != two.key


def one_error_line(proc: subprocess.CompletedProcess) -> str:
    assert proc.returncode == 2, proc.stdout + proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), proc.stderr
    return lines[0]


def test_nproc_per_node_0_is_one_line(tmp_path):
    line = one_error_line(dry_run(tmp_path, "--set", "training.nproc_per_node=0"))
    assert line == "error: --set training.nproc_per_node: training.nproc_per_node: expected a whole number >= 1, got 0"


def test_two_nodes_with_the_local_executor_is_one_line(tmp_path):
    line = one_error_line(dry_run(tmp_path, "--set", "training.nodes=2"))
    assert "training.nodes: 2 nodes need a SLURM cluster, but the local profile runs every job on this machine" in line
    assert "set training.nodes: 1" in line and "--profile <site>" in line


def test_an_effective_batch_the_processes_cannot_share_is_one_line_naming_the_numbers_and_the_way_out(tmp_path):
    line = one_error_line(dry_run(tmp_path, "--set", "training.nproc_per_node=3"))  # smoke: 4 × 1
    assert line == (
        "error: config/smoke.yaml: training.batch_size: the effective batch 4 × 1 (batch_size × "
        "gradient_accumulation_steps) = 4 cannot be kept on 3 processes (1 node(s) × 3): 3 does not divide it into a "
        "per-device batch and an accumulation; set training.effective_batch: grow (4 × 1 × 3 = 12), or a batch_size "
        "or gradient_accumulation_steps that 3 divides"
    )
    grown = dry_run(tmp_path, "--set", "training.nproc_per_node=3", "--set", "training.effective_batch=grow")
    assert grown.returncode == 0 and "12 (4 × 1 × 3)" in grown.stdout


def test_fsdp_on_a_machine_without_gpus_is_one_line(tmp_path):
    line = one_error_line(dry_run(tmp_path, "--set", "training.nproc_per_node=2", "--set", "training.distributed=fsdp"))
    assert "training.distributed: fsdp shards the model over GPUs, but the train job gets none here" in line
    assert "use ddp (CPU processes with gloo)" in line


def test_several_gpus_from_a_profile_that_asks_for_one_gpu_a_job_is_one_line():
    profile = load_profile("uzh", ["gpu.per_node=null", "gpu.model=null", "gpu.gpus=A100:1"])
    exp = load_experiment(PROJECT / "config/demo.yaml", ["training.nproc_per_node=4"])
    with pytest.raises(UserError, match=r"gpu.per_node: training on 1 node\(s\) × 4 GPUs asks for GPUs on each node"):
        build_plan([exp], profile)
    with pytest.raises(UserError, match=r"gpu.gpus: the profile asks for GPUs per node"):
        load_profile("uzh", ["gpu.gpus=A100:1"])


def test_the_plan_table_and_the_trials_last_lines_print_processes_and_effective_batch(tmp_path):
    plan = dry_run(tmp_path, "--set", "training.nproc_per_node=2")
    assert plan.returncode == 0, plan.stderr
    header = next(line for line in plan.stdout.splitlines() if line.strip().startswith("stage"))
    assert "processes" in header and "effective batch" in header
    row = next(line for line in plan.stdout.splitlines() if line.strip().startswith("train "))
    assert "2 (1 × 2, ddp)" in row and "4 (2 × 1 × 2)" in row
    trial = dry_run(
        tmp_path,
        "--trial",
        "--set",
        f"dataset.root={tmp_path}",
        "--set",
        "training.nodes=2",
        "--set",
        "training.nproc_per_node=4",
        config="config/phoenix.yaml",
        profile="uzh",
    )
    assert trial.returncode == 0, trial.stderr
    last = next(line for line in trial.stdout.splitlines() if line.startswith("the real run will ask for"))
    # the real run: train 24 h × 8 GPUs + translate 12 h × 1 GPU; 8 × 3 on 8 GPUs: 1 × 3 × 8
    assert "204 GPU hours requested at most (their time limits × their GPUs)" in last
    assert "train: 8 (2 × 4, ddp) process(es), effective batch 24 (1 × 3 × 8)" in last
    trial_train = next((tmp_path / "jobs" / "dry-run" / "uzh" / "phoenix.trial" / "specs").glob("train-*.json"))
    assert json.loads(trial_train.read_text())["launch"]["batch_size"] == 1  # the trial's batch, grown: 1 × 1 × 8


def test_a_train_job_on_several_processes_sets_up_once_then_runs_torchrun_once_per_node(tmp_path):
    proc = dry_run(tmp_path, "--set", "training.nproc_per_node=2", "--until", "train")
    assert proc.returncode == 0, proc.stderr
    script = tmp_path / "jobs" / "dry-run" / "local" / "smoke" / "train.sbatch"
    text = script.read_text()
    assert "#SBATCH --nodes=1" in text and "#SBATCH --ntasks-per-node=1" in text and "--ntasks=1" not in text
    assert "#SBATCH --cpus-per-task=8" in text  # 4 per process (resources.train.cpus) × 2
    lines = text.splitlines()
    setup = next(
        i for i, line in enumerate(lines) if "-m pipeline.stages.train --spec" in line and "--setup-only" in line
    )
    launch = next(i for i, line in enumerate(lines) if "-m pipeline.stages.torchrun" in line)
    assert setup < launch and text.count("-m pipeline.stages.torchrun") == 1
    line = lines[launch]
    for part in (
        '${launch[@]+"${launch[@]}"} ',
        '--nnodes 1 --nproc-per-node 2 --rdzv-backend c10d --rdzv-endpoint "$rdzv_endpoint" --rdzv-id '
        '"${SLURM_JOB_ID:-local}"',
        "--signals-to-handle SIGTERM,SIGINT,SIGHUP,SIGQUIT,SIGUSR1 --shutdown-timeout 80 --local-ranks-filter 0",
        "-m pipeline.stages.train --spec",
    ):
        assert part in line, part
    assert 'launch=(srun --ntasks-per-node=1 --cpus-per-task="$SLURM_CPUS_PER_TASK")' in text
    assert subprocess.run(["bash", "-n", str(script)]).returncode == 0


# stand-ins: a setup that says it ran, and a launch that saves and exits 75 on USR1 (as torchrun's workers do)
SETUP = 'bash -c \'echo "setup ran"; [ -z "${FAIL_SETUP:-}" ] || exit "$FAIL_SETUP"\''
LAUNCH = 'bash -c \'trap "echo saved by all; exit 75" USR1; touch "$WORK/running"; while :; do sleep 0.05; done\''


def requeue_script(tmp_path: Path) -> Path:
    path = tmp_path / "train.sbatch"
    path.write_text(
        make_sbatch_script(
            LAUNCH,
            job_name="train-x",
            log_dir=str(tmp_path),
            time="1:00:00",
            cpus=2,
            mem="1G",
            nodes=1,
            requeue_limit=5,
            before=SETUP,
        )
    )
    fake = tmp_path / "bin" / "scontrol"
    fake.parent.mkdir()
    fake.write_text('#!/bin/bash\necho "$@" >> "$WORK/scontrol.calls"\n')
    fake.chmod(fake.stat().st_mode | stat.S_IEXEC)
    return path


def run_script(tmp_path: Path, path: Path, **env: str) -> subprocess.Popen:
    environment = {**os.environ, "WORK": str(tmp_path), "SLURM_JOB_ID": "4242", **env}
    environment["PATH"] = f"{tmp_path / 'bin'}{os.pathsep}{os.environ['PATH']}"
    return subprocess.Popen(
        ["bash", str(path)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=environment
    )


def test_usr1_after_the_setup_reaches_the_launch_and_the_job_requeues_itself(tmp_path):
    job = run_script(tmp_path, requeue_script(tmp_path))
    wait_for(lambda: (tmp_path / "running").exists() or job.poll() is not None, "the launch to start", 30)
    job.send_signal(signal.SIGUSR1)
    out, err = job.communicate(timeout=30)
    assert job.returncode == 0, err
    assert out.index("setup ran") < out.index("saved by all") < out.index("saved; requeueing job 4242")
    assert (tmp_path / "scontrol.calls").read_text() == "requeue 4242\n"


def test_a_failed_setup_launches_nothing(tmp_path):
    job = run_script(tmp_path, requeue_script(tmp_path), FAIL_SETUP="2")
    out, _ = job.communicate(timeout=30)
    assert job.returncode == 2 and "setup ran" in out and not (tmp_path / "running").exists()


def test_the_train_stage_refuses_a_checkpoint_of_another_process_count_in_one_line(tmp_path, monkeypatch):
    from pipeline.stages.ranks import World
    from pipeline.stages.train import SETUP_DONE, train_process

    job = train_job("training.nproc_per_node=2")
    spec = job.spec
    spec.output_dir = str(tmp_path)
    (tmp_path / "setup").mkdir()
    (tmp_path / "setup" / SETUP_DONE).write_text("")
    checkpoint = tmp_path / "train" / "checkpoint-250"
    checkpoint.mkdir(parents=True)
    (checkpoint / "rng_state.pth").write_text("")  # saved by one process
    with pytest.raises(UserError) as refused:
        train_process(spec, World(rank=0, local_rank=0, size=2, local_size=2))
    assert str(refused.value).startswith(f"{checkpoint}: saved by 1 process(es), and this job has 2:")
    assert "\n" not in str(refused.value)
    with pytest.raises(UserError, match="torchrun started 4 processes, but this job was planned for 2"):
        train_process(spec, World(rank=0, local_rank=0, size=4, local_size=4))


@needs_trainer
def test_our_torchrun_acts_on_the_first_signal_only():
    code = """
import os, signal
from pipeline.stages.torchrun import act_once
act_once()
from torch.distributed.elastic.multiprocessing import api
signal.signal(signal.SIGUSR1, api._terminate_process_handler)
signal.signal(signal.SIGTERM, api._terminate_process_handler)
try:
    os.kill(os.getpid(), signal.SIGTERM)
except api.SignalException as exc:
    print("first:", exc.sigval.name)
os.kill(os.getpid(), signal.SIGUSR1)
print("second ignored")
"""
    proc = run_in("trainer", code)
    assert "first: SIGTERM" in proc.stdout and "second ignored" in proc.stdout
    assert "SIGUSR1 ignored: stopping already" in proc.stderr


@needs_trainer
def test_a_checkpoint_loads_onto_cpu_0_as_transformers_asks_when_resuming_on_several_cpu_processes(tmp_path):
    code = f"""
import torch
from pipeline.stages.mmh_patches import restore_cpu_with_index
torch.save({{"state": torch.ones(2)}}, "{tmp_path}/optimizer.pt")
try:
    torch.load("{tmp_path}/optimizer.pt", map_location=torch.device("cpu", 0))
except RuntimeError as exc:
    print("before:", exc)
restore_cpu_with_index()
print("after:", torch.load("{tmp_path}/optimizer.pt", map_location=torch.device("cpu", 0))["state"].sum().item())
"""
    proc = run_in("trainer", code)
    assert "before: don't know how to restore data location" in proc.stdout and "after: 2.0" in proc.stdout
