"""preprocess: manifests + poses → MultimodalHugs TSVs `{train,validation,test}.tsv` and the measured feature dim.

TSV columns: signal (absolute .pose path, valid in every container since paths are bound in place),
signal_start, signal_end (milliseconds, MultimodalHugs' default unit; 0/0 = the whole file: examples that are
segments of a long video carry their times, checked to lie within the pose file), encoder_prompt, decoder_prompt
(per row `__<lang>__` where the corpus gives languages, else the configured prompts; all used go to prompts.json),
output.
Poses come from our estimate job (`<poses_dir>/<id>.pose`), from a downloaded archive (fetched and extracted here,
once per pose type: pipeline.archives.fetch_tree) or from a folder, both `{train,validation|dev,test}/<id>.pose`.
Every pose file is read: its header is checked against its pose type and its set, and a file with several people
is reduced to the signer (see pose_checks.py; the TSV then points at the reduced copy under `poses/`).
Examples without a pose, with an empty text, with a header that does not fit, and pose files whose id has no text
are left out *and reported* (problems.txt, counts in the log);
if more than `max_missing_fraction` of a split is left out, the stage fails.
With `control: shuffle` the poses are permuted across the examples of each split, none keeping its own (a
seeded derangement): a model trained on that must not learn, which shows a real run's score comes from the poses.
With `pose_noise: SIGMA` every kept pose is copied to `poses/` with seeded Gaussian noise (see pose_noise.py): a
robustness check (benchmarks/learnability.py), never part of an ordinary run.
The feature dimension is measured by loading a real pose file through MultimodalHugs' own PoseModalityProcessor
(hide legs, reduce_holistic for MediaPipe, flatten), so the trainer config never trusts a table.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

from pipeline.errors import UserError
from pipeline.stages.entry import stage_main
from pipeline.stages.manifest import SPLITS, read_manifest
from pipeline.stages.markers import atomic_path
from pipeline.stages.specs import PreprocessSpec, download_kwargs

TSV_COLUMNS = ["signal", "signal_start", "signal_end", "encoder_prompt", "decoder_prompt", "output"]


def measure_feat_dim(pose_file: Path, reduce_holistic: bool) -> int:
    """Features per frame the trainer will see for this pose file."""
    try:
        from multimodalhugs.processors import PoseModalityProcessor
    except ImportError:
        PoseModalityProcessor = None
    if PoseModalityProcessor is not None:
        try:
            tensor = PoseModalityProcessor(reduce_holistic_poses=reduce_holistic)._load_pose(str(pose_file))
        except Exception as exc:  # e.g. pose_hide_legs on a header pose-format does not recognise
            raise UserError(
                f"{pose_file}: MultimodalHugs cannot load this pose file ({type(exc).__name__}: "
                f"{str(exc)[:200]}); the trainer would fail on it the same way"
            ) from None
        return int(tensor.shape[1])
    from pose_format import Pose  # same steps, without MultimodalHugs
    from pose_format.utils.generic import pose_hide_legs
    from pose_format.utils.generic import reduce_holistic as reduce

    with open(pose_file, "rb") as handle:
        pose = Pose.read(handle.read())
    pose_hide_legs(pose)
    if reduce_holistic:
        pose = reduce(pose)
    return pose.header.total_points() * pose.header.num_dims()


def derange_signals(rows: list[dict], seed: int = 0) -> None:
    """Give every row another row's pose (signal, start, end); no row keeps its own. In place."""
    import random

    if len(rows) < 2:
        return
    order = list(range(len(rows)))
    random.Random(seed).shuffle(order)
    signals = [(rows[i]["signal"], rows[i]["signal_start"], rows[i]["signal_end"]) for i in order]
    for k, i in enumerate(order):  # each row in the cycle takes the pose of the next one
        rows[i]["signal"], rows[i]["signal_start"], rows[i]["signal_end"] = signals[(k + 1) % len(order)]


def write_tsv(path: Path, rows: list[dict]) -> None:
    with atomic_path(path) as tmp, open(tmp, "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=TSV_COLUMNS, delimiter="\t", lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)


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
    if spec.pose_source == "download":
        from pipeline.archives import fetch_tree, normalise_splits

        if spec.poses is None or not spec.poses.url:
            raise UserError("preprocess spec: pose_source download without poses.url (a plan bug)")
        return fetch_tree(spec.poses.url, poses, spec.sha256, normalise_splits, download_kwargs(spec.download))
    if not poses.is_dir():
        raise UserError(f"estimate.folder {poses}: no such folder (expected {{train,dev|validation,test}}/<id>.pose)")
    return poses


def split_folder(tree: Path, split: str, source: str) -> Path:
    if source == "estimate":
        return tree
    for name in (split, "dev") if split == "validation" else (split,):
        if (tree / name).is_dir():
            return tree / name
    raise UserError(
        f"{tree}: no {split}/ folder{' (nor dev/)' if split == 'validation' else ''}; expected "
        f"{{train,dev|validation,test}}/<id>.pose"
    )


def pose_file_of(ex, folder: Path, source: str) -> Path:
    """The pose file of an example: its media when that is a pose file, else the estimated (or given) one."""
    if source == "estimate" and ex.media.endswith(".pose"):
        return Path(ex.media)
    return folder / f"{ex.pose_name if source == 'estimate' else ex.id}.pose"


def segment_problem(ex, pose) -> str | None:
    """Why the example's segment does not lie within its pose file (None when it does)."""
    fps = float(pose.body.fps) or 1.0
    duration = pose.body.data.shape[0] / fps
    if ex.end > duration + 1.0 / fps:
        return (
            f"segment {ex.start:.3f}-{ex.end:.3f} s ends after its pose file ({duration:.3f} s, "
            f"{pose.body.data.shape[0]} frames at {fps:g} fps)"
        )
    if int(ex.end * fps) <= int(ex.start * fps):
        return f"segment {ex.start:.3f}-{ex.end:.3f} s holds no frame at {fps:g} fps"
    return None


def run(spec: PreprocessSpec) -> dict:
    """Write the three TSVs, prompts.json (the prompts used) and feat_dim.json."""
    from pipeline.pose_headers import renamed_to_known
    from pipeline.stages.pose_checks import describe, header_problem, read_pose, write_single_person
    from pipeline.stages.pose_noise import write_perturbed

    out, source = Path(spec.output_dir), spec.pose_source
    noise = float(spec.pose_noise or 0.0)
    tree = pose_tree(spec)
    failures = read_failures(tree) if source == "estimate" else {}
    problems: list[str] = []
    counts: dict[str, dict] = {}
    sample_pose: Path | None = None
    sample_points = 0  # points its header declares: the registry's count, or one it accepts (accepted_points)
    first: list = []  # the set's first good file: (id, signature)
    several = {"examples": 0, "frames": 0}
    renamed_files: list[Path] = []  # sapiens, smplest_x: headers renamed for stock pose-format (pose_headers.py)
    prompts: dict[str, set] = {"encoder": set(), "decoder": set()}
    checked: dict[Path, tuple] = {}  # pose file -> (PoseFile, problem, path to train on): segments share one

    def check_pose(pose: Path, ex, split: str) -> tuple:
        """Read and check one pose file (once, however many examples are segments of it); reduce several people
        to the signer and add the noise, writing the copy the TSV will point at."""
        try:
            found = read_pose(pose)
        except Exception as exc:  # pose-format raises many kinds on a damaged file
            return None, f"unreadable pose file {pose} ({type(exc).__name__}: {exc})", pose
        reason = header_problem(spec.estimator, found.signature)
        if not reason and not first:
            first.append((ex.id, found.signature))
        if reason is None and found.signature != first[0][1]:
            reason = (
                f"header differs from the set's ({first[0][0]}): {describe(found.signature)} vs {describe(first[0][1])}"
            )
        if reason:
            return found, f"{reason} in {pose}", pose
        copy = out / "poses" / split / f"{ex.pose_name}.pose"
        header = renamed_to_known(spec.estimator, found.pose.header)
        if header is not None:
            found.pose.header = header
            renamed_files.append(pose)
        if found.people > 1:
            several["examples"] += 1
            several["frames"] += found.frames_with_several
            write_single_person(found, copy)
            pose = copy
            found = read_pose(copy) if noise else found
        if noise:
            write_perturbed(found.pose, copy, noise, ex.pose_name)
            pose = copy
        elif header is not None and pose != copy:
            with atomic_path(copy) as tmp, open(tmp, "wb") as handle:
                found.pose.write(handle)
            pose = copy
        return found, None, pose

    for split in SPLITS:
        rows, dropped = [], 0
        examples = read_manifest(Path(spec.manifest_dir) / f"{split}.tsv")
        folder = split_folder(tree, split, source)
        texts = {ex.id for ex in examples}
        # with dataset.limit the manifest holds only the first N: the other poses have texts we did not read
        check_orphans = source != "estimate" and not spec.dataset_limit
        orphans = sorted(p for p in folder.glob("*.pose") if p.stem not in texts) if check_orphans else []
        for orphan in orphans:  # a pose nobody gave a text for: reported, never trained on empty
            problems.append(f"{split}\t{orphan.stem}\tno text: {orphan} has no row in the {split} corpus CSV")
            dropped += 1
        for n, ex in enumerate(examples, 1):
            reason = ex.problem or None
            pose = pose_file_of(ex, folder, source)
            if reason is None:
                missing = failures.get(ex.pose_name, "not estimated") if source == "estimate" else f"no {pose}"
                reason = f"no pose ({missing})" if not pose.exists() else None if ex.text.strip() else "empty text"
            if reason is None:
                if pose not in checked:
                    checked[pose] = check_pose(pose, ex, split)
                found, reason, pose = checked[pose]
                if reason is None and ex.is_segment:
                    reason = segment_problem(ex, found.pose)
            if n % 1000 == 0:
                print(f"{split}: {n}/{len(examples)} pose files checked", flush=True)
            if reason:
                problems.append(f"{split}\t{ex.id}\t{reason}")
                dropped += 1
                continue
            if sample_pose is None:
                sample_pose, sample_points = pose, found.pose.header.total_points()
            encoder = f"__{ex.source_lang}__" if ex.source_lang else spec.encoder_prompt
            decoder = f"__{ex.target_lang}__" if ex.target_lang else spec.decoder_prompt
            prompts["encoder"].add(encoder)
            prompts["decoder"].add(decoder)
            rows.append(
                {
                    "signal": str(pose),
                    "signal_start": round(ex.start * 1000),
                    "signal_end": round(ex.end * 1000),
                    "encoder_prompt": encoder,
                    "decoder_prompt": decoder,
                    "output": ex.text.strip(),
                }
            )
        if spec.control == "shuffle":
            derange_signals(rows)
            print(f"{split}: control shuffle: every example got another example's pose", flush=True)
        write_tsv(out / f"{split}.tsv", rows)
        counts[split] = {"kept": len(rows), "left_out": dropped}
        print(f"{split}: {len(rows)} examples kept, {dropped} left out", flush=True)
        total = len(examples) + len(orphans)
        allowed = spec.max_missing_fraction * total
        if dropped > allowed or not rows:
            (out / "problems.txt").write_text("".join(p + "\n" for p in problems))
            for p in problems[:20]:
                print("left out: " + p.replace("\t", ": "), flush=True)
            raise UserError(
                f"{split}: {dropped} of {total} examples left out (allowed {allowed:g}, "
                f"preprocess.max_missing_fraction); see {out / 'problems.txt'}"
            )
    (out / "problems.txt").write_text("".join(p + "\n" for p in problems))
    for p in problems:
        print("left out: " + p.replace("\t", ": "), flush=True)
    (out / "prompts.json").write_text(json.dumps({k: sorted(v) for k, v in prompts.items()}) + "\n")
    if noise:
        print(
            f"pose noise: every seen point of every kept example moved by N(0, {noise:g}²) (preprocess.pose_noise); "
            f"the TSVs point at the perturbed copies in {out / 'poses'}",
            flush=True,
        )
    print(
        f"several people: {several['frames']} frame(s) of {several['examples']} example(s) had more than one "
        f"person; reduced to the signer's track",
        flush=True,
    )
    if renamed_files:
        print(
            f"header names: {len(renamed_files)} pose file(s) of {spec.estimator} renamed to names pose-format "
            f"knows, points unchanged (pipeline/pose_headers.py); the TSVs point at the copies in "
            f"{out / 'poses'}",
            flush=True,
        )
    assert sample_pose is not None  # every split kept at least one example (else the stage failed above)
    feat_dim = measure_feat_dim(sample_pose, spec.reduce_holistic)
    expected = spec.expected_feat_dim if sample_points == spec.points else sample_points * spec.dims
    declared = None if spec.reduce_holistic else sample_points * spec.dims
    (out / "feat_dim.json").write_text(
        json.dumps(
            {
                "feat_dim": feat_dim,
                "measured_from": str(sample_pose),
                "reduce_holistic": spec.reduce_holistic,
                "expected": expected,
            }
        )
        + "\n"
    )
    if declared and feat_dim != declared:
        raise UserError(
            f"{sample_pose}: the trainer sees {feat_dim} features per frame but the header declares "
            f"{sample_points} points x {spec.dims} dims = {declared}; the file stores something else "
            f"than its header says"
        )
    note = "" if feat_dim == expected else f" (the registry expected {expected}: check the pose type's layout)"
    print(f"feature dimension: {feat_dim}, measured from {sample_pose}{note}", flush=True)
    return {"examples": counts, "feat_dim": feat_dim, "several_people": several}


if __name__ == "__main__":
    stage_main(run)
