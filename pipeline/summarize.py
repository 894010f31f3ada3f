"""`python -m pipeline.summarize jobs/<run or sweep>`: one row per run, sorted by BLEU, as a table + files + plot.

Columns: the parameters that vary between the runs, BLEU, chrF (BLEURT if present), best checkpoint step, the epoch
where training stopped (trainer_state.json), wall time per stage (from the completion markers) and the run's
state (finished / failed / running / not finished). Written to `<run dir>/summary.md`, `summary.tsv` and
`summary.png` (BLEU per run, grouped by each varied parameter other than seed/replicate, e.g. BLEU per pose type).
Runs that differ only in `replicate` and/or `training.seed` are the same configuration: for each such group the
mean ± std of BLEU, chrF and BLEURT and the max − min of BLEU are reported.

Such a group is a *system* (pipeline/comparison.py): per system BLEU and chrF mean ± std over seeds, a 95% interval
from paired bootstrap resampling over test sentences and, against the baseline (`--baseline NAME`, else the sweep's
`summary.baseline`, else its first system), a p-value from approximate randomization stratified by seed, marked †
below 0.05; computed by sacrebleu in the trainer image (pipeline/stages/significance.py). Then the ten test
sentences on which the baseline and the best other system differ most. `report.html` (pipeline/report.py) is always
written beside summary.md: the same tables, the plots, every test sentence, skeleton previews and provenance.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

from pipeline import comparison
from pipeline.comparison import REPEAT_KEYS
from pipeline.errors import run_cli
from pipeline.previews import draw_previews
from pipeline.provenance import write_provenance
from pipeline.report import ReportData, render, sentence_cells
from pipeline.run_records import PlanRecord, Submission
from pipeline.rundir import find_run_dir, load_run
from pipeline.stages.trained_model import TrainerState
from pipeline.summary_rows import SCORES, RunRow, run_rows
from pipeline.tables import format_table


def initial_weights_identical(train_dirs: list[Path | None]) -> str:
    """'yes' when every run's setup weights are byte-identical, 'no' when not, '-' when some are missing.
    (Byte-identical files mean identical tensors; `pipeline.compare_weights A B` says which tensors differ.)"""
    from pipeline.archives import sha256

    digests = set()
    for folder in train_dirs:
        files = sorted((folder / "setup" / "model").glob("*.safetensors")) if folder else []
        if not files:
            return "-"
        digests.add(tuple(sha256(f) for f in files))
    return "yes" if len(digests) == 1 else "no"


def mean_std(values: list) -> tuple[float, float] | None:
    values = [v for v in values if isinstance(v, (int, float))]
    if not values:
        return None
    return statistics.mean(values), statistics.stdev(values) if len(values) > 1 else 0.0


def repeat_groups(rows: list[RunRow], varied: list[str]) -> list[dict]:
    """Groups of runs identical but for `replicate` and/or `training.seed`: BLEU, chrF and BLEURT mean ± std,
    BLEU max − min, the epochs where training stopped and (replicates of one seed only) whether their initial
    weights are identical."""
    repeats = [k for k in REPEAT_KEYS if k in varied]
    if not repeats:
        return []
    others = [k for k in varied if k not in REPEAT_KEYS]
    groups: dict[tuple, list[RunRow]] = {}
    for row in rows:
        if row.bleu is not None:
            groups.setdefault(tuple(json.dumps(row.get(k)) for k in others), []).append(row)
    out = []
    for key, members in groups.items():
        scores = [r.score("bleu") for r in members]
        out.append(
            {
                "config": ", ".join(f"{k}={json.loads(v)}" for k, v in zip(others, key)) or "(all)",
                "runs": len(scores),
                "mean": statistics.mean(scores),
                "std": statistics.stdev(scores) if len(scores) > 1 else 0.0,
                "chrf": mean_std([r.chrf for r in members]),
                "bleurt": mean_std([r.bleurt for r in members]),
                "range": max(scores) - min(scores),
                "epochs": "/".join(fmt(r.epoch) for r in members),
                "same_init": "-"
                if "training.seed" in repeats
                else initial_weights_identical([r.dirs.get("train") for r in members]),
            }
        )
    return out


def pm(pair: tuple[float, float] | None) -> str:
    return "-" if pair is None else f"{pair[0]:.3f} ± {pair[1]:.3f}"


def fmt(value, column: str = "") -> str:
    if value is None:
        return "-"
    if column in SCORES and isinstance(value, (int, float)):
        return f"{value:.3f}"  # three decimals, as the original pipeline's `sacrebleu -w 3`
    if isinstance(value, float):
        return f"{value:.3f}".rstrip("0").rstrip(".") if abs(value) >= 1e-3 or value == 0 else f"{value:g}"
    return str(value)


def table(rows: list[RunRow]) -> tuple[list[str], list[list[str]]]:
    columns = [c for c in rows[0].columns() if any(r.get(c) is not None for r in rows)] if rows else []
    return columns, [[fmt(r.get(c), c) for c in columns] for r in rows]


def training_curve(state: TrainerState, path: Path, title: str) -> bool:
    """Train loss and validation BLEU per logged step, from the trainer's own trainer_state.json, as a PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    history = state.log_history
    loss = [(h["step"], h["loss"]) for h in history if "loss" in h]
    bleu = [(h["step"], h["eval_sacrebleu"]) for h in history if "eval_sacrebleu" in h]
    if not loss and not bleu:
        return False
    fig, ax = plt.subplots(figsize=(6, 3.8))
    if loss:
        ax.plot(*zip(*loss), "o-", color="tab:blue", label="train loss")
    ax.set_xlabel("step")
    ax.set_ylabel("train loss", color="tab:blue")
    if bleu:
        other = ax.twinx()
        other.plot(*zip(*bleu), "s-", color="tab:orange", label="validation BLEU")
        other.set_ylabel("validation BLEU", color="tab:orange")
    ax.set_title(title, fontsize=9)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return True


def plot(rows: list[RunRow], varied: list[str], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    params = [k for k in varied if k not in REPEAT_KEYS] or ["run"]
    fig, axes = plt.subplots(1, len(params), figsize=(4.5 * len(params), 3.8), squeeze=False)
    for ax, param in zip(axes[0], params):
        scored = [r for r in rows if r.bleu is not None]
        labels = sorted({fmt(r.get(param)) for r in scored}, key=lambda v: (len(v), v))
        for i, label in enumerate(labels):
            ys = [r.bleu for r in scored if fmt(r.get(param)) == label]
            ax.scatter([i] * len(ys), ys, alpha=0.7)
        ax.set_xticks(
            range(len(labels)),
            labels,
            rotation=30 if param == "run" else 0,
            ha="right" if param == "run" else "center",
            fontsize=7 if param == "run" else 9,
        )
        ax.set_xlabel(param.split(".")[-1])
        ax.set_ylabel("BLEU")
        ax.grid(alpha=0.3)
    fig.suptitle(f"BLEU per run ({len([r for r in rows if r.bleu is not None])} scored of {len(rows)})")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def markdown(columns: list[str], cells: list[list[str]]) -> list[str]:
    return ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)] + [
        "| " + " | ".join(r) + " |" for r in cells
    ]


def provenance_rows(paths: list[Path]) -> list[dict]:
    """Per run: the machine its model was trained on (else any stage's), the commit and the config hash."""
    out = []
    for path in paths:
        prov = json.loads(path.read_text())
        stages = prov.get("stages", {})
        hosts = [t.get("host") for s in ("train", *stages) for t in stages.get(s, {}).get("tasks", []) if t.get("host")]
        out.append(
            {
                "run": prov["run"],
                "machine": hosts[0] if hosts else None,
                "commit": (prov.get("git_commit") or "")[:12] or None,
                "config hash": prov.get("config_hash"),
                "runtime": prov.get("runtime"),
            }
        )
    return out


def systems_and_baseline(
    args: argparse.Namespace, rows: list[RunRow], varied: list[str], plan: PlanRecord, record: Submission
) -> tuple[list[comparison.System], comparison.System | None, str]:
    """The systems, the baseline (a --baseline that names none is a user error, before anything is written) and a
    warning about the sweep's summary.baseline."""
    systems = comparison.group_systems(
        rows, varied, record.run_order or list(plan.runs), record.run or args.run_dir.name
    )
    if not systems:
        return [], None, ""
    return systems, *comparison.choose_baseline(systems, args.baseline, record.baseline)


def compare(
    args: argparse.Namespace,
    systems: list[comparison.System],
    baseline: comparison.System,
    record: Submission,
    report: ReportData,
) -> list[str]:
    """The systems table, the method and the most different sentences: printed, into summary.md and the report."""
    result, why_not = comparison.compute_significance(
        systems, baseline, args.run_dir / "significance", record, args.trials, args.resamples, args.runtime
    )
    comparison.attach(systems, result)
    columns, cells = comparison.system_rows(systems, baseline)
    note = comparison.method_note(result, baseline, systems, why_not)
    print("\n".join(format_table([columns] + cells)))
    print(note)
    md = ["", "Systems (runs differing only by seed or replicate):", ""] + markdown(columns, cells) + ["", note]
    report.systems_columns, report.systems_cells, report.method = columns, cells, note
    report.baseline_row = systems.index(baseline)
    sentences, missing = comparison.sentence_table(systems)
    report.sentences, report.system_names = sentences, [s.name for s in systems]
    if missing:
        report.notes.append(
            f"no per-sentence scores for {len(missing)} run(s) ({', '.join(missing[:3])}): evaluated before evaluate "
            f"wrote test_sentences.tsv; run its evaluate job again (python -m pipeline.stages.evaluate --spec "
            f"SPEC --force) for them"
        )
    best = comparison.best_other(systems, baseline)
    if best is not None:
        differing = comparison.most_different(sentences, baseline.name, best.name)
        title = f"The {len(differing)} test sentences where {baseline.name} (baseline) and {best.name} differ most"
        report.differing, report.differing_pair, report.differing_title = differing, (baseline.name, best.name), title
        if differing:
            cols = ["#", "reference", f"{baseline.name}", "BLEU", best.name, "BLEU"]
            lines = [markdown_sentence(t, baseline.name, best.name) for t in differing]
            md += ["", title + " (sentence BLEU, mean over seeds; hypotheses of the first seed):", ""]
            md += markdown(cols, lines)
    return md


def markdown_sentence(entry: dict, a: str, b: str) -> list[str]:
    """The report's cells of a sentence both systems have, `|` escaped for a markdown table."""
    return [cell.replace("|", "\\|") for cell in sentence_cells(entry, [a, b])]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m pipeline.summarize", description=__doc__.split("\n\n")[0].split(": ", 1)[1]
    )
    parser.add_argument("run_dir", type=Path, help="a run or sweep folder under jobs/")
    parser.add_argument("--no-plot", action="store_true", help="skip the PNGs (no matplotlib needed)")
    parser.add_argument(
        "--baseline", help="the system the others are tested against (default: summary.baseline, else the first)"
    )
    parser.add_argument("--trials", type=int, default=comparison.TRIALS, help="approximate randomization trials")
    parser.add_argument("--resamples", type=int, default=comparison.RESAMPLES, help="bootstrap resamples")
    parser.add_argument(
        "--runtime",
        choices=("venv", "apptainer", "singularity", "host"),
        help="run the sacrebleu and preview steps with this runtime instead of the run's",
    )
    args = parser.parse_args(argv)
    args.run_dir = find_run_dir(args.run_dir)
    plan, record = load_run(args.run_dir)
    rows, varied = run_rows(args.run_dir, plan, record)
    systems, baseline, warning = systems_and_baseline(args, rows, varied, plan, record)
    columns, cells = table(rows)
    print("\n".join(format_table([columns] + cells)))
    md = markdown(columns, cells)
    tsv = ["\t".join(columns)] + ["\t".join(r) for r in cells]
    groups = repeat_groups(rows, varied)
    if groups:
        what = " and ".join(k.split(".")[-1] for k in REPEAT_KEYS if k in varied)
        md += [
            "",
            f"| runs differing only by {what} | n | BLEU mean ± std | chrF mean ± std | BLEURT mean ± std "
            f"| BLEU max − min | stop epochs | identical initial weights |",
            "|---|---|---|---|---|---|---|---|",
        ]
        for g in groups:
            text = (
                f"{g['config']}: {g['runs']} runs, BLEU {g['mean']:.3f} ± {g['std']:.3f}, chrF {pm(g['chrf'])}, "
                f"BLEURT {pm(g['bleurt'])}, max − min {g['range']:.3f}, stopped at epochs {g['epochs']}, "
                f"identical initial weights: {g['same_init']}"
            )
            print(text)
            md.append(
                f"| {g['config']} | {g['runs']} | {g['mean']:.3f} ± {g['std']:.3f} | {pm(g['chrf'])} | "
                f"{pm(g['bleurt'])} | {g['range']:.3f} | {g['epochs']} | {g['same_init']} |"
            )
    report = ReportData(
        title=f"{record.run or args.run_dir.name}: summary",
        written=f"written by python -m pipeline.summarize {args.run_dir} on {time.strftime('%Y-%m-%d %H:%M')}; "
        f"{len(rows)} run(s)",
        systems_columns=[],
        systems_cells=[],
        baseline_row=None,
        method="",
        runs_columns=columns,
        runs_cells=cells,
    )
    if warning:
        print(f"warning: {warning}")
        report.notes.append(warning)
    if baseline is not None:
        md += compare(args, systems, baseline, record, report)
    (args.run_dir / "summary.md").write_text("\n".join(md) + "\n")
    (args.run_dir / "summary.tsv").write_text("\n".join(tsv) + "\n")
    written = ["summary.md", "summary.tsv"]
    if not args.no_plot and any(r.bleu is not None for r in rows):
        plot(rows, varied, args.run_dir / "summary.png")
        written.append("summary.png")
        report.plot_png = (args.run_dir / "summary.png").read_bytes()
    if not args.no_plot:
        for row in rows:
            curve = args.run_dir / "curves" / f"{row.run}.png"
            if row.trainer and training_curve(row.trainer, curve, f"{row.run}: training"):
                written.append(str(curve.relative_to(args.run_dir)))
                report.curves.append((row.run, curve.read_bytes()))
    report.previews, report.previews_note = draw_previews(args.run_dir, plan, record, args.runtime)
    report.provenance = provenance_rows(write_provenance(args.run_dir, plan, record))
    (args.run_dir / "report.html").write_text(render(report), encoding="utf-8")
    written.append("report.html")
    print(f"written: {', '.join(str(args.run_dir / w) for w in written)}")
    for row in rows if len(rows) == 1 else []:  # one run (the demo): its scores and plot, last
        curve = args.run_dir / "curves" / f"{row.run}.png"
        print(
            f"{row.run}: test BLEU {fmt(row.bleu, 'bleu')}, chrF {fmt(row.chrf, 'chrf')}"
            + (f"; training curve {curve}" if curve.exists() and not args.no_plot else "")
        )
    return 0


if __name__ == "__main__":
    run_cli(main)
