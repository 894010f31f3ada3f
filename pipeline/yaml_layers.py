"""YAML layering into typed dataclasses, remembering which file set each key so that every error names it.

A file may say `extends: other.yaml` (a path relative to itself); keys are merged depth-first, the extending file
winning. `--set key.path=value` overrides come last (values parsed as YAML). `from_dict` builds a dataclass,
refusing unknown keys and wrong types in one line, e.g.
`config/phoenix.yaml: training.learning_rate: expected a number, got 'fast'`.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from pathlib import Path
from typing import Any, Optional

import yaml

from pipeline.errors import UserError
from pipeline.paths import display_path


def read_yaml(path: Path) -> dict:
    try:
        text = path.read_text()
    except FileNotFoundError:
        raise UserError(f"{path}: no such file") from None
    try:
        data = yaml.safe_load(text) or {}
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}: " if mark else ""
        raise UserError(f"{path}: {where}not valid YAML ({getattr(exc, 'problem', exc)})") from None
    if not isinstance(data, dict):
        raise UserError(f"{path}: expected a mapping of keys at the top, got {type(data).__name__}")
    return data


def _merge(base: dict, over: dict, sources: dict, src: str, prefix: str = "") -> dict:
    """Deep-merge `over` into a copy of `base`, recording which file set each leaf key."""
    out = dict(base)
    for key, value in over.items():
        path = f"{prefix}{key}"
        if isinstance(value, dict) and isinstance(out.get(key), dict) and value:
            out[key] = _merge(out[key], value, sources, src, path + ".")
        else:
            out[key] = value
            sources[path] = src
            for leaf in [k for k in sources if k.startswith(path + ".")]:
                sources[leaf] = src
    return out


def load_layers(path: Path, sources: dict, _seen: tuple = ()) -> dict:
    """A YAML file merged over whatever it `extends:` (recursively)."""
    path = Path(path)
    if path.resolve() in _seen:
        raise UserError(f"{path}: extends: cycle through {' -> '.join(str(p) for p in _seen)}")
    data = read_yaml(path)
    parent = data.pop("extends", None)
    merged: dict = {}
    if parent is not None:
        if not isinstance(parent, str):
            raise UserError(f"{path}: extends: expected a file path, got {parent!r}")
        target = path.parent / parent
        if not target.is_file():
            raise UserError(
                f"{display_path(path)}: extends: {parent}: no such file ({target}); the path is relative to the "
                f"folder of the file that says extends:, {display_path(path.parent)}"
            )
        merged = load_layers(target, sources, _seen + (path.resolve(),))
    return _merge(merged, data, sources, display_path(path))


def parse_override(text: str) -> tuple[str, Any]:
    if "=" not in text:
        raise UserError(f"--set {text}: expected key.path=value, e.g. training.seed=7")
    key, raw = text.split("=", 1)
    try:
        value = yaml.safe_load(raw) if raw != "" else ""
    except yaml.YAMLError:
        value = raw
    return key.strip(), value


def apply_overrides(data: dict, overrides: list[str], sources: dict) -> dict:
    for text in overrides:
        key, value = parse_override(text)
        nested: Any = value
        for part in reversed(key.split(".")):
            nested = {part: nested}
        data = _merge(data, nested, sources, f"--set {key}")
    return data


def _type_name(tp: Any) -> str:
    names = {
        int: "an integer",
        float: "a number",
        str: "a string",
        bool: "true or false",
        dict: "a mapping",
        list: "a list",
    }
    return names.get(tp, getattr(tp, "__name__", str(tp)))


def _coerce(value: Any, tp: Any, where: str) -> Any:
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        if value is None:
            return None
        return _coerce(value, args[0], where)
    if origin in (list, dict):  # list[X] / dict[str, X]: the container, then each item of a scalar or generic X
        if not isinstance(value, origin):
            raise UserError(f"{where}: expected {_type_name(origin)}, got {value!r}")
        item = typing.get_args(tp)[-1] if typing.get_args(tp) else Any
        if item not in (int, float, str, bool) and typing.get_origin(item) not in (list, dict):
            return value
        if origin is list:
            return [_coerce(v, item, f"{where}[{i}]") for i, v in enumerate(value)]
        return {k: _coerce(v, item, f"{where}.{k}") for k, v in value.items()}
    if dataclasses.is_dataclass(tp):
        if not isinstance(value, dict):
            raise UserError(f"{where}: expected a mapping, got {value!r}")
        return None  # handled by the caller (needs the key path)
    if tp is bool:
        if isinstance(value, bool):
            return value
    elif tp is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
    elif tp is float:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
        if isinstance(value, str):  # YAML 1.1 reads 1e-5 (no dot) as a string
            try:
                return float(value)
            except ValueError:
                pass
    elif tp is str:
        if isinstance(value, (str, int, float)) and not isinstance(value, bool):
            return str(value)
    elif tp in (dict, list):
        if isinstance(value, tp):
            return value
    else:
        return value
    raise UserError(f"{where}: expected {_type_name(tp)}, got {value!r}")


BOUND_WORDS = {"ge": ">=", "gt": ">", "le": "<=", "lt": "<"}


def check_bounds(value: Any, bounds: Optional[dict], where: str) -> None:
    """A number outside its key's bounds (schema.number) stops here in one line."""
    if value is None or not bounds:
        return
    ok = {"ge": value >= bounds.get("ge", value), "gt": "gt" not in bounds or value > bounds["gt"]}
    ok.update(le=value <= bounds.get("le", value), lt="lt" not in bounds or value < bounds["lt"])
    if not all(ok.values()):
        kind = "a whole number" if isinstance(value, int) else "a number"
        wanted = " and ".join(f"{BOUND_WORDS[k]} {v:g}" for k, v in bounds.items())
        raise UserError(f"{where}: expected {kind} {wanted}, got {value!r}")


def from_dict(
    cls: type, data: dict, sources: dict, prefix: str = "", fallback_src: str = "", unknown: Optional[list] = None
) -> Any:
    """Build dataclass `cls` from `data`, rejecting unknown keys and wrong types with file:key messages. With
    `unknown` (a list), unknown keys are left out and their paths appended to it instead (records a newer version
    of the pipeline wrote)."""
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls)}
    kwargs: dict[str, Any] = {}
    for key, value in data.items():
        path = f"{prefix}{key}"
        src = sources.get(path) or fallback_src
        if key not in fields and unknown is not None:
            unknown.append(path)
            continue
        if key not in fields or fields[key].metadata.get("set_by_loader"):  # e.g. `source`: never from a file
            allowed = ", ".join(k for k, f in fields.items() if not f.metadata.get("set_by_loader"))
            raise UserError(f"{src}: {path}: unknown key; allowed here: {allowed}")
        tp = hints[key]
        inner = [a for a in typing.get_args(tp) if a is not type(None)]
        if (
            typing.get_origin(tp) in (typing.Union, types.UnionType)
            and len(inner) == 1
            and dataclasses.is_dataclass(inner[0])
        ):
            if value is None:  # Optional[a dataclass]: None, or a mapping for it
                kwargs[key] = None
                continue
            tp = inner[0]
        item = typing.get_args(tp)[1] if typing.get_origin(tp) is dict else None
        if dataclasses.is_dataclass(tp):
            _coerce(value, tp, f"{src}: {path}")
            kwargs[key] = from_dict(typing.cast(type, tp), value, sources, path + ".", src, unknown)
        elif item is not None and dataclasses.is_dataclass(item):  # dict[str, a dataclass]: each value one
            _coerce(value, dict, f"{src}: {path}")
            kwargs[key] = {}
            for name, entry in value.items():
                _coerce(entry, item, f"{src}: {path}.{name}")
                kwargs[key][name] = from_dict(typing.cast(type, item), entry, sources, f"{path}.{name}.", src, unknown)
        else:
            kwargs[key] = _coerce(value, tp, f"{src}: {path}")
            check_bounds(kwargs[key], fields[key].metadata.get("bounds"), f"{src}: {path}")
    missing = [
        n
        for n, f in fields.items()
        if n not in kwargs and f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
    ]
    if missing:
        raise UserError(f"{fallback_src}: {prefix}{missing[0]}: required key is missing")
    return cls(**kwargs)
