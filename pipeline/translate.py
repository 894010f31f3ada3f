"""`python -m pipeline.translate RUN INPUT...`: translate new sign language videos with a finished run's model and
print `input<TAB>translation` per input.

    python -m pipeline.translate jobs/demo clip.mp4 frames/clip2/ clip3.pose
    python -m pipeline.translate demo recordings/*.mp4 --out data/translations/today
    python -m pipeline.translate jobs/phoenix recordings/*.mp4 --profile uzh        # two SLURM jobs

RUN is a run folder written by pipeline.submit (`jobs/<run>`) or a run name; a sweep's folder needs `--run NAME`.
Each INPUT is a video, a folder of frame images or a `.pose` file. Videos and frame folders go through the run's
own estimator with its settings, in its image, all in one job (pipeline/stages/estimate_inputs.py); a pose type
without an estimator takes `.pose` files of its header only. Then every pose gets the run's preprocessing
(preprocess's checks, person reduction and header renaming; the run's prompts) and MultimodalHugs generates with the
run's selected checkpoint, its processor (normalisation, feature layout) and its beam settings, in the trainer's
image (pipeline/stages/translate_inputs.py). The results are `<out>/translations.tsv` and `<out>/translation.json`
(run, checkpoint, timings), `<out>` being `--out` or `<data_dir>/translations/<run>/<time>/`.

Local by default. With a SLURM profile (`--profile`) the two jobs are submitted, estimation on CPUs and generation
on a GPU where the profile has one, and the command returns; `--dry-run` writes and prints the scripts only.
A missing or undecodable input, a `.pose` of another pose type, a run whose training never finished or an `--out`
that is not empty stops it with one line and exit 2, leaving nothing written.
"""

from __future__ import annotations

import argparse
import csv
import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass, replace
from pathlib import Path

from pipeline.compose import bind_list, profile_script
from pipeline.config import add_profile_set, load_profile, stage_resources
from pipeline.errors import USER_ERROR_EXIT, UserError, run_cli
from pipeline.finished_run import FinishedRun, add_run_arguments, load_finished_run
from pipeline.paths import PROJECT_ROOT, display_path
from pipeline.pose_types import POSE_TYPES, TRAINER_IMAGE, resolved_settings
from pipeline.rundir import git_commit, tail
from pipeline.runtime import stage_command
from pipeline.schema import Profile
from pipeline.stage_registry import Resources
from pipeline.stages.new_inputs import RESULTS, InputsSpec, NewInput, input_name, kind_of, write_spec

FRAME_FOLDER_FPS = 25.0  # PHOENIX's, and the default of `dataset.fps`


@dataclass
class InputsJob:
    """One of the two jobs: estimation (the pose type's image) or preparation and generation (the trainer's)."""

    name: str  # estimate | translate: its script, log and SLURM job name
    module: str  # pipeline.stages.<module>
    image: str
    resources: Resources


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m pipeline.translate",
        description=__doc__.split("\n\n")[0].split(": ", 1)[1],
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="Results: <out>/translations.tsv and <out>/translation.json; docs/use-a-model.md.",
    )
    add_run_arguments(parser)
    parser.add_argument("inputs", nargs="+", metavar="INPUT", help="a video, a folder of frame images or a .pose file")
    parser.add_argument(
        "--out", type=Path, help="where the results go (new or empty; default <data_dir>/translations/<run>/<time>)"
    )
    parser.add_argument(
        "--profile", default=None, help="cluster profile (config/clusters/ or a YAML path); default: local, here"
    )
    add_profile_set(parser, "runtime=apptainer")
    parser.add_argument("--dry-run", action="store_true", help="write and print the job scripts; run nothing")
    return parser.parse_args(argv)


def classify(raw_inputs: list[str], run: FinishedRun) -> list[NewInput]:
    """The inputs, absolute, with their kind; one line for one that is missing or that this run cannot estimate."""
    pose_type = POSE_TYPES[run.experiment.estimate.estimator]
    items = []
    for index, raw in enumerate(raw_inputs):
        path = Path(raw).expanduser().resolve()
        if not path.exists():
            raise UserError(f"{raw}: no such file or folder")
        kind = kind_of(path)
        if kind != "pose" and pose_type.image is None:
            what = "a frame folder" if kind == "frames" else "not a .pose file (a video?)"
            raise UserError(
                f"{raw}: {what}, and this run's pose type {pose_type.name} has no estimator here (its poses were "
                f"estimated elsewhere); give its .pose file, of the {pose_type.name} type"
            )
        items.append(NewInput(str(path), kind, input_name(index, path)))
    return items


def output_folder(given: Path | None, run: FinishedRun) -> Path:
    """`--out` (new, or an empty folder), else a new folder per call under the run's data_dir."""
    if given is not None:
        out = given.expanduser().resolve()
        if out.exists() and (not out.is_dir() or any(out.iterdir())):
            raise UserError(f"{given}: exists and is not empty; give a new folder (--out), nothing is overwritten")
        return out
    base = run.model_dir.parent.parent / "translations" / run.name / time.strftime("%Y%m%d-%H%M%S")
    out, n = base, 1
    while out.exists():
        n += 1
        out = base.with_name(f"{base.name}-{n}")
    return out


def make_spec(run: FinishedRun, items: list[NewInput], out: Path, use_gpu: bool) -> InputsSpec:
    exp = run.experiment
    estimate = run.estimate
    if estimate is not None and estimate.source == "estimate":  # as the run estimated
        settings, workers = estimate.settings, estimate.workers
    else:  # poses downloaded or given: the registry's estimator with the experiment's settings
        settings, workers = resolved_settings(exp.estimate.estimator, exp.estimate.settings), exp.estimate.workers
    feat_dim, settings_of_translate = run.feat_dim, run.translate_settings
    return InputsSpec(
        run=run.name,
        run_dir=str(run.run_dir),
        out=str(out),
        inputs=items,
        pose_type=exp.estimate.estimator,
        settings=settings,
        workers=workers,
        fps=float(exp.dataset.fps or FRAME_FOLDER_FPS),
        encoder_prompt=run.preprocess.encoder_prompt,
        decoder_prompt=run.preprocess.decoder_prompt,
        feat_dim=int(feat_dim),
        model_dir=str(run.model_dir),
        checkpoint=str(run.checkpoint),
        num_beams=settings_of_translate.num_beams,
        batch_size=settings_of_translate.batch_size,
        use_gpu=use_gpu,
        git_commit=git_commit(),
    )


def plan_jobs(run: FinishedRun, items: list[NewInput], profile: Profile) -> list[InputsJob]:
    """Estimation (only when there are videos or frame folders; on CPUs), then generation (a GPU where the profile
    has one), with the resources the profile and the experiment give those stages."""
    exp, pose_type = run.experiment, POSE_TYPES[run.experiment.estimate.estimator]
    jobs = []
    if any(item.kind != "pose" for item in items) and pose_type.image:
        cpu_only = replace(stage_resources("estimate", profile, exp, False), gpu=False)
        jobs.append(InputsJob("estimate", "estimate_inputs", pose_type.image, cpu_only))
    jobs.append(
        InputsJob("translate", "translate_inputs", TRAINER_IMAGE, stage_resources("translate", profile, exp, False))
    )
    return jobs


def write_scripts(spec: InputsSpec, jobs: list[InputsJob], profile: Profile, spec_path: Path) -> list[Path]:
    out = Path(spec.out)
    (out / "logs").mkdir(parents=True, exist_ok=True)  # SLURM writes logs only into a folder that exists
    mounts = [(spec.model_dir, True), *((item.path, True) for item in spec.inputs)]
    binds = bind_list(PROJECT_ROOT, [out], [(profile.cache_dir, False), *mounts])
    scripts = []
    for job in jobs:
        script = out / f"{job.name}.sbatch"
        header = [
            f"run: {spec.run}   {job.name} of {len(spec.inputs)} new input(s) (python -m pipeline.translate)",
            f"image: {job.image}   runtime: {profile.runtime}   profile: {profile.name}",
            f"output: {out}",
            f"resubmit by hand: sbatch {script}",
        ]
        text = profile_script(
            stage_command(job.module, spec_path),
            profile,
            image=job.image,
            resources=job.resources,
            binds=binds,
            writable=[str(out)],
            job_name=f"{job.name}-inputs-{spec.run}",
            log_dir=out / "logs",
            header=header,
        )
        script.write_text(text)
        script.chmod(0o755)
        scripts.append(script)
    return scripts


def last_error(log: Path) -> str | None:
    """The job's own one-line error (`error: ...`), if it wrote one."""
    lines = [line for line in log.read_text(errors="replace").splitlines() if line.startswith("error: ")]
    return lines[-1][len("error: ") :] if lines else None


def run_here(scripts: list[Path], out: Path) -> None:
    """Run the jobs one after another on this machine, each logging to <out>/logs/<job>.out."""
    (out / "logs").mkdir(parents=True, exist_ok=True)
    for script in scripts:
        log = out / "logs" / f"{script.stem}.out"
        if sys.stderr.isatty():  # progress for a person; piped or captured, stderr holds only a failure's one line
            print(f"{script.stem}: running (log {display_path(log)})", file=sys.stderr, flush=True)
        env = {**os.environ, "SLURM_JOB_NAME": script.stem, "SLURM_JOB_ID": "local"}
        with open(log, "w") as handle:
            code = subprocess.run(
                ["bash", str(script)], stdout=handle, stderr=subprocess.STDOUT, env=env, stdin=subprocess.DEVNULL
            ).returncode
        if code == USER_ERROR_EXIT and (error := last_error(log)):
            raise UserError(error)
        if code != 0:
            raise JobFailed(f"{script.stem} exited with {code}; log {log}:\n{tail(log)}")


class JobFailed(Exception):
    """A job failed for a reason other than its inputs: the folder stays, with its log."""


def submit(scripts: list[Path], out: Path) -> None:
    from pipeline.executor_slurm import sbatch
    from pipeline.run_records import JobState, Submission
    from pipeline.rundir import save_submission

    if shutil.which("sbatch") is None:
        raise UserError("sbatch not found: this machine has no SLURM client; leave out --profile to run here")
    ids: list[str] = []
    for script in scripts:
        ids.append(sbatch(str(script), ids[-1:], None))
        print(f"{script.stem}: submitted as job {ids[-1]}", file=sys.stderr, flush=True)
    jobs = {script.stem: JobState(slurm_id=slurm_id, submitted=time.time()) for script, slurm_id in zip(scripts, ids)}
    save_submission(out, Submission(jobs, executor="slurm"))
    print(f"results will be in {out / RESULTS} (logs in {out / 'logs'})", file=sys.stderr)


def print_results(raw_inputs: list[str], out: Path) -> None:
    with open(out / RESULTS, newline="", encoding="utf-8") as handle:
        rows = list(csv.reader(handle, delimiter="\t"))[1:]
    for raw, (_, translation) in zip(raw_inputs, rows):
        print(f"{raw}\t{translation}", flush=True)
    print(f"translations: {out / RESULTS}; run, checkpoint and timings: {out / 'translation.json'}", file=sys.stderr)


def first_missing(out: Path) -> Path | None:
    """The outermost folder of `out`'s path that does not exist yet (what making `out` creates), or None."""
    if out.exists():
        return None
    first = out
    while not first.parent.exists():
        first = first.parent
    return first


def remove_written(out: Path, created: Path | None) -> None:
    """Nothing written half: the folders this call made go, or what it wrote into an empty `out`."""
    if created is not None:
        shutil.rmtree(created, ignore_errors=True)
        return
    for child in out.iterdir():
        shutil.rmtree(child) if child.is_dir() and not child.is_symlink() else child.unlink()


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    run = load_finished_run(args.run, args.run_name)
    items = classify(args.inputs, run)
    profile = load_profile(args.profile or "local", [f"cache_dir={run.train.cache_dir}", *args.profile_overrides])
    out = output_folder(args.out, run)
    jobs = plan_jobs(run, items, profile)
    spec = make_spec(run, items, out, use_gpu=jobs[-1].resources.gpu)
    created = first_missing(out)
    out.mkdir(parents=True, exist_ok=True)
    try:
        spec_path = out / "spec.json"
        write_spec(spec_path, spec)
        scripts = write_scripts(spec, jobs, profile, spec_path)
        if args.dry_run:
            for script in scripts:
                print(f"===== {script}\n{script.read_text()}")
            print(f"dry run: scripts in {out}; nothing ran", file=sys.stderr)
            return 0
        if profile.executor == "slurm":
            submit(scripts, out)
            return 0
        run_here(scripts, out)
    except UserError:
        remove_written(out, created)
        raise
    except JobFailed as exc:
        print(f"FAILED: {exc}", file=sys.stderr)
        return 1
    print_results(args.inputs, out)
    return 0


if __name__ == "__main__":
    run_cli(main)
