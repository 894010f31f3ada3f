"""What a finished train stage left behind, read the same way by everything that uses the model: the translate
stage, translating new inputs (pipeline/stages/translate_inputs.py) and the export (pipeline/export.py).

`<train output>/config.yaml` (the MultimodalHugs config), `setup/` (MultimodalHugs' setup: the processor, whose
configuration holds the pose normalisation and the feature layout, and its tokenizer), `train/` (checkpoints).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

from pipeline.errors import UserError
from pipeline.stages.ranks import last_checkpoint

PROCESSOR = "multimodal_meta_processor"  # the folder MultimodalHugs' setup saves its processor to


@dataclass
class TrainerState:
    """What Hugging Face's Trainer says of a training in `trainer_state.json` (the parts we read)."""

    best_checkpoint: Optional[str]  # its best_model_checkpoint: a folder path
    best_metric: Optional[float]
    global_step: Optional[int]
    epoch: Optional[float]  # where training stopped
    log_history: list[dict]  # one entry per logged step: loss, eval_sacrebleu, ...

    @property
    def best_step(self) -> Optional[int]:
        return checkpoint_step(self.best_checkpoint)


def checkpoint_step(checkpoint: Optional[str]) -> Optional[int]:
    """The step of a `.../checkpoint-<step>` path; None for none or another name (checkpoint-best)."""
    step = (checkpoint or "").rsplit("-", 1)[-1]
    return int(step) if step.isdigit() else None


def trainer_state(train_dir: Path) -> Optional[TrainerState]:
    """The Trainer's state in `train_dir` (the train stage's `train/` folder), or None before its first save: the
    one reader of trainer_state.json (the train stage's marker, the checkpoint choice, the summary and its curves)."""
    path = Path(train_dir) / "trainer_state.json"
    if not path.exists():
        return None
    state = json.loads(path.read_text())
    return TrainerState(
        state.get("best_model_checkpoint"),
        state.get("best_metric"),
        state.get("global_step"),
        state.get("epoch"),
        state.get("log_history", []),
    )


def best_checkpoint(train_dir: Path) -> Path:
    """checkpoint-best if MultimodalHugs made it, else trainer_state's best, else the newest checkpoint."""
    if (train_dir / "checkpoint-best").is_dir():
        return train_dir / "checkpoint-best"
    state = trainer_state(train_dir)
    if state and state.best_checkpoint and Path(state.best_checkpoint).is_dir():
        return Path(state.best_checkpoint)
    newest = last_checkpoint(train_dir)
    if newest is None:
        raise UserError(f"no checkpoint in {train_dir}: did the train stage finish?")
    return newest


def processor_dir(model_dir: Path) -> Path:
    """The processor MultimodalHugs' setup saved for this model (its actors_paths.yaml says where)."""
    import yaml

    actors = Path(model_dir) / "setup" / "actors_paths.yaml"
    if actors.exists():
        recorded = (yaml.safe_load(actors.read_text()) or {}).get("processor_name_or_path")
        if recorded and Path(recorded).is_dir():
            return Path(recorded)
    folder = Path(model_dir) / "setup" / PROCESSOR
    if not folder.is_dir():
        raise UserError(f"{model_dir}: no processor in setup/ (MultimodalHugs' setup did not finish)")
    return folder
