"""Shared test helpers: where the per-image venvs are, running code in them, running the pipeline in a tmp dir, and
the finished runs tests share (trained once per session: `smoke_run`, and `trained_demo`, the demo with its
shuffled control).

Tests that need a venv (real MediaPipe, real MultimodalHugs) skip with the command that builds it.
Every pipeline run in tests writes to a tmp dir (data, cache and jobs), never to the project's data/ or jobs/.
"""

from __future__ import annotations

import io
import json
import os
import shutil
import subprocess
import sys
import tarfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

PROJECT = Path(__file__).resolve().parent.parent
SHARED = PROJECT.parent / "shared"


def venv_python(image: str) -> Path:
    return PROJECT / ".venvs" / image / "bin" / "python"


def has_venv(image: str, module: str) -> bool:
    python = venv_python(image)
    return (
        python.exists() and subprocess.run([str(python), "-c", f"import {module}"], capture_output=True).returncode == 0
    )


HAS_MEDIAPIPE = has_venv("mediapipe", "mediapipe")
HAS_TRAINER = has_venv("trainer", "multimodalhugs")
needs_mediapipe = pytest.mark.skipif(
    not HAS_MEDIAPIPE, reason="no .venvs/mediapipe with mediapipe: python -m pipeline.build --runtime venv mediapipe"
)
needs_trainer = pytest.mark.skipif(
    not HAS_TRAINER, reason="no .venvs/trainer with multimodalhugs: python -m pipeline.build --runtime venv trainer"
)


def slurm_up() -> bool:
    if shutil.which("sbatch") is None or shutil.which("sinfo") is None:
        return False
    proc = subprocess.run(["sinfo", "-h", "-o", "%T"], capture_output=True, text=True)
    return proc.returncode == 0 and any(s in proc.stdout for s in ("idle", "mixed", "allocated"))


needs_slurm = pytest.mark.skipif(not slurm_up(), reason="no running SLURM cluster: bash tests/slurm/start_cluster.sh")


def run_in(image: str, code: str, *args: str, check: bool = True, env: dict | None = None):
    """Run python `code` in the image's venv with the project on PYTHONPATH; returns the CompletedProcess.
    If the code prints a JSON line starting with '{"result"', `proc.result` holds it."""
    proc = subprocess.run(
        [str(venv_python(image)), "-c", code, *args],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(PROJECT), **(env or {})},
    )
    if check and proc.returncode != 0:
        raise AssertionError(f"venv {image} failed ({proc.returncode}):\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
    proc.result = None
    for line in proc.stdout.splitlines():
        if line.startswith('{"result"'):
            proc.result = json.loads(line)["result"]
    return proc


def submit(
    config: str | Path, workdir: Path, *extra: str, env: dict | None = None, data_from: Path | None = None
) -> subprocess.CompletedProcess:
    """`python -m pipeline.submit` with data, cache and jobs inside `workdir` (for the demo configs also the
    generated sample dataset). With `data_from`, data, cache and dataset are that folder's (jobs stay in workdir):
    tests share stages whose outputs another run already made."""
    data = data_from or workdir
    argv = [
        sys.executable,
        "-m",
        "pipeline.submit",
        str(config),
        "--jobs-dir",
        str(workdir / "jobs"),
        "--profile-set",
        f"data_dir={data / 'data'}",
        "--profile-set",
        f"cache_dir={data / 'cache'}",
        *extra,
    ]
    if str(config).startswith("config/") and Path(config).stem in (
        "demo",
        "smoke",
        "smoke_repeatability",
        "smoke_compare",
    ):
        argv += ["--set", f"dataset.root={data / 'datasets' / 'sample'}"]
    return subprocess.run(argv, capture_output=True, text=True, cwd=PROJECT, env={**os.environ, **(env or {})})


def plan_of(workdir: Path, run: str) -> dict:
    return json.loads((workdir / "jobs" / run / "plan.json").read_text())


def files_of(folder: Path) -> dict:
    """Every file below `folder` and its bytes: to show that a refused command wrote nothing."""
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def live_jobs_refusal(run: str, run_dir: Path, jobs: str, record: dict) -> str:
    """The line a submit stops with while the run's SLURM jobs `jobs` (as listed) from the submit `record` are
    queued or running (pipeline/run_lock.py)."""
    from pipeline.run_lock import when

    return (
        f"error: run {run}: its SLURM jobs are still queued or running: {jobs} (submitted by pid {record['pid']} on "
        f"{record['host']} at {when(record['submitted'])}); wait for them to end, follow them with "
        f"`python -m pipeline.status {run_dir}`, or submit again with --take-over to cancel them and submit anew"
    )


def output_dir(workdir: Path, run: str, stage: str) -> Path:
    plan = plan_of(workdir, run)
    return Path(plan["jobs"][plan["runs"][run][stage]]["output_dir"])


@pytest.fixture(scope="session")
def smoke_run(tmp_path_factory) -> Path:
    """One real smoke run (config/smoke.yaml: 20 short sample clips, MediaPipe, 20 training steps; about a
    minute), finished, shared by the tests that need one: they read it or add runs beside it, never change it."""
    if not (HAS_MEDIAPIPE and HAS_TRAINER):
        pytest.skip("the smoke run needs .venvs/mediapipe and .venvs/trainer: python -m pipeline.build --runtime venv")
    work = tmp_path_factory.mktemp("smoke")
    proc = submit("config/smoke.yaml", work)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return work


@dataclass
class TrainedDemo:
    work: Path  # runs `demo` and `control` (preprocess.control shuffle), their data and cache
    control_stdout: str  # what submitting the control printed


DEMO_CONTROL = ["--set", "preprocess.control=shuffle", "--set", "name=control"]


@pytest.fixture(scope="session")
def trained_demo(tmp_path_factory) -> TrainedDemo:
    """The demo (config/demo.yaml) and its shuffled control, trained once per session for every slow test that
    needs a model that learns (tests/test_learnability.py, tests/test_use_a_model.py).

    The data stages first: both runs share prepare and estimate (estimated once), each has its own preprocess.
    Then the two trainings side by side with one torch thread each (the learnability benchmark's 1-thread axis;
    `make demo` uses torch's default threads): on two cores that halves the training time."""
    if not (HAS_MEDIAPIPE and HAS_TRAINER):
        pytest.skip("the demo needs .venvs/mediapipe and .venvs/trainer: python -m pipeline.build --runtime venv")
    work = tmp_path_factory.mktemp("demo")
    for name, extra in (("data", []), ("data-control", DEMO_CONTROL)):
        proc = submit("config/demo.yaml", work, "--until", "preprocess", "--set", f"name={name}", *extra)
        assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    one_thread = ["--set", "training.torch_threads=1"]
    with ThreadPoolExecutor(max_workers=2) as pool:
        demo, control = pool.map(
            lambda extra: submit("config/demo.yaml", work, *one_thread, *extra), ([], DEMO_CONTROL)
        )
    assert demo.returncode == 0, demo.stdout[-3000:] + demo.stderr[-3000:]
    assert control.returncode == 0, control.stdout[-3000:] + control.stderr[-3000:]
    return TrainedDemo(work, control.stdout)


def wait_for(predicate, what: str, timeout: float = 600.0) -> None:
    """Poll until `predicate()` holds (a condition, not a fixed sleep); fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.2)


def first_progress(log_text: str, total: int) -> int:
    """The first non-zero step of the trainer's progress bar (tqdm: ` 104/600 [00:00<...`). Resuming from
    checkpoint-N, the bar jumps straight to N or beyond; training from scratch counts up from 1."""
    import re

    steps = [int(n) for n in re.findall(rf"(\d+)/{total} \[", log_text) if int(n) > 0]
    return steps[0] if steps else 0


def tar_gz_bytes(members: dict[str, bytes]) -> bytes:
    """A .tar.gz archive, in memory, of the given member names and contents."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


@pytest.fixture
def http_files():
    """A file server on loopback (no other network): serves `state["files"][path]` (bytes) with Range support,
    404 for anything else; `state["cut"][path] = n` makes the next plain GET of `path` send n bytes and hang up;
    `state["fail"][path] = [503, ...]` answers the next GETs of `path` with those statuses first;
    `state["refuse_python"] = True` answers 403 to Python's default User-Agent (`Python-urllib/...`), as the host
    of the pre-estimated poses does. `state["ranges"]` records (path, start) of every Range request,
    `state["agents"]` every User-Agent. Yields (state, base URL)."""
    state = {"files": {}, "cut": {}, "fail": {}, "ranges": [], "gets": [], "agents": [], "refuse_python": False}

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):
            body = state["files"].get(self.path)
            state["gets"].append(self.path)
            agent = self.headers.get("User-Agent", "")
            state["agents"].append(agent)
            if state["refuse_python"] and agent.startswith("Python-urllib"):
                self.send_error(403, "Forbidden")
                return
            if state["fail"].get(self.path):
                self.send_error(state["fail"][self.path].pop(0))
                return
            if body is None:
                self.send_error(404, "Not Found")
                return
            start, header = 0, self.headers.get("Range")
            if header:
                start = int(header.split("=")[1].split("-")[0])
                state["ranges"].append((self.path, start))
                self.send_response(206)
                self.send_header("Content-Range", f"bytes {start}-{len(body) - 1}/{len(body)}")
            else:
                self.send_response(200)
            self.send_header("Content-Length", str(len(body) - start))
            self.end_headers()
            cut = state["cut"].pop(self.path, None) if not header else None
            if cut is not None:
                self.wfile.write(body[:cut])
                self.wfile.flush()
                self.connection.shutdown(2)
                return
            self.wfile.write(body[start:])

        def log_message(self, *args):
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield state, f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()


SCORED_AS_WRITTEN = """
import json, sys
from pathlib import Path
from sacrebleu.tokenizers.tokenizer_13a import Tokenizer13a
from pipeline.stages.evaluate import read_hypotheses
hyps = read_hypotheses(Path(sys.argv[1]))
tok = Tokenizer13a()
print(json.dumps({"result": [len(hyps), sum(len(tok(h).split()) for h in hyps), sum(bool(h.strip()) for h in hyps)]}))
"""


def assert_scored_as_written(translate_dir: Path, evaluate_dir: Path, test_sentences: int) -> dict:
    """The chain's score is of what it wrote, whatever the model learned: one hypothesis per test sentence,
    sacrebleu's unigram total equal to the hypotheses' 13a tokens, the signature naming the tokenizer, and chrF
    above zero where anything was written (a broken chain, scoring another file or nothing, fails here).
    Returns the BLEU score's JSON."""
    hyps, tokens, written = run_in(
        "trainer", SCORED_AS_WRITTEN, str(Path(translate_dir) / "generated_predictions.txt")
    ).result
    bleu = json.loads((Path(evaluate_dir) / "test_score.bleu").read_text())
    chrf = json.loads((Path(evaluate_dir) / "test_score.chrf").read_text())
    assert hyps == test_sentences, (hyps, test_sentences)
    assert bleu["totals"][0] == tokens and "tok:13a" in bleu["signature"], bleu
    assert (chrf["score"] > 0) == (written > 0) or written == 0, chrf
    return bleu
