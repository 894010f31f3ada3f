"""Confidence intervals and significance over seeds and test sentences, from sacrebleu's own statistics.

A step of `pipeline.summarize`, run in the trainer image (where sacrebleu is) through the run's runtime:
`python -m pipeline.stages.significance --spec jobs/<sweep>/significance/input.json` writes the spec's `output`.

A *system* is a list of runs that differ only by seed (or replicate); each run brings sacrebleu's per-sentence
sufficient statistics (evaluate's `test_stats.json`, or computed here from its hypotheses and references when an
evaluate older than that file scored it). Per system and metric (BLEU, chrF):

- **interval**: paired bootstrap resampling over test sentences. Each of `resamples` draws picks N sentence
  indices with replacement, the same draw for every system and every seed; each seed's corpus score is recomputed
  from its resampled statistics and the draw's score is their mean over seeds (the number the summary reports).
  `sacrebleu.significance.estimate_ci` turns the draws into (bootstrap mean, 95% half-width), sacrebleu's form.
- **p-value against the baseline**: approximate randomization that respects the seeds (MultEval's stratified
  test, Clark et al. 2011): seed i of the system is paired with seed i of the baseline; a trial swaps the two
  outputs of each sentence within each seed pair with probability 1/2 and takes the absolute difference of the
  two pseudo-systems' seed-mean corpus scores; sacrebleu's `_compute_p_value` counts the trials whose difference
  exceeds the observed one, (c + 1) / (trials + 1). Where the observed difference is zero, p = 1: no trial can
  exceed it, and (0 + 1) / (trials + 1) would read as significant.

We resample the statistics ourselves rather than run `PairedTest` on seed-paired concatenations: a bootstrap of a
concatenation draws (seed, sentence) pairs independently, so a resample may hold one seed's output of a sentence
and not the other's, and its corpus score pools all seeds into one brevity penalty and one set of n-gram
precisions, a number the summary never shows. Stratifying by sentence keeps every seed's output of a sentence
together and measures the seed mean itself. With one seed the two are the same computation: the same RNG
draws (`numpy.random.default_rng(seed)`, sacrebleu's default seed 12345), the same statistics, the same arithmetic,
so the numbers equal `PairedTest`'s to the last digit (tests/test_significance.py checks it).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path


def seed_mean(metric, runs: list[list[list]]) -> float:
    """The mean over seeds of each run's corpus score (sacrebleu's `_aggregate_and_compute`)."""
    return sum(metric._aggregate_and_compute(stats).score for stats in runs) / len(runs)


def averaged(per_seed: list):
    """The element-wise mean over seeds of arrays of scores; one seed's array itself (its dtype too, so that one
    seed gives sacrebleu's numbers exactly)."""
    import numpy as np

    return per_seed[0] if len(per_seed) == 1 else np.mean(np.stack(per_seed).astype("float64"), axis=0)


def bootstrap_draws(sentences: int, resamples: int, seed: int):
    """The resampled sentence indices, one row per resample (as sacrebleu draws them)."""
    import numpy as np

    return np.random.default_rng(seed).choice(sentences, size=(resamples, sentences), replace=True)


def bootstrap_interval(metric, runs: list[list[list]], draws) -> tuple[float, float]:
    """(bootstrap mean, 95% half-width) of the seed-mean corpus score, over the given draws of sentences."""
    import numpy as np
    from sacrebleu.significance import estimate_ci

    per_seed = []
    for stats in runs:
        array = np.array(stats, dtype="float32")  # as sacrebleu's bootstrap: float32 sums of the statistics
        per_seed.append(np.array([metric._compute_score_from_stats(array[idx].sum(0)).score for idx in draws]))
    mean, half = estimate_ci(averaged(per_seed))
    return float(mean), float(half)


def randomization_p(metric, baseline: list[list[list]], system: list[list[list]], trials: int, seed: int) -> float:
    """Approximate randomization, seed i paired with seed i (the first min(len) seeds of each); p = 1 when the
    observed difference of seed means is zero."""
    import numpy as np
    from sacrebleu.significance import _compute_p_value

    pairs = min(len(baseline), len(system))
    observed = abs(seed_mean(metric, baseline[:pairs]) - seed_mean(metric, system[:pairs]))
    if observed == 0:
        return 1.0
    sentences = len(baseline[0])
    swap = np.random.default_rng(seed).integers(2, size=(trials, pairs, sentences), dtype=bool)
    scores_a, scores_b = [], []
    for i in range(pairs):
        keep = swap[:, i]
        base, other = np.array(baseline[i]), np.array(system[i])
        shuffled_a = keep @ base + ~keep @ other
        shuffled_b = ~keep @ base + keep @ other
        scores_a.append(np.array([metric._aggregate_and_compute(x).score for x in shuffled_a[:, None]]))
        scores_b.append(np.array([metric._aggregate_and_compute(x).score for x in shuffled_b[:, None]]))
    differences = np.abs(averaged(scores_a) - averaged(scores_b))
    return float(_compute_p_value(differences, observed))


def compare(systems: dict[str, dict[str, list]], baseline: str, trials: int, resamples: int, seed: int) -> dict:
    """systems: name -> metric -> one list of per-sentence statistics per seed. Per system and metric: the
    seed scores, the interval (bootstrap mean, half-width) and, but for the baseline, the p-value."""
    from pipeline.stages.scoring import corpus_metrics

    sizes = {name: {len(stats) for runs in metrics.values() for stats in runs} for name, metrics in systems.items()}
    if len({n for s in sizes.values() for n in s}) != 1:
        raise ValueError(f"the runs were scored on test sets of different sizes: {sizes}")
    sentences = next(iter(next(iter(sizes.values()))))
    draws = bootstrap_draws(sentences, resamples, seed)
    metrics = corpus_metrics()
    out: dict = {}
    for name, by_metric in systems.items():
        out[name] = {}
        for metric_name, runs in by_metric.items():
            metric = metrics[metric_name]
            result: dict = {
                "scores": [metric._aggregate_and_compute(stats).score for stats in runs],
                "interval": bootstrap_interval(metric, runs, draws),
            }
            if name != baseline:
                result["p"] = randomization_p(metric, systems[baseline][metric_name], runs, trials, seed)
                result["paired_seeds"] = min(len(runs), len(systems[baseline][metric_name]))
            out[name][metric_name] = result
    return out


def run_statistics(run: dict) -> dict:
    """metric -> {"signature", "stats"} of one run: evaluate's test_stats.json, else computed from its texts."""
    from pipeline.stages.scoring import read_hypotheses, read_references, sufficient_statistics

    path = Path(run["stats"])
    if path.exists():
        return json.loads(path.read_text())
    return sufficient_statistics(read_hypotheses(Path(run["hypotheses"])), read_references(Path(run["references"])))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--spec", required=True, help="input.json written by pipeline.summarize")
    args = parser.parse_args(argv)
    import sacrebleu

    spec = json.loads(Path(args.spec).read_text())
    systems: dict[str, dict[str, list]] = {}
    signatures: dict[str, str] = {}
    for system in spec["systems"]:
        systems[system["name"]] = {}
        for run in system["runs"]:
            for metric_name, data in run_statistics(run).items():
                systems[system["name"]].setdefault(metric_name, []).append(data["stats"])
                signatures.setdefault(metric_name, data["signature"])
    try:
        results = compare(systems, spec["baseline"], spec["trials"], spec["resamples"], spec["seed"])
    except ValueError as exc:
        print(f"error: significance: {exc}", file=sys.stderr)
        return 2
    output = {
        "sacrebleu": sacrebleu.__version__,
        "signatures": signatures,
        "baseline": spec["baseline"],
        "trials": spec["trials"],
        "resamples": spec["resamples"],
        "seed": spec["seed"],
        "sentences": len(next(iter(next(iter(systems.values())).values()))[0]),
        "systems": results,
    }
    Path(spec["output"]).write_text(json.dumps(output, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
