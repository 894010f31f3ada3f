"""The images and the profile's GPUs: a Volta profile with the CUDA 13 trainer is refused in one line, a fitting one
passes; GPUs are read from gpu.family or a model named in the GPU options; the build table matches the pins."""

import re
import subprocess
import sys
from pathlib import Path

import pytest

from pipeline.config import load_profile
from pipeline.errors import UserError
from pipeline.gpu_fit import IMAGE_BUILDS, profile_gpu

from conftest import PROJECT


def site_profile(tmp_path: Path, gpu: str) -> Path:
    """A SLURM + Apptainer profile whose images exist (stand-in files) and whose folders are in tmp_path."""
    images = tmp_path / "images"
    images.mkdir(exist_ok=True)
    for image in ("mediapipe", "trainer"):
        (images / f"{image}.sif").write_text("")
    path = tmp_path / "site.yaml"
    path.write_text(
        f"executor: slurm\nruntime: apptainer\ngpu_available: true\ngpu: {gpu}\nimage_dir: {images}\n"
        f"data_dir: {tmp_path / 'data'}\ncache_dir: {tmp_path / 'cache'}\n"
    )
    return path


def submit(tmp_path: Path, profile: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "pipeline.submit", "config/smoke.yaml", "--profile", str(profile)]
        + ["--jobs-dir", str(tmp_path / "jobs"), "--quiet", *args],
        capture_output=True,
        text=True,
        cwd=PROJECT,
    )


def test_a_volta_profile_is_refused_in_one_line_naming_the_gpu_the_image_and_the_fix(tmp_path):
    profile = site_profile(tmp_path, '{gpus: "V100:1"}')
    proc = submit(tmp_path, profile)  # a real submit: refused before anything is written or queued
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == [
        f"error: {profile}: gpu.gpus: V100:1 means a Volta GPU (V100, compute capability 7.0), but the trainer "
        f"image's torch 2.13.0 (CUDA 13.0; kernels for sm_75 and newer) has no kernel for it, so train and "
        f'translate would stop at the first CUDA operation; ask for a newer GPU (e.g. gpu.gpus: "A100:1"), or set '
        f"gpu_available: false"
    ]
    assert not (tmp_path / "jobs").exists()
    dry = submit(tmp_path, profile, "--dry-run")  # a warning on a dry run, an error with --strict
    assert dry.returncode == 0 and "warning: " in dry.stderr and "means a Volta GPU" in dry.stderr
    assert submit(tmp_path, profile, "--dry-run", "--strict").returncode == 2


@pytest.mark.parametrize("gpu", ['{gpus: "A100:1"}', '{gpus: "H100:1"}', '{gres: "gpu:t4:1"}', "{family: ampere}"])
def test_a_profile_whose_gpus_the_images_run_on_is_accepted(tmp_path, gpu):
    proc = submit(tmp_path, site_profile(tmp_path, gpu), "--dry-run", "--strict")
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == ""


def test_gpus_are_read_from_the_family_or_a_model_named_in_the_gpu_options():
    def gpu(**options):
        options = {"per_node": "null", **options}  # generic asks per node; these options ask per job
        found = profile_gpu(load_profile("generic", [f"gpu.{k}={v}" for k, v in options.items()]))
        return found and (found.name, found.family, found.capability, found.key)

    assert gpu(gpus="V100:1") == ("V100", "volta", (7, 0), "gpu.gpus")
    assert gpu(gpus="1", gres="gpu:nvidia_a100-sxm4-80gb:1") == ("A100", "ampere", (8, 0), "gpu.gres")
    assert gpu(gpus="null", constraint="A100|V100") == ("V100", "volta", (7, 0), "gpu.constraint")  # the oldest
    assert gpu(gpus="A10:1")[:3] == ("A10", "ampere", (8, 6)) and gpu(gpus="L40S:1")[1] == "ada"
    assert gpu(gpus="1") is None and gpu(gpus="null", constraint="GPUMEM32GB") is None
    assert gpu(gpus="V100:1", family="hopper") == ("hopper", "hopper", (9, 0), "gpu.family")  # said outright
    assert gpu(per_node="gpus-per-node", model="H100") == ("H100", "hopper", (9, 0), "gpu.model")


def test_an_unknown_gpu_family_is_one_line_naming_the_families():
    with pytest.raises(UserError, match=r"gpu.family: unknown value 'kepler'; allowed: pascal, volta, turing"):
        load_profile("generic", ["gpu.family=kepler"])


def test_the_builds_run_where_their_kernels_or_ptx_reach():
    trainer, openpifpaf = IMAGE_BUILDS["trainer"], IMAGE_BUILDS["openpifpaf"]
    assert not trainer.runs_on((7, 0)) and not trainer.runs_on((6, 0))
    assert all(trainer.runs_on(cc) for cc in [(7, 5), (8, 0), (8, 6), (8, 9), (9, 0), (10, 0), (12, 0), (12, 1)])
    assert openpifpaf.runs_on((7, 0)) and openpifpaf.runs_on((8, 9)) and not openpifpaf.runs_on((9, 0))


@pytest.mark.parametrize("image", sorted(IMAGE_BUILDS))
def test_the_build_table_matches_the_pinned_torch_and_the_image_prints_its_kernels(image):
    pins = (PROJECT / "containers" / f"{image}.requirements.txt").read_text()
    assert re.search(rf"^torch=={re.escape(IMAGE_BUILDS[image].torch)}$", pins, re.M)
    definition = (PROJECT / "containers" / f"{image}.def").read_text()
    test_section = definition.split("%test", 1)[1]
    assert "torch.cuda.get_arch_list()" in test_section and "torch.version.cuda" in test_section
