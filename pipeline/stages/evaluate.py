"""evaluate: hypotheses + the test TSV's references → `test_score.bleu` and `test_score.chrf` (sacrebleu JSON),
per-sentence scores (`test_sentences.tsv`) and sacrebleu's sufficient statistics (`test_stats.json`).

Scores come from sacrebleu's Python API and are written as sacrebleu's own JSON (score, signature, ...), like
the original pipeline's `test_score.bleu`, with three decimals (its `sacrebleu -w 3`). BLEURT (default BLEURT-20
through bleurt-pytorch; `tiny-bleurt` is built offline for tests) goes to `test_score.bleurt`; a checkpoint that
cannot be loaded (not cached on an offline node, say) is reported in one line and marked missing in that file,
and BLEU and chrF are still written. Fails when hypotheses and references differ in count, naming both files.

`test_sentences.tsv`: index, sentence BLEU (sacrebleu's effective order), sentence chrF, reference, hypothesis;
one row per test sentence. `test_stats.json`: per metric the signature, the corpus score and one list of sufficient
statistics per sentence (`pipeline/stages/scoring.py`); `pipeline.summarize` resamples them for confidence
intervals and significance (`pipeline/stages/significance.py`) without scoring anything again.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pipeline.errors import UserError
from pipeline.stages.entry import stage_main
from pipeline.stages.markers import build_once
from pipeline.stages.scoring import (
    corpus_metrics,
    read_hypotheses,
    read_references,
    sentence_rows,
    sufficient_statistics,
    write_sentence_rows,
)
from pipeline.stages.specs import EvaluateSpec


def score(hyps: list[str], refs: list[str]) -> dict[str, dict]:
    out = {}
    for name, metric in corpus_metrics().items():  # the metrics the significance step resamples
        result = metric.corpus_score(hyps, [refs])
        # three decimals, as the original pipeline's `sacrebleu -w 3` (9.982)
        out[name] = json.loads(result.format(width=3, signature=str(metric.get_signature()), is_json=True))
        if name == "bleu":  # n-gram matches and totals: a chance-level score is smoothing of zero counts
            out[name].update(counts=list(result.counts), totals=list(result.totals))
    return out


def resolve_bleurt(checkpoint: str, cache_dir: str) -> str:
    """`tiny-bleurt` → the tiny offline BLEURT, built into the cache on first use; anything else as given."""
    if checkpoint != "tiny-bleurt":
        return checkpoint
    from pipeline.stages.tiny_bleurt import VERSION, build

    return str(build_once(Path(cache_dir) / f"tiny-bleurt-v{VERSION}", build))


def bleurt(hyps: list[str], refs: list[str], checkpoint: str, cache_dir: str, batch_size: int = 16) -> dict:
    """Mean BLEURT over the test sentences; {"score": None, "missing": why} when the checkpoint cannot be loaded."""
    result: dict[str, Any] = {"name": "BLEURT", "checkpoint": checkpoint, "score": None}
    try:
        import torch
        from bleurt_pytorch import BleurtForSequenceClassification, BleurtTokenizer

        path = resolve_bleurt(checkpoint, cache_dir)
        model = BleurtForSequenceClassification.from_pretrained(path).eval()
        tokenizer = BleurtTokenizer.from_pretrained(path)
    except (ImportError, OSError, ValueError) as exc:
        result["missing"] = f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"[:300]
        return result
    scores: list[float] = []
    with torch.no_grad():
        for i in range(0, len(hyps), batch_size):
            inputs = tokenizer(
                refs[i : i + batch_size],
                hyps[i : i + batch_size],
                padding="longest",
                truncation=True,
                max_length=model.config.max_position_embeddings,
                return_tensors="pt",
            )
            scores += model(**inputs).logits.flatten().tolist()
    result["score"] = round(sum(scores) / len(scores), 3) if scores else None
    return result


def run(spec: EvaluateSpec) -> dict:
    """Score the test translations."""
    out = Path(spec.output_dir)
    hyp_file = Path(spec.translate_dir) / "generated_predictions.txt"
    ref_file = Path(spec.references)
    hyps, refs = read_hypotheses(hyp_file), read_references(ref_file)
    if len(hyps) != len(refs):
        raise UserError(f"{hyp_file} has {len(hyps)} hypotheses but {ref_file} has {len(refs)} references")
    results = score(hyps, refs)
    for name, result in results.items():
        (out / f"test_score.{name}").write_text(json.dumps(result, indent=1, ensure_ascii=False) + "\n")
        print(f"{result['name']} = {result['score']}   ({result.get('signature', '')})", flush=True)
    write_sentence_rows(out / "test_sentences.tsv", sentence_rows(hyps, refs))
    (out / "test_stats.json").write_text(json.dumps(sufficient_statistics(hyps, refs)) + "\n")  # compact: N lists
    facts = {name: r["score"] for name, r in results.items()}
    checkpoint = spec.evaluate.bleurt_checkpoint
    if checkpoint:
        result = bleurt(hyps, refs, checkpoint, spec.cache_dir or str(out))
        (out / "test_score.bleurt").write_text(json.dumps(result, indent=1) + "\n")
        if result["score"] is None:
            print(
                f"BLEURT missing: cannot load {checkpoint} ({result['missing']}); BLEU and chrF are written. "
                f"Fill the cache on a machine with internet: python -m pipeline.fetch_models CONFIG",
                flush=True,
            )
        else:
            print(f"BLEURT = {result['score']}   ({checkpoint})", flush=True)
        facts["bleurt"] = result["score"]
    else:
        print("BLEURT off (evaluate.bleurt_checkpoint: null)", flush=True)
    return facts


if __name__ == "__main__":
    stage_main(run)
