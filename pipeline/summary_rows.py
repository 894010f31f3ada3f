"""The summary's rows: one per run of a run or sweep folder, read from its plan.json, the stages' outputs and
markers, and the state of its jobs. `pipeline.summarize` prints and writes them; `pipeline.comparison` groups them
into systems.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional, Union

from pipeline.run_records import PlanRecord, Submission
from pipeline.run_state import job_rows
from pipeline.slurm_query import ACTIVE, FAILED
from pipeline.stage_registry import STAGES
from pipeline.stages.trained_model import TrainerState, trainer_state

SCORES = ("bleu", "chrf", "bleurt")


@dataclass
class RunRow:
    """One run of the summary: its varied settings, scores, training facts, stage times and state."""

    run: str
    params: dict[str, Any]  # the value of every key the runs of the folder vary
    state: str = "not finished"  # finished / failed / running / not finished
    bleu: Optional[float] = None
    chrf: Optional[float] = None
    bleurt: Union[float, str, None] = None  # "missing": a BLEURT that could not be computed (the run is fine)
    best_step: Optional[int] = None
    epoch: Optional[float] = None  # where training stopped
    seconds: dict[str, Optional[int]] = field(default_factory=dict)  # stage -> wall time from its markers
    dirs: dict[str, Path] = field(default_factory=dict)  # stage -> its job's output folder
    trainer: Optional[TrainerState] = None

    def score(self, metric: str) -> float:
        """BLEU or chrF of a scored run (comparison.System's runs are)."""
        value = {"bleu": self.bleu, "chrf": self.chrf}[metric]
        assert value is not None, f"{self.run}: no {metric}"
        return value

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
    """Nested keys as dotted paths: {"training": {"seed": 1}} -> {"training.seed": 1}."""
    out = {}
    for key, value in data.items():
        if isinstance(value, dict) and value:
            out.update(flatten(value, f"{prefix}{key}."))
        else:
            out[f"{prefix}{key}"] = value
    return out


def varied_keys(experiments: dict) -> list[str]:
    """The dotted keys whose values differ between the experiments (run name -> plain experiment)."""
    flat = [flatten({k: v for k, v in e.items() if k != "name"}) for e in experiments.values()]
    keys = sorted({k for f in flat for k in f})
    return [k for k in keys if len({json.dumps(f.get(k), sort_keys=True) for f in flat}) > 1]


def read_score(folder: Optional[Path], name: str) -> Union[float, str, None]:
    """The score in test_score.<name>; "missing" for a BLEURT that could not be computed (not a failure)."""
    path = folder / f"test_score.{name}" if folder else None
    if path is None or not path.exists():
        return None
    result = json.loads(path.read_text())
    return "missing" if result.get("missing") else result["score"]


def number(value: Union[float, str, None]) -> Optional[float]:
    return float(value) if isinstance(value, (int, float)) else None


def run_rows(run_dir: Path, plan: PlanRecord, record: Submission) -> tuple[list[RunRow], list[str]]:
    """The folder's rows, best BLEU first, and the keys its runs vary."""
    job_states = {r.job: r for r in job_rows(run_dir, plan, record)}
    varied = varied_keys(plan.experiments)
    rows = []
    for run in plan.runs:
        flat = flatten(plan.experiments.get(run, {}))
        jobs = plan.jobs_of(run)
        row = RunRow(run, {k: flat.get(k) for k in varied})
        row.dirs = {stage: Path(job.output_dir) for stage, job in jobs.items()}
        scores = row.dirs.get("evaluate")
        row.bleu, row.chrf = number(read_score(scores, "bleu")), number(read_score(scores, "chrf"))
        row.bleurt = read_score(scores, "bleurt")
        row.trainer = trainer_state(row.dirs["train"] / "train") if "train" in jobs else None
        if row.trainer:
            row.best_step, row.epoch = row.trainer.best_step, row.trainer.epoch
        for stage in STAGES:
            if stage in jobs:
                seconds = job_states[plan.runs[run][stage]].elapsed  # from the completion markers
                row.seconds[stage] = round(seconds) if seconds is not None else None
        states = [job_states[plan.runs[run][s]].state for s in jobs]
        if all(job.complete for job in jobs.values()):
            row.state = "finished"
        elif any(s in FAILED for s in states):
            row.state = "failed"
        elif any(s in ACTIVE for s in states):
            row.state = "running"
        rows.append(row)
    rows.sort(key=lambda r: (r.bleu is None, -(r.bleu or 0.0), r.run))
    return rows, varied
