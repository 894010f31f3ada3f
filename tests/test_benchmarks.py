"""The benchmarks run in CI-sized form (their speed targets are reported, not asserted: timing is not a test)."""

import json
import subprocess
import sys

import pytest

from conftest import PROJECT, needs_mediapipe, needs_trainer, output_dir


@needs_mediapipe
def test_estimate_benchmark_prints_its_table():
    proc = subprocess.run(
        [sys.executable, "benchmarks/estimate.py", "--clips", "2", "--frames", "8"],
        capture_output=True,
        text=True,
        cwd=PROJECT,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    rows = [line for line in proc.stdout.splitlines() if line.startswith("| (")]
    assert [r.split("|")[1].strip()[:3] for r in rows] == ["(a)", "(b)", "(b)", "(c)"]
    assert all(float(r.split("|")[2]) > 0 for r in rows)
    assert "targets:" in proc.stdout


def test_compose_benchmark_counts_the_54_point_search():
    proc = subprocess.run([sys.executable, "benchmarks/compose.py"], capture_output=True, text=True, cwd=PROJECT)
    assert proc.returncode == 0, proc.stderr
    assert "165 jobs" in proc.stdout and "'train': 54" in proc.stdout


@pytest.mark.slow
@needs_mediapipe
@needs_trainer
def test_learnability_benchmark_runs_each_axis_and_reports_the_spread(tmp_path):
    proc = subprocess.run(
        [
            sys.executable,
            "benchmarks/learnability.py",
            "--config",
            "config/smoke.yaml",
            "--seeds",
            "1",
            "--threads",
            "1",
            "--noise",
            "0.5",
            "--test-clips",
            "6",
            "--workdir",
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        cwd=PROJECT,
        timeout=900,
    )
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    report = json.loads((tmp_path / "learnability.json").read_text())
    assert [(r["seed"], r["threads"], r["poses"]) for r in report["runs"]] == [
        (1, 1, "estimated"),
        (1, 1, "noisy"),
        (1, 1, "shuffled"),
    ]
    assert report["cpu"] and report["commit"]
    assert "test BLEU over 2 learning runs: min" in proc.stdout and "shuffled control over 1 seeds" in proc.stdout
    # the noisy run trained on perturbed copies, the others on the estimated poses; each log names its threads
    noisy = (output_dir(tmp_path, "learn-s1-t1-noisy", "preprocess") / "train.tsv").read_text().splitlines()[1]
    plain = (output_dir(tmp_path, "learn-s1-t1-estimated", "preprocess") / "train.tsv").read_text().splitlines()[1]
    test = (output_dir(tmp_path, "learn-s1-t1-estimated", "preprocess") / "test.tsv").read_text().splitlines()
    assert len(test) == 1 + 6  # --test-clips: a larger test split, train and validation as configured
    assert "/poses/train/" in noisy.split("\t")[0] and "/estimate/" in plain.split("\t")[0]
    log = next((tmp_path / "jobs" / "learn-s1-t1-estimated" / "logs").glob("train-*.out")).read_text()
    assert "torch threads: 1" in log


@needs_trainer
def test_scale_benchmark_stays_linear_and_a_finished_run_does_no_work_again(tmp_path):
    """benchmarks/scale.py at 500 and 2 000 examples (the quick tier's size; the table's sizes are in the docs):
    prepare and preprocess cost no more per example at 2 000 than twice what they cost at 500, nothing is
    estimated for .pose media, and a second submit of the finished run does no work."""
    result = tmp_path / "scale.json"
    proc = subprocess.run(
        [sys.executable, "benchmarks/scale.py", "--sizes", "500,2000", "--no-setup", "--no-dry-run"]
        + ["--workdir", str(tmp_path / "work"), "--json", str(result)],
        capture_output=True,
        text=True,
        cwd=PROJECT,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    small, big = json.loads(result.read_text())["rows"]
    for stage in ("prepare", "preprocess"):
        per_example = [row[stage]["seconds"] / row["examples"] for row in (small, big)]
        assert per_example[1] <= 2 * per_example[0], (stage, per_example)
        assert 0 < big[stage]["peak_bytes"] < 2 * 1024**3
    assert big["rerun_did_no_work"] and big["rerun_skipped"] == 2
    assert "| 2,000 | preprocess |" in proc.stdout
    assert not (tmp_path / "work" / "n2000" / "corpus").exists()  # the corpus is deleted afterwards
