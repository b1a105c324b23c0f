"""Scale: ingest, save, cold open, warm latency, recall and memory at 100k-1M documents.

Why: users index whole documentation sets with a 1024-d model; the figures that matter
there (cold open, save after a small change, per-query latency, RAM per document) only
show at that size. The model is synthetic but of the default model's shape (1024 dims,
150k-token byte-level BPE vocabulary, random vectors; see benchmarks/_synthetic.py) and
the corpora are shared-data texts replicated with perturbations: an 11-language one
(routing can shrink each search) and an English one (one partition: the index must).

Every figure comes from the public router API (``LanguageRouter`` add / save / load /
search / route, the encoder, the backend seam) so the script keeps working as storage
changes. Each measurement is one function taking a :class:`Ctx`; add one to
``MEASUREMENTS`` to extend. Router options (e.g. ``--router-option index=hnsw``) are passed
to ``LanguageRouter`` as given. Speed is compared as ratios within one run: embed-only
against ingest; langchain-community FAISS (the ``bench`` extra) on the dense path.

    python benchmarks/scale.py                      # 100k, both corpora (several minutes)
    python benchmarks/scale.py --n 1000000 --variants multi --json scale-1m.json
    python benchmarks/scale.py --n 5000 --queries 20  # a quick check
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from benchmarks._synthetic import XQUAD_LANGS, make_corpus, make_model, queries  # noqa: E402
from deposium_rag import LanguageRouter, StaticEmbedder  # noqa: E402
from deposium_rag.retrievers.router import CONFIDENCE_KEY  # noqa: E402

BATCH = 2_000
MODES = ("dense", "lexical", "hybrid")


@dataclass
class Ctx:
    """What the measurements share for one corpus variant."""

    args: argparse.Namespace
    variant: str
    languages: list[str]
    embedder: StaticEmbedder
    model_dir: Path
    work: Path
    texts: list[str]
    ids: list[str]
    queries: list[tuple[str, str]]
    options: dict[str, Any]
    router: LanguageRouter | None = None
    vectors: np.ndarray | None = None  # embed-only output, kept for exact recall and the peer
    # Each document's language metadata (language, confidence) as the hybrid ingest decided
    # it: what the other vector options are built from without detecting or embedding again.
    doc_metadata: list[dict[str, Any]] | None = None
    results: dict[str, Any] = field(default_factory=dict)

    @property
    def n(self) -> int:
        return len(self.texts)


def _percentiles(samples: list[float]) -> dict[str, float]:
    arr = np.asarray(samples) * 1000.0
    return {"p50_ms": float(np.percentile(arr, 50)), "p95_ms": float(np.percentile(arr, 95))}


def _ingest(ctx: Ctx, router: LanguageRouter, texts: list[str], ids: list[str]) -> float:
    start = time.perf_counter()
    for i in range(0, len(texts), BATCH):
        router.add(texts[i : i + BATCH], ids=ids[i : i + BATCH])
    return time.perf_counter() - start


# -- measurements -----------------------------------------------------------------------------------
def embed_only(ctx: Ctx) -> None:
    """Embedding alone: the floor any ingest pays."""
    # Kept for exact recall and the peer; float16 past 300k documents (RAM on a shared machine):
    # recall then re-ranks its top 50 with freshly embedded float32 vectors.
    out = np.empty((ctx.n, ctx.embedder.dim), np.float16 if ctx.n > 300_000 else np.float32)
    start = time.perf_counter()
    for i in range(0, ctx.n, BATCH):
        out[i : i + BATCH] = ctx.embedder.encode(ctx.texts[i : i + BATCH])
    elapsed = time.perf_counter() - start
    ctx.vectors = out
    ctx.results["embed_only_docs_per_s"] = ctx.n / elapsed


def ingest_dense(ctx: Ctx) -> None:
    """Detect + embed + index, no BM25 (``lexical=False``), on up to ``--dense-ingest-n`` docs."""
    m = min(ctx.n, ctx.args.dense_ingest_n)
    router = LanguageRouter(ctx.embedder, lexical=False, mode="dense", **ctx.options)
    elapsed = _ingest(ctx, router, ctx.texts[:m], ctx.ids[:m])
    ctx.results["ingest_dense_docs_per_s"] = m / elapsed
    del router
    gc.collect()


def ingest_hybrid(ctx: Ctx) -> None:
    """Detect + embed + index with BM25: the router every later measurement uses."""
    ctx.router = LanguageRouter(ctx.embedder, **ctx.options)
    elapsed = _ingest(ctx, ctx.router, ctx.texts, ctx.ids)
    ctx.results["ingest_hybrid_docs_per_s"] = ctx.n / elapsed
    ctx.results["partitions"] = ctx.router.counts()
    keys = (ctx.router.language_key, CONFIDENCE_KEY)
    ctx.doc_metadata = []
    for i in range(0, ctx.n, 10_000):
        records = ctx.router.get(ctx.ids[i : i + 10_000])
        ctx.doc_metadata += [{k: r.metadata[k] for k in keys if k in r.metadata} for r in records]


def save_full_vs_incremental(ctx: Ctx) -> None:
    """A full save, then +100 documents and a save into the same folder."""
    assert ctx.router is not None
    folder = ctx.work / f"store-{ctx.variant}"
    shutil.rmtree(folder, ignore_errors=True)
    start = time.perf_counter()
    ctx.router.save(folder)
    full = time.perf_counter() - start
    extra = [f"{t} (update)" for t in ctx.texts[:100]]
    ctx.router.add(extra, ids=[f"extra-{i}" for i in range(100)])
    start = time.perf_counter()
    ctx.router.save(folder)
    incremental = time.perf_counter() - start
    ctx.results["save_full_s"] = full
    ctx.results["save_plus100_s"] = incremental
    ctx.results["save_plus100_over_full"] = incremental / full
    ctx.results["disk_mb"] = sum(p.stat().st_size for p in folder.rglob("*") if p.is_file()) / 1e6
    ctx.results["store_folder"] = str(folder)


def _cold_run(ctx: Ctx, folder: str, digests: Path | None = None) -> dict[str, Any]:
    """Load ``folder`` in a fresh process, one hybrid query, then one per language: timings and RSS.

    ``digests``: the remembered-checksums folder the child uses (``DEPOSIUM_RAG_CACHE``); a
    fresh one makes it read every file once, as the first open of a copied store does."""
    first = ctx.queries[0][0]
    touch = [next(q for q, lang in ctx.queries if lang == x) for x in ctx.languages]
    cmd = [
        sys.executable,
        str(Path(__file__).resolve()),
        "--_cold",
        folder,
        "--model-dir",
        str(ctx.model_dir),
    ]
    cmd += ["--_query", first, *[a for q in touch for a in ("--_touch", q)]]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    if digests is not None:
        env["DEPOSIUM_RAG_CACHE"] = str(digests)
    out = subprocess.run(cmd, check=True, capture_output=True, text=True, env=env)
    return json.loads(out.stdout.strip().splitlines()[-1])


def cold_open(ctx: Ctx) -> None:
    """A fresh process: load the model, ``LanguageRouter.load``, first hybrid query; RSS per document
    after the load and after one query per language (psutil, minus the RSS before the load, which
    includes the embedding model and the query detector), and that RSS as anonymous + file-backed.

    Twice: the first open reads every file for its checksum (and the model's for its
    fingerprint); a reopen finds them remembered (``deposium_rag._digests``). The figures without
    a prefix are the reopen's, ``first_open_*`` the first's."""
    folder = ctx.results.get("store_folder")
    if folder is None:
        raise RuntimeError("cold_open needs save_full_vs_incremental first")
    ctx.router = None
    gc.collect()
    digests = ctx.work / f"digests-{ctx.variant}"
    shutil.rmtree(digests, ignore_errors=True)
    time.sleep(2.1)  # files changed in the last 2 s are never remembered (the "racy" rule)
    first = _cold_run(ctx, folder, digests)
    ctx.results["first_open_router_load_s"] = first["router_load_s"]
    ctx.results["first_open_first_hybrid_query_s"] = first["first_query_s"]
    ctx.results["first_open_load_plus_first_query_s"] = first["router_load_s"] + first["first_query_s"]
    got = _cold_run(ctx, folder, digests)
    n = got.pop("documents")
    ctx.results["cold_model_load_s"] = got["model_load_s"]
    ctx.results["cold_router_load_s"] = got["router_load_s"]
    ctx.results["cold_first_hybrid_query_s"] = got["first_query_s"]
    ctx.results["cold_load_plus_first_query_s"] = got["router_load_s"] + got["first_query_s"]
    ctx.results["rss_kb_per_doc_after_load"] = got["rss_load_bytes"] / n / 1024
    ctx.results["rss_kb_per_doc_after_touch"] = got["rss_touch_bytes"] / n / 1024
    ctx.results["rss_kb_per_doc_after_touch_anon_file"] = (
        f"{got['rss_touch_anon_bytes'] / n / 1024:.2f} + {got['rss_touch_file_bytes'] / n / 1024:.2f}"
    )
    ctx.results["detector_mb_not_counted"] = got["detector_bytes"] / 1e6


def _trim() -> None:
    """Give freed heap back to the OS (glibc): otherwise later allocations reuse memory the
    baseline already counted, and RSS per document reads too low."""
    import ctypes
    import ctypes.util

    with contextlib.suppress(OSError, AttributeError, TypeError):
        ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6").malloc_trim(0)


def _rss_split() -> dict[str, int]:
    """Resident bytes by kind (Linux): anonymous (heap, arrays) and file-backed (memory-mapped
    files, reclaimable page cache), so RSS per document says what it is made of."""
    try:
        lines = Path("/proc/self/status").read_text().splitlines()
    except OSError:
        return {"RssAnon": 0, "RssFile": 0}
    out = {"RssAnon": 0, "RssFile": 0}
    for line in lines:
        key, _, value = line.partition(":")
        if key in out:
            out[key] = int(value.split()[0]) * 1024
    return out


def _cold_child(args: argparse.Namespace) -> None:
    import faiss  # noqa: F401  (imported before the baseline: code, not per-document memory)
    import psutil
    import Stemmer  # noqa: F401

    from deposium_rag.language import get_detector

    proc = psutil.Process()
    start = time.perf_counter()
    embedder = StaticEmbedder(args.model_dir)
    embedder.encode(["warm up the tokenizer"])
    model_load = time.perf_counter() - start
    # The token table is memory-mapped: map all of it now, so the rows later queries read are
    # in the baseline (model, not per-document memory), as a heap copy was before.
    float(embedder._embedding.sum(dtype=np.float64))
    # The query detector's model (~130 MB, shared by every router in the process) is code,
    # not per-document memory: loaded before the baseline like the embedding model.
    gc.collect()
    before_detector = proc.memory_info().rss
    get_detector().detect("warm up the language detector", ["en", "de"])
    get_detector().detect("warm up the language detector")
    gc.collect()
    detector_bytes = proc.memory_info().rss - before_detector
    _trim()  # memory freed by the loads above, returned to the OS: the baseline is live memory only
    base = proc.memory_info().rss
    base_split = _rss_split()
    start = time.perf_counter()
    router = LanguageRouter.load(args._cold, embedder)
    router_load = time.perf_counter() - start
    rss_load = proc.memory_info().rss - base
    start = time.perf_counter()
    router.search(args._query, k=10, mode="hybrid")
    first = time.perf_counter() - start
    for q in args._touch or []:
        router.search(q, k=10, mode="hybrid")
    rss_touch = proc.memory_info().rss - base
    split = _rss_split()
    print(
        json.dumps(
            {
                "documents": len(router),
                "detector_bytes": detector_bytes,
                "rss_touch_anon_bytes": split["RssAnon"] - base_split["RssAnon"],
                "rss_touch_file_bytes": split["RssFile"] - base_split["RssFile"],
                "model_load_s": model_load,
                "router_load_s": router_load,
                "first_query_s": first,
                "rss_load_bytes": rss_load,
                "rss_touch_bytes": rss_touch,
            }
        )
    )


class _Precomputed:
    """An encoder that returns the vectors the embed-only pass computed (by text) and embeds
    anything else (queries) with the real model: other vector options are built without
    embedding the corpus again, through the public router API."""

    def __init__(self, embedder: StaticEmbedder, texts: list[str], vectors: np.ndarray) -> None:
        self._embedder = embedder
        self._row = {t: i for i, t in enumerate(texts)}
        self._vectors = vectors
        self.dim, self.model_name = embedder.dim, embedder.model_name
        self.fingerprint = embedder.fingerprint

    def encode(self, texts: Any) -> np.ndarray:
        rows = [self._row.get(t) for t in texts]
        if any(r is None for r in rows):
            return self._embedder.encode(texts)
        return np.asarray(self._vectors[rows], dtype=np.float32)


def vector_options(ctx: Ctx) -> None:
    """RSS (after the cold load and after one hybrid query per language) and disk per document
    for ``vectors="float16"`` and ``"int8"``: the same documents, languages and vectors as the
    float32 router (language given as metadata, vectors from the embed-only pass), so only BM25
    analysis is paid again. float32's own figures are the cold_open ones."""
    assert ctx.vectors is not None and ctx.doc_metadata is not None
    ctx.router = None  # one router in memory at a time (RAM at 1M)
    gc.collect()
    encoder = _Precomputed(ctx.embedder, ctx.texts, ctx.vectors)
    options = {k: v for k, v in ctx.options.items() if k != "vectors"}
    for kind in ("float16", "int8"):
        router = LanguageRouter(encoder, vectors=kind, **options)  # type: ignore[arg-type]
        start = time.perf_counter()
        for i in range(0, ctx.n, BATCH):
            router.add(ctx.texts[i : i + BATCH], ctx.doc_metadata[i : i + BATCH], ids=ctx.ids[i : i + BATCH])
        ingest = time.perf_counter() - start
        folder = ctx.work / f"store-{ctx.variant}-{kind}"
        shutil.rmtree(folder, ignore_errors=True)
        router.save(folder)
        del router
        gc.collect()
        got = _cold_run(ctx, str(folder), ctx.work / f"digests-{ctx.variant}-{kind}")  # a first open
        n = got.pop("documents")
        ctx.results[f"{kind}_ingest_known_language_docs_per_s"] = ctx.n / ingest
        ctx.results[f"{kind}_disk_mb"] = sum(p.stat().st_size for p in folder.rglob("*") if p.is_file()) / 1e6
        ctx.results[f"{kind}_rss_kb_per_doc_after_load"] = got["rss_load_bytes"] / n / 1024
        ctx.results[f"{kind}_rss_kb_per_doc_after_touch"] = got["rss_touch_bytes"] / n / 1024
        ctx.results[f"{kind}_rss_kb_per_doc_after_touch_anon_file"] = (
            f"{got['rss_touch_anon_bytes'] / n / 1024:.2f} + {got['rss_touch_file_bytes'] / n / 1024:.2f}"
        )
        ctx.results[f"{kind}_cold_load_plus_first_query_s"] = got["router_load_s"] + got["first_query_s"]
        shutil.rmtree(folder, ignore_errors=True)


def add_one_then_query(ctx: Ctx) -> None:
    """Add one document to the biggest partition, then a hybrid query there (median of 5)."""
    assert ctx.router is not None
    counts = ctx.router.counts()
    lang = max(counts, key=lambda x: counts[x])
    text = next(t for t, i in zip(ctx.texts, range(ctx.n)) if ctx.router.language_of(ctx.ids[i]) == lang)
    query = next((q for q, x in ctx.queries if x == lang), ctx.queries[0][0])
    samples, query_only = [], []
    for j in range(5):
        start = time.perf_counter()
        ctx.router.add([f"{text} {j}"], [{"language": lang}], ids=[f"one-{j}"])
        mid = time.perf_counter()
        ctx.router.search(query, k=10, mode="hybrid", language=lang)
        samples.append(time.perf_counter() - start)
        query_only.append(time.perf_counter() - mid)
    ctx.results["add1_then_query_ms"] = float(np.median(samples)) * 1000
    ctx.results["add1_then_query_partition"] = f"{lang} ({counts[lang]} docs)"
    ctx.results["query_after_add1_ms"] = float(np.median(query_only)) * 1000


@contextlib.contextmanager
def _timing(obj: Any, names: list[str], acc: dict[str, float]) -> Iterator[None]:
    """Wrap ``obj.<name>`` so each call adds its duration to ``acc[name]`` (instance attributes)."""
    saved = {}
    for name in names:
        fn = getattr(obj, name, None)
        if fn is None:
            continue

        def timed(*a: Any, _fn: Callable[..., Any] = fn, _name: str = name, **kw: Any) -> Any:
            start = time.perf_counter()
            try:
                return _fn(*a, **kw)
            finally:
                acc[_name] = acc.get(_name, 0.0) + time.perf_counter() - start

        try:
            setattr(obj, name, timed)
            saved[name] = fn
        except (AttributeError, TypeError):
            continue
    try:
        yield
    finally:
        for name in saved:
            with contextlib.suppress(AttributeError):
                delattr(obj, name)


_SEARCH_CALLS = ["dense", "dense_scores", "lexical", "lexical_scores"]


def warm_latency(ctx: Ctx) -> None:
    """Warm routed p50/p95 per mode (after one untimed pass over the same queries); then one
    timed pass split into detect / embed / search
    (backend dense + BM25 calls) / fetch (records) / fusion (the rest: routing logic, fusion)."""
    router = ctx.router
    assert router is not None
    qs = [q for q, _ in ctx.queries]
    for mode in MODES:
        for q in qs:  # warm: every query once first (pages, caches), as a running service has
            router.search(q, k=10, mode=mode)
        samples = []
        for q in qs:
            start = time.perf_counter()
            router.search(q, k=10, mode=mode)
            samples.append(time.perf_counter() - start)
        ctx.results[f"warm_{mode}"] = _percentiles(samples)
        acc: dict[str, float] = {}
        with (
            _timing(router.detector, ["detect", "detect_pair"], acc),
            _timing(router.encoder, ["encode"], acc),
            _timing(router.backend, [*_SEARCH_CALLS, "get"], acc),
        ):
            start = time.perf_counter()
            for q in qs:
                router.search(q, k=10, mode=mode)
            total = time.perf_counter() - start
        per = {k: v / len(qs) * 1000 for k, v in acc.items()}
        split = {
            "detect_ms": per.get("detect", 0.0) + per.get("detect_pair", 0.0),
            "embed_ms": per.get("encode", 0.0),
            "search_ms": sum(per.get(k, 0.0) for k in _SEARCH_CALLS),
            "fetch_ms": per.get("get", 0.0),
        }
        split["fusion_other_ms"] = total / len(qs) * 1000 - sum(split.values())
        # each backend call on its own (dense top-k, BM25 top-k, and the scores of the other side)
        split |= {f"{k}_ms": per[k] for k in _SEARCH_CALLS if k in per}
        ctx.results[f"warm_{mode}"].update(split)


def recall_vs_exact(ctx: Ctx) -> None:
    """recall@10 of routed dense search against an exact scan of the same partitions.

    The exact side is one pass over the stored embed-only vectors for all queries at once
    (blocks of ``_EXACT_BLOCK`` rows), so it stays minutes, not hours, at 1M documents."""
    router = ctx.router
    assert router is not None and ctx.vectors is not None
    lang_of = np.array([router.language_of(d) or "" for d in ctx.ids])
    results = [router.search(q, k=10, mode="dense") for q, _ in ctx.queries]
    qvecs = ctx.embedder.encode([q for q, _ in ctx.queries]).astype(np.float32)
    routed = [np.isin(lang_of, [x for x in r.route.languages]) for r in results]
    pool = 50
    best_s = np.full((len(results), pool), -np.inf, np.float32)
    best_i = np.zeros((len(results), pool), np.int64)
    for lo in range(0, ctx.n, _EXACT_BLOCK):
        block = np.asarray(ctx.vectors[lo : lo + _EXACT_BLOCK], dtype=np.float32)
        scores = qvecs @ block.T  # (queries, rows)
        for j, mask in enumerate(routed):
            s = np.where(mask[lo : lo + len(block)], scores[j], -np.inf)
            cand_s = np.concatenate([best_s[j], s])
            cand_i = np.concatenate([best_i[j], np.arange(lo, lo + len(block))])
            top = np.argpartition(-cand_s, pool - 1)[:pool]
            best_s[j], best_i[j] = cand_s[top], cand_i[top]
    recalls = []
    for j, result in enumerate(results):
        n_routed = int(routed[j].sum())
        if not n_routed:
            continue
        order = np.argsort(-best_s[j], kind="stable")
        best = best_i[j][order][np.isfinite(best_s[j][order])]
        if ctx.vectors.dtype != np.float32:  # float16 copy: re-rank its top 50 on fresh float32
            again = ctx.embedder.encode([ctx.texts[i] for i in best]) @ qvecs[j]
            best = best[np.argsort(-again, kind="stable")]
        exact = {ctx.ids[i] for i in best[:10]}
        got = {h.id for h in result.hits}
        recalls.append(len(exact & got) / max(1, min(10, n_routed)))
    ctx.results["recall_at_10_vs_exact"] = float(np.mean(recalls)) if recalls else float("nan")


_EXACT_BLOCK = 50_000


def faiss_peer(ctx: Ctx) -> None:
    """langchain-community FAISS (IndexFlatL2, its defaults) on the same vectors: build and query."""
    assert ctx.vectors is not None
    ctx.router = None  # the peer is measured last: free the router's RAM first
    gc.collect()
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        from langchain_community.vectorstores import FAISS

    from deposium_rag.integrations.langchain import Model2VecEmbeddings

    emb = Model2VecEmbeddings(model=str(ctx.model_dir))
    start = time.perf_counter()
    store = FAISS.from_embeddings(list(zip(ctx.texts, ctx.vectors)), emb, ids=ctx.ids)
    ctx.results["peer_faiss_build_s"] = time.perf_counter() - start
    qs = [q for q, _ in ctx.queries][: ctx.args.peer_queries]  # a flat scan: ~0.4 s a query at 1M
    qvecs = emb.embed_documents(qs)
    by_vector, with_embed = [], []
    for q, v in zip(qs, qvecs):
        start = time.perf_counter()
        store.similarity_search_by_vector(v, k=10)
        by_vector.append(time.perf_counter() - start)
        start = time.perf_counter()
        store.similarity_search(q, k=10)
        with_embed.append(time.perf_counter() - start)
    ctx.results["peer_faiss_by_vector"] = _percentiles(by_vector)
    ctx.results["peer_faiss_with_embed"] = _percentiles(with_embed)
    del store
    gc.collect()


MEASUREMENTS: dict[str, Callable[[Ctx], None]] = {
    "embed_only": embed_only,
    "ingest_dense": ingest_dense,
    "ingest_hybrid": ingest_hybrid,
    "warm": warm_latency,
    "recall": recall_vs_exact,  # before anything is added beyond the corpus
    "add_one": add_one_then_query,
    "save": save_full_vs_incremental,
    "cold": cold_open,  # releases the in-process router first (RAM at 1M)
    "vector_options": vector_options,  # float16 / int8 RSS and disk, from the same vectors
    "peer": faiss_peer,
}


# -- report -----------------------------------------------------------------------------------------
def _fmt(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:.3g}" if abs(v) < 100 else f"{v:,.0f}"
    if isinstance(v, dict):
        return ", ".join(f"{k.removesuffix('_ms')} {_fmt(x)}" for k, x in v.items())
    return str(v)


def table(results: dict[str, dict[str, Any]]) -> str:
    variants = list(results)
    keys: list[str] = []
    for r in results.values():
        keys += [k for k in r if k not in keys and k not in ("store_folder",)]
    lines = [f"| figure | {' | '.join(variants)} |", "|---|" + "---|" * len(variants)]
    for k in keys:
        lines.append(f"| {k} | {' | '.join(_fmt(results[v].get(k, '')) for v in variants)} |")
    return "\n".join(lines)


def _option(text: str) -> tuple[str, Any]:
    key, _, raw = text.partition("=")
    try:
        return key, json.loads(raw)
    except json.JSONDecodeError:
        return key, raw


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--n", type=int, default=100_000, help="documents per corpus")
    parser.add_argument("--variants", default="multi,en", help="multi (11 languages) and/or en")
    parser.add_argument(
        "--queries", type=int, default=40, help="questions per language (multi) or in total (en)"
    )
    parser.add_argument(
        "--model-dir", help="folder for the synthetic model (kept, reused); default: temporary"
    )
    parser.add_argument("--vocab", type=int, default=150_000)
    parser.add_argument("--dim", type=int, default=1024)
    parser.add_argument(
        "--dense-ingest-n", type=int, default=100_000, help="documents for the dense-only ingest"
    )
    parser.add_argument(
        "--skip", default="", help="comma-separated measurements to skip: " + ", ".join(MEASUREMENTS)
    )
    parser.add_argument(
        "--peer-queries", type=int, default=10**9, help="queries for the peer (a flat scan; cap it at 1M)"
    )
    parser.add_argument("--router-option", action="append", default=[], metavar="KEY=VALUE")
    parser.add_argument("--json", help="also write the results here")
    parser.add_argument("--_cold", help=argparse.SUPPRESS)
    parser.add_argument("--_query", help=argparse.SUPPRESS)
    parser.add_argument("--_touch", action="append", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args._cold:
        _cold_child(args)
        return
    skip = {s for s in args.skip.split(",") if s}
    options = dict(_option(o) for o in args.router_option)
    work = Path(tempfile.mkdtemp(prefix="deposium-scale-"))
    model_dir = Path(args.model_dir) if args.model_dir else work / "model"
    try:
        t = time.perf_counter()
        make_model(model_dir, vocab_size=args.vocab, dim=args.dim)
        embedder = StaticEmbedder(model_dir)
        print(
            f"model: {args.vocab} tokens x {args.dim} dims ({time.perf_counter() - t:.0f} s)", file=sys.stderr
        )
        results: dict[str, dict[str, Any]] = {}
        for variant in args.variants.split(","):
            langs = list(XQUAD_LANGS) if variant == "multi" else [variant]
            corpus = make_corpus(args.n, langs)
            per_lang = args.queries if variant == "multi" else args.queries * 5
            ctx = Ctx(
                args,
                variant,
                langs,
                embedder,
                model_dir,
                work,
                [t for t, _ in corpus],
                [f"doc-{i}" for i in range(len(corpus))],
                queries(langs, per_lang),
                options,
            )
            ctx.results["documents"] = ctx.n
            for name, fn in MEASUREMENTS.items():
                if name in skip:
                    continue
                t = time.perf_counter()
                results[f"{variant} ({ctx.n:,})"] = ctx.results
                fn(ctx)
                print(f"[{variant}] {name}: {time.perf_counter() - t:.1f} s", file=sys.stderr)
                if args.json:  # partial results survive an interrupted long run
                    Path(args.json).write_text(json.dumps({"args": vars(args), "results": results}, indent=2))
            ctx.router = None
            ctx.vectors = None
            gc.collect()
        print(table(results))
        if args.json:
            Path(args.json).write_text(json.dumps({"args": vars(args), "results": results}, indent=2))
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
