"""`python -m pipeline.compare_weights RUN_A RUN_B`: are two runs' initial (setup) weights identical?

RUN_A/RUN_B: a train stage folder (data/train/<key>), its `setup/model` folder, or a run folder under jobs/
(its train job is looked up in plan.json). Tensors are compared one by one; the keys that differ are printed with
the largest and mean absolute difference (the original pipeline's debug_reproducibility table). Exit code 0 when
identical, 1 when not. Needs safetensors + numpy: without them here, it re-runs itself with the trainer venv.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from pipeline.errors import UserError, run_cli
from pipeline.rundir import load_run


def model_dir(target: Path) -> Path:
    target = Path(target)
    if (target / "plan.json").exists():
        plan, _ = load_run(target)
        trains = [j for j in plan.jobs.values() if j.stage == "train"]
        if len(trains) != 1:
            raise UserError(f"{target}: has {len(trains)} train jobs; name the train folder (data/train/<key>)")
        target = Path(trains[0].output_dir)
    for candidate in (target / "setup" / "model", target / "model", target):
        if list(candidate.glob("*.safetensors")):
            return candidate
    raise UserError(f"{target}: no setup weights (*.safetensors) in setup/model; has the train stage run setup?")


def load_tensors(folder: Path) -> dict:
    from safetensors.numpy import load_file

    tensors = {}
    for f in sorted(folder.glob("*.safetensors")):
        tensors.update(load_file(str(f)))
    return tensors


def compare(a: dict, b: dict) -> list[tuple[str, str]]:
    """(key, what differs) for every tensor that is not identical."""
    import numpy as np

    rows = []
    for key in sorted(set(a) | set(b)):
        if key not in a or key not in b:
            rows.append((key, f"only in {'A' if key in a else 'B'}"))
        elif a[key].shape != b[key].shape:
            rows.append((key, f"shape {a[key].shape} vs {b[key].shape}"))
        elif not np.array_equal(a[key], b[key]):
            diff = np.abs(a[key].astype(np.float64) - b[key].astype(np.float64))
            rows.append((key, f"max |diff| {diff.max():.3g}, mean |diff| {diff.mean():.3g}"))
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m pipeline.compare_weights", description=__doc__.split("\n\n")[0].split(": ", 1)[1]
    )
    parser.add_argument("run_a", type=Path)
    parser.add_argument("run_b", type=Path)
    args = parser.parse_args(argv)
    a_dir, b_dir = model_dir(args.run_a), model_dir(args.run_b)
    try:
        import numpy  # noqa: F401
        import safetensors  # noqa: F401
    except ImportError:
        root = Path(__file__).resolve().parent.parent
        trainer = root / ".venvs" / "trainer" / "bin" / "python"
        if not trainer.exists():
            raise UserError("needs safetensors and numpy: pip install safetensors numpy, or build the trainer venv")
        os.execve(
            str(trainer),
            [str(trainer), "-m", "pipeline.compare_weights", str(a_dir), str(b_dir)],
            {**os.environ, "PYTHONPATH": str(root)},
        )
    a, b = load_tensors(a_dir), load_tensors(b_dir)
    rows = compare(a, b)
    print(f"A: {a_dir}\nB: {b_dir}\n{len(a)} tensors in A, {len(b)} in B; {len(rows)} differ")
    width = max((len(k) for k, _ in rows), default=0)
    for key, what in rows:
        print(f"  {key.ljust(width)}  {what}")
    print("identical" if not rows else "NOT identical")
    return 0 if not rows else 1


if __name__ == "__main__":
    run_cli(main)
