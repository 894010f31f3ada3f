"""`submit --trial`: the original pipeline's dry run (10 examples per split, 10 CPU training steps, evaluation and
saving every 5, batch size 1) run for real under `<run>.trial`, apart from the real run's jobs and data."""

import json
import subprocess
import sys

import pytest

from conftest import PROJECT, needs_mediapipe, needs_trainer, output_dir, plan_of, run_in, submit

MAKE_TREE = """
import sys
from pipeline.stages.sample_data import generate
generate(sys.argv[1], (12, 4, 4), frames=8)
"""


def test_trial_on_a_gpu_cluster_asks_for_no_gpu_and_says_what_the_real_run_needs(tmp_path):
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "pipeline.submit",
            "config/phoenix.yaml",
            "--trial",
            "--dry-run",
            "--quiet",
            "--profile",
            "uzh",
            "--set",
            f"dataset.root={tmp_path}",
            "--jobs-dir",
            str(tmp_path / "jobs"),
        ],
        capture_output=True,
        text=True,
        cwd=PROJECT,
    )
    assert proc.returncode == 0, proc.stderr
    scripts = tmp_path / "jobs" / "dry-run" / "uzh" / "phoenix.trial"
    for stage, time_limit in (("train", "01:00:00"), ("translate", "00:30:00")):
        text = (scripts / f"{stage}.sbatch").read_text()
        assert "--gpus" not in text and " --nv " not in text and f"#SBATCH --time={time_limit}" in text
    spec = json.loads(next((scripts / "specs").glob("train-*.json")).read_text())
    assert (
        spec["training"]["max_steps"],
        spec["training"]["eval_steps"],
        spec["training"]["batch_size"],
        spec["use_gpu"],
    ) == (10, 5, 1, False)
    # the real run (phoenix.yaml on uzh): train 24 h + translate 12 h on a GPU
    assert "the real run will ask for 6 job(s)" in proc.stdout and "36 GPU hours requested" in proc.stdout


@pytest.mark.slow
@needs_mediapipe
@needs_trainer
def test_trial_runs_for_real_apart_from_the_real_run(tmp_path):
    tree = tmp_path / "PHOENIX-2014-T"
    run_in("mediapipe", MAKE_TREE, str(tree))
    common = (
        "--set",
        f"dataset.root={tree}",
        "--set",
        "model.pretrained_backbone=tiny-m2m100",  # no hub in tests
        "--set",
        "evaluate.bleurt_checkpoint=tiny-bleurt",
    )
    proc = submit("config/phoenix.yaml", tmp_path, "--trial", *common)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "trial passed; the real run will ask for 6 job(s)" in proc.stdout
    assert (tmp_path / "jobs" / "phoenix.trial" / "train.sbatch").exists()
    manifests = output_dir(tmp_path, "phoenix.trial", "prepare")
    assert [len((manifests / f"{s}.tsv").read_text().splitlines()) - 1 for s in ("train", "validation", "test")] == [
        10,
        4,
        4,
    ]
    train = output_dir(tmp_path, "phoenix.trial", "train")
    state = json.loads((train / "train" / "trainer_state.json").read_text())
    assert state["global_step"] == 10 and state["train_batch_size"] == 1
    assert [h["step"] for h in state["log_history"] if "eval_loss" in h] == [5, 10]
    scores = output_dir(tmp_path, "phoenix.trial", "evaluate")
    assert (scores / "test_score.bleu").exists()
    assert json.loads((scores / "test_score.bleurt").read_text())["score"] is not None  # the tiny BLEURT ran
    trial_markers = {p: p.stat().st_mtime_ns for p in (tmp_path / "data").rglob(".done*.json")}

    real = submit("config/phoenix.yaml", tmp_path, *common, "--until", "prepare")
    assert real.returncode == 0, real.stdout + real.stderr
    trial_plan, real_plan = plan_of(tmp_path, "phoenix.trial"), plan_of(tmp_path, "phoenix")
    assert trial_plan["runs"]["phoenix.trial"]["prepare"] != real_plan["runs"]["phoenix"]["prepare"]
    assert "complete, skipped" not in real.stdout and (tmp_path / "jobs" / "phoenix" / "prepare.sbatch").exists()
    assert len((output_dir(tmp_path, "phoenix", "prepare") / "train.tsv").read_text().splitlines()) - 1 == 12
    assert {p: p.stat().st_mtime_ns for p in trial_markers} == trial_markers  # the trial's outputs untouched
