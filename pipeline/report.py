"""`report.html`: one self-contained page for a run or sweep, written by `pipeline.summarize` beside summary.md.

Nothing is fetched when it is opened: the CSS is inline, every picture is a data URI (PNG plots by matplotlib,
GIF skeleton previews by pose-format's visualizer), there is no script, no font and no CDN; even the favicon is an
empty data URI, so a browser asks for nothing. Sections: the systems table (mean ± std over seeds, 95% intervals,
p-values and their marks, the method under it), the runs table, BLEU per run, the training curves, the test
sentences where the baseline and the best other system differ most, every test sentence (reference and each
system's hypothesis), the skeleton previews per pose type and the provenance of each run (machine, commit,
config hash). `render(data)` is a pure function: data in, text out.
"""

from __future__ import annotations

import base64
import html
from dataclasses import dataclass, field

from pipeline.previews import Preview

STYLE = """
body { font: 14px/1.45 system-ui, sans-serif; margin: 2em auto; max-width: 1200px; padding: 0 1em; color: #222;
       background: #fff; }
h1 { font-size: 1.5em; margin-bottom: .2em; } h2 { font-size: 1.15em; margin-top: 2em; border-bottom: 1px solid #ddd; }
table { border-collapse: collapse; margin: .5em 0; font-size: 13px; }
th, td { border: 1px solid #ccc; padding: 3px 7px; text-align: left; vertical-align: top; }
th { background: #f0f3f7; } tbody tr:nth-child(even) { background: #fafafa; }
td.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
tr.baseline td:first-child { font-weight: 600; }
.note, .meta { color: #555; font-size: 12.5px; max-width: 1100px; }
.figures { display: flex; flex-wrap: wrap; gap: 1em; }
figure { margin: 0; } figcaption { font-size: 12px; color: #444; max-width: 420px; }
img.plot { max-width: 100%; border: 1px solid #eee; } img.curve { width: 420px; border: 1px solid #eee; }
img.skeleton { border: 1px solid #ccc; image-rendering: auto; }
.missing { color: #a33; } .wide { overflow-x: auto; }
"""


@dataclass
class ReportData:
    title: str
    written: str  # when, in words
    systems_columns: list[str]
    systems_cells: list[list[str]]
    baseline_row: int | None  # index of the baseline in systems_cells
    method: str
    runs_columns: list[str]
    runs_cells: list[list[str]]
    plot_png: bytes | None = None
    curves: list[tuple[str, bytes]] = field(default_factory=list)
    differing_title: str = ""
    differing: list[dict] = field(default_factory=list)  # comparison.most_different
    differing_pair: tuple[str, str] | None = None
    sentences: list[dict] = field(default_factory=list)  # comparison.sentence_table
    system_names: list[str] = field(default_factory=list)
    previews: list[Preview] = field(default_factory=list)
    previews_note: str = ""
    provenance: list[dict] = field(default_factory=list)  # run, machine, commit, config hash
    notes: list[str] = field(default_factory=list)


def e(text) -> str:
    return html.escape(str(text), quote=True)


def data_uri(data: bytes, mime: str) -> str:
    return f"data:{mime};base64,{base64.b64encode(data).decode('ascii')}"


def is_number(cell: str) -> bool:
    return cell[:1].isdigit() or (cell[:1] in "-[" and cell[1:2].isdigit())


def table(table_id: str, columns: list[str], cells: list[list[str]], row_classes: dict[int, str] | None = None) -> str:
    head = "".join(f"<th>{e(c)}</th>" for c in columns)
    body = []
    for i, row in enumerate(cells):
        cls = f' class="{(row_classes or {})[i]}"' if i in (row_classes or {}) else ""
        tds = "".join(f'<td class="num">{e(c)}</td>' if is_number(c) else f"<td>{e(c)}</td>" for c in row)
        body.append(f"<tr{cls}>{tds}</tr>")
    rows = "".join(body)
    return f'<div class="wide"><table id="{table_id}"><thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table></div>'


def sentence_cells(entry: dict, names: list[str]) -> list[str]:
    cells = [str(entry["index"]), entry["reference"]]
    for name in names:
        found = entry["systems"].get(name)
        cells += [found["hypothesis"], f"{found['bleu']:.1f}"] if found else ["-", "-"]
    return cells


def sentences_section(data: ReportData) -> str:
    parts = []
    if data.differing and data.differing_pair:
        a, b = data.differing_pair
        columns = ["#", "reference", f"{a} (baseline)", "BLEU", b, "BLEU"]
        parts += [
            f"<h2>{e(data.differing_title)}</h2>",
            table("differing", columns, [sentence_cells(t, [a, b]) for t in data.differing]),
        ]
    if data.sentences:
        columns = ["#", "reference"] + [c for n in data.system_names for c in (n, "BLEU")]
        rows = [sentence_cells(t, data.system_names) for t in data.sentences]
        parts += [
            "<h2>Every test sentence</h2>",
            "<p class='note'>Each system's hypothesis from its first seed; sentence BLEU (sacrebleu, effective order) "
            "averaged over its seeds.</p>",
            f"<details><summary>{len(rows)} sentences</summary>{table('sentences', columns, rows)}</details>",
        ]
    return "\n".join(parts)


def previews_section(data: ReportData) -> str:
    if not data.previews:
        return f"<h2>Skeleton previews</h2><p class='note missing'>{e(data.previews_note or 'none')}</p>"
    parts = [
        "<h2>Skeleton previews</h2>",
        "<p class='note'>Test clips drawn by pose-format's PoseVisualizer (in the MediaPipe image), downscaled.</p>",
    ]
    for label in dict.fromkeys(p.label for p in data.previews):
        figures = []
        for p in (p for p in data.previews if p.label == label):
            picture = (
                f'<img class="skeleton" src="{data_uri(p.gif, "image/gif")}" alt="{e(label)} {e(p.clip)}">'
                if p.gif
                else f"<p class='missing'>{e(p.error)}</p>"
            )
            figures.append(f"<figure>{picture}<figcaption>{e(p.clip)}: {e(p.text)}</figcaption></figure>")
        parts.append(f"<h3>{e(label)}</h3><div class='figures'>{''.join(figures)}</div>")
    return "\n".join(parts)


def render(data: ReportData) -> str:
    classes = {data.baseline_row: "baseline"} if data.baseline_row is not None else {}
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<link rel="icon" href="data:,">',
        f"<title>{e(data.title)}</title><style>{STYLE}</style></head><body>",
        f"<h1>{e(data.title)}</h1>",
        f"<p class='meta'>{e(data.written)}</p>",
        *(f"<p class='note missing'>{e(n)}</p>" for n in data.notes),
        "<h2>Systems</h2>",
        table("systems", data.systems_columns, data.systems_cells, classes),
        f"<p class='note'>{e(data.method)}</p>",
        "<h2>Runs</h2>",
        table("runs", data.runs_columns, data.runs_cells),
    ]
    if data.plot_png:
        parts += [
            "<h2>BLEU per run</h2>",
            f'<img class="plot" src="{data_uri(data.plot_png, "image/png")}" alt="BLEU per run">',
        ]
    if data.curves:
        figures = "".join(
            f'<figure><img class="curve" src="{data_uri(png, "image/png")}" alt="training curve of {e(run)}">'
            f"<figcaption>{e(run)}</figcaption></figure>"
            for run, png in data.curves
        )
        parts += ["<h2>Training curves</h2>", f"<div class='figures'>{figures}</div>"]
    parts.append(sentences_section(data))
    parts.append(previews_section(data))
    if data.provenance:
        columns = list(data.provenance[0])
        parts += [
            "<h2>Provenance</h2>",
            table("provenance", columns, [[str(p.get(c) or "-") for c in columns] for p in data.provenance]),
        ]
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"
