"""LocalBackend: language partitions in this process, a FaissStore and a LexicalIndex each.

Why: the default place for partitions, with no server to run. It answers the router's
questions (see :mod:`deposium_rag.backends.base`) from one dense store and one BM25 index
per language, kept in step by id, and saves them all in one folder with one manifest.
"""

from __future__ import annotations

import json
import os
import shutil
import threading
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from deposium_rag import _atomic
from deposium_rag.backends.base import BackendConfig, Document
from deposium_rag.errors import StoreFormatError
from deposium_rag.filters import FilterSpec
from deposium_rag.lexical import LexicalIndex, LexicalState, analyzer_for
from deposium_rag.store import (
    INDEX_KINDS,
    FaissStore,
    IndexKind,
    Listing,
    Record,
    VectorKind,
    json_bytes,
    read_listing,
    read_pack,
)

__all__ = ["LocalBackend"]

FORMAT = "deposium-rag/language-router"
FORMAT_VERSION = 2  # 1: partitions/<lang>/ FaissStore folders (still read)
_MANIFEST = "manifest.json"
_PARTITIONS = "partitions"  # version 1
_SEGMENTS = "segments"
_LEXICAL = "lexical"
_RESERVED = frozenset(
    {
        "format",
        "format_version",
        "model_name",
        "model_fingerprint",
        "dim",
        "count",
        "partitions",
        "next_segment",
    }
)


class LocalBackend:
    """``{language: FaissStore}`` + ``{language: LexicalIndex}`` behind one lock."""

    name = "local"

    def __init__(self, *, index: IndexKind = "auto", vectors: VectorKind = "float32") -> None:
        if index not in INDEX_KINDS:
            raise ValueError(f"index must be one of {INDEX_KINDS}, got {index!r}")
        FaissStore(index=index, vectors=vectors)  # checks the options once, here
        self.index_kind: IndexKind = index
        self.vector_kind: VectorKind = vectors
        self.config: BackendConfig | None = None
        self._partitions: dict[str, FaissStore] = {}
        self._lexical: dict[str, LexicalIndex] = {}
        # id -> language, built on first write after an open (None until then): a query finds
        # an id's partition by asking each one, largest first (see _owner_lookup).
        self._language_of: dict[str, str] | None = {}
        self._lock = threading.RLock()
        # Lazy loading and incremental saves: partitions not read yet, where we saved last.
        self._pending: dict[str, dict[str, Any]] = {}
        self._pending_counts: dict[str, int] = {}
        # Per pending partition: id listings and row map read at open, handed over at load,
        # and its live ids (the same dict as the row map when it has one segment).
        self._listings: dict[str, tuple[list[Listing], dict[str, int] | None]] = {}
        self._live: dict[str, dict[str, int]] = {}
        self._home: Path | None = None
        self._home_manifest: dict[str, Any] = {}
        self._lex_saved: dict[str, int] = {}

    # -- binding ----------------------------------------------------------------------------------
    def open(self, config: BackendConfig) -> dict[str, Any] | None:
        """Bind to the router's model; a local backend holds no data of its own before this."""
        with self._lock:
            if self.config is not None and self.counts():
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
            counts = {lang: len(st) for lang, st in self._partitions.items()} | self._pending_counts
            return {lang: n for lang, n in sorted(counts.items()) if n}

    def loaded(self) -> list[str]:
        """Partitions read into memory so far (the others are still only on disk)."""
        with self._lock:
            return sorted(self._partitions)

    def language_of(self, ids: Sequence[str]) -> dict[str, str]:
        with self._lock:
            owner = self._owner_lookup()
            found = {d: owner(d) for d in ids if isinstance(d, str)}
            return {d: lang for d, lang in found.items() if lang is not None}

    def __len__(self) -> int:
        return sum(self.counts().values())

    def _owner_lookup(self) -> Callable[[str], str | None]:
        """id -> the partition holding it, for the ids of one call. Lock held."""
        if self._language_of is not None:
            return self._language_of.get
        sets = self._id_sets()

        def owner(doc_id: str) -> str | None:
            for lang, ids in sets:
                if doc_id in ids:
                    return lang
            return None

        return owner

    def _id_sets(self) -> list[tuple[str, Any]]:
        """Each partition's ids (its store, or the ids read at open), largest first. Lock held."""
        sets: list[tuple[str, Any]] = [*self._partitions.items(), *self._live.items()]
        return sorted(sets, key=lambda item: len(item[1]), reverse=True)

    def _owners(self) -> dict[str, str]:
        """id -> language of every document, built on the first write after an open. Lock held.

        Also where the partitions' ids first meet: an id listed by two of them (the listings'
        checksums matched, so the folder was written wrongly) is refused here, before any
        change, rather than at open, where checking every pair cost more than the open."""
        if self._language_of is None:
            owners: dict[str, str] = {}
            sets = [(lang, ids if isinstance(ids, dict) else ids.ids()) for lang, ids in self._id_sets()]
            for lang, ids in sets:
                owners.update(dict.fromkeys(ids, lang))
            if len(owners) != sum(len(ids) for _, ids in sets):
                twice = next(d for lang, ids in sets for d in ids if owners[d] != lang)
                raise StoreFormatError(f"id {twice!r} appears in two partitions of {self._home}")
            self._language_of = owners
        return self._language_of

    def partition(self, language: str) -> FaissStore | None:
        """The dense store of one language (local backend only)."""
        return self._part(language)

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
            owners = self._owners()
            moved = [d.id for d in docs if owners.get(d.id, d.language) != d.language]
            for doc_id in moved:
                self._remove(doc_id)
            for lang, group in groups.items():
                store = self._part(lang)
                if store is None:
                    store = self._partitions[lang] = self._new_store(conf)
                    if conf.lexical:
                        self._lexical[lang] = LexicalIndex(lang)
                ids = [d.id for d in group]
                texts = [d.text for d in group]
                if conf.lexical:
                    self._lexical[lang].add_tokens(ids, tokens[lang])
                store.add(np.stack([d.vector for d in group]), texts, [d.metadata for d in group], ids)
                owners.update(dict.fromkeys(ids, lang))

    def _new_store(self, conf: BackendConfig) -> FaissStore:
        return FaissStore(
            conf.dim,
            index=self.index_kind,
            vectors=self.vector_kind,
            model_name=conf.model_name,
            model_fingerprint=conf.model_fingerprint,
        )

    def _remove(self, doc_id: str) -> int:
        lang = self._owners().pop(doc_id, None)
        if lang is None:
            return 0
        store = self._part(lang)
        if lang in self._lexical:
            self._lexical[lang].delete([doc_id])
        return store.delete([doc_id]) if store is not None else 0

    def delete(self, ids: Iterable[str]) -> int:
        with self._lock:
            return sum(self._remove(d) for d in list(ids) if isinstance(d, str))

    def clear(self) -> None:
        with self._lock:
            self._partitions.clear()
            self._lexical.clear()
            self._language_of = {}
            self._live.clear()
            self._pending.clear()
            self._pending_counts.clear()
            self._listings.clear()

    def close(self) -> None:
        """Nothing to release: the data lives in memory until saved."""

    # -- reads ------------------------------------------------------------------------------------
    def get(self, ids: Sequence[str]) -> list[tuple[str, Record]]:
        with self._lock:
            # One store read per language (not per id), then back into the order asked.
            by_lang: dict[str, list[str]] = {}
            owner = self._owner_lookup()
            for doc_id in ids:
                lang = owner(doc_id) if isinstance(doc_id, str) else None
                if lang is not None:
                    by_lang.setdefault(lang, []).append(doc_id)
            found: dict[str, tuple[str, Record]] = {}
            for lang, wanted in by_lang.items():
                store = self._part(lang)
                if store is not None:
                    found.update((r.id, (lang, r)) for r in store.get(wanted))
            return [found[d] for d in ids if isinstance(d, str) and d in found]

    def ids(self, language: str, filter: FilterSpec = None) -> list[str]:
        store = self._part(language)
        return store.matching_ids(filter) if store is not None else []

    def dense(
        self, language: str, vector: np.ndarray, k: int, filter: FilterSpec = None
    ) -> list[tuple[str, float]]:
        store = self._part(language)
        return store.scores(vector, k, filter) if store is not None else []

    def dense_scores(self, language: str, vector: np.ndarray, ids: Sequence[str]) -> dict[str, float]:
        store = self._part(language)
        if store is None or not ids:
            return {}
        unit = vector / (float(np.linalg.norm(vector)) or 1.0)
        return store.similarities(unit, ids)

    def _bm25(self, language: str) -> LexicalIndex | None:
        with self._lock:
            self._part(language)
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

    def word_counts(self, language: str, words: Sequence[str]) -> list[int | None] | None:
        """Documents of ``language`` holding each word (its most frequent analysed token).

        ``None`` for a word the language's analyser drops (a stopword of that language); ``None``
        for the whole answer when no BM25 index is kept. Loads the partition if needed.
        """
        lexical = self._bm25(language) if self._conf().lexical else None
        if lexical is None:
            return None
        out: list[int | None] = []
        for word in words:
            tokens = lexical.analyzer.tokens(word)
            out.append(max(lexical.document_frequencies(tokens)) if tokens else None)
        return out

    # -- persistence ------------------------------------------------------------------------------
    def save(self, folder: str | Path, options: dict[str, Any]) -> Path:
        """Save to ``folder``: only what changed when it is where this backend last saved or loaded.

        Incremental saves write one new segment per changed partition (its new rows, the ids
        deleted, the lexical delta) and then atomically replace the small top manifest; any
        other folder gets a full copy, swapped in whole. A crash at any point leaves the last
        completed save readable (tests/test_persistence.py kills savers mid-write).
        """
        conf = self._conf()
        target = Path(folder).expanduser().absolute()
        with self._lock:
            if self._home is not None and self._home == target and _is_current(target, self._home_manifest):
                self._save_segments(target, options, full=False)
                return target
            segments: dict[str, Any] = {}

            def fill(tmp: Path) -> None:
                self._home_manifest = self._write_all(tmp, conf, options, segments)

            _atomic.write_folder_atomically(target, fill)
            self._home = target
            self._mark_saved(segments)
            return target

    def compact(self) -> None:
        """Merge each partition's segments into one in the folder last saved or loaded (crash-safe)."""
        with self._lock:
            if self._home is None:
                raise ValueError("nothing to compact: this backend was never saved or loaded from a folder")
            options = {k: v for k, v in self._home_manifest.items() if k not in _RESERVED}
            self._save_segments(self._home, options, full=True)

    def _write_all(
        self, folder: Path, conf: BackendConfig, options: dict[str, Any], written: dict[str, Any]
    ) -> dict[str, Any]:
        """Every partition as one full segment, then the manifest (into a fresh folder)."""
        (folder / _SEGMENTS).mkdir(parents=True, exist_ok=True)
        partitions: dict[str, Any] = {}
        seq = 1
        for lang in sorted(set(self._partitions) | set(self._pending)):
            store = self._part(lang)
            if store is None or not len(store):
                continue
            name = f"{lang}-{seq:06d}"
            seq += 1
            info = self._write_segment(folder / _SEGMENTS, name, lang, full=True)
            written[lang] = info
            partitions[lang] = {"count": len(store), "options": store.options(), "segments": [info["entry"]]}
        manifest = self._manifest(conf, options, partitions, seq)
        _atomic.write_json(folder / _MANIFEST, manifest)
        return manifest

    def _manifest(
        self, conf: BackendConfig, options: dict[str, Any], partitions: dict[str, Any], seq: int
    ) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "format_version": FORMAT_VERSION,
            "model_name": conf.model_name,
            "model_fingerprint": conf.model_fingerprint,
            "dim": conf.dim,
            **{k: v for k, v in options.items() if k not in _RESERVED},
            "index": self.index_kind,
            "vectors": self.vector_kind,
            "lexical": conf.lexical,
            "count": sum(p["count"] for p in partitions.values()),
            "next_segment": seq,
            "partitions": partitions,
        }

    def _write_segment(self, parent: Path, name: str, lang: str, *, full: bool) -> dict[str, Any]:
        """One segment folder, written under a temporary name, fsynced, then renamed."""
        store = self._partitions[lang]
        tmp = parent / f".tmp-{name}"
        if tmp.exists():
            shutil.rmtree(tmp)
        lexical = self._lexical.get(lang)
        state = None
        if lexical is not None and not full and not store.needs_full_save():
            since = self._lex_saved.get(lang)
            try:
                state = lexical.export_delta(since) if since is not None else None
            except ValueError:
                state = None
            if state is None:  # the lexical index cannot give a delta: both go full
                full = True
        if lexical is not None and state is None:
            state = lexical.export_state()  # postings saved: a load maps them, no sort
        full = full or store.needs_full_save()
        # A delta's lexical arrays travel in the segment's one .npz; a full segment's as .npy files.
        extra = None
        if state is not None and not full:
            extra = {f"{_LEXICAL}.{k}": v for k, v in state.arrays.items()}
            extra[f"{_LEXICAL}.meta_json"] = json_bytes(state.meta)
        info = store.write_segment(tmp, full=full, extra=extra)
        files = dict(info["files"])
        lex_version = None
        if state is not None:
            lex_version = int(state.meta["version"])
            paths = state.write(tmp, _LEXICAL) if full else []  # a delta's rides in rows.npz
            for path in paths:
                files[path.name] = _atomic.crc32_file(path)
        _atomic.fsync_tree(tmp)
        final = parent / name
        if final.exists():
            shutil.rmtree(final)  # left by a save that crashed before its manifest
        os.rename(tmp, final)
        entry = {"name": name, "full": info["full"], "count": info["count"], "deleted": info["deleted"]}
        entry["files"] = files
        return {"entry": entry, "full": info["full"], "lex_version": lex_version}

    def _save_segments(self, home: Path, options: dict[str, Any], *, full: bool) -> None:
        """Append a segment per changed partition (or one full segment each), swap the manifest."""
        conf = self._conf()
        old = self._home_manifest
        seq = int(old.get("next_segment", 1))
        segs = home / _SEGMENTS
        segs.mkdir(exist_ok=True)
        referenced = {e["name"] for p in old.get("partitions", {}).values() for e in p["segments"]}
        for stray in segs.iterdir():  # segments of a save that crashed before its manifest
            if stray.name not in referenced:
                shutil.rmtree(stray, ignore_errors=True)
        partitions: dict[str, Any] = {}
        written: dict[str, Any] = {}
        for lang in sorted(set(self._partitions) | set(self._pending)):
            if lang in self._pending and not full:
                partitions[lang] = old["partitions"][lang]  # never loaded: unchanged
                continue
            store = self._part(lang)
            if store is None or not len(store):
                continue
            previous = old.get("partitions", {}).get(lang)
            if previous is not None and not full and not store.needs_full_save() and not store.has_changes():
                partitions[lang] = previous | {"count": len(store)}
                continue
            name = f"{lang}-{seq:06d}"
            seq += 1
            info = self._write_segment(segs, name, lang, full=full or previous is None)
            written[lang] = info
            chain = [info["entry"]] if info["full"] else [*previous["segments"], info["entry"]]
            partitions[lang] = {"count": len(store), "options": store.options(), "segments": chain}
        _atomic.fsync_dir(segs)
        manifest = self._manifest(conf, options, partitions, seq)
        _atomic.replace_json(home / _MANIFEST, manifest)  # the commit point
        self._home_manifest = manifest
        self._mark_saved(written)
        keep = {e["name"] for p in partitions.values() for e in p["segments"]}
        for folder in segs.iterdir():
            if folder.name not in keep:
                shutil.rmtree(folder, ignore_errors=True)

    def _mark_saved(self, written: dict[str, Any]) -> None:
        for lang, info in written.items():
            self._partitions[lang].mark_saved()
            if info["lex_version"] is not None:
                self._lex_saved[lang] = info["lex_version"]

    def _part(self, lang: str) -> FaissStore | None:
        """The partition's dense store, read from its segments on first use (lazy loading)."""
        with self._lock:
            store = self._partitions.get(lang)
            if store is not None or lang not in self._pending:
                return store
            entry = self._pending[lang]
            assert self._home is not None
            manifest = {**self._home_manifest, "options": entry.get("options") or {}}
            store = FaissStore.empty_like(manifest)
            segments = [(self._home / _SEGMENTS / e["name"], e["files"]) for e in entry["segments"]]
            # The store takes these over; a failed load reads them again from disk next time.
            listings, base_rows = self._listings.pop(lang, (None, None))
            lexical_on = self._conf().lexical
            known = (list(listings[0][0]), dict(base_rows)) if lexical_on and listings and base_rows else None
            store.load_segments(segments, listings=listings, base_rows=base_rows)
            if len(store) != entry.get("count"):
                raise StoreFormatError(
                    f"partition {lang!r} in {self._home} holds {len(store)} documents, "
                    f"manifest says {entry.get('count')}"
                )
            if lexical_on:
                lexical = None
                for folder, files in segments:
                    if "rows.npz" in files:  # a delta: its arrays are in the segment's .npz
                        prefix = f"{_LEXICAL}."
                        pack = read_pack(folder, files)
                        arrays = {k[len(prefix) :]: v for k, v in pack.items() if k.startswith(prefix)}
                        try:
                            meta = json.loads(arrays.pop("meta_json").tobytes().decode("utf-8"))
                        except (KeyError, UnicodeDecodeError, json.JSONDecodeError) as exc:
                            raise StoreFormatError(
                                f"lexical delta in {folder} is unreadable ({exc})"
                            ) from None
                        state = LexicalState(meta, arrays)
                    else:
                        state = LexicalState.read(folder, _LEXICAL, mmap=True)
                    if lexical is None or state.meta.get("kind") == "full":
                        lexical = LexicalIndex.from_state(state, slots=known)
                    else:
                        lexical.apply_delta(state)
                assert lexical is not None
                if len(lexical) != len(store):
                    raise StoreFormatError(
                        f"partition {lang!r} in {self._home}: lexical and dense counts differ"
                    )
                self._lexical[lang] = lexical
                self._lex_saved[lang] = lexical.version
            self._partitions[lang] = store
            del self._pending[lang]
            self._pending_counts.pop(lang, None)
            self._live.pop(lang, None)
            return store

    @classmethod
    def load(cls, folder: str | Path, config: BackendConfig) -> tuple[LocalBackend, dict[str, Any]]:
        """Open a saved folder: reads the manifest and ids; partitions load on first use.

        Format version 1 folders (one FaissStore per partition, BM25 rebuilt from the texts)
        are read too; the next save writes version 2.
        """
        path, manifest = _atomic.read_manifest(folder, FORMAT, (1, FORMAT_VERSION), "language router")
        _atomic.check_model(manifest, path, config.dim, config.model_fingerprint, config.model_name)
        if manifest.get("format_version") == 1:
            return cls._load_v1(path, manifest, config)
        backend = cls(index=manifest.get("index", "flat"), vectors=manifest.get("vectors", "float32"))
        lexical = bool(manifest.get("lexical", True))
        backend.open(
            BackendConfig(config.dim, config.model_name, config.model_fingerprint, lexical, config.options)
        )
        partitions = manifest.get("partitions")
        if not isinstance(partitions, dict):
            raise StoreFormatError(f"{path} manifest lists no partitions")
        for lang, entry in partitions.items():
            segments = entry.get("segments") if isinstance(entry, dict) else None
            if not segments or not segments[0].get("full"):
                raise StoreFormatError(f"partition {lang!r} in {path} has no full first segment")
            listings, base_rows, live = _read_listings(path, segments)
            if len(live) != entry.get("count"):
                raise StoreFormatError(
                    f"partition {lang!r} in {path} holds {len(live)} documents, "
                    f"manifest says {entry.get('count')}"
                )
            backend._pending[lang] = entry
            backend._pending_counts[lang] = len(live)
            backend._listings[lang] = (listings, base_rows)
            backend._live[lang] = live
        backend._language_of = None  # built on the first write; queries ask the partitions
        backend._home, backend._home_manifest = path.absolute(), manifest
        options = {key: value for key, value in manifest.items() if key not in _RESERVED}
        return backend, options

    @classmethod
    def _load_v1(
        cls, path: Path, manifest: dict[str, Any], config: BackendConfig
    ) -> tuple[LocalBackend, dict[str, Any]]:
        """Format version 1: ``partitions/<lang>/`` FaissStore folders; BM25 rebuilt from texts."""
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
            owners = backend._owners()
            for d in store.ids():
                if d in owners:
                    raise StoreFormatError(f"id {d!r} appears in two partitions of {path}")
                owners[d] = lang
        options = {key: value for key, value in manifest.items() if key not in _RESERVED}
        return backend, options


def _read_listings(
    path: Path, segments: Sequence[dict[str, Any]]
) -> tuple[list[Listing], dict[str, int] | None, dict[str, int]]:
    """A partition's id listings (checked), its full segment's id -> row map and its live ids.

    The row map is built once here and handed to the partition's store and BM25 index when
    the partition loads: building a dict of a million ids costs far more than copying one.
    None when the full segment lists an id twice (the store's own replay copes).
    """
    listings: list[Listing] = []
    base_rows: dict[str, int] | None = None
    live: dict[str, int] = {}
    for seg in segments:
        sub = path / _SEGMENTS / str(seg.get("name"))
        files = seg.get("files") or {}
        listed = {k: v for k, v in files.items() if k in ("ids.json", "rows.npz")}
        if not listed:
            raise StoreFormatError(f"segment {sub} lists no ids")
        _atomic.check_files(sub, listed)  # a delta's rows.npz is small: checked here
        ids, deleted = read_listing(sub, files)
        listings.append((ids, deleted))
        if not listings[1:]:  # the full segment
            rows = dict(zip(ids, range(len(ids))))
            base_rows = rows if len(rows) == len(ids) else None
            live = rows if len(segments) == 1 else dict(rows)
            continue
        for d in deleted:
            live.pop(d, None)
        for d in ids:
            live.pop(d, None)
            live[d] = -1
    return listings, base_rows, live


def describe(folder: str | Path) -> dict[str, Any]:
    """What a saved folder holds, from its manifest alone: for ``deposium-rag info``."""
    path, manifest = _atomic.read_manifest(folder, FORMAT, (1, FORMAT_VERSION), "language router")
    out: dict[str, Any] = {
        "path": str(path),
        "format_version": manifest.get("format_version"),
        "model_name": manifest.get("model_name"),
        "dim": manifest.get("dim"),
        "count": manifest.get("count"),
        "options": {k: v for k, v in manifest.items() if k not in _RESERVED},
        "partitions": {},
    }
    for lang, entry in (manifest.get("partitions") or {}).items():
        if manifest.get("format_version") == 1:
            folders = [path / _PARTITIONS / lang]
        else:
            folders = [path / _SEGMENTS / e["name"] for e in entry.get("segments", [])]
        size = sum(f.stat().st_size for d in folders if d.is_dir() for f in d.iterdir() if f.is_file())
        out["partitions"][lang] = {
            "count": entry.get("count"),
            "segments": len(folders),
            "bytes": size,
            "options": entry.get("options") or {},
        }
    out["bytes"] = sum(p["bytes"] for p in out["partitions"].values())
    return out


def _is_current(folder: Path, manifest: dict[str, Any]) -> bool:
    """True when ``folder`` still holds the manifest this backend saved or loaded last."""
    try:
        on_disk = _atomic.read_json(folder / _MANIFEST, "router manifest")
    except StoreFormatError:
        return False
    return bool(manifest) and on_disk == json.loads(json.dumps(manifest))  # tuples read back as lists


def _check_same_model(old: BackendConfig, new: BackendConfig) -> None:
    """A backend that holds data refuses to be rebound to another model."""
    manifest = {"model_name": old.model_name, "model_fingerprint": old.model_fingerprint, "dim": old.dim}
    _atomic.check_model(manifest, Path("<backend>"), new.dim, new.model_fingerprint, new.model_name)
