"""Local `evaluate` metric modules, so MultimodalHugs' `evaluate.load("sacrebleu")` / `("chrf")` work offline.

`evaluate.load(name)` first looks for a folder `<name>/<name>.py` relative to the working directory; the trainer
stages run MultimodalHugs with this folder as the working directory. Both wrap the sacrebleu package (our own
code, not the hub's scripts); `score` is what MultimodalHugs logs as `eval_sacrebleu` / `eval_chrf`.
Each module is self-contained (its small `reference_streams` is repeated on purpose): `evaluate` copies the one
file into its module cache and imports it there, where sibling modules are not importable.
"""

from pathlib import Path

METRICS_DIR = Path(__file__).resolve().parent
