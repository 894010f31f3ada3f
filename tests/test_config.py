"""Config loading: extends, --set overrides, typed validation, one-line errors with file and key."""

import subprocess
import sys
from pathlib import Path

import pytest

from pipeline.config import load_experiment, load_profile, stage_resources
from pipeline.errors import UserError

PROJECT = Path(__file__).resolve().parent.parent


def write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def test_phoenix_defaults_are_the_original_pipelines_best_settings():
    exp = load_experiment(PROJECT / "config/phoenix.yaml")
    t = exp.training
    assert (t.learning_rate, t.warmup_steps, t.label_smoothing_factor, t.gradient_accumulation_steps) == (
        1e-5,
        500,
        0.1,
        3,
    )
    assert (t.batch_size, t.fp16, t.seed, t.dataloader_num_workers) == (8, True, 42, 2)
    assert (t.early_stopping_patience, t.eval_steps, t.max_steps) == (10, 128, 500000)
    assert exp.model.pretrained_backbone == "facebook/m2m100_418M" and exp.model.max_frames == 300
    assert (exp.preprocess.encoder_prompt, exp.preprocess.decoder_prompt) == ("__dgs__", "__de__")


def test_extends_merges_deeply_and_the_child_wins(tmp_path):
    write(tmp_path / "base.yaml", "name: base\ntraining: {seed: 1, batch_size: 4}\ndataset: {layout: sample}\n")
    child = write(tmp_path / "child.yaml", "extends: base.yaml\nname: child\ntraining: {seed: 2}\n")
    exp = load_experiment(child)
    assert (exp.name, exp.training.seed, exp.training.batch_size) == ("child", 2, 4)


def test_set_overrides_parse_yaml_values_and_accept_exponent_floats(tmp_path):
    exp = load_experiment(
        PROJECT / "config/demo.yaml",
        ["training.seed=7", "training.learning_rate=2e-5", "estimate.settings.model_complexity=0"],
    )
    assert exp.training.seed == 7 and exp.training.learning_rate == 2e-5
    assert exp.estimate.settings == {"model_complexity": 0}


@pytest.mark.parametrize(
    "override, message",
    [
        (
            "training.learning_rate=fast",
            "--set training.learning_rate: training.learning_rate: expected a number, got 'fast'",
        ),
        ("training.lr=1", "training.lr: unknown key; allowed here: learning_rate"),
        (
            "estimate.estimator=openpos",
            "estimate.estimator: unknown value 'openpos'; allowed: alphapose_136, mediapipe",
        ),
        ("estimate.estimator=openpose", "we cannot estimate openpose here (no image); set estimate.source to download"),
        ("estimate.source=folder", "estimate.folder: required with source folder"),
        ("estimate.source=ftp", "estimate.source: unknown value 'ftp'; allowed: estimate, download, folder"),
        ("estimate.settings.colour=red", "estimate.settings.colour: unknown setting for mediapipe"),
        ("training.fp16=maybe", "training.fp16: expected true or false, got 'maybe'"),
        ("estimate.shards=0", "estimate.shards: expected a whole number >= 1, got 0"),
    ],
)
def test_bad_values_name_the_key_and_what_is_allowed(override, message):
    with pytest.raises(UserError) as err:
        load_experiment(PROJECT / "config/demo.yaml", [override])
    assert message in str(err.value)


def test_errors_name_the_file_that_set_the_key(tmp_path):
    bad = write(
        tmp_path / "bad.yaml",
        "extends: " + str(PROJECT / "config/phoenix.yaml") + "\ntraining:\n  learning_rate: fast\n",
    )
    with pytest.raises(UserError) as err:
        load_experiment(bad)
    assert str(err.value).startswith(f"{bad}: training.learning_rate: expected a number")


def test_invalid_yaml_reports_the_line(tmp_path):
    bad = write(tmp_path / "broken.yaml", "name: x\ntraining: [\n")
    with pytest.raises(UserError, match=r"broken.yaml: line \d+: not valid YAML"):
        load_experiment(bad)


def test_non_sample_layout_needs_a_root(tmp_path):
    cfg = write(tmp_path / "x.yaml", "dataset: {layout: official, root: ''}\n")
    with pytest.raises(UserError, match="dataset.root: required for layout 'official'"):
        load_experiment(cfg)


def test_profiles_load_and_unknown_profile_lists_the_known_ones():
    uzh = load_profile("uzh")
    assert (uzh.executor, uzh.runtime, uzh.partition) == ("slurm", "apptainer", "lowprio")
    assert (uzh.gpu.per_node, uzh.gpu.model, uzh.gpu.gpus) == ("gpus-per-node", "A100", None)
    with pytest.raises(UserError, match="unknown cluster profile; known: generic, local, local-slurm, uzh"):
        load_profile("nope")


def test_gpu_is_requested_only_where_the_profile_has_gpus():
    exp = load_experiment(PROJECT / "config/demo.yaml")
    assert stage_resources("train", load_profile("uzh"), exp, wants_gpu=False).gpu is True
    assert stage_resources("evaluate", load_profile("uzh"), exp, wants_gpu=False).gpu is False
    assert stage_resources("train", load_profile("local"), exp, wants_gpu=False).gpu is False


def test_cli_bad_config_exits_2_with_one_line_and_writes_nothing(tmp_path):
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "pipeline.submit",
            "config/demo.yaml",
            "--set",
            "training.learning_rate=fast",
            "--jobs-dir",
            str(tmp_path / "jobs"),
        ],
        capture_output=True,
        text=True,
        cwd=PROJECT,
    )
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == [
        "error: --set training.learning_rate: training.learning_rate: expected a number, got 'fast'"
    ]
    assert not (tmp_path / "jobs").exists()


def test_preprocess_control_accepts_shuffle_only(tmp_path):
    from pipeline.config import load_experiment

    assert load_experiment(PROJECT / "config/demo.yaml", ["preprocess.control=shuffle"]).preprocess.control == "shuffle"
    with pytest.raises(UserError, match=r"preprocess.control: unknown value 'zeros'; allowed: shuffle"):
        load_experiment(PROJECT / "config/demo.yaml", ["preprocess.control=zeros"])


def test_pose_noise_must_not_be_negative_and_only_a_set_noise_changes_the_preprocess_key():
    from pipeline.config import load_experiment
    from pipeline.stages.specs import preprocess_identity

    with pytest.raises(UserError, match=r"preprocess.pose_noise: expected a number >= 0, got -1.0"):
        load_experiment(PROJECT / "config/demo.yaml", ["preprocess.pose_noise=-1"])
    plain = load_experiment(PROJECT / "config/demo.yaml")
    assert "pose_noise" not in preprocess_identity(plain)  # ordinary runs keep their keys
    noisy = load_experiment(PROJECT / "config/demo.yaml", ["preprocess.pose_noise=0.5"])
    assert preprocess_identity(noisy)["pose_noise"] == 0.5


def test_sample_clips_must_be_three_counts():
    from pipeline.config import load_experiment

    with pytest.raises(UserError, match=r"dataset.sample_clips: expected three counts"):
        load_experiment(PROJECT / "config/demo.yaml", ["dataset.sample_clips=[10, 2]"])


def test_shuffle_control_gives_every_example_another_examples_pose():
    from pipeline.stages.preprocess_rows import derange_signals

    rows = [{"signal": f"/p/{i}.pose", "signal_start": i, "signal_end": i, "output": f"text {i}"} for i in range(7)]
    derange_signals(rows)
    assert sorted(r["signal"] for r in rows) == [f"/p/{i}.pose" for i in range(7)]  # a permutation
    assert all(
        r["signal"] != f"/p/{i}.pose" and r["signal_start"] == int(r["signal"][3:-5])  # none keeps its own
        for i, r in enumerate(rows)
    )
    assert [r["output"] for r in rows] == [f"text {i}" for i in range(7)]  # texts stay


def submit_cli(*args: str, cwd: Path = PROJECT) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "pipeline.submit", *args], capture_output=True, text=True, cwd=cwd)


def test_submit_refuses_a_missing_dataset_root_before_anything_is_queued(tmp_path):
    proc = submit_cli(
        "config/phoenix.yaml",
        "--set",
        f"dataset.root={tmp_path / 'nowhere'}",
        "--jobs-dir",
        str(tmp_path / "jobs"),
        "--profile-set",
        f"data_dir={tmp_path / 'data'}",
    )
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == [
        f"error: config/phoenix.yaml: dataset.root: {tmp_path / 'nowhere'} "
        f"does not exist (on this machine); point it at your copy, e.g. "
        f"--set dataset.root=/data/PHOENIX-2014-T-release-v3/PHOENIX-2014-T"
    ]
    assert not (tmp_path / "jobs").exists()


def test_submit_refuses_a_data_dir_it_cannot_write(tmp_path):
    root = tmp_path / "phoenix"
    (root / "annotations" / "manual").mkdir(parents=True)
    for split in ("train", "dev", "test"):  # the corpus CSVs submit checks for
        (root / "annotations" / "manual" / f"PHOENIX-2014-T.{split}.corpus.csv").write_text(
            "name|video|start|end|speaker|orth|translation\n"
        )
    proc = submit_cli(
        "config/phoenix.yaml",
        "--set",
        f"dataset.root={root}",
        "--jobs-dir",
        str(tmp_path / "jobs"),
        "--profile-set",
        "data_dir=/proc/no-data-here",
    )
    assert proc.returncode == 2 and len(proc.stderr.strip().splitlines()) == 1
    assert "data_dir: /proc/no-data-here cannot be written" in proc.stderr and not (tmp_path / "jobs").exists()


@pytest.mark.parametrize("cpus, workers", [("1", 1), ("2", 2), ("4", 3), ("8", 6)])
def test_auto_workers_follow_the_tasks_cpus(monkeypatch, cpus, workers):
    from pipeline.stages.pose_workers import resolve_workers

    monkeypatch.setenv("SLURM_CPUS_PER_TASK", cpus)
    assert resolve_workers("auto") == workers and resolve_workers(5) == 5


def test_estimate_workers_is_a_number_or_auto():
    from pipeline.config import load_experiment

    assert load_experiment(PROJECT / "config/phoenix.yaml").estimate.workers == "auto"
    with pytest.raises(UserError, match=r"estimate.workers: expected a whole number >= 1 or 'auto', got 'many'"):
        load_experiment(PROJECT / "config/phoenix.yaml", ["estimate.workers=many"])


def numeric_fields():
    """(dataclass, field) for every int and float key of the experiment and profile schema."""
    import dataclasses
    import typing

    from pipeline import schema
    from pipeline.stage_registry import Resources

    classes = [c for c in vars(schema).values() if dataclasses.is_dataclass(c)] + [Resources]
    for cls in classes:
        hints = typing.get_type_hints(cls)
        for f in dataclasses.fields(cls):
            inner = [a for a in typing.get_args(hints[f.name]) if a is not type(None)] or [hints[f.name]]
            if inner[0] in (int, float):
                yield cls, f


def test_every_numeric_key_has_bounds_and_a_value_outside_them_stops_in_one_line():
    from pipeline.yaml_layers import from_dict

    fields = list(numeric_fields())
    assert len(fields) >= 25
    for cls, f in fields:
        bounds = f.metadata.get("bounds")
        assert bounds, f"{cls.__name__}.{f.name} has no bounds (schema.number)"
        below = bounds.get("ge", bounds.get("gt"))
        outside = below - 1 if below is not None else bounds.get("le", bounds.get("lt")) + 1
        data = {f.name: outside} if cls.__name__ not in ("Experiment", "Profile") else {"name": "x", f.name: outside}
        with pytest.raises(UserError) as err:
            from_dict(cls, data, {}, "k.", "cfg.yaml")
        message = str(err.value)
        assert message.startswith(f"cfg.yaml: k.{f.name}: expected a ") and "\n" not in message, message


@pytest.mark.parametrize(
    "override, message",
    [
        ("training.learning_rate=-1", "training.learning_rate: expected a number > 0, got -1.0"),
        ("training.max_steps=0", "training.max_steps: expected a whole number >= 1, got 0"),
        ("model.mapper_dropout=1", "model.mapper_dropout: expected a number >= 0 and < 1, got 1.0"),
        ("preprocess.max_missing_fraction=1.5", "expected a number >= 0 and <= 1, got 1.5"),
        ("name=../../etc", "name: '../../etc' is not a run name: use letters, digits"),
        ("name=..", "name: '..' is not a run name"),
        ("name=a/b", "name: 'a/b' is not a run name"),
    ],
)
def test_bad_numbers_and_run_names_stop_before_anything_is_written(override, message, tmp_path):
    with pytest.raises(UserError) as err:
        load_experiment(PROJECT / "config/demo.yaml", [override])
    assert message in str(err.value)
    proc = subprocess.run(
        [sys.executable, "-m", "pipeline.submit", "config/demo.yaml", "--set", override, "--dry-run"]
        + ["--jobs-dir", str(tmp_path / "jobs")],
        cwd=PROJECT,
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 2 and message in proc.stderr
    assert not (tmp_path / "jobs").exists() and not (PROJECT / "etc").exists()
