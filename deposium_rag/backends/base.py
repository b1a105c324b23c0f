"""The seam between routing and storage: what a partition backend does for the router.

Why a seam: routing (which partitions a query goes to), fusion (how dense and BM25 scores
become one relevance) and validation live once in :class:`~deposium_rag.LanguageRouter`;
*where* the partitions live is a backend's job. The local backend keeps FAISS + BM25 in this
process; the Milvus backend keeps one collection on milvus-lite or a cluster. Both answer
the same questions, so every behaviour (modes, filters, scores, upsert moving a language)
is computed the same way whichever holds the data.

Conventions every backend keeps:

* ``language`` is an ISO 639-1 code or ``"und"``; every read and search names its language,
  so a backend that shares physical buckets between languages must filter on it.
* vectors arrive float32 and L2-normalised; dense scores are cosine in [-1, 1].
* lexical scores are raw BM25 (>= 0, higher is better) over the language's own analyser
  (:func:`deposium_rag.lexical.analyzer_for`) with the language's own statistics.
* filters are :data:`~deposium_rag.filters.FilterSpec` values, applied *before* ranking:
  ``k`` hits come back whenever ``k`` documents of that language match.
* ``upsert`` is all or nothing and replaces by id across languages (a document whose
  language changed disappears from its old partition in the same call).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

import numpy as np

from deposium_rag.filters import FilterSpec
from deposium_rag.store import Record

__all__ = ["BackendConfig", "Document", "PartitionBackend"]


@dataclass(frozen=True)
class Document:
    """One document ready to store: language decided, metadata JSON-safe, vector unit-length."""

    id: str
    text: str
    metadata: dict[str, Any]
    language: str
    vector: np.ndarray = field(repr=False)


@dataclass(frozen=True)
class BackendConfig:
    """What a backend must know about the model and router to store and check data."""

    dim: int
    model_name: str
    model_fingerprint: str | None
    lexical: bool = True
    options: dict[str, Any] = field(default_factory=dict)  # router settings kept with the data


@runtime_checkable
class PartitionBackend(Protocol):
    """Where language partitions live. See the module docstring for the conventions."""

    name: str

    def open(self, config: BackendConfig) -> dict[str, Any] | None:
        """Bind to ``config``; refuse data written by another model (naming both).

        Returns router options stored with existing data (or ``None`` for a new store).
        """
        ...

    def counts(self) -> dict[str, int]:
        """Live documents per language (languages with none are left out)."""
        ...

    def language_of(self, ids: Sequence[str]) -> dict[str, str]:
        """Language of each known id (unknown ids left out)."""
        ...

    def upsert(self, docs: Sequence[Document]) -> None:
        """Insert or replace by id, all or nothing; a changed language moves the document."""
        ...

    def delete(self, ids: Iterable[str]) -> int:
        """Remove by id; unknown ids are ignored. Returns how many were removed."""
        ...

    def get(self, ids: Sequence[str]) -> list[tuple[str, Record]]:
        """``(language, record)`` in the order asked; unknown ids skipped."""
        ...

    def ids(self, language: str, filter: FilterSpec = None) -> list[str]:
        """Ids of that language's documents matching ``filter`` (all of them for ``None``)."""
        ...

    def dense(
        self, language: str, vector: np.ndarray, k: int, filter: FilterSpec = None
    ) -> list[tuple[str, float]]:
        """Top-``k`` ``(id, cosine)`` of one language among documents matching ``filter``."""
        ...

    def dense_scores(self, language: str, vector: np.ndarray, ids: Sequence[str]) -> dict[str, float]:
        """Cosine of ``vector`` with each given id of that language (unknown ids left out)."""
        ...

    def lexical(
        self, language: str, query: str, k: int, filter: FilterSpec = None
    ) -> list[tuple[str, float]]:
        """Top-``k`` ``(id, BM25)`` with BM25 > 0 of one language among documents matching ``filter``."""
        ...

    def lexical_scores(self, language: str, query: str, ids: Sequence[str]) -> dict[str, float]:
        """BM25 of ``query`` for each given id of that language (0.0 where no term matches)."""
        ...

    def clear(self) -> None:
        """Remove every document."""
        ...

    def close(self) -> None:
        """Release connections and files (the data stays)."""
        ...
