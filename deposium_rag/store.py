"""FaissStore: ids <-> rows, texts, metadata and vectors, with pre-filtered search.

The one store both framework faces and the language router use. Rules it keeps:

* Scores: vectors are L2-normalised on the way in, the index is inner product, so a score
  is cosine similarity in [-1, 1]; relevance is ``(1 + cos) / 2`` in [0, 1].
* Filters are applied before ranking: a filtered search returns ``k`` hits whenever at
  least ``k`` documents match.
* Every mutation is atomic under one lock: inputs are checked and converted first, then
  applied in steps that cannot fail halfway, so a failed call leaves the store as it was.
* Persistence is data only (``.npy`` columns, JSON, ``faiss`` indexes) + a manifest with
  checksums, swapped in atomically; nothing is ever unpickled. A store can also write
  *segments* (only the rows added since its last save, plus the ids deleted), which the
  local backend chains for saves that cost O(changes).

Layout: rows are append-only slots in compact columns (deposium_rag/_columns.py: vectors in
float32, float16 or int8; texts and metadata as UTF-8 buffers decoded on demand). A delete
or an upsert marks the old slot dead (a tombstone); slots are compacted once a quarter of
them are dead.
"""

from __future__ import annotations

import contextlib
import json
import math
import threading
import uuid
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import faiss
import numpy as np

from deposium_rag import _atomic
from deposium_rag._columns import VECTOR_KINDS, FileBytes, Strings, VectorKind, Vectors, load_npy
from deposium_rag._validation import last_wins
from deposium_rag.errors import DimensionMismatchError, StoreFormatError
from deposium_rag.filters import FilterSpec, Predicate, RowFilter, compile_filter
from deposium_rag.metadata import to_json_metadata

__all__ = [
    "FaissStore",
    "Hit",
    "IndexKind",
    "Record",
    "VectorKind",
    "maximal_marginal_relevance",
    "relevance",
]

IndexKind = Literal["flat", "auto", "hnsw"]
Listing = tuple[list[str], list[str]]  # a segment's (ids, deleted)
INDEX_KINDS = ("flat", "auto", "hnsw")
# index="auto": exact below this many documents, PQ fast-scan + exact re-rank of RERANK
# candidates above (chosen in benchmarks/store_compact.py: recall@10 >= 0.98 at 1024-d).
# IVF front ends were measured and not taken (benchmarks/ann_frontends.py, 100k English
# partition of the synthetic 1024-d model): the ten nearest neighbours of a query are spread over
# the k-means lists, so IVF256 + fast-scan reached recall@10 0.77 at nprobe 16 and 0.90 at 64
# (a quarter of the lists, already near a full scan's cost); fast-scan with M = dim/4 needs 400
# candidates for 0.98. The full scan (M = dim/2) is memory-bound: ~1 ms per 100k rows here.
EXACT_BELOW = 4096
RERANK = 100  # the first re-rank pool; it grows while the certainty test below fails
# A fast-scan candidate past the pool may still belong in the top k while its approximate
# score is within CERTAINTY spreads of the quantiser's error above the k-th exact score.
# Chosen on the even queries of benchmarks/rerank_certainty.py (synthetic 1024-d English,
# 100k and 1M); a fixed pool of 100 fell to recall@10 0.965 at 1M, where near-copies tie.
CERTAINTY = 3.0
# Ranks the test protects; deeper ranks of a larger k (the hybrid pool's 30 candidates) come
# from the same widened pool, best effort: the 30th sits among close scores, so certifying it
# widened the pool of most hybrid queries (recall@10 is what the test is for).
CERTAIN_RANKS = 10
# The first fast-scan fetches twice the pool, and one more candidate per this many rows: the
# ties grow with the corpus, and a second scan to fetch more costs as much as the first.
_ROWS_PER_FETCHED = 2500
_MIN_TRAIN = 1024  # rows the fast-scan quantiser is trained on, at least
_TRAIN_ROWS = 4096  # at most: 16 centroids per sub-quantiser need ~600
FORMAT = "deposium-rag/faiss-store"
FORMAT_VERSION = 2  # 1: index.faiss + docstore.json (still read)
_INDEX_FILE = "index.faiss"
_DOCS_FILE = "docstore.json"
_IDS_FILE = "ids.json"
_ANN_FILE = "ann.faiss"
_PACK_FILE = "rows.npz"
_IDS_KEY = "ids_json"  # a delta's ids.json, inside its rows.npz
_MANIFEST = "manifest.json"


@contextlib.contextmanager
def one_thread() -> Iterator[None]:
    """Run the enclosed faiss calls on one OpenMP thread, for the calling thread only.

    Why: a single query cannot use several threads, yet OpenMP's default team wakes every
    core (16 ms instead of 1.5 ms for one query on a 28k partition, benchmarks/store_threads.py).
    ``omp_set_num_threads`` sets the *calling thread's* ICV in libgomp (faiss-cpu's OpenMP),
    so this neither races with nor slows other threads' batch work; the previous value is
    restored on exit (tests/test_store.py pins both).
    """
    previous = faiss.omp_get_max_threads()
    if previous == 1:
        yield
        return
    faiss.omp_set_num_threads(1)
    try:
        yield
    finally:
        faiss.omp_set_num_threads(previous)


def relevance(similarity: float) -> float:
    """Map cosine similarity in [-1, 1] to relevance in [0, 1]: the one documented convention."""
    return min(1.0, max(0.0, (1.0 + similarity) / 2.0))


@dataclass(frozen=True)
class Record:
    """A stored document: id, text, metadata (a private copy) and its unit vector."""

    id: str
    text: str
    metadata: dict[str, Any]
    vector: np.ndarray = field(repr=False)


@dataclass(frozen=True)
class Hit:
    """A search result; ``score`` is cosine similarity in [-1, 1]."""

    id: str
    text: str
    metadata: dict[str, Any]
    score: float

    @property
    def relevance(self) -> float:
        return relevance(self.score)


def _unit_rows(vectors: Any, dim: int | None, what: str, model: str | None) -> np.ndarray:
    """Check shape and values, return a float32 copy with L2-normalised rows (zero stays zero)."""
    arr = np.array(vectors, dtype=np.float32, copy=True)
    if arr.ndim == 1:
        arr = arr[None, :]
    if arr.ndim != 2:
        raise ValueError(f"{what} must be a 2-D array (n, dim), got shape {arr.shape}")
    if dim is not None and arr.shape[0] and arr.shape[1] != dim:
        named = f" built with model {model!r}" if model else ""
        raise DimensionMismatchError(
            f"{what} have dimension {arr.shape[1]} but this store{named} holds dimension {dim}; "
            "embed with the store's model or start a new store"
        )
    if not np.isfinite(arr).all():
        bad = int(np.flatnonzero(~np.isfinite(arr).all(axis=1))[0])
        raise ValueError(f"{what} row {bad} contains NaN or infinity")
    norms = np.linalg.norm(arr, axis=1, keepdims=True)
    np.divide(arr, norms, out=arr, where=norms > 0)
    return arr


def json_metadata(metadata: Any, position: int) -> dict[str, Any]:
    """A converted deep copy: dates, numpy numbers and sets become JSON (deposium_rag.metadata),
    so what is stored is exactly what a save and load give back."""
    return to_json_metadata(metadata, position)


def _copy_json(value: Any) -> Any:
    """Deep copy of JSON-shaped data (what metadata always is here): much cheaper than deepcopy."""
    if isinstance(value, dict):
        return {k: _copy_json(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_copy_json(v) for v in value]
    return value


def maximal_marginal_relevance(
    query: np.ndarray, candidates: np.ndarray, k: int, lambda_mult: float
) -> list[int]:
    """Pick ``k`` of ``candidates`` (unit rows) trading relevance to ``query`` against redundancy."""
    if not 0.0 <= lambda_mult <= 1.0:
        raise ValueError(f"lambda_mult must be in [0, 1], got {lambda_mult}")
    if k <= 0 or len(candidates) == 0:
        return []
    to_query = candidates @ query
    chosen = [int(np.argmax(to_query))]
    closest = candidates @ candidates[chosen[0]]
    while len(chosen) < min(k, len(candidates)):
        scores = lambda_mult * to_query - (1.0 - lambda_mult) * closest
        scores[chosen] = -np.inf
        best = int(np.argmax(scores))
        chosen.append(best)
        closest = np.maximum(closest, candidates @ candidates[best])
    return chosen


def _decode_meta(raw: bytes) -> dict[str, Any]:
    return json.loads(raw) if raw else {}


def _encode_meta(md: dict[str, Any]) -> bytes:
    return json.dumps(md, ensure_ascii=False, separators=(",", ":")).encode("utf-8") if md else b""


def _encode_text(text: str) -> bytes:
    return text.encode("utf-8", "surrogatepass")


def _decode_text(raw: bytes) -> str:
    return raw.decode("utf-8", "surrogatepass")


class FaissStore:
    """Thread-safe FAISS-backed document store with upsert, delete and pre-filtered search.

    ``dim=None`` fixes the dimension at the first add. ``index``: ``"flat"`` scans every
    vector exactly; ``"auto"`` does so below ``exact_below`` documents and above it takes
    candidates from a 4-bit product-quantised fast-scan index (``faiss.IndexPQFastScan``,
    dim/4 bytes a row) and re-ranks them exactly against the stored vectors, ``rerank`` at
    first and more until the rest cannot plausibly reach the top k (``CERTAINTY``);
    ``"hnsw"`` uses a graph (``faiss.IndexHNSWFlat``, an extra float32 copy).
    ``vectors`` is how vectors are kept: ``"float32"`` (4 bytes a dimension), ``"float16"``
    (2) or ``"int8"`` (1, plus a scale per row); scores are computed from what is kept.
    The defaults were measured in benchmarks/store_compact.py (recall@10 against exact
    float32 search >= 0.98 on clustered 1024-d vectors).
    """

    def __init__(
        self,
        dim: int | None = None,
        *,
        index: IndexKind = "flat",
        vectors: VectorKind = "float32",
        hnsw_m: int = 32,
        ef_construction: int = 80,
        ef_search: int = 64,
        exact_below: int = EXACT_BELOW,
        rerank: int = RERANK,
        pq_m: int | None = None,
        model_name: str | None = None,
        model_fingerprint: str | None = None,
    ) -> None:
        if index not in INDEX_KINDS:
            raise ValueError(f"index must be one of {INDEX_KINDS}, got {index!r}")
        if vectors not in VECTOR_KINDS:
            raise ValueError(f"vectors must be one of {VECTOR_KINDS}, got {vectors!r}")
        if dim is not None and (not isinstance(dim, int) or dim < 1):
            raise ValueError(f"dim must be a positive int, got {dim!r}")
        if not isinstance(exact_below, int) or exact_below < _MIN_TRAIN:
            raise ValueError(
                f"exact_below must be an int >= {_MIN_TRAIN} (rows to train on), got {exact_below!r}"
            )
        if not isinstance(rerank, int) or rerank < 1:
            raise ValueError(f"rerank must be a positive int, got {rerank!r}")
        self.index_kind: IndexKind = index
        self.vector_kind: VectorKind = vectors
        self.hnsw_m = hnsw_m
        self.ef_construction = ef_construction
        self.ef_search = ef_search
        self.exact_below = exact_below
        self.rerank = rerank
        if pq_m is not None and (not isinstance(pq_m, int) or pq_m < 1 or (dim and dim % pq_m)):
            raise ValueError(f"pq_m must be a positive divisor of dim, got {pq_m!r}")
        self.pq_m = pq_m
        self.model_name = model_name
        self.model_fingerprint = model_fingerprint
        self._lock = threading.RLock()
        self._dim = dim
        self._reset()

    # -- state -----------------------------------------------------------------------------------
    def _reset(self) -> None:
        self._vecs: Vectors | None = Vectors(self.vector_kind, self._dim) if self._dim else None
        self._ann: faiss.Index | None = None  # row r of the ANN index is slot r
        self._ids: list[str | None] = []
        self._texts = Strings()
        self._metas = Strings()
        self._row: dict[str, int] = {}
        self._alive_buf = np.zeros(1024, dtype=bool)  # capacity doubles: an add is O(1)
        self._version = 0  # bumped on every change; invalidates the metadata postings
        self._postings: dict[str, tuple[int, dict[Any, np.ndarray]]] = {}
        # What a segment save needs: slots renumbered (epoch), slots and ids since the last save.
        self._epoch = getattr(self, "_epoch", 0) + 1
        self._saved: tuple[int, int] | None = None  # (epoch, slots) at the last save
        self._killed: list[str] = []

    @property
    def _alive(self) -> np.ndarray:
        """Live flag per slot (a view into the buffer)."""
        return self._alive_buf[: len(self._ids)]

    def _set_alive(self, flags: np.ndarray) -> None:
        self._alive_buf = np.zeros(max(1024, 2 * len(flags)), dtype=bool)
        self._alive_buf[: len(flags)] = flags

    @property
    def dim(self) -> int | None:
        return self._dim

    def __len__(self) -> int:
        return len(self._row)

    @property
    def count(self) -> int:
        return len(self._row)

    def ids(self) -> list[str]:
        """Live ids in insertion order."""
        with self._lock:
            return [i for i in self._ids if i is not None]

    def __contains__(self, doc_id: object) -> bool:
        return doc_id in self._row

    def options(self) -> dict[str, Any]:
        """The settings a save keeps (``FaissStore(**options)`` makes an empty twin)."""
        return {
            "index": self.index_kind,
            "vectors": self.vector_kind,
            "hnsw_m": self.hnsw_m,
            "ef_construction": self.ef_construction,
            "ef_search": self.ef_search,
            "exact_below": self.exact_below,
            "rerank": self.rerank,
            "pq_m": self.pq_m,
        }

    def memory_bytes(self) -> dict[str, int]:
        """Bytes held per column (vectors, ANN index, texts, metadata): for ``info`` and benchmarks."""
        with self._lock:
            vec = self._vecs.bytes_per_row * self._vecs.n if self._vecs is not None else 0
            ann = 0
            if self._ann is not None:
                ann = (
                    int(faiss.serialize_index(self._ann).nbytes)
                    if self.index_kind == "hnsw"
                    else int(self._ann.ntotal * self._ann.code_size)
                )
            return {
                "vectors": vec,
                "ann": ann,
                "texts": self._texts._used,
                "metadata": self._metas._used,
            }

    # -- mutations -------------------------------------------------------------------------------
    def add(
        self,
        vectors: Any,
        texts: Sequence[str],
        metadatas: Sequence[Mapping[str, Any] | None] | None = None,
        ids: Sequence[str] | None = None,
    ) -> list[str]:
        """Insert or replace (by id) documents; returns their ids. All or nothing.

        An id repeated within one call is stored once, with its last text, vector and metadata
        (as LangChain's own stores do); the returned list still has one id per input.
        """
        texts = list(texts) if not isinstance(texts, str) else [texts]
        n = len(texts)
        for i, t in enumerate(texts):
            if not isinstance(t, str):
                raise TypeError(f"texts[{i}] must be str, got {type(t).__name__}")
        metas_in = [None] * n if metadatas is None else list(metadatas)
        ids_in = [uuid.uuid4().hex for _ in range(n)] if ids is None else list(ids)
        if len(metas_in) != n or len(ids_in) != n:
            raise ValueError(
                f"got {n} texts, {len(metas_in)} metadatas and {len(ids_in)} ids; they must match"
            )
        keep = last_wins(ids_in)  # a repeated id: the last one wins
        metas = [_encode_meta(json_metadata(m, i)) for i, m in enumerate(metas_in)]
        raw_texts = [_encode_text(t) for t in texts]
        if n == 0:
            return []
        with self._lock:
            unit = _unit_rows(vectors, self._dim, "vectors", self.model_name)
            if unit.shape[0] != n:
                raise ValueError(f"got {unit.shape[0]} vectors for {n} texts; they must match")
            if self._vecs is None:
                self._dim = int(unit.shape[1])
                self._vecs = Vectors(self.vector_kind, self._dim)
            if len(keep) < n:
                unit = unit[keep]
                raw_texts, metas = [raw_texts[i] for i in keep], [metas[i] for i in keep]
                kept_ids = [ids_in[i] for i in keep]
            else:
                kept_ids = ids_in
            self._apply_add(unit, raw_texts, metas, kept_ids)
        return ids_in

    def _apply_add(self, unit: np.ndarray, texts: list[bytes], metas: list[bytes], ids: list[str]) -> None:
        assert self._vecs is not None
        if self._ann is not None:
            self._ann.add(unit)  # the only step that may fail
        # From here on nothing can raise: appends and plain Python bookkeeping.
        for doc_id in ids:
            if doc_id in self._row:
                self._kill(self._row[doc_id])  # an upsert: tombstone the old slot, append
        start = len(self._ids)
        self._vecs.append(unit)
        self._texts.append(texts)
        self._metas.append(metas)
        need = start + len(ids)
        if need > len(self._alive_buf):
            grown = np.zeros(max(need, 2 * len(self._alive_buf)), dtype=bool)
            grown[:start] = self._alive_buf[:start]
            self._alive_buf = grown
        self._alive_buf[start:need] = True
        self._version += 1
        self._ids.extend(ids)
        for offset, doc_id in enumerate(ids):
            self._row[doc_id] = start + offset
        if not self._maybe_compact() and self._ann is None and self._wants_ann():
            self._ann = self._build_ann()
            self._epoch += 1

    def _wants_ann(self) -> bool:
        return self.index_kind == "hnsw" or (self.index_kind == "auto" and len(self._row) >= self.exact_below)

    def _build_ann(self) -> faiss.Index | None:
        """The approximate index over every slot (dead ones included, so rows stay slots)."""
        assert self._vecs is not None and self._dim is not None
        if not self._wants_ann():
            return None
        n = self._vecs.n
        if self.index_kind == "hnsw":
            ann = faiss.IndexHNSWFlat(self._dim, self.hnsw_m, faiss.METRIC_INNER_PRODUCT)
            ann.hnsw.efConstruction = self.ef_construction
            ann.hnsw.efSearch = self.ef_search
        elif isinstance(self._ann, faiss.IndexPQFastScan):  # compaction: keep the trained quantiser
            ann = faiss.clone_index(self._ann)
            ann.reset()
        else:
            ann = faiss.IndexPQFastScan(
                self._dim, self.pq_m or _pq_m(self._dim), 4, faiss.METRIC_INNER_PRODUCT
            )
            live = np.flatnonzero(self._alive)
            rng = np.random.default_rng(0)
            sample = np.sort(rng.choice(live, size=min(len(live), _TRAIN_ROWS), replace=False))
            with one_thread():  # 2 OpenMP threads made these small k-means 10x slower here
                ann.train(self._vecs.decode(sample))
        for start in range(0, n, 16384):
            ann.add(self._vecs.decode(slice(start, min(n, start + 16384))))
        return ann

    def _kill(self, row: int) -> None:
        doc_id = self._ids[row]
        if doc_id is not None:
            del self._row[doc_id]
            self._killed.append(doc_id)
        self._ids[row] = None
        self._alive_buf[row] = False
        self._version += 1

    def delete(self, ids: Iterable[str] | None) -> int:
        """Remove documents by id; unknown ids are ignored. Returns how many were removed."""
        if ids is None:
            return 0
        if isinstance(ids, str):
            raise TypeError("ids must be a list of str, got a single str; wrap it in a list")
        wanted = list(ids)
        with self._lock:
            rows = [self._row[d] for d in set(wanted) if isinstance(d, str) and d in self._row]
            for row in rows:
                self._kill(row)
            self._maybe_compact()
            return len(rows)

    def clear(self) -> None:
        with self._lock:
            self._reset()

    def _maybe_compact(self) -> bool:
        dead = len(self._ids) - len(self._row)
        if dead and dead >= 64 and dead * 4 >= len(self._ids):
            self._compact()
            return True
        return False

    def _compact(self) -> None:
        """Drop dead slots and rebuild the ANN index (amortised over many deletes)."""
        assert self._vecs is not None
        keep = np.flatnonzero(self._alive)
        self._vecs = self._vecs.take(keep)
        self._texts = self._texts.take(keep)
        self._metas = self._metas.take(keep)
        self._ids = [self._ids[r] for r in keep]
        self._row = {d: r for r, d in enumerate(self._ids) if d is not None}
        self._set_alive(np.ones(len(keep), dtype=bool))
        self._ann = self._build_ann()
        self._version += 1
        self._epoch += 1

    # -- reads -----------------------------------------------------------------------------------
    def _meta(self, row: int) -> dict[str, Any]:
        return _decode_meta(self._metas[row])

    def get(self, ids: Iterable[str]) -> list[Record]:
        """Records for the given ids, in that order; unknown ids are skipped."""
        if isinstance(ids, str):
            raise TypeError("ids must be a list of str, got a single str; wrap it in a list")
        with self._lock:
            rows = [self._row.get(d) if isinstance(d, str) else None for d in ids]
            found = [r for r in rows if r is not None]
            if not found or self._vecs is None:
                return []
            vecs = self._vecs.decode(np.asarray(found, dtype=np.int64))
            return [
                Record(self._ids[r] or "", _decode_text(self._texts[r]), self._meta(r), vecs[i])
                for i, r in enumerate(found)
            ]

    def records(self, filter: FilterSpec = None) -> list[Record]:
        """Every live record (optionally filtered), in insertion order."""
        with self._lock:
            return self.get(self.matching_ids(filter))

    def _posting(self, field_name: str) -> dict[Any, np.ndarray]:
        """Inverted index field value -> rows, rebuilt lazily after changes. Lock must be held."""
        cached = self._postings.get(field_name)
        if cached is not None and cached[0] == self._version:
            return cached[1]
        lists: dict[Any, list[int]] = {}
        key = json.dumps(field_name, ensure_ascii=False).encode("utf-8")
        for row, doc_id in enumerate(self._ids):
            if doc_id is None:
                continue
            raw = self._metas[row]
            if key not in raw:  # cheap pre-check before decoding
                continue
            md = _decode_meta(raw)
            if field_name in md:
                value = md[field_name]
                if isinstance(value, (str, int, float, bool)):
                    lists.setdefault((isinstance(value, bool), value), []).append(row)
        built = {k: np.asarray(rows, dtype=np.int64) for k, rows in lists.items()}
        self._postings[field_name] = (self._version, built)
        return built

    def _candidates(self, pred: Predicate) -> np.ndarray | None:
        """Rows that can match ``pred`` by its equality conjuncts, or None to scan everything."""
        conjuncts = getattr(pred, "conjuncts", None)
        if not conjuncts:
            return None
        rows: np.ndarray | None = None
        for field_name, values in conjuncts:
            posting = self._posting(field_name)
            found = [posting.get((isinstance(v, bool), v)) for v in values]
            hit = np.unique(np.concatenate([f for f in found if f is not None] or [np.zeros(0, np.int64)]))
            rows = hit if rows is None else np.intersect1d(rows, hit, assume_unique=True)
            if len(rows) == 0:
                break
        return rows

    def _allowed(self, pred: Predicate | RowFilter | None, only: Iterable[str] | None = None) -> np.ndarray:
        """Boolean mask over slots: alive, among ``only`` ids if given, passing ``pred``."""
        n = len(self._ids)
        if only is not None:
            mask = np.zeros(n, dtype=bool)
            rows = [self._row[d] for d in only if isinstance(d, str) and d in self._row]
            mask[rows] = True
            return mask & self._allowed(pred) if pred is not None else mask
        if pred is None:
            return self._alive.copy()
        ids = self._ids
        if isinstance(pred, RowFilter):
            fn = pred.fn
            return np.fromiter(
                (
                    d is not None and bool(fn(d, _decode_text(self._texts[r]), self._meta(r)))
                    for r, d in enumerate(ids)
                ),
                dtype=bool,
                count=n,
            )
        candidates = self._candidates(pred)
        mask = np.zeros(n, dtype=bool)
        rows_iter = candidates.tolist() if candidates is not None else range(n)
        for r in rows_iter:
            mask[r] = ids[r] is not None and bool(pred(self._meta(r)))
        return mask

    def matching_ids(self, filter: FilterSpec) -> list[str]:
        """Ids of live documents matching ``filter``, in insertion order."""
        pred = compile_filter(filter)
        with self._lock:
            mask = self._allowed(pred)
            return [self._ids[r] for r in np.flatnonzero(mask)]  # type: ignore[misc]

    def delete_where(self, filter: FilterSpec) -> int:
        """Delete every document matching ``filter`` (``None`` is refused: use ``clear``)."""
        if filter is None:
            raise ValueError("delete_where needs a filter; call clear() to remove everything")
        with self._lock:
            return self.delete(self.matching_ids(filter))

    def _ranked_rows(
        self,
        query: np.ndarray,
        k: int,
        pred: Predicate | RowFilter | None,
        only: Iterable[str] | None = None,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Top-k (rows, cosine) among the live rows that pass ``pred``. Lock must be held."""
        if self._vecs is None or not self._row or k <= 0:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
        if pred is None and only is None:  # the usual query: every live row, no mask to build
            allowed, n_allowed = None, len(self._row)
        else:
            allowed = self._allowed(pred, only)
            n_allowed = int(allowed.sum())
        if n_allowed == 0:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
        k = min(k, n_allowed)
        if self._ann is not None:
            hit = self._ann_search(query, k, allowed, n_allowed)
            if hit is not None:
                return hit
        if allowed is None:
            allowed = self._alive
        if n_allowed * 4 < len(self._ids):
            rows = np.flatnonzero(allowed)  # few rows match: score just those
            return _top(rows, self._vecs.dot(query, rows), k)
        sims = self._vecs.dot(query)
        sims = np.where(allowed, sims, -np.inf)
        return _top(np.arange(len(sims)), sims, k)

    def _ann_search(
        self, query: np.ndarray, k: int, allowed: np.ndarray | None, n_allowed: int
    ) -> tuple[np.ndarray, np.ndarray] | None:
        """Approximate candidates, re-ranked on the stored vectors; None asks for an exact scan.

        ``allowed`` None means every live row (no filter)."""
        assert self._ann is not None and self._vecs is not None
        total = len(self._ids)
        if allowed is None and n_allowed < total:
            allowed = self._alive  # tombstones to skip
        widen = total / n_allowed  # dead or filtered-out slots take part of the pool
        if n_allowed < max(4 * k, total // 20):
            return None  # few rows match: an exact scan over them is cheaper and exact
        if self.index_kind != "hnsw":
            return self._certified(query, k, allowed, min(total, math.ceil(max(self.rerank, 4 * k) * widen)))
        params = faiss.SearchParametersHNSW()
        params.efSearch = max(self.ef_search, k) * min(8, math.ceil(widen))
        bits = np.packbits(self._alive if allowed is None else allowed, bitorder="little")
        params.sel = faiss.IDSelectorBitmap(total, faiss.swig_ptr(bits))
        with one_thread():
            _, labels = self._ann.search(query[None, :], k, params=params)
        cand = labels[0][labels[0] >= 0]
        del bits
        if len(cand) < k:
            return None
        return _top(cand.astype(np.int64), self._vecs.dot(query, cand), k)

    def _certified(
        self, query: np.ndarray, k: int, allowed: np.ndarray | None, start: int
    ) -> tuple[np.ndarray, np.ndarray] | None:
        """Fast-scan candidates re-ranked until the rest cannot plausibly reach the top k
        (its first ``CERTAIN_RANKS``).

        The quantiser's error on the re-ranked rows (approximate minus stored score) gives a
        mean and spread; the next unranked row, whose approximate score bounds every row after
        it, must fall more than ``CERTAINTY`` spreads below the k-th stored score. Otherwise the
        pool doubles (a wider fast-scan when the fetched rows run out). Near-copies tie within
        the quantiser's error, so their number, which grows with the corpus, sets the pool
        (benchmarks/rerank_certainty.py). None asks for an exact scan."""
        assert self._ann is not None and self._vecs is not None
        total = len(self._ids)
        fetch = min(total, max(2 * start, total // _ROWS_PER_FETCHED))
        while True:
            with one_thread():
                approx, labels = self._ann.search(query[None, :], fetch)
            got = int(np.count_nonzero(labels[0] >= 0))
            approx, labels = approx[0][:got], labels[0][:got]
            n, done = 0, min(got, start)
            cand_parts, approx_parts, sim_parts = [], [], []
            while True:
                cand, a = labels[n:done], approx[n:done]
                if allowed is not None:
                    keep = allowed[cand]
                    cand, a = cand[keep], a[keep]
                cand_parts.append(cand)
                approx_parts.append(a)
                sim_parts.append(self._vecs.dot(query, cand))
                n = done
                rows, sims = np.concatenate(cand_parts), np.concatenate(sim_parts)
                if got == total and n == got:  # every row ranked: nothing is left out
                    return _top(rows.astype(np.int64), sims, k) if len(rows) >= k else None
                if len(rows) >= k:
                    err = np.concatenate(approx_parts) - sims
                    top = min(k, CERTAIN_RANKS)
                    kth = float(np.partition(sims, len(sims) - top)[len(sims) - top])
                    nxt = float(approx[n] if n < got else approx[-1])
                    mean = float(err.sum()) / len(err)  # err.mean() and err.std() without
                    dev = err - mean  # the per-call overhead of numpy's reductions
                    spread = math.sqrt(float(np.dot(dev, dev)) / len(err))
                    if nxt - mean + CERTAINTY * spread < kth:
                        return _top(rows.astype(np.int64), sims, k)
                if n == got:
                    break
                done = min(got, 2 * n)
            if 4 * fetch > total // 4:
                return None  # a quarter of the rows re-ranked one by one costs more than a scan
            fetch = 4 * fetch

    def _query(self, vector: Any) -> np.ndarray:
        return _unit_rows(vector, self._dim, "query vector", self.model_name)[0]

    def search(
        self, vector: Any, k: int = 4, filter: FilterSpec = None, *, ids: Iterable[str] | None = None
    ) -> list[Hit]:
        """The ``k`` most similar documents among those matching ``filter`` (applied first).

        ``ids`` restricts the search to those documents (LlamaIndex ``node_ids``).
        """
        with self._lock:  # re-entrant: ids map to the same rows while hits are built
            return [self._hit(self._row[d], sim) for d, sim in self.scores(vector, k, filter, ids=ids)]

    def scores(
        self, vector: Any, k: int, filter: FilterSpec = None, *, ids: Iterable[str] | None = None
    ) -> list[tuple[str, float]]:
        """Like :meth:`search` but only ``(id, cosine)`` pairs: no text or metadata is copied."""
        k = _check_k(k)
        pred = compile_filter(filter)
        with self._lock:
            if self._vecs is None:
                return []
            rows, sims = self._ranked_rows(self._query(vector), k, pred, ids)
            return [(self._ids[int(r)] or "", float(x)) for r, x in zip(rows, sims)]

    def vectors(self, ids: Iterable[str]) -> dict[str, np.ndarray]:
        """Unit vectors of the given ids (unknown ids skipped), without copying documents."""
        with self._lock:
            if self._vecs is None:
                return {}
            found = [d for d in ids if isinstance(d, str) and d in self._row]
            vecs = self._vecs.decode(np.asarray([self._row[d] for d in found], dtype=np.int64))
            return dict(zip(found, vecs))

    def similarities(self, vector: np.ndarray, ids: Iterable[str]) -> dict[str, float]:
        """Cosine of a unit ``vector`` with each given id (unknown ids left out): one gather and
        one product, for the hybrid pool's dense side of BM25's candidates."""
        with self._lock:
            if self._vecs is None:
                return {}
            found = [d for d in ids if isinstance(d, str) and d in self._row]
            if not found:
                return {}
            rows = np.fromiter((self._row[d] for d in found), np.int64, len(found))
            sims = self._vecs.dot(np.asarray(vector, dtype=np.float32), rows)
            return dict(zip(found, sims.tolist()))

    def _hit(self, row: int, score: float) -> Hit:
        return Hit(
            self._ids[row] or "",
            _decode_text(self._texts[row]),
            self._meta(row),
            max(-1.0, min(1.0, score)),
        )

    def mmr_search(
        self,
        vector: Any,
        k: int = 4,
        fetch_k: int = 20,
        lambda_mult: float = 0.5,
        filter: FilterSpec = None,
        *,
        ids: Iterable[str] | None = None,
    ) -> list[Hit]:
        """Maximal marginal relevance over the ``fetch_k`` best matches of ``filter``."""
        k = _check_k(k)
        fetch_k = max(_check_k(fetch_k), k)
        pred = compile_filter(filter)
        with self._lock:
            if self._vecs is None:
                return []
            query = self._query(vector)
            rows, scores = self._ranked_rows(query, fetch_k, pred, ids)
            if len(rows) == 0:
                return []
            picked = maximal_marginal_relevance(query, self._vecs.decode(rows), k, lambda_mult)
            return [self._hit(int(rows[i]), float(scores[i])) for i in picked]

    # -- persistence -----------------------------------------------------------------------------
    def save(self, folder: str | Path) -> Path:
        """Write the store and its manifest to ``folder`` atomically (a crash keeps the old one)."""
        return _atomic.write_folder_atomically(folder, self.write)

    def write(self, folder: Path) -> None:
        """Write the store's files into an existing empty folder (not atomic: see :meth:`save`)."""
        with self._lock:
            info = self.write_segment(folder, full=True)
            _atomic.write_json(folder / _MANIFEST, self._manifest(info["count"], info["files"]))

    def has_changes(self) -> bool:
        """True when rows were added or deleted since :meth:`mark_saved`."""
        return self._saved != (self._epoch, len(self._ids)) or bool(self._killed)

    def needs_full_save(self) -> bool:
        """True when the next segment must hold everything (never saved, or slots renumbered)."""
        return self._saved is None or self._saved[0] != self._epoch

    def write_segment(
        self, folder: Path, *, full: bool, extra: Mapping[str, np.ndarray] | None = None
    ) -> dict[str, Any]:
        """Write one segment: every live row (``full``) or the rows added since :meth:`mark_saved`.

        A segment is data only: ``ids.json`` (its ids and the ids deleted before it),
        ``vectors.npy`` (+ ``scales.npy`` for int8), texts and metadata as UTF-8 buffers with
        end offsets, and for a full segment the ANN index (``ann.faiss``). Returns
        ``{"count", "deleted", "files": {name: sha256}, "full"}``. Marks nothing: the caller
        calls :meth:`mark_saved` once its manifest points at the segment.
        """
        with self._lock:
            full = full or self.needs_full_save()
            if full and len(self._row) != len(self._ids):
                self._compact()
            start = 0 if full else self._saved[1]  # type: ignore[index]
            n = len(self._ids)
            live = np.flatnonzero(self._alive[start:n]) + start
            deleted = [] if full else list(dict.fromkeys(self._killed))
            arrays: dict[str, np.ndarray] = {}
            if self._vecs is not None:
                if len(live) == n - start:
                    arrays.update(self._vecs.arrays(start))
                else:
                    arrays.update(self._vecs.take(live).arrays())
            texts = self._texts if len(live) == n - start else self._texts.take(live)
            metas = self._metas if len(live) == n - start else self._metas.take(live)
            text_start = start if texts is self._texts else 0
            arrays.update(texts.arrays(text_start, "texts"))
            arrays.update(metas.arrays(text_start, "metas"))
            ids = [self._ids[int(r)] for r in live]
            ann = faiss.serialize_index(self._ann) if full and self._ann is not None else None
            folder.mkdir(parents=True, exist_ok=True)
            files: dict[str, str] = {}
            listing = {"ids": ids, "deleted": deleted}
            if full:
                _atomic.write_json(folder / _IDS_FILE, listing)
                files[_IDS_FILE] = _atomic.crc32_file(folder / _IDS_FILE)
            if full:  # one .npy per column, so a load can memory-map them
                for name, arr in arrays.items():
                    np.save(folder / name, arr, allow_pickle=False)
                    files[name] = _atomic.crc32_file(folder / name)
            # A delta is small: one uncompressed .npz (data only) keeps a save to a few fsyncs.
            packed = {} if full else {name.removesuffix(".npy"): arr for name, arr in arrays.items()}
            if not full:
                packed[_IDS_KEY] = json_bytes(listing)
            packed.update(extra or {})
            if packed:
                np.savez(folder / _PACK_FILE, allow_pickle=False, **packed)
                files[_PACK_FILE] = _atomic.crc32_file(folder / _PACK_FILE)
            if ann is not None:
                (folder / _ANN_FILE).write_bytes(ann.tobytes())
                files[_ANN_FILE] = _atomic.crc32_file(folder / _ANN_FILE)
            self._pending_mark = (self._epoch, n, len(self._killed))
            return {"count": len(ids), "deleted": len(deleted), "files": files, "full": full}

    def mark_saved(self) -> None:
        """Record that the last written segment is now part of a completed save."""
        with self._lock:
            mark = getattr(self, "_pending_mark", None)
            if mark is not None:
                self._saved = (mark[0], mark[1])
                self._killed = self._killed[mark[2] :]
                self._pending_mark = None

    def _manifest(self, count: int, files: dict[str, str]) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "format_version": FORMAT_VERSION,
            "model_name": self.model_name,
            "model_fingerprint": self.model_fingerprint,
            "dim": self._dim,
            "metric": "inner_product",
            "normalized": True,
            "options": self.options(),
            "count": count,
            "files": files,
        }

    @classmethod
    def load(
        cls,
        folder: str | Path,
        *,
        expected_dim: int | None = None,
        expected_fingerprint: str | None = None,
        expected_model: str | None = None,
        mmap: bool = True,
    ) -> FaissStore:
        """Load a saved store; refuse one built with another model or dimension, naming both.

        Vectors and texts are memory-mapped read-only (``mmap=True``) and copied to memory on
        the first change. Stores saved in format version 1 are read too.
        """
        path, manifest = _atomic.read_manifest(folder, FORMAT, (1, FORMAT_VERSION), "FAISS store")
        _atomic.check_model(manifest, path, expected_dim, expected_fingerprint, expected_model)
        files = manifest.get("files") or {}
        if manifest.get("format_version") == 1:
            return cls._load_v1(path, manifest, files)
        store = cls.empty_like(manifest)
        store.load_segments([(path, files)], mmap=mmap)
        if len(store) != manifest.get("count"):
            raise StoreFormatError(
                f"{path} holds {len(store)} documents; manifest says {manifest.get('count')}"
            )
        return store

    @classmethod
    def empty_like(cls, manifest: Mapping[str, Any]) -> FaissStore:
        """An empty store with the model and options a manifest records."""
        options = dict(manifest.get("options") or {})
        try:
            return cls(
                manifest.get("dim"),
                model_name=manifest.get("model_name"),
                model_fingerprint=manifest.get("model_fingerprint"),
                **options,
            )
        except (TypeError, ValueError) as exc:
            raise StoreFormatError(f"manifest options are not valid: {exc}") from None

    def load_segments(
        self,
        segments: Sequence[tuple[Path, Mapping[str, str]]],
        *,
        mmap: bool = True,
        listings: Sequence[Listing] | None = None,
        base_rows: dict[str, int] | None = None,
    ) -> None:
        """Fill this empty store from segments (the first one full), checking every checksum.

        ``listings``: each segment's :func:`read_listing` already read by the caller, and
        ``base_rows`` the first one's ``dict(zip(ids, range(len(ids))))``, so a million ids are
        parsed and hashed once; this store takes ownership of both."""
        parts = []
        for i, (folder, files) in enumerate(segments):
            _atomic.check_files(folder, dict(files))
            ids, deleted = listings[i] if listings is not None else read_listing(folder, files)
            arrays = {name: load_npy(folder / name, mmap) for name in files if name.endswith(".npy")}
            arrays.update({f"{k}.npy": v for k, v in read_pack(folder, files).items() if "." not in k})
            for name in ("texts.npy", "texts_ends.npy", "metas.npy", "metas_ends.npy"):
                if name not in arrays:
                    raise StoreFormatError(f"store file {name} is missing from {folder}'s manifest")
            sizes = {len(ids), len(arrays["texts_ends.npy"]), len(arrays["metas_ends.npy"])}
            if ids and self._dim is not None:
                if "vectors.npy" not in arrays:
                    raise StoreFormatError(f"store file vectors.npy is missing from {folder}'s manifest")
                sizes.add(len(arrays["vectors.npy"]))
            if len(sizes) != 1:
                raise StoreFormatError(f"segment {folder} does not hold {len(ids)} aligned documents")
            parts.append((folder, files, ids, deleted, arrays))
        with self._lock:
            self._reset()
            if self._dim is None:
                return
            with_rows = [p for p in parts if p[2]]
            self._vecs = (
                Vectors.concat(self.vector_kind, self._dim, [p[4] for p in with_rows])
                if with_rows
                else Vectors(self.vector_kind, self._dim)
            )
            # A query reads a few texts: single reads keep them out of this process's mappings.
            base = with_rows[0] if with_rows and mmap and "texts.npy" in with_rows[0][1] else None
            reader = FileBytes.open(base[0] / "texts.npy") if base is not None else None
            self._texts = Strings.concat(
                [(p[4]["texts.npy"], p[4]["texts_ends.npy"]) for p in with_rows], reader
            )
            self._metas = Strings.concat([(p[4]["metas.npy"], p[4]["metas_ends.npy"]) for p in with_rows])
            slot = 0
            self._set_alive(np.zeros(self._vecs.n, dtype=bool))
            self._ids = []
            base_ids = parts[0][2]
            n_base = len(base_ids)  # the list becomes self._ids and grows with the deltas
            first = base_rows if base_rows is not None else dict(zip(base_ids, range(n_base)))
            if len(first) == n_base:  # no id twice in the base: the usual case
                self._ids, self._row, slot = base_ids, first, n_base
                self._alive_buf[:slot] = True
            for _, _, ids, deleted, _ in parts[1:] if slot else parts:
                for d in deleted:
                    if d in self._row:
                        self._kill(self._row[d])
                for d in ids:
                    if d in self._row:
                        self._kill(self._row[d])
                    self._ids.append(d)
                    self._row[d] = slot
                    self._alive_buf[slot] = True
                    slot += 1
            base_folder, base_files = parts[0][0], parts[0][1]
            if _ANN_FILE in base_files:
                try:  # read straight into faiss: no second copy of the codes
                    ann = faiss.read_index(str(base_folder / _ANN_FILE))
                except RuntimeError as exc:
                    raise StoreFormatError(f"cannot read the ANN index in {base_folder}: {exc}") from None
                if ann.d != self._dim or ann.ntotal != n_base:
                    raise StoreFormatError(f"ANN index in {base_folder} does not match its segment")
                if slot > ann.ntotal:
                    ann.add(self._vecs.decode(slice(int(ann.ntotal), slot)))
                if self.index_kind == "hnsw":
                    ann.hnsw.efSearch = self.ef_search
                self._ann = ann if self._wants_ann() else None
            if self._ann is None and self._wants_ann():
                self._ann = self._build_ann()
            self._killed = []
            self._version += 1
            self._saved = (self._epoch, slot)  # what is on disk now (the caller's segments)

    @classmethod
    def _load_v1(cls, path: Path, manifest: dict[str, Any], files: dict[str, str]) -> FaissStore:
        """Format version 1: ``index.faiss`` (flat or HNSW, float32) + ``docstore.json``."""
        _atomic.check_files(path, files)
        docs = _atomic.read_json(path / _DOCS_FILE, "store docstore")
        ids, texts, metas = docs.get("ids"), docs.get("texts"), docs.get("metadatas")
        count = manifest.get("count")
        if not (isinstance(ids, list) and isinstance(texts, list) and isinstance(metas, list)) or not (
            len(ids) == len(texts) == len(metas) == count
        ):
            raise StoreFormatError(f"docstore in {path} does not hold {count} aligned documents")
        hnsw = manifest.get("hnsw") or {}
        store = cls(
            manifest.get("dim"),
            index=manifest.get("index", "flat"),
            hnsw_m=hnsw.get("m", 32),
            ef_construction=hnsw.get("ef_construction", 80),
            ef_search=hnsw.get("ef_search", 64),
            model_name=manifest.get("model_name"),
            model_fingerprint=manifest.get("model_fingerprint"),
        )
        if count:
            try:
                index = faiss.read_index(str(path / _INDEX_FILE))
            except RuntimeError as exc:
                raise StoreFormatError(f"cannot read FAISS index in {path}: {exc}") from None
            if (
                index.ntotal != count
                or index.d != store.dim
                or index.metric_type != faiss.METRIC_INNER_PRODUCT
            ):
                raise StoreFormatError(
                    f"FAISS index in {path} holds {index.ntotal} vectors of dim {index.d}; "
                    f"manifest says {count} of dim {store.dim} (inner product)"
                )
            if len(set(ids)) != count:
                raise StoreFormatError(f"docstore in {path} has duplicate ids")
            flat = index if store.index_kind == "flat" else faiss.downcast_index(index.storage)
            store.add(flat.reconstruct_n(0, count), texts, metas, ids)
        return store


def json_bytes(data: Any) -> np.ndarray:
    """JSON as a uint8 array: small documents ride inside a segment's one .npz."""
    return np.frombuffer(json.dumps(data, ensure_ascii=False).encode("utf-8"), dtype=np.uint8)


def _are_ids(values: Any) -> bool:
    """A list of non-empty strs, checked at C speed: a million ids are read on every open."""
    if not isinstance(values, list):
        return False
    try:
        "".join(values)
    except TypeError:
        return False
    return "" not in values


def read_listing(folder: Path, files: Mapping[str, str]) -> Listing:
    """A segment's ``(ids, deleted)``, checked: from ``ids.json`` (full) or inside ``rows.npz``
    (delta)."""
    if _IDS_FILE in files:
        listing = _atomic.read_json(folder / _IDS_FILE, "segment ids")
    else:
        pack = read_pack(folder, files)
        if _IDS_KEY not in pack:
            raise StoreFormatError(f"segment {folder} lists no ids")
        try:
            listing = json.loads(pack[_IDS_KEY].tobytes().decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise StoreFormatError(f"segment ids in {folder} are not valid JSON: {exc}") from None
    ids, deleted = (listing.get("ids"), listing.get("deleted")) if isinstance(listing, dict) else (None, None)
    if not (_are_ids(ids) and _are_ids(deleted)):
        raise StoreFormatError(f"segment ids in {folder} are not lists of ids")
    return ids, deleted


def read_pack(folder: Path, files: Mapping[str, str]) -> dict[str, np.ndarray]:
    """The arrays of a segment's ``rows.npz`` (empty when it has none); pickle refused."""
    if _PACK_FILE not in files:
        return {}
    try:
        with np.load(folder / _PACK_FILE, allow_pickle=False) as pack:
            return {k: pack[k] for k in pack.files}
    except FileNotFoundError:
        raise StoreFormatError(f"store file {_PACK_FILE} is missing from {folder}") from None
    except (ValueError, OSError, EOFError) as exc:
        raise StoreFormatError(f"cannot read {folder / _PACK_FILE} ({exc}); restore it or rebuild") from None


def _pq_m(dim: int) -> int:
    """Sub-quantisers for the fast-scan index: 2 dimensions of 4 bits each (dim / 4 bytes a row).

    Measured at 100k x 1024 (benchmarks/store_compact.py): dim/2 sub-quantisers and 100
    candidates gave recall@10 0.998; dim/4 needed 500 candidates for 0.987, and fast-scan
    cost grows steeply with the pool size.
    """
    for m in (dim // 2, dim // 4, dim):
        if m and dim % m == 0:
            return m
    return dim


def _top(rows: np.ndarray, sims: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """The ``k`` best (rows, cosine), best first; ties keep row order."""
    k = min(k, int(np.isfinite(sims).sum()))
    if k <= 0:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
    top = np.argpartition(-sims, k - 1)[:k] if k < len(sims) else np.arange(len(sims))
    top = top[np.lexsort((rows[top], -sims[top]))]
    return rows[top].astype(np.int64), sims[top].astype(np.float32)


def _check_k(k: Any) -> int:
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)):
        if isinstance(k, float) and math.isfinite(k) and k.is_integer():
            return int(k)
        raise TypeError(f"k must be an int, got {type(k).__name__}")
    if k < 0:
        raise ValueError(f"k must be >= 0, got {k}")
    return int(k)
