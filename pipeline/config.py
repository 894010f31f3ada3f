"""Experiment and cluster-profile files → validated dataclasses (pipeline/schema.py), layered by
pipeline/yaml_layers.py; the checks that span keys (pose source, corpus layout, resources), and each stage's
resources from defaults, profile and experiment.

Every problem is a `UserError` naming the file that set the key, the key and what is allowed. A profile's folders
(`data_dir`, `cache_dir`, `image_dir`, `venv_dir`) come back absolute: resolved once, here.
"""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path
from typing import Sequence

from pipeline.errors import UserError
from pipeline.gpu_fit import FAMILIES
from pipeline.paths import CONFIG_DIR, display_path, project_path
from pipeline.pose_types import POSE_TYPES, SOURCES, check_settings
from pipeline.schema import (
    CONTROLS,
    CORPUS_ROLES,
    DATASET_LAYOUTS,
    DISTRIBUTED,
    EFFECTIVE_BATCH,
    EXECUTORS,
    GPU_REQUESTS,
    RUNTIMES,
    SPLITS,
    TIME_UNITS,
    Dataset,
    Estimate,
    Experiment,
    Profile,
)
from pipeline.stage_registry import DEFAULT_RESOURCES, STAGE, STAGES, Resources
from pipeline.yaml_layers import apply_overrides, from_dict, load_layers

PROFILE_FOLDERS = ("data_dir", "cache_dir", "image_dir", "venv_dir")


def _check_choice(value: str, allowed: tuple | list, src: str, key: str) -> None:
    if value not in allowed:
        raise UserError(f"{src}: {key}: unknown value {value!r}; allowed: {', '.join(allowed)}")


def parse_resources(raw: dict, sources: dict, prefix: str, src: str) -> dict[str, dict]:
    """Validate a `resources:` mapping (stage -> partial Resources) and return it as plain dicts."""
    out = {}
    for stage, partial in raw.items():
        where = sources.get(f"{prefix}{stage}", src)
        _check_choice(stage, STAGES, where, f"{prefix}{stage}")
        res = from_dict(Resources, partial or {}, sources, f"{prefix}{stage}.", where)
        out[stage] = {k: getattr(res, k) for k in (partial or {})}
    return out


OPENPOSE_FOLDER = "one folder of OpenPose *_keypoints.json per example, named like its media, anywhere below it"


RUN_NAME = re.compile(r"[A-Za-z0-9._+-]+")


def check_run_name(name: object, where: str) -> None:
    """A run's (or sweep's) name is one folder name under jobs/ and in every stage key's label: letters, digits,
    '.', '_', '-' and '+' (sweep runs join their varied keys with it), never '.' or '..'."""
    if not isinstance(name, str) or not RUN_NAME.fullmatch(name) or name in (".", ".."):
        raise UserError(
            f"{where}: {name!r} is not a run name: use letters, digits, '.', '_', '-' and '+' only "
            f"(it names the folder jobs/<name>)"
        )


def _check_pose_source(est: Estimate, layout: str, where) -> None:
    """The pose type exists and its source can deliver it."""
    _check_choice(est.estimator, list(POSE_TYPES), where("estimate.estimator"), "estimate.estimator")
    _check_choice(est.source, SOURCES, where("estimate.source"), "estimate.source")
    pose_type = POSE_TYPES[est.estimator]
    # a manifest may give .pose media of any type: the plan reads it and says so if one must be estimated
    if est.source == "estimate" and not pose_type.image and layout != "manifest":
        raise UserError(
            f"{where('estimate.estimator')}: estimate.estimator: we cannot estimate {est.estimator} "
            f"here (no image); set estimate.source to download (its pre-estimated Phoenix poses) or "
            f"folder (poses you estimated elsewhere), or give .pose files as the media of a manifest"
        )
    if est.source in ("folder", "openpose_json") and not est.folder:
        what = "a tree {train,dev|validation,test}/<id>.pose" if est.source == "folder" else OPENPOSE_FOLDER
        raise UserError(f"{where('estimate.source')}: estimate.folder: required with source {est.source}: {what}")
    if est.source == "openpose_json" and est.estimator != "openpose":
        raise UserError(
            f"{where('estimate.estimator')}: estimate.estimator: source openpose_json makes poses of the openpose "
            f"type (pose-format's OpenPose header), not {est.estimator}; set estimate.estimator: openpose"
        )
    if est.source == "openpose_json" and layout not in ("manifest", "how2sign"):
        raise UserError(
            f"{where('estimate.source')}: estimate.source: openpose_json finds each example's keypoint folder by "
            f"its media's name: use dataset.layout manifest or how2sign, not {layout}"
        )
    if est.source == "download" and not (est.url or pose_type.download_url):
        raise UserError(
            f"{where('estimate.source')}: estimate.url: {est.estimator} has no known download; give the archive's URL"
        )


def _check_corpus(ds: Dataset, where) -> None:
    """The settings of the manifest and how2sign layouts (pipeline/stages/corpus.py)."""

    if ds.layout == "manifest":
        missing = [s for s in SPLITS if s not in (ds.splits or {})]
        if missing:
            raise UserError(
                f"{where('dataset.splits')}: dataset.splits: layout manifest needs one file per split "
                f"({', '.join(SPLITS)}); missing {', '.join(missing)}, e.g. "
                f"{{train: train.tsv, validation: dev.tsv, test: test.tsv}}"
            )
        unknown = [s for s in ds.splits or {} if s not in SPLITS]
        if unknown:
            raise UserError(
                f"{where('dataset.splits')}: dataset.splits.{unknown[0]}: unknown split; allowed: {', '.join(SPLITS)}"
            )
    for role in ds.columns or {}:
        _check_choice(role, CORPUS_ROLES, where(f"dataset.columns.{role}"), f"dataset.columns.{role} (a role)")
    if ds.time_unit is not None:
        _check_choice(ds.time_unit, TIME_UNITS, where("dataset.time_unit"), "dataset.time_unit")
    if ds.media is not None:
        _check_choice(ds.media, ("clips", "videos"), where("dataset.media"), "dataset.media")


def experiment_from_dict(data: dict, sources: dict, src: str) -> Experiment:
    data = dict(data)
    data.setdefault("name", Path(src).stem)
    exp = from_dict(Experiment, data, sources, "", src)
    where = lambda key: sources.get(key, src)  # noqa: E731
    check_run_name(exp.name, f"{where('name')}: name")
    _check_choice(exp.dataset.layout, DATASET_LAYOUTS, where("dataset.layout"), "dataset.layout")
    _check_pose_source(exp.estimate, exp.dataset.layout, where)
    unknown = check_settings(exp.estimate.estimator, exp.estimate.settings)
    if unknown:
        allowed = ", ".join(POSE_TYPES[exp.estimate.estimator].settings) or "none"
        raise UserError(
            f"{where('estimate.settings')}: estimate.settings.{unknown[0]}: unknown setting for "
            f"{exp.estimate.estimator}; allowed: {allowed}"
        )
    workers = exp.estimate.workers
    if workers != "auto" and (not isinstance(workers, int) or isinstance(workers, bool) or workers < 1):
        raise UserError(
            f"{where('estimate.workers')}: estimate.workers: expected a whole number >= 1 or 'auto', got {workers!r}"
        )
    _check_choice(exp.training.distributed, DISTRIBUTED, where("training.distributed"), "training.distributed")
    _check_choice(
        exp.training.effective_batch, EFFECTIVE_BATCH, where("training.effective_batch"), "training.effective_batch"
    )
    if exp.preprocess.control is not None:
        _check_choice(exp.preprocess.control, CONTROLS, where("preprocess.control"), "preprocess.control")
    clips = exp.dataset.sample_clips
    if clips is not None and (len(clips) != 3 or not all(isinstance(c, int) and c >= 1 for c in clips)):
        raise UserError(
            f"{where('dataset.sample_clips')}: dataset.sample_clips: expected three counts "
            f"[train, validation, test], each at least 1, got {clips!r}"
        )
    _check_corpus(exp.dataset, where)
    if exp.dataset.layout == "annotations" and exp.estimate.source == "estimate":
        raise UserError(
            f"{where('dataset.layout')}: dataset.layout: annotations has texts but no frames or "
            f"videos to estimate poses from; set estimate.source to download or folder"
        )
    if not exp.dataset.root and exp.dataset.layout != "sample":
        raise UserError(
            f"{where('dataset')}: dataset.root: required for layout {exp.dataset.layout!r}; "
            f"e.g. --set dataset.root=/data/PHOENIX-2014-T-release-v3/PHOENIX-2014-T"
        )
    exp.resources = parse_resources(data.get("resources") or {}, sources, "resources.", src)
    exp.source = src
    return exp


def load_experiment(path: str | Path, overrides: Sequence[str] = ()) -> Experiment:
    sources: dict = {}
    data = load_layers(Path(path), sources)
    data = apply_overrides(data, list(overrides), sources)
    if "sweep" in data:
        raise UserError(f"{display_path(Path(path))}: this is a sweep file; use pipeline.sweep.load_sweep")
    return experiment_from_dict(data, sources, display_path(Path(path)))


def profile_path(name_or_path: str) -> Path:
    candidate = Path(name_or_path)
    if candidate.suffix in (".yaml", ".yml") or candidate.exists():
        return candidate
    named = CONFIG_DIR / "clusters" / f"{name_or_path}.yaml"
    if not named.exists():
        known = ", ".join(sorted(p.stem for p in (CONFIG_DIR / "clusters").glob("*.yaml")))
        raise UserError(
            f"--profile {name_or_path}: unknown cluster profile; known: {known} (or give a path to a YAML file)"
        )
    return named


def load_profile(name_or_path: str, overrides: Sequence[str] = ()) -> Profile:
    path = profile_path(name_or_path)
    sources: dict = {}
    data = load_layers(path, sources)
    data = apply_overrides(data, list(overrides), sources)
    data.setdefault("name", path.stem)
    src = display_path(path)
    prof = from_dict(Profile, data, sources, "", src)
    _check_choice(prof.executor, EXECUTORS, sources.get("executor", src), "executor")
    _check_choice(prof.runtime, RUNTIMES, sources.get("runtime", src), "runtime")
    if prof.gpu.family is not None:
        _check_choice(prof.gpu.family, list(FAMILIES), sources.get("gpu.family", src), "gpu.family")
    if prof.gpu.per_node is not None:
        _check_choice(prof.gpu.per_node, GPU_REQUESTS, sources.get("gpu.per_node", src), "gpu.per_node")
        both = next((key for key in ("gpus", "gres") if getattr(prof.gpu, key)), None)
        if both:
            raise UserError(
                f"{sources.get(f'gpu.{both}', src)}: gpu.{both}: the profile asks for GPUs per node (gpu.per_node: "
                f"{prof.gpu.per_node}); give gpu.per_node and gpu.model, or gpu.{both} alone (one GPU a job)"
            )
    prof.resources = parse_resources(data.get("resources") or {}, sources, "resources.", src)
    for name in PROFILE_FOLDERS:
        setattr(prof, name, str(project_path(getattr(prof, name))))
    prof.source = src
    prof.sources = sources
    return prof


def add_profile_set(parser, example: str) -> None:
    """The `--profile-set KEY=VALUE` option (repeatable) of every command that loads a profile; `example` is one
    KEY=VALUE for its help."""
    parser.add_argument(
        "--profile-set",
        dest="profile_overrides",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help=f"override a profile key, e.g. --profile-set {example}",
    )


def stage_resources(stage: str, profile: Profile, experiment: Experiment, wants_gpu: bool) -> Resources:
    """Defaults, then the profile's, then the experiment's; GPU only where the profile has GPUs."""
    res = dataclasses.replace(DEFAULT_RESOURCES[stage])
    if STAGE[stage].gpu_from_pose_type:
        res.gpu = wants_gpu
    for layer in (profile.resources.get(stage, {}), experiment.resources.get(stage, {})):
        res = dataclasses.replace(res, **layer)
    if not profile.gpu_available:
        res.gpu = False
    return res
