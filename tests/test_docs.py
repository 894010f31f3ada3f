"""The documentation points at things that exist: every relative link (and its #anchor) in README.md and docs/,
every `python -m pipeline...` module and the options it gives them, every `benchmarks/*.py` script and every `make`
target it names; the cluster recipe names the profile in every command, and its site profile and dry run work here."""

import functools
import importlib.util
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import PROJECT

DOCS = [PROJECT / "README.md", *sorted((PROJECT / "docs").glob("*.md"))]
LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")
MODULE = re.compile(r"python -m (pipeline(?:\.\w+)*)")
SCRIPT = re.compile(r"python (benchmarks/\w+\.py)")
MAKE = re.compile(r"`make ([\w-]+)")


def anchors(path: Path) -> set[str]:
    """GitHub's heading anchors: lower case, punctuation dropped, spaces to hyphens."""
    out = set()
    for line in path.read_text().splitlines():
        if line.startswith("#"):
            title = line.lstrip("#").strip().lower()
            out.add(re.sub(r"[^\w\- ]", "", title).replace(" ", "-"))
    return out


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: p.name)
def test_relative_links_and_anchors_exist(doc):
    for target in LINK.findall(doc.read_text()):
        if re.match(r"[a-z]+://", target) or target.startswith("mailto:"):
            continue
        file, _, anchor = target.partition("#")
        path = (doc.parent / file).resolve() if file else doc
        assert path.exists(), f"{doc.name}: link to {target}: {path} does not exist"
        if anchor:
            assert anchor in anchors(path), f"{doc.name}: link to {target}: no heading #{anchor} in {path.name}"


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: p.name)
def test_named_commands_exist(doc):
    text = doc.read_text()
    for module in set(MODULE.findall(text)):
        assert importlib.util.find_spec(module) is not None, f"{doc.name}: python -m {module}: no such module"
    for script in set(SCRIPT.findall(text)):
        assert (PROJECT / script).is_file(), f"{doc.name}: python {script}: no such script"
    targets = set(re.findall(r"^([\w-]+):", (PROJECT / "Makefile").read_text(), re.M))
    for target in set(MAKE.findall(text)):
        assert target in targets, f"{doc.name}: make {target}: no such Makefile target"


def test_the_readme_stays_short():
    assert len((PROJECT / "README.md").read_text().splitlines()) <= 120


def code_spans(text: str) -> list[str]:
    """Fenced lines (continuations joined, comments dropped) and inline code spans of a Markdown text."""
    spans, fenced = [], False
    for line in text.replace("\\\n", " ").splitlines():
        if line.strip().startswith("```"):
            fenced = not fenced
        elif fenced:
            spans.append(line.split(" #")[0])
        else:
            spans += re.findall(r"`([^`]+)`", line)
    return spans


def commands(text: str) -> list[tuple[str, str]]:
    """(module, the rest of the line) of every `python -m pipeline...` in the text's code."""
    found = (re.finditer(r"python -m (pipeline(?:\.\w+)*)([^`]*)", span) for span in code_spans(text))
    return [m.groups() for matches in found for m in matches]


@functools.cache
def help_of(module: str) -> str:
    proc = subprocess.run([sys.executable, "-m", module, "--help"], capture_output=True, text=True, cwd=PROJECT)
    assert proc.returncode == 0, f"python -m {module} --help: {proc.stderr}"
    return proc.stdout


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: p.name)
def test_every_option_the_docs_give_a_command_is_in_its_help(doc):
    for module, rest in commands(doc.read_text()):
        spec = importlib.util.find_spec(module)
        if spec is None or not spec.origin or 'if __name__ == "__main__"' not in Path(spec.origin).read_text():
            continue  # not a command (pipeline.stages.<stage> is run by the jobs)
        for option in re.findall(r"(?<![\w-])(--[a-z][\w-]*)", rest):
            assert re.search(rf"(?<![\w-]){option}\b", help_of(module)), f"{doc.name}: python -m {module} {option}"


def recipe() -> str:
    text = (PROJECT / "docs" / "cluster.md").read_text()
    return text[text.index("## On a cluster") : text.index("### GPUs and drivers")]


def test_every_command_of_the_cluster_recipe_and_the_readmes_cluster_commands_name_the_profile():
    named = [
        (m, r) for m, r in commands(recipe()) if m in ("pipeline.build", "pipeline.fetch_models", "pipeline.submit")
    ]
    assert len(named) >= 3 and all("--profile mysite" in rest for _, rest in named), named
    readme = [r for m, r in commands((PROJECT / "README.md").read_text()) if m == "pipeline.submit" and "phoenix" in r]
    assert readme and all("--profile" in rest for rest in readme), readme


def test_the_cluster_recipes_site_profile_and_dry_run_work_here(tmp_path):
    profile_yaml = next(b for b in re.findall(r"```yaml\n(.*?)```", recipe(), re.S) if "mysite.yaml" in b)
    profile = tmp_path / "mysite.yaml"
    profile.write_text("\n".join(line[3:] for line in profile_yaml.splitlines()))  # the list item's indent
    dry_run = next(r for m, r in commands(recipe()) if m == "pipeline.submit" and "--dry-run" in r)
    argv = shlex.split(dry_run.replace("--profile mysite", f"--profile {profile}"))
    proc = subprocess.run(
        [sys.executable, "-m", "pipeline.submit", *argv, "--quiet", "--jobs-dir", str(tmp_path / "jobs")]
        + ["--profile-set", f"data_dir={tmp_path / 'data'}", "--profile-set", f"cache_dir={tmp_path / 'cache'}"],
        capture_output=True,
        text=True,
        cwd=PROJECT,
    )
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "jobs" / "dry-run" / "mysite" / "phoenix" / "train.sbatch").is_file()
    assert (
        "#SBATCH --gpus-per-node=A100:1"
        in (tmp_path / "jobs" / "dry-run" / "mysite" / "phoenix" / "train.sbatch").read_text()
    )
    assert "train=$(sbatch --parsable --kill-on-invalid-dep=yes --dependency=afterok:$preprocess" in proc.stdout
    warnings = [line for line in proc.stderr.splitlines() if line.startswith("warning:")]
    assert any("dataset.root" in w for w in warnings) and not any("gpu." in w for w in warnings)  # no data here
