"""Sweep files: a base experiment + a grid and/or a list of overrides (+ repeats) → many experiments.

    sweep:
      name: hyperparam_search
      base: ../phoenix.yaml            # relative to the sweep file
      grid:                            # every combination
        training.learning_rate: [5e-6, 1e-5, 2e-5]
        training.warmup_steps: [0, 500, 1000]
      runs:                            # optional: explicit points (combined with each grid point)
        - {training.seed: 1}
        - {training.fp16: false, name: "phoenix_{replicate}_fp32"}   # optional: the run's own name
      repeat: 3                        # optional: train each point N times as separate models (replicates)
      max_parallel: 4                  # optional: on SLURM, at most 4 train jobs of the sweep at once
      summary: {baseline: mediapipe}   # optional: the system pipeline.summarize tests the others against

Runs are named like the original pipeline's: `phoenix+learning_rate.1e-5+warmup_steps.500`, unless a point says
`name:` (a template; `{replicate}` is the replicate number, 1 without `repeat`). They share every
stage whose key is the same (the plan dedupes), so prepare/estimate/preprocess run once for a whole grid.
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional, Sequence

from pipeline.config import check_run_name, experiment_from_dict, load_experiment
from pipeline.errors import UserError
from pipeline.paths import display_path
from pipeline.schema import Experiment, number
from pipeline.yaml_layers import apply_overrides, from_dict, load_layers, read_yaml


@dataclass
class SweepSummary:
    baseline: Optional[str] = None  # the system the summary tests the others against (default: the first)


@dataclass
class SweepHeader:
    """The `sweep:` section of a sweep file (read with yaml_layers.from_dict, like experiments and profiles)."""

    base: str  # the experiment every run starts from, relative to the sweep file
    name: Optional[str] = None  # default: the file's name
    grid: dict = field(default_factory=dict)  # key.path: [values], every combination
    runs: list = field(default_factory=list)  # [{key.path: value, name: template}], each with every grid point
    repeat: int = number(1, ge=1)  # replicates of each point
    max_parallel: Optional[int] = number(None, ge=1)  # SLURM: at most this many train jobs at once
    summary: Optional[SweepSummary] = None


@dataclass
class Sweep:
    name: str
    experiments: list[Experiment]
    varied: list[str]  # the keys that vary across runs
    max_parallel: int | None = None  # SLURM: at most this many train jobs at once (None: no limit)
    baseline: str | None = None  # summary.baseline: the system the summary tests the others against


def is_sweep(path: str | Path) -> bool:
    return "sweep" in read_yaml(Path(path))


def format_value(value) -> str:
    if isinstance(value, float):
        return ("%g" % value).replace("e-0", "e-").replace("e+0", "e+")
    return str(value)


def name_part(value) -> str:
    """A value as it appears in a run name (and so in file names): URLs and paths lose their slashes."""
    return re.sub(r"[^A-Za-z0-9._-]+", "_", format_value(value)).strip("_")


def _points(spec: dict, src: str) -> list[dict]:
    grid = spec.get("grid") or {}
    if not isinstance(grid, dict):
        raise UserError(f"{src}: sweep.grid: expected a mapping of key.path: [values]")
    for key, values in grid.items():
        if not isinstance(values, list) or not values:
            raise UserError(f"{src}: sweep.grid.{key}: expected a non-empty list of values")
    combos = [dict(zip(grid, combo)) for combo in itertools.product(*grid.values())] or [{}]
    runs = spec.get("runs") or [{}]
    if not isinstance(runs, list) or not all(isinstance(r, dict) for r in runs):
        raise UserError(f"{src}: sweep.runs: expected a list of mappings key.path: value")
    return [{**combo, **run} for combo in combos for run in runs]


def sweep_section(path: Path) -> tuple[dict, SweepHeader]:
    """The file's `sweep:` section, as written and typed (without building its experiments)."""
    src = display_path(path)
    spec = read_yaml(path).get("sweep")
    if not isinstance(spec, dict) or "base" not in spec:
        raise UserError(f"{src}: sweep: expected a mapping with at least 'base: <experiment.yaml>'")
    return spec, from_dict(SweepHeader, spec, {}, "sweep.", src)  # unknown keys, types and bounds: one line each


def load_sweep(path: str | Path, overrides: Sequence[str] = ()) -> Sweep:
    path = Path(path)
    src = display_path(path)
    spec, header = sweep_section(path)
    max_parallel, repeat = header.max_parallel, header.repeat
    base_sources: dict = {}
    base = load_layers(path.parent / header.base, base_sources)
    base_name = base.get("name") or Path(header.base).stem
    points = _points(spec, src)
    experiments = []
    templates = [point.pop("name", None) for point in points]
    varied = sorted({k for p in points for k in p if len({format_value(q.get(k)) for q in points}) > 1})
    for point, template in zip(points, templates):
        for rep in range(1, repeat + 1):
            sources = dict(base_sources)
            sets = [f"{k}={format_value(v)}" for k, v in point.items()] + list(overrides)
            data = apply_overrides(dict(base), sets, sources)
            for key in point:
                sources[key] = src
            name = base_name + "".join(f"+{k.split('.')[-1]}.{name_part(point[k])}" for k in point if k in varied)
            if repeat > 1:
                name += f"+replicate.{rep}"
                data["replicate"] = rep
            if template is not None:
                try:
                    name = str(template).format(replicate=rep)
                except (KeyError, IndexError, ValueError) as exc:
                    raise UserError(
                        f"{src}: sweep.runs: name {template!r}: only {{replicate}} can be filled in ({exc})"
                    ) from None
            data["name"] = name
            experiments.append(experiment_from_dict(data, sources, src))
    if repeat > 1:
        varied.append("replicate")
    name = header.name or path.stem
    check_run_name(name, f"{src}: sweep.name")
    return Sweep(name, experiments, varied, max_parallel, header.summary.baseline if header.summary else None)


# The original pipeline's dry run (`dry_run="true"`): real data and backbone, tiny and on the CPU.
TRIAL_SUFFIX = ".trial"
TRIAL_OVERRIDES = [
    "dataset.limit=10",
    "estimate.shards=2",
    "training.max_steps=10",
    "training.eval_steps=5",
    "training.batch_size=1",
    "training.gradient_accumulation_steps=1",
    "training.warmup_steps=0",
    "training.fp16=false",
    "training.dataloader_num_workers=0",
    "translate.batch_size=1",
    "evaluate.bleurt_checkpoint=lucadiliello/bleurt-tiny-128",  # the original's dry run scores with bleurt-tiny
    "resources.estimate={time: '01:00:00', mem: 8G}",
    "resources.preprocess={time: '00:30:00', mem: 8G}",
    "resources.train={gpu: false, time: '01:00:00', cpus: 2, mem: 16G}",
    "resources.translate={gpu: false, time: '00:30:00', cpus: 2, mem: 16G}",
    "resources.evaluate={time: '00:30:00', mem: 8G}",
]


def load_experiments(path: str, overrides: list[str]) -> tuple[str, list[Experiment], list[str]]:
    """(run name, experiments, varied keys) from an experiment or sweep file."""
    if not Path(path).exists():
        raise UserError(f"{path}: no such file (experiments live in config/, sweeps in config/sweeps/)")
    if is_sweep(path):
        sweep = load_sweep(path, overrides)
        return sweep.name, sweep.experiments, sweep.varied
    exp = load_experiment(path, overrides)
    return exp.name, [exp], []


def sweep_baseline(path: str) -> str | None:
    """The sweep's summary.baseline (None for an experiment or a sweep without one)."""
    if not is_sweep(path):
        return None
    summary = sweep_section(Path(path))[1].summary
    return summary.baseline if summary else None


def sweep_max_parallel(path: str, given: int | None) -> int | None:
    """--max-parallel, else the sweep's max_parallel, else no limit."""
    if given is not None:
        if given < 1:
            raise UserError(f"--max-parallel {given}: expected a whole number >= 1")
        return given
    return sweep_section(Path(path))[1].max_parallel if is_sweep(path) else None
