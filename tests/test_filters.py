"""The one filter language: operators, missing fields, type mismatches, errors."""

from __future__ import annotations

import pytest

from deposium_rag.filters import RowFilter, compile_filter

DOCS = [
    {"lang": "en", "year": 2001, "tags": ["a", "b"], "title": "Hello World", "ok": True},
    {"lang": "fr", "year": 1999, "tags": ["b"], "title": "Bonjour", "ok": False},
    {"lang": "de", "year": "2005", "tags": [], "ok": 1},
    {"lang": "en"},
]


def match(spec) -> list[int]:
    pred = compile_filter(spec)
    assert pred is not None
    return [i for i, d in enumerate(DOCS) if pred(d)]


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ({"lang": "en"}, [0, 3]),
        ({"lang": ["fr", "de"]}, [1, 2]),
        ({"year": {"$gt": 2000}}, [0]),  # "2005" (str) and missing: no match, no error
        ({"year": {"$gte": 1999, "$lt": 2001}}, [1]),
        ({"year": {"$lte": 1999}}, [1]),
        ({"lang": {"$ne": "en"}}, [1, 2]),
        ({"lang": {"$in": ["en", "de"]}}, [0, 2, 3]),
        ({"lang": {"$nin": ["en"]}}, [1, 2]),
        ({"year": {"$exists": True}}, [0, 1, 2]),
        ({"year": {"$exists": False}}, [3]),
        ({"year": {"$ne": 2001}}, [1, 2]),  # missing field: a comparison matches nothing
        ({"tags": {"$contains": "b"}}, [0, 1]),
        ({"tags": {"$any": ["a", "z"]}}, [0]),
        ({"tags": {"$all": ["a", "b"]}}, [0]),
        ({"title": {"$text_match": "World"}}, [0]),
        ({"title": {"$text_match_insensitive": "bonj"}}, [1]),
        ({"tags": {"$is_empty": True}}, [2, 3]),
        ({"ok": True}, [0]),  # bool is not int: 1 does not equal True
        ({"ok": 1}, [2]),
        ({"$or": [{"lang": "fr"}, {"year": 2001}]}, [0, 1]),
        ({"$and": [{"lang": "en"}, {"year": {"$exists": True}}]}, [0]),
        ({"$not": {"lang": "en"}}, [1, 2]),
        ({"lang": "en", "year": 2001}, [0]),
    ],
)
def test_operators(spec, expected) -> None:
    assert match(spec) == expected


def test_empty_and_none_mean_no_filter() -> None:
    assert compile_filter(None) is None and compile_filter({}) is None


def test_callable_gets_metadata() -> None:
    assert match(lambda md: md.get("lang") == "fr") == [1]


def test_row_filter_passes_through() -> None:
    rf = RowFilter(lambda i, t, m: True)
    assert compile_filter(rf) is rf


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ({"year": {"$regex": "x"}}, "unknown filter operator '\\$regex'"),
        ({"$xor": [{"a": 1}]}, "unknown logical operator"),
        ({"$and": []}, "non-empty list"),
        ({"lang": {"$in": "en"}}, "needs a list"),
        (["lang"], "must be a dict"),
    ],
)
def test_bad_filters_raise_valueerror(spec, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        compile_filter(spec)
