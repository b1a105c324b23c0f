"""Candidate generators for ``index="auto"`` on one single-language partition: recall and cost.

Why: the warm dense query on a 100k single-language partition is dominated by the PQ
fast-scan that ``index="auto"`` uses (M = dim/2 sub-quantisers of 4 bits, 100 candidates
re-ranked exactly). This measures, on the synthetic 1024-d model and English corpus of
benchmarks/scale.py, what the alternatives give: fewer sub-quantisers with a larger
re-rank pool (the scan alone, and with a middle int8 stage), 1-bit RaBitQ codes, HNSW
graphs (float32 and int8, their beam re-ranked exactly), and IVF front ends
(``IndexIVFPQFastScan``, inner-product and L2 coarse quantisers) at several ``nprobe``.
recall@10 is against an exact scan; time is CPU time per query on one thread
(``time.process_time``, best of 3), re-rank included.

    python benchmarks/ann_frontends.py --n 100000 --model-dir /tmp/i10a_model
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from pathlib import Path

import faiss
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from benchmarks._synthetic import make_corpus, make_model, queries  # noqa: E402
from deposium_rag import StaticEmbedder  # noqa: E402


def _measure(
    search: Callable[[np.ndarray], np.ndarray], qv: np.ndarray, exact: np.ndarray
) -> tuple[float, float]:
    for q in qv[:10]:
        search(q)
    best = float("inf")
    for _ in range(3):
        start = time.process_time()
        for q in qv:
            search(q)
        best = min(best, (time.process_time() - start) / len(qv))
    recall = np.mean([len(set(search(q)[:10].tolist()) & set(e.tolist())) / 10 for q, e in zip(qv, exact)])
    return best * 1000, float(recall)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--n", type=int, default=100_000)
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--model-dir", required=True, help="synthetic model folder (made if missing)")
    parser.add_argument(
        "--families", default="pq,rabitq,hnsw,ivf", help="which front ends to measure (comma-separated)"
    )
    args = parser.parse_args()
    families = set(args.families.split(","))
    faiss.omp_set_num_threads(1)
    make_model(Path(args.model_dir))
    emb = StaticEmbedder(args.model_dir)
    texts = [t for t, _ in make_corpus(args.n, ["en"])]
    x = np.concatenate([emb.encode(texts[i : i + 2000]) for i in range(0, len(texts), 2000)])
    qv = emb.encode([q for q, _ in queries(["en"], args.queries)])
    exact = np.argsort(-(qv @ x.T), axis=1)[:, :10]
    d = x.shape[1]
    rng = np.random.default_rng(0)
    train = x[np.sort(rng.choice(len(x), min(len(x), 16384), replace=False))]

    def rerank(index: faiss.Index, pool: int) -> Callable[[np.ndarray], np.ndarray]:
        def search(q: np.ndarray) -> np.ndarray:
            cand = index.search(q[None, :], pool)[1][0]
            cand = cand[cand >= 0]
            return cand[np.argsort(-(x[cand] @ q))[:10]]

        return search

    print(f"n={len(x)} dim={d} queries={len(qv)}")
    print("| candidates | pool | CPU ms/query | recall@10 |\n|---|---|---|---|")
    sq8 = faiss.IndexScalarQuantizer(d, faiss.ScalarQuantizer.QT_8bit, faiss.METRIC_INNER_PRODUCT)
    sq8.train(train)
    sq8.add(x)
    for m in (d // 2, d // 4, d // 8) if "pq" in families else ():
        index = faiss.IndexPQFastScan(d, m, 4, faiss.METRIC_INNER_PRODUCT)
        index.train(train[:4096])
        index.add(x)
        # The scan alone (no re-rank): its cost follows the bytes of codes read per query.
        ms, _ = _measure(lambda q, index=index: index.search(q[None, :], 100)[1][0], qv, exact)
        print(f"| PQ fast-scan M={m} ({m // 2} B a row), scan only | 100 | {ms:.3f} | - |", flush=True)
        for pool in (100, 400) if m == d // 2 else (100, 400, 1600):
            ms, rec = _measure(rerank(index, pool), qv, exact)
            print(f"| PQ fast-scan M={m} | {pool} | {ms:.3f} | {rec:.4f} |", flush=True)
        if m < d // 2:  # a middle stage: the pool scored on int8 codes, its best 100 exactly
            refine = faiss.IndexRefine(index, sq8)
            for pool in (800, 1600):
                refine.k_factor = pool / 100
                ms, rec = _measure(rerank(refine, 100), qv, exact)
                label = f"PQ fast-scan M={m} -> int8 (SQ8) top 100"
                print(f"| {label} | {pool} | {ms:.3f} | {rec:.4f} |", flush=True)
    # faiss >= 1.12: 1-bit codes with error bounds
    if "rabitq" in families and hasattr(faiss, "IndexRaBitQFastScan"):
        index = faiss.IndexRaBitQFastScan(d, faiss.METRIC_INNER_PRODUCT)
        index.train(train)
        index.add(x)
        index.qb = 8
        for pool in (100, 400):
            ms, rec = _measure(rerank(index, pool), qv, exact)
            print(f"| RaBitQ fast-scan (1 bit a dimension, query 8 bits) | {pool} | {ms:.3f} | {rec:.4f} |")
    hnsw = (
        ("HNSW M=32, float32", lambda: faiss.IndexHNSWFlat(d, 32, faiss.METRIC_INNER_PRODUCT)),
        (
            "HNSW M=32, int8 (SQ8)",
            lambda: faiss.IndexHNSWSQ(d, faiss.ScalarQuantizer.QT_8bit, 32, faiss.METRIC_INNER_PRODUCT),
        ),
    )
    for label, make in hnsw if "hnsw" in families else ():
        index = make()
        index.hnsw.efConstruction = 80
        index.train(train)
        faiss.omp_set_num_threads(2)  # the build only
        index.add(x)
        faiss.omp_set_num_threads(1)
        for ef in (64, 256, 512):
            index.hnsw.efSearch = ef
            ms, rec = _measure(rerank(index, ef), qv, exact)
            print(f"| {label}, efSearch {ef} | {ef} | {ms:.3f} | {rec:.4f} |", flush=True)
    ivf = ((faiss.METRIC_INNER_PRODUCT, "IP"), (faiss.METRIC_L2, "L2"))
    for metric, name in ivf if "ivf" in families else ():
        for nlist in (256, 1024) if name == "L2" else (256, 1024, 4096):
            coarse = faiss.IndexFlatIP(d) if name == "IP" else faiss.IndexFlatL2(d)
            index = faiss.IndexIVFPQFastScan(coarse, d, nlist, d // 2, 4, metric)
            faiss.omp_set_num_threads(2)  # the build only; k-means wants ~40 rows a list
            index.train(train if 40 * nlist <= len(train) else x[: 40 * nlist])
            index.add(x)
            faiss.omp_set_num_threads(1)
            for nprobe in (16, 64) if nlist < 4096 else (64, 128):
                index.nprobe = nprobe
                ms, rec = _measure(rerank(index, 100), qv, exact)
                print(
                    f"| IVF{nlist} ({name}) + PQ fast-scan M={d // 2}, nprobe {nprobe} | 100 "
                    f"| {ms:.3f} | {rec:.4f} |",
                    flush=True,
                )


if __name__ == "__main__":
    main()
