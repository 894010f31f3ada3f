"""Experiment and cluster-profile configuration: YAML files → validated dataclasses.

An experiment file may say `extends: other.yaml` (a path relative to itself); keys are merged depth-first, the
extending file winning. `--set key.path=value` overrides come last (values parsed as YAML). Every problem is a
`UserError` naming the file that set the key, the key and what is allowed, e.g.
`config/phoenix.yaml: training.learning_rate: expected a number, got 'fast'`.

Defaults below are the original pipeline's best Phoenix settings (BLEU 10.69), so `config/phoenix.yaml` only
has to say where the data is.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional, Sequence

import yaml

from pipeline.errors import UserError
from pipeline.pose_types import POSE_TYPES, SOURCES, check_settings
from pipeline.stage_registry import DEFAULT_RESOURCES, STAGES, Resources  # noqa: F401 (re-exported)

PROJECT_ROOT = Path(__file__).resolve().parent.parent
CONFIG_DIR = PROJECT_ROOT / "config"
SPLITS = ("train", "validation", "test")
# layout manifest (pipeline/stages/corpus.py): what a column may hold, and the units of start/end
CORPUS_ROLES = ("media", "text", "id", "start", "end", "signer", "source_lang", "target_lang")
TIME_UNITS = ("seconds", "milliseconds", "frames")
DATASET_LAYOUTS = ("official", "videos", "sample", "annotations", "manifest", "how2sign")
CONTROLS = ("shuffle",)
RUNTIMES = ("venv", "apptainer", "singularity", "host")
EXECUTORS = ("local", "slurm")


@dataclass
class Dataset:
    name: str = "phoenix"
    layout: str = "official"  # official | videos | sample | annotations (corpus CSVs only: pre-estimated poses)
    root: str = ""  # the tree for that layout; relative paths are relative to the project
    url: Optional[str] = None  # layout annotations: an archive of the corpus CSVs, fetched into root if absent
    limit: Optional[int] = None  # at most this many examples per split (quick trials)
    sample_clips: Optional[list] = None  # layout sample: clips in [train, validation, test]; None = the default
    # any corpus (pipeline/stages/corpus.py). Unset, they stay out of the prepare key (older keys still match).
    splits: Optional[dict] = None  # layout manifest: split -> its TSV/CSV, relative to root
    columns: Optional[dict] = None  # layout manifest: role (media, text, id, start, end, ...) -> column name
    time_unit: Optional[str] = None  # layout manifest: start/end in seconds (default), milliseconds or frames
    fps: Optional[float] = None  # frame rate of frame folders (default 25)
    media: Optional[str] = None  # layout how2sign: clips (the sentence clips, default) or videos (raw + times)


@dataclass
class Estimate:
    estimator: str = "mediapipe"  # the pose type (pipeline/pose_types.py): one of the eight
    # where the poses come from: "estimate" (our own estimation job), "download" (the pose type's pre-estimated
    # archive, fetched once into data/downloads) or "folder" (a tree {train,dev|validation,test}/<id>.pose)
    source: str = "estimate"
    folder: str = ""  # source folder: the tree
    url: Optional[str] = None  # source download: the archive (default: the registry's for the pose type)
    sha256: Optional[str] = None  # source download: the archive's checksum (default: recorded on first download)
    settings: dict = field(default_factory=dict)  # estimator-specific, see pipeline/pose_types.py
    shards: int = 4  # array tasks
    # processes per array task, each loading the model once; "auto": from the task's CPUs (see stages/pose_workers.py)
    workers: Any = "auto"
    max_failure_fraction: float = 0.0


@dataclass
class Preprocess:
    encoder_prompt: str = "__dgs__"
    decoder_prompt: str = "__de__"
    max_missing_fraction: float = 0.0  # examples without a pose or text, per split, before the stage fails
    control: Optional[str] = None  # "shuffle": poses permuted across examples (a control that must not learn)
    pose_noise: float = 0.0  # > 0: Gaussian noise (pose units, pixels for MediaPipe) on every seen point


@dataclass
class Model:
    backbone_type: str = "m2m_100"
    pretrained_backbone: str = "facebook/m2m100_418M"
    tokenizer: Optional[str] = None  # default: the backbone
    max_frames: int = 300
    mapper_dropout: float = 0.1


@dataclass
class Training:
    learning_rate: float = 1e-5
    warmup_steps: int = 500
    label_smoothing_factor: float = 0.1
    gradient_accumulation_steps: int = 3
    batch_size: int = 8
    fp16: bool = True
    seed: int = 42
    dataloader_num_workers: int = 2
    early_stopping_patience: int = 10
    eval_steps: int = 128  # also save_steps and logging_steps
    max_steps: int = 500000
    save_total_limit: int = 10
    max_requeues: int = 5  # train/translate jobs requeue themselves on preemption or near the time limit
    torch_threads: Optional[int] = None  # torch's intra-op threads in training (None: torch's default, the CPUs)
    extra: dict = field(default_factory=dict)  # passed through to Seq2SeqTrainingArguments


@dataclass
class Translate:
    num_beams: int = 5
    batch_size: int = 8


@dataclass
class Evaluate:
    # BLEURT-20 through its PyTorch port (bleurt-pytorch), as the original pipeline scores; a hub id, a local
    # folder, `tiny-bleurt` (built offline: tests) or null (off). Unreachable: evaluate says so, BLEU/chrF still come.
    bleurt_checkpoint: Optional[str] = "lucadiliello/BLEURT-20"


@dataclass
class Experiment:
    name: str
    dataset: Dataset = field(default_factory=Dataset)
    estimate: Estimate = field(default_factory=Estimate)
    preprocess: Preprocess = field(default_factory=Preprocess)
    model: Model = field(default_factory=Model)
    training: Training = field(default_factory=Training)
    translate: Translate = field(default_factory=Translate)
    evaluate: Evaluate = field(default_factory=Evaluate)
    resources: dict = field(default_factory=dict)  # stage -> partial Resources, over the profile's
    replicate: int = 0  # repeatability sweeps: same config trained again as a separate model
    source: str = ""  # the file it came from (not part of any key)


@dataclass
class Gpu:
    gpus: Optional[str] = None  # --gpus=VALUE, e.g. "V100:1" or "1"
    gres: Optional[str] = None  # --gres=VALUE, e.g. "gpu:1"
    constraint: Optional[str] = None  # --constraint=VALUE, e.g. "GPUMEM32GB"
    partition: Optional[str] = None  # a GPU partition, if the cluster has one


@dataclass
class Profile:
    name: str
    executor: str = "local"
    runtime: str = "venv"
    partition: Optional[str] = None
    account: Optional[str] = None
    qos: Optional[str] = None
    gpu: Gpu = field(default_factory=Gpu)
    gpu_available: bool = False  # False: stages that would want a GPU run on the CPU (local machines)
    modules: list = field(default_factory=list)  # `module load X` lines
    setup: list = field(default_factory=list)  # extra shell lines before the stage command
    sbatch_extra: list = field(default_factory=list)  # extra `#SBATCH` options, e.g. "--mail-type=FAIL"
    image_dir: str = "images"  # apptainer/singularity .sif files
    venv_dir: str = ".venvs"  # venv runtime
    data_dir: str = "data"
    cache_dir: str = "data/cache"  # HF_HOME etc.; bound into containers
    offline: bool = False  # compute nodes without internet: HF_HUB_OFFLINE=1
    download_user_agent: Optional[str] = None  # None: pipeline.archives.USER_AGENT (a browser's; see there)
    download_attempts: int = 5  # pose/annotation archives: attempts on transient failures, inside the job
    download_retry_wait: float = 15.0  # seconds before the second attempt, doubled before each later one
    resources: dict = field(default_factory=dict)  # stage -> partial Resources
    source: str = ""


# ---------------------------------------------------------------- loading


def read_yaml(path: Path) -> dict:
    try:
        text = path.read_text()
    except FileNotFoundError:
        raise UserError(f"{path}: no such file") from None
    try:
        data = yaml.safe_load(text) or {}
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}: " if mark else ""
        raise UserError(f"{path}: {where}not valid YAML ({getattr(exc, 'problem', exc)})") from None
    if not isinstance(data, dict):
        raise UserError(f"{path}: expected a mapping of keys at the top, got {type(data).__name__}")
    return data


def _merge(base: dict, over: dict, sources: dict, src: str, prefix: str = "") -> dict:
    """Deep-merge `over` into a copy of `base`, recording which file set each leaf key."""
    out = dict(base)
    for key, value in over.items():
        path = f"{prefix}{key}"
        if isinstance(value, dict) and isinstance(out.get(key), dict) and value:
            out[key] = _merge(out[key], value, sources, src, path + ".")
        else:
            out[key] = value
            sources[path] = src
            for leaf in [k for k in sources if k.startswith(path + ".")]:
                sources[leaf] = src
    return out


def load_layers(path: Path, sources: dict, _seen: tuple = ()) -> dict:
    """A YAML file merged over whatever it `extends:` (recursively)."""
    path = Path(path)
    if path.resolve() in _seen:
        raise UserError(f"{path}: extends: cycle through {' -> '.join(str(p) for p in _seen)}")
    data = read_yaml(path)
    parent = data.pop("extends", None)
    merged: dict = {}
    if parent is not None:
        if not isinstance(parent, str):
            raise UserError(f"{path}: extends: expected a file path, got {parent!r}")
        merged = load_layers(path.parent / parent, sources, _seen + (path.resolve(),))
    return _merge(merged, data, sources, display_path(path))


def parse_override(text: str) -> tuple[str, Any]:
    if "=" not in text:
        raise UserError(f"--set {text}: expected key.path=value, e.g. training.seed=7")
    key, raw = text.split("=", 1)
    try:
        value = yaml.safe_load(raw) if raw != "" else ""
    except yaml.YAMLError:
        value = raw
    return key.strip(), value


def apply_overrides(data: dict, overrides: list[str], sources: dict) -> dict:
    for text in overrides:
        key, value = parse_override(text)
        nested: Any = value
        for part in reversed(key.split(".")):
            nested = {part: nested}
        data = _merge(data, nested, sources, f"--set {key}")
    return data


def display_path(path: Path) -> str:
    try:
        return str(Path(path).resolve().relative_to(PROJECT_ROOT))
    except ValueError:
        return str(path)


# ---------------------------------------------------------------- typed conversion


def _type_name(tp: Any) -> str:
    names = {
        int: "an integer",
        float: "a number",
        str: "a string",
        bool: "true or false",
        dict: "a mapping",
        list: "a list",
    }
    return names.get(tp, getattr(tp, "__name__", str(tp)))


def _coerce(value: Any, tp: Any, where: str) -> Any:
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        if value is None:
            return None
        return _coerce(value, args[0], where)
    if dataclasses.is_dataclass(tp):
        if not isinstance(value, dict):
            raise UserError(f"{where}: expected a mapping, got {value!r}")
        return None  # handled by the caller (needs the key path)
    if tp is bool:
        if isinstance(value, bool):
            return value
    elif tp is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
    elif tp is float:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
        if isinstance(value, str):  # YAML 1.1 reads 1e-5 (no dot) as a string
            try:
                return float(value)
            except ValueError:
                pass
    elif tp is str:
        if isinstance(value, (str, int, float)) and not isinstance(value, bool):
            return str(value)
    elif tp in (dict, list):
        if isinstance(value, tp):
            return value
    else:
        return value
    raise UserError(f"{where}: expected {_type_name(tp)}, got {value!r}")


def from_dict(cls: type, data: dict, sources: dict, prefix: str = "", fallback_src: str = "") -> Any:
    """Build dataclass `cls` from `data`, rejecting unknown keys and wrong types with file:key messages."""
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls)}
    kwargs: dict[str, Any] = {}
    for key, value in data.items():
        path = f"{prefix}{key}"
        src = sources.get(path) or fallback_src
        provenance = key == "source" and cls in (Experiment, Profile)  # set by the loader, not by files
        if key not in fields or provenance:
            allowed = ", ".join(k for k in fields if k != "source" or cls not in (Experiment, Profile))
            raise UserError(f"{src}: {path}: unknown key; allowed here: {allowed}")
        tp = hints[key]
        inner = [a for a in typing.get_args(tp) if a is not type(None)]
        if (
            typing.get_origin(tp) in (typing.Union, types.UnionType)
            and len(inner) == 1
            and dataclasses.is_dataclass(inner[0])
        ):
            if value is None:  # Optional[a dataclass]: None, or a mapping for it
                kwargs[key] = None
                continue
            tp = inner[0]
        if dataclasses.is_dataclass(tp):
            _coerce(value, tp, f"{src}: {path}")
            kwargs[key] = from_dict(typing.cast(type, tp), value, sources, path + ".", src)
        else:
            kwargs[key] = _coerce(value, tp, f"{src}: {path}")
    missing = [
        n
        for n, f in fields.items()
        if n not in kwargs and f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
    ]
    if missing:
        raise UserError(f"{fallback_src}: {prefix}{missing[0]}: required key is missing")
    return cls(**kwargs)


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


def _check_pose_source(est: Estimate, where) -> None:
    """The pose type exists and its source can deliver it."""
    _check_choice(est.estimator, list(POSE_TYPES), where("estimate.estimator"), "estimate.estimator")
    _check_choice(est.source, SOURCES, where("estimate.source"), "estimate.source")
    pose_type = POSE_TYPES[est.estimator]
    if est.source == "estimate" and not pose_type.image:
        raise UserError(
            f"{where('estimate.estimator')}: estimate.estimator: we cannot estimate {est.estimator} "
            f"here (no image); set estimate.source to download (its pre-estimated Phoenix poses) or "
            f"folder (poses you estimated elsewhere)"
        )
    if est.source == "folder" and not est.folder:
        raise UserError(
            f"{where('estimate.source')}: estimate.folder: required with source folder: a tree "
            f"{{train,dev|validation,test}}/<id>.pose"
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
    if ds.fps is not None and ds.fps <= 0:
        raise UserError(f"{where('dataset.fps')}: dataset.fps: expected a frame rate > 0, got {ds.fps}")


def experiment_from_dict(data: dict, sources: dict, src: str) -> Experiment:
    data = dict(data)
    data.setdefault("name", Path(src).stem)
    exp = from_dict(Experiment, data, sources, "", src)
    where = lambda key: sources.get(key, src)  # noqa: E731
    _check_choice(exp.dataset.layout, DATASET_LAYOUTS, where("dataset.layout"), "dataset.layout")
    _check_pose_source(exp.estimate, where)
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
    if exp.preprocess.pose_noise < 0:
        raise UserError(
            f"{where('preprocess.pose_noise')}: preprocess.pose_noise: expected a number >= 0 (pixels), "
            f"got {exp.preprocess.pose_noise}"
        )
    if exp.training.torch_threads is not None and exp.training.torch_threads < 1:
        raise UserError(
            f"{where('training.torch_threads')}: training.torch_threads: expected at least 1, got "
            f"{exp.training.torch_threads}"
        )
    for key, value in (
        ("estimate.shards", exp.estimate.shards),
        ("training.batch_size", exp.training.batch_size),
        ("translate.num_beams", exp.translate.num_beams),
    ):
        if value < 1:
            raise UserError(f"{where(key)}: {key}: expected at least 1, got {value}")
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
    prof.resources = parse_resources(data.get("resources") or {}, sources, "resources.", src)
    prof.source = src
    return prof


def stage_resources(stage: str, profile: Profile, experiment: Experiment, wants_gpu: bool) -> Resources:
    """Defaults, then the profile's, then the experiment's; GPU only where the profile has GPUs."""
    res = dataclasses.replace(DEFAULT_RESOURCES[stage])
    if stage == "estimate":
        res.gpu = wants_gpu
    for layer in (profile.resources.get(stage, {}), experiment.resources.get(stage, {})):
        res = dataclasses.replace(res, **layer)
    if not profile.gpu_available:
        res.gpu = False
    return res


def as_plain(obj: Any) -> Any:
    """Dataclasses → dicts (for hashing and for the JSON specs)."""
    return dataclasses.asdict(obj) if dataclasses.is_dataclass(obj) and not isinstance(obj, type) else obj


def stable_hash(obj: Any, length: int = 10) -> str:
    text = json.dumps(obj, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:length]


# dataset settings that joined after keys were first written: unset, they stay out of keys and hashes
# (config hashes from before dataset.url carry it even when unset; prepare keys do not)
CORPUS_DATASET_KEYS = ("splits", "columns", "time_unit", "fps", "media")


def dataset_identity(dataset: Dataset, optional: tuple = ("url", *CORPUS_DATASET_KEYS)) -> dict:
    """The dataset settings as hashed: those in `optional` only when set."""
    return {k: v for k, v in as_plain(dataset).items() if not (k in optional and v is None)}


def config_hash(experiment: Experiment) -> str:
    plain = as_plain(experiment)
    plain.pop("source", None)
    plain["dataset"] = dataset_identity(experiment.dataset, CORPUS_DATASET_KEYS)
    return stable_hash(plain, 12)
