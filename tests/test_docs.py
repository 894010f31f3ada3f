"""The documentation points at things that exist: every relative link (and its #anchor) in README.md and docs/,
every `python -m pipeline...` module, every `benchmarks/*.py` script and every `make` target it names."""

import importlib.util
import re
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
