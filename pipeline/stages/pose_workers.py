"""The estimation work of one shard: `workers` processes with one model each (or this process), the next clip's
frames decoded while the model works on this one, each pose written atomically, failures collected per example,
progress in frames. The estimate stage calls `run_shard`; benchmarks/estimate.py times it.
"""

from __future__ import annotations

import math
import multiprocessing
import os
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Iterator

from pipeline.stages.estimators import adapter
from pipeline.stages.frames import MediaError, read_frames
from pipeline.stages.manifest import Example
from pipeline.stages.markers import atomic_path

_worker: dict = {}
CHUNK = 8  # at most this many examples per pool task: >1 so decoding overlaps estimation, small for progress


def pose_path(poses_dir: Path, example_id: str) -> Path:
    return Path(poses_dir) / f"{example_id}.pose"


def _init_worker(estimator: str, settings: dict) -> None:
    _worker["adapter"] = adapter(estimator)
    _worker["model"] = _worker["adapter"].load(settings)


def _read(media: str) -> list | MediaError:
    try:
        return read_frames(media)
    except MediaError as exc:
        return exc


def estimate_one(
    job: tuple[str, str, float, str], frames: list | MediaError | None = None
) -> tuple[str, int, str | None]:
    """(id, frames, error) for one example; writes its pose atomically. Runs in a worker.
    `frames` may be given already decoded (prefetched)."""
    example_id, media, fps, out = job
    frames = _read(media) if frames is None else frames
    if isinstance(frames, MediaError):
        return example_id, 0, str(frames)
    try:
        pose = _worker["adapter"].estimate(_worker["model"], frames, fps)
    except Exception as exc:  # a model failure on one clip must not stop the shard
        return example_id, 0, f"{type(exc).__name__}: {exc}"
    with atomic_path(Path(out)) as tmp, open(tmp, "wb") as handle:
        pose.write(handle)
    return example_id, len(frames), None


def estimate_prefetching(jobs: list[tuple[str, str, float, str]]) -> Iterator[tuple[str, int, str | None]]:
    """estimate_one over `jobs`, decoding the next clip in a thread while the model works on this one
    (MediaPipe releases the GIL)."""
    with ThreadPoolExecutor(max_workers=1) as reader:
        pending = reader.submit(_read, jobs[0][1]) if jobs else None
        for i, job in enumerate(jobs):
            assert pending is not None  # submitted for every job
            frames = pending.result()
            pending = reader.submit(_read, jobs[i + 1][1]) if i + 1 < len(jobs) else None
            yield estimate_one(job, frames)


def estimate_chunk(jobs: list[tuple[str, str, float, str]]) -> list[tuple[str, int, str | None]]:
    return list(estimate_prefetching(jobs))


def run_shard(
    examples: list[Example], out: Path, estimator: str, settings: dict, workers: int, label: str = "estimate"
) -> tuple[int, list[tuple[str, str]]]:
    """Estimate every example without a pose; returns (frames done, failures [(id, reason)])."""
    from tqdm import tqdm

    for example in examples:  # temp files of a killed earlier attempt at this shard's examples
        for stale in Path(out).glob(f".{example.id}.pose.*.tmp"):
            stale.unlink()
    todo = [e for e in examples if not pose_path(out, e.id).exists()]
    skipped = len(examples) - len(todo)
    print(
        f"{label}: {len(examples)} examples in shard, {skipped} already done, {len(todo)} to estimate "
        f"({sum(e.frames for e in todo)} frames) with {workers} worker(s)",
        flush=True,
    )
    jobs = [(e.id, e.media, e.fps, str(pose_path(out, e.id))) for e in todo]
    failures: list[tuple[str, str]] = []
    done_frames = 0
    bar = tqdm(
        total=sum(max(e.frames, 1) for e in todo),
        unit="frame",
        mininterval=10,
        file=sys.stdout,
        dynamic_ncols=False,
        ncols=100,
        desc=label,
    )
    expected = {e.id: max(e.frames, 1) for e in todo}
    if workers > 1 and len(jobs) > 1:
        ctx = multiprocessing.get_context("spawn")  # MediaPipe's graph does not survive fork
        # prefetching works within a chunk; chunks small enough that every worker gets a fair share
        size = max(1, min(CHUNK, len(jobs) // (workers * 4)))
        chunks = [jobs[i : i + size] for i in range(0, len(jobs), size)]
        with ctx.Pool(workers, initializer=_init_worker, initargs=(estimator, settings)) as pool:
            for results in pool.imap_unordered(estimate_chunk, chunks):
                for example_id, frames, error in results:
                    done_frames += frames
                    bar.update(expected[example_id])
                    if error:
                        failures.append((example_id, error))
    else:
        if jobs:
            _init_worker(estimator, settings)
        for example_id, frames, error in estimate_prefetching(jobs):
            done_frames += frames
            bar.update(expected[example_id])
            if error:
                failures.append((example_id, error))
    bar.close()
    return done_frames, failures


# One MediaPipe worker keeps about 1.4 cores busy (its own threads): benchmarks/estimate.py on 2 cores gives
# 17.7 frames/s with 1 worker and 26.4 with 2 (1.49x), see the README's benchmark table.
CPUS_PER_WORKER = 1.4


def task_cpus() -> int:
    """The CPUs this task may use: SLURM's allocation, else this process's affinity."""
    given = os.environ.get("SLURM_CPUS_PER_TASK", "")
    if given.isdigit() and int(given) > 0:
        return int(given)
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


def resolve_workers(workers) -> int:
    """`estimate.workers`: a number as given; "auto": enough workers to keep the task's CPUs busy."""
    if workers == "auto":
        return max(1, math.ceil(task_cpus() / CPUS_PER_WORKER))
    return int(workers)
