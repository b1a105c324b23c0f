"""The same routed hybrid retriever on the local backend and on Milvus (milvus-lite), XQuAD-R.

Corpus: the 240 paragraphs of each of the 11 XQuAD-R languages (2,640) in one router, each
paragraph's language detected; queries: each language's questions (1,190 each, or
``--max-questions``), routed by detection. Per backend: ingest docs/s (detect + embed + store),
then per mode (dense / lexical / hybrid) R@5, MRR@10 and the share of other-language documents
in the top 5, macro over languages (per language for hybrid), and the query latency p50.

Backends: ``local`` (FAISS + BM25 in process), ``milvus-lite`` (embedded, a ``.db`` folder),
``milvus-server`` (a ``milvus-lite server`` started here on a free loopback port: the gRPC
path a cluster uses), each Milvus one with ``--index`` flat and/or hnsw (M=32).

Done when: Milvus hybrid macro MRR@10 within 0.5 point of local; other-language share <= 1%.

    python benchmarks/milvus_backend.py [--max-questions N] [--index flat,hnsw] [--no-server]
        [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from _data import XQUAD_LANGS, load_xquad
from _metrics import mean, mrr_at, percentile, recall_at

from deposium_rag import StaticEmbedder
from deposium_rag.backends import LocalBackend, MilvusBackend
from deposium_rag.retrievers import LanguageRouter

MODES = ("dense", "lexical", "hybrid")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(data_dir: Path) -> tuple[subprocess.Popen, str]:
    port = _free_port()
    cmd = [sys.executable, "-m", "milvus_lite", "server", "--data-dir", str(data_dir), "--port", str(port)]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _ in range(600):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return proc, f"http://127.0.0.1:{port}"
        except OSError:
            time.sleep(0.1)
    proc.kill()
    raise RuntimeError("milvus-lite server did not start")


def run(name: str, router: LanguageRouter, texts: list[str], ids: list[str], queries: list[tuple]) -> dict:
    t0 = time.perf_counter()
    for i in range(0, len(texts), 256):
        router.add(texts[i : i + 256], ids=ids[i : i + 256])
    ingest = time.perf_counter() - t0
    out: dict[str, Any] = {"backend": name, "ingest_docs_per_s": len(texts) / ingest, "modes": {}}
    print(f"\n## {name}: ingest {len(texts)} docs in {ingest:.1f} s ({len(texts) / ingest:.0f} docs/s)")
    for mode in MODES:
        router.search(queries[0][1], 10, mode=mode)  # warm
        per: dict[str, dict[str, list[float]]] = {}
        lat: list[float] = []
        for lang, q, gold in queries:
            t = time.perf_counter()
            res = router.search(q, 10, mode=mode)
            lat.append(time.perf_counter() - t)
            ranked = [h.id for h in res.hits]
            row = per.setdefault(lang, {"r5": [], "mrr": [], "other": [], "n5": []})
            row["r5"].append(recall_at(ranked, gold, 5))
            row["mrr"].append(mrr_at(ranked, gold, 10))
            row["other"].append(sum(1 for x in res.languages[:5] if x != lang))
            row["n5"].append(len(res.languages[:5]))
        langs = {
            lang: {
                "r5": mean(r["r5"]),
                "mrr10": mean(r["mrr"]),
                "other_share": sum(r["other"]) / max(1, sum(r["n5"])),
            }
            for lang, r in per.items()
        }
        macro = {key: mean([v[key] for v in langs.values()]) for key in ("r5", "mrr10", "other_share")}
        out["modes"][mode] = {"macro": macro, "languages": langs, "p50_ms": percentile(lat, 50) * 1000}
        print(
            f"{mode:8s} R@5 {macro['r5'] * 100:5.1f}  MRR@10 {macro['mrr10'] * 100:5.1f}  "
            f"other-language top-5 {macro['other_share'] * 100:4.2f}%  "
            f"p50 {percentile(lat, 50) * 1000:6.1f} ms"
        )
    hy = out["modes"]["hybrid"]["languages"]
    print(
        "hybrid MRR@10 per language: "
        + ", ".join(f"{k} {v['mrr10'] * 100:.1f}" for k, v in sorted(hy.items()))
    )
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="bundled")
    parser.add_argument("--max-questions", type=int, default=0, help="per language; 0 = all 1,190")
    parser.add_argument("--index", default="flat", help="Milvus dense index(es): flat, hnsw or flat,hnsw")
    parser.add_argument("--no-server", action="store_true", help="skip the milvus-lite server runs")
    parser.add_argument("--json", help="also write the results to this JSON file")
    args = parser.parse_args()

    embedder = StaticEmbedder(args.model)
    sets = [load_xquad(lang) for lang in XQUAD_LANGS]
    texts = [p for s in sets for p in s.paragraphs]
    ids = [f"{s.language}:{i}" for s in sets for i in range(len(s.paragraphs))]
    queries = []
    for s in sets:
        qs = list(zip(s.questions, s.gold))
        queries += [(s.language, q, f"{s.language}:{g}") for q, g in qs[: args.max_questions or None]]
    print(f"model {embedder.model_name}; {len(texts)} paragraphs, {len(queries)} questions, detected routing")

    results = [run("local", LanguageRouter(embedder, backend=LocalBackend()), texts, ids, queries)]
    tmp = Path(tempfile.mkdtemp(prefix="milvus-bench-"))
    server = None
    try:
        for index in args.index.split(","):
            backend = MilvusBackend(str(tmp / f"{index}.db"), collection="xquad", index=index)
            router = LanguageRouter(embedder, backend=backend)
            results.append(run(f"milvus-lite embedded ({index})", router, texts, ids, queries))
            backend.close()
        if not args.no_server:
            server, uri = start_server(tmp / "server")
            for index in args.index.split(","):
                backend = MilvusBackend(uri, collection=f"xquad_{index}", index=index)
                router = LanguageRouter(embedder, backend=backend)
                results.append(run(f"milvus-lite server ({index})", router, texts, ids, queries))
                backend.close()
    finally:
        if server is not None:
            server.terminate()
            server.wait(timeout=30)

    local = results[0]["modes"]
    print("\n| backend | ingest docs/s | " + " | ".join(f"{m} MRR@10 / R@5 / p50 ms" for m in MODES) + " |")
    print("|---|---|" + "---|" * len(MODES))
    for r in results:
        cells = [
            f"{r['modes'][m]['macro']['mrr10'] * 100:.1f} / {r['modes'][m]['macro']['r5'] * 100:.1f} / "
            f"{r['modes'][m]['p50_ms']:.1f}"
            for m in MODES
        ]
        print(f"| {r['backend']} | {r['ingest_docs_per_s']:.0f} | " + " | ".join(cells) + " |")
    print("\ndone when (hybrid, vs local):")
    for r in results[1:]:
        gap = (r["modes"]["hybrid"]["macro"]["mrr10"] - local["hybrid"]["macro"]["mrr10"]) * 100
        other = r["modes"]["hybrid"]["macro"]["other_share"] * 100
        ok = abs(gap) <= 0.5 and other <= 1.0
        print(
            f"  {r['backend']}: MRR@10 {gap:+.2f} points, other-language top-5 {other:.2f}% "
            f"-> {'met' if ok else 'NOT met'}"
        )
    if args.json:
        Path(args.json).write_text(json.dumps({"questions": len(queries), "results": results}, indent=2))


if __name__ == "__main__":
    main()
