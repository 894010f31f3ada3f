"""evaluate: hypotheses + the test TSV's references → `test_score.bleu` and `test_score.chrf` (sacrebleu JSON).

Scores come from sacrebleu's Python API and are written as sacrebleu's own JSON (score, signature, ...), like
the original pipeline's `test_score.bleu`. BLEURT runs only when `evaluate.bleurt_checkpoint` names a local
checkpoint. Fails when hypotheses and references differ in count, naming both files.
"""
from __future__ import annotations

import csv
import json
from pathlib import Path

from pipeline.errors import UserError
from pipeline.stages.entry import stage_main


def read_references(tsv: Path) -> list[str]:
    with open(tsv, newline="") as handle:
        return [row["output"] for row in csv.DictReader(handle, delimiter="\t")]


def read_hypotheses(path: Path) -> list[str]:
    text = path.read_text(encoding="utf-8")
    return text.split("\n") if text else []   # generate writes lines joined by "\n", no final newline


def score(hyps: list[str], refs: list[str]) -> dict[str, dict]:
    from sacrebleu.metrics import BLEU, CHRF
    out = {}
    for name, metric in (("bleu", BLEU()), ("chrf", CHRF())):
        result = metric.corpus_score(hyps, [refs])
        # three decimals, as the original pipeline's `sacrebleu -w 3` (9.982)
        out[name] = json.loads(result.format(width=3, signature=str(metric.get_signature()), is_json=True))
    return out


def bleurt(hyps: list[str], refs: list[str], checkpoint: str) -> dict:
    from bleurt import score as bleurt_score   # optional: only with a local checkpoint
    scores = bleurt_score.BleurtScorer(checkpoint).score(references=refs, candidates=hyps)
    return {"name": "BLEURT", "score": sum(scores) / len(scores), "checkpoint": checkpoint}


def run(spec: dict) -> dict:
    """Score the test translations."""
    out = Path(spec["output_dir"])
    hyp_file = Path(spec["translate_dir"]) / "generated_predictions.txt"
    ref_file = Path(spec["references"])
    hyps, refs = read_hypotheses(hyp_file), read_references(ref_file)
    if len(hyps) != len(refs):
        raise UserError(f"{hyp_file} has {len(hyps)} hypotheses but {ref_file} has {len(refs)} references")
    results = score(hyps, refs)
    for name, result in results.items():
        (out / f"test_score.{name}").write_text(json.dumps(result, indent=1, ensure_ascii=False) + "\n")
        print(f"{result['name']} = {result['score']}   ({result.get('signature', '')})", flush=True)
    facts = {name: r["score"] for name, r in results.items()}
    checkpoint = spec["evaluate"].get("bleurt_checkpoint")
    if checkpoint:
        result = bleurt(hyps, refs, checkpoint)
        (out / "test_score.bleurt").write_text(json.dumps(result, indent=1) + "\n")
        facts["bleurt"] = result["score"]
    return facts


if __name__ == "__main__":
    stage_main(run)
