"""LocalBackend: language partitions in this process, a FaissStore and a LexicalIndex each.

Why: the default place for partitions, with no server to run. It answers the router's
questions (see :mod:`deposium_rag.backends.base`) from one dense store and one BM25 index
per language, kept in step by id, and saves them all in one folder with one manifest.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from deposium_rag import _atomic
from deposium_rag.backends.base import BackendConfig, Document
from deposium_rag.errors import StoreFormatError
from deposium_rag.filters import FilterSpec
from deposium_rag.lexical import LexicalIndex, analyzer_for
from deposium_rag.store import FaissStore, IndexKind, Record

__all__ = ["LocalBackend"]

FORMAT = "deposium-rag/language-router"
FORMAT_VERSION = 1
_MANIFEST = "manifest.json"
_PARTITIONS = "partitions"


class LocalBackend:
    """``{language: FaissStore}`` + ``{language: LexicalIndex}`` behind one lock."""

    name = "local"

    def __init__(self, *, index: IndexKind = "flat") -> None:
        if index not in ("flat", "hnsw"):
            raise ValueError(f"index must be 'flat' or 'hnsw', got {index!r}")
        self.index_kind: IndexKind = index
        self.config: BackendConfig | None = None
        self._partitions: dict[str, FaissStore] = {}
        self._lexical: dict[str, LexicalIndex] = {}
        self._language_of: dict[str, str] = {}
        self._lock = threading.RLock()

    # -- binding ----------------------------------------------------------------------------------
    def open(self, config: BackendConfig) -> dict[str, Any] | None:
        """Bind to the router's model; a local backend holds no data of its own before this."""
        with self._lock:
            if self.config is not None and self._language_of:
                _check_same_model(self.config, config)
            self.config = config
        return None

    def _conf(self) -> BackendConfig:
        if self.config is None:
            raise RuntimeError(
                "LocalBackend used before open(config); pass it to LanguageRouter(backend=...)"
            )
        return self.config

    # -- introspection ----------------------------------------------------------------------------
    def counts(self) -> dict[str, int]:
        with self._lock:
            return {lang: len(st) for lang, st in sorted(self._partitions.items()) if len(st)}

    def language_of(self, ids: Sequence[str]) -> dict[str, str]:
        with self._lock:
            return {d: self._language_of[d] for d in ids if isinstance(d, str) and d in self._language_of}

    def __len__(self) -> int:
        return len(self._language_of)

    def partition(self, language: str) -> FaissStore | None:
        """The dense store of one language (local backend only)."""
        return self._partitions.get(language)

    # -- writes -----------------------------------------------------------------------------------
    def upsert(self, docs: Sequence[Document]) -> None:
        conf = self._conf()
        if not docs:
            return
        groups: dict[str, list[Document]] = {}
        for doc in docs:
            groups.setdefault(doc.language, []).append(doc)
        # Text analysis is the slow part of a BM25 write: done before taking the lock.
        tokens = (
            {lang: [analyzer_for(lang).tokens(d.text) for d in group] for lang, group in groups.items()}
            if conf.lexical
            else {}
        )
        with self._lock:
            moved = [d.id for d in docs if self._language_of.get(d.id, d.language) != d.language]
            for doc_id in moved:
                self._remove(doc_id)
            for lang, group in groups.items():
                store = self._partitions.get(lang)
                if store is None:
                    store = self._partitions[lang] = self._new_store(conf)
                    if conf.lexical:
                        self._lexical[lang] = LexicalIndex(lang)
                ids = [d.id for d in group]
                texts = [d.text for d in group]
                if conf.lexical:
                    self._lexical[lang].add_tokens(ids, tokens[lang])
                store.add(np.stack([d.vector for d in group]), texts, [d.metadata for d in group], ids)
                for doc_id in ids:
                    self._language_of[doc_id] = lang

    def _new_store(self, conf: BackendConfig) -> FaissStore:
        return FaissStore(
            conf.dim,
            index=self.index_kind,
            model_name=conf.model_name,
            model_fingerprint=conf.model_fingerprint,
        )

    def _remove(self, doc_id: str) -> int:
        lang = self._language_of.pop(doc_id, None)
        if lang is None:
            return 0
        if lang in self._lexical:
            self._lexical[lang].delete([doc_id])
        return self._partitions[lang].delete([doc_id])

    def delete(self, ids: Iterable[str]) -> int:
        with self._lock:
            return sum(self._remove(d) for d in list(ids) if isinstance(d, str))

    def clear(self) -> None:
        with self._lock:
            self._partitions.clear()
            self._lexical.clear()
            self._language_of.clear()

    def close(self) -> None:
        """Nothing to release: the data lives in memory until saved."""

    # -- reads ------------------------------------------------------------------------------------
    def get(self, ids: Sequence[str]) -> list[tuple[str, Record]]:
        with self._lock:
            out: list[tuple[str, Record]] = []
            for doc_id in ids:
                lang = self._language_of.get(doc_id) if isinstance(doc_id, str) else None
                if lang is not None:
                    out.extend((lang, r) for r in self._partitions[lang].get([doc_id]))
            return out

    def ids(self, language: str, filter: FilterSpec = None) -> list[str]:
        store = self._partitions.get(language)
        return store.matching_ids(filter) if store is not None else []

    def dense(
        self, language: str, vector: np.ndarray, k: int, filter: FilterSpec = None
    ) -> list[tuple[str, float]]:
        store = self._partitions.get(language)
        return store.scores(vector, k, filter) if store is not None else []

    def dense_scores(self, language: str, vector: np.ndarray, ids: Sequence[str]) -> dict[str, float]:
        store = self._partitions.get(language)
        if store is None or not ids:
            return {}
        unit = vector / (float(np.linalg.norm(vector)) or 1.0)
        return {d: float(v @ unit) for d, v in store.vectors(ids).items()}

    def _bm25(self, language: str) -> LexicalIndex | None:
        with self._lock:
            lexical = self._lexical.get(language)
        if lexical is None and not self._conf().lexical:
            raise ValueError("this router was built with lexical=False: it keeps no BM25 index")
        return lexical

    def lexical(
        self, language: str, query: str, k: int, filter: FilterSpec = None
    ) -> list[tuple[str, float]]:
        lexical = self._bm25(language)
        if lexical is None or k <= 0:
            return []
        allowed = None if filter is None else set(self.ids(language, filter))
        return lexical.top(query, k, allowed)

    def lexical_scores(self, language: str, query: str, ids: Sequence[str]) -> dict[str, float]:
        lexical = self._bm25(language) if ids else None
        return {} if lexical is None else lexical.scores_for(query, ids)

    # -- persistence ------------------------------------------------------------------------------
    def save(self, folder: str | Path, options: dict[str, Any]) -> Path:
        """All partitions in one folder with one manifest (router ``options`` included), swapped in."""
        conf = self._conf()

        def fill(tmp: Path) -> None:
            with self._lock:
                partitions = {}
                for lang, store in sorted(self._partitions.items()):
                    if not len(store):
                        continue
                    sub = tmp / _PARTITIONS / lang
                    store.write(sub)
                    partitions[lang] = {
                        "count": len(store),
                        "manifest_sha256": _atomic.sha256_file(sub / "manifest.json"),
                    }
                manifest = {
                    "format": FORMAT,
                    "format_version": FORMAT_VERSION,
                    "model_name": conf.model_name,
                    "model_fingerprint": conf.model_fingerprint,
                    "dim": conf.dim,
                    **options,
                    "index": self.index_kind,
                    "lexical": conf.lexical,
                    "count": sum(p["count"] for p in partitions.values()),
                    "partitions": partitions,
                }
                _atomic.write_json(tmp / _MANIFEST, manifest)

        return _atomic.write_folder_atomically(folder, fill)

    @classmethod
    def load(cls, folder: str | Path, config: BackendConfig) -> tuple[LocalBackend, dict[str, Any]]:
        """Load a saved folder; returns the backend and the router options stored with it."""
        path, manifest = _atomic.read_manifest(folder, FORMAT, FORMAT_VERSION, "language router")
        _atomic.check_model(manifest, path, config.dim, config.model_fingerprint, config.model_name)
        backend = cls(index=manifest.get("index", "flat"))
        lexical = bool(manifest.get("lexical", True))
        backend.open(
            BackendConfig(config.dim, config.model_name, config.model_fingerprint, lexical, config.options)
        )
        for lang, info in (manifest.get("partitions") or {}).items():
            sub = path / _PARTITIONS / lang
            if not (sub / "manifest.json").is_file():
                raise StoreFormatError(f"partition {lang!r} is missing from {path}")
            if _atomic.sha256_file(sub / "manifest.json") != info.get("manifest_sha256"):
                raise StoreFormatError(f"partition {lang!r} in {path} does not match the router manifest")
            store = FaissStore.load(
                sub,
                expected_dim=config.dim,
                expected_fingerprint=config.model_fingerprint,
                expected_model=config.model_name,
            )
            if len(store) != info.get("count"):
                raise StoreFormatError(
                    f"partition {lang!r} in {path} holds {len(store)} documents, "
                    f"manifest says {info.get('count')}"
                )
            backend._partitions[lang] = store
            if lexical:
                records = store.records()
                backend._lexical[lang] = LexicalIndex(lang)
                backend._lexical[lang].add([r.id for r in records], [r.text for r in records])
            for d in store.ids():
                if d in backend._language_of:
                    raise StoreFormatError(f"id {d!r} appears in two partitions of {path}")
                backend._language_of[d] = lang
        skip = {"format", "format_version", "model_name", "model_fingerprint", "dim", "count", "partitions"}
        options = {key: value for key, value in manifest.items() if key not in skip}
        return backend, options


def _check_same_model(old: BackendConfig, new: BackendConfig) -> None:
    """A backend that holds data refuses to be rebound to another model."""
    manifest = {"model_name": old.model_name, "model_fingerprint": old.model_fingerprint, "dim": old.dim}
    _atomic.check_model(manifest, Path("<backend>"), new.dim, new.model_fingerprint, new.model_name)
