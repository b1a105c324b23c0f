"""Persistence of the local backend: full save, incremental save, open, first query, compaction.

A ``LocalBackend`` (dense only, so the figures are the store's) holding ``--n`` clustered
1024-d vectors of one language (benchmarks/_vectors.py) with a 500-byte text each, saved to a
temporary folder; then 100 documents are added and saved again (one delta segment), the
folder is opened in this process (manifest + ids only), a first query reads the partition
(checksums, memory maps, ANN index) and a second one runs warm; finally ``compact()``
merges the two segments.

    PYTHONPATH=. python benchmarks/persistence.py [--n 100000] [--vectors float32|float16|int8]
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _vectors import corpus

from deposium_rag.backends.base import BackendConfig, Document
from deposium_rag.backends.local import LocalBackend, describe


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=100000)
    ap.add_argument("--vectors", default="float32", choices=["float32", "float16", "int8"])
    args = ap.parse_args()
    docs, queries = corpus(args.n, 1024, queries=200)
    config = BackendConfig(1024, "synthetic", "fp", False, {})
    backend = LocalBackend(vectors=args.vectors)
    backend.open(config)
    t = time.perf_counter()
    for s in range(0, args.n, 10000):
        stop = min(args.n, s + 10000)
        backend.upsert(
            [Document(f"d{i}", "lorem ipsum " * 42, {"i": i}, "en", docs[i]) for i in range(s, stop)]
        )
    rows = [("ingest (dense only)", time.perf_counter() - t)]
    folder = Path(tempfile.mkdtemp(prefix="deposium-persist-")) / "store"
    try:
        t = time.perf_counter()
        backend.save(folder, {})
        rows.append(("full save", time.perf_counter() - t))
        backend.upsert([Document(f"new{i}", "new text", {}, "en", docs[i]) for i in range(100)])
        t = time.perf_counter()
        backend.save(folder, {})
        rows.append(("save after +100 documents", time.perf_counter() - t))
        t = time.perf_counter()
        opened, _ = LocalBackend.load(folder, config)
        rows.append(("open (manifest + ids)", time.perf_counter() - t))
        t = time.perf_counter()
        opened.dense("en", queries[0], 10)
        rows.append(("first query (reads the partition)", time.perf_counter() - t))
        t = time.perf_counter()
        opened.dense("en", queries[1], 10)
        rows.append(("second query", time.perf_counter() - t))
        t = time.perf_counter()
        opened.compact()
        rows.append(("compact (2 segments -> 1)", time.perf_counter() - t))
        size = describe(folder)["bytes"]
    finally:
        shutil.rmtree(folder.parent)
    full = rows[1][1]
    print(f"{args.n} x 1024 {args.vectors}, one language; {size / args.n:.0f} bytes on disk per document")
    for name, seconds in rows:
        extra = f"  ({seconds / full:.1%} of a full save)" if name.startswith("save after") else ""
        print(f"{name:36} {seconds * 1000:10.1f} ms{extra}")


if __name__ == "__main__":
    main()
