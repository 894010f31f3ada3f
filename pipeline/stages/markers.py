"""Completion markers and atomic writes: how a stage says "done" and how a reader never sees half a file.

A finished stage writes `<output_dir>/.done.json`; an estimate array task writes
`<output_dir>/.done.shard-<i>-of-<n>.json`. The submitter skips a job whose markers are all present, and a stage
started by hand on finished outputs exits at once. Light: the login node imports this.
"""

from __future__ import annotations

import errno
import json
import os
import socket
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Callable, Iterator

from pipeline.errors import UserError

DONE = ".done.json"


def array_task() -> int:
    """This array task's index (SLURM_ARRAY_TASK_ID); 0 outside an array. The task count comes from the spec:
    a resubmission of one task (`sbatch --array=3`) has SLURM_ARRAY_TASK_COUNT=1."""
    return int(os.environ.get("SLURM_ARRAY_TASK_ID") or 0)


def shard_marker(output_dir: Path, task: int, tasks: int) -> Path:
    return Path(output_dir) / f".done.shard-{task}-of-{tasks}.json"


def marker_paths(output_dir: str | Path, tasks: int) -> list[Path]:
    """The completion markers of a job: one per array task, or `.done.json` for a plain job (tasks=0)."""
    out = Path(output_dir)
    return [shard_marker(out, t, tasks) for t in range(tasks)] if tasks else [out / DONE]


def missing_tasks(output_dir: str | Path, tasks: int) -> list[int]:
    """Array tasks (0-based) whose shard marker is absent; for a plain job (tasks=0): [0] or []."""
    return [t for t, marker in enumerate(marker_paths(output_dir, tasks)) if not marker.exists()]


def is_complete(output_dir: str | Path, tasks: int = 0) -> bool:
    return not missing_tasks(output_dir, tasks)


FULL = (errno.ENOSPC, errno.EDQUOT, errno.EFBIG)  # no space, over quota, over the file-size limit


class DiskFull(UserError):
    """A write failed for want of space: which file, and what to do (the stage stops; nothing is marked done)."""


def raise_if_full(exc: OSError, target: Path) -> None:
    if exc.errno in FULL:
        raise DiskFull(
            f"disk full writing {target} ({exc.strerror}); free space in {target.parent} (or raise the quota) "
            f"and submit again: finished work is kept"
        ) from None


@contextmanager
def atomic_path(target: Path) -> Iterator[Path]:
    """Yield a temporary path beside `target`; rename it onto `target` only if the block succeeds."""
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    except OSError as exc:
        raise_if_full(exc, target)
        raise
    os.close(fd)
    try:
        yield Path(tmp)
        os.replace(tmp, target)
    except OSError as exc:
        raise_if_full(exc, target)
        raise
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def write_problems(output_dir: Path, problems: list[str]) -> None:
    """`<output_dir>/problems.txt`: one line per problem (prepare: `file:line: id: reason`; preprocess:
    `split<TAB>id<TAB>reason`), written whole or not at all."""
    with atomic_path(Path(output_dir) / "problems.txt") as tmp:
        tmp.write_text("".join(p + "\n" for p in problems))


def write_json(target: Path, data: dict) -> None:
    with atomic_path(target) as tmp:
        tmp.write_text(json.dumps(data, indent=2, sort_keys=True, default=str) + "\n")


def write_marker(marker: Path, started: float, **info) -> None:
    write_json(
        marker,
        {
            "host": socket.gethostname(),
            "started": started,
            "finished": time.time(),
            "seconds": round(time.time() - started, 3),
            "slurm_job_id": os.environ.get("SLURM_JOB_ID"),
            **info,
        },
    )


def build_once(target: Path, build: Callable[[Path], object]) -> Path:
    """`build(folder)` into `target` unless a finished one is there (its config.json). Concurrent jobs (a sweep on
    SLURM) may all get here: each builds aside and renames; the first one wins, nobody sees half a folder."""
    target = Path(target)
    if not (target / "config.json").exists():
        print(f"building {target}", flush=True)
        target.parent.mkdir(parents=True, exist_ok=True)
        scratch = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
        build(scratch)
        try:
            os.rename(scratch, target)
        except OSError:
            import shutil

            shutil.rmtree(scratch)
    return target
