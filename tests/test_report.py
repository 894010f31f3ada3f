"""report.html: self-contained (nothing it could fetch), one systems row per system, and what a real browser makes
of it (headless Chromium, when installed: `apt-get install chromium`; CI's .ci/run installs it): a screenshot that is
not blank, no console errors, no requests. Then a 2-system x 2-seed sweep of the smoke demo, summarised with
intervals, marks, per-sentence scores, skeleton previews and its report, opened in the browser too."""

import csv
import io
import json
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import pytest

from pipeline.previews import Preview
from pipeline.report import ReportData, render

from conftest import PROJECT, needs_mediapipe, needs_trainer, plan_of, submit
from headless_browser import chromium, is_blank, visit

needs_chromium = pytest.mark.skipif(chromium() is None, reason="no chromium: apt-get install -y chromium")
ROWS_JS = "document.querySelectorAll('#systems tbody tr').length"


class Links(HTMLParser):
    """Every URL-valued attribute, every tag name."""

    def __init__(self):
        super().__init__()
        self.urls, self.tags = [], []

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        self.urls += [value for name, value in attrs if name in ("src", "href", "srcset", "action", "data", "poster")]


def png() -> bytes:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(3, 2))
    ax.plot([0, 1, 2], [3, 1, 2])
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=60)
    plt.close(fig)
    return buffer.getvalue()


def gif() -> bytes:
    """A two-frame animated GIF, as the preview step writes (Pillow comes with matplotlib)."""
    from PIL import Image

    frames = [Image.new("RGB", (16, 12), colour) for colour in ("red", "blue")]
    buffer = io.BytesIO()
    frames[0].save(buffer, format="GIF", save_all=True, append_images=frames[1:], duration=100, loop=0)
    return buffer.getvalue()


def constructed(systems: int = 3) -> ReportData:
    names = [f"estimator=type{i}" for i in range(systems)]
    cells = [
        [n, "2", f"{10 + i:.3f} ± 0.500" + ("†" if i else ""), "[9.1, 11.2]", "-" if not i else "0.0100"]
        for i, n in enumerate(names)
    ]
    sentences = [
        {
            "index": k,
            "reference": f"regen <b>{k}</b> & wind",
            "systems": {n: {"hypothesis": "regen", "bleu": 20.0 * k} for n in names},
        }
        for k in range(4)
    ]
    return ReportData(
        title="constructed: summary",
        written="written by a test",
        systems_columns=["system", "runs", "BLEU mean ± std", "BLEU 95% CI", "p (BLEU)"],
        systems_cells=cells,
        baseline_row=0,
        method="† p < 0.05 against the baseline: approximate randomization, 2000 trials",
        runs_columns=["run", "bleu"],
        runs_cells=[[f"run{i}", "10.000"] for i in range(2 * systems)],
        plot_png=png(),
        curves=[("run0", png())],
        differing_title="where they differ most",
        differing=sentences[:2],
        differing_pair=(names[0], names[1]),
        sentences=sentences,
        system_names=names,
        previews=[
            Preview("mediapipe", "clip1", "regen", gif()),
            Preview("mediapipe", "clip2", "wind", None, "no frames"),
        ],
        provenance=[{"run": "run0", "machine": "host", "commit": "abc", "config hash": "123"}],
    )


def test_the_report_is_one_file_that_names_nothing_outside_itself():
    page = render(constructed())
    links = Links()
    links.feed(page)
    assert links.urls and all(url.startswith("data:") for url in links.urls), links.urls
    assert "script" not in links.tags and "link" in links.tags  # the favicon, as an empty data URI
    assert "url(" not in page and "@import" not in page and "http://" not in page and "https://" not in page
    assert page.count("data:image/gif;base64,") == 1 and "no frames" in page
    assert "regen &lt;b&gt;1&lt;/b&gt; &amp; wind" in page  # text is escaped
    body = page.split('<table id="systems">')[1].split("</table>")[0]
    assert body.count("<tr") == 1 + 3 and '<tr class="baseline">' in body


@needs_chromium
def test_headless_chromium_shows_the_report_with_a_row_per_system_no_errors_and_no_requests(tmp_path):
    report = tmp_path / "report.html"
    report.write_text(render(constructed(3)), encoding="utf-8")
    seen = visit(
        report,
        {"rows": ROWS_JS, "images": "Array.from(document.images).filter(i => i.complete && i.naturalWidth > 0).length"},
    )
    assert seen.values["rows"] == 3
    assert seen.values["images"] == 3  # the plot, the curve, the GIF: all decoded
    assert not is_blank(seen.screenshot)
    assert seen.errors == []
    assert all(url == report.as_uri() or url.startswith("data:") for url in seen.requests), seen.requests


@needs_chromium
def test_the_browser_check_sees_console_errors_exceptions_and_network_requests(tmp_path):
    page = tmp_path / "bad.html"
    page.write_text(
        '<!DOCTYPE html><html><head><link rel="icon" href="data:,"></head><body><p>bad</p>'
        '<img src="http://example.com/a.png"><script>console.error("boom"); missing();</script></body></html>'
    )
    seen = visit(page, {})
    assert "http://example.com/a.png" in seen.requests
    assert "console: boom" in seen.errors and any(e.startswith("exception: Uncaught") for e in seen.errors)


def test_a_blank_screenshot_is_recognised():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig = plt.figure(figsize=(2, 2))
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", facecolor="white")
    plt.close(fig)
    assert is_blank(buffer.getvalue()) and not is_blank(png())


# --- a 2-system x 2-seed sweep of the smoke demo (tiny backbone, 20 steps), summarised with its report ---


def summarize(run_dir: Path, *options: str) -> subprocess.CompletedProcess:
    argv = [sys.executable, "-m", "pipeline.summarize", str(run_dir), *options]
    return subprocess.run(argv, capture_output=True, text=True, cwd=PROJECT)


@pytest.fixture(scope="module")
def compared(tmp_path_factory) -> tuple[Path, subprocess.CompletedProcess]:
    work = tmp_path_factory.mktemp("compare")
    proc = submit("config/sweeps/smoke_compare.yaml", work)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "1 prepare, 1 estimate, 1 preprocess, 4 train, 4 translate, 4 evaluate" in proc.stdout
    summary = summarize(work / "jobs" / "smoke_compare", "--trials", "2000")
    assert summary.returncode == 0, summary.stdout[-3000:] + summary.stderr[-3000:]
    return work, summary


@pytest.mark.slow
@needs_mediapipe
@needs_trainer
def test_a_two_system_two_seed_sweep_is_summarised_with_intervals_significance_sentences_and_previews(compared):
    work, summary = compared
    run_dir = work / "jobs" / "smoke_compare"
    plan = plan_of(work, "smoke_compare")
    for run, stages in plan["runs"].items():
        evaluate = Path(plan["jobs"][stages["evaluate"]]["output_dir"])
        with open(evaluate / "test_sentences.tsv", newline="", encoding="utf-8") as handle:
            rows = list(csv.DictReader(handle, delimiter="\t"))
        assert len(rows) == 4 and set(rows[0]) == {"index", "bleu", "chrf", "reference", "hypothesis"}, run
        stats = json.loads((evaluate / "test_stats.json").read_text())
        assert len(stats["bleu"]["stats"]) == 4 and len(stats["chrf"]["stats"][0]) == 18
    md = (run_dir / "summary.md").read_text()
    systems = md.split("Systems (runs differing only by seed or replicate):")[1]
    assert "| learning_rate=0.001 (baseline) | 2 |" in systems and "| learning_rate=0.03 | 2 |" in systems
    assert "approximate randomization, 2000 trials, stratified by seed" in systems and "sacrebleu 2.6.0" in systems
    assert "test sentences where learning_rate=0.001 (baseline) and learning_rate=0.03 differ most" in md
    result = json.loads((run_dir / "significance" / "result.json").read_text())
    other = result["systems"]["learning_rate=0.03"]
    assert other["bleu"]["paired_seeds"] == 2 and 0 < other["bleu"]["p"] <= 1
    # at 20 steps the baseline says nothing and the other its most frequent word: a chrF difference, a real test
    assert sum(other["chrf"]["scores"]) > 0 and 0 < other["chrf"]["p"] < 1
    for name, system in result["systems"].items():
        for metric in ("bleu", "chrf"):
            mean, half = system[metric]["interval"]
            seed_mean = sum(system[metric]["scores"]) / 2
            assert mean - half - 1e-9 <= seed_mean <= mean + half + 1e-9, (name, metric)
    page = (run_dir / "report.html").read_text()
    links = Links()
    links.feed(page)
    assert all(url.startswith("data:") for url in links.urls)
    assert page.count("data:image/gif;base64,") == 2  # two test clips of the one pose type, by pose-format
    assert page.count('class="curve"') == 4 and "<h2>Provenance</h2>" in page
    assert "report.html" in summary.stdout
    wrong = summarize(run_dir, "--baseline", "0.5")
    assert wrong.returncode == 2 and wrong.stdout == ""
    assert wrong.stderr.strip().splitlines() == [
        "error: --baseline 0.5: names no scored system; the systems are: learning_rate=0.001, learning_rate=0.03"
    ]


@pytest.mark.slow
@needs_mediapipe
@needs_trainer
@needs_chromium
def test_the_sweeps_report_opens_in_headless_chromium_with_two_system_rows(compared):
    work, _ = compared
    report = work / "jobs" / "smoke_compare" / "report.html"
    seen = visit(report, {"rows": ROWS_JS})
    assert seen.values["rows"] == 2 and not is_blank(seen.screenshot)
    assert seen.errors == []
    assert all(url == report.as_uri() or url.startswith("data:") for url in seen.requests), seen.requests
