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


def dry_run(tmp_path, *args, profile="local"):
    """`submit config/smoke.yaml --dry-run --profile PROFILE`; returns the process and the dry run's folder."""
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "pipeline.submit",
            "config/smoke.yaml",
            "--dry-run",
            "--jobs-dir",
            str(tmp_path / "jobs"),
            "--profile",
            profile,
            *args,
        ],
        capture_output=True,
        text=True,
        cwd=PROJECT,
    )
    assert proc.returncode == 0, proc.stderr
    return proc, tmp_path / "jobs" / "dry-run" / Path(profile).stem / "smoke"


def normalise(text: str, tmp_path: Path) -> str:
    return text.replace(str(tmp_path / "jobs"), "<JOBS>").replace(str(PROJECT), "<PROJECT>")


@pytest.mark.parametrize("profile", ["local", "uzh"])
def test_demo_scripts_match_golden_files(tmp_path, profile):
    _, run_dir = dry_run(tmp_path, "--quiet", profile=profile)
    for stage in STAGES:
        text = normalise((run_dir / f"{stage}.sbatch").read_text(), tmp_path)
        golden = GOLDEN / profile / f"{stage}.sbatch"
        if os.environ.get("UPDATE_GOLDEN"):
            golden.parent.mkdir(parents=True, exist_ok=True)
            golden.write_text(text)
        assert text == golden.read_text(), f"{golden} differs; UPDATE_GOLDEN=1 python -m pytest {__file__}"


@pytest.mark.parametrize("profile", ["uzh", "generic"])
def test_two_nodes_of_four_gpus_train_scripts_match_golden_files(tmp_path, profile):
    # phoenix's 8 × 3 on 8 GPUs: 1 × 3 × 8
    args = ["--set", "training.nodes=2", "--set", "training.nproc_per_node=4", "--set", "training.batch_size=8"]
    args += ["--set", "training.gradient_accumulation_steps=3", "--until", "train"]
    _, run_dir = dry_run(tmp_path, "--quiet", *args, profile=profile)
    text = normalise((run_dir / "train.sbatch").read_text(), tmp_path)
    golden = GOLDEN / profile / "train-2-nodes-4-gpus.sbatch"
    if os.environ.get("UPDATE_GOLDEN"):
        golden.parent.mkdir(parents=True, exist_ok=True)
        golden.write_text(text)
    assert text == golden.read_text(), f"{golden} differs; UPDATE_GOLDEN=1 python -m pytest {__file__}"
    gpus = "#SBATCH --gpus-per-node=A100:4" if profile == "uzh" else "#SBATCH --gpus-per-node=4"
    for line in (gpus, "#SBATCH --nodes=2", "#SBATCH --ntasks-per-node=1", "#SBATCH --cpus-per-task=16"):
        assert line in text, line
    assert "--nnodes 2 --nproc-per-node 4" in text and text.count("launch=(srun ") == 1
    assert "apptainer exec --cleanenv --nv" in text and 'scontrol show hostnames "$SLURM_JOB_NODELIST"' in text
    assert subprocess.run(["bash", "-n", str(run_dir / "train.sbatch")]).returncode == 0


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
        assert "# dry run: to read, not to submit" in text and "resubmit by hand" not in text
    assert (run_dir / "plan.json").exists() and not (tmp_path / "jobs" / "smoke").exists()


def test_sbatch_lines_come_from_profile_and_stage_resources(tmp_path):
    _, run_dir = dry_run(tmp_path, "--quiet", profile="uzh")
    train = (run_dir / "train.sbatch").read_text()
    for line in [
        "#SBATCH --partition=lowprio",
        "#SBATCH --gpus-per-node=A100:1",
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
    assert "--signal" not in estimate and "--requeue" not in estimate  # no trap: a signal would reach no one
    assert "--gpus" not in (run_dir / "evaluate.sbatch").read_text()


def test_apptainer_commands_bind_paths_and_add_nv_only_for_gpu_stages(tmp_path):
    _, run_dir = dry_run(tmp_path, "--quiet", profile="uzh")
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
        tmp_path, "--quiet", "--set", "dataset.layout=official", "--set", f"dataset.root={root}", profile="uzh"
    )
    for stage in ("prepare", "estimate"):
        assert f"--bind {root}:{root}:ro" in (run_dir / f"{stage}.sbatch").read_text(), stage
    assert str(root) not in (run_dir / "train.sbatch").read_text()
    _, run_dir = dry_run(tmp_path, "--quiet", "--set", f"dataset.root={root}", profile="uzh")  # sample
    prepare = (run_dir / "prepare.sbatch").read_text()
    assert f"--bind {root}:{root} " in prepare and f"mkdir -p {PROJECT}/data {root}" in prepare


def test_a_real_runs_script_says_how_to_resubmit_it_by_hand_and_a_dry_runs_says_it_is_not_for_sbatch(tmp_path):
    from pipeline.compose import script_for
    from pipeline.config import load_profile
    from pipeline.plan import build_plan
    from pipeline.sweep import load_experiments

    profile = load_profile("uzh")
    plan = build_plan(load_experiments(str(PROJECT / "config/smoke.yaml"), [])[1], profile)
    job = next(j for j in plan.jobs.values() if j.stage == "estimate")
    paths = dict(spec_path=tmp_path / "s.json", log_dir=tmp_path / "logs", jobs_dir=tmp_path)
    real = script_for(job, profile, run="smoke", config_hash="h", script_path=tmp_path / "e.sbatch", **paths)
    assert f"# resubmit by hand: sbatch {tmp_path / 'e.sbatch'}   (one task: sbatch --array=N ...)" in real
    dry = script_for(
        job, profile, run="smoke", config_hash="h", script_path=tmp_path / "e.sbatch", dry_run=True, **paths
    )
    assert "resubmit" not in dry and "without waiting for the jobs it needs (no --dependency)" in dry


def test_dry_runs_of_two_profiles_land_in_their_own_folders(tmp_path):
    _, local = dry_run(tmp_path, "--quiet")
    _, uzh = dry_run(tmp_path, "--quiet", profile="uzh")
    assert local != uzh and local.parent.name == "local" and uzh.parent.name == "uzh"
    assert "runtime: venv" in (local / "train.sbatch").read_text()
    assert "runtime: apptainer" in (uzh / "train.sbatch").read_text()


def test_dry_run_on_slurm_prints_the_sbatch_lines_with_their_dependencies(tmp_path):
    proc, _ = dry_run(tmp_path, "--quiet", profile="uzh")
    jobs = tmp_path / "jobs" / "smoke"  # the real run's scripts, not the dry run's
    opts = "sbatch --parsable --kill-on-invalid-dep=yes"
    for line in [
        f"prepare=$({opts} {jobs}/prepare.sbatch)",
        f"estimate=$({opts} --dependency=afterok:$prepare --array=0,1 {jobs}/estimate.sbatch)",
        f"train=$({opts} --dependency=afterok:$preprocess {jobs}/train.sbatch)",
        f"evaluate=$({opts} --dependency=afterok:$translate {jobs}/evaluate.sbatch)",
    ]:
        assert f"  {line}\n" in proc.stdout, line


def write_pose_manifest(tmp_path: Path) -> tuple[Path, Path]:
    """A manifest corpus of .pose media: train and validation below the root, test in a folder beside it."""
    root, elsewhere = tmp_path / "corpus", tmp_path / "elsewhere"
    root.mkdir()
    for split, media in (("train", "poses/a.pose"), ("dev", "poses/b.pose"), ("test", "../elsewhere/c.pose")):
        (root / f"{split}.tsv").write_text(f"id\tfile\ttext\n{split}1\t{media}\thallo\n")
    return root, elsewhere


def pose_manifest_args(root: Path) -> list[str]:
    return [
        "--set",
        "dataset={name: poses, layout: manifest, root: " + str(root) + ", sample_clips: null, "
        "splits: {train: train.tsv, validation: dev.tsv, test: test.tsv}, columns: {media: file, text: text, id: id}}",
    ]


def test_every_stage_binds_the_pose_media_it_reads_below_and_outside_the_dataset_root(tmp_path):
    root, elsewhere = write_pose_manifest(tmp_path)
    _, run_dir = dry_run(tmp_path, "--quiet", *pose_manifest_args(root), profile="uzh")
    assert not (run_dir / "estimate.sbatch").exists()  # every media is a pose file: nothing to estimate
    for stage in ("prepare", "preprocess", "train", "translate"):
        text = (run_dir / f"{stage}.sbatch").read_text()
        assert f"--bind {root}:{root}:ro" in text and f"--bind {elsewhere}:{elsewhere}:ro" in text, stage
    assert str(root) not in (run_dir / "evaluate.sbatch").read_text()  # it reads the test TSV's texts only


def test_a_pose_folder_is_bound_for_preprocess_train_and_translate(tmp_path):
    folder = tmp_path / "poses"
    folder.mkdir()
    uzh = dry_run(
        tmp_path, "--quiet", "--set", "estimate.source=folder", "--set", f"estimate.folder={folder}", profile="uzh"
    )[1]
    for stage in ("preprocess", "train", "translate"):
        assert f"--bind {folder}:{folder}:ro" in (uzh / f"{stage}.sbatch").read_text(), stage
    assert str(folder) not in (uzh / "prepare.sbatch").read_text()
