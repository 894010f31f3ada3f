"""What evaluate and the significance step share: the metric objects, reading hypotheses and references, and the
per-sentence numbers sacrebleu computes (runs where sacrebleu is installed: the trainer image).

- `corpus_metrics()`: BLEU and chrF exactly as evaluate scores the corpus (sacrebleu's defaults), so statistics
  and scores always agree;
- `sufficient_statistics(hyps, refs)`: sacrebleu's own per-sentence sufficient statistics
  (`Metric._extract_corpus_statistics`: BLEU's hypothesis and reference lengths, matches and totals per n-gram
  order; chrF's per-order character and word counts), from which any resample's corpus score is recomputed by
  sacrebleu's `_compute_score_from_stats` (`pipeline/stages/significance.py`);
- `sentence_rows(hyps, refs)`: sentence BLEU with sacrebleu's effective order (a short sentence without 4-gram
  matches is scored on the orders it has) and sentence chrF, per hypothesis: evaluate's `test_sentences.tsv`.
"""

from __future__ import annotations

import csv
from pathlib import Path

SACREBLEU_SEED = 12345  # sacrebleu's default (its SACREBLEU_SEED): the significance step's resampling seed
SENTENCE_COLUMNS = ["index", "bleu", "chrf", "reference", "hypothesis"]


def read_references(tsv: Path) -> list[str]:
    with open(tsv, newline="") as handle:
        return [row["output"] for row in csv.DictReader(handle, delimiter="\t")]


def read_hypotheses(path: Path) -> list[str]:
    # generate writes the lines joined by "\n", no final newline: an empty file is one empty translation (a
    # model that has learnt nothing yet, on a one-sentence test split), never zero
    return path.read_text(encoding="utf-8").split("\n")


def corpus_metrics() -> dict:
    """name -> a fresh sacrebleu metric object, configured as evaluate's corpus scores are."""
    from sacrebleu.metrics import BLEU, CHRF

    return {"bleu": BLEU(), "chrf": CHRF()}


def sufficient_statistics(hyps: list[str], refs: list[str]) -> dict[str, dict]:
    """name -> {"signature", "score", "stats": one list of numbers per sentence}, all from sacrebleu."""
    out = {}
    for name, metric in corpus_metrics().items():
        stats = metric._extract_corpus_statistics(hyps, [refs])
        score = metric._aggregate_and_compute(stats).score
        metric.corpus_score(hyps, [refs])  # the signature needs the reference count a corpus score records
        out[name] = {"signature": str(metric.get_signature()), "score": score, "stats": [list(s) for s in stats]}
    return out


def sentence_rows(hyps: list[str], refs: list[str]) -> list[dict]:
    """One row per test sentence: its index, sentence BLEU (effective order) and chrF, reference, hypothesis."""
    from sacrebleu.metrics import BLEU, CHRF

    bleu, chrf = BLEU(effective_order=True), CHRF()
    return [
        {
            "index": i,
            "bleu": round(bleu.sentence_score(hyp, [ref]).score, 3),
            "chrf": round(chrf.sentence_score(hyp, [ref]).score, 3),
            "reference": ref,
            "hypothesis": hyp,
        }
        for i, (hyp, ref) in enumerate(zip(hyps, refs))
    ]


def write_sentence_rows(path: Path, rows: list[dict]) -> None:
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=SENTENCE_COLUMNS, delimiter="\t", lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
