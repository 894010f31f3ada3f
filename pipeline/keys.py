"""What identifies a job's or a run's settings: plain dicts of the dataclasses, and short stable hashes of them.
Keys name output folders, so a change here renames them: golden scripts and tests/test_plan.py pin them.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from typing import Any

from pipeline.schema import Dataset, Experiment, Training


def as_plain(obj: Any) -> Any:
    """Dataclasses → dicts (for hashing and for the JSON specs)."""
    return dataclasses.asdict(obj) if dataclasses.is_dataclass(obj) and not isinstance(obj, type) else obj


def stable_hash(obj: Any, length: int = 10) -> str:
    text = json.dumps(obj, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:length]


# dataset settings that joined after keys were first written: unset, they stay out of keys and hashes
# (config hashes from before dataset.url carry it even when unset; prepare keys do not)
CORPUS_DATASET_KEYS = ("splits", "columns", "time_unit", "fps", "media")


def dataset_identity(dataset: Dataset, optional: tuple = ("url", *CORPUS_DATASET_KEYS)) -> dict:
    """The dataset settings as hashed: those in `optional` only when set."""
    return {k: v for k, v in as_plain(dataset).items() if not (k in optional and v is None)}


# training settings that joined after keys were first written (several processes): at these values they stay out of
# train keys and config hashes, so that the keys of one-process runs stay what they were
LAUNCH_DEFAULTS = {"nproc_per_node": 1, "nodes": 1, "distributed": "ddp", "effective_batch": "keep"}


def training_identity(training: Training) -> dict:
    """The training settings as hashed: the launch settings only where they differ from one process, and
    effective_batch only where there are several processes (with one, keep and grow are the same)."""
    plain = as_plain(training)
    one_process = training.nproc_per_node * training.nodes == 1
    return {
        k: v
        for k, v in plain.items()
        if not ((k in LAUNCH_DEFAULTS and v == LAUNCH_DEFAULTS[k]) or (k == "effective_batch" and one_process))
    }


def config_hash(experiment: Experiment) -> str:
    plain = as_plain(experiment)
    plain.pop("source", None)
    plain["dataset"] = dataset_identity(experiment.dataset, CORPUS_DATASET_KEYS)
    plain["training"] = training_identity(experiment.training)
    return stable_hash(plain, 12)
