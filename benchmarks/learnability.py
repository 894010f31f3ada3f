"""Does the demo learn on every machine? Estimation once, then train → translate → evaluate over seeds × torch
threads × {poses as estimated, poses perturbed}, and the shuffled control per seed.

    python benchmarks/learnability.py                          # seeds 1-5 x threads 1,2 x {estimated, noisy}
    python benchmarks/learnability.py --seeds 1-2 --threads 2  # a quick look
    python benchmarks/learnability.py --jobs 2                 # 1-thread runs two at a time on 2 cores

Why these axes: another CPU computes the same model with other kernels and another reduction order. One torch thread
against two changes the order of every sum (as another CPU would); Gaussian noise of `--noise` pixels on every seen
landmark (preprocess.pose_noise) stands for another CPU's MediaPipe kernels, whose poses differ in the last digits.
A recipe whose score holds over all of these, with a margin, does not hang on the machine it was tuned on.

The test split is larger than the demo's (`--test-clips`, default 96; the demo's 32 test sentences are its first
32, train and validation are byte-identical, so every run trains exactly as `make demo` does). Why: the shuffled
control matches no three or four words in a row, and sacrebleu's default smoothing turns those zero counts into
precisions of 100 / (2^k x the number of n-grams); over 32 short sentences a control that writes short sentences
has one 4-gram in all and scores 5 BLEU from smoothing alone. Three times the sentences, a third of that artefact.

For each run it prints the test BLEU and the first evaluation step at which validation BLEU reached 50 ('-' when
never), then min / median / max over the learning runs and the maximum of the controls. Writes
`<workdir>/learnability.json` and `learnability.md` (with the commit and the CPU it ran on). Runs the pipeline's
own `python -m pipeline.submit` with the local executor, so it measures exactly what `make demo` runs.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
GOAL = 50.0  # validation BLEU that counts as "has learnt"


@dataclass
class Result:
    run: str
    seed: int
    threads: int
    poses: str  # "estimated" | "noisy" | "shuffled" (the control)
    test_bleu: float | None
    first_step_at_goal: int | None  # first evaluation step with validation BLEU >= GOAL
    seconds: float
    matches: str = ""  # 1- to 4-gram matches / n-grams written (evaluate's test_score.bleu)


def parse_range(text: str) -> list[int]:
    """'1-5' -> [1..5]; '1,3,7' -> [1, 3, 7]."""
    out: list[int] = []
    for part in text.split(","):
        lo, _, hi = part.partition("-")
        out += list(range(int(lo), int(hi or lo) + 1))
    return out


def cpu_model() -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines() if Path("/proc/cpuinfo").exists() else []:
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown"


def submit(
    config: str, work: Path, name: str, sets: list[str], threads: int | None = None, until: str | None = None
) -> subprocess.CompletedProcess:
    argv = [
        sys.executable,
        "-m",
        "pipeline.submit",
        config,
        "--jobs-dir",
        str(work / "jobs"),
        "--profile-set",
        f"data_dir={work / 'data'}",
        "--profile-set",
        f"cache_dir={work / 'cache'}",
        "--set",
        f"dataset.root={work / 'datasets' / 'sample'}",
        "--set",
        f"name={name}",
    ]
    for item in sets:
        argv += ["--set", item]
    if until:
        argv += ["--until", until]
    env = dict(os.environ)
    if threads:
        env["OMP_NUM_THREADS"] = str(threads)  # torch's intra-op threads in the stage processes
    return subprocess.run(argv, cwd=ROOT, env=env, capture_output=True, text=True)


def demo_clips(config: str) -> tuple[int, int, int]:
    """The config's clips per split, so that train and validation stay the demo's."""
    sys.path.insert(0, str(ROOT))
    from pipeline.config import load_experiment
    from pipeline.stages.sample_data import DEFAULT_PER_SPLIT

    clips = load_experiment(ROOT / config).dataset.sample_clips
    return tuple(clips or DEFAULT_PER_SPLIT)  # type: ignore[return-value]


def stage_dir(work: Path, run: str, stage: str) -> Path:
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    from pipeline.rundir import load_run

    plan, _ = load_run(work / "jobs" / run)
    return Path(plan.jobs_of(run)[stage].output_dir)


def read_result(work: Path, run: str) -> tuple[float | None, int | None, str]:
    """Test BLEU, the first evaluation step whose validation BLEU reached GOAL, and the n-gram matches."""
    bleu_file = stage_dir(work, run, "evaluate") / "test_score.bleu"
    found = json.loads(bleu_file.read_text()) if bleu_file.exists() else {}
    bleu = found.get("score")
    matches = " ".join(f"{c}/{t}" for c, t in zip(found.get("counts", []), found.get("totals", [])))
    from pipeline.stages.trained_model import trainer_state

    state = trainer_state(stage_dir(work, run, "train") / "train")
    history = state.log_history if state else []
    first = next((h["step"] for h in history if h.get("eval_sacrebleu", -1) >= GOAL), None)
    return bleu, first, matches


def one_run(config: str, work: Path, seed: int, threads: int, poses: str, noise: float, data: list[str]) -> Result:
    sets = [*data, f"training.seed={seed}", f"training.torch_threads={threads}"]
    if poses == "noisy":
        sets.append(f"preprocess.pose_noise={noise}")
    if poses == "shuffled":
        sets.append("preprocess.control=shuffle")
    name = f"learn-s{seed}-t{threads}-{poses}"
    start = time.monotonic()
    proc = submit(config, work, name, sets, threads)
    if proc.returncode != 0:
        sys.exit(
            f"error: {name} failed ({proc.returncode}); see {work / 'jobs' / name}\n{proc.stdout[-2000:]}"
            f"{proc.stderr[-2000:]}"
        )
    bleu, first, matches = read_result(work, name)
    return Result(name, seed, threads, poses, bleu, first, round(time.monotonic() - start, 1), matches)


def spread(values: list[float]) -> str:
    return (
        f"min {min(values):.3f} / median {statistics.median(values):.3f} / max {max(values):.3f}"
        if values
        else "no runs"
    )


def report(results: list[Result], args: argparse.Namespace, commit: str) -> str:
    learning = [r for r in results if r.poses != "shuffled"]
    controls = [r for r in results if r.poses == "shuffled"]
    lines = [
        f"learnability of {args.config} at commit {commit}, on {cpu_model()} ({os.cpu_count()} cores); "
        f"noise {args.noise} px; {args.test_clips} test sentences",
        "",
        "| run | seed | threads | poses | test BLEU | 1-4-gram matches / written "
        "| first step with validation BLEU >= 50 "
        "| seconds |",
        "| --- | ---: | ---: | --- | ---: | --- | ---: | ---: |",
    ]
    for r in results:
        bleu = "-" if r.test_bleu is None else f"{r.test_bleu:.3f}"
        lines.append(
            f"| {r.run} | {r.seed} | {r.threads} | {r.poses} | {bleu} | {r.matches} | {r.first_step_at_goal or '-'} "
            f"| {r.seconds:.0f} |"
        )
    scores = [r.test_bleu for r in learning if r.test_bleu is not None]
    steps = [float(r.first_step_at_goal) for r in learning if r.first_step_at_goal is not None]
    lines += [
        "",
        f"test BLEU over {len(learning)} learning runs: {spread(scores)}",
        f"first step with validation BLEU >= {GOAL:g}: {spread(steps)} ({len(learning) - len(steps)} run(s) never)",
    ]
    if controls:
        lines.append(
            f"shuffled control over {len(controls)} seeds: max test BLEU "
            f"{max(r.test_bleu or 0.0 for r in controls):.3f}"
        )
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python benchmarks/learnability.py",
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--config", default="config/demo.yaml")
    parser.add_argument("--seeds", default="1-5", help="training seeds, e.g. 1-5 or 1,7 (default %(default)s)")
    parser.add_argument("--threads", default="1,2", help="torch thread counts (default %(default)s)")
    parser.add_argument(
        "--noise",
        type=float,
        default=0.5,
        help="Gaussian noise in pixels for the perturbed poses; 0 skips them (default %(default)s)",
    )
    parser.add_argument(
        "--test-clips",
        type=int,
        default=96,
        help="test sentences of the sample language; the demo's 32 are the first of them (default %(default)s)",
    )
    parser.add_argument("--no-control", action="store_true", help="skip the shuffled control runs")
    parser.add_argument(
        "--jobs",
        type=int,
        default=1,
        help="runs at a time, at most as many as the cores hold at their thread count (default %(default)s)",
    )
    parser.add_argument(
        "--workdir",
        type=Path,
        default=None,
        help="where data, jobs and results go (default: a new temporary folder); reusing one skips what is finished",
    )
    args = parser.parse_args(argv)
    work = (args.workdir or Path(tempfile.mkdtemp(prefix="learnability-"))).resolve()
    work.mkdir(parents=True, exist_ok=True)
    commit = (
        subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True).stdout.strip()
        or "unknown"
    )
    train, validation = demo_clips(args.config)[:2]
    print(f"workdir {work}; estimating once", flush=True)
    start = time.monotonic()
    # the data stages every run shares, made before any run starts (runs in parallel must not race to make them)
    data = [f"dataset.sample_clips=[{train}, {validation}, {args.test_clips}]"]
    shared = {"learn-data": data}
    if args.noise > 0:
        shared["learn-data-noisy"] = [*data, f"preprocess.pose_noise={args.noise}"]
    if not args.no_control:
        shared["learn-data-shuffled"] = [*data, "preprocess.control=shuffle"]
    for name, sets in shared.items():
        proc = submit(args.config, work, name, sets, until="preprocess")
        if proc.returncode != 0:
            sys.exit(f"error: {name} failed; see {work / 'jobs' / name}\n{proc.stdout[-2000:]}{proc.stderr[-2000:]}")
    print(f"prepare + estimate + preprocess: {time.monotonic() - start:.0f} s", flush=True)
    plan: list[tuple[int, int, str]] = []
    for seed in parse_range(args.seeds):
        for threads in parse_range(args.threads):
            plan.append((seed, threads, "estimated"))
            if args.noise > 0:
                plan.append((seed, threads, "noisy"))
        if not args.no_control:
            plan.append((seed, max(parse_range(args.threads)), "shuffled"))
    done = []

    def run_and_say(item: tuple[int, int, str]) -> Result:
        result = one_run(args.config, work, *item, args.noise, data)
        done.append(result)
        bleu = "-" if result.test_bleu is None else f"{result.test_bleu:.3f}"
        print(
            f"[{len(done)}/{len(plan)}] {result.run}: test BLEU {bleu}, validation BLEU >= {GOAL:g} first at "
            f"step {result.first_step_at_goal or '-'} ({result.seconds:.0f} s)",
            flush=True,
        )
        return result

    results = []
    for threads in sorted({t for _, t, _ in plan}):  # as many at a time as the cores hold: torch threads that
        group = [item for item in plan if item[1] == threads]  # share a core spin and slow each other badly
        width = max(1, min(args.jobs, (os.cpu_count() or 1) // threads))
        with ThreadPoolExecutor(max_workers=width) as pool:
            results += list(pool.map(run_and_say, group))
    text = report(results, args, commit)
    print("\n" + text)
    (work / "learnability.md").write_text(text)
    (work / "learnability.json").write_text(
        json.dumps(
            {
                "commit": commit,
                "cpu": cpu_model(),
                "cores": os.cpu_count(),
                "noise": args.noise,
                "runs": [asdict(r) for r in results],
            },
            indent=1,
        )
        + "\n"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
