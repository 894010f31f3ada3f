"""train: the TSVs → a MultimodalHugs model. Writes `config.yaml`, runs `multimodalhugs-setup` then
`multimodalhugs-train`, in `<out>/setup/` and `<out>/train/`.

- The seed is passed to setup, which seeds before it creates the mapper weights: the original pipeline's
  repeatability finding (unseeded setup gave different initial weights; seeded, BLEU 9.982 three times).
- A resubmitted or requeued train job (preempted, or warned before its time limit: SIGUSR1 makes training save a
  checkpoint and stop, see `run_mmh`) resumes from the last checkpoint in `<out>/train` (MultimodalHugs detects
  it); a finished one is skipped (completion marker). Setup is redone only when it did not
  finish (`<out>/setup/.setup-done`).
- The commands and their arguments: `pipeline.stages.mmh_commands`; the config: `pipeline.stages.mmh_config`.
- Training goes through `pipeline.stages.mmh_train` (MMH's train CLI + a fix for label smoothing in v0.5.4).
- Metrics run offline through our local `evaluate` modules (pipeline/stages/metrics, the working directory).
- `model.pretrained_backbone: tiny-m2m100` builds the tiny offline backbone into the cache on first use.
- On several processes (pipeline/distributed.py) the job runs `--setup-only` once (config and setup), then torchrun
  runs this stage in every process (`train_process`): each trains in itself, with its share of the node's CPUs;
  rank 0 alone prints, and writes the marker. A checkpoint saved by another number of processes is refused.
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

from pipeline.errors import UserError
from pipeline.stages.entry import Interrupted, stage_main
from pipeline.stages.metrics import METRICS_DIR
from pipeline.stages.mmh_commands import mmh_command, run_mmh, setup_args, train_args
from pipeline.stages.mmh_config import DISTRIBUTED_CONFIG, write_config
from pipeline.stages.ranks import (
    World,
    checkpoint_processes,
    last_checkpoint,
    quiet_unless_rank_zero,
    threads_per_process,
    world,
)
from pipeline.stages.specs import Launch, TrainSpec
from pipeline.stages.trained_model import trainer_state

SETUP_DONE = ".setup-done"


def setup(spec: TrainSpec) -> None:
    """The MultimodalHugs config and `multimodalhugs-setup`, unless done: once per job, before training."""
    out = Path(spec.output_dir)
    config = write_config(spec, out)
    setup_dir = out / "setup"
    if not (setup_dir / SETUP_DONE).exists():
        shutil.rmtree(setup_dir, ignore_errors=True)
        run_mmh(
            [mmh_command("multimodalhugs-setup"), *setup_args(config, setup_dir, spec.training.seed)],
            "multimodalhugs-setup",
        )
        (setup_dir / SETUP_DONE).write_text("")
    else:
        print(f"setup already done in {setup_dir}", flush=True)


def run(spec: TrainSpec) -> dict:
    """Set up and train one model."""
    here = world()
    if here is not None:
        return train_process(spec, here)
    out = Path(spec.output_dir)
    seed = spec.training.seed
    setup(spec)
    config, setup_dir = out / "config.yaml", out / "setup"
    threads = spec.training.torch_threads
    if threads:  # torch reads it when MultimodalHugs imports it (training.torch_threads)
        os.environ["OMP_NUM_THREADS"] = str(threads)
    print(f"torch threads: {os.environ.get('OMP_NUM_THREADS', f'torch default ({os.cpu_count()} CPUs)')}", flush=True)
    train_dir = out / "train"
    argv = [
        sys.executable,
        "-m",
        "pipeline.stages.mmh_train",
        *train_args(config, setup_dir, train_dir, seed, spec.use_gpu),
    ]
    run_mmh(argv, "multimodalhugs-train")
    return {**trained(train_dir), "machine": machine(spec.use_gpu)}


def trained(train_dir: Path) -> dict:
    """The marker's facts: the best checkpoint and where training ended (trainer_state.json)."""
    state = trainer_state(train_dir)
    return {
        "best_checkpoint": state.best_checkpoint if state else None,
        "best_metric": state.best_metric if state else None,
        "global_step": state.global_step if state else None,
        "epoch": state.epoch if state else None,
    }


def machine(use_gpu: bool) -> dict:
    """What trained the model, for its model card: the CPU model, the CPUs this job had, the GPU it was given."""
    import platform
    import subprocess

    from pipeline.stages.pose_workers import task_cpus

    cpu = platform.processor() or platform.machine()
    try:
        names = [line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name")]
        cpu = names[0] if names else cpu
    except OSError:
        pass
    gpu = None
    if use_gpu and shutil.which("nvidia-smi"):
        query = ["nvidia-smi", "--query-gpu=name", "--format=csv,noheader"]
        names = subprocess.run(query, capture_output=True, text=True).stdout.split("\n")
        gpu = names[0].strip() or None
    return {"cpu": cpu, "cpus": task_cpus(), "gpu": gpu}


def train_process(spec: TrainSpec, here: World) -> dict:
    """One of torchrun's processes: train in this process (the setup ran before the launch); after the last save,
    wait for the others, then stop to be requeued if training stopped on a signal."""
    launch = spec.launch or Launch(batch_size=spec.training.batch_size)
    out = Path(spec.output_dir)
    config, setup_dir, train_dir = out / DISTRIBUTED_CONFIG, out / "setup", out / "train"
    if here.size != launch.processes:
        raise UserError(
            f"torchrun started {here.size} processes, but this job was planned for {launch.processes} "
            f"({launch.nodes} node(s) × {launch.nproc_per_node}: its batch split depends on it); submit the run again"
        )
    if not (setup_dir / SETUP_DONE).exists():
        raise UserError(
            f"{setup_dir}: multimodalhugs-setup has not run: the job runs it (--setup-only) before torchrun"
        )
    last = last_checkpoint(train_dir)
    if last is not None and checkpoint_processes(last) != here.size:
        raise UserError(
            f"{last}: saved by {checkpoint_processes(last)} process(es), and this job has {here.size}: a checkpoint "
            f"holds each process's random state and place in the data, so it resumes only with as many; train with "
            f"{checkpoint_processes(last)} again, or delete {train_dir} to start over"
        )
    quiet_unless_rank_zero(here.rank)
    threads = threads_per_process(here.local_size, spec.training.torch_threads)
    os.environ["OMP_NUM_THREADS"] = str(threads)  # before torch is imported here (MultimodalHugs imports it)
    import torch

    torch.set_num_threads(threads)
    if launch.distributed == "fsdp" and not torch.cuda.is_available():
        raise UserError(
            "training.distributed: fsdp needs GPUs (accelerate's FSDP), and this process sees none; use ddp"
        )
    from pipeline.stages import mmh_patches

    effective = launch.batch_size * launch.gradient_accumulation_steps * here.size
    print(
        f"torchrun: {here.size} processes ({launch.nodes} node(s) × {launch.nproc_per_node}, {launch.distributed}, "
        f"{launch.backend}), {threads} torch thread(s) each; batch {launch.batch_size} per device × accumulation "
        f"{launch.gradient_accumulation_steps} × {here.size} processes = effective batch {effective}",
        flush=True,
    )
    if last is not None:
        print(f"resuming from {last.name} with {here.size} processes", flush=True)
    os.chdir(METRICS_DIR)  # our offline evaluate modules (pipeline/stages/metrics)
    mmh_patches.train(train_args(config, setup_dir, train_dir, spec.training.seed, spec.use_gpu))
    if torch.distributed.is_available() and torch.distributed.is_initialized():
        torch.distributed.barrier()  # rank 0's saves after training are done before any process exits
    if mmh_patches.stopped:
        raise Interrupted(f"stopped after step {mmh_patches.stopped[0]} on a signal, checkpoint saved")
    if here.rank != 0:
        return {}
    return {**trained(train_dir), "processes": here.size, "machine": machine(spec.use_gpu)}


if __name__ == "__main__":
    stage_main(run, setup=setup)
