"""What identifies a job's or a run's settings: plain dicts of the dataclasses, and short stable hashes of them.
Keys name output folders, so a change here renames them: golden scripts and tests/test_plan.py pin them.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from typing import Any

from pipeline.schema import Dataset, Experiment


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


def config_hash(experiment: Experiment) -> str:
    plain = as_plain(experiment)
    plain.pop("source", None)
    plain["dataset"] = dataset_identity(experiment.dataset, CORPUS_DATASET_KEYS)
    return stable_hash(plain, 12)
