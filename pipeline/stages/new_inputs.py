"""Translating new inputs with a finished run: the one spec both of its jobs read (`InputsSpec`, `<out>/spec.json`),
the inputs, and where each job writes.

`python -m pipeline.translate` (login side) classifies the inputs, writes the spec and two jobs:
`pipeline.stages.estimate_inputs` estimates every video and frame folder in one job, in the pose type's image;
`pipeline.stages.translate_inputs` prepares every pose as preprocess does and generates, in the trainer's image.
Light: the login side imports it.

<out>/spec.json, <out>/*.sbatch, <out>/logs/    what ran
<out>/estimated/<name>.pose                      poses of the videos and frame folders (and .done.json)
<out>/work/                                      checked poses, the TSV, MultimodalHugs' setup and generate output
<out>/translations.tsv, <out>/translation.json    the results, written last
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Optional

from pipeline.stages.markers import write_json

RESULTS = "translations.tsv"
REPORT = "translation.json"


@dataclass
class NewInput:
    path: str  # absolute
    kind: str  # video | frames (a folder of images) | pose
    name: str  # unique within the spec: the name of its pose files


@dataclass
class InputsSpec:
    run: str
    run_dir: str
    out: str
    inputs: list[NewInput]
    pose_type: str
    settings: dict  # the estimator's, as the run estimated
    workers: Any  # a number or "auto"
    fps: float  # of frame folders (videos say their own)
    encoder_prompt: str
    decoder_prompt: str
    feat_dim: int  # what the model takes per frame (the run's preprocess measured it)
    model_dir: str  # the train stage's output: config.yaml, setup/, train/
    checkpoint: str  # the selected checkpoint
    num_beams: int
    batch_size: int
    use_gpu: bool
    git_commit: Optional[str] = None  # of the code that translates

    @property
    def estimated_dir(self) -> Path:
        return Path(self.out) / "estimated"

    @property
    def work_dir(self) -> Path:
        return Path(self.out) / "work"

    def pose_of(self, item: NewInput) -> Path:
        """The pose file of an input: itself, or what estimation wrote for it."""
        return Path(item.path) if item.kind == "pose" else self.estimated_dir / f"{item.name}.pose"


def kind_of(path: Path) -> str:
    """video, frames (a folder) or pose, by what the path is; any file that is not a `.pose` is taken for a video
    (the estimation job says when it cannot decode one)."""
    if path.is_dir():
        return "frames"
    return "pose" if path.suffix == ".pose" else "video"


def input_name(index: int, path: Path) -> str:
    """A file name for the poses of input `index`: its number and its name's safe characters."""
    stem = re.sub(r"[^A-Za-z0-9_.-]+", "_", path.name if path.is_dir() else path.stem)
    return f"{index:05d}_{stem or 'input'}"


def write_spec(path: Path, spec: InputsSpec) -> None:
    write_json(path, asdict(spec))


def read_spec(path: Path) -> InputsSpec:
    data = json.loads(Path(path).read_text())
    data["inputs"] = [NewInput(**item) for item in data["inputs"]]
    return InputsSpec(**data)
