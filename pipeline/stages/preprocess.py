"""preprocess: manifests + poses → MultimodalHugs TSVs `{train,validation,test}.tsv` and the measured feature dim.

TSV columns: signal (absolute .pose path, valid in every container since paths are bound in place),
signal_start, signal_end (0/0 = the whole file), encoder_prompt, decoder_prompt, output.
Examples without a pose or with an empty text are left out *and reported* (problems.txt, counts in the log);
if more than `max_missing_fraction` of a split is left out, the stage fails.
With `control: shuffle` the poses are permuted across the examples of each split, none keeping its own (a
seeded derangement): a model trained on that must not learn, which shows a real run's score comes from the poses.
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

TSV_COLUMNS = ["signal", "signal_start", "signal_end", "encoder_prompt", "decoder_prompt", "output"]


def measure_feat_dim(pose_file: Path, reduce_holistic: bool) -> int:
    """Features per frame the trainer will see for this pose file."""
    try:
        from multimodalhugs.processors import PoseModalityProcessor
    except ImportError:
        PoseModalityProcessor = None
    if PoseModalityProcessor is not None:
        tensor = PoseModalityProcessor(reduce_holistic_poses=reduce_holistic)._load_pose(str(pose_file))
        return int(tensor.shape[1])
    from pose_format import Pose                     # same steps, without MultimodalHugs
    from pose_format.utils.generic import pose_hide_legs, reduce_holistic as reduce
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
    for k, i in enumerate(order):       # each row in the cycle takes the pose of the next one
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


def run(spec: dict) -> dict:
    """Write the three TSVs and feat_dim.json."""
    out, poses = Path(spec["output_dir"]), Path(spec["poses_dir"])
    failures = read_failures(poses)
    problems, counts, sample_pose = [], {}, None
    for split in SPLITS:
        rows, dropped = [], 0
        examples = read_manifest(Path(spec["manifest_dir"]) / f"{split}.tsv")
        for ex in examples:
            pose = poses / f"{ex.id}.pose"
            reason = None
            if not pose.exists():
                reason = f"no pose ({failures.get(ex.id, 'not estimated')})"
            elif not ex.text.strip():
                reason = "empty text"
            if reason:
                problems.append(f"{split}\t{ex.id}\t{reason}")
                dropped += 1
                continue
            sample_pose = sample_pose or pose
            rows.append({"signal": str(pose), "signal_start": 0, "signal_end": 0,
                         "encoder_prompt": spec["encoder_prompt"], "decoder_prompt": spec["decoder_prompt"],
                         "output": ex.text.strip()})
        if spec.get("control") == "shuffle":
            derange_signals(rows)
            print(f"{split}: control shuffle: every example got another example's pose", flush=True)
        write_tsv(out / f"{split}.tsv", rows)
        counts[split] = {"kept": len(rows), "left_out": dropped}
        print(f"{split}: {len(rows)} examples kept, {dropped} left out", flush=True)
        allowed = spec.get("max_missing_fraction", 0.0) * len(examples)
        if dropped > allowed or not rows:
            (out / "problems.txt").write_text("".join(p + "\n" for p in problems))
            raise UserError(f"{split}: {dropped} of {len(examples)} examples left out (allowed {allowed:g}, "
                            f"preprocess.max_missing_fraction); see {out / 'problems.txt'}")
    (out / "problems.txt").write_text("".join(p + "\n" for p in problems))
    for p in problems:
        print("left out: " + p.replace("\t", ": "), flush=True)
    feat_dim = measure_feat_dim(sample_pose, spec["reduce_holistic"])
    (out / "feat_dim.json").write_text(json.dumps({"feat_dim": feat_dim, "measured_from": str(sample_pose),
                                                    "reduce_holistic": spec["reduce_holistic"]}) + "\n")
    expected = spec.get("expected_feat_dim")
    note = "" if feat_dim == expected else f" (the registry expected {expected}: check the estimator's layout)"
    print(f"feature dimension: {feat_dim}, measured from {sample_pose}{note}", flush=True)
    return {"examples": counts, "feat_dim": feat_dim}


if __name__ == "__main__":
    stage_main(run)
