"""Translating new inputs with a finished run's model, for `python -m pipeline.translate`, in the trainer's image.

1. Every pose (a given `.pose`, or what estimate_inputs wrote) is checked and prepared by preprocess's own code
   (pose_checks.check_pose_file: the header against the run's pose type, several people reduced to the signer,
   header names renamed for pose-format), and its features per frame are counted as MultimodalHugs counts them:
   they must be what the model takes.
2. One TSV row per input, in order, with the run's prompts and a placeholder `output` cell (MultimodalHugs'
   generate fails on rows without one); the whole file, no segment.
3. MultimodalHugs' setup builds the dataset of that TSV alone (`--do_dataset true`, in a fresh folder: generate
   reads no TSV itself, only a dataset setup built), from the run's own config with its data section replaced.
4. Generate with the run's selected checkpoint, its processor (normalisation and feature layout) and its beam
   settings, as the translate stage does.

Results, written last and atomically: `<out>/translations.tsv` (input, translation) and `<out>/translation.json`
(the run, the checkpoint, the prompts, timings). A bad input stops the job in one line (`error: INPUT: why`, exit 2).

    python -m pipeline.stages.translate_inputs --spec <out>/spec.json
"""

from __future__ import annotations

import argparse
import csv
import json
import socket
import sys
import time
from pathlib import Path

from pipeline.errors import UserError
from pipeline.pose_types import POSE_TYPES
from pipeline.stages.entry import Interrupted
from pipeline.stages.markers import DONE, atomic_path, write_json
from pipeline.stages.new_inputs import REPORT, RESULTS, InputsSpec, read_spec
from pipeline.stages.scoring import read_hypotheses
from pipeline.stages.trained_model import processor_dir

PLACEHOLDER = "-"  # the `output` cell of a row to translate: generate needs one, nothing reads it


class GenerationFailed(Exception):
    """MultimodalHugs failed (not the inputs): exit 1, the log keeps its output."""


def prepare_poses(spec: InputsSpec) -> list[dict]:
    """Check and prepare every input's pose; its TSV row (UserError naming the input when it cannot be used)."""
    from pipeline.stages.pose_checks import check_pose_file, measure_feat_dim

    reduce_holistic = POSE_TYPES[spec.pose_type].reduce_holistic
    measured: dict[tuple, int] = {}  # features per frame, per header
    rows = []
    for item in spec.inputs:
        source = spec.pose_of(item)
        if not source.exists():
            raise UserError(f"{item.path}: no pose ({source} is missing: did the estimation job finish?)")
        copy = spec.work_dir / "poses" / f"{item.name}.pose"
        checked = check_pose_file(source, copy, spec.pose_type, 0.0, item.name)
        if checked.problem:
            problem = checked.problem.removesuffix(f" in {source}")
            raise UserError(f"{item.path}: not a {spec.pose_type} pose file, which this model takes: {problem}")
        if checked.signature not in measured:
            measured[checked.signature] = measure_feat_dim(checked.path, reduce_holistic)
        if measured[checked.signature] != spec.feat_dim:
            raise UserError(
                f"{item.path}: gives {measured[checked.signature]} features per frame; this model takes "
                f"{spec.feat_dim} (its pose type's header, as the run was trained on)"
            )
        if checked.people > 1:
            print(f"{item.path}: {checked.people} people; reduced to the signer's track", flush=True)
        rows.append(
            {
                "signal": checked.path,
                "signal_start": 0,
                "signal_end": 0,
                "encoder_prompt": spec.encoder_prompt,
                "decoder_prompt": spec.decoder_prompt,
                "output": PLACEHOLDER,
            }
        )
    return rows


def inputs_config(model_dir: Path, tsv: Path, target: Path) -> Path:
    """The run's MultimodalHugs config with its data section replaced by the inputs' TSV as the test split."""
    import yaml

    config = yaml.safe_load((model_dir / "config.yaml").read_text())
    config["data"] = {"dataset_type": "pose2text", "test_metadata_file": str(tsv)}
    target.write_text(yaml.safe_dump(config, sort_keys=False, allow_unicode=True))
    return target


def generate(spec: InputsSpec, rows: list[dict]) -> tuple[list[str], dict]:
    """Setup of the inputs' dataset, then generate; the translations in input order, and the seconds of each."""
    from pipeline.stages.mmh_commands import dataset_setup_args, generate_args, mmh_command, run_mmh
    from pipeline.stages.mmh_tsv import write_tsv

    work, model_dir = spec.work_dir, Path(spec.model_dir)
    tsv = work / "inputs.tsv"
    write_tsv(tsv, rows)
    config = inputs_config(model_dir, tsv, work / "config.yaml")
    setup, out = work / "setup", work / "generate"
    started = time.time()
    run_mmh([mmh_command("multimodalhugs-setup"), *dataset_setup_args(config, setup)], "multimodalhugs-setup")
    setup_done = time.time()
    argv = generate_args(
        config,
        setup,
        Path(spec.checkpoint),
        out,
        spec.num_beams,
        spec.batch_size,
        spec.use_gpu,
        processor=processor_dir(model_dir),
    )
    run_mmh([mmh_command("multimodalhugs-generate"), *argv], "multimodalhugs-generate")
    hyps = read_hypotheses(out / "generated_predictions.txt")
    if len(hyps) != len(rows):
        raise UserError(f"multimodalhugs-generate wrote {len(hyps)} translations for {len(rows)} inputs ({out})")
    return hyps, {"setup": round(setup_done - started, 3), "generate": round(time.time() - setup_done, 3)}


def write_results(spec: InputsSpec, rows: list[dict], hyps: list[str], timings: dict) -> None:
    out = Path(spec.out)
    with atomic_path(out / RESULTS) as tmp, open(tmp, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, delimiter="\t", lineterminator="\n")
        writer.writerow(["input", "translation"])
        writer.writerows((item.path, hyp) for item, hyp in zip(spec.inputs, hyps))
    estimated = spec.estimated_dir / DONE
    estimate_s = json.loads(estimated.read_text()).get("seconds") if estimated.exists() else None
    timings = {"estimate": estimate_s, **timings}
    timings["total"] = round(sum(v for v in timings.values() if v), 3)
    report = {
        "run": spec.run,
        "run_dir": spec.run_dir,
        "checkpoint": spec.checkpoint,
        "pose_type": spec.pose_type,
        "encoder_prompt": spec.encoder_prompt,
        "decoder_prompt": spec.decoder_prompt,
        "num_beams": spec.num_beams,
        "git_commit": spec.git_commit,
        "host": socket.gethostname(),
        "finished": time.time(),
        "timings_s": timings,
        "translations": [
            {"input": item.path, "kind": item.kind, "pose": row["signal"], "translation": hyp}
            for item, row, hyp in zip(spec.inputs, rows, hyps)
        ],
    }
    write_json(out / REPORT, report)


def run(spec: InputsSpec) -> None:
    """Prepare the poses, set up their dataset, generate, write the results."""
    started = time.time()
    rows = prepare_poses(spec)
    prepared = round(time.time() - started, 3)
    print(f"prepared {len(rows)} pose(s) in {prepared:.1f}s", flush=True)
    try:
        hyps, timings = generate(spec, rows)
    except UserError as exc:  # run_mmh: a MultimodalHugs command failed; its output is in this log
        raise GenerationFailed(str(exc)) from None
    write_results(spec, rows, hyps, {"prepare": prepared, **timings})
    print(f"translated {len(hyps)} input(s): {Path(spec.out) / RESULTS}", flush=True)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Translate new inputs with a run's model (pipeline.translate's job).")
    parser.add_argument("--spec", required=True, help="the spec.json pipeline.translate wrote")
    args = parser.parse_args(argv)
    try:
        run(read_spec(Path(args.spec)))
    except UserError as exc:
        print(f"error: {exc}", file=sys.stderr, flush=True)
        sys.exit(2)
    except GenerationFailed as exc:
        print(f"failed: {exc}", file=sys.stderr, flush=True)
        sys.exit(1)
    except Interrupted as exc:
        print(f"translate_inputs: interrupted ({exc}); run the job again", file=sys.stderr, flush=True)
        sys.exit(1)


if __name__ == "__main__":
    main()
