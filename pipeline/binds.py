"""What a stage job reads and writes besides the folders every job binds (the project source, `data_dir`, the jobs
folder, `cache_dir`), derived from its typed spec and the specs of the jobs before it in its run.

Under Apptainer a job sees only what is bound, so this is the list of its inputs:
- the dataset root: prepare (read-write where it writes the tree: the sample, fetched annotations), estimate; and
  the OpenPose keypoint folder of `estimate.source: openpose_json`;
- a manifest's media outside the root (cells are relative to the manifest's folder and may leave it): read at
  submit, on the login node, so media a manifest gains after submit are not bound;
- the pose files the MMH TSVs point at, for preprocess, train and translate: a manifest's `.pose` media (below the
  dataset root or outside it), an `estimate.folder`, a download folder (written by preprocess);
- local model folders: `model.pretrained_backbone` and `model.tokenizer` (train, translate), the BLEURT checkpoint
  (evaluate), when they are absolute paths.
Each entry is (path, read_only); compose binds those not already below a folder every job binds.
"""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path
from typing import Optional

from pipeline.stages.specs import (
    EstimateSpec,
    EvaluateSpec,
    PrepareSpec,
    PreprocessSpec,
    StageSpec,
    TrainSpec,
    TranslateSpec,
)

Mount = tuple[str, bool]  # (path, read_only)
MAX_MEDIA_BINDS = 16  # more folders than this: their common parent is bound instead


def job_mounts(spec: StageSpec, upstream: dict[str, StageSpec]) -> list[Mount]:
    """(path, read_only) the job needs beyond the common binds; `upstream`: stage -> spec of this run's jobs so
    far (prepare first)."""
    prepare = upstream.get("prepare")
    if isinstance(spec, PrepareSpec):
        return dataset_mounts(spec, read_only=spec.dataset.layout not in ("sample", "annotations"))
    if isinstance(spec, EstimateSpec):
        return dataset_mounts(prepare, read_only=True)
    if isinstance(spec, PreprocessSpec):
        return unique(pose_mounts(prepare, spec, writes=True))
    if isinstance(spec, TrainSpec):
        return unique(pose_mounts(prepare, upstream.get("preprocess")) + model_mounts(spec))
    if isinstance(spec, TranslateSpec):
        train = upstream.get("train")
        models = model_mounts(train) if isinstance(train, TrainSpec) else []
        return unique(pose_mounts(prepare, upstream.get("preprocess")) + models)
    if isinstance(spec, EvaluateSpec):
        return local_folders([spec.evaluate.bleurt_checkpoint])
    return []


def dataset_mounts(prepare: Optional[StageSpec], read_only: bool) -> list[Mount]:
    """The dataset root and the folders of a manifest's media outside it."""
    if not isinstance(prepare, PrepareSpec):
        return []
    ds = prepare.dataset
    keypoints = [(prepare.keypoints, True)] if prepare.keypoints else []  # estimate.source openpose_json
    if ds.layout != "manifest" or keypoints:  # with keypoints the media cells name keypoint folders below them
        return [(ds.root, read_only), *keypoints]
    media = media_outside_root(ds.root, tuple(sorted((ds.splits or {}).items())), (ds.columns or {}).get("media"))
    return [(ds.root, read_only), *((folder, True) for folder in media)]


def pose_mounts(prepare: Optional[StageSpec], preprocess: Optional[StageSpec], writes: bool = False) -> list[Mount]:
    """Where the pose files the TSVs point at may lie: a manifest's `.pose` media (the dataset root and media
    outside it), an estimate.folder or a download folder."""
    out: list[Mount] = []
    if isinstance(prepare, PrepareSpec) and prepare.dataset.layout == "manifest":
        out += dataset_mounts(prepare, read_only=True)
    if isinstance(preprocess, PreprocessSpec) and preprocess.pose_source in ("download", "folder"):
        out.append((preprocess.poses_dir, not (writes and preprocess.pose_source == "download")))
    return out


def model_mounts(train: TrainSpec) -> list[Mount]:
    return local_folders([train.model.pretrained_backbone, train.model.tokenizer])


def local_folders(names: list[Optional[str]]) -> list[Mount]:
    """The absolute paths among model names (hub ids and relative paths need no bind: relative ones are read from
    the project source, bound read-only)."""
    return [(name, True) for name in names if name and Path(name).is_absolute()]


def unique(mounts: list[Mount]) -> list[Mount]:
    """Each path once; read-write wins over read-only."""
    out: dict[str, bool] = {}
    for path, read_only in mounts:
        out[path] = out.get(path, True) and read_only
    return list(out.items())


@lru_cache(maxsize=64)
def media_outside_root(root: str, splits: tuple, media_column: Optional[str]) -> tuple[str, ...]:
    """The folders holding a manifest's media that lie outside `root` (empty for other layouts, or while the root
    cannot be read here: the dry run says so). At most MAX_MEDIA_BINDS folders: more become their common parent."""
    from pipeline.stages.corpus import media_cells

    columns = {"media": media_column} if media_column else {}
    cells = media_cells({"splits": dict(splits), "columns": columns}, Path(root)) or []
    base = os.path.abspath(root)
    folders: set[str] = set()
    for path, _, cell in cells:
        media = os.path.abspath(path.parent / cell) if cell else base
        if os.path.commonpath([base, media]) != base:
            folders.add(os.path.dirname(media))
    ordered = sorted(folders)
    minimal = [f for f in ordered if not any(f != o and os.path.commonpath([o, f]) == o for o in ordered)]
    if len(minimal) > MAX_MEDIA_BINDS and os.path.commonpath(minimal) != "/":
        return (os.path.commonpath(minimal),)
    return tuple(minimal)
