"""FaissStore: ids <-> rows, texts, metadata and vectors, with pre-filtered search.

The one store both framework faces and the language router use. Rules it keeps:

* Scores: vectors are L2-normalised on the way in, the index is inner product, so a score
  is cosine similarity in [-1, 1]; relevance is ``(1 + cos) / 2`` in [0, 1].
* Filters are applied before ranking: a filtered search returns ``k`` hits whenever at
  least ``k`` documents match.
* Every mutation is atomic under one lock: inputs are checked and converted first, then
  applied in steps that cannot fail halfway, so a failed call leaves the store as it was.
* Persistence is ``faiss.write_index`` + JSON + a manifest with checksums, swapped in
  atomically; nothing is ever unpickled.

Layout: rows are append-only slots. A delete marks a slot dead (a tombstone) and the index
is compacted once a quarter of the slots are dead. With the exact ("flat") kind an upsert
overwrites its slot in place; with "hnsw" it tombstones the old slot and appends.
"""

from __future__ import annotations

import math
import threading
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import faiss
import numpy as np

from deposium_rag import _atomic
from deposium_rag._validation import last_wins
from deposium_rag.errors import DimensionMismatchError, StoreFormatError
from deposium_rag.filters import FilterSpec, Predicate, RowFilter, compile_filter
from deposium_rag.metadata import to_json_metadata

__all__ = ["FaissStore", "Hit", "IndexKind", "Record", "maximal_marginal_relevance", "relevance"]

IndexKind = Literal["flat", "hnsw"]
FORMAT = "deposium-rag/faiss-store"
FORMAT_VERSION = 1
_INDEX_FILE = "index.faiss"
_DOCS_FILE = "docstore.json"
_MANIFEST = "manifest.json"


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


class FaissStore:
    """Thread-safe FAISS-backed document store with upsert, delete and pre-filtered search.

    ``dim=None`` fixes the dimension at the first add. ``index="hnsw"`` trades exactness for
    speed on large stores (see benchmarks/store_vs_peers.py for the measured crossover).
    """

    def __init__(
        self,
        dim: int | None = None,
        *,
        index: IndexKind = "flat",
        hnsw_m: int = 32,
        ef_construction: int = 80,
        ef_search: int = 64,
        model_name: str | None = None,
        model_fingerprint: str | None = None,
    ) -> None:
        if index not in ("flat", "hnsw"):
            raise ValueError(f"index must be 'flat' or 'hnsw', got {index!r}")
        if dim is not None and (not isinstance(dim, int) or dim < 1):
            raise ValueError(f"dim must be a positive int, got {dim!r}")
        self.index_kind: IndexKind = index
        self.hnsw_m = hnsw_m
        self.ef_construction = ef_construction
        self.ef_search = ef_search
        self.model_name = model_name
        self.model_fingerprint = model_fingerprint
        self._lock = threading.RLock()
        self._dim = dim
        self._reset()

    # -- state -----------------------------------------------------------------------------------
    def _reset(self) -> None:
        self._index: faiss.Index | None = self._new_index(self._dim) if self._dim else None
        self._ids: list[str | None] = []
        self._texts: list[str | None] = []
        self._metas: list[dict[str, Any] | None] = []
        self._row: dict[str, int] = {}
        self._alive_buf = np.zeros(1024, dtype=bool)  # capacity doubles: an add is O(1)
        self._version = 0  # bumped on every change; invalidates the metadata postings
        self._postings: dict[str, tuple[int, dict[Any, np.ndarray]]] = {}

    @property
    def _alive(self) -> np.ndarray:
        """Live flag per slot (a view into the buffer)."""
        return self._alive_buf[: len(self._ids)]

    def _set_alive(self, flags: np.ndarray) -> None:
        self._alive_buf = np.zeros(max(1024, 2 * len(flags)), dtype=bool)
        self._alive_buf[: len(flags)] = flags

    def _new_index(self, dim: int) -> faiss.Index:
        if self.index_kind == "hnsw":
            idx = faiss.IndexHNSWFlat(dim, self.hnsw_m, faiss.METRIC_INNER_PRODUCT)
            idx.hnsw.efConstruction = self.ef_construction
            idx.hnsw.efSearch = self.ef_search
            return idx
        return faiss.IndexFlatIP(dim)

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

    def _vectors(self) -> np.ndarray:
        """Zero-copy view of every slot's vector. Valid only while the lock is held."""
        assert self._index is not None
        flat = self._index if self.index_kind == "flat" else faiss.downcast_index(self._index.storage)
        n = int(flat.ntotal)
        if n == 0:
            return np.zeros((0, self._dim or 0), dtype=np.float32)
        return faiss.rev_swig_ptr(flat.get_xb(), n * self._dim).reshape(n, self._dim)

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
        metas = [json_metadata(m, i) for i, m in enumerate(metas_in)]
        if n == 0:
            return []
        with self._lock:
            unit = _unit_rows(vectors, self._dim, "vectors", self.model_name)
            if unit.shape[0] != n:
                raise ValueError(f"got {unit.shape[0]} vectors for {n} texts; they must match")
            if self._index is None:
                self._dim = int(unit.shape[1])
                self._index = self._new_index(self._dim)
            if len(keep) < n:
                unit = unit[keep]
                texts, metas = [texts[i] for i in keep], [metas[i] for i in keep]
                kept_ids = [ids_in[i] for i in keep]
            else:
                kept_ids = ids_in
            self._apply_add(unit, texts, metas, kept_ids)
        return ids_in

    def _apply_add(
        self, unit: np.ndarray, texts: list[str], metas: list[dict[str, Any]], ids: list[str]
    ) -> None:
        assert self._index is not None
        existing = [(i, self._row[d]) for i, d in enumerate(ids) if d in self._row]
        if self.index_kind == "flat" and existing:
            fresh = [i for i, d in enumerate(ids) if d not in self._row]
        else:
            fresh = list(range(len(ids)))
        start = len(self._ids)
        if fresh:
            self._index.add(np.ascontiguousarray(unit[fresh]))  # the only step that may fail
        # From here on nothing can raise: plain Python bookkeeping.
        if self.index_kind == "flat":
            view = self._vectors()
            for i, row in existing:
                view[row] = unit[i]
                self._texts[row], self._metas[row] = texts[i], metas[i]
            self._version += 1
        else:
            for _, row in existing:
                self._kill(row)
        need = start + len(fresh)
        if need > len(self._alive_buf):
            grown = np.zeros(max(need, 2 * len(self._alive_buf)), dtype=bool)
            grown[:start] = self._alive_buf[:start]
            self._alive_buf = grown
        self._alive_buf[start:need] = True
        self._version += 1
        for offset, i in enumerate(fresh):
            self._ids.append(ids[i])
            self._texts.append(texts[i])
            self._metas.append(metas[i])
            self._row[ids[i]] = start + offset
        self._maybe_compact()

    def _kill(self, row: int) -> None:
        doc_id = self._ids[row]
        if doc_id is not None:
            del self._row[doc_id]
        self._ids[row] = self._texts[row] = self._metas[row] = None
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

    def _maybe_compact(self) -> None:
        dead = len(self._ids) - len(self._row)
        if dead and dead >= 64 and dead * 4 >= len(self._ids):
            self._compact()

    def _compact(self) -> None:
        """Rebuild the index from live slots only (amortised over many deletes)."""
        assert self._index is not None and self._dim is not None
        keep = np.flatnonzero(self._alive)
        vectors = np.ascontiguousarray(self._vectors()[keep])
        index = self._new_index(self._dim)
        if len(keep):
            index.add(vectors)
        self._index = index
        self._ids = [self._ids[r] for r in keep]
        self._texts = [self._texts[r] for r in keep]
        self._metas = [self._metas[r] for r in keep]
        self._row = {d: r for r, d in enumerate(self._ids) if d is not None}
        self._set_alive(np.ones(len(keep), dtype=bool))
        self._version += 1

    # -- reads -----------------------------------------------------------------------------------
    def get(self, ids: Iterable[str]) -> list[Record]:
        """Records for the given ids, in that order; unknown ids are skipped."""
        if isinstance(ids, str):
            raise TypeError("ids must be a list of str, got a single str; wrap it in a list")
        with self._lock:
            out = []
            view = self._vectors() if self._index is not None else None
            for doc_id in ids:
                row = self._row.get(doc_id) if isinstance(doc_id, str) else None
                if row is None or view is None:
                    continue
                out.append(
                    Record(
                        doc_id,
                        self._texts[row] or "",
                        _copy_json(self._metas[row] or {}),
                        view[row].copy(),
                    )
                )
            return out

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
        for row, md in enumerate(self._metas):
            if md is not None and field_name in md:
                value = md[field_name]
                if isinstance(value, (str, int, float, bool)):
                    lists.setdefault((isinstance(value, bool), value), []).append(row)
        built = {key: np.asarray(rows, dtype=np.int64) for key, rows in lists.items()}
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
        if only is not None:
            mask = np.zeros(len(self._ids), dtype=bool)
            rows = [self._row[d] for d in only if isinstance(d, str) and d in self._row]
            mask[rows] = True
            return mask & self._allowed(pred) if pred is not None else mask
        if pred is None:
            return self._alive.copy()
        metas = self._metas
        if isinstance(pred, RowFilter):
            fn = pred.fn
            rows_iter = zip(self._ids, self._texts, metas)
            return np.fromiter(
                (d is not None and bool(fn(d, t or "", m or {})) for d, t, m in rows_iter),
                dtype=bool,
                count=len(metas),
            )
        candidates = self._candidates(pred)
        if candidates is not None:
            mask = np.zeros(len(metas), dtype=bool)
            for r in candidates.tolist():
                md = metas[r]
                mask[r] = md is not None and pred(md)
            return mask
        return np.fromiter((m is not None and pred(m) for m in metas), dtype=bool, count=len(metas))

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
        if self._index is None or not self._row or k <= 0:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
        allowed = self._allowed(pred, only)
        n_allowed = int(allowed.sum())
        if n_allowed == 0:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
        k = min(k, n_allowed)
        all_live = n_allowed == len(self._ids)
        if self.index_kind == "hnsw":
            hit = self._hnsw_search(query, k, None if all_live else allowed, n_allowed)
            if hit is not None:
                return hit
        if all_live:
            scores, labels = self._index.search(query[None, :], k)
            return labels[0].astype(np.int64), scores[0]
        if n_allowed * 8 < len(self._ids):
            # Few rows match: score just those, exactly.
            rows = np.flatnonzero(allowed)
            sub = self._vectors()[rows] @ query
            top = np.argpartition(-sub, k - 1)[:k] if k < len(sub) else np.arange(len(sub))
            top = top[np.argsort(-sub[top], kind="stable")]
            return rows[top].astype(np.int64), sub[top].astype(np.float32)
        bits = np.packbits(allowed, bitorder="little")
        params = faiss.SearchParameters()
        params.sel = faiss.IDSelectorBitmap(len(allowed), faiss.swig_ptr(bits))
        scores, labels = self._index.search(query[None, :], k, params=params)
        keep = labels[0] >= 0
        return labels[0][keep].astype(np.int64), scores[0][keep]

    def _hnsw_search(
        self, query: np.ndarray, k: int, allowed: np.ndarray | None, n_allowed: int
    ) -> tuple[np.ndarray, np.ndarray] | None:
        """Approximate search; None asks the caller for an exact scan (selective filters)."""
        assert self._index is not None
        total = len(self._ids)
        if allowed is not None and n_allowed < max(4 * k, total // 20):
            return None  # few rows match: an exact scan over them is cheaper and exact
        params = faiss.SearchParametersHNSW()
        # A filter hides part of the graph: widen the beam as the matching share shrinks.
        widen = 1 if allowed is None else min(8, math.ceil(total / max(1, n_allowed)))
        params.efSearch = max(self.ef_search, k) * widen
        bits = None
        if allowed is not None:
            bits = np.packbits(allowed, bitorder="little")
            params.sel = faiss.IDSelectorBitmap(total, faiss.swig_ptr(bits))
        scores, labels = self._index.search(query[None, :], k, params=params)
        keep = labels[0] >= 0
        if int(keep.sum()) < k:
            return None
        del bits
        return labels[0][keep].astype(np.int64), scores[0][keep]

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
            if self._index is None:
                return []
            rows, sims = self._ranked_rows(self._query(vector), k, pred, ids)
            return [(self._ids[int(r)] or "", float(x)) for r, x in zip(rows, sims)]

    def vectors(self, ids: Iterable[str]) -> dict[str, np.ndarray]:
        """Unit vectors of the given ids (unknown ids skipped), without copying documents."""
        with self._lock:
            if self._index is None:
                return {}
            view = self._vectors()
            return {d: view[self._row[d]].copy() for d in ids if isinstance(d, str) and d in self._row}

    def _hit(self, row: int, score: float) -> Hit:
        return Hit(
            self._ids[row] or "",
            self._texts[row] or "",
            _copy_json(self._metas[row] or {}),
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
            if self._index is None:
                return []
            query = self._query(vector)
            rows, scores = self._ranked_rows(query, fetch_k, pred, ids)
            if len(rows) == 0:
                return []
            picked = maximal_marginal_relevance(query, self._vectors()[rows], k, lambda_mult)
            return [self._hit(int(rows[i]), float(scores[i])) for i in picked]

    # -- persistence -----------------------------------------------------------------------------
    def save(self, folder: str | Path) -> Path:
        """Write index + docstore + manifest to ``folder`` atomically (a crash keeps the old one)."""
        return _atomic.write_folder_atomically(folder, self.write)

    def write(self, folder: Path) -> None:
        """Write the store's files into an existing empty folder (not atomic: see :meth:`save`)."""
        with self._lock:
            if self._index is not None and len(self._row) != len(self._ids):
                self._compact()
            index_bytes = faiss.serialize_index(self._index) if self._index is not None else None
            ids = [d for d in self._ids if d is not None]
            texts = list(self._texts)
            metas = list(self._metas)
        folder.mkdir(parents=True, exist_ok=True)
        files: dict[str, str] = {}
        if index_bytes is not None:
            (folder / _INDEX_FILE).write_bytes(index_bytes.tobytes())
            files[_INDEX_FILE] = _atomic.sha256_file(folder / _INDEX_FILE)
        _atomic.write_json(folder / _DOCS_FILE, {"ids": ids, "texts": texts, "metadatas": metas})
        files[_DOCS_FILE] = _atomic.sha256_file(folder / _DOCS_FILE)
        _atomic.write_json(folder / _MANIFEST, self._manifest(len(ids), files))

    def _manifest(self, count: int, files: dict[str, str]) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "format_version": FORMAT_VERSION,
            "model_name": self.model_name,
            "model_fingerprint": self.model_fingerprint,
            "dim": self._dim,
            "metric": "inner_product",
            "normalized": True,
            "index": self.index_kind,
            "hnsw": {
                "m": self.hnsw_m,
                "ef_construction": self.ef_construction,
                "ef_search": self.ef_search,
            },
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
    ) -> FaissStore:
        """Load a saved store; refuse one built with another model or dimension, naming both."""
        path, manifest = _atomic.read_manifest(folder, FORMAT, FORMAT_VERSION, "FAISS store")
        _atomic.check_model(manifest, path, expected_dim, expected_fingerprint, expected_model)
        _atomic.check_files(path, manifest.get("files") or {})
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
            if store.index_kind == "hnsw":
                index.hnsw.efSearch = store.ef_search
            store._index = index
            store._ids, store._texts, store._metas = list(ids), list(texts), list(metas)
            store._row = {d: r for r, d in enumerate(ids)}
            store._set_alive(np.ones(count, dtype=bool))
            if len(store._row) != count:
                raise StoreFormatError(f"docstore in {path} has duplicate ids")
        return store


def _check_k(k: Any) -> int:
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)):
        if isinstance(k, float) and math.isfinite(k) and k.is_integer():
            return int(k)
        raise TypeError(f"k must be an int, got {type(k).__name__}")
    if k < 0:
        raise ValueError(f"k must be >= 0, got {k}")
    return int(k)
