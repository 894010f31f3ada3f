"""Summary groups: runs that differ only by seed (the pose-type comparison) or replicate are one configuration."""

from pipeline.summarize import repeat_groups
from pipeline.summary_rows import RunRow


def row(pose_type, seed, bleu, chrf, bleurt):
    params = {"estimate.estimator": pose_type, "training.seed": seed}
    return RunRow(f"{pose_type}-{seed}", params, bleu=bleu, chrf=chrf, bleurt=bleurt, epoch=3.0)


def test_runs_differing_only_by_seed_give_mean_and_std_of_every_score_per_pose_type():
    rows = [
        row("openpose", 42, 10.0, 30.0, 0.4),
        row("openpose", 534, 12.0, 32.0, 0.5),
        row("openpose", 375678, 14.0, 34.0, "missing"),
        row("sapiens", 42, 8.0, 28.0, None),
        row("sapiens", 534, None, None, None),
    ]  # not finished: left out of its group
    groups = {g["config"]: g for g in repeat_groups(rows, ["estimate.estimator", "training.seed"])}
    assert set(groups) == {"estimate.estimator=openpose", "estimate.estimator=sapiens"}
    openpose = groups["estimate.estimator=openpose"]
    assert openpose["runs"] == 3 and openpose["mean"] == 12.0 and openpose["std"] == 2.0
    assert openpose["chrf"] == (32.0, 2.0) and openpose["range"] == 4.0
    assert openpose["bleurt"][0] == 0.45  # "missing" is not a score
    assert openpose["same_init"] == "-"  # other seeds: other weights, by design
    assert groups["estimate.estimator=sapiens"]["runs"] == 1 and groups["estimate.estimator=sapiens"]["bleurt"] is None


def test_no_seed_or_replicate_varied_means_no_groups():
    assert repeat_groups([row("openpose", 42, 10.0, 30.0, 0.4)], ["estimate.estimator"]) == []
