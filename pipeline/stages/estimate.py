"""estimate: one array task = one shard of the manifest → one `.pose` per example, model loaded once per worker.

- Shards are balanced by frame count (longest first onto the lightest shard), computed the same way by every
  task from the manifest, so a task needs only its index (SLURM_ARRAY_TASK_ID): pipeline/stages/shards.py.
- Each pose is written to a temporary file and renamed: a killed task never leaves a truncated `.pose`, and a
  rerun skips examples whose pose exists.
- An example that cannot be read or estimated goes to `failures.shard-<i>.tsv` (id, reason) and the others go
  on; the task fails at the end if failures exceed `max_failure_fraction` of its shard.
- `workers > 1` runs that many processes, each with its own model, to use every core; `auto` (the default) picks
  ceil(CPUs / 1.4) from the task's CPUs (SLURM_CPUS_PER_TASK, else this process's affinity). The work itself
  (workers, prefetching, atomic writes) is in pipeline/stages/pose_workers.py.
- `estimate.source: openpose_json` converts OpenPose's JSON keypoints instead (pipeline/stages/openpose_json.py),
  sharded and skipped, written and reported the same way.
"""

from __future__ import annotations

import time
from pathlib import Path

from pipeline.errors import UserError
from pipeline.stages.entry import stage_main
from pipeline.stages.manifest import read_all
from pipeline.stages.markers import array_task
from pipeline.stages.pose_workers import resolve_workers, run_shard, task_cpus
from pipeline.stages.shards import media_to_estimate, shard
from pipeline.stages.specs import EstimateSpec


def run(spec: EstimateSpec) -> dict:
    """Estimate the poses of this array task's shard."""
    task = array_task()
    shards = spec.shards
    if not 0 <= task < shards:
        raise UserError(f"SLURM_ARRAY_TASK_ID={task} outside 0..{shards - 1}")
    examples = read_all(Path(spec.manifest_dir))
    if spec.limit:
        examples = examples[: spec.limit]
    examples, note = media_to_estimate(examples)
    if note:
        print(note, flush=True)
    mine = shard(examples, shards, task)
    out = Path(spec.output_dir)
    started = time.time()
    workers = resolve_workers(spec.workers)
    if spec.workers == "auto" and spec.source == "estimate":
        print(f"estimate.workers auto: {workers} worker(s) for {task_cpus()} CPU(s)", flush=True)
    label = f"estimate shard {task + 1}/{shards}"
    if spec.source == "openpose_json":  # nothing to estimate: OpenPose's keypoints, converted
        from pipeline.stages.openpose_json import convert_shard

        workers = 1
        frames, failures = convert_shard(mine, out, label)
    else:
        frames, failures = run_shard(mine, out, spec.estimator, spec.settings, workers, label)
    elapsed = time.time() - started
    failures_file = out / f"failures.shard-{task}.tsv"
    failures_file.write_text("".join(f"{i}\t{r}\n" for i, r in failures))
    for example_id, reason in failures:
        print(f"failed: {example_id}: {reason}", flush=True)
    rate = frames / elapsed if elapsed > 0 else 0.0
    print(
        f"shard {task + 1}/{shards}: {frames} frames in {elapsed:.1f}s ({rate:.1f} frames/s), "
        f"{len(failures)} failure(s)",
        flush=True,
    )
    allowed = spec.max_failure_fraction * len(mine)
    if len(failures) > allowed:
        raise UserError(
            f"{len(failures)} of {len(mine)} examples failed (allowed: {allowed:g}; "
            f"estimate.max_failure_fraction); see {failures_file}"
        )
    return {
        "examples": len(mine),
        "frames": frames,
        "frames_per_second": round(rate, 2),
        "workers": workers,
        "failures": len(failures),
        "shard": task,
        "shards": shards,
    }


if __name__ == "__main__":
    stage_main(run)
