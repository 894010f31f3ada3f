"""Runtimes: how a stage command becomes the line a job script runs.

- `apptainer` / `singularity`: `<tool> exec --cleanenv [--nv] --env ... --bind ... IMAGE.sif python -m ...`.
  Every path is bound at the same place inside the container (host path == container path), so paths written by
  one stage (manifests, the TSVs' `signal` column) are valid in the next. The project source is bound read-only
  and put on PYTHONPATH: a code change never needs an image rebuild.
- `venv`: the image's virtualenv python, `.venvs/<image>/bin/python -m ...`, built from the same pinned
  requirements as the image (`python -m pipeline.build --runtime venv`).
- `host`: the python that composed the script (tests of the plumbing; no isolation).

Pure functions: text in, text out.
"""

from __future__ import annotations

import shlex
import sys
from dataclasses import dataclass
from pathlib import Path

# Variables a stage reads that `--cleanenv` would drop (NVIDIA/NVFlare PR 5038: --cleanenv loses the GPU selection).
PASSED_THROUGH = (
    "SLURM_ARRAY_TASK_ID",
    "SLURM_ARRAY_TASK_COUNT",
    "SLURM_JOB_ID",
    "SLURM_ARRAY_JOB_ID",
    "SLURM_CPUS_PER_TASK",
    "CUDA_VISIBLE_DEVICES",
    "PIPELINE_FAIL_STAGE",
)


class Expanded(str):
    """An argument the job's shell expands (`"$rdzv_endpoint"`): written into the line as it is, not quoted."""


def quote(arg: str) -> str:
    return arg if isinstance(arg, Expanded) else shlex.quote(arg)


@dataclass(frozen=True)
class Bind:
    path: str
    read_only: bool = False

    def option(self) -> str:
        return f"{self.path}:{self.path}" + (":ro" if self.read_only else "")


def image_path(image_dir: Path, image: str) -> Path:
    return image_dir / f"{image}.sif"


def venv_python(venv_dir: Path, image: str) -> Path:
    return venv_dir / image / "bin" / "python"


def cache_env(cache_dir: Path, offline: bool) -> dict[str, str]:
    """Caches inside the bound cache dir, never $HOME (nf-core/proteinfold issue 463: read-only HOME in containers)."""
    env = {
        "HF_HOME": str(cache_dir / "huggingface"),
        "HF_HUB_DISABLE_XET": "1",
        "XDG_CACHE_HOME": str(cache_dir / "xdg"),
        "TRITON_CACHE_DIR": str(cache_dir / "triton"),
        "MPLCONFIGDIR": str(cache_dir / "matplotlib"),
        # TMPDIR stays the node's (a job-local dir on most clusters; /tmp in Apptainer): multiprocessing puts
        # AF_UNIX sockets there, limited to 108 bytes, and a deep cache path broke `datasets` under SLURM.
        "PYTHONNOUSERSITE": "1",
        "PYTHONUNBUFFERED": "1",
        "TOKENIZERS_PARALLELISM": "false",
    }
    if offline:
        env.update({"HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"})
    return env


def stage_command(module: str, spec_path: Path) -> list[str]:
    return ["python", "-m", f"pipeline.stages.{module}", "--spec", str(spec_path)]


def wrap(
    runtime: str,
    argv: list[str],
    *,
    image: str,
    gpu: bool,
    binds: list[Bind],
    src_dir: Path,
    image_dir: Path,
    venv_dir: Path,
    env: dict[str, str],
) -> str:
    """The shell line that runs `argv` (starting with `python`) in the image `image` under `runtime`."""
    if runtime in ("apptainer", "singularity"):
        parts = [runtime, "exec", "--cleanenv"]
        if gpu:
            parts.append("--nv")  # every option before the image path
        parts += ["--pwd", str(src_dir)]
        for name, value in {**env, "PYTHONPATH": str(src_dir)}.items():
            parts += ["--env", f"{name}={value}"]
        # only variables that are set: an empty SLURM_CPUS_PER_TASK breaks MMH's int(os.environ[...])
        collect = (
            "passthrough=(); for name in " + " ".join(PASSED_THROUGH) + "; do "
            'if [ -n "${!name:-}" ]; then passthrough+=(--env "$name=${!name}"); fi; done\n'
        )
        line = collect + " ".join(shlex.quote(p) for p in parts)
        line += ' ${passthrough[@]+"${passthrough[@]}"}'
        for bind in binds:
            line += f" --bind {shlex.quote(bind.option())}"
        line += f" {shlex.quote(str(image_path(image_dir, image)))} "
        return line + " ".join(quote(a) for a in argv)
    if runtime == "venv":
        python = str(venv_python(venv_dir, image))
    elif runtime == "host":
        python = sys.executable
    else:
        raise ValueError(f"unknown runtime {runtime!r}")
    return " ".join(quote(a) for a in [python, *argv[1:]])


def needed_artifact(runtime: str, image: str, image_dir: Path, venv_dir: Path) -> Path | None:
    """The image file or venv a runtime needs for `image` (None for the host runtime)."""
    if runtime in ("apptainer", "singularity"):
        return image_path(image_dir, image)
    if runtime == "venv":
        return venv_python(venv_dir, image)
    return None
