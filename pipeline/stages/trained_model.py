"""What a finished train stage left behind, read the same way by everything that uses the model: the translate
stage, translating new inputs (pipeline/stages/translate_inputs.py) and the export (pipeline/export.py).

`<train output>/config.yaml` (the MultimodalHugs config), `setup/` (MultimodalHugs' setup: the processor, whose
configuration holds the pose normalisation and the feature layout, and its tokenizer), `train/` (checkpoints).
"""

from __future__ import annotations

import json
from pathlib import Path

from pipeline.errors import UserError

PROCESSOR = "multimodal_meta_processor"  # the folder MultimodalHugs' setup saves its processor to


def best_checkpoint(train_dir: Path) -> Path:
    """checkpoint-best if MultimodalHugs made it, else trainer_state's best, else the newest checkpoint."""
    if (train_dir / "checkpoint-best").is_dir():
        return train_dir / "checkpoint-best"
    state_file = train_dir / "trainer_state.json"
    if state_file.exists():
        best = json.loads(state_file.read_text()).get("best_model_checkpoint")
        if best and Path(best).is_dir():
            return Path(best)
    checkpoints = sorted(train_dir.glob("checkpoint-[0-9]*"), key=lambda p: int(p.name.split("-")[1]))
    if not checkpoints:
        raise UserError(f"no checkpoint in {train_dir}: did the train stage finish?")
    return checkpoints[-1]


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
