"""The stage registry: one table saying what each stage is. Config, plan, compose, the SLURM executor and summarize
read it; adding a stage starts here (docs/development.md, "Adding a stage").

Per stage: its order (the table's), the module its jobs run (`python -m pipeline.stages.<module>`), which image
runs it (the pose type's estimator image, or the trainer's), its default resources, whether it is an array job,
whether its jobs requeue themselves (long GPU jobs: checkpoint on USR1/TERM, `scontrol requeue`), and whether
`--max-parallel` throttles it (the jobs a sweep multiplies).
"""

from __future__ import annotations

from dataclasses import dataclass

from pipeline.schema import number


@dataclass
class Resources:
    time: str = "01:00:00"
    cpus: int = number(1, ge=1)
    mem: str = "4G"
    gpu: bool = False


@dataclass(frozen=True)
class Stage:
    name: str
    module: str  # pipeline.stages.<module>
    spec: str  # the class in pipeline/stages/specs.py that its jobs read
    image: str  # "estimator" (the pose type's; the trainer's for pre-estimated poses) or "trainer"
    resources: Resources  # defaults; profiles and experiments override (config.stage_resources)
    array: bool = False  # one array task per shard
    requeues: bool = False  # requeues itself on preemption or near its time limit, resuming from a checkpoint
    throttled: bool = False  # --max-parallel: at most N such jobs of a sweep at once (lanes of afterany)
    gpu_from_pose_type: bool = False  # wants a GPU where the pose type's estimator does (pose_types.wants_gpu)


# The original pipeline's requests: preprocess (with pose estimation) 24h/8 cpu/16G, train 24h/GPU/32G,
# translate 12h/GPU/16G, evaluate 1h. Estimation here is one array task per shard, so each task asks for less;
# its GPU comes from the pose-type registry.
STAGE_TABLE = (
    Stage("prepare", "prepare", "PrepareSpec", "estimator", Resources(time="01:00:00", cpus=1, mem="4G")),
    Stage(
        "estimate",
        "estimate",
        "EstimateSpec",
        "estimator",
        Resources(time="24:00:00", cpus=4, mem="16G"),
        array=True,
        gpu_from_pose_type=True,
    ),
    Stage("preprocess", "preprocess", "PreprocessSpec", "trainer", Resources(time="04:00:00", cpus=2, mem="16G")),
    Stage(
        "train",
        "train",
        "TrainSpec",
        "trainer",
        Resources(time="24:00:00", cpus=4, mem="32G", gpu=True),
        requeues=True,
        throttled=True,
    ),
    Stage(
        "translate",
        "translate",
        "TranslateSpec",
        "trainer",
        Resources(time="12:00:00", cpus=2, mem="16G", gpu=True),
        requeues=True,
    ),
    Stage("evaluate", "evaluate", "EvaluateSpec", "trainer", Resources(time="01:00:00", cpus=1, mem="4G")),
)
STAGES = tuple(s.name for s in STAGE_TABLE)
STAGE = {s.name: s for s in STAGE_TABLE}
DEFAULT_RESOURCES = {s.name: s.resources for s in STAGE_TABLE}
