"""`python -m pipeline.fetch_models CONFIG --profile SITE`: fill the cache on a login node (with internet) so that
compute nodes can run with `offline: true` (HF_HUB_OFFLINE=1).

Pre-estimated poses first: for runs with `estimate.source: download` it fetches and extracts each pose type's
archive (and `dataset.url`'s annotations) exactly where the jobs look for them, verified as the jobs do.

Downloads every Hugging Face backbone, tokenizer and BLEURT checkpoint named by the experiment (or sweep) into the
profile's `cache_dir/huggingface`, the HF_HOME the jobs use (add `--trial` for a trial's tiny BLEURT). BLEU and chrF
need nothing (local modules), `tiny-m2m100` and `tiny-bleurt` are built offline, and MediaPipe's models ship in its
wheel. MMPose / OpenPifPaf weights are fetched by their libraries on
first use: run one small estimate on the login node (`--set dataset.limit=1 --until estimate`) to cache them.
Runs itself with .venvs/trainer when huggingface_hub is not importable here.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from pipeline.config import add_profile_set, load_profile
from pipeline.errors import UserError, run_cli
from pipeline.plan import build_plan
from pipeline.sweep import TRIAL_OVERRIDES, load_experiments


def hub_ids(experiments) -> list[str]:
    names = set()
    for exp in experiments:
        for name in (exp.model.pretrained_backbone, exp.model.tokenizer, exp.evaluate.bleurt_checkpoint):
            if (
                name
                and name not in ("tiny-m2m100", "tiny-bleurt")
                and not Path(name).exists()
                and not name.startswith(("/", "."))
            ):
                names.add(name)
    return sorted(names)


def fetch_pose_downloads(experiments, profile) -> int:
    """Fetch every annotations and pose archive the runs' jobs would fetch, into the same folders."""
    from pipeline.archives import fetch_tree, normalise_splits
    from pipeline.stages.specs import PrepareSpec, PreprocessSpec, download_kwargs

    plan, done = build_plan(experiments, profile, until="preprocess"), 0
    for job in plan.jobs.values():
        spec = job.spec
        if isinstance(spec, PrepareSpec) and spec.dataset.layout == "annotations" and spec.dataset.url:
            tree = fetch_tree(
                spec.dataset.url, Path(spec.dataset.root), download_settings=download_kwargs(spec.download)
            )
            print(f"annotations for {', '.join(job.runs)}: {tree}")
            done += 1
        if isinstance(spec, PreprocessSpec) and spec.pose_source == "download" and spec.poses and spec.poses.url:
            tree = fetch_tree(
                spec.poses.url, Path(spec.poses_dir), spec.sha256, normalise_splits, download_kwargs(spec.download)
            )
            print(f"{spec.estimator} poses: {tree}", flush=True)
            done += 1
    return done


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m pipeline.fetch_models", description=__doc__.split("\n\n")[0].split(": ", 1)[1]
    )
    parser.add_argument("config", help="experiment or sweep YAML")
    parser.add_argument("--profile", default="local", help="whose cache_dir to fill (default: local)")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE")
    add_profile_set(parser, "data_dir=/scratch/data")
    parser.add_argument("--trial", action="store_true", help="what `submit --trial` needs (the tiny BLEURT)")
    args = parser.parse_args(argv)
    _, experiments, _ = load_experiments(args.config, (TRIAL_OVERRIDES if args.trial else []) + args.overrides)
    profile = load_profile(args.profile, args.profile_overrides)
    print(f"filling the {profile.name} profile's cache {profile.cache_dir} (data_dir {profile.data_dir})", flush=True)
    if args.profile == "local":
        print("no --profile: the local profile's; for a cluster's jobs give its profile: --profile <site>", flush=True)
    if os.environ.get("PIPELINE_FETCH_POSES_DONE") != "1":
        fetch_pose_downloads(experiments, profile)
    cache = Path(profile.cache_dir) / "huggingface"
    ids = hub_ids(experiments)
    if not ids:
        print("nothing to download: every backbone and tokenizer is local")
        return 0
    os.environ["HF_HOME"] = str(cache)  # read by huggingface_hub at import
    try:
        from huggingface_hub import snapshot_download
    except ImportError:
        root = Path(__file__).resolve().parent.parent
        trainer = root / ".venvs" / "trainer" / "bin" / "python"
        if not trainer.exists():
            raise UserError("needs huggingface_hub: pip install huggingface_hub, or build the trainer venv") from None
        os.execve(
            str(trainer),
            [str(trainer), "-m", "pipeline.fetch_models", *(argv or sys.argv[1:])],
            {**os.environ, "PYTHONPATH": str(root), "PIPELINE_FETCH_POSES_DONE": "1"},
        )
    for repo in ids:
        print(f"downloading {repo} into {cache}", flush=True)
        try:
            print(f"  {snapshot_download(repo)}", flush=True)
        except Exception as exc:  # no network, unknown repo, no permission
            raise UserError(
                f"could not download {repo}: {type(exc).__name__}; run this where the Hugging Face "
                f"hub is reachable (the login node), or point model.pretrained_backbone at a local "
                f"folder"
            ) from None
    print(f"cached {len(ids)} model(s); jobs with `offline: true` will find them")
    return 0


if __name__ == "__main__":
    run_cli(main)
