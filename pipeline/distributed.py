"""Training on several processes and nodes: the batch arithmetic, the checks that need the profile, and the lines of a
train job that runs `multimodalhugs-setup` once and then torchrun once per node.

Keys (pipeline/schema.py, `Training`): `nproc_per_node` (torchrun's name: processes per node, one per GPU; where the
job has no GPU, that many CPU processes with the gloo backend: CI and laptops), `nodes`, `distributed` (ddp | fsdp)
and `effective_batch` (keep | grow). At their defaults (one process) the job is what it always was: no torchrun.

Batch semantics. `batch_size` is per device. With `effective_batch: keep` (the default) the effective batch,
batch_size × gradient_accumulation_steps × processes, stays batch_size × gradient_accumulation_steps, so that an
experiment means the same on 1 or 8 GPUs: the process count is taken out of the gradient accumulation as far as it
divides it, and the rest out of the per-device batch (`split_batch`: How2Sign's 8 × 3 on 4 GPUs runs 2 × 3 × 4; the
demo's 16 × 1 on 2 processes 8 × 1 × 2). Where that is impossible, submit stops in one line naming the numbers and
`effective_batch: grow`, which keeps batch_size and gradient_accumulation_steps per process: the effective batch is
then × processes.

FSDP (`distributed: fsdp`) goes through HF Trainer's own `fsdp` / `fsdp_config` arguments in the MultimodalHugs
config (pipeline/stages/mmh_config.py), not `accelerate launch` with an FSDP config file as MultimodalHugs'
examples/fsdp do: the Trainer builds the same accelerate FSDP plugin from those arguments, so the sharding is the
same (full shard, the backbone's encoder and decoder layers wrapped, `FSDP_LAYERS`, as their fsdp_m2m100.yaml),
while DDP and FSDP keep one launcher: the same job script, rendezvous, signal handling and rank-0 logging, and one
config file per run.
FSDP needs GPUs in the installed accelerate: refused in one line where the train job has none.

The job (`launch_command`, composed by pipeline/compose.py): `--nodes`, `--ntasks-per-node=1`, the GPUs of each node
(`gpu.per_node`), `--cpus-per-task` = resources.train.cpus × nproc_per_node. The batch shell runs the stage's setup
part once (`--setup-only`: config and multimodalhugs-setup, on the first node), then torchrun once per node with
`srun` (by bash itself under the local executor, which runs one node), inside the image. Only global rank 0 writes
log lines, markers and outputs (torchrun's `--local-ranks-filter 0`; pipeline/stages/ranks.py).

Signals (pipeline/stages/torchrun.py, pipeline/stages/mmh_patches.py): torchrun handles USR1 too
(`--signals-to-handle`: by default only TERM, INT, HUP and QUIT, and USR1 would kill it and leave its workers
running), passes it to its workers and waits `SHUTDOWN_TIMEOUT` s for them to save (its default 30 s is too short for
a step, a checkpoint and MultimodalHugs' saves after training); the ranks reduce their stop flags at every step, so
they stop at the same step and save one checkpoint; the requeued job resumes at the next step.
"""

from __future__ import annotations

from pipeline.errors import UserError
from pipeline.runtime import Expanded
from pipeline.schema import Experiment, Profile, Training

# seconds torchrun gives its workers after passing a signal on: inside SLURM's warning (`--signal=B:USR1@90`),
# leaving the batch shell 10 s to requeue the job
SHUTDOWN_TIMEOUT = 80
# torchrun's defaults and USR1, SLURM's warning before the time limit
SIGNALS_TO_HANDLE = "SIGTERM,SIGINT,SIGHUP,SIGQUIT,SIGUSR1"
# the repeating layers FSDP wraps (shards) per backbone type: MultimodalHugs' examples/fsdp
FSDP_LAYERS = {"m2m_100": ["M2M100EncoderLayer", "M2M100DecoderLayer"], "t5": ["T5Block"]}


def processes(training: Training) -> int:
    return training.nproc_per_node * training.nodes


def split_batch(batch: int, accumulation: int, count: int) -> tuple[int, int] | None:
    """(per-device batch, gradient accumulation) that keep batch × accumulation over `count` processes: as much of
    the count as divides the accumulation comes out of it, the rest out of the batch; None where nothing fits."""
    for part in sorted((d for d in range(1, count + 1) if count % d == 0), reverse=True):
        if accumulation % part == 0 and batch % (count // part) == 0:
            return batch // (count // part), accumulation // part
    return None


def plan_launch(exp: Experiment, profile: Profile, use_gpu: bool) -> dict:
    """The train spec's `launch` values: the process layout and the per-device batch. Refuses, in one line each, what
    cannot run: several nodes on the local executor, FSDP without GPUs, an effective batch the processes cannot
    share, several GPUs from a profile that asks for GPUs per job."""
    train, src = exp.training, exp.source
    count = processes(train)
    if train.nodes > 1 and profile.executor == "local":
        raise UserError(
            f"{src}: training.nodes: {train.nodes} nodes need a SLURM cluster, but the {profile.name} profile runs "
            f"every job on this machine (executor local); set training.nodes: 1 (training.nproc_per_node processes "
            f"here), or give a cluster profile: --profile <site>"
        )
    if train.distributed == "fsdp":
        if not use_gpu:
            raise UserError(
                f"{src}: training.distributed: fsdp shards the model over GPUs, but the train job gets none here "
                f"(profile {profile.name}: gpu_available: {str(profile.gpu_available).lower()}) and FSDP needs devices "
                f"in the installed accelerate; use ddp (CPU processes with gloo) or a profile with GPUs"
            )
        if exp.model.backbone_type not in FSDP_LAYERS and "fsdp_config" not in train.extra:
            raise UserError(
                f"{src}: training.distributed: fsdp wraps the backbone's repeating layers, known for "
                f"{', '.join(FSDP_LAYERS)}, not {exp.model.backbone_type}; give them in "
                f"training.extra.fsdp_config.transformer_layer_cls_to_wrap"
            )
    batch, accumulation = train.batch_size, train.gradient_accumulation_steps
    if train.effective_batch == "keep" and count > 1:
        split = split_batch(batch, accumulation, count)
        if split is None:
            raise UserError(
                f"{src}: training.batch_size: the effective batch {batch} × {accumulation} (batch_size × "
                f"gradient_accumulation_steps) = {batch * accumulation} cannot be kept on {count} processes "
                f"({train.nodes} node(s) × {train.nproc_per_node}): {count} does not divide it into a per-device "
                f"batch and an accumulation; set training.effective_batch: grow ({batch} × {accumulation} × {count} = "
                f"{batch * accumulation * count}), or a batch_size or gradient_accumulation_steps that {count} divides"
            )
        batch, accumulation = split
    if use_gpu and count > 1 and not profile.gpu.per_node:
        key = "gpu.gres" if profile.gpu.gres and not profile.gpu.gpus else "gpu.gpus"
        where = profile.sources.get(key, profile.source or profile.name)
        raise UserError(
            f"{where}: gpu.per_node: training on {train.nodes} node(s) × {train.nproc_per_node} GPUs asks for GPUs "
            f"on each node, and this profile asks for one GPU a job ({key}); set gpu.per_node: gpus-per-node (or "
            f"gres) and gpu.model (e.g. A100) instead of {key}"
        )
    return {
        "nodes": train.nodes,
        "nproc_per_node": train.nproc_per_node,
        "distributed": train.distributed,
        "backend": "nccl" if use_gpu else "gloo",
        "batch_size": batch,
        "gradient_accumulation_steps": accumulation,
    }


def describe(launch) -> str:
    """`8 (2 × 4, ddp)` or `1`: a train job's processes, for the plan table."""
    count = launch.processes
    return str(count) if count == 1 else f"{count} ({launch.nodes} × {launch.nproc_per_node}, {launch.distributed})"


def describe_batch(launch) -> str:
    """`24 (2 × 3 × 4)`: effective batch (per-device batch × accumulation × processes)."""
    count = launch.processes
    total = launch.batch_size * launch.gradient_accumulation_steps * count
    return f"{total} ({launch.batch_size} × {launch.gradient_accumulation_steps} × {count})"


def torchrun_argv(launch, spec_path: str) -> list[str]:
    """torchrun (our pipeline.stages.torchrun: torch's, its signal handler acting once) on one node, its workers
    running the train stage. `"$rdzv_endpoint"` and `"${SLURM_JOB_ID:-local}"` are the job shell's (Expanded)."""
    return [
        "python",
        "-m",
        "pipeline.stages.torchrun",
        "--nnodes",
        str(launch.nodes),
        "--nproc-per-node",
        str(launch.nproc_per_node),
        "--rdzv-backend",
        "c10d",
        "--rdzv-endpoint",
        Expanded('"$rdzv_endpoint"'),
        "--rdzv-id",
        Expanded('"${SLURM_JOB_ID:-local}"'),
        "--signals-to-handle",
        SIGNALS_TO_HANDLE,
        "--shutdown-timeout",
        str(SHUTDOWN_TIMEOUT),
        "--local-ranks-filter",
        "0",
        "-m",
        "pipeline.stages.train",
        "--spec",
        spec_path,
    ]


def launch_command(torchrun_line: str, nodes: int) -> str:
    """The shell lines that run `torchrun_line` (already wrapped for the runtime) once per node: the rendezvous
    endpoint, then srun under SLURM, bash itself under the local executor (one node)."""
    if nodes == 1:
        rendezvous = ["rdzv_endpoint=localhost:0   # torchrun's rendezvous on this node, at a free port"]
    else:
        rendezvous = [
            "# torchrun's rendezvous: the job's first node (this one), a port from the job id (jobs sharing it differ)",
            'hosts=$(scontrol show hostnames "$SLURM_JOB_NODELIST")',
            "first=${hosts%%$'\\n'*}",
            'rdzv_endpoint="$first:$((20000 + SLURM_JOB_ID % 20000))"',
        ]
    srun = [
        "# once per node: srun under SLURM, one task a node with the job's CPUs (srun does not inherit",
        "# --cpus-per-task since SLURM 22.05); bash itself under the local executor",
        'launch=(); if [ "${SLURM_JOB_ID:-local}" != local ]; then '
        'launch=(srun --ntasks-per-node=1 --cpus-per-task="$SLURM_CPUS_PER_TASK"); fi',
    ]
    *before, last = torchrun_line.split("\n")
    return "\n".join([*rendezvous, *srun, *before, '${launch[@]+"${launch[@]}"} ' + last])
