"""One submit of a run at a time: a lock on the run folder (`jobs/<run>/.submit.lock`), held by the submit that
composes, submits and (with the local executor) runs the run's jobs.

The lock is the operating system's (`flock`): it goes when its holder's process ends, however it ends, so a lock
left by a killed submit is taken over by the next one, which says so. The file records who holds it (pid, host,
since when) for the message a second submit prints: it stops with exit code 2 and one line saying what to do.
A sweep is one run folder: two submits of the same sweep exclude each other the same way.
"""

from __future__ import annotations

import fcntl
import json
import os
import socket
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from pipeline.errors import UserError

LOCK_NAME = ".submit.lock"


def holder_of(path: Path) -> dict:
    try:
        return json.loads(path.read_text() or "{}")
    except (OSError, ValueError):
        return {}


def describe(holder: dict) -> str:
    since = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(holder.get("since", 0)))
    return f"pid {holder.get('pid', '?')} on {holder.get('host', '?')} since {since}"


@contextmanager
def run_lock(run_dir: Path, run: str) -> Iterator[None]:
    """Hold the run's lock for the block; another live holder stops this submit in one line (UserError)."""
    run_dir.mkdir(parents=True, exist_ok=True)
    path = run_dir / LOCK_NAME
    with open(path, "a+") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise UserError(
                f"run {run}: another submit holds it ({describe(holder_of(path))}); wait for it, follow it with "
                f"`python -m pipeline.status {run_dir}`, or stop that process and submit again"
            ) from None
        previous = holder_of(path)
        if previous.get("pid"):  # a holder that ended without releasing: its process is gone
            print(f"note: run {run}: took over the lock of a submit that ended ({describe(previous)})", flush=True)
        handle.seek(0)
        handle.truncate()
        handle.write(json.dumps({"pid": os.getpid(), "host": socket.gethostname(), "since": time.time()}))
        handle.flush()
        try:
            yield
        finally:
            handle.seek(0)
            handle.truncate()  # released in order: the next submit has nothing to take over
