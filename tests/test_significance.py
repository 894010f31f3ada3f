"""Intervals and significance (pipeline/stages/significance.py, in the trainer venv) on constructed outputs, and
the login side that groups runs into systems, picks the baseline, marks p-values and finds the sentences that
differ most (pipeline/comparison.py)."""

import pytest

from pipeline.comparison import (
    System,
    choose_baseline,
    group_systems,
    interval,
    mark,
    most_different,
    system_rows,
)
from pipeline.errors import UserError
from pipeline.summary_rows import RunRow

from conftest import PROJECT, needs_trainer, run_in

TRIALS = 2000


def case(name: str, trials: int = TRIALS) -> dict:
    code = (
        "import runpy, sys; sys.argv = sys.argv[1:]; "
        f"runpy.run_path({str(PROJECT / 'tests' / 'significance_cases.py')!r}, run_name='__main__')"
    )
    return run_in("trainer", code, "cases", name, str(trials)).result


def with_result(name: str, result: dict) -> System:
    return System(name, [RunRow(name, {}, bleu=1.0, chrf=1.0)], result)


def contains(found: list, value: float) -> bool:
    mean, half = found
    return mean - half - 1e-9 <= value <= mean + half + 1e-9


@needs_trainer
def test_a_perfect_system_against_shuffled_hypotheses_has_p_below_0_01_and_intervals_hold_the_scores():
    out = case("perfect_vs_shuffled")
    perfect = out["results"]["perfect"]
    for metric in ("bleu", "chrf"):
        assert perfect[metric]["p"] < 0.01 and perfect[metric]["paired_seeds"] == 2
        assert mark(with_result("perfect", perfect), metric) == "†"
        assert "p" not in out["results"]["shuffled"][metric]  # the baseline
        for system, scores in out["corpus"].items():
            mean_over_seeds = sum(scores[metric]) / len(scores[metric])
            assert out["results"][system][metric]["scores"] == pytest.approx(scores[metric])
            assert contains(out["results"][system][metric]["interval"], mean_over_seeds), (system, metric)
    assert perfect["bleu"]["interval"] == pytest.approx([100.0, 0.0])


@needs_trainer
def test_identical_systems_get_p_1_and_no_mark():
    out = case("identical")
    for metric in ("bleu", "chrf"):
        copy = out["results"]["copy"][metric]
        assert copy["p"] == 1.0  # sacrebleu's (0 + 1) / (trials + 1) would read 0.0005
        assert mark(with_result("copy", out["results"]["copy"]), metric) == ""
        assert copy["interval"] == out["results"]["noisy"][metric]["interval"]
        mean_over_seeds = sum(out["corpus"]["copy"][metric]) / 2
        assert contains(copy["interval"], mean_over_seeds)


@needs_trainer
def test_with_one_seed_the_stratified_loop_gives_sacrebleus_own_paired_test_numbers():
    out = case("single_seed", 1000)
    ours, theirs = out["ours"], out["theirs"]
    for column, metric in enumerate(("bleu", "chrf")):
        ar_base, ar_other = theirs["ar"][column]
        assert ours["other"][metric]["p"] == ar_other["p"] and 0 < ar_other["p"] < 1
        assert ours["base"][metric]["scores"] == [ar_base["score"]]
        assert ours["other"][metric]["scores"] == [ar_other["score"]]
        bs_base, bs_other = theirs["bs"][column]
        assert ours["base"][metric]["interval"] == [bs_base["mean"], bs_base["ci"]]
        assert ours["other"][metric]["interval"] == [bs_other["mean"], bs_other["ci"]]


def row(run: str, lr: float, seed: int, bleu: float | None = 10.0) -> RunRow:
    return RunRow(run, {"training.learning_rate": lr, "training.seed": seed}, bleu=bleu, chrf=30.0)


def test_runs_differing_only_by_seed_are_one_system_ordered_by_seed_in_the_sweeps_order():
    rows = [
        row("b-2", 0.005, 2),
        row("a-2", 0.001, 2),
        row("a-1", 0.001, 1),
        row("b-1", 0.005, 1),
        row("c", 0.1, 1, None),
    ]
    systems = group_systems(rows, ["training.learning_rate", "training.seed"], ["a-1", "a-2", "b-1", "b-2"], "sweep")
    assert [s.name for s in systems] == ["learning_rate=0.001", "learning_rate=0.005"]  # c is not scored
    assert [[r.run for r in s.runs] for s in systems] == [["a-1", "a-2"], ["b-1", "b-2"]]
    assert [s.name for s in group_systems(rows[:1], ["training.seed"], [], "sweep")] == ["sweep"]
    for r in rows:  # a key the others determine (each learning rate its own warmup) does not name the system
        r.params["training.warmup_steps"] = {0.001: 10, 0.005: 20, 0.1: 30}[r.params["training.learning_rate"]]
    varied = ["training.learning_rate", "training.seed", "training.warmup_steps"]
    assert [s.name for s in group_systems(rows, varied, [], "sweep")] == ["learning_rate=0.001", "learning_rate=0.005"]


def test_the_baseline_is_named_by_system_value_or_run_else_the_first():
    systems = [System("estimator=mediapipe", [RunRow("m-1", {})]), System("estimator=openpose", [RunRow("o-1", {})])]
    assert choose_baseline(systems, None, None) == (systems[0], "")
    assert choose_baseline(systems, "openpose", "mediapipe") == (systems[1], "")  # --baseline wins
    assert choose_baseline(systems, None, "o-1") == (systems[1], "")
    assert choose_baseline(systems, "estimator=openpose", None) == (systems[1], "")
    with pytest.raises(UserError, match="--baseline sapiens: names no scored system; the systems are: estimator=me"):
        choose_baseline(systems, "sapiens", None)
    system, warning = choose_baseline(systems, None, "sapiens")  # the sweep's, not scored yet: a warning
    assert system is systems[0] and warning.startswith("summary.baseline sapiens names no single scored system")


def test_the_systems_table_marks_p_below_0_05_and_shows_intervals():
    base = System("a", [RunRow("a", {}, bleu=10.0, chrf=30.0)], {"bleu": {"interval": [10.0, 1.5]}})
    other = System(
        "b",
        [RunRow("b1", {}, bleu=12.0, chrf=31.0), RunRow("b2", {}, bleu=14.0, chrf=31.0)],
        {"bleu": {"interval": [13.0, 1.0], "p": 0.01}, "chrf": {"interval": [31.0, 0.5], "p": 0.2}},
    )
    columns, cells = system_rows([base, other], base)
    assert columns[:5] == ["system", "runs", "BLEU mean ± std", "BLEU 95% CI", "p (BLEU)"]
    assert cells[0][:5] == ["a (baseline)", "1", "10.000 ± 0.000", "[8.500, 11.500]", "-"]
    assert cells[1][:5] == ["b", "2", "13.000 ± 1.414†", "[12.000, 14.000]", "0.0100"]
    assert cells[1][5:] == ["31.000 ± 0.000", "[30.500, 31.500]", "0.2000"] and interval(base, "chrf") is None


def test_the_sentences_that_differ_most_come_first_ties_by_position():
    def sentence(i: int, a: float, b: float) -> dict:
        return {"index": i, "reference": "r", "systems": {"a": {"bleu": a}, "b": {"bleu": b}}}

    table = [sentence(0, 50, 50), sentence(1, 0, 100), sentence(2, 80, 20), sentence(3, 100, 0)]
    assert [t["index"] for t in most_different(table, "a", "b", 3)] == [1, 3, 2]
