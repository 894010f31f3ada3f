"""Constructed systems for tests/test_significance.py, run in the trainer venv (sacrebleu, numpy):
`python tests/significance_cases.py CASE TRIALS` prints `{"result": ...}` (conftest.run_in reads it).

References are random sentences of a small weather vocabulary; systems are made from them: `perfect` (the
references), `shuffled` (every hypothesis another sentence's reference: a different rotation per seed), `noisy`
(a word dropped from some sentences; another draw per seed) and `other` (another noisy draw).
"""

from __future__ import annotations

import json
import random
import sys

from pipeline.stages.scoring import SACREBLEU_SEED, sufficient_statistics
from pipeline.stages.significance import compare

WORDS = "regen sonne wind schnee nebel gewitter morgen abend nord sued west ost kalt warm heute".split()


def references(count: int = 60) -> list[str]:
    rng = random.Random(0)
    return [" ".join(rng.choice(WORDS) for _ in range(rng.randint(4, 9))) for _ in range(count)]


def noisy(refs: list[str], seed: int) -> list[str]:
    rng = random.Random(seed)
    out = []
    for ref in refs:
        words = ref.split()
        if rng.random() < 0.5:
            del words[rng.randrange(len(words))]
        out.append(" ".join(words))
    return out


def statistics_of(hyps: list[str], refs: list[str]) -> dict:
    return {name: data["stats"] for name, data in sufficient_statistics(hyps, refs).items()}


def seeds(outputs: list[list[str]], refs: list[str]) -> dict:
    """metric -> one statistics list per seed."""
    per_seed = [statistics_of(hyps, refs) for hyps in outputs]
    return {metric: [s[metric] for s in per_seed] for metric in per_seed[0]}


def corpus_scores(outputs: list[list[str]], refs: list[str]) -> dict:
    """metric -> the corpus score of each seed, as evaluate computes it."""
    per_seed = [sufficient_statistics(hyps, refs) for hyps in outputs]
    return {metric: [s[metric]["score"] for s in per_seed] for metric in per_seed[0]}


def two_seed_case(name: str, trials: int) -> dict:
    refs = references()
    outputs = {
        "perfect": [refs, refs],
        "shuffled": [refs[1:] + refs[:1], refs[2:] + refs[:2]],
        "noisy": [noisy(refs, 1), noisy(refs, 2)],
    }
    if name == "identical":
        outputs = {"noisy": outputs["noisy"], "copy": [list(h) for h in outputs["noisy"]]}
    systems = {system: seeds(hyps, refs) for system, hyps in outputs.items()}
    baseline = "shuffled" if name == "perfect_vs_shuffled" else "noisy"
    results = compare(systems, baseline, trials, 1000, SACREBLEU_SEED)
    return {"results": results, "corpus": {s: corpus_scores(h, refs) for s, h in outputs.items()}}


def single_seed_against_sacrebleu(trials: int) -> dict:
    """Our loop with one seed and sacrebleu's PairedTest (AR, then bootstrap) on the same two systems."""
    from sacrebleu.metrics import BLEU, CHRF
    from sacrebleu.significance import PairedTest

    refs = references()
    base, other = noisy(refs, 1), noisy(refs, 7)
    ours = compare({"base": seeds([base], refs), "other": seeds([other], refs)}, "base", trials, 1000, SACREBLEU_SEED)
    theirs = {}
    for test_type, samples in (("ar", trials), ("bs", 1000)):
        test = PairedTest(
            [("base", base), ("other", other)],
            {"bleu": BLEU(), "chrf": CHRF()},
            references=[refs],
            test_type=test_type,
            n_samples=samples,
        )
        _, scores = test()
        metric_columns = [v for k, v in scores.items() if k != "System"]
        theirs[test_type] = [
            [{"score": r.score, "p": r.p_value, "mean": r.mean, "ci": r.ci} for r in column]
            for column in metric_columns
        ]
    return {"ours": ours, "theirs": theirs}


if __name__ == "__main__":
    case, trials = sys.argv[1], int(sys.argv[2])
    result = single_seed_against_sacrebleu(trials) if case == "single_seed" else two_seed_case(case, trials)
    print(json.dumps({"result": result}, default=float))
