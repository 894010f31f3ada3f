"""A run's provenance: what produced its results, gathered from the run folder and the stages' markers.

`jobs/<run>/provenance/<run name>.json` per run: the resolved config and its hash, the pipeline's git commit,
executor/profile/runtime, per stage the image (and its sha256 from the build manifest), the `pip freeze` of the
stage's environment (`environment.txt`), SLURM job id, host, start and end times. Written by `pipeline.submit`
after a local run and by `pipeline.status` / `pipeline.summarize` whenever they look at a run.
"""

from __future__ import annotations

from pathlib import Path

from pipeline.rundir import read_json
from pipeline.stages.markers import marker_paths, write_json


def image_digests(record: dict) -> dict:
    manifest = Path(record.get("image_manifest") or "")
    return read_json(manifest) if manifest.is_file() else {}


def stage_facts(job: dict, digests: dict) -> dict:
    out = Path(job["output_dir"])
    markers = marker_paths(out, job["array"])
    done = [read_json(m) for m in markers if m.exists()]
    env = out / "environment.txt"
    return {
        "key": job["key"],
        "image": job["image"],
        "image_sha256": digests.get(job["image"], {}).get("sha256"),
        "output_dir": str(out),
        "complete": len(done) == len(markers),
        "tasks": [
            {k: m.get(k) for k in ("host", "started", "finished", "seconds", "slurm_job_id", "container", "python")}
            for m in done
        ],
        "environment": env.read_text().splitlines() if env.exists() else None,
    }


def write_provenance(run_dir: Path, plan: dict, record: dict) -> list[Path]:
    digests = image_digests(record)
    written = []
    for run, stages in plan["runs"].items():
        config = plan.get("experiments", {}).get(run, {})
        data = {
            "run": run,
            "config": config,
            "config_hash": plan.get("config_hashes", {}).get(run),  # keys.config_hash, as plan.json and submit
            "git_commit": record.get("git_commit"),
            "executor": record.get("executor"),
            "profile": record.get("profile"),
            "runtime": record.get("runtime"),
            "slurm_job_ids": {
                stage: record.get("jobs", {}).get(job_id, {}).get("slurm_id") for stage, job_id in stages.items()
            },
            "stages": {stage: stage_facts(plan["jobs"][job_id], digests) for stage, job_id in stages.items()},
        }
        path = Path(run_dir) / "provenance" / f"{run}.json"
        write_json(path, data)
        written.append(path)
    return written
