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
from pipeline.stages.specs import TranslateSpec
from pipeline.stages.train import mmh_command, run_mmh


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
    argv = [
        mmh_command("multimodalhugs-generate"),
        "--task",
        "translation",
        "--config_path",
        str(model_dir / "config.yaml"),
        "--metric_name",
        "sacrebleu",
        "--generate_output_dir",
        str(out),
        "--output_dir",
        str(out),
        "--setup_path",
        str(model_dir / "setup"),
        "--model_name_or_path",
        str(checkpoint),
        "--num_beams",
        str(spec.translate.num_beams),
        "--per_device_eval_batch_size",
        str(spec.translate.batch_size),
        "--report_to",
        "none",
    ]
    if not spec.use_gpu:
        argv.append("--use_cpu")
    run_mmh(argv, "multimodalhugs-generate")
    hyps = out / "generated_predictions.txt"
    if not hyps.exists():
        raise UserError(f"multimodalhugs-generate wrote no {hyps}")
    return {"checkpoint": str(checkpoint), "hypotheses": len(hyps.read_text().split("\n"))}


if __name__ == "__main__":
    stage_main(run)
