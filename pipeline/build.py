"""`python -m pipeline.build [IMAGE ...]`: build the stage images once (Apptainer) or their virtualenvs.

    python -m pipeline.build --profile uzh mediapipe trainer   # the images a MediaPipe run needs, into its image_dir
    python -m pipeline.build --profile uzh trainer --fakeroot   # one image, unprivileged build
    python -m pipeline.build --runtime venv       # .venvs/<image> from the same pinned requirements (laptop, CI)

Without --profile it builds for the local profile: its runtime is venv, so venvs (mediapipe, trainer), not images;
without IMAGE names, every image of that runtime (for Apptainer also the MMPose and OpenPifPaf images). It says
which on its first line.

An image (or venv) newer than its .def and requirements file is skipped unless --force. Each build records its
sha256 (image file; for a venv, its `pip freeze`) and build time in `<dir>/manifest.json`, which runs copy into
their provenance.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

from pipeline.archives import sha256
from pipeline.config import load_profile
from pipeline.errors import UserError, run_cli
from pipeline.paths import PROJECT_ROOT
from pipeline.pose_types import ALL_IMAGES, ESTIMATORS, TRAINER_IMAGE, VENV_IMAGES
from pipeline.runtime import image_path, venv_python

CONTAINERS = PROJECT_ROOT / "containers"
MMH_PIN = "multimodalhugs==0.5.4"
MMH_GIT = "git+https://github.com/GerrySant/multimodalhugs@v0.5.4"  # tag v0.5.4 = commit 41329ba
SHARED_WHEELS = PROJECT_ROOT.parent / "shared" / "wheels"


def sources(image: str) -> list[Path]:
    return [CONTAINERS / f"{image}.def", CONTAINERS / f"{image}.requirements.txt"]


def is_fresh(target: Path, image: str) -> bool:
    return target.exists() and all(target.stat().st_mtime >= s.stat().st_mtime for s in sources(image) if s.exists())


def record(manifest: Path, image: str, **facts) -> None:
    data = json.loads(manifest.read_text()) if manifest.exists() else {}
    data[image] = {"built": time.strftime("%Y-%m-%dT%H:%M:%S%z"), **facts}
    manifest.parent.mkdir(parents=True, exist_ok=True)
    manifest.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")


def mmh_install_args() -> list[str]:
    """pip arguments installing MultimodalHugs without its deps: the shared wheel when present, else git."""
    if SHARED_WHEELS.is_dir() and any(SHARED_WHEELS.glob("multimodalhugs-*.whl")):
        return ["--no-deps", "--find-links", str(SHARED_WHEELS), MMH_PIN]
    return ["--no-deps", MMH_GIT]


def build_venv(image: str, venv_dir: Path, force: bool) -> None:
    target = venv_dir / image
    stamp = target / ".built"
    if is_fresh(stamp, image) and not force:
        print(f"{image}: venv {target} is up to date, skipped")
        return
    if image not in VENV_IMAGES:
        raise UserError(
            f"{image}: its venv needs CUDA wheels/model downloads from outside PyPI; build it on the "
            f"cluster (python -m pipeline.build --profile <site> {image}); venvs here: {', '.join(VENV_IMAGES)}"
        )
    print(f"{image}: creating {target} from {CONTAINERS / (image + '.requirements.txt')}", flush=True)
    subprocess.run([sys.executable, "-m", "venv", "--clear", str(target)], check=True)
    pip = [str(venv_python(venv_dir, image)), "-m", "pip", "install", "--disable-pip-version-check"]
    requirements = CONTAINERS / f"{image}.requirements.txt"
    if subprocess.run(pip + ["-r", str(requirements)]).returncode != 0:
        raise UserError(f"{image}: pip could not install {requirements} into {target}; see pip's output above")
    if image == TRAINER_IMAGE:
        args = mmh_install_args()
        if subprocess.run(pip + args).returncode != 0:
            raise UserError(
                f"could not install MultimodalHugs ({' '.join(args)}); it is not on PyPI: install it by "
                f"hand with {venv_python(venv_dir, image)} -m pip install --no-deps {MMH_GIT}, or put its "
                f"wheel in {SHARED_WHEELS}"
            )
    frozen = subprocess.run(
        [str(venv_python(venv_dir, image)), "-m", "pip", "freeze"], capture_output=True, text=True, check=True
    ).stdout
    (target / "pip-freeze.txt").write_text(frozen)
    stamp.write_text(time.strftime("%Y-%m-%dT%H:%M:%S\n"))
    record(
        venv_dir / "manifest.json",
        image,
        sha256=hashlib.sha256(frozen.encode()).hexdigest(),
        kind="venv",
        path=str(target),
    )
    print(f"{image}: venv ready", flush=True)


def build_image(image: str, runtime: str, image_dir: Path, force: bool, fakeroot: bool) -> None:
    from spython.main import Client  # spython drives apptainer/singularity builds

    target = image_path(image_dir, image)
    if is_fresh(target, image) and not force:
        print(f"{image}: {target} is up to date, skipped")
        return
    image_dir.mkdir(parents=True, exist_ok=True)
    options = ["--fakeroot"] if fakeroot else []
    print(f"{image}: building {target} with {runtime} (minutes; the log follows)", flush=True)
    os.chdir(PROJECT_ROOT)  # %files paths in the .def files are relative to the project
    Client.build(
        recipe=str(CONTAINERS / f"{image}.def"),
        image=str(target),
        build_folder=str(image_dir),
        sudo=False,
        options=options + ["--force"],
        stream=False,
        quiet=False,
    )
    if not target.exists():
        raise UserError(f"{image}: {runtime} build did not produce {target}; see the output above")
    record(image_dir / "manifest.json", image, sha256=sha256(target), kind=runtime, path=str(target))


def parse_args(argv):
    parser = argparse.ArgumentParser(
        prog="python -m pipeline.build",
        description=__doc__.split("\n\n")[0].split(": ", 1)[1],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("images", nargs="*", help=f"images to build (default: all): {', '.join(ALL_IMAGES)}")
    parser.add_argument(
        "--runtime", choices=["apptainer", "singularity", "venv"], help="default: the profile's runtime"
    )
    parser.add_argument("--profile", default=None, help="where images/venvs go (image_dir, venv_dir); default local")
    parser.add_argument("--fakeroot", action="store_true", help="apptainer build --fakeroot (no root needed)")
    parser.add_argument("--force", action="store_true", help="rebuild even when up to date")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    profile = load_profile(args.profile or "local")
    runtime = args.runtime or (profile.runtime if profile.runtime != "host" else "venv")
    unknown = [i for i in args.images if i not in ALL_IMAGES]
    if unknown:
        raise UserError(
            f"unknown image {unknown[0]!r}; images: {', '.join(ALL_IMAGES)} (estimators: {', '.join(ESTIMATORS)})"
        )
    images = args.images or (list(VENV_IMAGES) if runtime == "venv" else ALL_IMAGES)
    where = profile.venv_dir if runtime == "venv" else profile.image_dir
    what = "venvs" if runtime == "venv" else f"{runtime} images"
    print(f"building {what} {', '.join(images)} into {where} (profile {profile.name})", flush=True)
    if args.profile is None:
        print(
            "no --profile: the local profile's; for a cluster's images: python -m pipeline.build --profile <site> "
            "mediapipe trainer",
            flush=True,
        )
    if runtime == "venv":
        for image in images:
            build_venv(image, Path(profile.venv_dir), args.force)
        return 0
    if shutil.which(runtime) is None:
        raise UserError(
            f"{runtime} not found on PATH: install Apptainer (https://apptainer.org/docs/admin/main/"
            f"installation.html; Debian/Ubuntu: the apptainer package), or build venvs instead: "
            f"python -m pipeline.build --runtime venv"
        )
    for image in images:
        build_image(image, runtime, Path(profile.image_dir), args.force, args.fakeroot)
    return 0


if __name__ == "__main__":
    run_cli(main)
