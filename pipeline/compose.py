"""The job composer: one stage job + a profile → the text of a readable sbatch script (`script_for`, no I/O), and
a whole plan → its run folder's specs, scripts and plan.json (`compose_run`).

`make_sbatch_script` follows submitit's `_make_sbatch_string`: typed keyword parameters in, script text out.
Directives are the sbatch manual's (https://slurm.schedmd.com/sbatch.html); what we add:
- `--open-mode=append`: a requeued job appends to its log instead of overwriting it;
- requeueable jobs (train, translate: `requeue_limit`) get `--requeue` and `--signal=B:USR1@90`: a warning 90 s
  before the time limit, sent to the batch shell (our stages run in it, with no `srun` step, and a plain
  `USR1@90` signals job steps only, so it would reach no one). The shell traps USR1 (and TERM, sent on
  preemption) and passes it on to the stage, which saves a checkpoint and exits with 75; the shell then requeues
  the job (`scontrol requeue`), which resumes from that checkpoint while the jobs depending on it keep waiting.
  Past `requeue_limit` restarts the job fails instead. Other stages handle no signal, so they get no `--signal`;
- logs are `<log_dir>/%x-%A_%a.out` for arrays and `<log_dir>/%x-%j.out` otherwise (stdout and stderr together);
- a train job on several processes (pipeline/distributed.py) asks for `--nodes`, `--ntasks-per-node=1` and the
  GPUs of each node, runs its setup part once in the batch shell, then torchrun once per node (`srun`).
The same script runs under the local executor, which sets the SLURM_* variables a stage reads.
"""

from __future__ import annotations

import shlex
from pathlib import Path
from typing import Sequence

from pipeline.distributed import launch_command, torchrun_argv
from pipeline.keys import as_plain
from pipeline.paths import PROJECT_ROOT
from pipeline.plan import Plan, StageJob
from pipeline.rundir import JobFiles, job_files, plan_record
from pipeline.runtime import Bind, cache_env, stage_command, wrap
from pipeline.schema import Profile
from pipeline.stage_registry import STAGE, Resources
from pipeline.stages.markers import write_json
from pipeline.stages.specs import as_json


def make_sbatch_script(
    command: str,
    *,
    job_name: str,
    log_dir: str,
    time: str,
    cpus: int,
    mem: str,
    array: int = 0,
    partition: str | None = None,
    account: str | None = None,
    qos: str | None = None,
    gpus: str | None = None,
    gres: str | None = None,
    gpus_per_node: str | None = None,
    constraint: str | None = None,
    nodes: int | None = None,
    extra: Sequence[str] = (),
    modules: Sequence[str] = (),
    setup: Sequence[str] = (),
    exports: dict[str, str] | None = None,
    header: Sequence[str] = (),
    requeue_limit: int | None = None,
    before: str | None = None,
) -> str:
    """An sbatch script running `command` (shell lines, the last one the command). `extra` holds raw
    `--option=value` strings. With `requeue_limit`, the job requeues itself (at most that many times) when its stage
    exits with 75. With `nodes`, one task per node (`--ntasks-per-node=1`: `cpus` and `mem` are per node) instead of
    one task; `before` runs first, once (with `requeue_limit`), and `command` only if it succeeded."""
    log = f"{log_dir}/%x-%A_%a.out" if array else f"{log_dir}/%x-%j.out"
    directives = {
        "job-name": job_name,
        "time": time,
        "cpus-per-task": str(cpus),
        "mem": mem,
        "output": log,
        "error": log,
        "open-mode": "append",
    }
    if nodes is None:
        directives["ntasks"] = "1"
    else:
        directives.update({"nodes": str(nodes), "ntasks-per-node": "1"})
    if requeue_limit is not None:  # the stage saves a checkpoint on USR1: the batch shell passes it on
        directives["signal"] = "B:USR1@90"
    optional = {
        "partition": partition,
        "account": account,
        "qos": qos,
        "gpus": gpus,
        "gres": gres,
        "gpus-per-node": gpus_per_node,
        "constraint": constraint,
        "array": f"0-{array - 1}" if array else None,
    }
    directives.update({k: v for k, v in optional.items() if v})
    lines = ["#!/bin/bash"]
    lines += [f"#SBATCH --{k}={v}" for k, v in sorted(directives.items())]
    if requeue_limit is not None:
        lines.append("#SBATCH --requeue")
    lines += [f"#SBATCH {opt}" for opt in extra]
    lines += [f"# {h}" if h else "#" for h in header]
    lines += ["set -euo pipefail", ""]
    lines += [f"module load {shlex.quote(m)}" for m in modules]
    for name, value in (exports or {}).items():
        lines.append(f"export {name}={shlex.quote(value)}")
    lines += list(setup)
    lines += [
        "",
        'echo "[$(date -Is)] start ${SLURM_JOB_NAME:-' + job_name + '} on $(hostname) task ${SLURM_ARRAY_TASK_ID:--}"',
    ]
    if requeue_limit is None:
        lines += [before, command] if before else [command]
    else:
        lines += requeueing(command, requeue_limit, before)
    lines += ['echo "[$(date -Is)] done"', ""]
    return "\n".join(lines)


WAIT_FOR_STAGE = [
    "stage=$!",
    "rc=0",
    "while :; do",
    '  wait "$stage" && rc=0 || rc=$?',
    '  kill -0 "$stage" 2>/dev/null || break      # a trapped signal ends `wait` early: wait again',
    "done",
]


def requeueing(command: str, limit: int, before: str | None = None) -> list[str]:
    """Shell lines running `command` in the background so that this shell can pass SLURM's signals on to it, then
    requeueing the job when the stage saved and stopped (exit 75), at most `limit` times. `before` runs the same way
    first, and `command` only when it succeeded."""
    give_up = f"it was requeued $restarts times already (training.max_requeues: {limit}): giving up"
    lines = [
        "restarts=${SLURM_RESTART_COUNT:-0}",
        f'if [ "$restarts" -gt {limit} ]; then echo "error: {give_up}" >&2; exit 1; fi',
        "# USR1: SLURM's warning 90 s before the time limit (B:USR1@90); TERM: preemption. "
        "The stage saves and exits 75.",
        "trap 'kill -USR1 \"$stage\" 2>/dev/null || true' USR1 TERM",
    ]
    if before is None:
        lines += [f"{command} &", *WAIT_FOR_STAGE]
    else:
        lines += [f"{before} &", *WAIT_FOR_STAGE, 'if [ "$rc" -eq 0 ]; then']
        lines += ["  " + line for line in f"{command} &".split("\n") + WAIT_FOR_STAGE]
        lines.append("fi")
    return lines + [
        'if [ "$rc" -eq 75 ]; then',
        f'  if [ "$restarts" -ge {limit} ]; then echo "error: stopped to be requeued, but {give_up}" >&2; exit 1; fi',
        f'  echo "[$(date -Is)] saved; requeueing job ${{SLURM_JOB_ID:-}} '
        f'(restart $((restarts + 1)) of at most {limit})"',
        '  if [ "${SLURM_JOB_ID:-local}" = local ]; then',
        '    echo "could not requeue (not a SLURM job): submit again to carry on from the checkpoint" >&2',
        '  elif scontrol requeue "$SLURM_JOB_ID"; then',
        "    exit 0",
        "  else  # an administrator's (or SLURM's own) requeue raced ours: the job is on its way back already",
        '    state=$(squeue -h -j "$SLURM_JOB_ID" -o %T 2>/dev/null || true)',
        '    echo "scontrol requeue refused (job state: ${state:-gone}): requeued by SLURM before the stage asked;'
        ' it resumes from the checkpoint when it runs again (if it does not, submit again)" >&2',
        "  fi",
        "fi",
        '[ "$rc" -eq 0 ] || exit "$rc"',
    ]


def gpu_options(profile: Profile, wants_gpu: bool, per_node: int = 1) -> dict[str, str | None]:
    """The sbatch options asking for a job's GPUs: `per_node` GPUs on each node where the profile says how
    (gpu.per_node), else the profile's own one-GPU request (gpu.gpus or gpu.gres, as written)."""
    if not wants_gpu:
        return {}
    partition = profile.gpu.partition or profile.partition
    options = {"constraint": profile.gpu.constraint, "partition": partition}
    if profile.gpu.per_node is None:
        return {"gpus": profile.gpu.gpus, "gres": profile.gpu.gres, **options}
    count = f"{profile.gpu.model}:{per_node}" if profile.gpu.model else str(per_node)
    if profile.gpu.per_node == "gres":
        return {"gres": f"gpu:{count}", **options}
    return {"gpus_per_node": count, **options}


def job_binds(job: StageJob, *, src_dir: Path, data_dir: Path, jobs_dir: Path, cache_dir: Path) -> list[Bind]:
    """Everything the stage may touch, bound at the same path: source (read-only), data, jobs, cache, and the job's
    own mounts (the dataset root) when they lie outside those."""
    return bind_list(src_dir, [data_dir, jobs_dir], [(str(cache_dir), False), *job.mounts])


def bind_list(src_dir: Path, writable: list[Path], mounts: Sequence[tuple[str, bool]]) -> list[Bind]:
    """The source (read-only), the `writable` folders, then each (path, read_only) of `mounts` that lies outside
    the folders bound before it."""
    binds = [Bind(str(src_dir), read_only=True), *(Bind(str(w)) for w in writable)]
    for path, read_only in mounts:
        if not any(Path(path).is_relative_to(b.path) for b in binds[1:]):
            binds.append(Bind(path, read_only=read_only))
    return binds


def script_for(
    job: StageJob,
    profile: Profile,
    *,
    run: str,
    config_hash: str,
    script_path: Path,
    spec_path: Path,
    log_dir: Path,
    jobs_dir: Path,
    dry_run: bool = False,
) -> str:
    """The script for one stage job under a profile (its folders are absolute: load_profile resolved them).
    A dry run's script says that it is not for sbatch: it has no dependencies, so it would start at once."""
    data_dir, cache_dir = Path(profile.data_dir), Path(profile.cache_dir)
    binds = job_binds(job, src_dir=PROJECT_ROOT, data_dir=data_dir, jobs_dir=jobs_dir, cache_dir=cache_dir)
    resubmit = f"resubmit by hand: sbatch {script_path}" + ("   (one task: sbatch --array=N ...)" if job.array else "")
    header = [
        f"run: {run}   stage: {job.stage}   key: {job.key}   config hash: {config_hash}",
        f"runs sharing this job: {', '.join(job.runs)}",
        f"image: {job.image}   runtime: {profile.runtime}   profile: {profile.name}",
        f"output: {job.output_dir}",
        (
            "dry run: to read, not to submit: sbatch would start it at once, without waiting for the jobs it needs "
            "(no --dependency); submit the run without --dry-run"
            if dry_run
            else resubmit
        ),
    ]
    return profile_script(
        stage_command(STAGE[job.stage].module, spec_path),
        profile,
        image=job.image,
        resources=job.resources,
        binds=binds,
        writable=[b.path for b in binds if not b.read_only and b.path != str(jobs_dir)],
        job_name=f"{job.stage}-{job.key}",
        log_dir=log_dir,
        header=header,
        array=job.array,
        requeue_limit=job.spec.requeue_limit() if STAGE[job.stage].requeues else None,
        launch=job.spec.processes(),
        spec_path=spec_path,
    )


def profile_script(
    argv: list[str],
    profile: Profile,
    *,
    image: str,
    resources: Resources,
    binds: list[Bind],
    writable: list[str],
    job_name: str,
    log_dir: Path,
    header: Sequence[str],
    array: int = 0,
    requeue_limit: int | None = None,
    launch=None,
    spec_path: Path | None = None,
) -> str:
    """The sbatch script that runs `argv` (`python -m ...`) in `image` under the profile's runtime, with its
    caches, binds, modules, setup lines and partition (GPU options where `resources.gpu`). `writable`: folders to
    create before the command (bind sources must exist before `apptainer exec`). With a `launch` of several
    processes (a train job, pipeline/distributed.py), its setup part runs once in the batch shell, then torchrun
    once per node. Stage jobs (`script_for`) and jobs that use a finished model (pipeline/translate.py) are written
    by it."""
    src_dir, cache_dir = PROJECT_ROOT, Path(profile.cache_dir)
    image_dir, venv_dir = Path(profile.image_dir), Path(profile.venv_dir)
    env = cache_env(cache_dir, profile.offline)

    def in_image(args: list[str], gpu: bool) -> str:
        return wrap(
            profile.runtime,
            args,
            image=image,
            gpu=gpu,
            binds=binds,
            src_dir=src_dir,
            image_dir=image_dir,
            venv_dir=venv_dir,
            env=env,
        )

    before: str | None = None
    nodes: int | None = None  # one task, or one task a node
    per_node = 1  # GPUs a node, processes a node
    if launch is not None and launch.processes > 1:  # setup once here, then torchrun once per node
        before = in_image([*argv, "--setup-only"], gpu=False)
        command = launch_command(in_image(torchrun_argv(launch, str(spec_path)), resources.gpu), launch.nodes)
        nodes, per_node = launch.nodes, launch.nproc_per_node
    else:
        command = in_image(argv, resources.gpu)
    containerised = profile.runtime in ("apptainer", "singularity")
    exports = {} if containerised else {**env, "PYTHONPATH": str(src_dir)}
    # bind sources must exist before `apptainer exec` (the sample dataset's root is created by prepare)
    setup = ["mkdir -p " + " ".join(shlex.quote(p) for p in [*writable, env["HF_HOME"]])]
    if not containerised:
        setup.append(f"cd {shlex.quote(str(src_dir))}")
    partition_opts = {"partition": profile.partition, **gpu_options(profile, resources.gpu, per_node)}
    return make_sbatch_script(
        command,
        job_name=job_name,
        log_dir=str(log_dir),
        time=resources.time,
        cpus=resources.cpus * per_node,  # resources.train.cpus: per process
        mem=resources.mem,
        nodes=nodes,
        before=before,
        array=array,
        account=profile.account,
        qos=profile.qos,
        extra=list(profile.sbatch_extra),
        modules=list(profile.modules),
        setup=setup + list(profile.setup),
        exports=exports,
        header=header,
        requeue_limit=requeue_limit,
        **partition_opts,
    )


def compose_run(
    plan: Plan, profile: Profile, run: str, run_dir: Path, jobs_dir: Path, chash: str, dry_run: bool = False
) -> dict[str, JobFiles]:
    """Write specs, scripts and plan.json for every job of the plan. Returns the file names per job."""
    files = job_files(plan, run_dir)
    (run_dir / "logs").mkdir(parents=True, exist_ok=True)
    for job_id, job in plan.jobs.items():
        f = files[job_id]
        write_json(f.spec, as_json(job.spec))
        text = script_for(
            job,
            profile,
            run=run,
            config_hash=chash,
            script_path=f.script,
            spec_path=f.spec,
            log_dir=run_dir / "logs",
            jobs_dir=jobs_dir,
            dry_run=dry_run,
        )
        f.script.write_text(text)
        f.script.chmod(0o755)
    record = plan_record(
        plan,
        files,
        run=run,
        config_hash=chash,
        profile=profile.name,
        executor=profile.executor,
        runtime=profile.runtime,
    )
    write_json(run_dir / "plan.json", as_plain(record))
    return files
