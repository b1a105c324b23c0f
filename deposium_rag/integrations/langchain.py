"""LangChain faces. Translation only: every behaviour lives in the framework-free core."""

from __future__ import annotations

import asyncio
from typing import Any, Literal

from deposium_rag.errors import missing_extra

try:
    from langchain_core.callbacks import (
        AsyncCallbackManagerForRetrieverRun,
        CallbackManagerForRetrieverRun,
    )
    from langchain_core.documents import Document
    from langchain_core.embeddings import Embeddings
    from langchain_core.indexing.base import DeleteResponse, DocumentIndex, UpsertResponse
    from langchain_core.vectorstores import VectorStore
    from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, model_validator
except ImportError as exc:  # pragma: no cover - exercised only without the extra
    raise missing_extra("langchain-core", "langchain") from exc

import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path

import numpy as np

from deposium_rag._validation import check_text, check_texts
from deposium_rag.filters import RowFilter
from deposium_rag.models import StaticEmbedder
from deposium_rag.retrievers.router import CONFIDENCE_KEY, LanguageRouter, RoutedResult
from deposium_rag.store import FaissStore, Hit, IndexKind, relevance

__all__ = ["FAISSVectorStore", "LanguageRoutingRetriever", "Model2VecEmbeddings"]

LangChainFilter = Mapping[str, Any] | Callable[[Document], bool] | None


class Model2VecEmbeddings(BaseModel, Embeddings):
    """LangChain ``Embeddings`` over any Model2Vec model (hub id, local folder or ``"bundled"``).

    ``model=None`` uses ``$DEPOSIUM_RAG_MODEL`` or the default qwen25 model. Vectors are
    L2-normalised by default so inner product equals cosine.
    """

    model_config = ConfigDict(protected_namespaces=(), arbitrary_types_allowed=True)

    model: str | None = Field(default=None, description="hub id, local folder or 'bundled'")
    normalize: bool = True
    batch_size: int = Field(default=1024, gt=0)
    max_length: int | None = Field(
        default=None, gt=0, description="truncate to this many tokens; None averages all tokens"
    )
    model_name: str = Field(default="", description="resolved name of the loaded model")
    dimension: int = Field(default=0, description="vector dimension of the loaded model")

    _embedder: StaticEmbedder = PrivateAttr()

    @model_validator(mode="after")
    def _load(self) -> Model2VecEmbeddings:
        self._embedder = StaticEmbedder(
            self.model or self.model_name or None,
            normalize=self.normalize,
            max_length=self.max_length,
            batch_size=self.batch_size,
        )
        self.model_name = self._embedder.model_name
        self.dimension = self._embedder.dim
        return self

    @property
    def embedder(self) -> StaticEmbedder:
        """The core embedder (shared with the store and the router)."""
        return self._embedder

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        """Embed texts; ``[]`` gives ``[]``; a non-str item raises ``TypeError`` naming its index."""
        return self._embedder.encode(texts).tolist()

    def embed_query(self, text: str) -> list[float]:
        """Embed one query text."""
        return self._embedder.encode_one(check_text(text)).tolist()

    async def aembed_documents(self, texts: list[str]) -> list[list[float]]:
        """Async twin: encodes in a worker thread so the event loop stays free."""
        return await asyncio.to_thread(self.embed_documents, texts)

    async def aembed_query(self, text: str) -> list[float]:
        return await asyncio.to_thread(self.embed_query, text)

    def __repr__(self) -> str:
        return f"Model2VecEmbeddings(model_name={self.model_name!r}, dimension={self.dimension})"

    __str__ = __repr__

    def __getstate__(self) -> Any:  # pragma: no cover - keep pickling out of reach
        raise TypeError("Model2VecEmbeddings is not picklable; rebuild it from its model name")


# -- shared translation helpers --------------------------------------------------------------------
def embed_texts(embedding: Embeddings, texts: Sequence[str]) -> np.ndarray:
    """Embed with the core directly when we can (no list-of-floats detour), else via LangChain."""
    if isinstance(embedding, Model2VecEmbeddings):
        return embedding.embedder.encode(texts)
    if not texts:
        return np.zeros((0, 0), dtype=np.float32)
    return np.asarray(embedding.embed_documents(list(texts)), dtype=np.float32)


def embed_query(embedding: Embeddings, text: str) -> np.ndarray:
    check_text(text, "query")
    if isinstance(embedding, Model2VecEmbeddings):
        return embedding.embedder.encode_one(text)
    return np.asarray(embedding.embed_query(text), dtype=np.float32)


def model_identity(embedding: Embeddings) -> tuple[str, str | None, int | None]:
    """(name, weights fingerprint, dimension) of an embedding, as far as it can be known."""
    if isinstance(embedding, Model2VecEmbeddings):
        return embedding.model_name, embedding.embedder.fingerprint, embedding.dimension
    name = getattr(embedding, "model", None) or getattr(embedding, "model_name", None)
    return str(name or type(embedding).__name__), None, None


def to_filter(filter: LangChainFilter) -> Any:
    """LangChain filters: a dict in the core language, or ``fn(Document) -> bool``."""
    if filter is None or isinstance(filter, Mapping):
        return filter
    if callable(filter):
        user = filter
        return RowFilter(lambda i, t, m: user(Document(page_content=t, metadata=dict(m), id=i)))
    raise TypeError(f"filter must be a dict or a callable taking a Document, got {type(filter).__name__}")


def to_document(hit: Hit) -> Document:
    return Document(page_content=hit.text, metadata=hit.metadata, id=hit.id)


class FAISSVectorStore(VectorStore):
    """LangChain ``VectorStore`` over the deposium-rag :class:`~deposium_rag.store.FaissStore`.

    Scores: ``similarity_search_with_score`` returns cosine similarity in [-1, 1] (higher is
    closer); ``similarity_search_with_relevance_scores`` returns ``(1 + cos) / 2`` in [0, 1].
    Filters (a dict in the core filter language, or ``fn(Document) -> bool``) are applied
    before ranking. ``add_*`` with an existing id replaces that document.
    """

    def __init__(
        self,
        embedding: Embeddings,
        *,
        index: IndexKind = "flat",
        store: FaissStore | None = None,
        **index_options: Any,
    ) -> None:
        if not isinstance(embedding, Embeddings):
            raise TypeError(f"embedding must be a LangChain Embeddings, got {type(embedding).__name__}")
        self.embedding = embedding
        name, fingerprint, dim = model_identity(embedding)
        self.store = store or FaissStore(
            dim, index=index, model_name=name, model_fingerprint=fingerprint, **index_options
        )

    @property
    def embeddings(self) -> Embeddings:
        return self.embedding

    def _select_relevance_score_fn(self) -> Callable[[float], float]:
        return relevance

    # -- writes -----------------------------------------------------------------------------------
    def add_texts(
        self,
        texts: Iterable[str],
        metadatas: list[dict] | None = None,
        *,
        ids: list[str] | None = None,
        **kwargs: Any,
    ) -> list[str]:
        """Embed and upsert texts; returns their ids. Nothing is stored if any input is bad."""
        items = check_texts(texts)
        if ids is not None:
            ids = [i if i else _new_id() for i in ids]
        vectors = embed_texts(self.embedding, items)
        return self.store.add(vectors, items, metadatas, ids)

    def delete(self, ids: list[str] | None = None, **kwargs: Any) -> bool | None:
        """Delete by ids (unknown ids are ignored), or everything matching ``filter=``."""
        if ids is None and kwargs.get("filter") is not None:
            self.store.delete_where(to_filter(kwargs["filter"]))
            return True
        if ids is None:
            raise ValueError("delete needs ids (or filter=...); to remove everything call store.clear()")
        self.store.delete(ids)
        return True

    def get_by_ids(self, ids: Sequence[str], /) -> list[Document]:
        return [Document(page_content=r.text, metadata=r.metadata, id=r.id) for r in self.store.get(ids)]

    # -- search -----------------------------------------------------------------------------------
    def similarity_search_with_score_by_vector(
        self, embedding: list[float], k: int = 4, filter: LangChainFilter = None, **kwargs: Any
    ) -> list[tuple[Document, float]]:
        hits = self.store.search(embedding, k, to_filter(filter))
        return [(to_document(h), h.score) for h in hits]

    def similarity_search_with_score(
        self, query: str, k: int = 4, filter: LangChainFilter = None, **kwargs: Any
    ) -> list[tuple[Document, float]]:
        """Top-k documents with cosine similarity in [-1, 1]."""
        vector = embed_query(self.embedding, query)
        return self.similarity_search_with_score_by_vector(vector, k, filter, **kwargs)  # type: ignore[arg-type]

    def similarity_search_by_vector(
        self, embedding: list[float], k: int = 4, filter: LangChainFilter = None, **kwargs: Any
    ) -> list[Document]:
        return [d for d, _ in self.similarity_search_with_score_by_vector(embedding, k, filter, **kwargs)]

    def similarity_search(
        self, query: str, k: int = 4, filter: LangChainFilter = None, **kwargs: Any
    ) -> list[Document]:
        return [d for d, _ in self.similarity_search_with_score(query, k, filter, **kwargs)]

    def max_marginal_relevance_search_by_vector(
        self,
        embedding: list[float],
        k: int = 4,
        fetch_k: int = 20,
        lambda_mult: float = 0.5,
        filter: LangChainFilter = None,
        **kwargs: Any,
    ) -> list[Document]:
        hits = self.store.mmr_search(embedding, k, fetch_k, lambda_mult, to_filter(filter))
        return [to_document(h) for h in hits]

    def max_marginal_relevance_search(
        self,
        query: str,
        k: int = 4,
        fetch_k: int = 20,
        lambda_mult: float = 0.5,
        filter: LangChainFilter = None,
        **kwargs: Any,
    ) -> list[Document]:
        vector = embed_query(self.embedding, query)
        return self.max_marginal_relevance_search_by_vector(
            vector,  # type: ignore[arg-type]
            k,
            fetch_k,
            lambda_mult,
            filter,
            **kwargs,
        )

    # -- construction and persistence -------------------------------------------------------------
    @classmethod
    def from_texts(
        cls,
        texts: list[str],
        embedding: Embeddings,
        metadatas: list[dict] | None = None,
        *,
        ids: list[str] | None = None,
        **kwargs: Any,
    ) -> FAISSVectorStore:
        store = cls(embedding, **kwargs)
        store.add_texts(texts, metadatas, ids=ids)
        return store

    def save(self, folder: str | os.PathLike[str]) -> Path:
        """Save atomically: FAISS index + JSON docstore + manifest. No pickle anywhere."""
        return self.store.save(folder)

    @classmethod
    def load(cls, folder: str | os.PathLike[str], embedding: Embeddings) -> FAISSVectorStore:
        """Load a saved store; refuses one built with another model or dimension."""
        name, fingerprint, dim = model_identity(embedding)
        if dim is None:
            dim = len(embedding.embed_query("dimension probe"))
        store = FaissStore.load(
            folder, expected_dim=dim, expected_fingerprint=fingerprint, expected_model=name
        )
        return cls(embedding, store=store)

    def __len__(self) -> int:
        return len(self.store)


def _new_id() -> str:
    import uuid

    return uuid.uuid4().hex


# -- language routing retriever --------------------------------------------------------------------
class EmbeddingsEncoder:
    """Lets any LangChain ``Embeddings`` serve as the router's encoder."""

    def __init__(self, embedding: Embeddings) -> None:
        self.embedding = embedding
        self.model_name, self.fingerprint, dim = model_identity(embedding)
        self._dim = dim

    @property
    def dim(self) -> int:
        if self._dim is None:
            self._dim = len(self.embedding.embed_query("dimension probe"))
        return self._dim

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        vectors = embed_texts(self.embedding, texts)
        return vectors.reshape(len(texts), self.dim) if len(texts) == 0 else vectors


def as_encoder(embedding: Embeddings) -> Any:
    """The core encoder behind an embedding: our own embedder directly, else an adapter."""
    return embedding.embedder if isinstance(embedding, Model2VecEmbeddings) else EmbeddingsEncoder(embedding)


# Reserved metadata key: set on documents added without a language, so that ``get`` can give
# back exactly the metadata the caller stored (the router adds the detected language to it).
DETECTED_KEY = "_language_detected"


def add_to_router(
    router: LanguageRouter,
    texts: Sequence[str],
    metadatas: Sequence[Mapping[str, Any] | None] | None,
    ids: Sequence[str] | None,
) -> list[str]:
    """``router.add``, marking the documents whose language the router will detect."""
    key = router.language_key
    marked = []
    for md in metadatas if metadatas is not None else [None] * len(texts):
        if md is None or isinstance(md, Mapping):  # anything else: the router's typed error
            md = dict(md or {})
            if md.get(key) is None:
                md[DETECTED_KEY] = True
        marked.append(md)
    return router.add(list(texts), marked, None if ids is None else list(ids))


def stored_metadata(metadata: Mapping[str, Any], language_key: str) -> dict[str, Any]:
    """Metadata as the caller stored it: without the detected language, its confidence and the
    marker."""
    md = dict(metadata)
    if md.pop(DETECTED_KEY, False):
        md.pop(language_key, None)
        md.pop(CONFIDENCE_KEY, None)
    return md


def routed_documents(result: RoutedResult) -> list[Document]:
    """Documents carrying ``language``, ``score`` (cosine) and ``relevance`` in metadata."""
    docs = []
    for hit, lang in zip(result.hits, result.languages):
        md = {k: v for k, v in hit.metadata.items() if k != DETECTED_KEY}
        md = {**md, "language": lang, "score": hit.score, "relevance": relevance(hit.score)}
        docs.append(Document(page_content=hit.text, metadata=md, id=hit.id))
    return docs


class LanguageRoutingRetriever(DocumentIndex):
    """Retriever that searches only the partition of the query's language.

    ``invoke(query, k=..., language=..., filter=..., mode=...)`` overrides the defaults per
    call (``ainvoke`` takes the same options); ``mode`` is ``"dense"``, ``"lexical"`` or
    ``"hybrid"`` (the router's default). Build one with :meth:`from_texts` /
    :meth:`from_documents`, or around an existing :class:`~deposium_rag.retrievers.LanguageRouter`.

    It is a LangChain ``DocumentIndex`` (``upsert`` / ``delete`` / ``get``, plus
    ``get_by_ids``), so ``langchain_core.indexing.index(docs, record_manager, retriever, ...)``
    keeps it in step with a source, incremental or full cleanup included.
    """

    model_config = ConfigDict(arbitrary_types_allowed=True)

    router: LanguageRouter
    k: int = Field(default=4, ge=0)
    language: str | None = None
    filter: dict[str, Any] | None = None
    mode: Literal["dense", "lexical", "hybrid"] | None = None  # None: the router's default
    fusion: Literal["convex", "minmax", "rrf"] | None = None
    weight: float | None = Field(default=None, ge=0.0, le=1.0)
    min_relevance: float | None = Field(default=None, ge=0.0, le=1.0)  # drop hits below it

    def _search(
        self,
        query: str,
        k: int | None = None,
        language: str | None = None,
        filter: LangChainFilter = None,
        mode: str | None = None,
        fusion: str | None = None,
        weight: float | None = None,
        min_relevance: float | None = None,
    ) -> list[Document]:
        """The one search both ``invoke`` and ``ainvoke`` run: per-call options over defaults."""
        result = self.router.search(
            query,
            self.k if k is None else k,
            language=language or self.language,
            filter=to_filter(filter if filter is not None else self.filter),
            mode=mode or self.mode,  # type: ignore[arg-type]
            fusion=fusion or self.fusion,  # type: ignore[arg-type]
            weight=self.weight if weight is None else weight,
            min_relevance=self.min_relevance if min_relevance is None else min_relevance,
        )
        return routed_documents(result)

    def _get_relevant_documents(
        self,
        query: str,
        *,
        run_manager: CallbackManagerForRetrieverRun,
        k: int | None = None,
        language: str | None = None,
        filter: LangChainFilter = None,
        mode: str | None = None,
        fusion: str | None = None,
        weight: float | None = None,
        min_relevance: float | None = None,
        **kwargs: Any,
    ) -> list[Document]:
        return self._search(query, k, language, filter, mode, fusion, weight, min_relevance)

    async def _aget_relevant_documents(
        self,
        query: str,
        *,
        run_manager: AsyncCallbackManagerForRetrieverRun,
        k: int | None = None,
        language: str | None = None,
        filter: LangChainFilter = None,
        mode: str | None = None,
        fusion: str | None = None,
        weight: float | None = None,
        min_relevance: float | None = None,
        **kwargs: Any,
    ) -> list[Document]:
        """Same options as ``invoke``; the search runs in a worker thread (the loop stays free)."""
        return await asyncio.to_thread(
            self._search, query, k, language, filter, mode, fusion, weight, min_relevance
        )

    @classmethod
    def from_texts(
        cls,
        texts: Sequence[str],
        embedding: Embeddings,
        metadatas: Sequence[dict[str, Any]] | None = None,
        *,
        ids: Sequence[str] | None = None,
        k: int = 4,
        **router_options: Any,
    ) -> LanguageRoutingRetriever:
        """Detect each text's language, embed, and build the partitions."""
        router = LanguageRouter(as_encoder(embedding), **router_options)
        add_to_router(router, texts, metadatas, ids)
        return cls(router=router, k=k)

    @classmethod
    def from_documents(
        cls, documents: Sequence[Document], embedding: Embeddings, *, k: int = 4, **router_options: Any
    ) -> LanguageRoutingRetriever:
        ids = [d.id for d in documents]
        return cls.from_texts(
            [d.page_content for d in documents],
            embedding,
            [d.metadata for d in documents],
            ids=ids if all(ids) else None,
            k=k,
            **router_options,
        )

    def add_documents(self, documents: Sequence[Document], **kwargs: Any) -> list[str]:
        """Upsert documents (by ``Document.id``; a new id when it has none); returns their ids."""
        ids = kwargs.get("ids") or [d.id or _new_id() for d in documents]
        return add_to_router(
            self.router, [d.page_content for d in documents], [d.metadata for d in documents], ids
        )

    # -- DocumentIndex ----------------------------------------------------------------------------
    def upsert(self, items: Sequence[Document], /, **kwargs: Any) -> UpsertResponse:
        """Add or replace documents by id (all or nothing: a bad item stores none)."""
        ids = self.add_documents(items)
        return UpsertResponse(succeeded=list(dict.fromkeys(ids)), failed=[])

    def delete(self, ids: list[str] | None = None, **kwargs: Any) -> DeleteResponse:
        """Delete by ids (unknown ids are ignored), or everything matching ``filter=``."""
        if ids is None and kwargs.get("filter") is not None:
            ids = self.router.ids(to_filter(kwargs["filter"]))
        if ids is None:
            raise ValueError("delete needs ids (or filter=...); to remove everything call router.clear()")
        if isinstance(ids, str):
            raise TypeError("ids must be a list of str, got a single str; wrap it in a list")
        ids = list(ids)
        present = [r.id for r in self.router.get(ids)]
        removed = self.router.delete(ids)
        return DeleteResponse(num_deleted=removed, succeeded=present, num_failed=0, failed=[])

    def get(self, ids: Sequence[str], /, **kwargs: Any) -> list[Document]:
        """Documents by id, in the order asked; unknown ids are skipped."""
        key = self.router.language_key
        return [
            Document(page_content=r.text, metadata=stored_metadata(r.metadata, key), id=r.id)
            for r in self.router.get(ids)
        ]

    def get_by_ids(self, ids: Sequence[str], /) -> list[Document]:
        """Same as :meth:`get` (the name LangChain vector stores use)."""
        return self.get(ids)

    def save(self, folder: str | os.PathLike[str]) -> Path:
        return self.router.save(folder)

    @classmethod
    def load(
        cls, folder: str | os.PathLike[str], embedding: Embeddings, *, k: int = 4
    ) -> LanguageRoutingRetriever:
        return cls(router=LanguageRouter.load(folder, as_encoder(embedding)), k=k)
