"""A finished run, read on the login node for the commands that use its model (`pipeline.translate`,
`pipeline.export`): its experiment, the specs of its stage jobs, the train stage's output, marker and selected
checkpoint, and its submission record (the commit it ran).

RUN is a run folder written by pipeline.submit (`jobs/<run>`, looked up as `pipeline.status` does) or a run name;
a sweep's folder holds several runs, one of which `run` names. A run whose training never finished stops here in
one line.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

from pipeline.errors import UserError
from pipeline.paths import display_path
from pipeline.run_records import PlanRecord, Submission
from pipeline.rundir import find_run_dir, load_run
from pipeline.schema import Experiment, Translate
from pipeline.stages.markers import DONE
from pipeline.stages.specs import EstimateSpec, PreprocessSpec, StageSpec, TrainSpec, TranslateSpec, load_spec
from pipeline.stages.trained_model import best_checkpoint


@dataclass
class FinishedRun:
    name: str
    run_dir: Path
    experiment: Experiment
    specs: dict[str, StageSpec]  # stage -> its job's spec
    output_dirs: dict[str, Path]  # stage -> its job's output folder
    checkpoint: Path  # the selected checkpoint (as the translate stage selects it)
    train_marker: dict  # the train stage's .done.json
    submission: Submission  # submission.json: executor, git commit, ...

    @property
    def train(self) -> TrainSpec:
        spec = self.specs["train"]
        assert isinstance(spec, TrainSpec)
        return spec

    @property
    def preprocess(self) -> PreprocessSpec:
        spec = self.specs["preprocess"]
        assert isinstance(spec, PreprocessSpec)
        return spec

    @property
    def translate(self) -> Optional[TranslateSpec]:
        spec = self.specs.get("translate")
        return spec if isinstance(spec, TranslateSpec) else None

    @property
    def estimate(self) -> Optional[EstimateSpec]:
        spec = self.specs.get("estimate")
        return spec if isinstance(spec, EstimateSpec) else None

    @property
    def model_dir(self) -> Path:
        return self.output_dirs["train"]

    @property
    def translate_settings(self) -> Translate:
        """How the run translated (its translate job's settings, else the experiment's)."""
        return self.translate.translate if self.translate else self.experiment.translate

    @property
    def feat_dim(self) -> int:
        """The trainer's feature dimension, as preprocess measured it (feat_dim.json)."""
        return int(json.loads((self.output_dirs["preprocess"] / "feat_dim.json").read_text())["feat_dim"])


def add_run_arguments(parser) -> None:
    """RUN and `--run NAME`: how every command that uses a finished run names it."""
    parser.add_argument("run", help="a finished run: its folder (jobs/<run>) or its name")
    parser.add_argument("--run", dest="run_name", metavar="NAME", help="which run of a sweep's folder")


def choose_run(plan: PlanRecord, where: str, name: Optional[str]) -> str:
    runs = list(plan.runs)
    if name:
        if name not in runs:
            raise UserError(f"{where}: --run {name}: no such run here; its runs: {', '.join(runs)}")
        return name
    if len(runs) != 1:
        raise UserError(f"{where}: holds {len(runs)} runs ({', '.join(runs)}); name one with --run NAME")
    return runs[0]


def load_finished_run(path: str, name: Optional[str] = None) -> FinishedRun:
    """The run at `path` (a run folder or a run name); UserError when it is not one or its training never
    finished."""
    run_dir = find_run_dir(Path(path))
    where = display_path(run_dir)
    plan, submission = load_run(run_dir)
    run = choose_run(plan, where, name)
    jobs = plan.jobs_of(run)
    if "train" not in jobs:
        raise UserError(
            f"{where}: run {run}: has no train stage (submitted with --until before train); submit it to the end"
        )
    specs, output_dirs = {}, {}
    for stage, job in jobs.items():
        specs[stage] = load_spec(json.loads(Path(job.spec).read_text()), job.spec)
        output_dirs[stage] = Path(job.output_dir)
    marker = output_dirs["train"] / DONE
    if not jobs["train"].complete:
        raise UserError(
            f"{where}: run {run}: its training never finished (no {marker}); submit the run again to finish it "
            f"(python -m pipeline.status {where} says where it stopped)"
        )
    experiment = plan.experiment(run, f"{where}/plan.json")
    return FinishedRun(
        run,
        run_dir,
        experiment,
        specs,
        output_dirs,
        best_checkpoint(output_dirs["train"] / "train"),
        json.loads(marker.read_text()),
        submission,
    )
