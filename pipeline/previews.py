"""Which clips the report previews, and getting them drawn: two test clips per pose type of a run or sweep.

Per pose type (`estimate.estimator`), the first run of that type names its preprocess job; the first `clips` rows
of that job's `test.tsv` (the `signal` pose file, its start and end, the reference) are the clips. The MediaPipe
image draws them with pose-format's visualizer (`pipeline.stages.preview`, run by `pipeline.image_steps`) into
`<run dir>/previews/`; this module returns each as (pose type, clip id, reference, GIF bytes or why not).
"""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass
from pathlib import Path

from pipeline.image_steps import bind_folders, run_step
from pipeline.run_records import PlanRecord, Submission

SIZE, MAX_FRAMES = 160, 40  # pixels on the longer side, frames per GIF: a few dozen kB per clip


@dataclass
class Preview:
    label: str  # the pose type
    clip: str  # the pose file's name
    text: str  # the reference
    gif: bytes | None
    error: str = ""


def preview_clips(plan: PlanRecord, clips: int = 2) -> list[dict]:
    """One entry per pose type: its label and its first `clips` test clips."""
    groups: dict[str, dict] = {}
    for run, stages in sorted(plan.runs.items()):
        label = plan.experiment(run, f"plan.json, run {run}").estimate.estimator
        if label in groups or "preprocess" not in stages:
            continue
        tsv = Path(plan.jobs[stages["preprocess"]].output_dir) / "test.tsv"
        if not tsv.exists():
            continue
        with open(tsv, newline="", encoding="utf-8") as handle:
            rows = [row for _, row in zip(range(clips), csv.DictReader(handle, delimiter="\t"))]
        groups[label] = {
            "label": label,
            "clips": [
                {
                    "id": Path(row["signal"]).stem,
                    "pose": row["signal"],
                    "start": int(float(row.get("signal_start") or 0)),
                    "end": int(float(row.get("signal_end") or 0)),
                    "text": row.get("output", ""),
                }
                for row in rows
            ],
        }
    return list(groups.values())


def draw_previews(
    run_dir: Path, plan: PlanRecord, record: Submission, runtime: str | None = None
) -> tuple[list[Preview], str]:
    """The previews of a run folder's pose types; ([], why) when the step could not run."""
    groups = preview_clips(plan)
    if not groups:
        return [], "no preprocessed test clips"
    folder = run_dir / "previews"
    folder.mkdir(parents=True, exist_ok=True)
    spec_path = folder / "input.json"
    spec = {"previews": groups, "output_dir": str(folder), "size": SIZE, "max_frames": MAX_FRAMES}
    spec_path.write_text(json.dumps(spec, indent=1) + "\n")
    poses = [Path(c["pose"]).parent for g in groups for c in g["clips"]]
    step = run_step(record, "mediapipe", "preview", spec_path, bind_folders(poses, [folder]), runtime)
    if not step.ok:
        return [], step.reason
    out = []
    for entry in json.loads((folder / "previews.json").read_text()):
        gif = Path(entry["file"]).read_bytes() if entry.get("file") else None
        out.append(Preview(entry["label"], entry["id"], entry.get("text", ""), gif, entry.get("error", "")))
    return out, ""
