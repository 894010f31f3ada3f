"""translate: the best checkpoint of a trained model → `generated_predictions.txt` for the test split.

Runs `multimodalhugs-generate --task translation` with beam search. Hypotheses keep the test TSV's order; the
references are taken by evaluate from the TSV's `output` column (not from the `L [i]` lines MultimodalHugs
writes, which keep the decoder prompt's language token, e.g. `de guten abend`).
"""

from __future__ import annotations

from pathlib import Path

from pipeline.errors import UserError
from pipeline.stages.entry import stage_main
from pipeline.stages.mmh_commands import generate_args, mmh_command, run_mmh
from pipeline.stages.specs import TranslateSpec
from pipeline.stages.trained_model import best_checkpoint


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
