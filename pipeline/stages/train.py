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
"""

from __future__ import annotations

import json
import os
import shutil
import sys
from pathlib import Path

from pipeline.stages.entry import stage_main
from pipeline.stages.mmh_commands import mmh_command, run_mmh, setup_args, train_args
from pipeline.stages.mmh_config import write_config
from pipeline.stages.specs import TrainSpec

SETUP_DONE = ".setup-done"


def run(spec: TrainSpec) -> dict:
    """Set up and train one model."""
    out = Path(spec.output_dir)
    seed = spec.training.seed
    config = write_config(spec, out)
    setup = out / "setup"
    if not (setup / SETUP_DONE).exists():
        shutil.rmtree(setup, ignore_errors=True)
        run_mmh([mmh_command("multimodalhugs-setup"), *setup_args(config, setup, seed)], "multimodalhugs-setup")
        (setup / SETUP_DONE).write_text("")
    else:
        print(f"setup already done in {setup}", flush=True)
    threads = spec.training.torch_threads
    if threads:  # torch reads it when MultimodalHugs imports it (training.torch_threads)
        os.environ["OMP_NUM_THREADS"] = str(threads)
    print(f"torch threads: {os.environ.get('OMP_NUM_THREADS', f'torch default ({os.cpu_count()} CPUs)')}", flush=True)
    train_dir = out / "train"
    argv = [
        sys.executable,
        "-m",
        "pipeline.stages.mmh_train",
        *train_args(config, setup, train_dir, seed, spec.use_gpu),
    ]
    run_mmh(argv, "multimodalhugs-train")
    state = (
        json.loads((train_dir / "trainer_state.json").read_text())
        if (train_dir / "trainer_state.json").exists()
        else {}
    )
    best = state.get("best_model_checkpoint")
    return {
        "best_checkpoint": best,
        "best_metric": state.get("best_metric"),
        "global_step": state.get("global_step"),
        "epoch": state.get("epoch"),
        "machine": machine(spec.use_gpu),
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


if __name__ == "__main__":
    stage_main(run)
