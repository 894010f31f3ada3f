"""Small steps a login-side command runs in one of the images, on this machine, through the run's own runtime.

`pipeline.summarize` needs two things the driver's light environment does not have: sacrebleu (confidence
intervals and significance, `pipeline.stages.significance`, trainer image) and pose-format's visualizer with OpenCV
(skeleton previews, `pipeline.stages.preview`, MediaPipe image). Each step reads a JSON spec and writes its results
beside it; it runs like a stage's command line (`pipeline/runtime.py`: the venv's python, or `apptainer exec` of
the image with the step's folders bound) but directly, not as a job: it takes seconds. The runtime and the
venv or image folder are the run's, from its submission.json. A step that cannot run (no venv or image here, or
it fails) comes back as a one-line reason, and the caller carries on without its results.
"""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass
from pathlib import Path

from pipeline.paths import PROJECT_ROOT
from pipeline.run_records import Submission
from pipeline.runtime import Bind, needed_artifact, stage_command, wrap

MAX_BINDS = 16  # more folders than this: their common parent is bound instead


@dataclass
class StepResult:
    ok: bool
    reason: str = ""  # why not, in one line


def bind_folders(read: list[Path], write: list[Path]) -> list[Bind]:
    """Binds for the folders a step reads (read-only) and writes; many read folders become their common parent."""
    folders = sorted({str(Path(p).resolve()) for p in read})
    if len(folders) > MAX_BINDS:
        folders = [os.path.commonpath(folders)]
    binds = [Bind(str(PROJECT_ROOT), read_only=True)] + [Bind(f, read_only=True) for f in folders]
    return binds + [Bind(str(Path(p).resolve())) for p in write]


def image_folder(record: Submission) -> Path:
    """Where the run's venvs or images are: the folder of the build manifest submit recorded."""
    return Path(record.image_manifest or PROJECT_ROOT / ".venvs" / "manifest.json").parent


def step_line(record: Submission, image: str, module: str, spec: Path, binds: list[Bind], runtime: str) -> str:
    """The shell line that runs `python -m pipeline.stages.<module> --spec SPEC` in `image`."""
    folder = image_folder(record)
    return wrap(
        runtime,
        stage_command(module, spec),
        image=image,
        gpu=False,
        binds=binds,
        src_dir=PROJECT_ROOT,
        image_dir=folder,
        venv_dir=folder,
        env={"PYTHONUNBUFFERED": "1", "PYTHONNOUSERSITE": "1", "MPLCONFIGDIR": str(spec.parent / ".matplotlib")},
    )


def run_step(
    record: Submission, image: str, module: str, spec: Path, binds: list[Bind], runtime: str | None = None
) -> StepResult:
    """Run the step; its output is whatever it wrote beside `spec`."""
    runtime = runtime or record.runtime or "venv"
    folder = image_folder(record)
    artifact = needed_artifact(runtime, image, folder, folder)
    if artifact is not None and not artifact.exists():
        return StepResult(False, f"needs the {image} {'venv' if runtime == 'venv' else 'image'} at {artifact}")
    proc = subprocess.run(
        ["bash", "-c", step_line(record, image, module, spec, binds, runtime)],
        cwd=PROJECT_ROOT,
        env={**os.environ, "PYTHONPATH": str(PROJECT_ROOT)},
        capture_output=True,
        text=True,
    )
    if proc.returncode != 0:
        lines = (proc.stderr.strip() or proc.stdout.strip() or f"exit {proc.returncode}").splitlines()
        return StepResult(False, f"{module} in the {image} {runtime}: {lines[-1][:300]}")
    return StepResult(True)
