"""What a train stage process started by torchrun needs to know (pipeline/distributed.py): its rank and its node's
process count (torchrun's environment), its share of the node's CPUs, how many processes saved a checkpoint; and
keeping the log to global rank 0.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Optional


@dataclass(frozen=True)
class World:
    rank: int  # global rank: 0 writes the log lines, markers and outputs
    local_rank: int
    size: int  # processes of the job
    local_size: int  # processes on this node


def world() -> Optional[World]:
    """This process's place among torchrun's processes; None outside torchrun (a stage run on its own)."""
    if "WORLD_SIZE" not in os.environ or "RANK" not in os.environ:
        return None
    env = os.environ
    size = int(env["WORLD_SIZE"])
    return World(int(env["RANK"]), int(env.get("LOCAL_RANK", 0)), size, int(env.get("LOCAL_WORLD_SIZE", size)))


def threads_per_process(local_size: int, torch_threads: Optional[int]) -> int:
    """training.torch_threads when set, else this process's share of the node's CPUs: the job's (SLURM_CPUS_PER_TASK,
    one task a node), else those this process may use (the local executor), over the node's processes."""
    if torch_threads:
        return torch_threads
    from pipeline.stages.pose_workers import task_cpus

    return max(1, task_cpus() // local_size)


def last_checkpoint(train_dir: Path) -> Optional[Path]:
    """The newest `checkpoint-<step>` folder, the one HF Trainer resumes from (transformers' get_last_checkpoint)."""
    steps = [
        (int(match.group(1)), path)
        for path in (train_dir.glob("checkpoint-*") if train_dir.is_dir() else [])
        if (match := re.fullmatch(r"checkpoint-(\d+)", path.name)) and path.is_dir()
    ]
    return max(steps)[1] if steps else None


def checkpoint_processes(checkpoint: Path) -> int:
    """How many processes saved a checkpoint: HF Trainer writes one `rng_state_<rank>.pth` per process (with
    several; `rng_state.pth` with one: Trainer._save_rng_state)."""
    return len(list(checkpoint.glob("rng_state_*.pth"))) or 1


def quiet_unless_rank_zero(rank: int) -> None:
    """Send this process's standard output to /dev/null unless it is global rank 0 (its errors stay in the log):
    torchrun's --local-ranks-filter 0 keeps one process a node, this keeps one a job."""
    if rank != 0:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, 1)
        os.close(devnull)
