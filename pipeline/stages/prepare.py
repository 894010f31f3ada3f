"""prepare: a dataset tree → one manifest per split (`<out>/{train,validation,test}.tsv`) + `problems.txt`.

For the `sample` layout the tree is generated first when it does not exist yet; for `annotations` with a
`dataset.url`, the annotations archive is fetched into the root first (once; see pipeline.archives.fetch_tree).
Problems (a CSV row with no text, an empty frame folder, an unreadable video) are listed with file, line and id;
the examples stay in the manifest
so that estimate and preprocess report them again with their own outcome, never dropping them silently.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

from pipeline.errors import UserError
from pipeline.stages.datasets import read_dataset
from pipeline.stages.entry import stage_main
from pipeline.stages.manifest import SPLITS, write_manifest
from pipeline.stages.markers import write_problems
from pipeline.stages.specs import PrepareSpec, download_kwargs


def run(spec: PrepareSpec) -> dict:
    """Write the manifests of the dataset named in the spec."""
    ds = spec.dataset
    root, out = Path(ds.root), Path(spec.output_dir)
    if ds.layout == "sample":
        from pipeline.stages.sample_data import DEFAULT_PER_SPLIT, generate, is_complete

        clips = tuple(ds.sample_clips or DEFAULT_PER_SPLIT)
        if not is_complete(root, clips):  # absent, interrupted, older, or of another size
            print(f"generating the sample dataset in {root} ({', '.join(map(str, clips))} clips)", flush=True)
            generate(root, clips)
    if ds.layout == "annotations" and ds.url:
        from pipeline.archives import fetch_tree
        from pipeline.stages.datasets import find_annotations

        if not root.is_dir() or find_annotations(root) is None or (root / "tree.json").exists():
            fetch_tree(ds.url, root, download_settings=download_kwargs(spec.download))
    if not root.exists():
        raise UserError(f"dataset.root {root}: no such folder (set dataset.root to your copy of the data)")
    keypoints = Path(spec.keypoints) if spec.keypoints else None
    if keypoints is not None:
        print(f"keypoints: one OpenPose JSON folder per example below {keypoints}, at {ds.fps or 25:g} fps", flush=True)
    examples, problems = read_dataset(dataclasses.asdict(ds), root, keypoints)
    counts = {}
    for split in SPLITS:
        rows = [e for e in examples if e.split == split]
        if ds.limit:
            rows = rows[: ds.limit]
        if not rows:
            raise UserError(f"dataset.root {root}: no {split} examples found")
        write_manifest(out / f"{split}.tsv", rows)
        counts[split] = len(rows)
        media = {e.pose_name: e.frames for e in rows}  # segments of one video share its frames
        shared = f" in {len(media)} source media" if len(media) < len(rows) else ""
        print(f"{split}: {len(rows)} examples{shared}, {sum(media.values())} frames", flush=True)
    write_problems(out, problems)
    for p in problems:
        print(f"warning: {p}", flush=True)
    return {"examples": counts, "problems": len(problems)}


if __name__ == "__main__":
    stage_main(run)
