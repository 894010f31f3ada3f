"""Generated sbatch scripts: golden files, valid bash, the right #SBATCH lines and runtime commands.

Golden files live in tests/golden/<profile>/; after an intended change, update them with
    UPDATE_GOLDEN=1 python -m pytest tests/test_compose.py
and review the diff.
"""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from pipeline.compose import make_sbatch_script

PROJECT = Path(__file__).resolve().parent.parent
GOLDEN = PROJECT / "tests" / "golden"
STAGES = ["prepare", "estimate", "preprocess", "train", "translate", "evaluate"]


def dry_run(tmp_path, *args):
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "pipeline.submit",
            "config/smoke.yaml",
            "--dry-run",
            "--jobs-dir",
            str(tmp_path / "jobs"),
            *args,
        ],
        capture_output=True,
        text=True,
        cwd=PROJECT,
    )
    assert proc.returncode == 0, proc.stderr
    return proc, tmp_path / "jobs" / "dry-run" / "smoke"


def normalise(text: str, tmp_path: Path) -> str:
    return text.replace(str(tmp_path / "jobs"), "<JOBS>").replace(str(PROJECT), "<PROJECT>")


@pytest.mark.parametrize("profile", ["local", "uzh"])
def test_demo_scripts_match_golden_files(tmp_path, profile):
    _, run_dir = dry_run(tmp_path, "--profile", profile, "--quiet")
    for stage in STAGES:
        text = normalise((run_dir / f"{stage}.sbatch").read_text(), tmp_path)
        golden = GOLDEN / profile / f"{stage}.sbatch"
        if os.environ.get("UPDATE_GOLDEN"):
            golden.parent.mkdir(parents=True, exist_ok=True)
            golden.write_text(text)
        assert text == golden.read_text(), f"{golden} differs; UPDATE_GOLDEN=1 python -m pytest {__file__}"


def test_dry_run_prints_plan_writes_scripts_that_bash_accepts(tmp_path):
    proc, run_dir = dry_run(tmp_path)
    assert "6 job(s) (1 prepare, 1 estimate, 1 preprocess, 1 train, 1 translate, 1 evaluate)" in proc.stdout
    assert "dry run: scripts in" in proc.stdout and "nothing submitted" in proc.stdout
    for stage in STAGES:
        script = run_dir / f"{stage}.sbatch"
        assert "===== " in proc.stdout and script.name in proc.stdout
        assert subprocess.run(["bash", "-n", str(script)]).returncode == 0
        text = script.read_text()
        assert text.startswith("#!/bin/bash\n") and "set -euo pipefail" in text
        assert "resubmit by hand: sbatch" in text
    assert (run_dir / "plan.json").exists() and not (tmp_path / "jobs" / "smoke").exists()


def test_sbatch_lines_come_from_profile_and_stage_resources(tmp_path):
    _, run_dir = dry_run(tmp_path, "--profile", "uzh", "--quiet")
    train = (run_dir / "train.sbatch").read_text()
    for line in [
        "#SBATCH --partition=lowprio",
        "#SBATCH --gpus=V100:1",
        "#SBATCH --time=24:00:00",
        "#SBATCH --mem=32G",
        "#SBATCH --job-name=train-sample-mediapipe-seed42-",
        "#SBATCH --open-mode=append",
        "#SBATCH --signal=B:USR1@90",
        "#SBATCH --requeue",
        "trap 'kill -USR1 \"$stage\" 2>/dev/null || true' USR1 TERM",
        'scontrol requeue "$SLURM_JOB_ID"',
    ]:
        assert line in train
    estimate = (run_dir / "estimate.sbatch").read_text()
    assert "#SBATCH --array=0-1" in estimate and "%x-%A_%a.out" in estimate
    assert "#SBATCH --signal=USR1@90" in estimate and "--requeue" not in estimate  # estimate resumes by resubmit
    assert "--gpus" not in (run_dir / "evaluate.sbatch").read_text()


def test_apptainer_commands_bind_paths_and_add_nv_only_for_gpu_stages(tmp_path):
    _, run_dir = dry_run(tmp_path, "--profile", "uzh", "--quiet")
    for stage, image, gpu in [
        ("prepare", "mediapipe", False),
        ("estimate", "mediapipe", False),
        ("preprocess", "trainer", False),
        ("train", "trainer", True),
        ("translate", "trainer", True),
        ("evaluate", "trainer", False),
    ]:
        text = (run_dir / f"{stage}.sbatch").read_text()
        line = next(line for line in text.splitlines() if line.startswith("apptainer exec"))
        assert ("--nv" in line.split()) == gpu, stage
        assert f"{PROJECT}/images/{image}.sif python -m pipeline.stages.{stage} --spec" in line
        assert f"--bind {PROJECT}:{PROJECT}:ro" in line and f"--bind {PROJECT}/data:{PROJECT}/data" in line
        assert "passthrough=(); for name in SLURM_ARRAY_TASK_ID" in text and "CUDA_VISIBLE_DEVICES" in text
        assert '${passthrough[@]+"${passthrough[@]}"}' in line
        options = line.split(f"{PROJECT}/images/")[0]
        assert "--cleanenv" in options and "HF_HOME=" in options  # every option before the image


def test_make_sbatch_script_sorts_directives_and_skips_unset_ones():
    text = make_sbatch_script(
        "echo hi",
        job_name="j",
        log_dir="/logs",
        time="01:00:00",
        cpus=2,
        mem="1G",
        account="acc",
        extra=["--mail-type=FAIL"],
        header=["a header"],
    )
    directives = [line for line in text.splitlines() if line.startswith("#SBATCH --") and "mail" not in line]
    assert directives == sorted(directives)
    assert "#SBATCH --account=acc" in text and "--qos" not in text and "--partition" not in text
    assert "#SBATCH --mail-type=FAIL" in text and "# a header" in text
    assert re.search(r"#SBATCH --output=/logs/%x-%j.out", text)


def test_a_dataset_outside_data_dir_is_bound_for_prepare_and_estimate(tmp_path):
    root = tmp_path / "PHOENIX-2014-T"
    _, run_dir = dry_run(
        tmp_path, "--profile", "uzh", "--quiet", "--set", "dataset.layout=official", "--set", f"dataset.root={root}"
    )
    for stage in ("prepare", "estimate"):
        assert f"--bind {root}:{root}:ro" in (run_dir / f"{stage}.sbatch").read_text(), stage
    assert str(root) not in (run_dir / "train.sbatch").read_text()
    _, run_dir = dry_run(tmp_path, "--profile", "uzh", "--quiet", "--set", f"dataset.root={root}")  # sample
    prepare = (run_dir / "prepare.sbatch").read_text()
    assert f"--bind {root}:{root} " in prepare and f"mkdir -p {PROJECT}/data {root}" in prepare
