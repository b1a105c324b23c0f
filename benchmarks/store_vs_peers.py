"""deposium-rag's FAISS store against its peers, side by side in one run, on 100k real texts.

Stores (each built and measured in its own fresh subprocess, one after the other):
  ours-flat    deposium_rag LangChain face ``FAISSVectorStore(embedding, index="flat")``
  ours-hnsw    the same with ``index="hnsw"`` (defaults M=32, efConstruction=80, efSearch=64)
  lc-faiss     langchain-community ``FAISS`` over ``faiss.IndexFlatIP`` with
               ``distance_strategy=MAX_INNER_PRODUCT`` (the vectors are unit length, so the
               ranking equals cosine and equals the default L2 ranking), an
               ``InMemoryDocstore``, filled with ``add_texts``; filtered search uses its
               ``filter=`` dict, which post-filters the ``fetch_k=20`` (default) nearest
  llama-faiss  llama-index ``FaissVectorStore`` over ``faiss.IndexFlatIP``, fed ``TextNode``s
               with their embedding set, queried with ``VectorStoreQuery``. It keeps only the
               vectors (``stores_text=False``: text and metadata live in a separate
               docstore in real use) and has no metadata filters (they raise: n/a).

Corpus: lingua test sentences (75 languages), Vaswani abstracts and XQuAD(-R) paragraphs and
questions from ../shared/data (read in place), de-duplicated, shuffled with a fixed seed,
the first ``--n`` taken (cycled if the data runs out). 500 XQuAD questions are held out as
queries. Each document gets metadata ``{"lang": <code>, "bucket": i % 10}``.

Everything (documents and queries) is embedded ONCE with the bundled Model2Vec model
(``StaticEmbedder("bundled")``, 256-d, unit vectors). Every store then gets the same
precomputed vectors through ``LookupEmbeddings``, a tiny LangChain ``Embeddings`` that
looks a text up and returns its stored vector as ``list[list[float]]`` (what the
``Embeddings`` API returns); queries go through the ``*_by_vector`` / ``query_embedding``
APIs. So the numbers are store cost, not model cost. Timed regions cover everything from
(texts, metadata, ids) to "stored" through each store's normal add API, including the
lookup and, for llama-index, building the ``TextNode``s.

Measured per store:
  1. build time: the ``--n`` documents added in batches of ``--batch`` (1000);
  2. add ONE document: median over ``--single-adds`` (200) single adds, with the store at
     10k, 50k and ``--n`` documents (each checkpoint leaves its 200 extra documents in);
  3. query latency p50 / p99 at k=10 over ``--queries`` (500) pre-embedded questions:
     no filter, ``{"bucket": 3}`` (10% match) and ``{"bucket": 3, "lang": "en"}`` (~1.4%);
  4. for the filtered queries: results returned per query (of k), whether every result
     matches the filter, and recall@k against the exact filtered top-k (ties counted);
  5. memory per document: RSS growth of the subprocess while building, divided by the
     documents held. The baseline is taken after the shared inputs (vectors, lookup) are
     loaded and a throw-away warm-up store has run; texts, ids and metadata are handed to
     the store as fresh objects, so what the store keeps is counted and the inputs are not;
  6. ours only, "HNSW vs flat crossover": at 10k, 50k and ``--n`` documents, unfiltered
     query p50 of flat and hnsw, recall@10 of each against exact search, build time so far.

Threads: each store's subprocess runs with ``--threads`` (default 1) OpenMP and BLAS threads.
Single-query latency is what is measured, and on a shared 2-core machine a 2-thread faiss or
BLAS call waits for both cores (a 1.2 ms flat search at 20k became 10-16 ms under load), so
one thread is both fairer and more stable; HNSW builds are slower with one thread.

Run (about 5-6 minutes on a busy 2-core machine at the defaults; ``--n 20000`` for a smoke run):

    /work/venv/bin/python benchmarks/store_vs_peers.py [--n 100000] [--queries 500]
"""

from __future__ import annotations

import argparse
import array
import contextlib
import ctypes
import gc
import importlib.metadata as md
import json
import os
import platform
import re
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import psutil
from _data import DATA, load_all_xquad
from langchain_core.embeddings import Embeddings

STORES = ("ours-flat", "ours-hnsw", "lc-faiss", "llama-faiss")
LABELS = {
    "ours-flat": "deposium_rag FAISSVectorStore flat",
    "ours-hnsw": "deposium_rag FAISSVectorStore hnsw",
    "lc-faiss": "langchain-community FAISS (IP)",
    "llama-faiss": "llama-index FaissVectorStore (IP)",
}
SCENARIOS: dict[str, dict[str, Any] | None] = {
    "none": None,
    "bucket": {"bucket": 3},
    "bucket+en": {"bucket": 3, "lang": "en"},
}
CHECKPOINTS = (10_000, 50_000)
SEED = 0
TIE_TOL = 1e-4


# -- data ---------------------------------------------------------------------------------------
def load_texts() -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    """(documents, candidate queries) as (lang, text) pairs, from ../shared/data in place."""
    docs: list[tuple[str, str]] = []
    for path in sorted((DATA / "lingua-language-testdata" / "sentences").glob("*.txt")):
        lines = path.read_text(encoding="utf-8").splitlines()
        docs += [(path.stem, line.strip()) for line in lines if line.strip()]
    trec = (DATA / "vaswani-npl" / "corpus" / "doc-text.trec").read_text(encoding="utf-8")
    for body in re.findall(r"<DOC>\s*<DOCNO>\s*\d+\s*</DOCNO>(.*?)</DOC>", trec, re.S):
        text = " ".join(body.split())
        if text:
            docs.append(("en", text))
    questions: list[tuple[str, str]] = []
    for qa in load_all_xquad():
        docs += [(qa.language, p) for p in qa.paragraphs]
        questions += [(qa.language, q) for q in qa.questions]
    return docs, questions


def dedupe(pairs: Sequence[tuple[str, str]]) -> list[tuple[str, str]]:
    seen: set[str] = set()
    out = []
    for lang, text in pairs:
        if text not in seen:
            seen.add(text)
            out.append((lang, text))
    return out


class LookupEmbeddings(Embeddings):
    """``Embeddings`` that returns precomputed vectors by text: measures the store, not a model."""

    def __init__(self, vectors: np.ndarray, texts: Sequence[str]) -> None:
        self.vectors = vectors
        # Keyed by hash so the lookup holds no reference to the texts (see memory, item 5).
        self.rows = {hash(t): i for i, t in enumerate(texts)}
        if len(self.rows) != len(set(texts)):
            raise RuntimeError("str hash collision in the lookup; rerun")

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return self.vectors[[self.rows[hash(t)] for t in texts]].tolist()

    def embed_query(self, text: str) -> list[float]:
        return self.vectors[self.rows[hash(text)]].tolist()


def matches(spec: Mapping[str, Any] | None, lang: str, bucket: int) -> bool:
    if spec is None:
        return True
    return all({"lang": lang, "bucket": bucket}[key] == value for key, value in spec.items())


# -- plan: which global rows the stores hold at each point ----------------------------------------
def checkpoints(n: int) -> list[int]:
    return [c for c in CHECKPOINTS if c < n] + [n]


def rows_at(n: int, singles: int, upto: int) -> np.ndarray:
    """Global rows held at checkpoint ``upto`` before its single adds (corpus rows, then extras)."""
    earlier = [c for c in checkpoints(n) if c < upto]
    extras = np.arange(n, n + singles * len(earlier))
    return np.concatenate([np.arange(upto), extras])


def exact_thresholds(
    vectors: np.ndarray, held: np.ndarray, mask: np.ndarray, queries: np.ndarray, k: int
) -> tuple[list[float], int]:
    """Per query, the k-th best exact score among held rows passing ``mask``; and how many pass."""
    rows = held[mask[held]]
    if len(rows) == 0:
        return [float("inf")] * len(queries), 0
    kk = min(k, len(rows))
    base = vectors[rows]
    out: list[float] = []
    for start in range(0, len(queries), 100):
        scores = base @ queries[start : start + 100].T
        out += (-np.partition(-scores, kk - 1, axis=0)[kk - 1]).tolist()
    return out, len(rows)


def prepare(args: argparse.Namespace, workdir: Path) -> dict[str, Any]:
    from deposium_rag import StaticEmbedder

    t0 = time.perf_counter()
    docs, questions = load_texts()
    rng = np.random.default_rng(SEED)
    questions = dedupe(questions)
    picked = set(rng.choice(len(questions), size=args.queries, replace=False).tolist())
    queries = [questions[i] for i in sorted(picked)]
    held_out = {t for _, t in queries}
    pool = [d for d in dedupe(docs + questions) if d[1] not in held_out]
    pool = [pool[i] for i in rng.permutation(len(pool))]
    n_extra = args.single_adds * len(checkpoints(args.n))
    need = args.n + n_extra
    cycled = need > len(pool)
    chosen = [pool[i % len(pool)] for i in range(need)]
    langs = [lang for lang, _ in chosen] + [lang for lang, _ in queries]
    texts = [t for _, t in chosen] + [t for _, t in queries]
    t1 = time.perf_counter()
    embedder = StaticEmbedder("bundled")
    vectors = np.ascontiguousarray(embedder.encode(texts), dtype=np.float32)
    t2 = time.perf_counter()
    np.save(workdir / "vectors.npy", vectors)
    (workdir / "texts.json").write_text(json.dumps({"texts": texts, "langs": langs}), encoding="utf-8")

    qvec = vectors[need:]
    buckets = np.arange(need) % 10
    lang_arr = np.array(langs[:need])
    masks = {
        "none": np.ones(need, dtype=bool),
        "bucket": buckets == 3,
        "bucket+en": (buckets == 3) & (lang_arr == "en"),
    }
    truth: dict[str, Any] = {"final": {}, "checkpoints": {}}
    final_rows = np.arange(need)
    for name, mask in masks.items():
        thr, n_match = exact_thresholds(vectors, final_rows, mask, qvec, args.k)
        truth["final"][name] = {"thr": thr, "n_match": n_match}
    for c in checkpoints(args.n):
        thr, n_match = exact_thresholds(
            vectors, rows_at(args.n, args.single_adds, c), masks["none"], qvec, args.k
        )
        truth["checkpoints"][str(c)] = {"thr": thr, "n_match": n_match}
    plan = {
        "n": args.n,
        "n_extra": n_extra,
        "n_queries": len(queries),
        "k": args.k,
        "batch": args.batch,
        "single_adds": args.single_adds,
        "checkpoints": checkpoints(args.n),
        "truth": truth,
    }
    (workdir / "plan.json").write_text(json.dumps(plan), encoding="utf-8")
    sources = {"pool": len(pool), "cycled": cycled, "model": embedder.model_name, "dim": embedder.dim}
    sources["load_s"], sources["embed_s"] = t1 - t0, t2 - t1
    sources["n_embedded"] = len(texts)
    return sources


# -- store adapters (run inside the subprocess) -----------------------------------------------------
Hits = list[str]  # ids of the results, best first


class Adapter:
    """add_batch / add_one / search over one store, through that store's public API."""

    filters_supported = True

    def add_batch(self, texts: list[str], metas: list[dict[str, Any]], ids: list[str]) -> None:
        raise NotImplementedError

    def add_one(self, text: str, meta: dict[str, Any], doc_id: str) -> None:
        self.add_batch([text], [meta], [doc_id])

    def search(self, query: list[float], k: int, spec: dict[str, Any] | None) -> Hits:
        raise NotImplementedError


class OursAdapter(Adapter):
    def __init__(self, emb: Embeddings, index: str) -> None:
        from deposium_rag.integrations.langchain import FAISSVectorStore

        self.vs = FAISSVectorStore(emb, index=index)  # type: ignore[arg-type]

    def add_batch(self, texts: list[str], metas: list[dict[str, Any]], ids: list[str]) -> None:
        self.vs.add_texts(texts, metas, ids=ids)

    def search(self, query: list[float], k: int, spec: dict[str, Any] | None) -> Hits:
        return [d.id or "" for d, _ in self.vs.similarity_search_with_score_by_vector(query, k, spec)]


class LangChainCommunityAdapter(Adapter):
    def __init__(self, emb: Embeddings, dim: int) -> None:
        import faiss
        from langchain_community.docstore.in_memory import InMemoryDocstore
        from langchain_community.vectorstores import FAISS
        from langchain_community.vectorstores.utils import DistanceStrategy

        self.vs = FAISS(
            embedding_function=emb,
            index=faiss.IndexFlatIP(dim),
            docstore=InMemoryDocstore(),
            index_to_docstore_id={},
            distance_strategy=DistanceStrategy.MAX_INNER_PRODUCT,
        )

    def add_batch(self, texts: list[str], metas: list[dict[str, Any]], ids: list[str]) -> None:
        self.vs.add_texts(texts, metas, ids=ids)

    def search(self, query: list[float], k: int, spec: dict[str, Any] | None) -> Hits:
        hits = self.vs.similarity_search_with_score_by_vector(query, k, filter=spec)
        return [d.id or "" for d, _ in hits]


class LlamaIndexAdapter(Adapter):
    filters_supported = False

    def __init__(self, emb: Embeddings, dim: int) -> None:
        import faiss
        from llama_index.vector_stores.faiss import FaissVectorStore

        self.emb = emb
        self.vs = FaissVectorStore(faiss_index=faiss.IndexFlatIP(dim))
        # The store answers with faiss row numbers; this maps them back to our ids (8 B/doc).
        self.row_ids = array.array("q")

    def add_batch(self, texts: list[str], metas: list[dict[str, Any]], ids: list[str]) -> None:
        from llama_index.core.schema import TextNode

        vectors = self.emb.embed_documents(texts)
        nodes = [
            TextNode(text=t, metadata=m, id_=i, embedding=v) for t, m, i, v in zip(texts, metas, ids, vectors)
        ]
        self.vs.add(nodes)  # type: ignore[arg-type]
        self.row_ids.extend(int(i[1:]) for i in ids)

    def search(self, query: list[float], k: int, spec: dict[str, Any] | None) -> Hits:
        from llama_index.core.vector_stores.types import (
            MetadataFilter,
            MetadataFilters,
            VectorStoreQuery,
        )

        filters = None
        if spec is not None:
            filters = MetadataFilters(filters=[MetadataFilter(key=a, value=b) for a, b in spec.items()])
        result = self.vs.query(VectorStoreQuery(query_embedding=query, similarity_top_k=k, filters=filters))
        return [f"r{self.row_ids[int(i)]}" for i in result.ids or []]


def make_adapter(name: str, emb: Embeddings, dim: int) -> Adapter:
    if name == "ours-flat":
        return OursAdapter(emb, "flat")
    if name == "ours-hnsw":
        return OursAdapter(emb, "hnsw")
    if name == "lc-faiss":
        return LangChainCommunityAdapter(emb, dim)
    if name == "llama-faiss":
        return LlamaIndexAdapter(emb, dim)
    raise ValueError(f"unknown store {name!r}; choose from {', '.join(STORES)}")


# -- the measurement (subprocess) -----------------------------------------------------------------
def rss_settled() -> int:
    gc.collect()
    with contextlib.suppress(OSError):  # not glibc: skip the trim
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    return int(psutil.Process().memory_info().rss)


class Run:
    """Everything one subprocess needs: inputs as compact bytes, fresh objects handed to the store."""

    def __init__(self, workdir: Path) -> None:
        self.plan: dict[str, Any] = json.loads((workdir / "plan.json").read_text(encoding="utf-8"))
        data = json.loads((workdir / "texts.json").read_text(encoding="utf-8"))
        self.vectors: np.ndarray = np.load(workdir / "vectors.npy")
        self.emb = LookupEmbeddings(self.vectors, data["texts"])
        # Inputs kept as bytes: each add decodes fresh str objects, owned by the store alone.
        self.texts_b = [t.encode("utf-8") for t in data["texts"]]
        self.langs_b = [lang.encode("ascii") for lang in data["langs"]]
        self.langs: list[str] = data["langs"]
        del data
        self.n: int = self.plan["n"]
        self.k: int = self.plan["k"]
        need = self.n + self.plan["n_extra"]
        self.queries: list[list[float]] = self.vectors[need:].tolist()
        self.qvec = self.vectors[need:]

    def docs(self, rows: Sequence[int]) -> tuple[list[str], list[dict[str, Any]], list[str]]:
        texts = [self.texts_b[r].decode("utf-8") for r in rows]
        metas = [{"lang": self.langs_b[r].decode("ascii"), "bucket": r % 10} for r in rows]
        ids = [f"r{r}" for r in rows]
        return texts, metas, ids

    def time_queries(self, store: Adapter, spec: dict[str, Any] | None) -> tuple[list[float], list[Hits]]:
        for q in self.queries[:10]:  # warm-up
            store.search(q, self.k, spec)
        gc.collect()
        times: list[float] = []
        hits: list[Hits] = []
        for q in self.queries:
            t0 = time.perf_counter_ns()
            got = store.search(q, self.k, spec)
            times.append((time.perf_counter_ns() - t0) / 1e6)
            hits.append(got)
        return times, hits

    def quality(self, hits: list[Hits], spec: dict[str, Any] | None, truth: dict[str, Any]) -> dict[str, Any]:
        want = min(self.k, truth["n_match"])
        returned, all_match, recall = [], True, []
        for q, (got, thr) in enumerate(zip(hits, truth["thr"])):
            rows = [int(i[1:]) for i in got]
            ok = [matches(spec, self.langs[r], r % 10) for r in rows]
            all_match = all_match and all(ok)
            scores = self.vectors[rows] @ self.qvec[q] if rows else np.zeros(0)
            good = sum(1 for s, m in zip(scores, ok) if m and s >= thr - TIE_TOL)
            returned.append(len(rows))
            recall.append(min(good, want) / want if want else 1.0)
        return {
            "returned": float(np.mean(returned)),
            "all_match": all_match,
            "recall": float(np.mean(recall)),
        }


def latency(times: list[float]) -> dict[str, float]:
    return {"p50": float(np.percentile(times, 50)), "p99": float(np.percentile(times, 99))}


def measure(name: str, workdir: Path) -> dict[str, Any]:
    run = Run(workdir)
    plan, n, k = run.plan, run.n, run.k
    dim = int(run.vectors.shape[1])
    ours = name.startswith("ours")

    # Warm-up on a throw-away store so lazy imports and first-call caches are not counted.
    warm = make_adapter(name, run.emb, dim)
    spare = list(range(n + plan["n_extra"] - 3, n + plan["n_extra"]))
    warm.add_batch(*run.docs(spare[:2]))
    warm.add_one(*(x[0] for x in run.docs(spare[2:])))
    for spec in SCENARIOS.values():
        if warm.filters_supported or spec is None:
            warm.search(run.queries[0], k, spec)
    del warm

    rss0 = rss_settled()
    store = make_adapter(name, run.emb, dim)
    build_s = 0.0
    held = 0
    next_extra = n
    add_one: dict[str, float] = {}
    crossover: dict[str, Any] = {}

    def checkpoint(size: int) -> None:
        nonlocal next_extra, held
        if ours:
            times, hits = run.time_queries(store, None)
            truth = plan["truth"]["checkpoints"][str(size)]
            crossover[str(size)] = {
                **latency(times),
                **run.quality(hits, None, truth),
                "build_s": build_s,
                "held": held,
            }
        singles = []
        for r in range(next_extra, next_extra + plan["single_adds"]):
            text, meta, doc_id = (x[0] for x in run.docs([r]))
            t0 = time.perf_counter_ns()
            store.add_one(text, meta, doc_id)
            singles.append((time.perf_counter_ns() - t0) / 1e3)
        next_extra += plan["single_adds"]
        held += plan["single_adds"]
        add_one[str(size)] = float(np.median(singles))

    gc.collect()
    for start in range(0, n, plan["batch"]):
        rows = range(start, min(n, start + plan["batch"]))
        texts, metas, ids = run.docs(rows)
        t0 = time.perf_counter()
        store.add_batch(texts, metas, ids)
        build_s += time.perf_counter() - t0
        del texts, metas, ids
        held += len(rows)
        if rows.stop in CHECKPOINTS and rows.stop < n:
            checkpoint(rows.stop)
    rss1 = rss_settled()
    memory = {"rss_before": rss0, "rss_after": rss1, "held": held, "per_doc": (rss1 - rss0) / held}
    checkpoint(n)

    queries: dict[str, Any] = {}
    for label, spec in SCENARIOS.items():
        if spec is not None and not store.filters_supported:
            try:
                store.search(run.queries[0], k, spec)
                queries[label] = {"error": "accepted a filter it does not apply"}
            except Exception as exc:
                queries[label] = {"error": f"{type(exc).__name__}: {exc}"}
            continue
        times, hits = run.time_queries(store, spec)
        queries[label] = {**latency(times), **run.quality(hits, spec, plan["truth"]["final"][label])}
    import faiss

    return {
        "store": name,
        "faiss_threads": faiss.omp_get_max_threads(),
        "held": held,
        "build_s": build_s,
        "add_one_us": add_one,
        "memory": memory,
        "queries": queries,
        "crossover": crossover,
    }


# -- report (parent) ------------------------------------------------------------------------------
def version(dist: str) -> str:
    try:
        return md.version(dist)
    except md.PackageNotFoundError:
        return "not installed"


def print_environment() -> None:
    import faiss

    affinity = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    load = ", ".join(f"{x:.2f}" for x in psutil.getloadavg())
    print("## Environment\n")
    print(f"- python {platform.python_version()} on {platform.machine()} {platform.system()}")
    print(
        f"- CPUs: {os.cpu_count()} logical ({psutil.cpu_count(logical=False)} physical), "
        f"{affinity} usable; faiss OpenMP threads {faiss.omp_get_max_threads()}; load avg {load}"
    )
    print(f"- RAM: {psutil.virtual_memory().total / 2**30:.1f} GiB")
    for dist in (
        "faiss-cpu",
        "numpy",
        "langchain-core",
        "langchain-community",
        "llama-index-core",
        "llama-index-vector-stores-faiss",
        "deposium-rag",
    ):
        print(f"- {dist} {version(dist)}")
    print()


def fmt_lat(q: Mapping[str, Any]) -> str:
    if "error" in q:
        return "n/a"
    return f"{q['p50']:.2f} / {q['p99']:.2f}"


def fmt_quality(q: Mapping[str, Any], k: int) -> str:
    if "error" in q:
        return "n/a"
    return f"{q['returned']:.1f}/{k}, {'yes' if q['all_match'] else 'NO'}, {q['recall']:.3f}"


def size_label(size: int) -> str:
    return f"{size // 1000}k" if size % 1000 == 0 else str(size)


def print_report(results: dict[str, dict[str, Any]], plan: dict[str, Any], info: dict[str, Any]) -> None:
    n, k = plan["n"], plan["k"]
    sizes = [str(c) for c in plan["checkpoints"]]
    fin = plan["truth"]["final"]
    held = plan["n"] + plan["n_extra"]
    print(f"## Stores at n = {n:,} (+{plan['n_extra']} single adds), k = {k}\n")
    print(
        f"Each store runs in its own subprocess with {info['threads']} OpenMP/BLAS thread(s) "
        f"(faiss, numpy); times are wall clock.\n"
    )
    print(
        f"Queries: {plan['n_queries']} held-out XQuAD questions. Filters: bucket=3 matches "
        f"{fin['bucket']['n_match']:,} of {held:,} docs ({fin['bucket']['n_match'] / held:.1%}); "
        f"bucket=3 & lang=en matches {fin['bucket+en']['n_match']:,} "
        f"({fin['bucket+en']['n_match'] / held:.2%}).\n"
    )
    add_cols = " | ".join(f"add 1 @{size_label(int(s))} µs" for s in sizes)
    print(
        f"| store | build {size_label(n)} s | {add_cols} | mem B/doc | query ms p50 / p99 | "
        "bucket=3: ms p50 / p99 | bucket=3: returned, all match, recall | "
        "bucket=3 & en: ms p50 / p99 | bucket=3 & en: returned, all match, recall |"
    )
    print("|" + "---|" * (9 + len(sizes)))
    for name, r in results.items():
        adds = " | ".join(f"{r['add_one_us'][s]:,.1f}" for s in sizes)
        q = r["queries"]
        print(
            f"| {LABELS[name]} | {r['build_s']:.2f} | {adds} | {r['memory']['per_doc']:,.0f} | "
            f"{fmt_lat(q['none'])} | {fmt_lat(q['bucket'])} | {fmt_quality(q['bucket'], k)} | "
            f"{fmt_lat(q['bucket+en'])} | {fmt_quality(q['bucket+en'], k)} |"
        )
    print()
    print(
        "recall = recall@k against the exact (filtered) top-k, ties counted; unfiltered recall: "
        + ", ".join(f"{name} {r['queries']['none']['recall']:.3f}" for name, r in results.items())
    )
    print(
        "mem B/doc = RSS growth while building / docs held; the raw float32 vectors alone are "
        f"{4 * info['dim']:,} B/doc. ours-hnsw uses M=32, efConstruction=80, efSearch=64 (defaults)."
    )
    for name, r in results.items():
        for label, q in r["queries"].items():
            if "error" in q:
                print(f"{name} with filter {SCENARIOS[label]}: n/a ({q['error']})")
    last = sizes[-1]
    lc = results.get("lc-faiss")
    for name in ("ours-flat", "ours-hnsw"):
        if lc and name in results:
            ratio = lc["add_one_us"][last] / results[name]["add_one_us"][last]
            print(
                f"add 1 doc @{size_label(n)}: lc-faiss / {name} = {ratio:.1f}x "
                f"({'meets' if ratio >= 20 else 'MISSES'} the >= 20x goal)"
            )
    for name, r in results.items():
        a = r["add_one_us"]
        growth = a[last] / a[sizes[0]]
        print(f"add 1 doc growth {name}: @{size_label(n)} / @{size_label(int(sizes[0]))} = {growth:.2f}x")
    print()

    flat, hnsw = results.get("ours-flat"), results.get("ours-hnsw")
    if flat and hnsw:
        print("## HNSW vs flat crossover (ours, unfiltered, k = 10)\n")
        print(
            "| docs held | flat p50 ms | hnsw p50 ms | hnsw speed-up | flat recall@10 | hnsw recall@10 | "
            "flat build s so far | hnsw build s so far |"
        )
        print("|---|---|---|---|---|---|---|---|")
        for s in sizes:
            f, h = flat["crossover"][s], hnsw["crossover"][s]
            print(
                f"| {f['held']:,} | {f['p50']:.3f} | {h['p50']:.3f} | {f['p50'] / h['p50']:.1f}x | "
                f"{f['recall']:.3f} | {h['recall']:.3f} | {f['build_s']:.2f} | {h['build_s']:.2f} |"
            )
        print()
    print(
        f"Data: {info['n_embedded']:,} texts embedded once with {info['model']} (dim {info['dim']}) in "
        f"{info['embed_s']:.1f} s; {info['pool']:,} unique documents available"
        + (" (cycled: some documents repeat)" if info["cycled"] else "")
        + "."
    )


# -- entry point ----------------------------------------------------------------------------------
def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--n", type=int, default=100_000, help="documents per store (default 100000)")
    parser.add_argument("--queries", type=int, default=500, help="query count (default 500)")
    parser.add_argument("--single-adds", type=int, default=200, help="single adds per size (default 200)")
    parser.add_argument("--batch", type=int, default=1000, help="build batch size (default 1000)")
    parser.add_argument("--k", type=int, default=10)
    parser.add_argument(
        "--threads",
        type=int,
        default=1,
        help="OpenMP/BLAS threads in each store's subprocess (default 1: see the docstring)",
    )
    parser.add_argument(
        "--stores", default=",".join(STORES), help="comma-separated subset of " + ", ".join(STORES)
    )
    parser.add_argument("--only", choices=STORES, help="internal: measure one store in this process")
    parser.add_argument("--workdir", type=Path, help="internal: prepared inputs for --only")
    args = parser.parse_args(argv)

    if args.only:
        if args.workdir is None:
            parser.error("--only needs --workdir (it is started by the main run)")
        result = measure(args.only, args.workdir)
        (args.workdir / f"result-{args.only}.json").write_text(json.dumps(result), encoding="utf-8")
        return

    if args.n < args.batch or args.n % args.batch:
        parser.error(f"--n must be a positive multiple of --batch ({args.batch})")
    stores = [s.strip() for s in args.stores.split(",") if s.strip()]
    unknown = [s for s in stores if s not in STORES]
    if unknown:
        parser.error(f"unknown store(s) {unknown}; choose from {', '.join(STORES)}")

    t_start = time.perf_counter()
    print_environment()
    results: dict[str, dict[str, Any]] = {}
    with tempfile.TemporaryDirectory(prefix="store_vs_peers-") as tmp:
        workdir = Path(tmp)
        info = prepare(args, workdir)
        for name in stores:
            t0 = time.perf_counter()
            cmd = [sys.executable, str(Path(__file__).resolve()), "--only", name, "--workdir", tmp]
            threads = str(args.threads)
            env = {**os.environ, "OMP_NUM_THREADS": threads, "OPENBLAS_NUM_THREADS": threads}
            env["MKL_NUM_THREADS"] = threads
            proc = subprocess.run(cmd, capture_output=True, text=True, env=env)
            if proc.returncode != 0:
                sys.stderr.write(proc.stderr)
                raise SystemExit(f"{name} failed (exit {proc.returncode})")
            results[name] = json.loads((workdir / f"result-{name}.json").read_text(encoding="utf-8"))
            print(f"[{name} measured in {time.perf_counter() - t0:.0f} s]", file=sys.stderr, flush=True)
        plan = json.loads((workdir / "plan.json").read_text(encoding="utf-8"))
    info["threads"] = sorted({r["faiss_threads"] for r in results.values()})
    print_report(results, plan, info)
    print(
        f"Total run time {time.perf_counter() - t_start:.0f} s; load avg at end {psutil.getloadavg()[0]:.2f}."
    )


if __name__ == "__main__":
    main()
