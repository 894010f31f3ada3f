"""Systems of a sweep and how they compare: the login side of intervals, significance and per-sentence scores.

A *system* is the runs of a sweep that differ only by `training.seed` and/or `replicate` (one run where nothing
repeats). Its runs are ordered by seed, then replicate: seed i of one system is paired with seed i of another.
The baseline is `--baseline NAME`, else the sweep's `summary.baseline`, else its first system; NAME may be a
system's name (`estimator=openpose`), the value alone (`openpose`) or the name of one of its runs.

The numbers themselves come from sacrebleu, in the trainer image (`pipeline.stages.significance`, run by
`pipeline.image_steps`); this module writes that step's input, reads its output and turns both into table rows.
Per-sentence scores are read from each run's `test_sentences.tsv` (evaluate): the summary lists the test sentences
on which the baseline and the best other system differ most (sentence BLEU, mean over seeds).
"""

from __future__ import annotations

import csv
import hashlib
import json
import statistics
from dataclasses import dataclass, field
from pathlib import Path

from pipeline.errors import UserError
from pipeline.image_steps import StepResult, bind_folders, run_step
from pipeline.run_records import Submission
from pipeline.stages.scoring import SACREBLEU_SEED
from pipeline.summary_rows import RunRow

REPEAT_KEYS = ("replicate", "training.seed")
TRIALS, RESAMPLES = 10000, 1000  # sacrebleu's defaults for approximate randomization and bootstrap
MARK, LEVEL = "†", 0.05
METRICS = {"bleu": "BLEU", "chrf": "chrF"}


@dataclass
class System:
    name: str
    runs: list[RunRow]  # summary rows (pipeline/summary_rows.py), scored, by seed then replicate
    result: dict = field(default_factory=dict)  # metric -> the significance step's numbers for this system

    def mean_std(self, metric: str) -> tuple[float, float]:
        scores = [r.score(metric) for r in self.runs]
        return statistics.mean(scores), statistics.stdev(scores) if len(scores) > 1 else 0.0


def system_name(row: RunRow, others: list[str], fallback: str) -> str:
    return ", ".join(f"{k.split('.')[-1]}={format_value(row.get(k))}" for k in others) or fallback


def format_value(value) -> str:
    return json.dumps(value) if isinstance(value, (dict, list)) else str(value)


def partition(rows: list[RunRow], keys: list[str]) -> set[frozenset]:
    groups: dict[tuple, set] = {}
    for row in rows:
        groups.setdefault(tuple(format_value(row.get(k)) for k in keys), set()).add(row.run)
    return {frozenset(g) for g in groups.values()}


def naming_keys(rows: list[RunRow], keys: list[str]) -> list[str]:
    """The keys that name systems: a key that the others determine (each pose type's own archive URL, say) is
    left out, from the last key on, as long as the runs still fall into the same systems."""
    kept = list(keys)
    for key in reversed(keys):
        fewer = [k for k in kept if k != key]
        if fewer and partition(rows, fewer) == partition(rows, kept):
            kept = fewer
    return kept


def group_systems(rows: list[RunRow], varied: list[str], order: list[str], fallback: str) -> list[System]:
    """Scored runs (BLEU and chrF numbers) grouped into systems, in the order their first run has in `order`."""
    position = {run: i for i, run in enumerate(order)}
    scored = [r for r in rows if r.bleu is not None and r.chrf is not None]
    others = naming_keys(rows, [k for k in varied if k not in REPEAT_KEYS])
    scored.sort(key=lambda r: (position.get(r.run, len(position)), r.run))
    systems: dict[str, System] = {}
    for row in scored:
        name = system_name(row, others, fallback)
        systems.setdefault(name, System(name, [])).runs.append(row)
    for system in systems.values():
        system.runs.sort(key=lambda r: (seed_order(r.get("training.seed")), seed_order(r.get("replicate")), r.run))
    return list(systems.values())


def seed_order(value) -> tuple:
    """Numbers in numeric order, then anything else as text (None first)."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return (0, value, "")
    return (1, 0, "" if value is None else str(value))


def matches(system: System, name: str) -> bool:
    values = [part.split("=", 1)[-1] for part in system.name.split(", ")]
    return name == system.name or name in values or name in [r.run for r in system.runs]


def choose_baseline(systems: list[System], given: str | None, recorded: str | None) -> tuple[System, str]:
    """The system named by --baseline (a name that fits none or several is an error), else by the sweep's
    summary.baseline (one not scored yet: the first system, and a warning), else the first; (system, warning)."""
    names = ", ".join(s.name for s in systems)
    if given is not None:
        found = [s for s in systems if matches(s, given)]
        if len(found) != 1:
            what = "matches several systems" if found else "names no scored system"
            raise UserError(f"--baseline {given}: {what}; the systems are: {names}")
        return found[0], ""
    if recorded is not None:
        found = [s for s in systems if matches(s, recorded)]
        if len(found) == 1:
            return found[0], ""
        return systems[0], f"summary.baseline {recorded} names no single scored system ({names}): {systems[0].name}"
    return systems[0], ""


def significance_spec(systems: list[System], baseline: System, output: Path, trials: int, resamples: int) -> dict:
    return {
        "systems": [
            {
                "name": s.name,
                "runs": [
                    {
                        "run": r.run,
                        "stats": str(r.dirs["evaluate"] / "test_stats.json"),
                        "hypotheses": str(r.dirs["translate"] / "generated_predictions.txt"),
                        "references": str(r.dirs["preprocess"] / "test.tsv"),
                    }
                    for r in s.runs
                ],
            }
            for s in systems
        ],
        "baseline": baseline.name,
        "trials": trials,
        "resamples": resamples,
        "seed": SACREBLEU_SEED,
        "output": str(output),
    }


def input_digest(spec: dict) -> str:
    """What the step's result depends on: its spec and the size and time of every file it reads."""
    files = [Path(run[k]) for s in spec["systems"] for run in s["runs"] for k in ("stats", "hypotheses", "references")]
    facts = [(str(f), f.stat().st_size, f.stat().st_mtime_ns) if f.exists() else (str(f), None) for f in files]
    return hashlib.sha256(json.dumps([spec, facts], sort_keys=True).encode()).hexdigest()[:16]


def compute_significance(
    systems: list[System],
    baseline: System,
    folder: Path,
    record: Submission,
    trials: int,
    resamples: int,
    runtime: str | None = None,
) -> tuple[dict | None, str]:
    """Run the significance step (unless its result for the same inputs is there); (result, why not)."""
    folder.mkdir(parents=True, exist_ok=True)
    output, spec_path = folder / "result.json", folder / "input.json"
    spec = significance_spec(systems, baseline, output, trials, resamples)
    digest = input_digest(spec)
    if output.exists():
        previous = json.loads(output.read_text())
        if previous.get("digest") == digest:
            return previous, ""
    spec_path.write_text(json.dumps(spec, indent=1) + "\n")
    read = [Path(run[k]).parent for s in spec["systems"] for run in s["runs"] for k in ("stats", "hypotheses")]
    read += [Path(run["references"]).parent for s in spec["systems"] for run in s["runs"]]
    step: StepResult = run_step(record, "trainer", "significance", spec_path, bind_folders(read, [folder]), runtime)
    if not step.ok:
        return None, step.reason
    result = json.loads(output.read_text())
    result["digest"] = digest
    output.write_text(json.dumps(result, indent=1) + "\n")
    return result, ""


def attach(systems: list[System], result: dict | None) -> None:
    for system in systems:
        system.result = (result or {}).get("systems", {}).get(system.name, {})


def interval(system: System, metric: str) -> tuple[float, float] | None:
    """The 95% interval (bootstrap mean − half-width, + half-width), as sacrebleu reports it."""
    found = system.result.get(metric, {}).get("interval")
    return (found[0] - found[1], found[0] + found[1]) if found else None


def p_value(system: System, metric: str) -> float | None:
    return system.result.get(metric, {}).get("p")


def mark(system: System, metric: str) -> str:
    p = p_value(system, metric)
    return MARK if p is not None and p < LEVEL else ""


def system_rows(systems: list[System], baseline: System) -> tuple[list[str], list[list[str]]]:
    """The systems table: per metric mean ± std over seeds (marked), the 95% interval and the p-value."""
    columns = ["system", "runs"]
    for label in METRICS.values():
        columns += [f"{label} mean ± std", f"{label} 95% CI", f"p ({label})"]
    cells = []
    for system in systems:
        row = [system.name + (" (baseline)" if system is baseline else ""), str(len(system.runs))]
        for metric in METRICS:
            mean, std = system.mean_std(metric)
            ci, p = interval(system, metric), p_value(system, metric)
            row += [
                f"{mean:.3f} ± {std:.3f}{mark(system, metric)}",
                f"[{ci[0]:.3f}, {ci[1]:.3f}]" if ci else "-",
                "-" if p is None else f"{p:.4f}",
            ]
        cells.append(row)
    return columns, cells


def method_note(result: dict | None, baseline: System, systems: list[System], why_not: str) -> str:
    if result is None:
        return f"intervals and p-values not computed: {why_not}" if why_not else ""
    seeds = sorted({s.result.get("bleu", {}).get("paired_seeds", 0) for s in systems if s is not baseline})
    paired = "/".join(str(n) for n in seeds if n) or "1"
    return (
        f"{MARK} p < {LEVEL} against the baseline ({baseline.name}): paired approximate randomization, "
        f"{result['trials']} trials, stratified by seed as MultEval does ({paired} seed pair(s): seed i against "
        f"seed i); p = 1 where the difference is zero. 95% CI: paired bootstrap resampling over the "
        f"{result['sentences']} test sentences, {result['resamples']} resamples, each scored as the mean over seeds "
        f"(bootstrap mean ± half-width). Statistics from sacrebleu {result['sacrebleu']} (seed {result['seed']}; "
        f"BLEU {result['signatures'].get('bleu', '')}; chrF {result['signatures'].get('chrf', '')})."
    )


def read_sentences(row: RunRow) -> list[dict] | None:
    path = row.dirs["evaluate"] / "test_sentences.tsv"
    if not path.exists():
        return None
    with open(path, newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle, delimiter="\t"))


def sentence_table(systems: list[System]) -> tuple[list[dict], list[str]]:
    """Per test sentence: its reference and, per system, its first seed's hypothesis and the sentence BLEU and
    chrF averaged over its seeds; and the runs without per-sentence scores."""
    read = {r.run: read_sentences(r) for s in systems for r in s.runs}
    missing = [run for run, rows in read.items() if rows is None]
    table: list[dict] = []
    for system in systems:
        per_run = [rows for rows in (read[r.run] for r in system.runs) if rows is not None]
        if not per_run:
            continue
        for i, first in enumerate(per_run[0]):
            if len(table) <= i:
                table.append({"index": int(first["index"]), "reference": first["reference"], "systems": {}})
            table[i]["systems"][system.name] = {
                "hypothesis": first["hypothesis"],
                "bleu": statistics.mean(float(rows[i]["bleu"]) for rows in per_run if i < len(rows)),
                "chrf": statistics.mean(float(rows[i]["chrf"]) for rows in per_run if i < len(rows)),
            }
    return table, missing


def best_other(systems: list[System], baseline: System) -> System | None:
    others = [s for s in systems if s is not baseline]
    return max(others, key=lambda s: s.mean_std("bleu")[0]) if others else None


def most_different(table: list[dict], a: str, b: str, count: int = 10) -> list[dict]:
    """The `count` sentences where systems a and b differ most in sentence BLEU (ties: the earlier sentence)."""
    both = [t for t in table if a in t["systems"] and b in t["systems"]]
    both.sort(key=lambda t: (-abs(t["systems"][b]["bleu"] - t["systems"][a]["bleu"]), t["index"]))
    return both[:count]
