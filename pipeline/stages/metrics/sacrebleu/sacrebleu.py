"""An `evaluate` metric computing corpus BLEU with the sacrebleu package (default tokenizer 13a)."""

import datasets
import evaluate
import sacrebleu as scb


def reference_streams(references):
    """[[ref1a, ref1b], [ref2a, ...]] or [ref1, ref2] → sacrebleu's list of reference streams."""
    rows = [[r] if isinstance(r, str) else list(r) for r in references]
    width = max((len(r) for r in rows), default=1)
    if any(len(r) != width for r in rows):
        raise ValueError("every prediction needs the same number of references")
    return [[row[i] for row in rows] for i in range(width)]


class Sacrebleu(evaluate.Metric):
    def _info(self):
        return evaluate.MetricInfo(
            description="Corpus BLEU from sacrebleu.",
            citation="Post, 2018. A Call for Clarity in Reporting BLEU Scores.",
            inputs_description="predictions: list of str; references: list of str or list of list of str",
            features=[
                datasets.Features(
                    {"predictions": datasets.Value("string"), "references": datasets.Sequence(datasets.Value("string"))}
                ),
                datasets.Features({"predictions": datasets.Value("string"), "references": datasets.Value("string")}),
            ],
        )

    def _compute(self, predictions, references):
        bleu = scb.corpus_bleu(list(predictions), reference_streams(references))
        return {"score": bleu.score, "bp": bleu.bp, "sys_len": bleu.sys_len, "ref_len": bleu.ref_len}
