"""The configuration's shape: every key of an experiment and of a cluster profile, with its type and default, as
dataclasses, and the allowed values of the keys that take one of a list. pipeline/config.py loads files into them;
docs/configuration.md lists them.

Defaults below are the original pipeline's best Phoenix settings (BLEU 10.69), so `config/phoenix.yaml` only
has to say where the data is.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Optional


def number(
    default: Any,
    *,
    ge: Optional[float] = None,
    gt: Optional[float] = None,
    le: Optional[float] = None,
    lt: Optional[float] = None,
) -> Any:
    """A numeric key and its bounds, checked where the schema is read (yaml_layers.from_dict): one line naming the
    file, the key, the bound and the value. Every int and float key of the schema is one of these."""
    bounds = {k: v for k, v in (("ge", ge), ("gt", gt), ("le", le), ("lt", lt)) if v is not None}
    return field(default=default, metadata={"bounds": bounds})


SPLITS = ("train", "validation", "test")
# layout manifest (pipeline/stages/corpus.py): what a column may hold, and the units of start/end
CORPUS_ROLES = ("media", "text", "id", "start", "end", "signer", "source_lang", "target_lang")
TIME_UNITS = ("seconds", "milliseconds", "frames")
DATASET_LAYOUTS = ("official", "videos", "sample", "annotations", "manifest", "how2sign")
CONTROLS = ("shuffle",)
RUNTIMES = ("venv", "apptainer", "singularity", "host")
EXECUTORS = ("local", "slurm")
DISTRIBUTED = ("ddp", "fsdp")  # training.distributed (pipeline/distributed.py)
EFFECTIVE_BATCH = ("keep", "grow")  # training.effective_batch
GPU_REQUESTS = ("gpus-per-node", "gres")  # gpu.per_node: --gpus-per-node=[MODEL:]N or --gres=gpu:[MODEL:]N


@dataclass
class Dataset:
    name: str = "phoenix"
    layout: str = "official"  # one of DATASET_LAYOUTS (pipeline/stages/datasets.py reads each)
    root: str = ""  # the tree for that layout; relative paths are relative to the project
    url: Optional[str] = None  # layout annotations: an archive of the corpus CSVs, fetched into root if absent
    limit: Optional[int] = number(None, ge=1)  # at most this many examples per split (quick trials)
    sample_clips: Optional[list] = None  # layout sample: clips in [train, validation, test]; None = the default
    # any corpus (pipeline/stages/corpus.py). Unset, they stay out of the prepare key (older keys still match).
    splits: Optional[dict] = None  # layout manifest: split -> its TSV/CSV, relative to root
    columns: Optional[dict] = None  # layout manifest: role (media, text, id, start, end, ...) -> column name
    time_unit: Optional[str] = None  # layout manifest: start/end in seconds (default), milliseconds or frames
    fps: Optional[float] = number(None, gt=0)  # frame rate of frame folders (default 25)
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
    shards: int = number(4, ge=1)  # array tasks
    # processes per array task, each loading the model once; "auto": from the task's CPUs (see stages/pose_workers.py)
    workers: Any = "auto"
    max_failure_fraction: float = number(0.0, ge=0, le=1)


@dataclass
class Preprocess:
    encoder_prompt: str = "__dgs__"
    decoder_prompt: str = "__de__"
    max_missing_fraction: float = number(
        0.0, ge=0, le=1
    )  # examples without a pose or text, per split, before the stage fails
    control: Optional[str] = None  # "shuffle": poses permuted across examples (a control that must not learn)
    pose_noise: float = number(0.0, ge=0)  # > 0: Gaussian noise (pose units, pixels for MediaPipe) on every seen point


@dataclass
class Model:
    backbone_type: str = "m2m_100"
    pretrained_backbone: str = "facebook/m2m100_418M"
    tokenizer: Optional[str] = None  # default: the backbone
    max_frames: int = number(300, ge=1)
    mapper_dropout: float = number(0.1, ge=0, lt=1)


@dataclass
class Training:
    learning_rate: float = number(1e-5, gt=0)
    warmup_steps: int = number(500, ge=0)
    label_smoothing_factor: float = number(0.1, ge=0, lt=1)
    gradient_accumulation_steps: int = number(3, ge=1)
    batch_size: int = number(8, ge=1)
    fp16: bool = True
    seed: int = number(42, ge=0)
    dataloader_num_workers: int = number(2, ge=0)
    early_stopping_patience: int = number(10, ge=1)
    eval_steps: int = number(128, ge=1)  # also save_steps and logging_steps
    max_steps: int = number(500000, ge=1)
    save_total_limit: int = number(10, ge=1)
    max_requeues: int = number(5, ge=0)  # train/translate jobs requeue themselves on preemption or near the time limit
    # torch's intra-op threads in training (None: torch's default, the CPUs)
    torch_threads: Optional[int] = number(None, ge=1)
    # several processes (pipeline/distributed.py): torchrun's nproc_per_node (GPUs per node; CPU processes with gloo
    # where the job has no GPU) on `nodes` nodes; at their defaults they stay out of keys and hashes
    nproc_per_node: int = number(1, ge=1)
    nodes: int = number(1, ge=1)
    distributed: str = "ddp"  # ddp | fsdp (shards the model; GPUs only)
    # keep: batch_size × gradient_accumulation_steps is the effective batch on any number of processes (one of them
    # divided by the process count); grow: both per process, the effective batch grows with the processes
    effective_batch: str = "keep"
    extra: dict = field(default_factory=dict)  # passed through to Seq2SeqTrainingArguments


@dataclass
class Translate:
    num_beams: int = number(5, ge=1)
    batch_size: int = number(8, ge=1)


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
    replicate: int = number(0, ge=0)  # repeatability sweeps: same config trained again as a separate model
    source: str = field(default="", metadata={"set_by_loader": True})  # the file it came from (in no key)


@dataclass
class Gpu:
    # how the site asks for a job's GPUs on each node: gpus-per-node (--gpus-per-node=[MODEL:]N) or gres
    # (--gres=gpu:[MODEL:]N), N from the job (train: training.nproc_per_node, others 1); needed for several GPUs
    per_node: Optional[str] = None
    model: Optional[str] = None  # the GPU model in those requests, e.g. "A100" (also tells submit its family)
    gpus: Optional[str] = None  # instead of per_node, one GPU a job: --gpus=VALUE, e.g. "A100:1" or "1"
    gres: Optional[str] = None  # instead of per_node, one GPU a job: --gres=VALUE, e.g. "gpu:1"
    constraint: Optional[str] = None  # --constraint=VALUE, e.g. "GPUMEM32GB"
    partition: Optional[str] = None  # a GPU partition, if the cluster has one
    # which GPUs the jobs get: volta, turing, ampere, ... (pipeline/gpu_fit.py); unset: a model named above
    family: Optional[str] = None


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
    download_attempts: int = number(5, ge=1)  # pose/annotation archives: attempts on transient failures, inside the job
    download_retry_wait: float = number(15.0, ge=0)  # seconds before the second attempt, doubled before each later one
    resources: dict = field(default_factory=dict)  # stage -> partial Resources
    source: str = field(default="", metadata={"set_by_loader": True})  # the file it came from
    # key -> the file (or --set) that set it, for messages about one key
    sources: dict = field(default_factory=dict, metadata={"set_by_loader": True})
