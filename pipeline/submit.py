"""`python -m pipeline.submit CONFIG`: compose the job scripts of an experiment (or sweep) and run or submit them.

    python -m pipeline.submit config/demo.yaml                       # local executor: runs everything here
    python -m pipeline.submit config/phoenix.yaml --profile uzh      # SLURM, apptainer, per the profile
    python -m pipeline.submit config/phoenix.yaml --profile uzh --dry-run  # check, write + print scripts, run nothing
    python -m pipeline.submit config/phoenix.yaml --until preprocess # prepare → estimate → preprocess only
    python -m pipeline.submit config/demo.yaml --set training.seed=7 # override any key
    python -m pipeline.submit config/phoenix.yaml --trial            # the original's dry run: a real, tiny run

`--trial` is the original pipeline's `dry_run="true"`: the experiment's own dataset and backbone, cut down to 10
examples per split, 10 training steps (evaluate, save and log every 5), batch size 1, on the CPU (no GPU asked
for, small time and memory requests). It runs as `<run>.trial` with its own data keys, so it never blocks or
pollutes the real run, and ends with what the real run will ask for.

`--dry-run` runs the login-node checks (pipeline/preflight.py: dataset root, split files and their columns, images,
a writable data_dir, whether the images run on the profile's GPUs) and prints each problem as a `warning:` line
(exit 0; with `--strict` they are errors, exit 2, as they are for a real submit); it writes the scripts to
`jobs/dry-run/<profile>/<run>/` and prints them, and for a SLURM profile the sbatch command lines a submit would run,
with their dependencies.

One submit of a run at a time (pipeline/run_lock.py): a second submit stops in one line (exit 2) while another
submit composes, submits or runs the run here, and while the jobs an earlier submit queued on SLURM are still
queued or running. `--take-over` cancels those jobs (scancel) and submits as usual. A dry run is never refused.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import socket
import sys
import time
from pathlib import Path

from pipeline import preflight
from pipeline.compose import compose_run
from pipeline.config import add_profile_set, load_profile
from pipeline.distributed import describe, describe_batch, processes
from pipeline.errors import USER_ERROR_EXIT, run_cli
from pipeline.executor_local import run_local
from pipeline.executor_slurm import planned_sbatch_lines, submit_slurm
from pipeline.keys import config_hash, stable_hash
from pipeline.paths import PROJECT_ROOT, display_path
from pipeline.plan import Plan, StageJob, build_plan
from pipeline.provenance import write_provenance
from pipeline.run_lock import live_jobs_message, live_slurm_jobs, run_lock
from pipeline.run_records import Submission
from pipeline.rundir import JobFiles, git_commit, job_files, load_run, plan_record, save_submission
from pipeline.schema import Profile
from pipeline.stage_registry import STAGES
from pipeline.sweep import TRIAL_OVERRIDES, TRIAL_SUFFIX, load_experiments, sweep_baseline, sweep_max_parallel
from pipeline.tables import format_table


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m pipeline.submit",
        description=__doc__.split("\n\n")[0].split(": ", 1)[1],
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="Scripts land in jobs/<run>/ (dry runs: jobs/dry-run/<profile>/<run>/); outputs in "
        "data/<stage>/<key>/.\n"
        "A second submit of the same run skips finished stages and resumes unfinished ones. While another submit\n"
        "holds the run, or the jobs an earlier submit queued on SLURM are still queued or running, it stops in one\n"
        "line (exit 2) that says what to do (wait, python -m pipeline.status jobs/<run>, or --take-over).",
    )
    parser.add_argument("config", help="an experiment YAML (config/demo.yaml) or a sweep (config/sweeps/*.yaml)")
    parser.add_argument(
        "--profile",
        default=None,
        help="cluster profile: a name in config/clusters/ (local, local-slurm, uzh, generic) or a "
        "YAML path; default: local",
    )
    parser.add_argument("--executor", choices=["local", "slurm"], help="override the profile's executor")
    parser.add_argument(
        "--runtime", choices=["venv", "apptainer", "singularity", "host"], help="override the profile's runtime"
    )
    parser.add_argument(
        "--dry-run",
        action="store_true",
        help="check what the login node can see (problems are warnings), write and print the scripts, the plan and "
        "the sbatch commands; run nothing",
    )
    parser.add_argument(
        "--strict", action="store_true", help="with --dry-run: the checks' problems are errors (exit 2)"
    )
    parser.add_argument(
        "--trial",
        action="store_true",
        help="a real run cut down to 10 examples per split and 10 CPU training steps, as <run>.trial",
    )
    parser.add_argument(
        "--max-parallel",
        type=int,
        metavar="N",
        help="on SLURM, at most N train jobs of a sweep at once (overrides the sweep's max_parallel)",
    )
    parser.add_argument("--until", choices=STAGES, default=STAGES[-1], help="last stage to include")
    parser.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override an experiment key, e.g. --set training.seed=7 (repeatable)",
    )
    add_profile_set(parser, "partition=gpu")
    parser.add_argument(
        "--take-over",
        action="store_true",
        help="when the run's SLURM jobs from an earlier submit are still queued or running (a submit stops then), "
        "cancel them with scancel, wait until they have ended, and submit as usual: complete jobs are skipped, the "
        "rest submitted anew with the scripts written now. A submit still running elsewhere is not taken over: "
        "stop it",
    )
    parser.add_argument("--quiet", action="store_true", help="do not print the scripts on --dry-run")
    parser.add_argument(
        "--jobs-dir",
        type=Path,
        default=PROJECT_ROOT / "jobs",
        help="where run folders go (default: jobs/ in the project)",
    )
    return parser.parse_args(argv)


def hours(time_limit: str) -> float:
    """sbatch's [D-]HH:MM:SS (or MM:SS) in hours."""
    days, _, clock = time_limit.rpartition("-")
    parts = [int(p) for p in clock.split(":")]
    while len(parts) < 3:
        parts.insert(0, 0)
    return int(days or 0) * 24 + parts[0] + parts[1] / 60 + parts[2] / 3600


def job_processes(job: StageJob) -> int:
    """A job's processes: a train job's launch (nodes × nproc_per_node, one GPU each where it has GPUs), else 1."""
    launch = job.spec.processes()
    return launch.processes if launch is not None else 1


def requested(plan: Plan) -> str:
    """What a plan asks of the cluster: jobs per stage, GPU hours (time limit × tasks × GPUs of GPU jobs), and each
    train job's processes and effective batch."""
    counts = ", ".join(f"{n} {s}" for s, n in plan.count_by_stage().items())
    gpu_jobs = [j for j in plan.jobs.values() if j.resources.gpu]
    gpu_hours = sum(hours(j.resources.time) * max(j.array, 1) * job_processes(j) for j in gpu_jobs)
    launches = [j.spec.processes() for j in plan.jobs.values()]
    trains = sorted(
        {f"{describe(launch)} process(es), effective batch {describe_batch(launch)}" for launch in launches if launch}
    )
    return (
        f"{len(plan.jobs)} job(s) ({counts}); {len(gpu_jobs)} ask for GPUs, {gpu_hours:g} GPU hours requested "
        f"at most (their time limits × their GPUs)" + "".join(f"; train: {t}" for t in trains)
    )


def print_real_request(args: argparse.Namespace, profile: Profile, lead: str) -> None:
    """After a trial: what the same command without --trial would ask of the cluster."""
    real = build_plan(load_experiments(args.config, args.overrides)[1], profile, args.until)
    print(f"{lead} {requested(real)}")


def print_plan(plan: Plan, files: dict[str, JobFiles], run: str, profile: Profile) -> None:
    counts = ", ".join(f"{n} {s}" for s, n in plan.count_by_stage().items())
    print(
        f"run {run}: {len(plan.runs)} run(s), {len(plan.jobs)} job(s) ({counts}); "
        f"executor {profile.executor}, runtime {profile.runtime}, profile {profile.name}"
    )
    rows = [("stage", "key", "tasks", "processes", "effective batch", "after", "state", "script")]
    for job_id, job in plan.jobs.items():
        missing = job.missing_tasks()
        state = (
            "complete"
            if not missing
            else ("to run" if len(missing) == max(job.array, 1) else f"{len(missing)} task(s) to run")
        )
        launch = job.spec.processes()
        rows.append(
            (
                job.stage,
                job.key,
                str(job.array or "-"),
                describe(launch) if launch else "-",
                describe_batch(launch) if launch else "-",
                ", ".join(d.split("/")[0] for d in job.deps) or "-",
                state,
                display_path(files[job_id].script),
            )
        )
    print("\n".join(format_table(rows, indent="  ")))


def report(found: preflight.Findings, fatal: bool) -> None:
    """The login-node checks' problems as `error:` (fatal) or `warning:` lines, then what was not checked."""
    for problem in found.problems:
        print(f"{'error' if fatal else 'warning'}: {problem}", file=sys.stderr)
    for note in found.notes:
        print(f"note: {note}", file=sys.stderr)


def print_dry_run(
    args: argparse.Namespace, plan: Plan, profile: Profile, run: str, run_dir: Path, files: dict[str, JobFiles]
) -> None:
    """The scripts, then what a real submit would do with them: the sbatch command lines on SLURM."""
    if not args.quiet:
        for f in files.values():
            print(f"\n===== {display_path(f.script)}\n{f.script.read_text()}", end="")
    print(f"\ndry run: scripts in {display_path(run_dir)}/, nothing submitted")
    if profile.executor != "slurm":
        print("without --dry-run the local executor runs these scripts here, one after another, in the order above")
        return
    real = plan_record(plan, job_files(plan, args.jobs_dir.resolve() / run))
    print("without --dry-run, submit writes the scripts to jobs/<run>/ and runs (job ids kept in shell variables):")
    for line in planned_sbatch_lines(real, sweep_max_parallel(args.config, args.max_parallel)):
        print(f"  {line}")


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.trial:  # the trial's limits first, so that a user's --set still wins
        run, experiments, varied = load_experiments(args.config, TRIAL_OVERRIDES + args.overrides)
        run += TRIAL_SUFFIX
        for exp in experiments:
            exp.name += TRIAL_SUFFIX
            said = any(o.startswith("training.effective_batch=") for o in args.overrides)
            if processes(exp.training) > 1 and not said:  # its batch of 1 per device cannot be divided
                exp.training.effective_batch = "grow"
    else:
        run, experiments, varied = load_experiments(args.config, args.overrides)
    profile_overrides = list(args.profile_overrides)
    if args.executor:
        profile_overrides.append(f"executor={args.executor}")
    if args.runtime:
        profile_overrides.append(f"runtime={args.runtime}")
    profile = load_profile(args.profile or "local", profile_overrides)
    plan = build_plan(experiments, profile, args.until)
    chash = (
        config_hash(experiments[0]) if len(experiments) == 1 else stable_hash([config_hash(e) for e in experiments], 12)
    )
    jobs_dir = args.jobs_dir.resolve()
    run_dir = jobs_dir / "dry-run" / profile.name / run if args.dry_run else jobs_dir / run
    found = preflight.check(plan, profile, create_data_dir=not args.dry_run)
    if found.problems and (args.strict or not args.dry_run):
        report(found, fatal=True)
        return USER_ERROR_EXIT
    # one submit of a run at a time (a dry run writes elsewhere and submits nothing)
    with run_lock(run_dir, run, args.take_over) if not args.dry_run else contextlib.nullcontext():
        return compose_and_run(args, plan, profile, run, run_dir, jobs_dir, chash, found, varied)


def compose_and_run(args, plan, profile, run, run_dir, jobs_dir, chash, found, varied) -> int:
    """Write the run's scripts, then print them (dry run), submit them to SLURM or run them here."""
    files = compose_run(plan, profile, run, run_dir, jobs_dir, chash, dry_run=args.dry_run)
    print_plan(plan, files, run, profile)
    if args.dry_run:
        print_dry_run(args, plan, profile, run, run_dir, files)
        if args.trial:
            print_real_request(args, profile, "the real run will ask for")
        report(found, fatal=False)
        if found.problems:
            print(f"{len(found.problems)} problem(s) above: a submit without --dry-run would refuse to run")
        record, live = live_slurm_jobs(jobs_dir / run)
        if live:
            print(f"note: a submit now would stop: {live_jobs_message(jobs_dir / run, run, record, live)}")
        return 0
    report(found, fatal=False)  # notes only
    max_parallel = sweep_max_parallel(args.config, args.max_parallel)
    plan_json, previous = load_run(run_dir)  # as compose wrote it; the jobs' states of earlier submissions
    manifest = Path(profile.venv_dir if profile.runtime == "venv" else profile.image_dir) / "manifest.json"
    record = Submission(
        jobs=previous.jobs,
        run=run,
        executor=profile.executor,
        profile=profile.name,
        runtime=profile.runtime,
        image_manifest=str(manifest),
        config_hash=chash,
        git_commit=git_commit(),
        submitted=time.time(),
        pid=os.getpid(),  # who submitted: a second submit's message names it while the jobs run
        host=socket.gethostname(),
        varied=varied,
        config=display_path(Path(args.config)),
        overrides=args.overrides,
        max_parallel=max_parallel,
        run_order=list(plan.experiments),  # the sweep's order: its first system is the summary's baseline
        baseline=sweep_baseline(args.config),
    )
    save_submission(run_dir, record)
    if profile.executor == "slurm":
        print("submitting to SLURM:")
        submit_slurm(run_dir, plan_json, record, max_parallel)
        print(f"follow it with: python -m pipeline.status {display_path(run_dir)} --wait")
        if args.trial:
            print_real_request(args, profile, "when the trial passes, the real run will ask for")
        return 0
    if shutil.which("sbatch"):
        print(
            f"note: the {profile.name} profile's local executor runs every stage here, on this machine, one after "
            f"another; to submit to SLURM instead give a cluster profile: --profile <site> (docs/cluster.md)"
        )
    print("running locally:")
    ok = run_local(run_dir, plan_json, record)
    write_provenance(run_dir, plan_json, record)
    print(f"{'finished' if ok else 'stopped'}: python -m pipeline.status {display_path(run_dir)}")
    if args.trial:
        print_real_request(args, profile, f"trial {'passed' if ok else 'FAILED'}; the real run will ask for")
    return 0 if ok else 1


if __name__ == "__main__":
    run_cli(main)
