"""What the estimate array estimates and which task does which: one example per source media (segments of a
long video share its pose file), balanced across shards by frame count, the same way in every task.
Used by the estimate stage and benchmarks/scale.py."""

from __future__ import annotations

from dataclasses import replace

from pipeline.stages.manifest import Example


def shard(examples: list[Example], shards: int, index: int) -> list[Example]:
    """The examples of shard `index` of `shards`, balancing total frames (deterministic)."""
    loads = [0] * shards
    members: list[list[Example]] = [[] for _ in range(shards)]
    for ex in sorted(examples, key=lambda e: (-e.frames, e.id)):
        lightest = min(range(shards), key=lambda s: (loads[s], s))
        loads[lightest] += max(ex.frames, 1)
        members[lightest].append(ex)
    return sorted(members[index], key=lambda e: e.id)


def media_to_estimate(examples: list[Example]) -> tuple[list[Example], str]:
    """One example per source media (segments of a long video share its pose file, estimated once), without
    examples that have a problem (prepare reported it; preprocess leaves them out) or that are pose files already.
    Returns them and a line for the log when that is not simply every example."""
    unique: dict[str, Example] = {}
    problems = poses = 0
    for ex in examples:
        if ex.problem:
            problems += 1
        elif ex.media.endswith(".pose"):
            poses += 1
        else:
            unique.setdefault(ex.pose_name, replace(ex, id=ex.pose_name))
    if len(unique) == len(examples):
        return list(unique.values()), ""
    return list(unique.values()), (
        f"{len(examples)} examples: {len(unique)} source media to estimate, "
        f"{poses} given as pose files, {problems} with a problem (see prepare's "
        f"problems.txt)"
    )
