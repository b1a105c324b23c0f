"""LanguageRouter: one dense store per language, each query searched in its own language.

Why: a static model matches text only within one language (cross-lingual similarity is
noise), so in a mixed corpus other-language documents only crowd the top-k. Partitioning by
language and routing the query removes them, and lets each partition analyse text its own way.

Routing policy (documented, tested):

* ingest: ``metadata[language_key]`` if given (normalised to ISO 639-1), else detected on the
  text's first ``detect_chars`` characters, among ``languages`` (default: 55 widely used
  languages, so short texts do not land in rare look-alikes); text without letters is ``und``;
* query: detection restricted to the languages present in the index. When the top candidate
  has probability >= ``confidence`` only its partition is searched; otherwise the top
  candidates are added until their probabilities sum to ``confidence`` (at most
  ``max_languages``) and the results merged by score (same model, same cosine: scores
  compare). ``und`` always joins. ``language=`` forces a partition;
* a forced language with no partition, or an undecidable query (no letters), follows
  ``fallback``: ``"all"`` (search every partition), ``"none"`` (no results) or a language code.

Search modes: ``dense`` (cosine), ``lexical`` (BM25 with the partition's own analyser, see
deposium_rag.lexical) and ``hybrid`` (both, fused). Fusion ``convex`` (default) mixes BM25
rescaled to [0, 1] over the candidate pool (weight ``weight``) with the dense relevance
(1 + cos) / 2 on its fixed scale, so a weak dense model cannot amplify small cosine gaps;
``minmax`` rescales both rankers over the pool; ``rrf`` is reciprocal rank fusion (k=60).
The default (convex, weight 0.9) was chosen on the dev half of XQuAD (benchmarks/hybrid.py).
When an uncertain route merges partitions in lexical or hybrid mode, each partition's
relevance is scaled by its language probability relative to the top candidate, since
rescaled scores of different partitions do not compare.

Scores: in dense mode ``Hit.score`` is cosine in [-1, 1]; in lexical and hybrid modes it
is the fused relevance r in [0, 1] written as ``2r - 1``, so that
``Hit.relevance = (1 + score) / 2`` is the relevance in every mode.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Protocol, runtime_checkable

import numpy as np

from deposium_rag import _atomic
from deposium_rag._validation import check_text, check_texts
from deposium_rag.errors import DimensionMismatchError, StoreFormatError
from deposium_rag.filters import FilterSpec, compile_filter
from deposium_rag.language import (
    COMMON_LANGUAGES,
    UND,
    Candidate,
    LanguageDetector,
    get_detector,
    normalize_language,
)
from deposium_rag.lexical import LexicalIndex
from deposium_rag.store import FaissStore, Hit, IndexKind, Record, json_metadata

__all__ = ["Encoder", "LanguageRouter", "Mode", "Route", "RoutedResult"]

Mode = Literal["dense", "lexical", "hybrid"]
Fusion = Literal["convex", "minmax", "rrf"]
_RRF_K = 60

FORMAT = "deposium-rag/language-router"
FORMAT_VERSION = 1
_MANIFEST = "manifest.json"
_PARTITIONS = "partitions"


@runtime_checkable
class Encoder(Protocol):
    """What the router needs from a model: :class:`~deposium_rag.models.StaticEmbedder` fits."""

    @property
    def dim(self) -> int: ...

    @property
    def model_name(self) -> str: ...

    @property
    def fingerprint(self) -> str | None: ...

    def encode(self, texts: Sequence[str]) -> np.ndarray: ...


@dataclass(frozen=True)
class Route:
    """Which partitions a query went to, and why."""

    languages: tuple[str, ...]
    reason: str
    candidates: tuple[Candidate, ...] = ()


@dataclass(frozen=True)
class RoutedResult:
    hits: list[Hit]
    route: Route
    languages: list[str] = field(default_factory=list)  # language of each hit


class LanguageRouter:
    """Partitions ``{language: FaissStore}`` behind one add / delete / search API."""

    def __init__(
        self,
        encoder: Encoder,
        *,
        detector: str | LanguageDetector | None = None,
        fallback: str = "all",
        confidence: float = 0.5,
        max_languages: int = 3,
        language_key: str = "language",
        detect_chars: int = 120,
        index: IndexKind = "flat",
        languages: Iterable[str] | None = COMMON_LANGUAGES,
        mode: Mode = "hybrid",
        fusion: Fusion = "convex",
        weight: float = 0.9,
        lexical: bool = True,
    ) -> None:
        if not isinstance(encoder, Encoder):
            raise TypeError("encoder must provide encode(texts), dim, model_name and fingerprint")
        if not 0.0 < confidence <= 1.0:
            raise ValueError(f"confidence must be in (0, 1], got {confidence}")
        if max_languages < 1:
            raise ValueError(f"max_languages must be >= 1, got {max_languages}")
        self.encoder = encoder
        self.detector = get_detector(detector)
        self.fallback = self._check_fallback(fallback)
        self.confidence = confidence
        self.max_languages = max_languages
        self.language_key = language_key
        self.detect_chars = detect_chars
        self.index_kind: IndexKind = index
        # Ingest detection chooses among these (None: every language the detector knows).
        self.allowed = sorted({normalize_language(x) for x in languages}) if languages is not None else None
        self.lexical = bool(lexical)  # False: dense only, no BM25 kept (cheaper ingest)
        if not self.lexical and mode != "dense":
            mode = "dense"
        self.mode, self.fusion, self.weight = self._check_mode(mode, fusion, weight)
        self._partitions: dict[str, FaissStore] = {}
        self._lexical: dict[str, LexicalIndex] = {}
        self._language_of: dict[str, str] = {}
        self._lock = threading.RLock()

    @staticmethod
    def _check_mode(mode: str, fusion: str, weight: float) -> tuple[Mode, Fusion, float]:
        if mode not in ("dense", "lexical", "hybrid"):
            raise ValueError(f"mode must be 'dense', 'lexical' or 'hybrid', got {mode!r}")
        if fusion not in ("convex", "minmax", "rrf"):
            raise ValueError(f"fusion must be 'convex', 'minmax' or 'rrf', got {fusion!r}")
        if not isinstance(weight, (int, float)) or not 0.0 <= weight <= 1.0:
            raise ValueError(f"weight (the BM25 share of a hybrid score) must be in [0, 1], got {weight!r}")
        return mode, fusion, float(weight)  # type: ignore[return-value]

    @staticmethod
    def _check_fallback(fallback: str) -> str:
        if fallback in ("all", "none"):
            return fallback
        try:
            return normalize_language(fallback)
        except (TypeError, ValueError):
            raise ValueError(f"fallback must be 'all', 'none' or a language code, got {fallback!r}") from None

    # -- introspection ----------------------------------------------------------------------------
    def counts(self) -> dict[str, int]:
        """Documents per language partition."""
        with self._lock:
            return {lang: len(st) for lang, st in sorted(self._partitions.items()) if len(st)}

    @property
    def languages(self) -> list[str]:
        return list(self.counts())

    def __len__(self) -> int:
        return len(self._language_of)

    def partition(self, language: str) -> FaissStore | None:
        return self._partitions.get(normalize_language(language))

    def language_of(self, doc_id: str) -> str | None:
        return self._language_of.get(doc_id)

    # -- ingest -----------------------------------------------------------------------------------
    def detect_languages(self, texts: Sequence[str]) -> list[str]:
        """The partition each text would go to when it carries no language metadata."""
        heads = [t[: self.detect_chars] for t in texts]
        return [c[0].language for c in self.detector.detect_batch(heads, self.allowed)]

    def add(
        self,
        texts: Sequence[str],
        metadatas: Sequence[dict[str, Any] | None] | None = None,
        ids: Sequence[str] | None = None,
        *,
        embed_texts: Sequence[str] | None = None,
    ) -> list[str]:
        """Detect, embed and upsert; a document whose language changed moves partition.

        ``embed_texts`` (default: ``texts``) is what gets embedded, for frameworks that embed
        text plus metadata. All inputs are checked before anything is stored.
        """
        items = check_texts(texts)
        n = len(items)
        metas = [json_metadata(m, i) for i, m in enumerate(metadatas or [None] * n)]
        doc_ids = [uuid.uuid4().hex for _ in range(n)] if ids is None else list(ids)
        to_embed = items if embed_texts is None else check_texts(embed_texts, "embed_texts")
        if not (len(metas) == len(doc_ids) == len(to_embed) == n):
            raise ValueError(f"got {n} texts, {len(metas)} metadatas, {len(doc_ids)} ids; they must match")
        seen: set[str] = set()
        for i, d in enumerate(doc_ids):
            if not isinstance(d, str) or not d:
                raise TypeError(f"ids[{i}] must be a non-empty str, got {d!r}")
            if d in seen:
                raise ValueError(f"duplicate id {d!r} in one call (position {i})")
            seen.add(d)
        langs: list[str | None] = []
        for i, md in enumerate(metas):
            given = md.get(self.language_key)
            if given is None:
                langs.append(None)
                continue
            try:
                langs.append(normalize_language(given))
            except (TypeError, ValueError) as exc:
                raise ValueError(f"metadatas[{i}][{self.language_key!r}]: {exc}") from None
        if n == 0:
            return []
        todo = [i for i, lang in enumerate(langs) if lang is None]
        # Embedding releases the GIL (Rust tokenizer, numpy); detection is Python: overlap them.
        with ThreadPoolExecutor(max_workers=1) as pool:
            pending = pool.submit(self.encoder.encode, to_embed)
            for i, lang in zip(todo, self.detect_languages([items[i] for i in todo])):
                langs[i] = lang
            vectors = np.asarray(pending.result(), dtype=np.float32)
        for md, lang in zip(metas, langs):
            md[self.language_key] = lang
        if vectors.shape != (n, self.encoder.dim):
            raise DimensionMismatchError(
                f"encoder returned shape {vectors.shape}, expected ({n}, {self.encoder.dim})"
            )
        groups: dict[str, list[int]] = {}
        for i, lang in enumerate(langs):
            groups.setdefault(lang or UND, []).append(i)
        with self._lock:
            moved = [d for d, lang in zip(doc_ids, langs) if self._language_of.get(d, lang) != lang]
            for d in moved:
                self._partitions[self._language_of[d]].delete([d])
                if self.lexical:
                    self._lexical[self._language_of[d]].delete([d])
            for lang, rows in groups.items():
                store = self._partitions.get(lang)
                if store is None:
                    store = self._partitions[lang] = self._new_store()
                    if self.lexical:
                        self._lexical[lang] = LexicalIndex(lang)
                if self.lexical:
                    self._lexical[lang].add([doc_ids[i] for i in rows], [items[i] for i in rows])
                store.add(
                    vectors[rows],
                    [items[i] for i in rows],
                    [metas[i] for i in rows],
                    [doc_ids[i] for i in rows],
                )
                for i in rows:
                    self._language_of[doc_ids[i]] = lang
        return doc_ids

    def _new_store(self) -> FaissStore:
        return FaissStore(
            self.encoder.dim,
            index=self.index_kind,
            model_name=self.encoder.model_name,
            model_fingerprint=self.encoder.fingerprint,
        )

    def delete(self, ids: Iterable[str]) -> int:
        """Delete by id from whichever partition holds it; unknown ids are ignored."""
        if isinstance(ids, str):
            raise TypeError("ids must be a list of str, got a single str; wrap it in a list")
        removed = 0
        with self._lock:
            for d in list(ids):
                lang = self._language_of.pop(d, None) if isinstance(d, str) else None
                if lang is not None:
                    removed += self._partitions[lang].delete([d])
                    if self.lexical:
                        self._lexical[lang].delete([d])
        return removed

    def get(self, ids: Iterable[str]) -> list[Record]:
        """Records in the order asked; unknown ids are skipped."""
        with self._lock:
            out: list[Record] = []
            for d in ids:
                lang = self._language_of.get(d) if isinstance(d, str) else None
                if lang is not None:
                    out.extend(self._partitions[lang].get([d]))
            return out

    def clear(self) -> None:
        with self._lock:
            self._partitions.clear()
            self._lexical.clear()
            self._language_of.clear()

    # -- query ------------------------------------------------------------------------------------
    def route(self, query: str, language: str | None = None) -> Route:
        """Decide which partitions ``query`` goes to (see the module docstring)."""
        check_text(query, "query")
        present = [lang for lang in self.counts() if lang != UND]
        if language is not None:
            lang = normalize_language(language)
            if lang in present or (lang == UND and UND in self._partitions):
                return self._with_und(Route((lang,), "forced"))
            return self._fallback(f"no partition for forced language {lang!r}")
        if not present:
            return self._with_und(Route((), "no language partitions"))
        candidates = tuple(self.detector.detect(query, present))
        if candidates[0].language == UND:
            return self._fallback("undecidable query (no letters)", candidates)
        if candidates[0].probability >= self.confidence:
            return self._with_und(Route((candidates[0].language,), "detected", candidates))
        chosen: list[str] = []
        total = 0.0
        for c in candidates:
            chosen.append(c.language)
            total += c.probability
            if total >= self.confidence or len(chosen) >= self.max_languages:
                break
        return self._with_und(Route(tuple(chosen), "uncertain: merged by score", candidates))

    def _with_und(self, route: Route) -> Route:
        if UND in self._partitions and UND not in route.languages and len(self._partitions[UND]):
            return Route((*route.languages, UND), route.reason, route.candidates)
        return route

    def _fallback(self, why: str, candidates: tuple[Candidate, ...] = ()) -> Route:
        if self.fallback == "none":
            return Route((), f"{why}; fallback none", candidates)
        if self.fallback == "all":
            return Route(tuple(self.counts()), f"{why}; fallback all", candidates)
        langs = (self.fallback,) if self.fallback in self._partitions else ()
        return self._with_und(Route(langs, f"{why}; fallback {self.fallback}", candidates))

    def search(
        self,
        query: str,
        k: int = 4,
        *,
        language: str | None = None,
        filter: FilterSpec = None,
        mode: Mode | None = None,
        fusion: Fusion | None = None,
        weight: float | None = None,
    ) -> RoutedResult:
        """Route ``query`` and return the ``k`` best hits across the routed partitions."""
        check_text(query, "query")
        if not query.strip():
            raise ValueError("query is empty: pass some text to search for")
        mode, fusion, weight = self._check_mode(
            mode or self.mode, fusion or self.fusion, self.weight if weight is None else weight
        )
        if mode != "dense" and not self.lexical:
            raise ValueError(
                f"mode {mode!r} needs the lexical index; this router was built with lexical=False"
            )
        compile_filter(filter)  # bad filters fail here, before any work
        route = self.route(query, language)
        if not route.languages:
            return RoutedResult([], route, [])
        vector = None if mode == "lexical" else self.encoder.encode([query])[0]
        merged: list[tuple[float, str, Hit]] = []
        share = _language_share(route) if mode != "dense" else {}
        with self._lock:
            for lang in route.languages:
                if mode == "dense":
                    hits = self._partitions[lang].search(vector, k, filter)
                else:
                    hits = self._scored(lang, query, vector, k, filter, mode, fusion, weight)
                    factor = share.get(lang, 1.0)
                    if factor < 1.0:
                        hits = [Hit(h.id, h.text, h.metadata, 2.0 * h.relevance * factor - 1.0) for h in hits]
                merged.extend((h.score, lang, h) for h in hits)
        merged.sort(key=lambda t: -t[0])
        top = merged[:k]
        return RoutedResult([h for _, _, h in top], route, [lang for _, lang, _ in top])

    def _scored(
        self,
        lang: str,
        query: str,
        vector: np.ndarray | None,
        k: int,
        filter: FilterSpec,
        mode: Mode,
        fusion: Fusion,
        weight: float,
    ) -> list[Hit]:
        """Lexical or hybrid top-k of one partition; filters apply before ranking."""
        store, lexical = self._partitions[lang], self._lexical[lang]
        order, bm25, pos = lexical.scored(query)
        if filter is not None:
            keep = np.zeros(len(order), dtype=bool)
            keep[[pos[d] for d in store.matching_ids(filter) if d in pos]] = True
            bm25 = np.where(keep, bm25, 0.0).astype(np.float32)
        pool = max(10 * k, 50)
        lex_top = [order[i] for i in np.argsort(-bm25, kind="stable")[:pool] if bm25[i] > 0]
        if mode == "lexical":
            if not lex_top:
                return []
            best = float(bm25.max())
            picked = lex_top[:k]
            rel = {d: float(bm25[pos[d]]) / best for d in picked}
            return self._hits(store, picked, rel)
        assert vector is not None
        dense = dict(store.scores(vector, pool, filter))
        missing = [d for d in lex_top if d not in dense]
        if missing:
            unit = vector / (float(np.linalg.norm(vector)) or 1.0)
            for doc_id, vec in store.vectors(missing).items():
                dense[doc_id] = float(vec @ unit)
        pool_ids = list(dense)
        if not pool_ids:
            return []
        lex = np.array([bm25[pos[d]] if d in pos else 0.0 for d in pool_ids], dtype=np.float64)
        den = np.array([dense[d] for d in pool_ids], dtype=np.float64)
        if fusion == "rrf":
            fused = _rrf(den) + _rrf(lex, positive_only=True)
            fused /= 2.0 / (_RRF_K + 1)
        elif fusion == "minmax":
            fused = weight * _minmax(lex) + (1.0 - weight) * _minmax(den)
        else:
            fused = weight * _minmax(lex) + (1.0 - weight) * (1.0 + den) / 2.0
        top = np.argsort(-fused, kind="stable")[:k]
        picked = [pool_ids[i] for i in top]
        return self._hits(store, picked, {pool_ids[i]: float(fused[i]) for i in top})

    @staticmethod
    def _hits(store: FaissStore, ids: list[str], relevance: dict[str, float]) -> list[Hit]:
        return [
            Hit(r.id, r.text, r.metadata, 2.0 * min(1.0, max(0.0, relevance[r.id])) - 1.0)
            for r in store.get(ids)
        ]

    # -- persistence ------------------------------------------------------------------------------
    def save(self, folder: str | Path) -> Path:
        """All partitions in one folder with one manifest, swapped in atomically."""

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
                _atomic.write_json(tmp / _MANIFEST, self._manifest(partitions))

        return _atomic.write_folder_atomically(folder, fill)

    def _manifest(self, partitions: dict[str, Any]) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "format_version": FORMAT_VERSION,
            "model_name": self.encoder.model_name,
            "model_fingerprint": self.encoder.fingerprint,
            "dim": self.encoder.dim,
            "detector": self.detector.name,
            "fallback": self.fallback,
            "confidence": self.confidence,
            "max_languages": self.max_languages,
            "language_key": self.language_key,
            "detect_chars": self.detect_chars,
            "index": self.index_kind,
            "languages": self.allowed,
            "mode": self.mode,
            "fusion": self.fusion,
            "weight": self.weight,
            "lexical": self.lexical,
            "count": sum(p["count"] for p in partitions.values()),
            "partitions": partitions,
        }

    @classmethod
    def load(
        cls, folder: str | Path, encoder: Encoder, *, detector: str | LanguageDetector | None = None
    ) -> LanguageRouter:
        """Load a saved router; refuses a folder built with another model or dimension."""
        path, manifest = _atomic.read_manifest(folder, FORMAT, FORMAT_VERSION, "language router")
        _atomic.check_model(manifest, path, encoder.dim, encoder.fingerprint, encoder.model_name)
        router = cls(
            encoder,
            detector=detector or manifest.get("detector"),
            fallback=manifest.get("fallback", "all"),
            confidence=manifest.get("confidence", 0.5),
            max_languages=manifest.get("max_languages", 3),
            language_key=manifest.get("language_key", "language"),
            detect_chars=manifest.get("detect_chars", 120),
            index=manifest.get("index", "flat"),
            languages=manifest.get("languages"),
            mode=manifest.get("mode", "hybrid"),
            fusion=manifest.get("fusion", "convex"),
            weight=manifest.get("weight", 0.9),
            lexical=manifest.get("lexical", True),
        )
        for lang, info in (manifest.get("partitions") or {}).items():
            sub = path / _PARTITIONS / lang
            if not (sub / "manifest.json").is_file():
                raise StoreFormatError(f"partition {lang!r} is missing from {path}")
            if _atomic.sha256_file(sub / "manifest.json") != info.get("manifest_sha256"):
                raise StoreFormatError(f"partition {lang!r} in {path} does not match the router manifest")
            store = FaissStore.load(
                sub,
                expected_dim=encoder.dim,
                expected_fingerprint=encoder.fingerprint,
                expected_model=encoder.model_name,
            )
            if len(store) != info.get("count"):
                raise StoreFormatError(
                    f"partition {lang!r} in {path} holds {len(store)} documents, "
                    f"manifest says {info.get('count')}"
                )
            router._partitions[lang] = store
            # The lexical index is derived data: rebuilt from the stored texts, so it always agrees.
            if router.lexical:
                records = store.records()
                router._lexical[lang] = LexicalIndex(lang)
                router._lexical[lang].add([r.id for r in records], [r.text for r in records])
            for d in store.ids():
                if d in router._language_of:
                    raise StoreFormatError(f"id {d!r} appears in two partitions of {path}")
                router._language_of[d] = lang
        return router


def _language_share(route: Route) -> dict[str, float]:
    """Probability of each routed language relative to the top one (1.0 when not uncertain)."""
    if len([x for x in route.languages if x != UND]) < 2 or not route.candidates:
        return {}
    top = route.candidates[0].probability or 1.0
    return {c.language: min(1.0, c.probability / top) for c in route.candidates}


def _minmax(x: np.ndarray) -> np.ndarray:
    """Rescale to [0, 1]; a constant vector maps to 1 where positive, else 0."""
    lo, hi = float(x.min()), float(x.max())
    if hi - lo < 1e-12:
        return (x > 0).astype(np.float64)
    return (x - lo) / (hi - lo)


def _rrf(x: np.ndarray, positive_only: bool = False) -> np.ndarray:
    """Reciprocal-rank contribution 1 / (60 + rank) of each item (rank 1 = best)."""
    order = np.argsort(-x, kind="stable")
    ranks = np.empty(len(x), dtype=np.float64)
    ranks[order] = np.arange(1, len(x) + 1)
    out = 1.0 / (_RRF_K + ranks)
    if positive_only:
        out[x <= 0] = 0.0
    return out
