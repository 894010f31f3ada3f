"""train: the TSVs → a MultimodalHugs model. Writes `config.yaml`, runs `multimodalhugs-setup` then
`multimodalhugs-train`, in `<out>/setup/` and `<out>/train/`.

- The seed is passed to setup, which seeds before it creates the mapper weights: the original pipeline's
  repeatability finding (unseeded setup gave different initial weights; seeded, BLEU 9.982 three times).
- A resubmitted or requeued train job (preempted, or warned before its time limit: SIGUSR1 makes training save a
  checkpoint and stop, see `run_mmh`) resumes from the last checkpoint in `<out>/train` (MultimodalHugs detects
  it); a finished one is skipped (completion marker). Setup is redone only when it did not
  finish (`<out>/setup/.setup-done`).
- Training goes through `pipeline.stages.mmh_train` (MMH's train CLI + a fix for label smoothing in v0.5.4).
- Metrics run offline through our local `evaluate` modules (pipeline/stages/metrics, the working directory).
- `model.pretrained_backbone: tiny-m2m100` builds the tiny offline backbone into the cache on first use.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import yaml

from pipeline.errors import UserError
from pipeline.stages.entry import Interrupted, stage_main
from pipeline.stages.markers import build_once
from pipeline.stages.metrics import METRICS_DIR
from pipeline.stages.mmh_config import mmh_config
from pipeline.stages.specs import TrainSpec

SETUP_DONE = ".setup-done"


def mmh_command(name: str) -> str:
    """A MultimodalHugs console script next to this python (venv/image), else on PATH."""
    beside = Path(sys.executable).parent / name
    if beside.exists():
        return str(beside)
    found = shutil.which(name)
    if found is None:
        raise UserError(
            f"{name} not found: MultimodalHugs is not installed in this environment; build the trainer "
            f"image or venv (python -m pipeline.build --runtime venv trainer)"
        )
    return found


def run_mmh(argv: list[str], log_name: str) -> None:
    """Run a MultimodalHugs command. SIGUSR1/SIGTERM (the job script's warning before the time limit, or
    preemption) are passed on to it as SIGUSR1: our train wrapper saves a checkpoint and stops, other commands
    just stop. Then `Interrupted` is raised: the stage is not complete and the job is requeued."""
    print("+ " + " ".join(argv), flush=True)
    received: list[int] = []
    child = subprocess.Popen(argv, cwd=METRICS_DIR, env={**os.environ, "PYTHONUNBUFFERED": "1"})

    def forward(signum, _frame):
        received.append(signum)
        print(f"{log_name}: got signal {signal.Signals(signum).name}, asking it to save and stop", flush=True)
        child.send_signal(signal.SIGUSR1)

    previous = {sig: signal.signal(sig, forward) for sig in (signal.SIGUSR1, signal.SIGTERM)}
    try:
        returncode = child.wait()
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    if received:
        raise Interrupted(f"{log_name} stopped on {signal.Signals(received[0]).name} (exit {returncode})")
    if returncode != 0:
        raise UserError(f"{log_name} exited with {returncode}; its output is above in this log")


def resolve_backbone(spec: TrainSpec) -> str:
    backbone = spec.model.pretrained_backbone
    if backbone == "tiny-m2m100":
        from pipeline.stages.tiny_backbone import VERSION, build

        return str(build_once(Path(spec.cache_dir) / f"tiny-m2m100-v{VERSION}", build))
    local = Path(backbone)
    if backbone.startswith(("/", "./", "../")) and not local.exists():
        raise UserError(f"model.pretrained_backbone: {backbone} does not exist")
    return backbone


def new_vocabulary(spec: TrainSpec) -> str:
    """The tokens MultimodalHugs adds to the tokenizer: every encoder prompt preprocess used (a corpus with
    per-row languages has several; prompts.json), else the configured one."""
    prompts = Path(spec.preprocess_dir) / "prompts.json"
    used = json.loads(prompts.read_text()).get("encoder") if prompts.exists() else None
    return ",".join(used) if used else spec.encoder_prompt


def write_config(spec: TrainSpec, out: Path) -> Path:
    feat = json.loads((Path(spec.preprocess_dir) / "feat_dim.json").read_text())
    backbone = resolve_backbone(spec)
    tokenizer = spec.model.tokenizer or backbone
    config = mmh_config(
        spec,
        backbone=backbone,
        tokenizer=tokenizer,
        feat_dim=feat["feat_dim"],
        tsv_dir=spec.preprocess_dir,
        encoder_prompt=new_vocabulary(spec),
        use_gpu=spec.use_gpu,
    )
    path = out / "config.yaml"
    path.write_text(
        "# written by pipeline.stages.train for MultimodalHugs v0.5.4\n"
        + yaml.safe_dump(config, sort_keys=False, allow_unicode=True)
    )
    return path


def run(spec: TrainSpec) -> dict:
    """Set up and train one model."""
    out = Path(spec.output_dir)
    seed = str(spec.training.seed)
    config = write_config(spec, out)
    setup = out / "setup"
    if not (setup / SETUP_DONE).exists():
        shutil.rmtree(setup, ignore_errors=True)
        run_mmh(
            [
                mmh_command("multimodalhugs-setup"),
                "--modality",
                "pose2text",
                "--config_path",
                str(config),
                "--output_dir",
                str(setup),
                "--seed",
                seed,
            ],
            "multimodalhugs-setup",
        )
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
        "--task",
        "translation",
        "--config_path",
        str(config),
        "--setup_path",
        str(setup),
        "--output_dir",
        str(train_dir),
        "--seed",
        seed,
        "--report_to",
        "none",
    ]
    if not spec.use_gpu:
        argv.append("--use_cpu")
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
    }


if __name__ == "__main__":
    stage_main(run)
