"""How long composing the 54-point hyperparameter search takes (target: under a second).

    python benchmarks/compose.py

Loads config/sweeps/hyperparam_search.yaml, builds the plan for the uzh profile and writes every script of a dry
run into a temporary folder, three times; prints the best time and the job counts.
"""

import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from pipeline.compose import compose_run  # noqa: E402
from pipeline.config import load_profile  # noqa: E402
from pipeline.keys import stable_hash  # noqa: E402
from pipeline.plan import build_plan  # noqa: E402
from pipeline.sweep import load_sweep  # noqa: E402


def once(tmp: Path) -> tuple[float, dict]:
    start = time.perf_counter()
    sweep = load_sweep(ROOT / "config/sweeps/hyperparam_search.yaml")
    profile = load_profile("uzh")
    plan = build_plan(sweep.experiments, profile)
    compose_run(plan, profile, sweep.name, tmp / sweep.name, tmp, stable_hash([e.name for e in sweep.experiments]))
    return time.perf_counter() - start, plan.count_by_stage()


def main() -> None:
    times = []
    for i in range(3):
        with tempfile.TemporaryDirectory() as tmp:
            seconds, counts = once(Path(tmp))
            times.append(seconds)
    verdict = "ok" if min(times) < 1.0 else "MISSED"
    print(
        f"54-point search: {sum(counts.values())} jobs {counts}; best of 3: {min(times):.3f} s "
        f"(target < 1 s: {verdict})"
    )


if __name__ == "__main__":
    main()
