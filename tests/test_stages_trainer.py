"""train → translate → evaluate with the real MultimodalHugs (trainer venv), on the demo config, plus
idempotent resubmission, seeded setup, repeatability sweeps, summaries and resuming a preempted train job."""

import json
import os
import re
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from pipeline.stages.mmh_config import mmh_config

from conftest import (
    PROJECT,
    assert_scored_as_written,
    first_progress,
    needs_mediapipe,
    needs_trainer,
    output_dir,
    plan_of,
    run_in,
    submit,
    wait_for,
)

pytestmark = [needs_mediapipe, needs_trainer]


@pytest.fixture
def demo(smoke_run) -> Path:
    """The session's smoke run (conftest.smoke_run), shared with other modules: these tests add runs beside it, or
    remove an output and submit again, which makes it anew."""
    return smoke_run


def markers(work: Path, run: str) -> dict[str, int]:
    plan = plan_of(work, run)
    out = {}
    for stage, job_id in plan["runs"][run].items():
        for marker in Path(plan["jobs"][job_id]["output_dir"]).glob(".done*.json"):
            out[f"{stage}/{marker.name}"] = marker.stat().st_mtime_ns
    return out


def compare_weights(a: Path, b: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "pipeline.compare_weights", str(a), str(b)], capture_output=True, text=True, cwd=PROJECT
    )


def test_demo_chain_leaves_checkpoint_predictions_and_scores(demo):
    train = output_dir(demo, "smoke", "train")
    assert (train / "train" / "checkpoint-best").is_dir() and (train / "setup" / "actors_paths.yaml").exists()
    config = (train / "config.yaml").read_text()
    assert "dataset_type: pose2text" in config and "feat_dim: 534" in config
    hyps = (output_dir(demo, "smoke", "translate") / "generated_predictions.txt").read_text().split("\n")
    assert len(hyps) == 4
    scores = output_dir(demo, "smoke", "evaluate")
    bleu = json.loads((scores / "test_score.bleu").read_text())
    chrf = json.loads((scores / "test_score.chrf").read_text())
    assert bleu["name"] == "BLEU" and "nrefs:1|case:mixed" in bleu["signature"] and chrf["name"].startswith("chrF")
    assert_scored_as_written(output_dir(demo, "smoke", "translate"), scores, 4)
    prov = json.loads((demo / "jobs" / "smoke" / "provenance" / "smoke.json").read_text())
    assert prov["config"]["training"]["seed"] == 42 and prov["config_hash"] == plan_of(demo, "smoke")["config_hash"]
    assert prov["runtime"] == "venv" and set(prov["stages"]) == {
        "prepare",
        "estimate",
        "preprocess",
        "train",
        "translate",
        "evaluate",
    }
    assert all(len(str(r["score"]).split(".")[-1]) <= 3 for r in (bleu, chrf))
    assert bleu["verbose_score"].count(".") >= 4  # sacrebleu's -w 3 form: three decimals where it rounds
    train_facts = prov["stages"]["train"]
    assert train_facts["image"] == "trainer" and train_facts["tasks"][0]["host"]
    assert any(line.startswith("transformers==4.44.2") for line in train_facts["environment"])


def test_second_submit_of_a_finished_run_does_no_work(demo):
    before = markers(demo, "smoke")
    proc = submit("config/smoke.yaml", demo)
    assert proc.returncode == 0
    assert proc.stdout.count("complete, skipped") == 6 and "running" not in proc.stdout.split("running locally:")[1]
    assert markers(demo, "smoke") == before


def test_deleting_the_evaluation_reruns_only_evaluate(demo):
    before = markers(demo, "smoke")
    shutil.rmtree(output_dir(demo, "smoke", "evaluate"))
    proc = submit("config/smoke.yaml", demo)
    assert proc.returncode == 0
    ran = [line.split(":")[0].strip() for line in proc.stdout.splitlines() if ": running" in line]
    assert len(ran) == 1 and ran[0].startswith("evaluate/")
    after = markers(demo, "smoke")
    assert {k: v for k, v in after.items() if not k.startswith("evaluate")} == {
        k: v for k, v in before.items() if not k.startswith("evaluate")
    }
    assert (output_dir(demo, "smoke", "evaluate") / "test_score.bleu").exists()


@pytest.mark.slow
def test_repeatability_sweep_gives_identical_weights_predictions_and_bleu(demo):
    proc = submit("config/sweeps/smoke_repeatability.yaml", demo)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout.count("complete, skipped") >= 3  # shares the demo's data stages
    run_dir = demo / "jobs" / "smoke_repeatability"
    plan = plan_of(demo, "smoke_repeatability")
    trains = [Path(plan["jobs"][plan["runs"][f"smoke+replicate.{i}"]["train"]]["output_dir"]) for i in (1, 2, 3)]
    assert len(set(trains)) == 3  # three separate models
    result = compare_weights(trains[0], trains[1])
    assert result.returncode == 0 and "identical" in result.stdout, result.stdout + result.stderr
    preds = {
        (
            Path(plan["jobs"][plan["runs"][f"smoke+replicate.{i}"]["translate"]]["output_dir"])
            / "generated_predictions.txt"
        ).read_text()
        for i in (1, 2, 3)
    }
    assert len(preds) == 1
    summary = subprocess.run(
        [sys.executable, "-m", "pipeline.summarize", str(run_dir)], capture_output=True, text=True, cwd=PROJECT
    )
    assert summary.returncode == 0, summary.stderr
    assert "3 runs" in summary.stdout and "max − min 0.000" in summary.stdout
    assert "identical initial weights: yes" in summary.stdout and "stopped at epochs " in summary.stdout
    assert (run_dir / "summary.png").stat().st_size > 1000 and (run_dir / "summary.tsv").exists()


def test_a_train_job_on_two_cpu_processes_sets_up_once_and_only_rank_0_logs_and_writes(demo):
    proc = submit("config/smoke.yaml", demo, "--set", "name=two", "--set", "training.nproc_per_node=2")
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "2 (1 × 2, ddp)" in proc.stdout and "4 (2 × 1 × 2)" in proc.stdout  # the plan table
    train = output_dir(demo, "two", "train")
    log = next((demo / "jobs" / "two" / "logs").glob("train-*.out")).read_text(errors="replace")
    assert log.count("multimodalhugs-setup --modality") == 1  # set up once, before torchrun
    assert re.search(
        r"torchrun: 2 processes \(1 node\(s\) × 2, ddp, gloo\), \d+ torch thread\(s\) each; batch 2 per "
        r"device × accumulation 1 × 2 processes = effective batch 4",
        log,
    ), log[-3000:]
    assert log.count("MultiModalEmbedderModel(") == 1  # every process builds the model, rank 0 alone prints it
    final = train / "train" / "checkpoint-20"
    assert (final / "rng_state_0.pth").exists() and (final / "rng_state_1.pth").exists()  # both processes saved
    marker = json.loads((train / ".done.json").read_text())
    assert marker["processes"] == 2 and marker["global_step"] == 20
    assert (output_dir(demo, "two", "evaluate") / "test_score.bleu").exists()


def test_a_different_seed_gives_different_mapper_weights(demo):
    proc = submit("config/smoke.yaml", demo, "--set", "training.seed=7", "--set", "name=demo-seed7", "--until", "train")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    result = compare_weights(output_dir(demo, "smoke", "train"), output_dir(demo, "demo-seed7", "train"))
    assert result.returncode == 1 and "NOT identical" in result.stdout
    assert "multimodal_mapper" in result.stdout and "max |diff|" in result.stdout


def test_references_read_by_mmh_carry_no_language_token(demo):
    """The tiny tokenizer marks `__de__` special, as facebook/m2m100_418M does: decoded labels are the references
    themselves (before, every line began with "de", and so did every hypothesis, which cost BLEU)."""
    labels = [
        line.split("\t", 1)[1]
        for line in (output_dir(demo, "smoke", "translate") / "predictions_labels.txt").read_text().splitlines()
        if line.startswith("L [")
    ]
    references = [
        row.split("\t")[-1]
        for row in (output_dir(demo, "smoke", "preprocess") / "test.tsv").read_text().splitlines()[1:]
    ]
    assert labels == references


def test_summary_prints_three_decimals_and_draws_the_training_curve(demo):
    summary = subprocess.run(
        [sys.executable, "-m", "pipeline.summarize", str(demo / "jobs" / "smoke")],
        capture_output=True,
        text=True,
        cwd=PROJECT,
    )
    assert summary.returncode == 0, summary.stderr
    header, row = summary.stdout.splitlines()[:2]
    bleu = row.split()[header.split().index("bleu")]
    expected = json.loads((output_dir(demo, "smoke", "evaluate") / "test_score.bleu").read_text())["score"]
    assert bleu == f"{expected:.3f}"
    curve = demo / "jobs" / "smoke" / "curves" / "smoke.png"
    assert curve.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and "curves/smoke.png" in summary.stdout


def test_summary_shows_failed_runs(demo):
    proc = submit(
        "config/smoke.yaml",
        demo,
        "--set",
        "name=demo-broken",
        "--set",
        "training.seed=99",
        env={"PIPELINE_FAIL_STAGE": "train"},
    )
    assert proc.returncode == 1 and "FAILED: train/" in proc.stdout
    summary = subprocess.run(
        [sys.executable, "-m", "pipeline.summarize", str(demo / "jobs" / "demo-broken"), "--no-plot"],
        capture_output=True,
        text=True,
        cwd=PROJECT,
    )
    assert summary.returncode == 0, summary.stderr
    assert summary.stdout.splitlines()[1].split()[-1] == "failed"


@pytest.mark.slow
def test_preempted_train_job_resumes_from_its_last_checkpoint(demo):
    train = output_dir(demo, "smoke", "train")
    shutil.rmtree(train / "train" / "checkpoint-20")
    for name in ("checkpoint-best", "checkpoint-last", "trainer_state.json", ".done.json"):
        path = (train / "train" / name) if name != ".done.json" else (train / name)
        shutil.rmtree(path) if path.is_dir() else path.unlink(missing_ok=True)
    kept = (train / "train" / "checkpoint-10" / "model.safetensors").stat().st_mtime_ns
    script = demo / "jobs" / "smoke" / "train.sbatch"
    proc = subprocess.run(["bash", str(script)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "setup already done" in proc.stdout
    assert (train / "train" / "checkpoint-20").is_dir() and (train / ".done.json").exists()
    # training restarted from scratch would have saved checkpoint-10 again
    assert (train / "train" / "checkpoint-10" / "model.safetensors").stat().st_mtime_ns == kept


def test_evaluate_fails_loudly_when_counts_differ(tmp_path):
    (tmp_path / "t").mkdir()
    (tmp_path / "t" / "generated_predictions.txt").write_text("a\nb")
    (tmp_path / "test.tsv").write_text(
        "signal\tsignal_start\tsignal_end\tencoder_prompt\tdecoder_prompt\toutput\nx\t0\t0\t__dgs__\t__de__\ta\n"
    )
    spec = {
        "stage": "evaluate",
        "key": "k",
        "output_dir": str(tmp_path / "e"),
        "translate_dir": str(tmp_path / "t"),
        "references": str(tmp_path / "test.tsv"),
        "evaluate": {"bleurt_checkpoint": None},
        "translate": "t",
        "cache_dir": str(tmp_path / "cache"),
    }
    (tmp_path / "spec.json").write_text(json.dumps(spec))
    proc = run_in(
        "trainer",
        "from pipeline.stages.evaluate import run; from pipeline.stages.entry import stage_main;stage_main(run)",
        "--spec",
        str(tmp_path / "spec.json"),
        check=False,
    )
    assert proc.returncode == 2
    assert (
        f"{tmp_path}/t/generated_predictions.txt has 2 hypotheses but {tmp_path}/test.tsv has 1 references"
        in proc.stderr
    )


def test_mmh_config_has_v054_layout_and_the_hyperparameters():
    from pipeline.stages.specs import load_spec

    spec = load_spec(
        {
            "stage": "train",
            "key": "k",
            "output_dir": "/o",
            "run_name": "r",
            "reduce_holistic": True,
            "model": {"mapper_dropout": 0.1, "backbone_type": "m2m_100", "max_frames": 300},
            "training": {
                "early_stopping_patience": 10,
                "eval_steps": 128,
                "batch_size": 8,
                "label_smoothing_factor": 0.1,
                "gradient_accumulation_steps": 3,
                "learning_rate": 1e-5,
                "dataloader_num_workers": 2,
                "max_steps": 500000,
                "warmup_steps": 500,
                "save_total_limit": 10,
                "seed": 42,
                "fp16": True,
                "extra": {"weight_decay": 0.01},
            },
            "preprocess": "p",
            "replicate": 0,
            "preprocess_dir": "/d",
            "cache_dir": "/c",
            "use_gpu": True,
            "max_requeues": 5,
            "encoder_prompt": "__dgs__",
        },
        "test",
    )
    cfg = mmh_config(
        spec,
        backbone="facebook/m2m100_418M",
        tokenizer="facebook/m2m100_418M",
        feat_dim=534,
        tsv_dir="/d",
        encoder_prompt="__dgs__",
        use_gpu=True,
    )
    assert cfg["data"]["dataset_type"] == "pose2text" and cfg["data"]["test_metadata_file"] == "/d/test.tsv"
    assert "max_frames" not in cfg["data"]  # preprocess filters: MMH's setup must not read every pose file again
    slots = cfg["processor"]["slots"]
    assert slots[0]["processor_class"] == "PoseModalityProcessor"
    assert slots[0]["processor_kwargs"] == {"reduce_holistic_poses": True}
    assert [s["output_data_key"] for s in slots] == ["input_frames", "labels", "encoder_prompt", "decoder_input_ids"]
    assert all(s["processor_kwargs"]["new_vocabulary"] == "__dgs__" for s in slots[1:])
    t = cfg["training"]
    assert (t["metric_name"], t["metric_for_best_model"], t["load_best_model_at_end"]) == (
        "sacrebleu,chrf",
        "sacrebleu",
        True,
    )
    assert (t["fp16"], t["seed"], t["save_steps"], t["weight_decay"]) == (True, 42, 128, 0.01)
    assert cfg["model"]["feat_dim"] == 534 and cfg["model"]["multimodal_mapper_layer_norm_before"] is True
    cpu = mmh_config(spec, backbone="b", tokenizer="b", feat_dim=1, tsv_dir="/d", encoder_prompt="x", use_gpu=False)
    assert cpu["training"]["fp16"] is False


EVALUATE = """
import json, sys
from pipeline.stages.evaluate import run
from pipeline.stages.specs import load_spec
spec = load_spec(json.loads(sys.argv[1]), "test")
print(json.dumps({"result": run(spec)}))
"""


@pytest.mark.parametrize("checkpoint", ["tiny-bleurt", "/nowhere/BLEURT-20"])
def test_evaluate_writes_bleurt_or_says_in_one_line_why_not(demo, tmp_path, checkpoint):
    spec = {
        "stage": "evaluate",
        "key": "k",
        "translate": "t",
        "output_dir": str(tmp_path),
        "translate_dir": str(output_dir(demo, "smoke", "translate")),
        "references": str(output_dir(demo, "smoke", "preprocess") / "test.tsv"),
        "evaluate": {"bleurt_checkpoint": checkpoint},
        "cache_dir": str(tmp_path / "cache"),
    }
    proc = run_in("trainer", EVALUATE, json.dumps(spec))
    bleurt = json.loads((tmp_path / "test_score.bleurt").read_text())
    assert (tmp_path / "test_score.bleu").exists() and (tmp_path / "test_score.chrf").exists()
    bleu = json.loads((tmp_path / "test_score.bleu").read_text())  # n-gram matches beside the score
    assert len(bleu["counts"]) == len(bleu["totals"]) == 4 and all(
        c <= t for c, t in zip(bleu["counts"], bleu["totals"])
    )
    if checkpoint == "tiny-bleurt":  # random weights: a number, nothing more
        assert isinstance(bleurt["score"], float) and proc.result["bleurt"] == bleurt["score"]
        assert "BLEURT = " in proc.stdout
    else:
        assert bleurt["score"] is None and bleurt["missing"]
        lines = [line for line in proc.stdout.splitlines() if "BLEURT" in line]
        assert len(lines) == 1 and lines[0].startswith(f"BLEURT missing: cannot load {checkpoint}")
        assert "pipeline.fetch_models" in lines[0]


def test_summary_marks_a_missing_bleurt_without_failing_the_run(demo, tmp_path):
    evaluate = output_dir(demo, "smoke", "evaluate")
    (evaluate / "test_score.bleurt").write_text(json.dumps({"name": "BLEURT", "score": None, "missing": "offline"}))
    try:
        summary = subprocess.run(
            [sys.executable, "-m", "pipeline.summarize", str(demo / "jobs" / "smoke"), "--no-plot"],
            capture_output=True,
            text=True,
            cwd=PROJECT,
        )
    finally:
        (evaluate / "test_score.bleurt").unlink()
    header, row = summary.stdout.splitlines()[:2]
    assert row.split()[header.split().index("bleurt")] == "missing" and row.split()[-1] == "finished"


def test_gpu_check_runs_its_cpu_path(demo, tmp_path):
    """benchmarks/gpu_check.py on the CPU at tiny sizes: the same code a GPU run takes, minus CUDA."""
    out = tmp_path / "gpu_check.json"
    proc = subprocess.run(
        [
            str(PROJECT / ".venvs" / "trainer" / "bin" / "python"),
            "benchmarks/gpu_check.py",
            "--quick",
            "--device",
            "cpu",
            "--steps",
            "4",
            "--out",
            str(out),
            "--preprocess",
            str(output_dir(demo, "smoke", "preprocess")),
        ],
        capture_output=True,
        text=True,
        cwd=PROJECT,
        timeout=900,
    )
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    result = json.loads(out.read_text())
    assert [(r["precision"], r["steps"], r["produced_predictions"]) for r in result["demo"]] == [("fp32", 4, True)]
    assert all(rate > 0 for rate in result["loader_examples_per_s"].values())
    assert result["model"][0]["examples_per_s"] > 0 and "input-bound with 2 workers (CPU)" in proc.stdout


@pytest.mark.slow
def test_usr1_to_the_job_script_saves_a_checkpoint_and_the_rerun_resumes_from_it(demo, tmp_path):
    """SLURM's warning before the time limit (B:USR1@90) reaches the batch shell; it passes it on, training saves
    a checkpoint mid-way and stops (exit 75, no marker); the job run again resumes from that checkpoint."""
    proc = submit(
        "config/smoke.yaml",
        demo,
        "--set",
        "name=interrupted",
        "--set",
        "training.max_steps=400",
        "--set",
        "training.eval_steps=200",
        "--until",
        "train",
        "--dry-run",
        "--quiet",
    )
    assert proc.returncode == 0, proc.stderr
    script = demo / "jobs" / "dry-run" / "local" / "interrupted" / "train.sbatch"
    plan = json.loads((script.parent / "plan.json").read_text())
    train = Path(plan["jobs"][plan["runs"]["interrupted"]["train"]]["output_dir"])
    log = tmp_path / "train.log"
    env = {**os.environ, "SLURM_JOB_ID": "local"}
    with open(log, "w") as out:
        job = subprocess.Popen(["bash", str(script)], stdout=out, stderr=subprocess.STDOUT, env=env)
        wait_for(
            lambda: max(map(int, re.findall(r" (\d+)/400 \[", log.read_text(errors="replace"))), default=0) >= 20,
            "20 training steps",
        )
        job.send_signal(signal.SIGUSR1)
        assert job.wait(timeout=300) == 75
    text = log.read_text(errors="replace")
    saved = [int(p.name.split("-")[1]) for p in (train / "train").glob("checkpoint-[0-9]*")]
    assert len(saved) == 1 and 20 <= saved[0] < 200, saved  # saved on the signal, before any eval step
    assert "SIGUSR1: saving checkpoint" in text and "could not requeue (not a SLURM job)" in text
    assert not (train / ".done.json").exists()

    with open(log, "a") as out:
        assert (
            subprocess.run(["bash", str(script)], stdout=out, stderr=subprocess.STDOUT, env=env, timeout=600).returncode
            == 0
        )
    state = json.loads((train / "train" / "trainer_state.json").read_text())
    assert state["global_step"] == 400 and (train / ".done.json").exists()
    resumed = log.read_text(errors="replace")[len(text) :]
    assert first_progress(resumed, 400) >= saved[0]  # resumed from the saved step, not from 0
