"""translate: the best checkpoint of a trained model → `generated_predictions.txt` for the test split.

Runs `multimodalhugs-generate --task translation` with beam search. Hypotheses keep the test TSV's order; the
references are taken by evaluate from the TSV's `output` column (not from the `L [i]` lines MultimodalHugs
writes, which keep the decoder prompt's language token, e.g. `de guten abend`).
"""

from __future__ import annotations

import json
from pathlib import Path

from pipeline.errors import UserError
from pipeline.stages.entry import stage_main
from pipeline.stages.mmh_commands import generate_args, mmh_command, run_mmh
from pipeline.stages.specs import TranslateSpec


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


def run(spec: TranslateSpec) -> dict:
    """Translate the test split."""
    out, model_dir = Path(spec.output_dir), Path(spec.train_dir)
    checkpoint = best_checkpoint(model_dir / "train")
    settings = spec.translate
    argv = [
        mmh_command("multimodalhugs-generate"),
        *generate_args(
            model_dir / "config.yaml",
            model_dir / "setup",
            checkpoint,
            out,
            settings.num_beams,
            settings.batch_size,
            spec.use_gpu,
        ),
    ]
    run_mmh(argv, "multimodalhugs-generate")
    hyps = out / "generated_predictions.txt"
    if not hyps.exists():
        raise UserError(f"multimodalhugs-generate wrote no {hyps}")
    return {"checkpoint": str(checkpoint), "hypotheses": len(hyps.read_text().split("\n"))}


if __name__ == "__main__":
    stage_main(run)
