"""Warm dense query on a saved router, split into detect / embed / search / fetch / other.

Why: on a shared machine wall-clock percentiles move with other processes' load, so two
code versions compared in separate runs of benchmarks/scale.py say little. This loads a
router saved by ``LanguageRouter.save`` and measures each component in *CPU time of this
process* (``time.process_time``), best of several rounds, so two versions can be compared
by running the script twice, interleaved, on the same store::

    PYTHONPATH=/path/to/version-a python benchmarks/dense_query_split.py STORE --model MODEL
    PYTHONPATH=/path/to/version-b python benchmarks/dense_query_split.py STORE --model MODEL

Queries are XQuAD-R questions in the router's languages (as in benchmarks/scale.py).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from benchmarks._synthetic import XQUAD_LANGS, queries  # noqa: E402
from deposium_rag import LanguageRouter, StaticEmbedder  # noqa: E402

PARTS = {
    "detect": ("detector", ["detect", "detect_pair"]),
    "embed": ("encoder", ["encode"]),
    "search": ("backend", ["dense"]),
    "fetch": ("backend", ["get"]),
}


def _wrap(obj: Any, name: str, acc: dict[str, float], part: str) -> Callable[[], None] | None:
    fn = getattr(obj, name, None)
    if fn is None:
        return None

    def timed(*a: Any, **kw: Any) -> Any:
        start = time.process_time()
        try:
            return fn(*a, **kw)
        finally:
            acc[part] = acc.get(part, 0.0) + time.process_time() - start

    setattr(obj, name, timed)
    return lambda: delattr(obj, name)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("store", help="a folder written by LanguageRouter.save")
    parser.add_argument("--model", required=True, help="the model the store was built with")
    parser.add_argument("--queries", type=int, default=40, help="questions per language present")
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    router = LanguageRouter.load(args.store, StaticEmbedder(args.model))
    langs = [x for x in XQUAD_LANGS if router.counts().get(x, 0) > 1000]
    qs = [q for q, _ in queries(langs, args.queries if len(langs) > 1 else 5 * args.queries)]
    for q in qs:
        router.search(q, k=10, mode="dense")
    best: dict[str, float] = {}
    for _ in range(args.rounds):
        acc: dict[str, float] = {}
        undo = []
        for part, (attr, names) in PARTS.items():
            for name in names:
                u = _wrap(getattr(router, attr), name, acc, part)
                if u is not None:
                    undo.append(u)
        start = time.process_time()
        for q in qs:
            router.search(q, k=10, mode="dense")
        acc["total"] = time.process_time() - start
        for u in undo:
            u()
        acc["other"] = acc["total"] - sum(acc.get(p, 0.0) for p in PARTS)
        for key, value in acc.items():
            ms = value / len(qs) * 1000
            best[key] = min(best.get(key, ms), ms)
    print(json.dumps({"store": args.store, "queries": len(qs), "cpu_ms_per_query": best}))


if __name__ == "__main__":
    main()
