"""The login-node checks `submit` runs before anything is queued, and `submit --dry-run` reports as warnings.

What the login node can see and a job would otherwise find out only after its wait in the queue: the dataset root
and, per layout, its split files and the columns `dataset.columns` names; `estimate.folder`; the images (or venvs)
of the jobs still to run; a writable `data_dir`; whether the images run on the profile's GPUs (gpu_fit.py).
Each problem is one line, `FILE: key: what, fix`. `notes` are things that could not be checked.
"""

from __future__ import annotations

import csv
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from pipeline.gpu_fit import fit_problems
from pipeline.paths import CONFIG_DIR, PROJECT_ROOT, project_path
from pipeline.plan import Plan
from pipeline.runtime import needed_artifact
from pipeline.schema import SPLITS, Dataset, Profile
from pipeline.stages.specs import PrepareSpec


@dataclass
class Findings:
    problems: list[str] = field(default_factory=list)  # a real submit refuses to go on
    notes: list[str] = field(default_factory=list)  # said, never refused


def check(plan: Plan, profile: Profile, *, create_data_dir: bool) -> Findings:
    """Every check, in the order a user would fix them. `create_data_dir`: make data_dir when it is missing (a
    real submit); otherwise only see whether it could be made."""
    found = Findings()
    found.problems += dataset_problems(plan)
    found.problems += artifact_problems(plan, profile)
    problem = data_dir_problem(profile, create_data_dir)
    if problem:
        found.problems.append(problem)
    problems, notes = fit_problems(plan.jobs.values(), profile)
    found.problems += problems
    found.notes += notes
    return found


def dataset_problems(plan: Plan) -> list[str]:
    """Per run still to prepare: estimate.folder, the dataset root, its split files and their columns."""
    out: list[str] = []
    for exp in plan.experiments.values():
        if exp.estimate.source == "folder" and not project_path(exp.estimate.folder).is_dir():
            out.append(
                f"{exp.source}: estimate.folder: {project_path(exp.estimate.folder)} does not exist (on "
                f"this machine){relative_note(exp.estimate.folder)}; it should hold "
                f"{{train,dev|validation,test}}/<id>.pose"
            )
        prepare = plan.jobs[plan.runs[exp.name]["prepare"]]
        if exp.dataset.layout == "sample" or exp.dataset.url or not prepare.missing_tasks():
            continue  # generated or fetched by prepare, or prepared already: not read again
        assert isinstance(prepare.spec, PrepareSpec)
        root = Path(prepare.spec.dataset.root)
        if not root.is_dir():
            out.append(
                f"{exp.source}: dataset.root: {root} does not exist (on this machine)"
                f"{relative_note(exp.dataset.root)}; point it at your copy, e.g. "
                f"--set dataset.root=/data/PHOENIX-2014-T-release-v3/PHOENIX-2014-T"
            )
            continue
        out += [f"{exp.source}: {p}" for p in split_problems(exp.dataset, root)]
    return list(dict.fromkeys(out))  # runs of a sweep share their dataset: say it once


def relative_note(configured: str) -> str:
    if not configured or Path(configured).expanduser().is_absolute():
        return ""
    return (
        f"; {configured} is relative to the project root {PROJECT_ROOT}, not to the config file or to the "
        f"working directory"
    )


def split_problems(ds: Dataset, root: Path) -> list[str]:
    """`key: what, fix` for each split file of the layout that is missing or lacks a column prepare reads."""
    from pipeline.stages.corpus import HOW2SIGN_SPLITS, sniff_delimiter
    from pipeline.stages.datasets import OFFICIAL_COLUMNS, corpus_csv, find_annotations

    if ds.layout == "official":
        missing = [corpus_csv(root, split) for split in SPLITS if not corpus_csv(root, split).is_file()]
        if missing:
            return [
                f"dataset.root: {missing[0]} does not exist; point dataset.root at the PHOENIX-2014-T folder of "
                f"the release (annotations/manual/ and features/), or set dataset.layout"
            ]
        return [
            f"dataset.root: {corpus_csv(root, split)}:1: expected the header {'|'.join(OFFICIAL_COLUMNS)}"
            for split in SPLITS
            if header_of(corpus_csv(root, split), "|") != OFFICIAL_COLUMNS
        ]
    if ds.layout == "annotations":
        if find_annotations(root) is None:
            return [
                f"dataset.root: no {corpus_csv(Path(), 'train')} at or below {root}; point dataset.root at the "
                f"extracted annotations archive, or set dataset.url"
            ]
        return []
    if ds.layout == "videos":
        needed = [p for s in SPLITS for p in (root / s, root / f"PHOENIX-2014-T.{s}.corpus_poses.tsv")]
        missing = [p for p in needed if not p.exists()]
        if missing:
            return [
                f"dataset.root: {missing[0]} does not exist; the videos layout has {{split}}/*.mp4 and "
                f"PHOENIX-2014-T.{{split}}.corpus_poses.tsv per split"
            ]
        return []
    if ds.layout == "how2sign":
        return [
            f"dataset.root: no how2sign_realigned_{name}.csv at or below {root}; point dataset.root at your "
            f"How2Sign download"
            for name in HOW2SIGN_SPLITS.values()
            if next(root.rglob(f"how2sign_realigned_{name}.csv"), None) is None
        ]
    if ds.layout != "manifest":
        return []
    out = []
    columns = {"media": "media", "text": "text", **(ds.columns or {})}
    for split in SPLITS:
        name = (ds.splits or {}).get(split)
        if not name:
            continue  # the config check already refused it
        path = root / name
        if not path.is_file():
            out.append(f"dataset.splits.{split}: {path} does not exist; name a file below dataset.root ({root})")
            continue
        with open(path, newline="", encoding="utf-8") as handle:
            first = handle.readline()
        header = header_of(path, sniff_delimiter(first))
        for role in ("media", "text", *[r for r in ("start", "end") if r in columns]):
            if columns[role] not in header:
                out.append(
                    f"dataset.columns.{role}: {path} has no column {columns[role]!r}; its header has: "
                    f"{', '.join(header)}"
                )
    return out


def header_of(path: Path, delimiter: str) -> list[str]:
    with open(path, newline="", encoding="utf-8") as handle:
        if delimiter == "|":  # the official CSVs quote nothing
            return next(csv.reader(handle, delimiter=delimiter, quoting=csv.QUOTE_NONE), [])
        return next(csv.reader(handle, delimiter=delimiter), [])


def artifact_problems(plan: Plan, profile: Profile) -> list[str]:
    """The runtime on PATH (local executor) and the image (or venv) of every job still to run."""
    out = []
    containerised = profile.runtime in ("apptainer", "singularity")
    if containerised and profile.executor == "local" and shutil.which(profile.runtime) is None:
        out.append(
            f"{profile.runtime} not found on PATH: install it, or use --runtime venv "
            f"(python -m pipeline.build --runtime venv)"
        )
    seen = set()
    for job in plan.jobs.values():
        if not job.missing_tasks() or job.image in seen:
            continue
        seen.add(job.image)
        path = needed_artifact(profile.runtime, job.image, Path(profile.image_dir), Path(profile.venv_dir))
        if path is not None and not path.exists():
            build = "python -m pipeline.build"
            if profile.name != "local":
                build += f" --profile {profile_arg(profile)}"
            if profile.runtime != "apptainer":
                build += f" --runtime {profile.runtime}"
            out.append(
                f"{job.stage} needs the {job.image!r} {'venv' if profile.runtime == 'venv' else 'image'}"
                f" at {path}, which does not exist; build it with: {build} {job.image}"
            )
    return out


def profile_arg(profile: Profile) -> str:
    """How to name the profile on a command line: its name when it is in config/clusters/, else its file."""
    return profile.name if (CONFIG_DIR / "clusters" / f"{profile.name}.yaml").is_file() else profile.source


def data_dir_problem(profile: Profile, create: bool) -> str | None:
    """None when data_dir can be written (tried: permission bits say nothing to root or to ACLs)."""
    data_dir = Path(profile.data_dir)
    target = data_dir
    try:
        if create:
            data_dir.mkdir(parents=True, exist_ok=True)
        else:  # a dry run makes nothing: try the nearest folder that exists
            while not target.exists() and target != target.parent:
                target = target.parent
        tempfile.TemporaryFile(dir=target).close()
    except OSError as exc:
        return (
            f"{profile.source or profile.name}: data_dir: {data_dir} cannot be written ({exc.strerror}); "
            f"set data_dir (--profile-set data_dir=PATH)"
        )
    return None
