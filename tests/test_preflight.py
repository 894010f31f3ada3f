"""The login-node checks: a dry run names each bad input as a warning (--strict: an error), a real submit refuses
them; the local executor says that it runs here where sbatch exists; run folders are found from any directory."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import PROJECT


def submit(tmp_path: Path, config: str, *args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "pipeline.submit", config, "--jobs-dir", str(tmp_path / "jobs")]
        + ["--profile-set", f"data_dir={tmp_path / 'data'}", "--profile-set", f"cache_dir={tmp_path / 'cache'}"]
        + ["--quiet", *args],
        capture_output=True,
        text=True,
        cwd=PROJECT,
        env={**os.environ, **(env or {})},
    )


def manifest_corpus(tmp_path: Path) -> tuple[Path, list[str]]:
    root = tmp_path / "corpus"
    root.mkdir()
    for split in ("train", "dev", "test"):
        (root / f"{split}.tsv").write_text("id\tvideo\ttext\nx\tclips/x.mp4\thallo\n")
    settings = (
        "{name: corpus, layout: manifest, root: " + str(root) + ", sample_clips: null, "
        "splits: {train: train.tsv, validation: dev.tsv, test: test.tsv}, columns: {media: video, text: text}}"
    )
    return root, ["--set", f"dataset={settings}"]


def bad_input(tmp_path: Path, which: str) -> tuple[str, list[str], str]:
    """(config, arguments, the problem's line) for each of the four bad inputs of issue 30."""
    if which == "dataset.root":
        nowhere = tmp_path / "nowhere"
        return (
            "config/phoenix.yaml",
            ["--set", f"dataset.root={nowhere}"],
            f"config/phoenix.yaml: dataset.root: {nowhere} does not exist (on this machine); point it at your copy, "
            f"e.g. --set dataset.root=/data/PHOENIX-2014-T-release-v3/PHOENIX-2014-T",
        )
    if which == "images":
        images = tmp_path / "images"
        return (
            "config/smoke.yaml",
            ["--profile", "uzh", "--profile-set", f"image_dir={images}"],
            f"prepare needs the 'mediapipe' image at {images / 'mediapipe.sif'}, which does not exist; build it "
            f"with: python -m pipeline.build --profile uzh mediapipe",
        )
    root, args = manifest_corpus(tmp_path)
    if which == "dataset.splits":
        return (
            "config/smoke.yaml",
            args + ["--set", "dataset.splits.test=nope.tsv"],
            f"config/smoke.yaml: dataset.splits.test: {root / 'nope.tsv'} does not exist; name a file below "
            f"dataset.root ({root})",
        )
    return (
        "config/smoke.yaml",
        args + ["--set", "dataset.columns.text=sentence"],
        f"config/smoke.yaml: dataset.columns.text: {root / 'train.tsv'} has no column 'sentence'; its header has: "
        f"id, video, text",
    )


@pytest.mark.parametrize("which", ["dataset.root", "images", "dataset.splits", "dataset.columns"])
def test_a_dry_run_warns_of_each_bad_input_and_strict_or_a_real_submit_refuses_it(tmp_path, which):
    config, args, problem = bad_input(tmp_path, which)
    dry = submit(tmp_path, config, *args, "--dry-run")
    assert dry.returncode == 0, dry.stderr
    assert f"warning: {problem}" in dry.stderr.splitlines()
    assert "problem(s) above: a submit without --dry-run would refuse to run" in dry.stdout
    strict = submit(tmp_path, config, *args, "--dry-run", "--strict")
    assert strict.returncode == 2 and f"error: {problem}" in strict.stderr.splitlines()
    if which != "images":  # a real submit on the local profile (whose venvs exist)
        real = submit(tmp_path, config, *args)
        assert real.returncode == 2 and f"error: {problem}" in real.stderr.splitlines()
        assert not (tmp_path / "jobs").exists() or not any((tmp_path / "jobs").glob("*/plan.json"))


def test_a_relative_dataset_root_says_what_it_is_relative_to(tmp_path):
    proc = submit(tmp_path, "config/phoenix.yaml", "--set", "dataset.root=no/such/tree", "--dry-run")
    assert (
        f"no/such/tree is relative to the project root {PROJECT}, not to the config file or to the working "
        f"directory" in proc.stderr
    )


def test_a_dry_run_makes_no_data_dir_and_warns_when_it_cannot_be_written(tmp_path):
    proc = submit(tmp_path, "config/smoke.yaml", "--dry-run")
    assert proc.returncode == 0 and proc.stderr == "" and not (tmp_path / "data").exists()
    proc = submit(tmp_path, "config/smoke.yaml", "--dry-run", "--profile-set", "data_dir=/proc/no-data-here")
    assert "warning: config/clusters/local.yaml: data_dir: /proc/no-data-here cannot be written" in proc.stderr


def test_the_local_executor_says_it_runs_everything_here_where_sbatch_exists(tmp_path):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "sbatch").write_text("#!/bin/sh\nexit 1\n")
    (bin_dir / "sbatch").chmod(0o755)
    env = {"PATH": f"{bin_dir}:{os.environ['PATH']}", "PIPELINE_FAIL_STAGE": "prepare"}  # stop at once
    proc = submit(tmp_path, "config/smoke.yaml", "--runtime", "host", "--until", "prepare", env=env)
    notes = [line for line in proc.stdout.splitlines() if line.startswith("note:")]
    assert notes == [
        "note: the local profile's local executor runs every stage here, on this machine, one after another; to "
        "submit to SLURM instead give a cluster profile: --profile <site> (docs/cluster.md)"
    ]
    if shutil.which("sbatch") is None:  # and without sbatch, no such line
        quiet = submit(
            tmp_path,
            "config/smoke.yaml",
            "--runtime",
            "host",
            "--until",
            "prepare",
            env=env | {"PATH": os.environ["PATH"]},
        )
        assert "note:" not in quiet.stdout


def test_a_missing_extends_target_says_extends_and_where_it_looked(tmp_path):
    config = tmp_path / "child.yaml"
    config.write_text("extends: ../base.yaml\n")
    proc = submit(tmp_path, str(config), "--dry-run")
    assert proc.returncode == 2
    assert proc.stderr.strip() == (
        f"error: {config}: extends: ../base.yaml: no such file ({tmp_path / '../base.yaml'}); the path is relative "
        f"to the folder of the file that says extends:, {tmp_path}"
    )


def test_status_finds_a_run_folder_from_any_directory(tmp_path, monkeypatch):
    from pipeline import rundir
    from pipeline.errors import UserError

    project, elsewhere = tmp_path / "project", tmp_path / "elsewhere"
    (project / "jobs" / "demo").mkdir(parents=True)
    elsewhere.mkdir()
    monkeypatch.setattr(rundir, "PROJECT_ROOT", project)
    monkeypatch.chdir(elsewhere)
    assert rundir.find_run_dir(Path("jobs/demo")) == project / "jobs" / "demo"  # as submit prints it
    assert rundir.find_run_dir(Path("demo")) == project / "jobs" / "demo"  # a run name
    (elsewhere / "jobs" / "demo").mkdir(parents=True)
    assert rundir.find_run_dir(Path("jobs/demo")) == Path("jobs/demo")  # the working directory's first
    with pytest.raises(UserError, match=r"jobs/nothing: no such run folder here, in .*project or in .*jobs"):
        rundir.find_run_dir(Path("jobs/nothing"))
