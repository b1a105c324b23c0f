"""Metadata conversion at the boundary: what frameworks hand us becomes plain JSON, once.

Why: stores keep metadata as JSON (so a save and a load give back exactly what was stored),
while LangChain loaders and LlamaIndex readers routinely put dates and numpy numbers there.
Every path in (the FAISS store, the language router, both framework faces, the CLI) goes
through :func:`to_json_metadata`, so the rules are the same everywhere:

* ``str``, ``int``, finite ``float``, ``bool`` and ``None`` are kept;
* ``datetime`` -> ISO-8601 string; a timezone-aware datetime is first converted to UTC
  (``2024-05-01T08:00:00+00:00``), so that aware values written with different offsets still
  compare in time order; ``date`` -> ``"2024-05-01"``;
* numpy scalars (``np.float32``, ``np.int64``, ``np.bool_``, ...) -> Python numbers;
* ``list`` and ``tuple`` -> list; ``set`` / ``frozenset`` -> sorted list;
* dicts are converted recursively (keys must be ``str``);
* anything else (``bytes``, NaN, infinity, arbitrary objects) raises ``TypeError`` naming the
  document position and the key path, e.g. ``metadatas[3]['source']['when']``.

Filters: ISO-8601 strings of one form (all dates, all naive datetimes, or all aware
datetimes, which are stored in UTC) sort in time order, so ``{"published": {"$gte":
"2024-01-01"}}`` selects by time. Filter operands go through the same conversion, so
``{"published": {"$gte": date(2024, 1, 1)}}`` works as well.
"""

from __future__ import annotations

import datetime as _dt
import json
import math
from collections.abc import Mapping
from typing import Any

import numpy as np

__all__ = ["filter_operand", "to_json_metadata"]


class _Bad(Exception):
    def __init__(self, path: str, reason: str) -> None:
        self.path, self.reason = path, reason


def _iso(value: _dt.date) -> str:
    if isinstance(value, _dt.datetime) and value.tzinfo is not None and value.utcoffset() is not None:
        value = value.astimezone(_dt.timezone.utc)
    return value.isoformat()


def _sort_key(value: Any) -> tuple[str, str]:
    return (type(value).__name__, json.dumps(value, sort_keys=True))


def _convert(value: Any, path: str) -> Any:
    # Order matters: bool before int (bool is an int), numpy before float (np.float64 is a float).
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, np.generic):
        if isinstance(value, np.bool_):
            return bool(value)
        if isinstance(value, np.integer):
            return int(value)
        if isinstance(value, np.floating):
            return _convert(float(value), path)
        raise _Bad(path, f"is a numpy {type(value).__name__}, which has no JSON form")
    if isinstance(value, str):
        return str(value)
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise _Bad(path, f"is {value!r}; JSON has no NaN or infinity (use None for 'unknown')")
        return float(value)
    if isinstance(value, _dt.date):  # datetime is a date
        return _iso(value)
    if isinstance(value, Mapping):
        out = {}
        for key, item in value.items():
            if not isinstance(key, str):
                raise _Bad(path, f"has a key {key!r} of type {type(key).__name__}; keys must be str")
            out[key] = _convert(item, f"{path}[{key!r}]")
        return out
    if isinstance(value, (list, tuple)):
        return [_convert(item, f"{path}[{i}]") for i, item in enumerate(value)]
    if isinstance(value, (set, frozenset)):
        items = [_convert(item, f"{path}[{i}]") for i, item in enumerate(value)]
        return sorted(items, key=_sort_key)
    if isinstance(value, (bytes, bytearray, memoryview)):
        raise _Bad(path, "is bytes; decode it to str first (e.g. b.decode('utf-8'))")
    if isinstance(value, np.ndarray):
        raise _Bad(path, "is a numpy array; convert it with .tolist() first")
    raise _Bad(path, f"is a {type(value).__name__}, which has no JSON form; convert it to str or a number")


def to_json_metadata(
    metadata: Any, position: int, what: str = "metadatas", *, path: str | None = None
) -> dict[str, Any]:
    """A converted deep copy of one document's metadata (see the module docstring).

    ``None`` gives ``{}``. Raises ``TypeError`` naming ``what[position]`` (or ``path``, when a
    face names the value its own way, e.g. ``nodes[2].metadata``) and the key path.
    """
    where = path or f"{what}[{position}]"
    if metadata is None:
        return {}
    if not isinstance(metadata, Mapping):
        raise TypeError(f"{where} must be a dict, got {type(metadata).__name__}")
    try:
        return _convert(metadata, where)
    except _Bad as bad:
        raise TypeError(f"{bad.path} {bad.reason}") from None
    except RecursionError:
        raise TypeError(f"{where} is nested too deeply (or refers to itself)") from None


def filter_operand(value: Any) -> Any:
    """A filter operand in stored form: dates to ISO strings, numpy scalars to numbers.

    Lenient on purpose: anything else is left for the filter compiler to judge.
    """
    if isinstance(value, _dt.date):
        return _iso(value)
    if isinstance(value, np.generic) and not isinstance(value, np.ndarray):
        return value.item()
    if isinstance(value, (list, tuple)):
        return [filter_operand(v) for v in value]
    if isinstance(value, (set, frozenset)):
        return {filter_operand(v) for v in value}
    return value
