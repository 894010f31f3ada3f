"""Research scale: a How2Sign-sized corpus through prepare, preprocess and MultimodalHugs' setup, measured.

    python benchmarks/scale.py                                  # 1 000, 5 000 and 35 000 examples (~6 GB at 35 000)
    python benchmarks/scale.py --sizes 1000 --shape segments    # long pose files, ~10 sentences each
    python benchmarks/scale.py --pose-type mediapipe --frames 100   # the heavier files (~1.1 MB each)

No estimation: each size gets a synthetic corpus built in seconds, a manifest (`dataset.layout: manifest`, How2Sign's
split proportions 31 128 / 1 741 / 2 357) whose media are `.pose` files with the pose type's real header (random
points; 1 % of the examples longer than model.max_frames, as real corpora have), in one of two shapes: `files`, one
pose file per example (`--frames` frames each), or `segments`, pose files of 60 s with 10 sentences each. Then:
prepare → preprocess (`python -m pipeline.submit ... --until preprocess`, the local executor, as a user runs it), a
second submit of the finished run (it must do no work), MultimodalHugs' setup of the train stage (dataset building
only, `--do_dataset true`; with `--setup-max-frames` also as before, with its own max_frames filter that reads every
training and validation pose file again), and at the largest size preprocess again on one CPU. Printed per stage:
wall seconds, seconds per 1 000 examples, peak resident memory of the stage's whole process tree (every process
below it, summed, sampled every 0.1 s), output size; then the goals. The corpus and the run's data are deleted
afterwards unless `--keep`.

Needs the venvs (`make venvs`). Speed targets are reported, never asserted here: tests/test_benchmarks.py runs a
small size for behaviour only.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TRAINER = ROOT / ".venvs" / "trainer" / "bin"
HOW2SIGN_SPLITS = {"train": 31128, "validation": 1741, "test": 2357}
LONG_SECONDS, SENTENCES_PER_FILE = 60, 10
FPS = 25.0
WORDS = "we sign the weather today tomorrow rain sun wind cold warm north south east west cloud snow".split()
GIB = 1024**3

TEMPLATES = """
import json, sys
from pathlib import Path
from pipeline.fake_poses import fake_pose, write_pose
pose_type, folder = sys.argv[1], Path(sys.argv[2])
for i, frames in enumerate(json.loads(sys.argv[3])):
    write_pose(fake_pose(pose_type, frames=frames, seed=i), folder / f"template-{frames}.pose")
"""


def split_sizes(n: int) -> dict[str, int]:
    """n examples in How2Sign's proportions, at least one per split."""
    total = sum(HOW2SIGN_SPLITS.values())
    sizes = {s: max(1, round(n * k / total)) for s, k in HOW2SIGN_SPLITS.items() if s != "train"}
    return {"train": n - sum(sizes.values()), **sizes}


def make_templates(folder: Path, pose_type: str, frame_counts: list[int]) -> dict[int, bytes]:
    """A pose file per frame count, written by pose-format in the trainer venv (the registry's header)."""
    folder.mkdir(parents=True, exist_ok=True)
    code = [str(TRAINER / "python"), "-c", TEMPLATES, pose_type, str(folder), json.dumps(sorted(set(frame_counts)))]
    subprocess.run(code, check=True, env={**os.environ, "PYTHONPATH": str(ROOT)})
    return {n: (folder / f"template-{n}.pose").read_bytes() for n in set(frame_counts)}


def build_corpus(folder: Path, n: int, pose_type: str = "openpose", frames: int = 100, shape: str = "files") -> dict:
    """The synthetic corpus of n examples (see the module's doc); returns the experiment's dataset section."""
    rng = random.Random(n)
    long_frames = int(LONG_SECONDS * FPS)
    too_long = 400  # > model.max_frames (300): MultimodalHugs' filter, and now preprocess's, leaves these out
    templates = make_templates(folder / "templates", pose_type, [frames, too_long, long_frames])
    roles = ("id", "media", "start", "end", "text") if shape == "segments" else ("id", "media", "text")
    columns = {role: role for role in roles}  # the order of each line below
    index = 0
    for split, count in split_sizes(n).items():
        lines = ["\t".join(columns.values())]
        for i in range(count):
            text = " ".join(rng.choice(WORDS) for _ in range(rng.randint(3, 9)))
            if shape == "files":
                media = f"poses/{split}/{split}-{i:06d}.pose"
                target = folder / media
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(templates[too_long if index % 100 == 99 else frames])
                lines.append(f"{split}-{i:06d}\t{media}\t{text}")
            else:  # sentence i of long file i // 10, 6 s each
                media = f"poses/{split}/long-{i // SENTENCES_PER_FILE:05d}.pose"
                if i % SENTENCES_PER_FILE == 0:
                    (folder / media).parent.mkdir(parents=True, exist_ok=True)
                    (folder / media).write_bytes(templates[long_frames])
                length = LONG_SECONDS / SENTENCES_PER_FILE
                start = (i % SENTENCES_PER_FILE) * length
                lines.append(f"{split}-{i:06d}\t{media}\t{start:.2f}\t{start + length - 0.04:.2f}\t{text}")
            index += 1
        (folder / f"{split}.tsv").write_text("\n".join(lines) + "\n")
    shutil.rmtree(folder / "templates")
    return {
        "name": f"scale{n}",
        "layout": "manifest",
        "root": str(folder),
        "splits": {s: f"{s}.tsv" for s in HOW2SIGN_SPLITS},
        "columns": columns,
    }


def write_experiment(path: Path, dataset: dict, pose_type: str) -> Path:
    import yaml

    config = {
        "name": path.stem,
        "dataset": dataset,
        "estimate": {"estimator": pose_type},
        "model": {"pretrained_backbone": "tiny-m2m100", "max_frames": 300},
        "evaluate": {"bleurt_checkpoint": None},
    }
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path


@dataclass
class TreeSampler:
    """Peak resident memory of a process tree, per part: every process below `root` is counted towards the first
    of `parts` (strings) found in its own or an ancestor's command line, summed over processes, sampled."""

    root: int
    parts: tuple[str, ...]
    interval: float = 0.1
    peaks: dict[str, int] = field(default_factory=dict)
    _stop: threading.Event = field(default_factory=threading.Event)

    def __post_init__(self):
        self._thread = threading.Thread(target=self._loop, daemon=True)
        self._thread.start()

    def stop(self) -> dict[str, int]:
        self._stop.set()
        self._thread.join()
        return self.peaks

    def _loop(self) -> None:
        page = os.sysconf("SC_PAGE_SIZE")
        while not self._stop.wait(self.interval):
            parents, cmdlines, rss = {}, {}, {}
            for entry in os.listdir("/proc"):
                if not entry.isdigit():
                    continue
                try:
                    stat = Path(f"/proc/{entry}/stat").read_text()
                    parents[int(entry)] = int(stat.rsplit(")", 1)[1].split()[1])
                    cmdlines[int(entry)] = Path(f"/proc/{entry}/cmdline").read_bytes().replace(b"\0", b" ").decode()
                    rss[int(entry)] = int(Path(f"/proc/{entry}/statm").read_text().split()[1]) * page
                except (OSError, ValueError, IndexError):
                    continue
            totals: dict[str, int] = {}
            for pid in rss:
                chain, p = [], pid
                while p in parents and p != self.root and len(chain) < 64:
                    chain.append(p)
                    p = parents[p]
                if p != self.root:
                    continue
                part = next((x for q in chain for x in self.parts if x in cmdlines.get(q, "")), None)
                if part:
                    totals[part] = totals.get(part, 0) + rss[pid]
            for part, total in totals.items():
                self.peaks[part] = max(self.peaks.get(part, 0), total)


def run_measured(argv: list[str], parts: tuple[str, ...], cpus: set[int] | None = None, env: dict | None = None):
    """Run argv (from the project root), sampling its tree; returns (seconds, stdout, peaks by part)."""
    started = time.monotonic()
    proc = subprocess.Popen(
        argv,
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, **(env or {})},
        preexec_fn=(lambda: os.sched_setaffinity(0, cpus)) if cpus else None,
    )
    sampler = TreeSampler(proc.pid, parts)
    out, _ = proc.communicate()
    peaks = sampler.stop()
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(argv)} failed ({proc.returncode}):\n{out[-4000:]}")
    return time.monotonic() - started, out, peaks


def submit_argv(config: Path, work: Path, *extra: str) -> list[str]:
    return [
        sys.executable,
        "-m",
        "pipeline.submit",
        str(config),
        "--until",
        "preprocess",
        "--jobs-dir",
        str(work / "jobs"),
        "--profile-set",
        f"data_dir={work / 'data'}",
        "--profile-set",
        f"cache_dir={work / 'cache'}",
        *extra,
    ]


def stage_dirs(work: Path, run: str) -> dict[str, Path]:
    from pipeline.rundir import load_run

    plan, _ = load_run(work / "jobs" / run)
    return {stage: Path(job.output_dir) for stage, job in plan.jobs_of(run).items()}


def folder_bytes(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())


def stage_seconds(folder: Path) -> float:
    return float(json.loads((folder / ".done.json").read_text())["seconds"])


def mmh_setup_config(preprocess_dir: Path, target: Path, max_frames: int | None) -> Path:
    """The data section the train stage writes for MultimodalHugs (pipeline.stages.mmh_config), alone: the
    dataset step reads nothing else. With max_frames: as before preprocess filtered (MMH reads every file)."""
    import yaml

    data = {
        "dataset_type": "pose2text",
        **{f"{s}_metadata_file": str(preprocess_dir / f"{s}.tsv") for s in HOW2SIGN_SPLITS},
        "shuffle": True,
    }
    if max_frames:
        data["max_frames"] = max_frames
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(yaml.safe_dump({"data": data}, sort_keys=False))
    return target


def mmh_setup(preprocess_dir: Path, out: Path, max_frames: int | None) -> tuple[float, int, int]:
    """MultimodalHugs' setup, dataset step only, as the train stage calls it: (seconds, peak bytes, output bytes)."""
    shutil.rmtree(out, ignore_errors=True)
    config = mmh_setup_config(preprocess_dir, out.parent / f"{out.name}.yaml", max_frames)
    argv = [str(TRAINER / "multimodalhugs-setup"), "--modality", "pose2text", "--config_path", str(config)]
    argv += ["--output_dir", str(out), "--seed", "42", "--do_dataset", "true"]
    env = {"HF_HOME": str(out.parent / "hf"), "HF_DATASETS_CACHE": str(out.parent / "hf" / "datasets")}
    shutil.rmtree(out.parent / "hf", ignore_errors=True)
    seconds, _, peaks = run_measured(argv, ("multimodalhugs-setup",), env=env)
    return seconds, peaks.get("multimodalhugs-setup", 0), folder_bytes(out) + folder_bytes(out.parent / "hf")


def how2sign_dry_run(folder: Path, n: int) -> tuple[float, int]:
    """`--dry-run` of config/how2sign.yaml over a realigned-CSV tree of n sentences: (seconds, array tasks)."""
    from pipeline.stages.corpus import HOW2SIGN_HEADER, HOW2SIGN_SPLITS

    for split, count in split_sizes(n).items():
        rows = ["\t".join(HOW2SIGN_HEADER)]
        rows += [
            f"v{i // 10}\tv{i // 10}-1-rgb_front\t{i}\ts{i}-1-rgb_front\t0.0\t3.0\tsome text" for i in range(count)
        ]
        (folder / f"how2sign_realigned_{HOW2SIGN_SPLITS[split]}.csv").write_text("\n".join(rows) + "\n")
    argv = [sys.executable, "-m", "pipeline.submit", "config/how2sign.yaml", "--dry-run"]
    argv += ["--set", f"dataset.root={folder}", "--jobs-dir", str(folder / "jobs")]
    seconds, _, _ = run_measured(argv, ())
    from pipeline.run_records import read_plan

    plan = read_plan(next((folder / "jobs").rglob("plan.json")))
    assert plan is not None
    arrays = [job.array for job in plan.jobs.values() if job.stage == "estimate"]
    return seconds, arrays[0]


def segment_estimations(n: int, videos: int) -> int:
    """How many estimations n sentences cut from `videos` long videos become (prepare's pose ids, then
    estimate's one-per-source-media rule and its shards), without videos."""
    from pipeline.stages.corpus import pose_id_for
    from pipeline.stages.manifest import Example
    from pipeline.stages.shards import media_to_estimate, shard

    root = Path("/corpus")
    examples = [
        Example(f"s{i}", "train", str(root / f"v{i % videos}.mp4"), 1500, FPS, "t", start=i, end=i + 3.0)
        for i in range(n)
    ]
    for ex in examples:
        ex.pose_id = pose_id_for(Path(ex.media), root)
    unique, _ = media_to_estimate(examples)
    return sum(len(shard(unique, 16, t)) for t in range(16))


def measure_size(n: int, work: Path, args) -> dict:
    """Everything for one size; returns its row."""
    corpus = work / "corpus"
    t = time.monotonic()
    dataset = build_corpus(corpus, n, args.pose_type, args.frames, args.shape)
    built = time.monotonic() - t
    config = write_experiment(work / f"scale-{args.shape}-{n}.yaml", dataset, args.pose_type)
    print(f"{n}: corpus built in {built:.1f} s ({folder_bytes(corpus) / GIB:.2f} GiB)", flush=True)
    parts = ("pipeline.stages.prepare", "pipeline.stages.preprocess")
    _, out, peaks = run_measured(submit_argv(config, work), parts)
    dirs = stage_dirs(work, config.stem)
    if "estimate" in dirs:
        raise SystemExit(f"the plan has an estimation job although every media is a pose file:\n{out[-2000:]}")
    row: dict = {"examples": n, "corpus_bytes": folder_bytes(corpus)}
    for stage in ("prepare", "preprocess"):
        row[stage] = {
            "seconds": stage_seconds(dirs[stage]),
            "peak_bytes": peaks.get(f"pipeline.stages.{stage}", 0),
            "output_bytes": folder_bytes(dirs[stage]),
        }
    t = time.monotonic()
    again = subprocess.run(submit_argv(config, work), cwd=ROOT, capture_output=True, text=True)
    row["rerun_seconds"] = time.monotonic() - t
    # the local executor names each job it starts ("<job>: running (log ...)") and each it skips
    row["rerun_did_no_work"] = again.returncode == 0 and ": running (log" not in again.stdout
    row["rerun_skipped"] = again.stdout.count(": complete, skipped")
    if not args.no_setup:
        for label, max_frames in (
            (("setup", None), ("setup_max_frames", 300)) if args.setup_max_frames else (("setup", None),)
        ):
            seconds, peak, size = mmh_setup(dirs["preprocess"], work / "setup" / label, max_frames)
            row[label] = {"seconds": seconds, "peak_bytes": peak, "output_bytes": size}
    if args.one_cpu and n == max(args.sizes):
        shutil.rmtree(dirs["preprocess"])
        _, _, peaks = run_measured(submit_argv(config, work), parts, cpus={min(os.sched_getaffinity(0))})
        row["preprocess_1cpu"] = {
            "seconds": stage_seconds(dirs["preprocess"]),
            "peak_bytes": peaks.get("pipeline.stages.preprocess", 0),
        }
    if not args.keep:
        for folder in (corpus, work / "data", work / "jobs", work / "setup"):
            shutil.rmtree(folder, ignore_errors=True)
    return row


def per_thousand(row: dict, part: str) -> float:
    return row[part]["seconds"] / row["examples"] * 1000


def report(rows: list[dict], extra: dict, args) -> list[str]:
    """The table (Markdown) and the goals."""
    lines = [
        f"scale benchmark: {args.shape} shape, {args.pose_type}, {args.frames} frames per example; "
        f"{cpu_model()}, {len(os.sched_getaffinity(0))} CPUs; commit {commit()}",
        "",
        "| examples | stage | seconds | s / 1 000 | peak RSS (tree) | output |",
        "| ---: | --- | ---: | ---: | ---: | ---: |",
    ]
    parts = ["prepare", "preprocess", "setup", "setup_max_frames", "preprocess_1cpu"]
    names = {"setup": "MMH setup (dataset)", "setup_max_frames": "MMH setup, max_frames in its config (before)"}
    names["preprocess_1cpu"] = "preprocess on 1 CPU"
    for row in rows:
        for part in parts:
            if part not in row:
                continue
            r = row[part]
            out = f"{r['output_bytes'] / 2**20:,.1f} MiB" if "output_bytes" in r else ""
            lines.append(
                f"| {row['examples']:,} | {names.get(part, part)} | {r['seconds']:.1f} | {per_thousand(row, part):.2f} "
                f"| {r['peak_bytes'] / 2**20:,.0f} MiB | {out} |"
            )
        lines.append(
            f"| {row['examples']:,} | second submit of the finished run | {row['rerun_seconds']:.1f} | | | "
            f"{'no work' if row['rerun_did_no_work'] else 'WORK DONE'} |"
        )
    lines += ["", "goals:"]
    small, big = rows[0], rows[-1]
    for part in ("prepare", "preprocess", "setup"):
        if part in big and len(rows) > 1:
            ratio = per_thousand(big, part) / per_thousand(small, part)
            lines.append(
                f"  linear {part}: s/1000 at {big['examples']:,} is {ratio:.2f}x that at {small['examples']:,} "
                f"(goal <= 1.3): {'met' if ratio <= 1.3 else 'MISSED'}"
            )
    for part in ("prepare", "preprocess", "setup"):
        if part in big:
            peak = big[part]["peak_bytes"] / GIB
            lines.append(
                f"  memory {part}: {peak:.2f} GiB at {big['examples']:,} (goal < 2): {'met' if peak < 2 else 'MISSED'}"
            )
    if "preprocess_1cpu" in big:
        speedup = big["preprocess_1cpu"]["seconds"] / big["preprocess"]["seconds"]
        cpus = len(os.sched_getaffinity(0))
        lines.append(
            f"  preprocess on {cpus} CPUs vs 1: {speedup:.2f}x faster (goal >= 1.6): "
            f"{'met' if speedup >= 1.6 else 'MISSED'}"
        )
    lines.append(
        f"  second submit: {big['rerun_seconds']:.1f} s, {'no work' if big['rerun_did_no_work'] else 'work done'} "
        f"(goal < 5 s, no work): {'met' if big['rerun_seconds'] < 5 and big['rerun_did_no_work'] else 'MISSED'}"
    )
    if "dry_run_seconds" in extra:
        lines.append(
            f"  --dry-run of config/how2sign.yaml on {extra['dry_run_sentences']:,} sentences: "
            f"{extra['dry_run_seconds']:.2f} s (goal < 3), {extra['array_tasks']} estimate array tasks (goal <= 16): "
            f"{'met' if extra['dry_run_seconds'] < 3 and extra['array_tasks'] <= 16 else 'MISSED'}"
        )
        lines.append(
            f"  {extra['dry_run_sentences']:,} segments of {extra['videos']:,} long videos: {extra['estimations']:,} "
            f"estimations (goal {extra['videos']:,}): {'met' if extra['estimations'] == extra['videos'] else 'MISSED'}"
        )
    return lines


def cpu_model() -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown CPU"


def commit() -> str:
    proc = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True)
    return proc.stdout.strip() or "unknown"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], epilog=__doc__.split("\n\n", 2)[2])
    parser.add_argument("--sizes", default="1000,5000,35000", help="comma-separated example counts")
    parser.add_argument("--pose-type", default="openpose", help="registry pose type of the files (header)")
    parser.add_argument("--frames", type=int, default=100, help="frames per example (shape files)")
    parser.add_argument("--shape", choices=("files", "segments"), default="files")
    parser.add_argument("--workdir", type=Path, help="where corpora and runs go (default: a temporary folder)")
    parser.add_argument("--keep", action="store_true", help="keep corpora and outputs")
    parser.add_argument("--no-setup", action="store_true", help="skip MultimodalHugs' setup")
    parser.add_argument("--setup-max-frames", action="store_true", help="also time setup with its own max_frames")
    parser.add_argument("--one-cpu", action="store_true", help="at the largest size, preprocess again on 1 CPU")
    parser.add_argument("--no-dry-run", action="store_true", help="skip the How2Sign dry run and the segment count")
    parser.add_argument("--json", type=Path, help="also write the rows as JSON here")
    args = parser.parse_args(argv)
    args.sizes = [int(s) for s in args.sizes.split(",")]
    if not (TRAINER / "python").exists():
        raise SystemExit("no .venvs/trainer: run `make venvs` first")
    work = args.workdir or Path(tempfile.mkdtemp(prefix="scale-"))
    work.mkdir(parents=True, exist_ok=True)
    rows = [measure_size(n, work / f"n{n}", args) for n in args.sizes]
    extra: dict = {}
    if not args.no_dry_run:
        n = max(args.sizes)
        tree = work / "how2sign-csvs"
        tree.mkdir(exist_ok=True)
        extra["dry_run_seconds"], extra["array_tasks"] = how2sign_dry_run(tree, n)
        extra["dry_run_sentences"] = n
        extra["videos"] = min(n, 2500)
        extra["estimations"] = segment_estimations(n, extra["videos"])
        shutil.rmtree(tree, ignore_errors=True)
    lines = report(rows, extra, args)
    print("\n".join(lines))
    if args.json:
        args.json.write_text(json.dumps({"rows": rows, **extra, "lines": lines}, indent=2) + "\n")
    if not args.workdir and not args.keep:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    sys.exit(main())
