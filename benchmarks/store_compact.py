"""Compact vectors and the approximate index: recall@10, latency and memory per document.

For each store configuration (index kind x vector precision), in a fresh subprocess: build a
``FaissStore`` of ``--n`` clustered 1024-d vectors shaped like one language's static-model
vectors (benchmarks/_vectors.py, mean pairwise cosine ~0.89) with a 600-byte text and small
metadata per document, then measure

* recall@10 against exact float32 search (numpy, the same run's ground truth);
* single-query p50 / p95 of ``FaissStore.scores`` (one faiss thread per query);
* memory per document: RSS growth while building (texts, metadata, ids, vectors, index),
  and the store's own column sizes (``FaissStore.memory_bytes``);
* build time.

Speed is judged against the exact float32 scan measured in the same run (ratio column).

    PYTHONPATH=. python benchmarks/store_compact.py [--n 100000] [--hnsw-m 32] [--ef 64,128,256]
    # the defaults only:
    PYTHONPATH=. python benchmarks/store_compact.py --only flat:float32,auto:float32,auto:float16,auto:int8 \
        --hnsw-m "" --rerank 50,100,200
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _vectors import corpus, mean_cosine


def rss_bytes() -> int:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * resource.getpagesize()


def run_one(cfg: dict) -> dict:
    from deposium_rag.store import FaissStore

    docs, queries = corpus(cfg["n"], cfg["dim"], queries=cfg["queries"])
    gt = np.argsort(-(queries @ docs.T), axis=1)[:, :10]
    texts = [f"document {i} " + "lorem ipsum dolor sit amet " * 22 for i in range(cfg["n"])]
    metas = [{"source": f"file{i % 500}.md", "chunk": i % 37} for i in range(cfg["n"])]
    ids = [f"doc-{i:08d}" for i in range(cfg["n"])]
    base = rss_bytes()
    t = time.perf_counter()
    store = FaissStore(cfg["dim"], index=cfg["index"], vectors=cfg["vectors"], **cfg.get("opts", {}))
    for s in range(0, cfg["n"], 10000):
        store.add(docs[s : s + 10000], texts[s : s + 10000], metas[s : s + 10000], ids[s : s + 10000])
    build = time.perf_counter() - t
    del texts, metas, ids
    rss = (rss_bytes() - base) / cfg["n"]
    cols = {k: v / cfg["n"] for k, v in store.memory_bytes().items()}
    rows = []
    for setting in cfg.get("sweep") or [{}]:
        for key, value in setting.items():
            setattr(store, key, value)
        if store._ann is not None and "ef_search" in setting:
            store._ann.hnsw.efSearch = setting["ef_search"]
        found, times = [], []
        for q in queries:
            t = time.perf_counter()
            hits = store.scores(q, 10)
            times.append(time.perf_counter() - t)
            found.append([int(d[4:]) for d, _ in hits])
        recall = float(np.mean([len(set(f) & set(g)) / 10 for f, g in zip(found, gt)]))
        rows.append(
            {
                "setting": setting,
                "recall": recall,
                "p50": float(np.percentile(times, 50) * 1000),
                "p95": float(np.percentile(times, 95) * 1000),
            }
        )
    return {"build_s": build, "rss_per_doc": rss, "columns_per_doc": cols, "rows": rows}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=100000)
    ap.add_argument("--dim", type=int, default=1024)
    ap.add_argument("--queries", type=int, default=200)
    ap.add_argument("--hnsw-m", default="32")
    ap.add_argument("--ef", default="64,128,256")
    ap.add_argument("--rerank", default="100,200,300,500")
    ap.add_argument(
        "--only",
        default="",
        help="comma-separated index:vectors pairs to run (e.g. flat:float32,auto:int8); default all",
    )
    ap.add_argument("--one", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.one:
        print(json.dumps(run_one(json.loads(args.one))))
        return
    docs, _ = corpus(args.n, args.dim, queries=args.queries)  # made once, cached for the subprocesses
    print(f"{args.n} x {args.dim} clustered vectors, mean pairwise cosine {mean_cosine(docs):.3f}")
    del docs
    common = {"n": args.n, "dim": args.dim, "queries": args.queries}
    reranks = [{"rerank": int(x)} for x in args.rerank.split(",")]
    configs = [
        {"index": "flat", "vectors": "float32"},
        {"index": "flat", "vectors": "float16"},
        {"index": "flat", "vectors": "int8"},
        {"index": "auto", "vectors": "float32", "sweep": reranks},
        {"index": "auto", "vectors": "float32", "opts": {"pq_m": args.dim // 4}, "sweep": reranks},
        {"index": "auto", "vectors": "float16", "sweep": reranks},
        {"index": "auto", "vectors": "int8", "sweep": reranks},
    ]
    for m in [x for x in args.hnsw_m.split(",") if x]:
        sweep = [{"ef_search": int(x)} for x in args.ef.split(",")]
        configs.append({"index": "hnsw", "vectors": "float32", "opts": {"hnsw_m": int(m)}, "sweep": sweep})
    if args.only:
        wanted = set(args.only.split(","))
        configs = [
            c for c in configs if f"{c['index']}:{c['vectors']}" in wanted and "pq_m" not in c.get("opts", {})
        ]
    print(
        f"{'index':5} {'vectors':8} {'setting':17} {'recall@10':>9} {'p50 ms':>7} {'p95 ms':>7} "
        f"{'x flat32':>8} {'RSS B/doc':>9} {'vec+ann+txt+meta B/doc':>24} {'build s':>7}"
    )
    flat_p50 = None
    for cfg in configs:
        out = subprocess.run(
            [sys.executable, __file__, "--one", json.dumps({**common, **cfg})],
            capture_output=True,
            text=True,
            check=True,
        )
        res = json.loads(out.stdout.strip().splitlines()[-1])
        cols = res["columns_per_doc"]
        colstr = "+".join(f"{cols[k]:.0f}" for k in ("vectors", "ann", "texts", "metadata"))
        for row in res["rows"]:
            flat_p50 = flat_p50 or row["p50"]
            label = ",".join(f"{k}={v}" for k, v in row["setting"].items()) or "-"
            if "pq_m" in cfg.get("opts", {}):
                label = f"pq{cfg['opts']['pq_m']}," + label
            if "hnsw_m" in cfg.get("opts", {}):
                label = f"M={cfg['opts']['hnsw_m']}," + label.replace("ef_search", "ef")
            print(
                f"{cfg['index']:5} {cfg['vectors']:8} {label:17} {row['recall']:9.3f} {row['p50']:7.2f} "
                f"{row['p95']:7.2f} {flat_p50 / row['p50']:8.1f} {res['rss_per_doc']:9.0f} {colstr:>24} "
                f"{res['build_s']:7.1f}",
                flush=True,
            )


if __name__ == "__main__":
    main()
