"""An `evaluate` metric computing corpus chrF with the sacrebleu package."""

import datasets
import evaluate
import sacrebleu as scb


def reference_streams(references):
    rows = [[r] if isinstance(r, str) else list(r) for r in references]
    width = max((len(r) for r in rows), default=1)
    if any(len(r) != width for r in rows):
        raise ValueError("every prediction needs the same number of references")
    return [[row[i] for row in rows] for i in range(width)]


class Chrf(evaluate.Metric):
    def _info(self):
        return evaluate.MetricInfo(
            description="Corpus chrF from sacrebleu.",
            citation="Popovic, 2015. chrF: character n-gram F-score for automatic MT evaluation.",
            inputs_description="predictions: list of str; references: list of str or list of list of str",
            features=[
                datasets.Features(
                    {"predictions": datasets.Value("string"), "references": datasets.Sequence(datasets.Value("string"))}
                ),
                datasets.Features({"predictions": datasets.Value("string"), "references": datasets.Value("string")}),
            ],
        )

    def _compute(self, predictions, references):
        chrf = scb.corpus_chrf(list(predictions), reference_streams(references))
        return {"score": chrf.score}
