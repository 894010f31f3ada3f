"""Do the images run on the GPUs a profile asks for? Two small tables and one check, read on the login node.

A PyTorch build carries compiled kernels (SASS) for a list of GPU architectures, `torch.cuda.get_arch_list()`,
plus PTX for the newest one when its list ends in `+PTX`. A GPU of compute capability X.Y runs it when the list
holds sm_X.Z with Z <= Y (SASS runs on later GPUs of the same major version) or PTX for X.Y or older (the driver
compiles it); otherwise the first CUDA operation stops with "no kernel image is available for execution on the
device". A CUDA 13 build also needs an NVIDIA driver of the 580 series or newer.

`IMAGE_BUILDS` says what each image's pinned torch is (containers/<image>.requirements.txt; tests check that the
versions agree, and each image's %test prints its arch list and CUDA version). Its arch lists are PyTorch's
release settings (`TORCH_CUDA_ARCH_LIST` in pytorch's .ci/manywheel/build_cuda.sh, 13.0 on x86_64:
"7.5;8.0;8.6;9.0;10.0;12.0+PTX"; pytorch/pytorch issue 172352: Volta left the CUDA 12.8 builds in 2.11).

A profile says which GPU its jobs get with `gpu.family` (a key of `FAMILIES`), or names a model in `gpu.model`,
`gpu.gpus`, `gpu.gres` or `gpu.constraint` (`A100`, `V100:1`, `gpu:a100:1`, `A100|H100`): the oldest GPU named is
the one checked, since the job may land on any of them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Optional

from pipeline.schema import Profile

# GPU family -> the lowest compute capability of its data-centre and workstation GPUs
FAMILIES: dict[str, tuple[int, int]] = {
    "pascal": (6, 0),
    "volta": (7, 0),
    "turing": (7, 5),
    "ampere": (8, 0),
    "ada": (8, 9),
    "hopper": (9, 0),
    "blackwell": (10, 0),
}
# GPU models as sites name them in --gpus / --gres / --constraint -> (family, compute capability)
MODELS: dict[str, tuple[str, tuple[int, int]]] = {
    "P100": ("pascal", (6, 0)),
    "P40": ("pascal", (6, 1)),
    "GTX1080": ("pascal", (6, 1)),
    "V100": ("volta", (7, 0)),
    "TITANV": ("volta", (7, 0)),
    "T4": ("turing", (7, 5)),
    "RTX2080": ("turing", (7, 5)),
    "TITANRTX": ("turing", (7, 5)),
    "A100": ("ampere", (8, 0)),
    "A30": ("ampere", (8, 0)),
    "A40": ("ampere", (8, 6)),
    "A10": ("ampere", (8, 6)),
    "A6000": ("ampere", (8, 6)),
    "RTX3090": ("ampere", (8, 6)),
    "L4": ("ada", (8, 9)),
    "L40": ("ada", (8, 9)),
    "RTX4090": ("ada", (8, 9)),
    "H100": ("hopper", (9, 0)),
    "H200": ("hopper", (9, 0)),
    "GH200": ("hopper", (9, 0)),
    "B200": ("blackwell", (10, 0)),
    "GB200": ("blackwell", (10, 0)),
    "RTX5090": ("blackwell", (12, 0)),
}
# a model name standing alone: "A10" is not in "A100", "T4" not in "RTX4090"; "V100S", "L40S", "H100NVL" match
MODEL_PATTERN = re.compile(r"(?<![A-Z0-9])(" + "|".join(sorted(MODELS, key=len, reverse=True)) + r")(?![0-9])")


@dataclass(frozen=True)
class Build:
    """An image's PyTorch build: its kernels, the PTX it carries, the CUDA it was built with and the driver that
    CUDA needs."""

    torch: str
    cuda: str
    archs: tuple[tuple[int, int], ...]  # SASS: sm_XY
    ptx: Optional[tuple[int, int]]  # compute_XY: any newer GPU JIT-compiles it
    min_driver: str

    def runs_on(self, cc: tuple[int, int]) -> bool:
        if any(major == cc[0] and minor <= cc[1] for major, minor in self.archs):
            return True
        return self.ptx is not None and cc >= self.ptx

    def describe(self) -> str:
        return f"torch {self.torch} (CUDA {self.cuda}; kernels for {arch_name(min(self.archs))} and newer)"


# containers/<image>.requirements.txt pins; PyPI's default build for that version on Linux x86_64
IMAGE_BUILDS: dict[str, Build] = {
    # torch 2.13.0 from PyPI: the CUDA 13.0 build, "7.5;8.0;8.6;9.0;10.0;12.0+PTX"
    "trainer": Build("2.13.0", "13.0", ((7, 5), (8, 0), (8, 6), (9, 0), (10, 0), (12, 0)), (12, 0), "580"),
    # torch 2.1.2 from PyPI: the CUDA 12.1 build, "5.0;6.0;7.0;7.5;8.0;8.6;9.0"
    "mmposewholebody": Build("2.1.2", "12.1", ((5, 0), (6, 0), (7, 0), (7, 5), (8, 0), (8, 6), (9, 0)), None, "525"),
    # torch 2.0.1 from PyPI: the CUDA 11.7 build, "3.7;5.0;6.0;7.0;7.5;8.0;8.6" (no Hopper)
    "openpifpaf": Build("2.0.1", "11.7", ((3, 7), (5, 0), (6, 0), (7, 0), (7, 5), (8, 0), (8, 6)), None, "515"),
}


@dataclass(frozen=True)
class Gpu:
    """The GPU a profile's jobs get, and where the profile said so."""

    name: str  # "V100" or "volta"
    family: str
    capability: tuple[int, int]
    key: str  # gpu.family, gpu.gpus, ...
    value: str


def arch_name(cc: tuple[int, int]) -> str:
    return f"sm_{cc[0]}{cc[1]}"


def profile_gpu(profile: Profile) -> Optional[Gpu]:
    """The oldest GPU the profile may get: from gpu.family, else from a model named in its GPU options."""
    if profile.gpu.family:
        family = profile.gpu.family
        return Gpu(family, family, FAMILIES[family], "gpu.family", family)
    found = []
    for key in ("model", "gpus", "gres", "constraint"):
        value = getattr(profile.gpu, key) or ""
        for model in MODEL_PATTERN.findall(re.sub(r"[_\-\s]", " ", value.upper())):
            family, cc = MODELS[model]
            found.append(Gpu(model, family, cc, f"gpu.{key}", value))
    return min(found, key=lambda g: g.capability, default=None)


def misfit(image: str, gpu: Gpu, stages: list[str], where: str) -> Optional[str]:
    """One line when `image` cannot run on `gpu` (None when it can, or when we know nothing of its build)."""
    build = IMAGE_BUILDS.get(image)
    if build is None or build.runs_on(gpu.capability):
        return None
    return (
        f"{where}: {gpu.key}: {gpu.value} means a {gpu.family.capitalize()} GPU ({gpu.name}, compute capability "
        f"{gpu.capability[0]}.{gpu.capability[1]}), but the {image} image's {build.describe()} has no kernel for "
        f"it, so {' and '.join(stages)} would stop at the first CUDA operation; ask for a newer GPU "
        f'(e.g. gpu.gpus: "A100:1"), or set gpu_available: false'
    )


def gpu_images(jobs) -> dict[str, list[str]]:
    """image -> the stages of the plan's jobs that get a GPU in it (jobs: StageJob-like, with .resources.gpu)."""
    out: dict[str, list[str]] = {}
    for job in jobs:
        if job.resources.gpu and job.stage not in out.setdefault(job.image, []):
            out[job.image].append(job.stage)
    return {image: stages for image, stages in out.items() if stages}


def fit_problems(jobs, profile: Profile) -> tuple[list[str], list[str]]:
    """(problems, notes): a line per image that cannot run on the profile's GPUs; a note when the profile does not
    say which GPUs it gets, so nothing could be checked."""
    images = gpu_images(jobs)
    if not images:
        return [], []
    where = profile.source or profile.name
    gpu = profile_gpu(profile)
    if gpu is None:
        return [], [
            f"{where}: gpu.family: not set and no GPU model named in gpu.model/gpus/gres/constraint, so whether the "
            f"{', '.join(sorted(images))} image(s) run on its GPUs was not checked; set gpu.family "
            f"({', '.join(FAMILIES)})"
        ]
    where = profile.sources.get(gpu.key, where)
    problems = [misfit(image, gpu, stages, where) for image, stages in sorted(images.items())]
    return [p for p in problems if p], []
