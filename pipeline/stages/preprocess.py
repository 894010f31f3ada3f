"""preprocess: manifests + poses → MultimodalHugs TSVs `{train,validation,test}.tsv` and the measured feature dim.

TSV columns: signal (absolute .pose path, valid in every container since paths are bound in place),
signal_start, signal_end (milliseconds, MultimodalHugs' default unit; 0/0 = the whole file: examples that are
segments of a long video carry their times, checked to lie within the pose file), encoder_prompt, decoder_prompt
(per row `__<lang>__` where the corpus gives languages, else the configured prompts; all used go to prompts.json),
output.
Poses come from our estimate job (`<poses_dir>/<id>.pose`), from a downloaded archive (fetched and extracted here,
once per pose type: pipeline.archives.fetch_tree) or from a folder, both `{train,validation|dev,test}/<id>.pose`.
Every pose file is read once, in worker processes (the task's CPUs): its header is checked against its pose type
and its set, and a file with several people is reduced to the signer (see pose_checks.py; the TSV then points at the
reduced copy under `poses/`). Only a few numbers per file are kept, so memory does not grow with the corpus.
Training and validation examples longer than `model.max_frames` are left out here, counted as MultimodalHugs'
pose2text dataset counts them (`mmh_frames`), and listed in problems.txt: the trainer's config then carries no
`max_frames`, so MultimodalHugs' setup does not read every pose file again to filter them (the test split is never
filtered, as in MultimodalHugs).
Examples without a pose, with an empty text, with a header that does not fit, and pose files whose id has no text
are left out *and reported* (problems.txt, counts in the log);
if more than `max_missing_fraction` of a split is left out, the stage fails.
With `control: shuffle` the poses are permuted across the examples of each split, none keeping its own (a
seeded derangement): a model trained on that must not learn, which shows a real run's score comes from the poses.
With `pose_noise: SIGMA` every kept pose is copied to `poses/` with seeded Gaussian noise (see pose_noise.py): a
robustness check (benchmarks/learnability.py), never part of an ordinary run.
The feature dimension is measured by loading a real pose file through MultimodalHugs' own PoseModalityProcessor
(hide legs, reduce_holistic for MediaPipe, flatten), so the trainer config never trusts a table.
This module gathers each split's examples, checks the pose files and decides which examples are left out; the rows,
the counts, the refusal and the closing report are preprocess_rows.py's.
"""

from __future__ import annotations

import functools
import json
import multiprocessing
import os
import signal
import sys
from contextlib import contextmanager
from dataclasses import dataclass, field
from multiprocessing.pool import Pool
from pathlib import Path
from typing import Iterator, Optional

from pipeline.errors import UserError
from pipeline.stages.entry import stage_main
from pipeline.stages.manifest import SPLITS, Example, read_manifest
from pipeline.stages.pose_checks import CheckedPose, check_pose_file, describe, measure_feat_dim
from pipeline.stages.preprocess_rows import (
    build_rows,
    refuse_if_too_many_left_out,
    report_noise,
    report_problems,
    write_prompts,
    write_split,
)
from pipeline.stages.specs import PreprocessSpec, download_kwargs


def read_failures(poses_dir: Path) -> dict[str, str]:
    reasons = {}
    for f in sorted(Path(poses_dir).glob("failures.shard-*.tsv")):
        for line in f.read_text().splitlines():
            if "\t" in line:
                example_id, reason = line.split("\t", 1)
                reasons[example_id] = reason
    return reasons


def pose_tree(spec: PreprocessSpec) -> Path:
    """The folder holding the poses: the estimate job's output, the extracted download, or the user's folder."""
    poses = Path(spec.poses_dir)
    if spec.pose_source == "manifest":  # every example's media is its pose file
        return Path(spec.manifest_dir)
    if spec.pose_source == "download":
        from pipeline.archives import fetch_tree, normalise_splits

        if spec.poses is None or not spec.poses.url:
            raise UserError("preprocess spec: pose_source download without poses.url (a plan bug)")
        return fetch_tree(spec.poses.url, poses, spec.sha256, normalise_splits, download_kwargs(spec.download))
    if not poses.is_dir():
        raise UserError(f"estimate.folder {poses}: no such folder (expected {{train,dev|validation,test}}/<id>.pose)")
    return poses


def split_folder(tree: Path, split: str, source: str) -> Path:
    if source in ("estimate", "manifest"):
        return tree
    for name in (split, "dev") if split == "validation" else (split,):
        if (tree / name).is_dir():
            return tree / name
    raise UserError(
        f"{tree}: no {split}/ folder{' (nor dev/)' if split == 'validation' else ''}; expected "
        f"{{train,dev|validation,test}}/<id>.pose"
    )


def pose_file_of(ex, folder: Path, source: str) -> str:
    """The pose file of an example: its media when that is a pose file, else the estimated (or given) one.
    (Strings, not Paths: this runs for every example of a corpus of tens of thousands.)"""
    if source in ("estimate", "manifest") and ex.media.endswith(".pose"):
        return ex.media
    return os.path.join(folder, f"{ex.pose_name if source == 'estimate' else ex.id}.pose")


def segment_problem(ex, frames: int, fps: float) -> str | None:
    """Why the example's segment does not lie within its pose file of `frames` at `fps` (None when it does)."""
    fps = fps or 1.0
    duration = frames / fps
    if ex.end > duration + 1.0 / fps:
        return (
            f"segment {ex.start:.3f}-{ex.end:.3f} s ends after its pose file ({duration:.3f} s, {frames} frames "
            f"at {fps:g} fps)"
        )
    if int(ex.end * fps) <= int(ex.start * fps):
        return f"segment {ex.start:.3f}-{ex.end:.3f} s holds no frame at {fps:g} fps"
    return None


def check_workers(files: int) -> int:
    """Worker processes for the pose checks: the task's CPUs (SLURM's allocation, else this process's), at most
    one per file."""
    from pipeline.stages.pose_workers import task_cpus

    return max(1, min(task_cpus(), files))


def _default_signals() -> None:
    """A worker dies on TERM, as the pool expects: the stage's own handlers (stage_main: save and stop) are its
    parent's business."""
    for sig in (signal.SIGTERM, signal.SIGUSR1):
        signal.signal(sig, signal.SIG_DFL)


def _measure_or_none(measure, path: str) -> Optional[int]:
    try:
        return measure(path)
    except UserError:  # a bad file: measured again on the set's first good file
        return None


def _check_one(job: tuple) -> CheckedPose:
    return check_pose_file(*job)


@contextmanager
def worker_pool(workers: int) -> Iterator[Optional[Pool]]:
    """`workers` forked processes (None for one: the work runs here). Forked once per stage, before any thread:
    the workers need only this module, already imported (no torch yet)."""
    if workers < 2:
        yield None
        return
    with multiprocessing.get_context("fork").Pool(workers, initializer=_default_signals) as pool:
        yield pool
        pool.close()
        pool.join()


@dataclass
class PoseChecks:
    """The pose files of a run, checked once each (segments of one file share it), and what preprocess says of
    them: the set's header (the first good file's), people reduced, headers renamed, and the feature dimension the
    trainer will see, measured on the set's first good file."""

    pose_type: str
    out: Path
    noise: float
    reduce_holistic: bool
    files: dict[str, CheckedPose] = field(default_factory=dict)  # source path -> its check
    first: Optional[tuple] = None  # (example id, signature) of the set's first good file
    feat_dim: Optional[int] = None
    feat_from: Optional[CheckedPose] = None  # the file it was measured on

    def check(self, wanted: list[tuple], workers: int) -> None:
        """Check every (source, split, name) of `wanted` not checked yet, in `workers` processes, progress to the
        log. The feature dimension is measured in the same pool on the first good file, while checks go on (it
        imports MultimodalHugs and torch: seconds of one CPU)."""
        from tqdm import tqdm

        tqdm.monitor_interval = 0  # no monitor thread: the pool forks this process
        jobs = []
        for source, split, name in wanted:
            if source not in self.files:
                self.files[source] = CheckedPose(source, source, "pending")  # once, however many segments
                copy = os.path.join(self.out, "poses", split, f"{name}.pose")
                jobs.append((source, copy, self.pose_type, self.noise, name))
        print(f"checking {len(jobs)} pose file(s) with {workers} worker(s)", flush=True)
        measure = functools.partial(measure_feat_dim, reduce_holistic=self.reduce_holistic)
        with worker_pool(workers) as pool:
            # queued first, so one worker measures while the others check: on the first file as given, which is
            # what is trained on unless it turns out bad or needs a copy (then it is measured again below)
            early = pool.apply_async(_measure_or_none, (measure, jobs[0][0])) if pool and jobs else None
            chunks = max(1, min(256, len(jobs) // (workers * 8)))
            results = pool.imap(_check_one, jobs, chunksize=chunks) if pool else map(_check_one, jobs)
            for checked in tqdm(results, total=len(jobs), unit="file", mininterval=10, file=sys.stdout, ncols=100):
                self.files[checked.source] = checked
                if self.feat_from is None and not checked.problem:
                    self.feat_from = checked
            if early is not None and self.feat_from is not None and self.feat_from.path == jobs[0][0]:
                self.feat_dim = early.get()
        if self.feat_dim is None and self.feat_from is not None:
            self.feat_dim = measure(self.feat_from.path)

    def problem(self, source: str, example_id: str) -> Optional[str]:
        """Why the example whose pose is `source` cannot use it: its own problem, or a header unlike the set's."""
        checked = self.files[source]
        if checked.problem:
            return checked.problem
        if self.first is None:
            self.first = (example_id, checked.signature)
        if checked.signature != self.first[1]:
            if checked.path != checked.source:  # its copy is never trained on
                Path(checked.path).unlink(missing_ok=True)
            return (
                f"header differs from the set's ({self.first[0]}): {describe(checked.signature)} vs "
                f"{describe(self.first[1])} in {source}"
            )
        return None

    def report(self) -> None:
        usable = [c for c in self.files.values() if not c.problem]
        several = [c for c in usable if c.people > 1]
        print(
            f"several people: {sum(c.frames_with_several for c in several)} frame(s) of {len(several)} example(s) "
            f"had more than one person; reduced to the signer's track",
            flush=True,
        )
        renamed = sum(c.renamed for c in usable)
        if renamed:
            print(
                f"header names: {renamed} pose file(s) of {self.pose_type} renamed to names pose-format knows, "
                f"points unchanged (pipeline/pose_headers.py); the TSVs point at the copies in {self.out / 'poses'}",
                flush=True,
            )

    def several_people(self) -> dict:
        several = [c for c in self.files.values() if not c.problem and c.people > 1]
        return {"examples": len(several), "frames": sum(c.frames_with_several for c in several)}


@dataclass
class SplitExamples:
    """One split as its manifest gives it: the examples, each one's pose file and the reason it is left out before
    any pose file is read (None: its pose is to be checked), and the pose files no example names (orphans)."""

    split: str
    examples: list[Example]
    poses: list[str]
    reasons: list[Optional[str]]  # per example, in order (ids may repeat: each row is reported)
    orphans: list[Path]

    def wanted(self) -> list[tuple]:
        """(pose file, split, pose name) of every example still in, in order: what the pose checks read."""
        return [
            (pose, self.split, ex.pose_name)
            for ex, pose, reason in zip(self.examples, self.poses, self.reasons)
            if reason is None
        ]


def early_reason(ex: Example, pose: str, source: str, failures: dict[str, str]) -> Optional[str]:
    """Why the example is left out before its pose file is read: the manifest's problem, no pose file (with the
    estimate job's reason where it recorded one), or an empty text; None when its pose is to be checked."""
    if ex.problem:
        return ex.problem
    if not os.path.exists(pose):
        missing = failures.get(ex.pose_name, "not estimated") if source == "estimate" else f"no {pose}"
        return f"no pose ({missing})"
    return None if ex.text.strip() else "empty text"


def gather_split(spec: PreprocessSpec, tree: Path, split: str, failures: dict[str, str]) -> SplitExamples:
    """Read the split's manifest and find each example's pose file, its early reason, and the split's orphan
    poses (pose files of a download or folder whose id has no text)."""
    source = spec.pose_source
    examples = read_manifest(Path(spec.manifest_dir) / f"{split}.tsv")
    folder = split_folder(tree, split, source)
    texts = {ex.id for ex in examples}
    # with dataset.limit the manifest holds only the first N: the other poses have texts we did not read
    check_orphans = source in ("download", "folder") and not spec.dataset_limit
    orphans = sorted(p for p in folder.glob("*.pose") if p.stem not in texts) if check_orphans else []
    poses = [pose_file_of(ex, folder, source) for ex in examples]
    reasons = [early_reason(ex, pose, source, failures) for ex, pose in zip(examples, poses)]
    return SplitExamples(split, examples, poses, reasons, orphans)


def resolve_split(
    gathered: SplitExamples, checks: PoseChecks
) -> list[tuple[Example, Optional[CheckedPose], Optional[str]]]:
    """Each example of the split with its checked pose file (None where it had none to check) and why it is left
    out (None: kept): its early reason, else its file's problem or a header unlike the set's, else a segment
    outside its file. In manifest order: the set's header is the first good file's."""
    resolved = []
    for ex, pose, reason in zip(gathered.examples, gathered.poses, gathered.reasons):
        checked = None
        if reason is None:
            checked = checks.files[pose]
            reason = checks.problem(checked.source, ex.id)
            if reason is None and ex.is_segment:
                reason = segment_problem(ex, checked.frames, checked.fps)
        resolved.append((ex, checked, reason))
    return resolved


def run(spec: PreprocessSpec) -> dict:
    """Write the three TSVs, problems.txt, prompts.json (the prompts used) and feat_dim.json: every split gathered
    from its manifest, then every pose file checked in one pool of workers, then each split's rows."""
    out = Path(spec.output_dir)
    noise = float(spec.pose_noise or 0.0)
    tree = pose_tree(spec)
    failures = read_failures(tree) if spec.pose_source == "estimate" else {}
    splits = [gather_split(spec, tree, split, failures) for split in SPLITS]
    wanted = [want for gathered in splits for want in gathered.wanted()]
    checks = PoseChecks(spec.estimator, out, noise, spec.reduce_holistic)
    checks.check(wanted, check_workers(len(wanted)))
    problems: list[str] = []
    prompts: dict[str, set] = {"encoder": set(), "decoder": set()}
    counts: dict[str, dict] = {}
    for gathered in splits:
        built = build_rows(spec, gathered.split, resolve_split(gathered, checks), gathered.orphans, problems, prompts)
        write_split(spec, out, built)
        counts[gathered.split] = built.counts()
        refuse_if_too_many_left_out(spec, out, built, problems)
    report_problems(out, problems, sum(c["longer_than_max_frames"] for c in counts.values()), spec.max_frames)
    write_prompts(out, prompts)
    report_noise(out, noise)
    checks.report()
    # every split kept at least one example (else the stage failed above): the set has a good file, measured
    assert checks.feat_from is not None and checks.feat_dim is not None
    feat_dim = check_feat_dim(spec, out, checks.feat_from, checks.feat_dim)
    return {"examples": counts, "feat_dim": feat_dim, "several_people": checks.several_people()}


def check_feat_dim(spec: PreprocessSpec, out: Path, sample: CheckedPose, feat_dim: int) -> int:
    """Write feat_dim.json (the trainer's feature dimension, measured on `sample`) and check it against the header
    (a file storing something else than it declares fails here, not in training)."""
    expected = spec.expected_feat_dim if sample.points == spec.points else sample.points * spec.dims
    declared = None if spec.reduce_holistic else sample.points * spec.dims
    (out / "feat_dim.json").write_text(
        json.dumps(
            {
                "feat_dim": feat_dim,
                "measured_from": sample.path,
                "reduce_holistic": spec.reduce_holistic,
                "expected": expected,
            }
        )
        + "\n"
    )
    if declared and feat_dim != declared:
        raise UserError(
            f"{sample.path}: the trainer sees {feat_dim} features per frame but the header declares "
            f"{sample.points} points x {spec.dims} dims = {declared}; the file stores something else "
            f"than its header says"
        )
    note = "" if feat_dim == expected else f" (the registry expected {expected}: check the pose type's layout)"
    print(f"feature dimension: {feat_dim}, measured from {sample.path}{note}", flush=True)
    return feat_dim


if __name__ == "__main__":
    stage_main(run)
