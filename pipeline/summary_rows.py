"""The summary's rows: one per run of a run or sweep folder, read from its plan.json, the stages' outputs and
markers, and the state of its jobs. `pipeline.summarize` prints and writes them; `pipeline.comparison` groups them
into systems.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional, Union

from pipeline.run_state import job_rows, marker_seconds
from pipeline.rundir import load_run
from pipeline.slurm_query import ACTIVE, FAILED
from pipeline.stage_registry import STAGES
from pipeline.stages.trained_model import TrainerState, trainer_state

Score = Union[float, str, None]  # a number, "missing" (a BLEURT that could not be computed), or None (not scored)
SCORES = ("bleu", "chrf", "bleurt")


@dataclass
class RunRow:
    """One run of the summary: its varied settings, scores, training facts, stage times and state."""

    run: str
    params: dict[str, Any]  # the value of every key the runs of the folder vary
    state: str = "not finished"  # finished / failed / running / not finished
    bleu: Score = None
    chrf: Score = None
    bleurt: Score = None
    best_step: Optional[int] = None
    epoch: Optional[float] = None  # where training stopped
    seconds: dict[str, Optional[int]] = field(default_factory=dict)  # stage -> wall time from its markers
    dirs: dict[str, Path] = field(default_factory=dict)  # stage -> its job's output folder
    trainer: Optional[TrainerState] = None

    def get(self, column: str) -> Any:
        """A column's value: a varied key's (`training.seed`), a score, or a stage's time (`train_s`)."""
        return self.columns().get(column, self.params.get(column))

    def columns(self) -> dict[str, Any]:
        """The row as the table shows it, in order."""
        return {
            "run": self.run,
            **self.params,
            "bleu": self.bleu,
            "chrf": self.chrf,
            "bleurt": self.bleurt,
            "best_step": self.best_step,
            "epoch": self.epoch,
            **{f"{stage}_s": seconds for stage, seconds in self.seconds.items()},
            "state": self.state,
        }


def flatten(data: dict, prefix: str = "") -> dict:
    out = {}
    for key, value in data.items():
        if isinstance(value, dict) and value:
            out.update(flatten(value, f"{prefix}{key}."))
        else:
            out[f"{prefix}{key}"] = value
    return out


def varied_keys(experiments: dict) -> list[str]:
    flat = [flatten({k: v for k, v in e.items() if k != "name"}) for e in experiments.values()]
    keys = sorted({k for f in flat for k in f})
    return [k for k in keys if len({json.dumps(f.get(k), sort_keys=True) for f in flat}) > 1]


def read_score(folder: Optional[Path], name: str) -> Score:
    """The score in test_score.<name>; "missing" for a BLEURT that could not be computed (not a failure)."""
    path = folder / f"test_score.{name}" if folder else None
    if path is None or not path.exists():
        return None
    result = json.loads(path.read_text())
    return "missing" if result.get("missing") else result["score"]


def run_rows(run_dir: Path) -> tuple[list[RunRow], list[str]]:
    """The folder's rows, best BLEU first, and the keys its runs vary."""
    plan, record = load_run(run_dir)
    states = {r.job: r.state for r in job_rows(run_dir, plan, record)}
    varied = varied_keys(plan.experiments)
    rows = []
    for run in plan.runs:
        flat = flatten(plan.experiments.get(run, {}))
        jobs = plan.jobs_of(run)
        row = RunRow(run, {k: flat.get(k) for k in varied})
        row.dirs = {stage: Path(job.output_dir) for stage, job in jobs.items()}
        for name in SCORES:
            setattr(row, name, read_score(row.dirs.get("evaluate"), name))
        row.trainer = trainer_state(row.dirs["train"] / "train") if "train" in jobs else None
        if row.trainer:
            row.best_step, row.epoch = row.trainer.best_step, row.trainer.epoch
        for stage in STAGES:
            if stage in jobs:
                seconds = marker_seconds(jobs[stage])
                row.seconds[stage] = round(seconds) if seconds is not None else None
        job_states = [states.get(plan.runs[run][s]) for s in jobs]
        if all(job.complete for job in jobs.values()):
            row.state = "finished"
        elif any(s in FAILED for s in job_states):
            row.state = "failed"
        elif any(s in ACTIVE for s in job_states):
            row.state = "running"
        rows.append(row)
    rows.sort(key=lambda r: (r.bleu is None, -(r.bleu if isinstance(r.bleu, (int, float)) else 0.0), r.run))
    return rows, varied
