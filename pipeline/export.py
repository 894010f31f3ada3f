"""`python -m pipeline.export RUN OUT`: a finished run's model as a folder that MultimodalHugs alone can use, without
this project, to publish beside a paper or hand to a colleague.

    python -m pipeline.export jobs/demo exported/demo
    python -m pipeline.export jobs/sweep exported/seed7 --run phoenix+seed.7

OUT (new, or an empty folder) gets:

    model/          the selected checkpoint (the translate stage's): config, weights, generation config, tokenizer
    processor/      the run's MultimodalHugs processor: its configuration (normalisation, feature layout), tokenizer
    translate.yaml  what `multimodalhugs-setup --do_dataset true` and `multimodalhugs-generate` read: the dataset
                    type, the model and processor folders, `predict_with_generate`, the batch size and beams
    README.md       the model card (Hugging Face convention; pipeline/model_card.py): scores, pose type and header,
                    what inputs must get first, feature dimension, prompts, training, commit, machine, commands

Paths of the machine it was trained on (the backbone in the cache, the setup folder) are replaced by the backbone's
name in the copied configurations: nothing in the folder points outside it. The folder is written beside OUT and
renamed when complete, so an interrupted export leaves nothing behind. A run whose training never finished, or an
OUT that exists and is not empty, stops it in one line.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import tempfile
from pathlib import Path

import yaml

from pipeline.errors import UserError, run_cli
from pipeline.finished_run import FinishedRun, add_run_arguments, load_finished_run
from pipeline.keys import as_plain
from pipeline.model_card import CardFacts, model_card
from pipeline.paths import display_path
from pipeline.pose_types import POSE_TYPES
from pipeline.rundir import read_json
from pipeline.stages.trained_model import checkpoint_step, processor_dir

# what a checkpoint holds for resuming training only
TRAINING_STATE = ("optimizer.pt", "scheduler.pt", "trainer_state.json", "training_args.bin", "rng_state*.pth")
VERSIONS = ("torch", "transformers", "multimodalhugs", "pose_format", "pose-format")


def copy_model(checkpoint: Path, target: Path, backbone: str) -> None:
    """The checkpoint without its training state; config.json's local paths replaced by the backbone's name (with
    a backbone_config in it, MultimodalHugs never loads `pretrained_backbone` again)."""
    target.mkdir(parents=True)
    for path in sorted(checkpoint.iterdir()):
        if path.is_file() and not any(path.match(pattern) for pattern in TRAINING_STATE):
            shutil.copyfile(path, target / path.name)  # readable by all (the trainer writes some files 0600)
    config = json.loads((target / "config.json").read_text())
    config["_name_or_path"] = "model"
    if config.get("pretrained_backbone"):
        config["pretrained_backbone"] = backbone
    if isinstance(config.get("backbone_config"), dict):
        config["backbone_config"]["_name_or_path"] = backbone
    (target / "config.json").write_text(json.dumps(config, indent=2, sort_keys=True) + "\n")


def copy_processor(source: Path, target: Path, tokenizer: str) -> None:
    """The processor; its text slots' `tokenizer_path` (a folder of the training machine) becomes the tokenizer's
    name. Loading never reads it: the processor's own tokenizer, saved beside its configuration, serves every
    slot that shares the path."""
    shutil.copytree(source, target)
    config_file = target / "processor_config.json"
    config = json.loads(config_file.read_text())
    for slot in config.get("slots", []):
        kwargs = slot.get("processor_kwargs") or {}
        if "tokenizer_path" in kwargs:
            kwargs["tokenizer_path"] = tokenizer
    config_file.write_text(json.dumps(config, indent=2, ensure_ascii=False) + "\n")


def generate_config(run: FinishedRun) -> dict:
    settings = run.translate_settings
    return {
        "data": {"dataset_type": "pose2text", "test_metadata_file": "inputs.tsv"},
        "model": {"model_name_or_path": "model"},
        "processor": {"processor_name_or_path": "processor"},
        "training": {"predict_with_generate": True, "per_device_eval_batch_size": settings.batch_size},
        "generation": {"num_beams": settings.num_beams},
    }


def card_facts(run: FinishedRun) -> CardFacts:
    exp, pose_type = run.experiment, POSE_TYPES[run.experiment.estimate.estimator]
    preprocess_dir = run.output_dirs["preprocess"]
    prompts = read_json(preprocess_dir / "prompts.json") or {}
    scores = {}
    if "evaluate" in run.output_dirs:
        for name in ("bleu", "chrf"):
            result = read_json(run.output_dirs["evaluate"] / f"test_score.{name}")
            if result:
                scores[name] = result
    environment = run.model_dir / "environment.txt"
    versions = [
        line.strip()
        for line in (environment.read_text().splitlines() if environment.exists() else [])
        if line.split("==")[0].lower() in VERSIONS
    ]
    marker = run.train_marker
    training = {
        "estimate": {"estimator": exp.estimate.estimator, "settings": run.estimate.settings if run.estimate else {}},
        "preprocess": as_plain(exp.preprocess),
        "model": as_plain(exp.model),
        "training": {k: v for k, v in as_plain(exp.training).items() if k != "max_requeues"},
    }
    return CardFacts(
        run=run.name,
        dataset=exp.dataset.name,
        pose_type=pose_type.name,
        pose_layout=pose_type.layout,
        components=[list(c) for c in pose_type.components],
        point_format=pose_type.fmt,
        reduce_holistic=pose_type.reduce_holistic,
        feat_dim=run.feat_dim,
        encoder_prompts=prompts.get("encoder") or [run.preprocess.encoder_prompt],
        decoder_prompts=prompts.get("decoder") or [run.preprocess.decoder_prompt],
        backbone=exp.model.pretrained_backbone,
        backbone_type=exp.model.backbone_type,
        num_beams=run.translate_settings.num_beams,
        training=training,
        scores=scores,
        checkpoint=run.checkpoint.name,
        best_step=checkpoint_step(marker.get("best_checkpoint")),
        steps=marker.get("global_step"),
        epoch=marker.get("epoch"),
        git_commit=run.submission.git_commit,
        host=marker.get("host"),
        machine=marker.get("machine") or {},
        versions=versions,
    )


def export(run: FinishedRun, target: Path) -> None:
    """Write the folder into `target` (a new folder)."""
    backbone = run.experiment.model.pretrained_backbone
    copy_model(run.checkpoint, target / "model", backbone)
    copy_processor(processor_dir(run.model_dir), target / "processor", run.experiment.model.tokenizer or backbone)
    (target / "translate.yaml").write_text(
        "# what multimodalhugs-setup (--do_dataset true) and multimodalhugs-generate read: see README.md\n"
        + yaml.safe_dump(generate_config(run), sort_keys=False)
    )
    (target / "README.md").write_text(model_card(card_facts(run)))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m pipeline.export",
        description=__doc__.split("\n\n")[0].split(": ", 1)[1],
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="How to use the folder: its README.md; docs/use-a-model.md.",
    )
    add_run_arguments(parser)
    parser.add_argument("out", type=Path, help="the folder to write (new, or empty)")
    args = parser.parse_args(argv)
    out = args.out.expanduser().resolve()
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise UserError(f"{args.out}: exists and is not empty; give a new folder, an export never overwrites")
    run = load_finished_run(args.run, args.run_name)
    out.parent.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    try:
        export(run, scratch / "export")
        if out.exists():
            out.rmdir()
        os.rename(scratch / "export", out)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    print(f"exported {run.name} ({run.checkpoint.name}) to {display_path(out)}; how to use it: {out / 'README.md'}")
    return 0


if __name__ == "__main__":
    run_cli(main)
