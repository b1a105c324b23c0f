"""One metadata-filter language, compiled to a predicate; both framework faces translate into it.

Grammar (a dict; several keys at one level are ANDed)::

    {"field": value}                      equality
    {"field": [v1, v2]}                   membership (same as $in)
    {"field": {"$op": operand, ...}}      operators, ANDed
    {"$and": [f, ...]}, {"$or": [f, ...]}, {"$not": f}

Field operators: ``$eq $ne $gt $gte $lt $lte $in $nin $exists`` plus, for LlamaIndex parity,
``$contains`` (list holds value), ``$any`` / ``$all`` (list shares any / all values),
``$text_match`` / ``$text_match_insensitive`` (substring) and ``$is_empty``.

Why "a comparison on a missing field matches nothing": a filter like ``{"year": {"$gt": 2000}}``
should skip documents without a year, not crash a search over a mixed corpus. The same holds
for values of another type (``"2001" > 2000``). Use ``$exists`` to test presence. An unknown
operator raises ``ValueError`` when the filter is compiled, before any work is done.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from deposium_rag.metadata import filter_operand

__all__ = ["FilterSpec", "Predicate", "RowFilter", "compile_filter"]

Predicate = Callable[[Mapping[str, Any]], bool]


class RowFilter:
    """A filter that sees the whole row: ``fn(id, text, metadata) -> bool``.

    A plain callable filter receives only the metadata; wrap it in ``RowFilter`` when it
    needs the id or text (the LangChain face does this to call ``fn(Document)``).
    """

    __slots__ = ("fn",)

    def __init__(self, fn: Callable[[str, str, Mapping[str, Any]], bool]) -> None:
        self.fn = fn


FilterSpec = Mapping[str, Any] | Predicate | RowFilter | None

_MISSING = object()


def _ordered(op: Callable[[Any, Any], bool]) -> Callable[[Any, Any], bool]:
    def check(value: Any, operand: Any) -> bool:
        if value is _MISSING or value is None or isinstance(value, bool) != isinstance(operand, bool):
            return False
        try:
            return bool(op(value, operand))
        except TypeError:
            return False

    return check


def _as_list(value: Any) -> list[Any] | None:
    return list(value) if isinstance(value, (list, tuple, set, frozenset)) else None


def _eq(value: Any, operand: Any) -> bool:
    if value is _MISSING:
        return False
    # 1 == True in Python; a filter on a bool field should not match ints and vice versa.
    return value == operand and isinstance(value, bool) == isinstance(operand, bool)


def _in(value: Any, operand: Any) -> bool:
    return value is not _MISSING and any(_eq(value, o) for o in operand)


def _contains(value: Any, operand: Any) -> bool:
    items = _as_list(value)
    if items is not None:
        return any(_eq(v, operand) for v in items)
    return isinstance(value, str) and isinstance(operand, str) and operand in value


def _any(value: Any, operand: Any) -> bool:
    items = _as_list(value)
    return items is not None and any(_in(v, operand) for v in items)


def _all(value: Any, operand: Any) -> bool:
    items = _as_list(value)
    return items is not None and all(_in(o, items) for o in operand)


def _text(value: Any, operand: Any) -> bool:
    return isinstance(value, str) and isinstance(operand, str) and operand in value


def _text_i(value: Any, operand: Any) -> bool:
    return isinstance(value, str) and isinstance(operand, str) and operand.lower() in value.lower()


def _is_empty(value: Any, operand: Any) -> bool:
    empty = value is _MISSING or value is None or value == [] or value == ""
    return empty if operand in (True, None) else not empty


_FIELD_OPS: dict[str, Callable[[Any, Any], bool]] = {
    "$eq": _eq,
    "$ne": lambda v, o: v is not _MISSING and not _eq(v, o),
    "$gt": _ordered(lambda v, o: v > o),
    "$gte": _ordered(lambda v, o: v >= o),
    "$lt": _ordered(lambda v, o: v < o),
    "$lte": _ordered(lambda v, o: v <= o),
    "$in": _in,
    "$nin": lambda v, o: v is not _MISSING and not _in(v, o),
    "$exists": lambda v, o: (v is not _MISSING) == bool(o),
    "$contains": _contains,
    "$any": _any,
    "$all": _all,
    "$text_match": _text,
    "$text_match_insensitive": _text_i,
    "$is_empty": _is_empty,
}
_LIST_OPS = {"$in", "$nin", "$any", "$all"}


def _field(name: str, cond: Any) -> Predicate:
    if isinstance(cond, Mapping) and cond and all(isinstance(k, str) and k.startswith("$") for k in cond):
        checks: list[Callable[[Any], bool]] = []
        for op, operand in cond.items():
            operand = filter_operand(operand)  # dates and numpy numbers in stored form
            fn = _FIELD_OPS.get(op)
            if fn is None:
                raise ValueError(
                    f"unknown filter operator {op!r} on field {name!r}; "
                    f"supported: {', '.join(sorted(_FIELD_OPS))}"
                )
            if op in _LIST_OPS:
                if isinstance(operand, (str, bytes)) or not isinstance(
                    operand, (list, tuple, set, frozenset)
                ):
                    raise ValueError(f"operator {op!r} on field {name!r} needs a list, got {operand!r}")
                operand = list(operand)
            checks.append(lambda v, fn=fn, operand=operand: fn(v, operand))
        return lambda md: all(c(md.get(name, _MISSING)) for c in checks)
    cond = filter_operand(cond)
    if isinstance(cond, (list, tuple)):
        values = list(cond)
        return lambda md: _in(md.get(name, _MISSING), values)
    return lambda md: _eq(md.get(name, _MISSING), cond)


def _compile(spec: Mapping[str, Any]) -> Predicate:
    if not isinstance(spec, Mapping):
        raise ValueError(f"a filter must be a dict, got {type(spec).__name__}: {spec!r}")
    parts: list[Predicate] = []
    for key, cond in spec.items():
        if not isinstance(key, str):
            raise ValueError(f"filter keys must be str, got {key!r}")
        if key in ("$and", "$or"):
            if not isinstance(cond, (list, tuple)) or not cond:
                raise ValueError(f"{key} needs a non-empty list of filters, got {cond!r}")
            subs = [_compile(c) for c in cond]
            if key == "$and":
                parts.append(lambda md, subs=subs: all(s(md) for s in subs))
            else:
                parts.append(lambda md, subs=subs: any(s(md) for s in subs))
        elif key == "$not":
            sub = _compile(cond)
            parts.append(lambda md, sub=sub: not sub(md))
        elif key.startswith("$"):
            raise ValueError(f"unknown logical operator {key!r}; supported: $and, $or, $not")
        else:
            parts.append(_field(key, cond))
    if len(parts) == 1:
        only = parts[0]
        return lambda md: only(md)  # a fresh function, so compile_filter may annotate it
    return lambda md: all(p(md) for p in parts)


_SCALARS = (str, int, float, bool)


def equality_conjuncts(spec: Mapping[str, Any]) -> list[tuple[str, list[Any]]]:
    """(field, allowed values) pairs that every match must satisfy: plain equality or ``$in``.

    A store may look these up in an inverted index to narrow the rows it evaluates the full
    predicate on; each pair is a necessary condition, so the result stays exact.
    """
    out: list[tuple[str, list[Any]]] = []
    for key, cond in spec.items():
        if key == "$and" and isinstance(cond, (list, tuple)):
            for sub in cond:
                if isinstance(sub, Mapping):
                    out.extend(equality_conjuncts(sub))
        elif key.startswith("$"):
            continue
        elif isinstance(cond, _SCALARS):
            out.append((key, [cond]))
        elif isinstance(cond, (list, tuple)) and cond and all(isinstance(v, _SCALARS) for v in cond):
            out.append((key, list(cond)))
        elif isinstance(cond, Mapping):
            if isinstance(cond.get("$eq"), _SCALARS):
                out.append((key, [cond["$eq"]]))
            values = cond.get("$in")
            if isinstance(values, (list, tuple)) and values and all(isinstance(v, _SCALARS) for v in values):
                out.append((key, list(values)))
    return out


def compile_filter(spec: FilterSpec) -> Predicate | RowFilter | None:
    """Compile a filter dict (or pass through a callable); ``None`` or ``{}`` means no filter."""
    if spec is None or isinstance(spec, RowFilter):
        return spec
    if callable(spec) and not isinstance(spec, Mapping):
        user = spec
        return lambda md: bool(user(md))
    if isinstance(spec, Mapping) and not spec:
        return None
    pred = _compile(spec)  # type: ignore[arg-type]
    pred.conjuncts = equality_conjuncts(spec)  # type: ignore[attr-defined, arg-type]
    return pred
