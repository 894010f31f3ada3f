"""A run's provenance: what produced its results, gathered from the run folder and the stages' markers.

`jobs/<run>/provenance/<run name>.json` per run: the resolved config and its hash, the pipeline's git commit,
executor/profile/runtime, per stage the image (and its sha256 from the build manifest), the `pip freeze` of the
stage's environment (`environment.txt`), SLURM job id, host, start and end times. Written by `pipeline.submit`
after a local run and by `pipeline.status` / `pipeline.summarize` whenever they look at a run.
"""

from __future__ import annotations

from pathlib import Path

from pipeline.run_records import JobRecord, PlanRecord, Submission
from pipeline.rundir import read_json
from pipeline.stages.markers import marker_paths, write_json


def image_digests(record: Submission) -> dict:
    manifest = Path(record.image_manifest or "")
    return read_json(manifest) if manifest.is_file() else {}


def stage_facts(job: JobRecord, digests: dict) -> dict:
    out = Path(job.output_dir)
    markers = marker_paths(out, job.array)
    done = [read_json(m) for m in markers if m.exists()]
    env = out / "environment.txt"
    return {
        "key": job.key,
        "image": job.image,
        "image_sha256": digests.get(job.image, {}).get("sha256"),
        "output_dir": str(out),
        "complete": job.complete,
        "tasks": [
            {k: m.get(k) for k in ("host", "started", "finished", "seconds", "slurm_job_id", "container", "python")}
            for m in done
        ],
        "environment": env.read_text().splitlines() if env.exists() else None,
    }


def write_provenance(run_dir: Path, plan: PlanRecord, record: Submission) -> list[Path]:
    digests = image_digests(record)
    written = []
    for run, stages in plan.runs.items():
        data = {
            "run": run,
            "config": plan.experiments.get(run, {}),
            "config_hash": plan.config_hashes.get(run),  # keys.config_hash, as plan.json and submit
            "git_commit": record.git_commit,
            "executor": record.executor,
            "profile": record.profile,
            "runtime": record.runtime,
            "slurm_job_ids": {stage: record.slurm_id(job_id) for stage, job_id in stages.items()},
            "stages": {stage: stage_facts(job, digests) for stage, job in plan.jobs_of(run).items()},
        }
        path = Path(run_dir) / "provenance" / f"{run}.json"
        write_json(path, data)
        written.append(path)
    return written
