"""The stage graph: stable keys, sharing between experiments, estimator switches, sweeps."""

import dataclasses
from pathlib import Path

import pytest

from pipeline.config import load_experiment, load_profile
from pipeline.errors import UserError
from pipeline.plan import build_plan
from pipeline.sweep import load_sweep

PROJECT = Path(__file__).resolve().parent.parent
STAGES = ["prepare", "estimate", "preprocess", "train", "translate", "evaluate"]


def demo(*overrides):
    return load_experiment(PROJECT / "config/demo.yaml", list(overrides))


def test_keys_are_stable_across_loads():
    a = build_plan([demo()], load_profile("local"))
    b = build_plan([demo()], load_profile("local"))
    assert list(a.jobs) == list(b.jobs)


def test_experiments_differing_in_a_hyperparameter_share_data_stages():
    a = dataclasses.replace(demo(), name="a")
    b = dataclasses.replace(demo("training.learning_rate=5e-4"), name="b")
    plan = build_plan([a, b], load_profile("local"))
    for stage in ("prepare", "estimate", "preprocess"):
        assert plan.runs["a"][stage] == plan.runs["b"][stage]
    for stage in ("train", "translate", "evaluate"):
        assert plan.runs["a"][stage] != plan.runs["b"][stage]
    assert plan.count_by_stage() == {
        "prepare": 1,
        "estimate": 1,
        "preprocess": 1,
        "train": 2,
        "translate": 2,
        "evaluate": 2,
    }
    shared = plan.jobs[plan.runs["a"]["estimate"]]
    assert shared.runs == ["a", "b"]


def test_shards_and_workers_do_not_change_the_estimate_key():
    one = build_plan([demo("estimate.shards=1")], load_profile("local"))
    three = build_plan([demo("estimate.shards=3", "estimate.workers=2")], load_profile("local"))
    assert one.runs["demo"]["estimate"] == three.runs["demo"]["estimate"]
    assert three.jobs[three.runs["demo"]["estimate"]].array == 3


def test_switching_estimator_changes_image_output_and_everything_downstream():
    mp = build_plan([demo()], load_profile("uzh"))
    mm = build_plan([demo("estimate.estimator=mmposewholebody")], load_profile("uzh"))
    assert mp.runs["demo"]["prepare"] == mm.runs["demo"]["prepare"]
    for stage in STAGES[1:]:
        assert mp.runs["demo"][stage] != mm.runs["demo"][stage]
    est_mp, est_mm = mp.jobs[mp.runs["demo"]["estimate"]], mm.jobs[mm.runs["demo"]["estimate"]]
    assert (est_mp.image, est_mm.image) == ("mediapipe", "mmposewholebody")
    assert est_mp.output_dir != est_mm.output_dir
    assert est_mm.resources.gpu and not est_mp.resources.gpu
    pre_mp, pre_mm = mp.jobs[mp.runs["demo"]["preprocess"]], mm.jobs[mm.runs["demo"]["preprocess"]]
    assert (pre_mp.spec.expected_feat_dim, pre_mm.spec.expected_feat_dim) == (534, 266)
    assert (pre_mp.spec.reduce_holistic, pre_mm.spec.reduce_holistic) == (True, False)


def test_until_stops_the_graph():
    plan = build_plan([demo()], load_profile("local"), until="preprocess")
    assert [j.stage for j in plan.jobs.values()] == ["prepare", "estimate", "preprocess"]


def test_hyperparameter_search_is_54_runs_sharing_one_data_chain():
    sweep = load_sweep(PROJECT / "config/sweeps/hyperparam_search.yaml")
    plan = build_plan(sweep.experiments, load_profile("uzh"))
    assert len(plan.runs) == 54
    assert plan.count_by_stage() == {
        "prepare": 1,
        "estimate": 1,
        "preprocess": 1,
        "train": 54,
        "translate": 54,
        "evaluate": 54,
    }
    assert (
        "phoenix+learning_rate.1e-5+warmup_steps.500+label_smoothing_factor.0.1+gradient_accumulation_steps.3"
        in plan.runs
    )
    assert sweep.varied == sorted(
        [
            "training.learning_rate",
            "training.warmup_steps",
            "training.label_smoothing_factor",
            "training.gradient_accumulation_steps",
        ]
    )
    best = sweep.experiments[
        [e.name for e in sweep.experiments].index(
            "phoenix+learning_rate.1e-5+warmup_steps.500+label_smoothing_factor.0.1+gradient_accumulation_steps.3"
        )
    ]
    assert (best.training.learning_rate, best.training.warmup_steps) == (1e-5, 500)


def test_repeatability_sweep_is_the_originals_twelve_runs_sharing_the_data_stages():
    sweep = load_sweep(PROJECT / "config/sweeps/repeatability.yaml")
    plan = build_plan(sweep.experiments, load_profile("uzh"))
    assert sorted(plan.runs) == sorted(
        f"phoenix_{i}{suffix}" for i in (1, 2, 3) for suffix in ("", "_workers_1", "_fp32", "_fp32_workers_1")
    )
    assert plan.count_by_stage() == {
        "prepare": 1,
        "estimate": 1,
        "preprocess": 1,
        "train": 12,
        "translate": 12,
        "evaluate": 12,
    }
    by_name = {e.name: e for e in sweep.experiments}
    assert {e.training.seed for e in sweep.experiments} == {42}
    assert (
        by_name["phoenix_2_fp32_workers_1"].training.fp16,
        by_name["phoenix_2_fp32_workers_1"].training.dataloader_num_workers,
        by_name["phoenix_2_fp32_workers_1"].replicate,
    ) == (False, 1, 2)
    assert (by_name["phoenix_3"].training.fp16, by_name["phoenix_3"].training.dataloader_num_workers) == (True, 2)
    assert set(sweep.varied) == {"training.dataloader_num_workers", "training.fp16", "replicate"}


def test_a_sweep_name_template_may_only_fill_in_the_replicate(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text(f"sweep:\n  base: {PROJECT / 'config/phoenix.yaml'}\n  runs:\n    - {{name: 'x_{{seed}}'}}\n")
    with pytest.raises(UserError, match=r"name 'x_\{seed\}': only \{replicate\} can be filled in"):
        load_sweep(bad)


def test_estimator_sweep_runs_each_estimation_in_its_own_image():
    sweep = load_sweep(PROJECT / "config/sweeps/estimators.yaml")
    plan = build_plan(sweep.experiments, load_profile("uzh"))
    images = sorted(j.image for j in plan.jobs.values() if j.stage == "estimate")
    assert images == ["mediapipe", "mmposewholebody", "openpifpaf"]
    assert plan.count_by_stage() == {
        "prepare": 1,
        "estimate": 3,
        "preprocess": 3,
        "train": 9,
        "translate": 9,
        "evaluate": 9,
    }


def test_a_misspelt_spec_key_fails_at_submit_in_one_line(monkeypatch):
    """The plan builds typed specs (pipeline/stages/specs.py): a key the stage does not know never reaches a job."""
    from pipeline.stages import specs

    real = specs.preprocess_checks
    monkeypatch.setattr(specs, "preprocess_checks", lambda exp: {**real(exp), "max_mising_fraction": 0.1})
    with pytest.raises(UserError) as caught:
        build_plan([load_experiment(PROJECT / "config/demo.yaml")], load_profile("local"))
    message = str(caught.value)
    assert "\n" not in message and message.startswith("preprocess job sample-mediapipe-")
    assert message.endswith("max_mising_fraction: unknown key; allowed here: " + message.split("allowed here: ")[1])
