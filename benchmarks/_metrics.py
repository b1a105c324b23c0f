"""Retrieval metrics shared by the benchmarks (one relevant document per query unless qrels)."""

from __future__ import annotations

from collections.abc import Sequence


def recall_at(ranked: Sequence[str], gold: str, k: int) -> float:
    return 1.0 if gold in ranked[:k] else 0.0


def mrr_at(ranked: Sequence[str], gold: str, k: int = 10) -> float:
    for i, doc in enumerate(ranked[:k]):
        if doc == gold:
            return 1.0 / (i + 1)
    return 0.0


def mean(values: Sequence[float]) -> float:
    return sum(values) / len(values) if values else 0.0


def percentile(values: Sequence[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return 0.0
    idx = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[idx]
