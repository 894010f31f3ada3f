"""The MultimodalHugs commands the train and translate stages run: where the console scripts are, their arguments
(setup with a fixed seed, or of a dataset alone for new inputs; train through our wrapper `pipeline.stages.mmh_train`,
generate with beam search), and running one with the job's signals passed on. benchmarks/gpu_check.py builds
the same arguments from here.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

from pipeline.errors import UserError
from pipeline.stages.entry import Interrupted
from pipeline.stages.metrics import METRICS_DIR


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


def setup_args(config: Path, setup_dir: Path, seed: int) -> list[str]:
    """`multimodalhugs-setup`'s arguments: the seed fixes the mapper's initial weights (repeatable runs)."""
    return [
        "--modality",
        "pose2text",
        "--config_path",
        str(config),
        "--output_dir",
        str(setup_dir),
        "--seed",
        str(seed),
    ]


def train_args(config: Path, setup_dir: Path, train_dir: Path, seed: int, use_gpu: bool) -> list[str]:
    """Arguments of MultimodalHugs' train CLI (run as `python -m pipeline.stages.mmh_train ...`)."""
    argv = ["--task", "translation", "--config_path", str(config), "--setup_path", str(setup_dir)]
    argv += ["--output_dir", str(train_dir), "--seed", str(seed), "--report_to", "none"]
    return argv if use_gpu else [*argv, "--use_cpu"]


def dataset_setup_args(config: Path, setup_dir: Path) -> list[str]:
    """`multimodalhugs-setup`'s arguments that build the dataset of the config's TSVs alone (no processor, no
    model): how new inputs become a dataset that generate reads (generate reads no TSV itself)."""
    return ["--config_path", str(config), "--do_dataset", "true", "--output_dir", str(setup_dir)]


def generate_args(
    config: Path,
    setup_dir: Path,
    checkpoint: Path,
    out: Path,
    num_beams: int,
    batch_size: int,
    use_gpu: bool,
    processor: Path | None = None,
) -> list[str]:
    """`multimodalhugs-generate`'s arguments: the test split of the dataset that setup built in `setup_dir`, beam
    search. `processor`: the model's processor when `setup_dir` built the dataset alone (new inputs)."""
    argv = ["--task", "translation", "--config_path", str(config), "--metric_name", "sacrebleu"]
    argv += ["--generate_output_dir", str(out), "--output_dir", str(out), "--setup_path", str(setup_dir)]
    argv += ["--model_name_or_path", str(checkpoint), "--num_beams", str(num_beams)]
    argv += ["--per_device_eval_batch_size", str(batch_size), "--report_to", "none"]
    if processor is not None:
        argv += ["--processor_name_or_path", str(processor)]
    return argv if use_gpu else [*argv, "--use_cpu"]


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
