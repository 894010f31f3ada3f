"""The demo chain on a real one-node SLURM cluster (tests/slurm/start_cluster.sh): sbatch with afterok
dependencies and an estimate array, failures cancelling downstream jobs, resubmission of only what is missing, a
second submit refused while the run's jobs are queued and --take-over cancelling them."""

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from pipeline.run_lock import when
from pipeline.slurm_query import ACTIVE, query_states

from conftest import (
    PROJECT,
    files_of,
    first_progress,
    live_jobs_refusal,
    needs_mediapipe,
    needs_slurm,
    needs_trainer,
    output_dir,
    plan_of,
    submit,
    wait_for,
)

pytestmark = [pytest.mark.slurm, pytest.mark.slow, needs_slurm, needs_mediapipe, needs_trainer]
SLURM = ("--profile", "local-slurm")


def status(work: Path, run: str = "smoke", wait: bool = True) -> subprocess.CompletedProcess:
    argv = [sys.executable, "-m", "pipeline.status", str(work / "jobs" / run)] + (
        ["--wait", "--interval", "1"] if wait else []
    )
    return subprocess.run(argv, capture_output=True, text=True, cwd=PROJECT, timeout=900)


def marker_times(work: Path, stages=("prepare", "estimate", "preprocess")) -> dict:
    plan = plan_of(work, "smoke")
    return {
        str(m): m.stat().st_mtime_ns
        for s in stages
        for m in Path(plan["jobs"][plan["runs"]["smoke"][s]]["output_dir"]).glob(".done*.json")
    }


@pytest.fixture(scope="module")
def smoke_data(tmp_path_factory) -> Path:
    """The smoke run's prepare/estimate/preprocess, made once (locally) for the tests whose subject is training,
    requeueing or throttling: their submits find these stages complete and skip them."""
    work = tmp_path_factory.mktemp("smoke-data")
    proc = submit("config/smoke.yaml", work, "--until", "preprocess")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return work


def test_demo_chain_through_sbatch_matches_a_local_run(tmp_path):
    slurm, local = tmp_path / "slurm", tmp_path / "local"
    proc = submit("config/smoke.yaml", slurm, *SLURM)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "submitted as job" in proc.stdout and "tasks 0,1 after" in proc.stdout
    scripts = {p.name: p.read_text() for p in (slurm / "jobs" / "smoke").glob("*.sbatch")}
    assert "#SBATCH --array=0-1" in scripts["estimate.sbatch"]
    done = status(slurm)
    assert done.returncode == 0, done.stdout
    assert done.stdout.count("COMPLETED") == 6
    assert submit("config/smoke.yaml", local).returncode == 0
    for stage, name in (
        ("estimate", "sample000_train.pose"),
        ("estimate", "sample019_test.pose"),
        ("translate", "generated_predictions.txt"),
        ("evaluate", "test_score.bleu"),
        ("evaluate", "test_score.chrf"),
    ):
        a, b = output_dir(slurm, "smoke", stage) / name, output_dir(local, "smoke", stage) / name
        assert a.read_bytes() == b.read_bytes(), f"{stage}/{name} differs between SLURM and local runs"
    for split in ("train", "test"):  # same rows; pose paths differ only by the work folder and the keys
        rows_a = (output_dir(slurm, "smoke", "preprocess") / f"{split}.tsv").read_text().splitlines()
        rows_b = (output_dir(local, "smoke", "preprocess") / f"{split}.tsv").read_text().splitlines()
        strip = lambda row: [row.split("\t")[0].rsplit("/", 1)[-1]] + row.split("\t")[1:]  # noqa: E731
        assert [strip(r) for r in rows_a] == [strip(r) for r in rows_b]


def test_failed_stage_cancels_downstream_and_resubmit_finishes_without_redoing(tmp_path):
    proc = submit("config/smoke.yaml", tmp_path, *SLURM, env={"PIPELINE_FAIL_STAGE": "train"})
    assert proc.returncode == 0, proc.stdout + proc.stderr
    failed = status(tmp_path)
    assert failed.returncode == 1
    rows = {line.split()[0]: line.split()[2] for line in failed.stdout.splitlines()[2:8]}
    assert rows["train"] == "FAILED" and rows["translate"] == "CANCELLED" and rows["evaluate"] == "CANCELLED"
    assert rows["preprocess"] == "COMPLETED"
    assert "failing on purpose (PIPELINE_FAIL_STAGE=train)" in failed.stdout  # the log tail
    before = marker_times(tmp_path)
    again = submit("config/smoke.yaml", tmp_path, *SLURM)
    assert again.returncode == 0
    assert again.stdout.count("complete, skipped") == 3
    assert status(tmp_path).returncode == 0
    assert marker_times(tmp_path) == before
    assert (output_dir(tmp_path, "smoke", "evaluate") / "test_score.bleu").exists()


def test_cancelled_array_task_is_the_only_one_resubmitted(tmp_path):
    # each estimate task takes both CPUs, so task 1 waits while task 0 runs; cancel it while it waits
    one_at_a_time = ("--profile-set", "resources.estimate.cpus=2")
    proc = submit("config/smoke.yaml", tmp_path, *SLURM, *one_at_a_time, "--until", "preprocess")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    array_id = (
        next(line for line in proc.stdout.splitlines() if "estimate/" in line and "submitted as job" in line)
        .split("submitted as job ")[1]
        .split()[0]
    )
    subprocess.run(["scancel", f"{array_id}_1"], check=True)
    ended = status(tmp_path)
    assert ended.returncode == 1 and "CANCELLED" in ended.stdout
    est = output_dir(tmp_path, "smoke", "estimate")
    assert (est / ".done.shard-0-of-2.json").exists() and not (est / ".done.shard-1-of-2.json").exists()
    kept = (est / ".done.shard-0-of-2.json").stat().st_mtime_ns
    again = submit("config/smoke.yaml", tmp_path, *SLURM, *one_at_a_time, "--until", "preprocess")
    assert again.returncode == 0
    assert "tasks 1 after" not in again.stdout and " tasks 1" in again.stdout
    assert status(tmp_path).returncode == 0
    assert (est / ".done.shard-0-of-2.json").stat().st_mtime_ns == kept
    assert (est / ".done.shard-1-of-2.json").exists()


def test_repeatability_sweep_through_sbatch_gives_identical_runs(tmp_path, smoke_data):
    proc = submit("config/sweeps/smoke_repeatability.yaml", tmp_path, *SLURM, data_from=smoke_data)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert status(tmp_path, "smoke_repeatability").returncode == 0
    plan = plan_of(tmp_path, "smoke_repeatability")
    trains = [plan["jobs"][plan["runs"][f"smoke+replicate.{i}"]["train"]]["output_dir"] for i in (1, 2, 3)]
    same = subprocess.run(
        [sys.executable, "-m", "pipeline.compare_weights", trains[0], trains[2]],
        capture_output=True,
        text=True,
        cwd=PROJECT,
    )
    assert same.returncode == 0, same.stdout + same.stderr
    summary = subprocess.run(
        [sys.executable, "-m", "pipeline.summarize", str(tmp_path / "jobs" / "smoke_repeatability"), "--no-plot"],
        capture_output=True,
        text=True,
        cwd=PROJECT,
    )
    assert "3 runs" in summary.stdout and "max − min 0.000" in summary.stdout


def running_at_once(intervals: list[tuple[str, str]]) -> int:
    """The most intervals (ISO start, end) that overlap at one moment; an end and a start in the same second
    do not overlap (the scheduler's records have whole seconds)."""
    events = sorted([(s, 1) for s, _ in intervals] + [(e, -1) for _, e in intervals], key=lambda x: (x[0], x[1]))
    most = now = 0
    for _, step in events:
        now += step
        most = max(most, now)
    return most


def test_sweep_with_max_parallel_never_runs_more_train_jobs_at_once(tmp_path, smoke_data):
    sweep = tmp_path / "six.yaml"
    sweep.write_text(
        f"sweep:\n  name: six\n  base: {PROJECT / 'config/smoke.yaml'}\n  max_parallel: 2\n"
        f"  grid:\n    training.seed: [1, 2, 3, 4, 5, 6]\n"
    )
    proc = submit(
        sweep,
        tmp_path,
        *SLURM,
        "--until",
        "train",
        "--set",
        f"dataset.root={smoke_data / 'datasets' / 'sample'}",
        data_from=smoke_data,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout.count("in the lane of") == 4  # trains 3..6 wait for trains 1..4
    assert status(tmp_path, "six").returncode == 0
    record = json.loads((tmp_path / "jobs" / "six" / "submission.json").read_text())
    trains = {s["slurm_id"] for j, s in record["jobs"].items() if j.startswith("train/")}
    assert len(trains) == 6
    # the scheduler's own records: jobcomp/filetxt of tests/slurm/start_cluster.sh
    records = [
        dict(f.split("=", 1) for f in line.split() if "=" in f)
        for line in Path("/tmp/pipeline-slurm/jobcomp.log").read_text().splitlines()
    ]
    intervals = [(r["StartTime"], r["EndTime"]) for r in records if r.get("JobId") in trains]
    assert len(intervals) == 6 and all(r["JobState"] == "COMPLETED" for r in records if r.get("JobId") in trains)
    assert running_at_once(intervals) <= 2


def train_job(work: Path, run: str) -> tuple[str, Path]:
    record = json.loads((work / "jobs" / run / "submission.json").read_text())
    plan = plan_of(work, run)
    job_id = plan["runs"][run]["train"]
    return record["jobs"][job_id]["slurm_id"], Path(plan["jobs"][job_id]["output_dir"])


def requeued_at_checkpoint_100(tmp_path: Path, smoke_data, *extra: str) -> tuple[str, Path]:
    """Submit the smoke run (600 steps, a checkpoint every 100), `scontrol requeue` its train job once
    checkpoint-100 is saved, and wait until the run ends well: (the train job's SLURM id, its output folder)."""
    sets = ("--set", "training.max_steps=600", "--set", "training.eval_steps=100")
    proc = submit("config/smoke.yaml", tmp_path, *SLURM, *sets, *extra, data_from=smoke_data)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    slurm_id, train = train_job(tmp_path, "smoke")
    wait_for(lambda: (train / "train" / "checkpoint-100").is_dir(), "checkpoint-100")
    assert subprocess.run(["scontrol", "requeue", slurm_id]).returncode == 0
    done = status(tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    return slurm_id, train


def test_scontrol_requeue_mid_training_resumes_from_the_checkpoint(tmp_path, smoke_data):
    slurm_id, train = requeued_at_checkpoint_100(tmp_path, smoke_data)
    assert json.loads((train / "train" / "trainer_state.json").read_text())["global_step"] == 600
    log = next((tmp_path / "jobs" / "smoke" / "logs").glob(f"train-*-{slurm_id}.out")).read_text(errors="replace")
    assert log.count("] start train-") == 2  # the same job ran twice (log appended)
    assert first_progress(log.split("] start train-")[2], 600) >= 100  # resumed from checkpoint-100 or later
    assert (output_dir(tmp_path, "smoke", "evaluate") / "test_score.bleu").exists()  # downstream waited, then ran


def test_time_limit_warning_checkpoints_requeues_and_finishes(tmp_path, smoke_data):
    # a 3-minute limit, warned "90 s" before the end; sbatch(1): the signal may come up to 60 s earlier, so 30 to 90 s
    # after each start (with 2 minutes it came at once, before training began). 6000 steps never fit in one segment
    # (45-57 steps/s here: 4000 once did, on an idle machine, in 70 s); each requeue costs ~12 s on the test cluster
    # (start_cluster.sh), so it ends after 2-5 segments.
    proc = submit(
        "config/smoke.yaml",
        tmp_path,
        *SLURM,
        "--set",
        "training.max_steps=6000",
        "--set",
        "training.eval_steps=6000",
        "--set",
        "training.max_requeues=12",
        "--set",
        "resources.train={time: '00:03:00'}",
        "--until",
        "train",
        data_from=smoke_data,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    done = status(tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    slurm_id, train = train_job(tmp_path, "smoke")
    log = next((tmp_path / "jobs" / "smoke" / "logs").glob(f"train-*-{slurm_id}.out")).read_text(errors="replace")
    assert "SIGUSR1: saving checkpoint" in log and "saved; requeueing job" in log
    assert json.loads((train / "train" / "trainer_state.json").read_text())["global_step"] == 6000
    row = next(line for line in done.stdout.splitlines() if line.strip().startswith("train"))
    assert int(row.split()[3]) >= 1  # status: requeued at least once


def test_exceeding_max_requeues_fails_the_job_and_cancels_downstream(tmp_path, smoke_data):
    proc = submit(
        "config/smoke.yaml",
        tmp_path,
        *SLURM,
        "--set",
        "training.max_steps=1500",
        "--set",
        "training.eval_steps=1500",
        "--set",
        "training.max_requeues=0",
        "--set",
        "resources.train={time: '00:02:00'}",
        data_from=smoke_data,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    done = status(tmp_path)
    assert done.returncode == 1
    slurm_id, _ = train_job(tmp_path, "smoke")
    log = next((tmp_path / "jobs" / "smoke" / "logs").glob(f"train-*-{slurm_id}.out")).read_text(errors="replace")
    assert (
        "error: stopped to be requeued, but it was requeued 0 times already (training.max_requeues: 0): "
        "giving up" in log
    )
    states = {line.split()[0]: line.split()[2] for line in done.stdout.splitlines()[2:8] if line.strip()}
    assert states["train"] == "FAILED" and states["translate"] == "CANCELLED" and states["evaluate"] == "CANCELLED"


def test_a_two_process_train_job_completes_and_a_requeue_resumes_it_at_the_next_step_with_both(tmp_path, smoke_data):
    slurm_id, train = requeued_at_checkpoint_100(
        tmp_path, smoke_data, "--set", "training.nproc_per_node=2", "--until", "train"
    )
    log = next((tmp_path / "jobs" / "smoke" / "logs").glob(f"train-*-{slurm_id}.out")).read_text(errors="replace")
    first, resumed = log.split("] start train-")[1:3]
    assert "torchrun: 2 processes" in first and "torchrun: 2 processes" in resumed  # both runs had both processes
    stop = int(re.search(r"(?:SIG\w+|another process's signal): saving checkpoint-(\d+) and stopping", first).group(1))
    # resuming checks that the checkpoint was saved by 2 processes (one rng_state_<rank>.pth each)
    assert stop >= 100 and f"resuming from checkpoint-{stop} with 2 processes" in resumed
    assert stop < first_progress(resumed, 600) <= stop + 10  # at the next step (tqdm may skip a redraw)
    assert resumed.count("multimodalhugs-setup --modality") == 0  # set up once, in the first run
    assert json.loads((train / "train" / "trainer_state.json").read_text())["global_step"] == 600
    final = train / "train" / "checkpoint-600"
    assert (final / "rng_state_0.pth").exists() and (final / "rng_state_1.pth").exists()
    assert json.loads((train / ".done.json").read_text())["processes"] == 2


HOLD = ("--profile-set", "sbatch_extra=[--hold]")  # every job held: PENDING (JobHeldUser) until released or cancelled
# seeds no other test trains on smoke_data, so that these train jobs are not complete already
SEED, SWEEP_SEED = ("--set", "training.seed=29"), ("--set", "training.seed=30")


def slurm_jobs(work: Path, run: str, stage: str) -> tuple[dict, list[str]]:
    """The run's submission record and the SLURM ids of its `stage` jobs, in submission order."""
    record = json.loads((work / "jobs" / run / "submission.json").read_text())
    ids = [s["slurm_id"] for j, s in record["jobs"].items() if j.startswith(f"{stage}/") and s.get("slurm_id")]
    return record, sorted(ids, key=int)


def test_a_second_submit_while_the_jobs_are_queued_stops_and_take_over_cancels_them_and_runs(tmp_path, smoke_data):
    first = submit("config/smoke.yaml", tmp_path, *SLURM, *HOLD, *SEED, data_from=smoke_data)
    assert first.returncode == 0, first.stdout + first.stderr
    record, _ = slurm_jobs(tmp_path, "smoke", "train")
    held = [slurm_jobs(tmp_path, "smoke", s)[1][0] for s in ("train", "translate", "evaluate")]
    assert query_states(held) == dict.fromkeys(held, "PENDING")  # prepare, estimate, preprocess: complete, skipped
    before = files_of(tmp_path / "jobs" / "smoke")
    again = submit("config/smoke.yaml", tmp_path, *SLURM, *SEED, data_from=smoke_data)
    assert again.returncode == 2, again.stdout + again.stderr
    jobs = f"{held[0]} (train) PENDING, {held[1]} (translate) PENDING, {held[2]} (evaluate) PENDING"
    assert again.stderr.splitlines() == [live_jobs_refusal("smoke", tmp_path / "jobs" / "smoke", jobs, record)]
    assert files_of(tmp_path / "jobs" / "smoke") == before  # nothing written
    took = submit("config/smoke.yaml", tmp_path, *SLURM, *SEED, "--take-over", data_from=smoke_data)
    assert took.returncode == 0, took.stdout + took.stderr
    assert took.stdout.startswith(
        f"note: run smoke: --take-over: cancelled its SLURM jobs {jobs} (submitted by pid {record['pid']} on "
        f"{record['host']} at {when(record['submitted'])})\n"
    )
    assert took.stdout.count("complete, skipped") == 3 and took.stdout.count("submitted as job") == 3
    assert query_states(held) == dict.fromkeys(held, "CANCELLED")
    assert "--hold" not in (tmp_path / "jobs" / "smoke" / "train.sbatch").read_text()  # the scripts written anew
    done = status(tmp_path)  # the take-over's jobs, not held, run to the end
    assert done.returncode == 0, done.stdout + done.stderr
    assert (output_dir(tmp_path, "smoke", "evaluate") / "test_score.bleu").exists()


def test_a_sweep_is_refused_while_queued_taken_over_and_resubmitted_once_its_jobs_ended(tmp_path, smoke_data):
    sweep, run = "config/sweeps/smoke_repeatability.yaml", "smoke_repeatability"
    extra = ("--until", "train", *SWEEP_SEED)  # three train jobs
    first = submit(sweep, tmp_path, *SLURM, *HOLD, *extra, data_from=smoke_data)
    assert first.returncode == 0, first.stdout + first.stderr
    record, held = slurm_jobs(tmp_path, run, "train")
    assert len(held) == 3 and query_states(held) == dict.fromkeys(held, "PENDING")
    before = files_of(tmp_path / "jobs" / run)
    again = submit(sweep, tmp_path, *SLURM, *extra, data_from=smoke_data)
    assert again.returncode == 2, again.stdout + again.stderr
    jobs = ", ".join(f"{i} (train) PENDING" for i in held)
    assert again.stderr.splitlines() == [live_jobs_refusal(run, tmp_path / "jobs" / run, jobs, record)]
    assert files_of(tmp_path / "jobs" / run) == before
    took = submit(sweep, tmp_path, *SLURM, *HOLD, *extra, "--take-over", data_from=smoke_data)
    assert took.returncode == 0, took.stdout + took.stderr
    assert f"note: run {run}: --take-over: cancelled its SLURM jobs {jobs} (submitted by pid" in took.stdout
    assert query_states(held) == dict.fromkeys(held, "CANCELLED")
    record, new = slurm_jobs(tmp_path, run, "train")
    assert not set(new) & set(held) and query_states(new) == dict.fromkeys(new, "PENDING")
    assert sorted(h for s in record["jobs"].values() for h in s.get("history", [])) == held
    subprocess.run(["scancel", *new], check=True)  # jobs that ended hold nothing: the next submit resubmits
    wait_for(lambda: not set(query_states(new).values()) & ACTIVE, "the cancelled jobs to end", 60)
    last = submit(sweep, tmp_path, *SLURM, *HOLD, *extra, data_from=smoke_data)
    assert last.returncode == 0, last.stdout + last.stderr
    assert last.stdout.count("submitted as job") == 3 and "--take-over" not in last.stdout + last.stderr
    subprocess.run(["scancel", *slurm_jobs(tmp_path, run, "train")[1]], check=True)
