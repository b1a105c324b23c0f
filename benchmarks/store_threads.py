"""One faiss thread per query: single-query latency with OpenMP's default team vs the store's.

Before: ``index.search`` called with faiss's default thread count (all cores), as the store
did before. After: ``FaissStore.search``, which runs each single query on one OpenMP thread
(``deposium_rag.store.one_thread``). Same index, same queries, same run, results compared.
Vectors: clustered 1024-d rows shaped like a static model's (benchmarks/_vectors.py).

    PYTHONPATH=. python benchmarks/store_threads.py [--n 28000] [--queries 200]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import faiss
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _vectors import corpus

from deposium_rag.store import FaissStore


def p50(times: list[float]) -> float:
    return float(np.median(times) * 1000)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=28000)
    ap.add_argument("--dim", type=int, default=1024)
    ap.add_argument("--queries", type=int, default=200)
    args = ap.parse_args()
    docs, queries = corpus(args.n, args.dim, queries=args.queries)
    print(f"{args.n} x {args.dim}, faiss default threads = {faiss.omp_get_max_threads()}")
    print(f"{'index':6} {'default threads p50 ms':>23} {'one thread (store) p50 ms':>26} {'ratio':>6} same")
    for kind in ("flat", "hnsw"):
        store = FaissStore(args.dim, index=kind)
        store.add(docs, [""] * len(docs), ids=[str(i) for i in range(len(docs))])
        index = store._index
        before, after, same = [], [], True
        for _ in range(2):  # interleaved rounds, so machine load hits both alike
            for q in queries:
                t = time.perf_counter()
                scores, _ = index.search(q[None, :], 10)
                before.append(time.perf_counter() - t)
                t = time.perf_counter()
                hits = store.scores(q, 10)
                after.append(time.perf_counter() - t)
                # same ranking (ties may swap places: compare the scores)
                same &= bool(np.allclose(scores[0], [x for _, x in hits], atol=1e-5))
        ratio = p50(before) / p50(after)
        print(f"{kind:6} {p50(before):23.2f} {p50(after):26.2f} {ratio:6.1f} {same}")


if __name__ == "__main__":
    main()
