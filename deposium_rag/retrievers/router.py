"""LanguageRouter: one dense store per language, each query searched in its own language.

Why: a static model matches text only within one language (cross-lingual similarity is
noise), so in a mixed corpus other-language documents only crowd the top-k. Partitioning by
language and routing the query removes them, and lets each partition analyse text its own way.

Routing policy (documented, tested):

* ingest: ``metadata[language_key]`` if given (normalised to ISO 639-1), else detected from
  the text as a whole (:func:`deposium_rag.language.detect_documents`: markup, URLs, code and
  numbers dropped, ``detect_chars`` characters sampled in windows from head to tail, the
  letter-weighted majority of the windows wins) among ``languages`` (default: widely used
  languages, so short texts do not land in rare look-alikes). The detection confidence is
  kept in ``metadata["language_confidence"]``. Text with no words left, and text whose best
  language is outside ``languages``, goes to ``und``; :attr:`LanguageRouter.last_ingest_report`
  counts them (and a warning is logged) so the caller can widen ``languages``;
* query: detection restricted to the languages present in the index, times a prior: each
  partition's share of the collection to the power ``PRIOR_WEIGHT``, renormalised (a 1-3
  word query is sent to where the documents are). Then, when the best candidate is below
  ``EVIDENCE_BELOW`` (a confident query skips it), corpus evidence: among the first
  ``EVIDENCE_CANDIDATES`` candidates (probability >= ``EVIDENCE_MIN``), a partition whose
  vocabulary holds fewer of the query's words (a stopword of its language counts as held)
  than another's is ruled out; among those tied, one whose best ``EVIDENCE_HITS`` BM25
  hits hold fewer of the words in one document, is ruled out too (names occur in every
  language and weigh nothing; a partition is the best language model of its own documents).
  The local backend answers from its vocabulary (``word_counts``); another backend through
  a one-hit lexical search per word; with ``lexical=False`` nothing is ruled out. When the
  top candidate has probability >= ``confidence`` and is also the detector's own choice,
  only its partition is searched;
  otherwise the top candidates are added until their probabilities sum to ``confidence``
  (at most ``max_languages``), plus the detector's own choice and the largest partition
  the detector gives at least ``PLAUSIBLE``, and the results merged by score.
  ``language=`` forces a partition;
* ``und`` (junk, and documents in languages outside the set) only fills: it is searched
  when the routed partitions return fewer than ``k`` hits, or joins when the query itself
  looks like a language no partition holds. Its hits are scored on the routed language's
  scale (BM25 and cosine rescaled with that partition's range), never on its own, so the
  best of a small pool of junk never looks like a perfect match (benchmarks/messy_routing.py:
  und in the top 10 went from 2.0% to 0.0% on the test half). ``min_relevance`` drops weak
  hits, so "nothing relevant" comes back as no hits;
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

import logging
import threading
import uuid
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Protocol, runtime_checkable

import numpy as np

from deposium_rag._validation import check_text, check_texts, last_wins
from deposium_rag.backends.base import BackendConfig, Document, PartitionBackend
from deposium_rag.backends.local import LocalBackend
from deposium_rag.errors import DimensionMismatchError
from deposium_rag.filters import FilterSpec, compile_filter
from deposium_rag.language import (
    COMMON_LANGUAGES,
    UND,
    Candidate,
    DocumentLanguage,
    LanguageDetector,
    detect_documents,
    get_detector,
    normalize_language,
)
from deposium_rag.store import FaissStore, Hit, IndexKind, Record, VectorKind, _unit_rows, json_metadata

CONFIDENCE_KEY = "language_confidence"  # metadata key of a detected document's confidence

__all__ = ["Encoder", "IngestReport", "LanguageRouter", "Mode", "Route", "RoutedResult"]

log = logging.getLogger(__name__)

# Query routing (chosen on the dev half of benchmarks/messy_routing.py): the detector's
# probabilities times each partition's share of the collection to this power, renormalised;
# a language the detector gives at least PLAUSIBLE is searched when the route is uncertain,
# if it holds the most documents.
PRIOR_WEIGHT = 0.5
PLAUSIBLE = 0.1
# Corpus evidence: the first EVIDENCE_CANDIDATES candidates with at least EVIDENCE_MIN are
# asked how many of the query's words their partition holds (chosen on the dev half).
EVIDENCE_CANDIDATES = 4
EVIDENCE_MIN = 0.001
# ...and only when the best candidate (prior included) is below EVIDENCE_BELOW: above it the
# check changed 67 of 16,720 dev routes and left the query's own language out of 19 more of them
# than without, at a lexical lookup per query (benchmarks/routing_evidence_gate.py).
EVIDENCE_BELOW = 0.9
EVIDENCE_HITS = 5

# Candidates each ranker gives a partition's fusion pool: max(POOL_PER_K * k, POOL_MIN).
# 30 at k=10 (was 100, then 50) gives the default fusion (convex, BM25 weight 0.9) the same
# dev MRR@10 on benchmarks/hybrid.py and the same dev figures on messy_routing.py; min-max
# fusion lost 0.5 dev points at weight 0.5 (none at 0.8-0.9) and RRF gained 2.9 test points.
# Each halving took ~0.1-1 ms off a hybrid query at 100k (fewer re-ranked and re-scored ids).
POOL_PER_K = 3
POOL_MIN = 20

Mode = Literal["dense", "lexical", "hybrid"]
Fusion = Literal["convex", "minmax", "rrf"]
_RRF_K = 60


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
    fill: tuple[str, ...] = ()  # searched only when ``languages`` cannot fill k (und, usually)


@dataclass(frozen=True)
class IngestReport:
    """What detection did in one :meth:`LanguageRouter.add` call.

    ``outside`` counts documents whose best language is not among the router's candidate
    languages, by that language (they were filed under ``und``); ``no_text`` counts documents
    with no words to detect (tables, markup, code); ``low_confidence`` those below the floor.
    """

    documents: int = 0
    detected: int = 0
    by_language: dict[str, int] = field(default_factory=dict)
    outside: dict[str, int] = field(default_factory=dict)
    no_text: int = 0
    low_confidence: int = 0

    def summary(self) -> str:
        """One line for a log or a command-line summary."""
        line = f"{self.documents} documents, {self.detected} detected"
        if self.outside:
            langs = ", ".join(
                f"{lang}: {n}" for lang, n in sorted(self.outside.items(), key=lambda kv: -kv[1])
            )
            line += (
                f"; {sum(self.outside.values())} look like languages outside the candidate set ({langs})"
                f" and went to 'und': add them with languages=[...] (CLI: --languages)"
            )
        if self.no_text:
            line += f"; {self.no_text} without words (tables, markup, code) went to 'und'"
        if self.low_confidence:
            line += f"; {self.low_confidence} below the confidence floor went to 'und'"
        return line


@dataclass(frozen=True)
class RoutedResult:
    hits: list[Hit]
    route: Route
    languages: list[str] = field(default_factory=list)  # language of each hit


class LanguageRouter:
    """Language partitions behind one add / delete / search API.

    Where the partitions live is the ``backend``'s business: :class:`LocalBackend` (FAISS +
    BM25 in this process, the default) or ``MilvusBackend``. Routing, fusion, scores and
    validation are computed here, the same for every backend.
    """

    def __init__(
        self,
        encoder: Encoder,
        *,
        detector: str | LanguageDetector | None = None,
        fallback: str = "all",
        confidence: float = 0.5,
        max_languages: int = 3,
        language_key: str = "language",
        detect_chars: int = 480,
        index: IndexKind = "auto",
        vectors: VectorKind = "float32",
        languages: Iterable[str] | None = COMMON_LANGUAGES,
        mode: Mode = "hybrid",
        fusion: Fusion = "convex",
        weight: float = 0.9,
        lexical: bool = True,
        backend: PartitionBackend | None = None,
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
        self.index_kind: IndexKind = getattr(backend, "index_kind", index)
        # Ingest detection chooses among these (None: every language the detector knows).
        self.allowed = sorted({normalize_language(x) for x in languages}) if languages is not None else None
        self.lexical = bool(lexical)  # False: dense only, no BM25 kept (cheaper ingest)
        if not self.lexical and mode != "dense":
            mode = "dense"
        self.mode, self.fusion, self.weight = self._check_mode(mode, fusion, weight)
        self.backend: PartitionBackend = (
            backend if backend is not None else LocalBackend(index=index, vectors=vectors)
        )
        self._stored_options = self.backend.open(
            BackendConfig(encoder.dim, encoder.model_name, encoder.fingerprint, self.lexical, self._options())
        )
        self._lock = threading.RLock()  # one writer at a time: an upsert is detect + embed + store
        self.last_ingest_report = IngestReport()

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
        return self.backend.counts()

    @property
    def languages(self) -> list[str]:
        return list(self.counts())

    def __len__(self) -> int:
        return sum(self.counts().values())

    def partition(self, language: str) -> FaissStore | None:
        """The dense store of one language (local backend only; ``None`` elsewhere)."""
        get = getattr(self.backend, "partition", None)
        return get(normalize_language(language)) if get is not None else None

    def language_of(self, doc_id: str) -> str | None:
        return self.backend.language_of([doc_id]).get(doc_id)

    def ids(self, filter: FilterSpec = None, *, language: str | None = None) -> list[str]:
        """Ids of stored documents matching ``filter`` (of one language if given)."""
        compile_filter(filter)
        langs = [normalize_language(language)] if language is not None else list(self.counts())
        return [d for lang in langs for d in self.backend.ids(lang, filter)]

    # -- ingest -----------------------------------------------------------------------------------
    def detect_languages(self, texts: Sequence[str]) -> list[str]:
        """The partition each text would go to when it carries no language metadata."""
        return [d.language for d in self.detect_documents(texts)]

    def detect_documents(self, texts: Sequence[str]) -> list[DocumentLanguage]:
        """Language, confidence, best language and status of each text (see the module docstring)."""
        return detect_documents(self.detector, texts, self.allowed, budget=self.detect_chars)

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
        text plus metadata. All inputs are checked before anything is stored. An id repeated
        in one call is stored once, from its last occurrence (as LangChain's stores do).
        """
        items = check_texts(texts)
        n = len(items)
        metas = [json_metadata(m, i) for i, m in enumerate(metadatas or [None] * n)]
        doc_ids = [uuid.uuid4().hex for _ in range(n)] if ids is None else list(ids)
        to_embed = items if embed_texts is None else check_texts(embed_texts, "embed_texts")
        if not (len(metas) == len(doc_ids) == len(to_embed) == n):
            raise ValueError(f"got {n} texts, {len(metas)} metadatas, {len(doc_ids)} ids; they must match")
        keep = last_wins(doc_ids)  # an id repeated in one call: the last one wins
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
        returned = doc_ids
        if len(keep) < n:
            items, to_embed = [items[i] for i in keep], [to_embed[i] for i in keep]
            metas, langs = [metas[i] for i in keep], [langs[i] for i in keep]
            doc_ids, n = [doc_ids[i] for i in keep], len(keep)
        todo = [i for i, lang in enumerate(langs) if lang is None]
        # Embedding releases the GIL (Rust tokenizer, numpy); detection is Python: overlap them.
        with ThreadPoolExecutor(max_workers=1) as pool:
            pending = pool.submit(self.encoder.encode, to_embed)
            found = self.detect_documents([items[i] for i in todo])
            for i, d in zip(todo, found):
                langs[i] = d.language
                metas[i][CONFIDENCE_KEY] = d.confidence
            vectors = np.asarray(pending.result(), dtype=np.float32)
        for md, lang in zip(metas, langs):
            md[self.language_key] = lang
        report = _report(n, found)
        if vectors.shape != (n, self.encoder.dim):
            raise DimensionMismatchError(
                f"encoder returned shape {vectors.shape}, expected ({n}, {self.encoder.dim})"
            )
        unit = _unit_rows(vectors, self.encoder.dim, "vectors", self.encoder.model_name)
        docs = [Document(doc_ids[i], items[i], metas[i], langs[i] or UND, unit[i]) for i in range(n)]
        with self._lock:
            self.backend.upsert(docs)
            self.last_ingest_report = report
        if report.outside or report.low_confidence:
            log.warning("language detection: %s", report.summary())
        return returned

    def delete(self, ids: Iterable[str]) -> int:
        """Delete by id from whichever partition holds it; unknown ids are ignored."""
        if isinstance(ids, str):
            raise TypeError("ids must be a list of str, got a single str; wrap it in a list")
        with self._lock:
            return self.backend.delete([d for d in ids if isinstance(d, str)])

    def get(self, ids: Iterable[str]) -> list[Record]:
        """Records in the order asked; unknown ids are skipped."""
        if isinstance(ids, str):
            raise TypeError("ids must be a list of str, got a single str; wrap it in a list")
        return [r for _, r in self.backend.get([d for d in ids if isinstance(d, str)])]

    def clear(self) -> None:
        with self._lock:
            self.backend.clear()

    # -- query ------------------------------------------------------------------------------------
    def route(self, query: str, language: str | None = None) -> Route:
        """Decide which partitions ``query`` goes to (see the module docstring)."""
        check_text(query, "query")
        sizes = self.counts()  # once per query: every rule below reads the same snapshot
        present = [lang for lang in sizes if lang != UND]
        if language is not None:
            lang = normalize_language(language)
            if lang in present or (lang == UND and UND in sizes):
                return self._with_und(Route((lang,), "forced"), sizes)
            return self._fallback(f"no partition for forced language {lang!r}", sizes)
        if not present:
            return self._with_und(Route((), "no language partitions"), sizes, join=True)
        pair = getattr(self.detector, "detect_pair", None)  # one pass gives both rankings
        unrestricted = None
        if pair is not None:
            restricted, unrestricted = pair(query, present, unrestricted=bool(sizes.get(UND)))
            detected = tuple(restricted)
        else:
            detected = tuple(self.detector.detect(query, present))
        if detected[0].language == UND:
            return self._fallback("undecidable query (no letters)", sizes, detected)
        candidates = _with_prior(detected, sizes, PRIOR_WEIGHT)
        own = detected[0].language  # the detector's own choice, before the prior
        # Corpus evidence: a candidate partition that knows fewer of the query's words than
        # another is ruled out (names occur everywhere and weigh nothing).
        unsure = candidates[0].probability < EVIDENCE_BELOW
        weaker = _fewer_words(self.backend, query, candidates) if self.lexical and unsure else set()
        if weaker:
            detected = tuple(c for c in detected if c.language not in weaker)
            candidates = _renormalised([c for c in candidates if c.language not in weaker])
            own = detected[0].language if detected else candidates[0].language
        # und joins on the routed language's scale only when the query itself looks like a
        # language no partition holds (its documents may sit in und); otherwise it only fills.
        join = False
        if sizes.get(UND):
            best = (unrestricted or self.detector.detect(query))[0]
            join = best.language not in present and best.language != UND and best.probability >= 0.5
        if candidates[0].probability >= self.confidence and candidates[0].language == own:
            return self._with_und(Route((own,), "detected", candidates), sizes, join)
        chosen: list[str] = []
        total = 0.0
        for c in candidates:
            if total >= self.confidence or len(chosen) >= self.max_languages:
                break
            chosen.append(c.language)
            total += c.probability
        # Never leave out the detector's own choice, nor the largest partition it finds plausible.
        plausible = [c.language for c in detected if c.probability >= PLAUSIBLE]
        largest = max(plausible, key=lambda lang: sizes.get(lang, 0)) if plausible else own
        for lang in (own, largest):
            if lang not in chosen:
                chosen.append(lang)
        return self._with_und(Route(tuple(chosen), "uncertain: merged by score", candidates), sizes, join)

    @staticmethod
    def _with_und(route: Route, sizes: dict[str, int], join: bool = False) -> Route:
        """und joins the search (``join``) or is kept to fill up to k (measured on dev)."""
        if UND not in route.languages and sizes.get(UND):
            if join:
                return Route((*route.languages, UND), route.reason, route.candidates)
            return Route(route.languages, route.reason, route.candidates, (UND,))
        return route

    def _fallback(self, why: str, sizes: dict[str, int], candidates: tuple[Candidate, ...] = ()) -> Route:
        if self.fallback == "none":
            return Route((), f"{why}; fallback none", candidates)
        if self.fallback == "all":
            return Route(tuple(sizes), f"{why}; fallback all", candidates)
        langs = (self.fallback,) if self.fallback in sizes else ()
        return self._with_und(Route(langs, f"{why}; fallback {self.fallback}", candidates), sizes)

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
        min_relevance: float | None = None,
    ) -> RoutedResult:
        """Route ``query`` and return the ``k`` best hits across the routed partitions.

        ``min_relevance`` (in [0, 1]) drops hits whose relevance is below it, so "nothing
        relevant" comes back as no hits rather than as the best of unrelated documents.
        """
        check_text(query, "query")
        if min_relevance is not None and not (
            isinstance(min_relevance, (int, float)) and 0.0 <= min_relevance <= 1.0
        ):
            raise ValueError(f"min_relevance must be a number in [0, 1], got {min_relevance!r}")
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
        if not route.languages and not route.fill:
            return RoutedResult([], route, [])
        vector = None if mode == "lexical" else self.encoder.encode([query])[0]
        merged: list[tuple[float, str, str]] = []
        share = _language_share(route) if mode != "dense" else {}
        if vector is not None:
            vector = _unit_rows(vector, self.encoder.dim, "query vector", self.encoder.model_name)[0]
        pools = {}
        dense_hits: dict[str, list[tuple[str, float]]] = {}  # dense mode: one search per partition

        def dense_top(lang: str) -> list[tuple[str, float]]:
            if lang not in dense_hits:
                dense_hits[lang] = self.backend.dense(lang, vector, k, filter)
            return dense_hits[lang]

        if mode != "dense":
            pools = {lang: self._pool(lang, query, vector, k, filter, mode) for lang in route.languages}
        if not route.languages:
            pools.update({lang: self._pool(lang, query, vector, k, filter, mode) for lang in route.fill})
        # und (documents with no detectable or no known language) is scored on the scale of the
        # first routed language with candidates, never on its own: the best of a small pool of
        # junk must not look like a perfect match (measured in benchmarks/messy_routing.py).
        primary = next((lang for lang in route.languages if lang != UND and pools.get(lang)), None)
        reference = _scale(pools[primary], mode) if primary is not None else None
        fill_only: set[str] = set(route.fill)
        searched = list(route.languages)
        if route.fill and not route.languages:
            searched = list(route.fill)
        elif route.fill:
            # Fill partitions are searched only when the routed ones return fewer than k hits.
            have = 0
            for lang in route.languages:
                if mode == "dense":
                    have += len(dense_top(lang))
                else:
                    have += len(_fuse(pools[lang], _scale(pools[lang], mode), mode, fusion, weight, k))
            if have < k:
                searched += list(route.fill)
                if mode != "dense":
                    pools.update(
                        {lang: self._pool(lang, query, vector, k, filter, mode) for lang in route.fill}
                    )
        for lang in searched:
            if mode == "dense":
                scored = [(d, max(-1.0, min(1.0, c))) for d, c in dense_top(lang)]
            else:
                factor = min(1.0, share.get(lang, 1.0))
                pool = pools[lang]
                scale = reference if lang == UND and reference is not None else _scale(pool, mode)
                if lang == UND and fusion == "rrf" and mode == "hybrid" and primary is not None:
                    fill_only.add(lang)  # ranks have no common scale: und only fills up to k
                relevance = _fuse(pool, scale, mode, fusion, weight, k)
                scored = [(d, 2.0 * min(1.0, max(0.0, r)) * factor - 1.0) for d, r in relevance]
            merged.extend((score, lang, doc_id) for doc_id, score in scored)
        merged.sort(key=lambda t: (t[1] in fill_only, -t[0]))
        if min_relevance is not None:
            merged = [t for t in merged if (1.0 + t[0]) / 2.0 >= min_relevance - 1e-12]
        top = merged[:k]
        records = {r.id: r for _, r in self.backend.get([d for _, _, d in top])}
        top = [t for t in top if t[2] in records]  # deleted by another thread meanwhile
        hits = [Hit(d, records[d].text, records[d].metadata, score) for score, _, d in top]
        return RoutedResult(hits, route, [lang for _, lang, _ in top])

    def _pool(
        self,
        lang: str,
        query: str,
        vector: np.ndarray | None,
        k: int,
        filter: FilterSpec,
        mode: Mode,
    ) -> _Pool | None:
        """The candidate pool of one partition with raw BM25 (and cosine in hybrid mode).

        Filters apply before ranking, inside the backend.
        """
        pool = max(POOL_PER_K * k, POOL_MIN)
        lex_top = self.backend.lexical(lang, query, pool, filter)
        if mode == "lexical":
            if not lex_top:
                return None
            return _Pool([d for d, _ in lex_top], np.array([s for _, s in lex_top], dtype=np.float64), None)
        assert vector is not None
        dense = dict(self.backend.dense(lang, vector, pool, filter))
        bm25 = dict(lex_top)
        missing = [d for d in bm25 if d not in dense]
        unscored = [d for d in dense if d not in bm25]  # before ``dense`` gains the missing ids
        if missing:
            dense.update(self.backend.dense_scores(lang, vector, missing))
        if not dense:
            return None
        if unscored:
            bm25.update(self.backend.lexical_scores(lang, query, unscored))
        pool_ids = list(dense)
        lex = np.fromiter((bm25.get(d, 0.0) for d in pool_ids), np.float64, len(pool_ids))
        den = np.fromiter(dense.values(), np.float64, len(pool_ids))
        return _Pool(pool_ids, lex, den)

    # -- persistence ------------------------------------------------------------------------------
    def _options(self) -> dict[str, Any]:
        """Router settings kept with the data, so a load behaves as the saved router did."""
        return {
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
        }

    def save(self, folder: str | Path) -> Path:
        """All partitions in one folder with one manifest, swapped in atomically (local backend)."""
        save = getattr(self.backend, "save", None)
        if save is None:
            raise TypeError(
                f"the {self.backend.name} backend keeps its data itself: there is nothing to save to a folder"
            )
        with self._lock:
            return save(folder, self._options())

    @classmethod
    def load(
        cls,
        folder: str | Path | PartitionBackend,
        encoder: Encoder,
        *,
        detector: str | LanguageDetector | None = None,
    ) -> LanguageRouter:
        """Open saved data: a folder saved by :meth:`save`, or a backend that holds data already.

        Refuses data built with another model or dimension, naming both.
        """
        if not isinstance(encoder, Encoder):
            raise TypeError("encoder must provide encode(texts), dim, model_name and fingerprint")
        config = BackendConfig(encoder.dim, encoder.model_name, encoder.fingerprint)
        if isinstance(folder, (str, Path)):
            backend: PartitionBackend
            backend, options = LocalBackend.load(folder, config)
        else:
            backend, options = folder, folder.open(config) or {}
        known = {
            "detector", "fallback", "confidence", "max_languages", "language_key", "detect_chars",
            "languages", "mode", "fusion", "weight", "lexical",
        }  # fmt: skip
        kwargs = {key: value for key, value in options.items() if key in known}
        if detector is not None:
            kwargs["detector"] = detector
        return cls(encoder, backend=backend, **kwargs)


@dataclass(frozen=True)
class _Pool:
    ids: list[str]
    lex: np.ndarray  # raw BM25
    den: np.ndarray | None  # cosine (hybrid mode)


# (BM25 low, BM25 high, cosine low, cosine high) a pool is rescaled with.
_Scale = tuple[float, float, float, float]


def _scale(pool: _Pool | None, mode: str) -> _Scale | None:
    """The min-max range of a pool: its own, or (for und) the routed language's."""
    if pool is None:
        return None
    if mode == "lexical":
        return 0.0, float(pool.lex.max()), 0.0, 1.0
    assert pool.den is not None
    return float(pool.lex.min()), float(pool.lex.max()), float(pool.den.min()), float(pool.den.max())


def _fuse(
    pool: _Pool | None, scale: _Scale | None, mode: str, fusion: str, weight: float, k: int
) -> list[tuple[str, float]]:
    """Top-``k`` ``(id, relevance in [0, 1])`` of one pool, rescaled with ``scale``."""
    if pool is None or scale is None:
        return []
    lex_lo, lex_hi, den_lo, den_hi = scale
    if mode == "lexical":
        rel = pool.lex / (lex_hi or 1.0)
        top = np.argsort(-rel, kind="stable")[:k]
        return [(pool.ids[i], float(rel[i])) for i in top]
    assert pool.den is not None
    if fusion == "rrf":
        fused = _rrf(pool.den) + _rrf(pool.lex, positive_only=True)
        fused /= 2.0 / (_RRF_K + 1)
    elif fusion == "minmax":
        fused = weight * _minmax(pool.lex, lex_lo, lex_hi) + (1.0 - weight) * _minmax(
            pool.den, den_lo, den_hi
        )
    else:
        fused = weight * _minmax(pool.lex, lex_lo, lex_hi) + (1.0 - weight) * (1.0 + pool.den) / 2.0
    top = np.argsort(-fused, kind="stable")[:k]
    return [(pool.ids[i], float(fused[i])) for i in top]


def _with_prior(detected: Sequence[Candidate], sizes: dict[str, int], power: float) -> tuple[Candidate, ...]:
    """Detector probabilities weighted by each partition's share of the collection ** power.

    Why: a 1-3 word query is ambiguous between languages that share words; the documents it
    can find are most likely where most documents are. Restricted to languages present.
    """
    if power <= 0.0:
        return tuple(detected)
    total = float(sum(n for lang, n in sizes.items() if lang != UND)) or 1.0
    weighted = [(c.language, c.probability * (sizes.get(c.language, 0) / total) ** power) for c in detected]
    mass = sum(p for _, p in weighted) or 1.0
    return tuple(
        Candidate(lang, p / mass) for lang, p in sorted(weighted, key=lambda kv: -kv[1]) if p > 0
    ) or tuple(detected)


def _fewer_words(backend: PartitionBackend, query: str, candidates: Sequence[Candidate]) -> set[str]:
    """Candidate languages whose partition knows fewer of the query's words than another's.

    A word counts for a partition when one of its documents holds it (one of the word's tokens
    by that language's own analyser), or when that language's analyser drops it as a stopword.
    Only the first ``EVIDENCE_CANDIDATES`` candidates with probability at least
    ``EVIDENCE_MIN`` are asked (each may load its partition). The backend's ``word_counts``
    answers from its vocabulary; a backend without it answers through a one-hit lexical search
    per word (same answer, more calls).
    """
    words = query.split()
    asked = [c.language for c in candidates[:EVIDENCE_CANDIDATES] if c.probability >= EVIDENCE_MIN]
    if len(asked) < 2 or not words:
        return set()
    known: dict[str, int] = {}
    for lang in asked:
        held = _held(backend, lang, words)
        if held is None:
            return set()
        known[lang] = sum(held)
    best = max(known.values())
    out = {lang for lang, n in known.items() if n < best}
    tied = [lang for lang in asked if lang not in out]
    if len(tied) >= 2 and len(words) >= 2:
        # Tied on vocabulary: which partition holds the words together, in one document?
        together = {lang: _words_together(backend, lang, words) for lang in tied}
        top = max(together.values())
        out |= {lang for lang, n in together.items() if n < top}
    return out


def _held(backend: PartitionBackend, lang: str, words: Sequence[str]) -> list[bool] | None:
    """Whether the partition of ``lang`` holds each word (``None``: it cannot tell)."""
    counts_of = getattr(backend, "word_counts", None)
    if counts_of is not None:
        counts = counts_of(lang, words)
        return None if counts is None else [n is None or n > 0 for n in counts]
    from deposium_rag.lexical import analyzer_for

    analyzer = analyzer_for(lang)
    return [not analyzer.tokens(w) or bool(backend.lexical(lang, w, 1)) for w in words]


def _words_together(backend: PartitionBackend, lang: str, words: Sequence[str]) -> int:
    """Most of ``words`` one of the partition's best BM25 hits holds (stopwords count as held)."""
    from deposium_rag.lexical import analyzer_for

    analyzer = analyzer_for(lang)
    content = [w for w in words if analyzer.tokens(w)]
    hits = [d for d, _ in backend.lexical(lang, " ".join(content), EVIDENCE_HITS)] if content else []
    if not hits:
        return len(words) - len(content)
    held = dict.fromkeys(hits, len(words) - len(content))
    for w in content:
        for d, score in backend.lexical_scores(lang, w, hits).items():
            if score > 0:
                held[d] += 1
    return max(held.values())


def _renormalised(candidates: Sequence[Candidate]) -> tuple[Candidate, ...]:
    mass = sum(c.probability for c in candidates) or 1.0
    return tuple(Candidate(c.language, c.probability / mass) for c in candidates)


def _report(n: int, found: Sequence[DocumentLanguage]) -> IngestReport:
    by_language: dict[str, int] = {}
    outside: dict[str, int] = {}
    for d in found:
        by_language[d.language] = by_language.get(d.language, 0) + 1
        if d.status == "outside":
            outside[d.best] = outside.get(d.best, 0) + 1
    return IngestReport(
        documents=n,
        detected=len(found),
        by_language=by_language,
        outside=outside,
        no_text=sum(d.status == "no text" for d in found),
        low_confidence=sum(d.status == "low confidence" for d in found),
    )


def _language_share(route: Route) -> dict[str, float]:
    """Probability of each routed language relative to the top one (1.0 when not uncertain)."""
    if len([x for x in route.languages if x != UND]) < 2 or not route.candidates:
        return {}
    top = route.candidates[0].probability or 1.0
    return {c.language: min(1.0, c.probability / top) for c in route.candidates}


def _minmax(x: np.ndarray, lo: float | None = None, hi: float | None = None) -> np.ndarray:
    """Rescale to [0, 1] over ``[lo, hi]`` (default: x's own range), clipped; a constant
    range maps to 1 where positive, else 0."""
    lo = float(x.min()) if lo is None else lo
    hi = float(x.max()) if hi is None else hi
    if hi - lo < 1e-12:
        return (x > 0).astype(np.float64)
    return np.clip((x - lo) / (hi - lo), 0.0, 1.0)


def _rrf(x: np.ndarray, positive_only: bool = False) -> np.ndarray:
    """Reciprocal-rank contribution 1 / (60 + rank) of each item (rank 1 = best)."""
    order = np.argsort(-x, kind="stable")
    ranks = np.empty(len(x), dtype=np.float64)
    ranks[order] = np.arange(1, len(x) + 1)
    out = 1.0 / (_RRF_K + ranks)
    if positive_only:
        out[x <= 0] = 0.0
    return out
