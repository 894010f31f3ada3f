"""The shared entry point of every stage: read the spec, skip finished work, run, write the marker.

`python -m pipeline.stages.<name> --spec FILE` calls `stage_main(run)`: the spec is loaded into its typed
dataclass (stages/specs.py; a key unknown or missing fails in one line), `run(spec)` does the work and returns
facts for the marker. Set `PIPELINE_FAIL_STAGE=<stage>` to make a stage fail on purpose (tests of failure paths).

A stage run by torchrun (several training processes, pipeline/distributed.py) runs `run(spec)` in every process;
only global rank 0 writes the marker. Its job runs `--setup-only` once before the launch: `stage_main`'s `setup`.

A stage interrupted by its job script (SIGUSR1 before the time limit, or preemption: see compose.py) raises
`Interrupted` once its work is saved: the stage exits with REQUEUE_EXIT and no marker, and the script requeues the
job, which carries on from what was saved.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import time
from pathlib import Path
from typing import Any, Callable

from pipeline.errors import UserError
from pipeline.stages.markers import write_marker
from pipeline.stages.specs import load_spec

REQUEUE_EXIT = 75  # EX_TEMPFAIL: saved, stopped on a signal; the job script requeues the job


class Interrupted(Exception):
    """The stage stopped on SIGUSR1/SIGTERM after saving what it could; run it again to carry on."""


def write_environment(path: Path) -> None:
    """What `pip freeze` would say inside this image (provenance), without a subprocess."""
    from importlib import metadata

    packages = sorted(
        {f"{d.metadata['Name']}=={d.version}" for d in metadata.distributions() if d.metadata["Name"]}, key=str.lower
    )
    path.write_text(f"# python {sys.version.split()[0]} at {sys.executable}\n" + "\n".join(packages) + "\n")


def global_rank() -> int:
    """This process's rank among torchrun's processes (RANK); 0 for a stage run on its own."""
    return int(os.environ.get("RANK") or 0)


def stage_main(
    run: Callable[[Any], dict | None],
    argv: list[str] | None = None,
    setup: Callable[[Any], None] | None = None,
) -> None:
    parser = argparse.ArgumentParser(description=(run.__doc__ or "").strip().splitlines()[0] if run.__doc__ else None)
    parser.add_argument("--spec", required=True, help="the stage's JSON spec, written by pipeline.submit")
    parser.add_argument("--force", action="store_true", help="run even if the completion marker exists")
    parser.add_argument("--limit", type=int, help="only the first N examples (trial runs of estimate)")
    if setup is not None:
        parser.add_argument(
            "--setup-only",
            action="store_true",
            help="only the part a job on several processes runs once before launching them (no marker)",
        )
    args = parser.parse_args(argv)
    try:
        spec = load_spec(json.loads(Path(args.spec).read_text()), args.spec)
    except FileNotFoundError:
        sys.exit(
            f"error: spec file {args.spec} not found (in a container only bound paths exist: is the jobs "
            f"folder bound? pipeline.submit binds it; a hand-written command must too)"
        )
    except UserError as exc:
        sys.exit(f"error: {exc}")
    if args.limit:
        spec.limit_examples(args.limit)
    out = Path(spec.output_dir)
    marker = spec.marker()
    if marker.exists() and not args.force:
        print(f"{spec.stage} {spec.key}: already complete ({marker}); nothing to do", flush=True)
        return
    if os.environ.get("PIPELINE_FAIL_STAGE") == spec.stage:
        print(f"{spec.stage}: failing on purpose (PIPELINE_FAIL_STAGE={spec.stage})", file=sys.stderr)
        sys.exit(3)
    try:
        out.mkdir(parents=True, exist_ok=True)
        probe = out / f".write-test-{os.getpid()}"
        probe.touch()
        probe.unlink()
    except OSError as exc:
        sys.exit(
            f"error: {spec.stage}: cannot write its output folder {out}: {exc.strerror}. In a container only "
            f"bound paths are writable: keep outputs under the profile's data_dir (bound by pipeline.submit)"
        )
    started = time.time()

    def interrupted(signum, _frame):  # a signal before (or between) the stage's own handling of it
        raise Interrupted(f"{signal.Signals(signum).name} before there was anything to save")

    for sig in (signal.SIGUSR1, signal.SIGTERM):
        signal.signal(sig, interrupted)
    setup_only = setup is not None and args.setup_only
    try:
        info = (setup(spec) if setup is not None and setup_only else run(spec)) or {}
    except UserError as exc:
        print(f"error: {spec.stage}: {exc}", file=sys.stderr, flush=True)
        sys.exit(2)
    except Interrupted as exc:
        print(f"{spec.stage} {spec.key}: interrupted ({exc}); not complete, run again to carry on", flush=True)
        sys.exit(REQUEUE_EXIT)
    if setup_only or global_rank() != 0:  # the marker: once the whole stage is done, by rank 0 alone
        return
    write_environment(out / "environment.txt")
    write_marker(
        marker,
        started,
        stage=spec.stage,
        key=spec.key,
        python=sys.executable,
        container=os.environ.get("APPTAINER_CONTAINER") or os.environ.get("SINGULARITY_CONTAINER"),
        **info,
    )
    print(f"{spec.stage} {spec.key}: done in {time.time() - started:.1f}s -> {out}", flush=True)
