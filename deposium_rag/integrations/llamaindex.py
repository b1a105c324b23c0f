"""LlamaIndex faces. Translation only: every behaviour lives in the framework-free core."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from contextvars import ContextVar
from typing import Any

from deposium_rag.errors import missing_extra

try:
    from llama_index.core.base.base_retriever import QueryType
    from llama_index.core.base.embeddings.base import BaseEmbedding, Embedding
    from llama_index.core.callbacks import CallbackManager
    from llama_index.core.retrievers import BaseRetriever
    from llama_index.core.schema import (
        BaseNode,
        Document,
        MetadataMode,
        NodeRelationship,
        NodeWithScore,
        QueryBundle,
        RelatedNodeInfo,
        TextNode,
    )
    from llama_index.core.vector_stores.types import (
        BasePydanticVectorStore,
        FilterCondition,
        FilterOperator,
        MetadataFilter,
        MetadataFilters,
        VectorStoreQuery,
        VectorStoreQueryMode,
        VectorStoreQueryResult,
    )
    from llama_index.core.vector_stores.utils import metadata_dict_to_node, node_to_metadata_dict
    from pydantic import Field, PrivateAttr
except ImportError as exc:  # pragma: no cover - exercised only without the extra
    raise missing_extra("llama-index-core", "llamaindex") from exc

import os
from pathlib import Path

import numpy as np

from deposium_rag.metadata import to_json_metadata
from deposium_rag.models import StaticEmbedder
from deposium_rag.retrievers.router import CONFIDENCE_KEY, LanguageRouter
from deposium_rag.store import FaissStore, IndexKind

__all__ = ["FAISSVectorStore", "LanguageRoutingRetriever", "Model2VecEmbedding", "to_core_filter"]

DEFAULT_STORE_NAME = "vector_store"


class Model2VecEmbedding(BaseEmbedding):
    """LlamaIndex ``BaseEmbedding`` over any Model2Vec model (hub id, local folder or ``"bundled"``).

    Batch methods are overridden: the base class would embed one text at a time, while a
    static model encodes a thousand texts in about the time of one call overhead.
    """

    model_name: str = Field(
        default="", description="hub id, local folder or 'bundled'; '' means the default model"
    )
    embed_batch_size: int = Field(default=1024, gt=0, le=2048)
    normalize: bool = True
    max_length: int | None = Field(default=None, gt=0)

    _embedder: StaticEmbedder = PrivateAttr()

    def __init__(self, model_name: str | None = None, **kwargs: Any) -> None:
        super().__init__(model_name=model_name or "", **kwargs)
        self._embedder = StaticEmbedder(
            self.model_name or None,
            normalize=self.normalize,
            max_length=self.max_length,
            batch_size=self.embed_batch_size,
        )
        self.model_name = self._embedder.model_name

    @classmethod
    def class_name(cls) -> str:
        return "Model2VecEmbedding"

    @property
    def embedder(self) -> StaticEmbedder:
        """The core embedder (shared with the store and the router)."""
        return self._embedder

    @property
    def dimension(self) -> int:
        return self._embedder.dim

    def _get_query_embedding(self, query: str) -> Embedding:
        return self._embedder.encode_one(query).tolist()

    def _get_text_embedding(self, text: str) -> Embedding:
        return self._embedder.encode_one(text).tolist()

    def _get_text_embeddings(self, texts: list[str]) -> list[Embedding]:
        return self._embedder.encode(texts).tolist()

    async def _aget_query_embedding(self, query: str) -> Embedding:
        return await asyncio.to_thread(self._get_query_embedding, query)

    async def _aget_text_embedding(self, text: str) -> Embedding:
        return await asyncio.to_thread(self._get_text_embedding, text)

    async def _aget_text_embeddings(self, texts: list[str]) -> list[Embedding]:
        return await asyncio.to_thread(self._get_text_embeddings, texts)


# -- vector store ----------------------------------------------------------------------------------
_OPERATORS = {
    FilterOperator.EQ: "$eq",
    FilterOperator.NE: "$ne",
    FilterOperator.GT: "$gt",
    FilterOperator.GTE: "$gte",
    FilterOperator.LT: "$lt",
    FilterOperator.LTE: "$lte",
    FilterOperator.IN: "$in",
    FilterOperator.NIN: "$nin",
    FilterOperator.ANY: "$any",
    FilterOperator.ALL: "$all",
    FilterOperator.TEXT_MATCH: "$text_match",
    FilterOperator.TEXT_MATCH_INSENSITIVE: "$text_match_insensitive",
    FilterOperator.CONTAINS: "$contains",
    FilterOperator.IS_EMPTY: "$is_empty",
}


def _one(f: MetadataFilter) -> dict[str, Any]:
    op = _OPERATORS.get(FilterOperator(f.operator))
    if op is None:  # pragma: no cover - every LlamaIndex operator is mapped
        raise ValueError(f"unsupported LlamaIndex filter operator {f.operator!r}")
    if op == "$is_empty":
        return {f.key: {"$is_empty": True}}
    cond = {f.key: {op: f.value}}
    if op in ("$ne", "$nin"):
        # LlamaIndex counts a missing key as "not equal"; keep its meaning.
        return {"$or": [cond, {f.key: {"$exists": False}}]}
    return cond


def to_core_filter(filters: MetadataFilters | None) -> dict[str, Any] | None:
    """Translate LlamaIndex ``MetadataFilters`` (nested, AND/OR/NOT) to the core filter language."""
    if filters is None or not filters.filters:
        return None
    parts = [to_core_filter(f) if isinstance(f, MetadataFilters) else _one(f) for f in filters.filters]
    parts = [p for p in parts if p is not None]
    if not parts:
        return None
    condition = FilterCondition(filters.condition or FilterCondition.AND)
    if condition == FilterCondition.OR:
        return {"$or": parts}
    if condition == FilterCondition.NOT:
        return {"$not": {"$or": parts}}  # LlamaIndex: none of the filters match
    return {"$and": parts}


def _json_node(node: BaseNode, position: int) -> BaseNode:
    """The node with its metadata converted by the core rules (dates, numpy numbers, sets),
    including the copies of its source's metadata that its relationships carry."""
    where = f"nodes[{position}]"
    converted = to_json_metadata(node.metadata, position, path=f"{where}.metadata")
    relationships: dict[Any, Any] = {}
    for rel, info in node.relationships.items():
        infos = info if isinstance(info, list) else [info]
        name = rel.name if isinstance(rel, NodeRelationship) else str(rel)
        fixed = [
            i.model_copy(
                update={
                    "metadata": to_json_metadata(
                        i.metadata, position, path=f"{where}.relationships[{name}].metadata"
                    )
                }
            )
            for i in infos
        ]
        relationships[rel] = fixed if isinstance(info, list) else fixed[0]
    return node.model_copy(update={"metadata": converted, "relationships": relationships})


def _persist_folder(persist_path: str | os.PathLike[str]) -> Path:
    """StorageContext hands us ``<dir>/<namespace>__vector_store.json``; we keep a folder."""
    path = Path(persist_path)
    return path.with_suffix("") if path.suffix == ".json" else path


class FAISSVectorStore(BasePydanticVectorStore):
    """LlamaIndex vector store over the deposium-rag :class:`~deposium_rag.store.FaissStore`.

    Stores text and node JSON (``stores_text=True``) so ``VectorStoreIndex.from_vector_store``
    works without a docstore. Similarities are cosine in [-1, 1]; metadata filters (every
    LlamaIndex operator, nested AND/OR/NOT) apply before ranking; MMR mode is supported.
    """

    stores_text: bool = True
    flat_metadata: bool = False

    _store: FaissStore = PrivateAttr()

    def __init__(
        self,
        store: FaissStore | None = None,
        *,
        dim: int | None = None,
        index: IndexKind = "flat",
        embed_model: Model2VecEmbedding | None = None,
        **index_options: Any,
    ) -> None:
        super().__init__(stores_text=True)
        if store is None:
            name = fingerprint = None
            if embed_model is not None:
                name, fingerprint = embed_model.model_name, embed_model.embedder.fingerprint
                dim = dim or embed_model.dimension
            store = FaissStore(
                dim, index=index, model_name=name, model_fingerprint=fingerprint, **index_options
            )
        self._store = store

    @classmethod
    def class_name(cls) -> str:
        return "DeposiumFAISSVectorStore"

    @property
    def client(self) -> FaissStore:
        return self._store

    # -- writes -----------------------------------------------------------------------------------
    def add(self, nodes: Sequence[BaseNode], **add_kwargs: Any) -> list[str]:
        """Upsert nodes (they must carry embeddings); all or nothing."""
        if not nodes:
            return []
        vectors = []
        for i, node in enumerate(nodes):
            if node.embedding is None:
                raise ValueError(
                    f"nodes[{i}] ({node.node_id}) has no embedding; embed it first "
                    "(VectorStoreIndex does this with its embed_model)"
                )
            vectors.append(node.embedding)
        texts = [n.get_content(metadata_mode=MetadataMode.NONE) for n in nodes]
        metadatas = [
            node_to_metadata_dict(_json_node(n, i), remove_text=True, flat_metadata=False)
            for i, n in enumerate(nodes)
        ]
        return self._store.add(
            np.asarray(vectors, dtype=np.float32), texts, metadatas, [n.node_id for n in nodes]
        )

    def delete(self, ref_doc_id: str, **delete_kwargs: Any) -> None:
        """Delete every node of a source document."""
        self._store.delete_where({"ref_doc_id": ref_doc_id})

    def delete_nodes(
        self,
        node_ids: list[str] | None = None,
        filters: MetadataFilters | None = None,
        **delete_kwargs: Any,
    ) -> None:
        """Delete nodes by id and/or filter (both given: nodes that satisfy both)."""
        if node_ids is None and filters is None:
            return
        self._store.delete(self._select(node_ids, filters))

    def clear(self) -> None:
        self._store.clear()

    # -- reads ------------------------------------------------------------------------------------
    def _select(self, node_ids: list[str] | None, filters: MetadataFilters | None) -> list[str]:
        if filters is None:
            return list(node_ids or [])
        matching = self._store.matching_ids(to_core_filter(filters))
        if node_ids is None:
            return matching
        wanted = set(node_ids)
        return [i for i in matching if i in wanted]

    def get_nodes(
        self, node_ids: list[str] | None = None, filters: MetadataFilters | None = None, **kwargs: Any
    ) -> list[BaseNode]:
        ids = self._store.ids() if node_ids is None and filters is None else self._select(node_ids, filters)
        out = []
        for rec in self._store.get(ids):
            node = metadata_dict_to_node(rec.metadata, text=rec.text)
            node.embedding = rec.vector.tolist()
            out.append(node)
        return out

    def query(self, query: VectorStoreQuery, **kwargs: Any) -> VectorStoreQueryResult:
        """Dense (default) or MMR query with filters, ``doc_ids`` and ``node_ids`` applied first."""
        if query.query_embedding is None:
            raise ValueError("VectorStoreQuery.query_embedding is required (this store searches vectors)")
        core = to_core_filter(query.filters)
        if query.doc_ids:  # LlamaIndex passes [] for 'no restriction'
            by_doc = {"ref_doc_id": {"$in": list(query.doc_ids)}}
            core = by_doc if core is None else {"$and": [core, by_doc]}
        k = query.similarity_top_k
        mode = VectorStoreQueryMode(query.mode)
        if mode == VectorStoreQueryMode.MMR:
            lam = query.mmr_threshold if query.mmr_threshold is not None else 0.5
            fetch_k = int(kwargs.get("mmr_prefetch_k") or max(20, 4 * k))
            hits = self._store.mmr_search(
                query.query_embedding, k, fetch_k, lam, core, ids=query.node_ids or None
            )
        elif mode == VectorStoreQueryMode.DEFAULT:
            hits = self._store.search(query.query_embedding, k, core, ids=query.node_ids or None)
        else:
            raise ValueError(f"query mode {mode.value!r} is not supported here; use 'default' or 'mmr'")
        nodes = [metadata_dict_to_node(h.metadata, text=h.text) for h in hits]
        return VectorStoreQueryResult(
            nodes=nodes, similarities=[h.score for h in hits], ids=[h.id for h in hits]
        )

    # -- persistence ------------------------------------------------------------------------------
    def persist(self, persist_path: str = DEFAULT_STORE_NAME, fs: Any | None = None) -> None:
        """Save atomically (FAISS index + JSON + manifest; no pickle). Local paths only."""
        if fs is not None and getattr(fs, "protocol", "file") not in ("file", ("file", "local")):
            raise NotImplementedError("FAISSVectorStore persists to the local filesystem only")
        self._store.save(_persist_folder(persist_path))

    @classmethod
    def from_persist_path(
        cls, persist_path: str, fs: Any | None = None, embed_model: Model2VecEmbedding | None = None
    ) -> FAISSVectorStore:
        """Load a store saved by :meth:`persist`; with ``embed_model``, refuse another model's store."""
        expected: dict[str, Any] = {}
        if embed_model is not None:
            expected = {
                "expected_dim": embed_model.dimension,
                "expected_fingerprint": embed_model.embedder.fingerprint,
                "expected_model": embed_model.model_name,
            }
        return cls(store=FaissStore.load(_persist_folder(persist_path), **expected))

    @classmethod
    def from_persist_dir(
        cls,
        persist_dir: str = "./storage",
        namespace: str = "default",
        fs: Any | None = None,
        embed_model: Model2VecEmbedding | None = None,
    ) -> FAISSVectorStore:
        """Load the store that ``StorageContext.persist(persist_dir)`` wrote."""
        path = Path(persist_dir) / f"{namespace}__{DEFAULT_STORE_NAME}"
        return cls.from_persist_path(str(path), fs=fs, embed_model=embed_model)

    # -- async twins ------------------------------------------------------------------------------
    async def async_add(self, nodes: Sequence[BaseNode], **kwargs: Any) -> list[str]:
        return await asyncio.to_thread(self.add, nodes, **kwargs)

    async def adelete(self, ref_doc_id: str, **delete_kwargs: Any) -> None:
        await asyncio.to_thread(self.delete, ref_doc_id, **delete_kwargs)

    async def adelete_nodes(
        self,
        node_ids: list[str] | None = None,
        filters: MetadataFilters | None = None,
        **delete_kwargs: Any,
    ) -> None:
        await asyncio.to_thread(self.delete_nodes, node_ids, filters, **delete_kwargs)

    async def aget_nodes(
        self, node_ids: list[str] | None = None, filters: MetadataFilters | None = None, **kwargs: Any
    ) -> list[BaseNode]:
        return await asyncio.to_thread(self.get_nodes, node_ids, filters, **kwargs)

    async def aclear(self) -> None:
        await asyncio.to_thread(self.clear)

    async def aquery(self, query: VectorStoreQuery, **kwargs: Any) -> VectorStoreQueryResult:
        return await asyncio.to_thread(self.query, query, **kwargs)


# -- language routing retriever --------------------------------------------------------------------
NODE_KEY = "_node"  # reserved metadata key: what a node needs besides text and metadata
_RETRIEVE_OPTIONS = ("similarity_top_k", "language", "filters", "mode", "fusion", "weight", "min_relevance")
# Per-call options of retrieve()/aretrieve(): a context variable, so concurrent calls (threads or
# tasks) each see their own, and asyncio.to_thread carries them into the worker thread.
_CALL_OPTIONS: ContextVar[dict[str, Any] | None] = ContextVar("deposium_retrieve_options", default=None)


def _node_record(node: BaseNode) -> dict[str, Any]:
    """Relationships (source document, neighbours) and excluded keys, in JSON form."""
    relationships: dict[str, Any] = {}
    for rel, info in node.relationships.items():
        rel_key = rel.value if isinstance(rel, NodeRelationship) else str(rel)
        if isinstance(info, list):
            relationships[rel_key] = [i.to_dict() for i in info]
        else:
            relationships[rel_key] = info.to_dict()
    return {
        "relationships": relationships,
        "excluded_embed_metadata_keys": list(node.excluded_embed_metadata_keys),
        "excluded_llm_metadata_keys": list(node.excluded_llm_metadata_keys),
    }


def _relationships(stored: Mapping[str, Any]) -> dict[NodeRelationship, Any]:
    out: dict[NodeRelationship, Any] = {}
    for rel_key, info in stored.items():
        rel = NodeRelationship(rel_key)
        if isinstance(info, list):
            out[rel] = [RelatedNodeInfo.from_dict(i) for i in info]
        else:
            out[rel] = RelatedNodeInfo.from_dict(info)
    return out


class LanguageRoutingRetriever(BaseRetriever):
    """LlamaIndex retriever that searches only the partition of the query's language.

    Returned nodes carry ``language`` in metadata; that key is excluded from the text
    LlamaIndex embeds and shows the LLM, so it never skews vectors or prompts. Nodes keep their
    ``ref_doc_id`` and relationships (kept under the reserved metadata key ``_node``, with
    ``ref_doc_id`` beside it so :meth:`delete_ref_doc` and filters can use it).

    ``retrieve(query, similarity_top_k=..., language=..., filters=..., mode=..., fusion=...,
    weight=...)`` overrides the defaults for one call; ``aretrieve`` takes the same options.
    """

    def __init__(
        self,
        router: LanguageRouter,
        similarity_top_k: int = 4,
        *,
        language: str | None = None,
        filters: MetadataFilters | dict[str, Any] | None = None,
        mode: str | None = None,
        fusion: str | None = None,
        weight: float | None = None,
        min_relevance: float | None = None,
        callback_manager: CallbackManager | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(callback_manager=callback_manager, **kwargs)
        self.router = router
        self.similarity_top_k = similarity_top_k
        self.language = language
        self.filters = filters
        self.mode, self.fusion, self.weight = mode, fusion, weight
        self.min_relevance = min_relevance  # hits below this relevance are dropped

    @classmethod
    def from_documents(
        cls,
        documents: Sequence[BaseNode],
        embed_model: Model2VecEmbedding,
        similarity_top_k: int = 4,
        **router_options: Any,
    ) -> LanguageRoutingRetriever:
        """Build partitions from LlamaIndex documents or nodes, embedded with ``embed_model``."""
        router = LanguageRouter(embed_model.embedder, **router_options)
        retriever = cls(router, similarity_top_k)
        retriever.add_nodes(documents)
        return retriever

    def add_nodes(self, nodes: Sequence[BaseNode]) -> list[str]:
        """Upsert nodes: detection reads the bare text, the vector comes from the embed text."""
        key = self.router.language_key
        for node in nodes:
            if key not in node.excluded_embed_metadata_keys:
                node.excluded_embed_metadata_keys = [*node.excluded_embed_metadata_keys, key]
        metadatas = []
        for i, n in enumerate(nodes):
            md = to_json_metadata(n.metadata, i, path=f"nodes[{i}].metadata")
            record, ref_doc_id = _node_record(n), n.ref_doc_id
            if ref_doc_id is None and isinstance(n, Document):
                # A whole document stored as one node is its own source, as one-chunk
                # documents are in a VectorStoreIndex: citations and delete_ref_doc work.
                ref_doc_id = n.doc_id
                record["relationships"][NodeRelationship.SOURCE.value] = n.as_related_node_info().to_dict()
            md[NODE_KEY] = to_json_metadata(record, i, path=f"nodes[{i}].relationships")
            if ref_doc_id is not None:
                md["ref_doc_id"] = ref_doc_id
            metadatas.append(md)
        return self.router.add(
            [n.get_content(metadata_mode=MetadataMode.NONE) for n in nodes],
            metadatas,
            [n.node_id for n in nodes],
            embed_texts=[n.get_content(metadata_mode=MetadataMode.EMBED) for n in nodes],
        )

    def insert_nodes(self, nodes: Sequence[BaseNode]) -> list[str]:
        """Alias of :meth:`add_nodes` (the name LlamaIndex indexes use)."""
        return self.add_nodes(nodes)

    def delete_ref_doc(self, ref_doc_id: str) -> int:
        """Delete every node of one source document; returns how many were removed."""
        return self.router.delete(self.router.ids({"ref_doc_id": ref_doc_id}))

    def delete_nodes(self, node_ids: Sequence[str]) -> int:
        return self.router.delete(list(node_ids))

    def persist(self, persist_dir: str | os.PathLike[str] = "./storage") -> Path:
        """Save the partitions atomically (FAISS + JSON + manifest; no pickle)."""
        return self.router.save(persist_dir)

    @classmethod
    def from_persist_dir(
        cls,
        persist_dir: str | os.PathLike[str],
        embed_model: Model2VecEmbedding,
        similarity_top_k: int = 4,
        **retriever_options: Any,
    ) -> LanguageRoutingRetriever:
        """Load what :meth:`persist` wrote; refuses another model's data, naming both."""
        router = LanguageRouter.load(persist_dir, embed_model.embedder)
        return cls(router, similarity_top_k, **retriever_options)

    # -- retrieval ---------------------------------------------------------------------------------
    def _call_options(self, options: dict[str, Any]) -> dict[str, Any]:
        unknown = sorted(set(options) - set(_RETRIEVE_OPTIONS))
        if unknown:
            raise TypeError(
                f"unknown retrieve option(s) {', '.join(unknown)}; supported: {', '.join(_RETRIEVE_OPTIONS)}"
            )
        return options

    def retrieve(self, str_or_query_bundle: QueryType, **options: Any) -> list[NodeWithScore]:
        """Retrieve; ``options`` (see the class docstring) override the defaults for this call."""
        token = _CALL_OPTIONS.set(self._call_options(options))
        try:
            return super().retrieve(str_or_query_bundle)
        finally:
            _CALL_OPTIONS.reset(token)

    async def aretrieve(self, str_or_query_bundle: QueryType, **options: Any) -> list[NodeWithScore]:
        """Async twin of :meth:`retrieve`, with the same per-call options."""
        token = _CALL_OPTIONS.set(self._call_options(options))
        try:
            return await super().aretrieve(str_or_query_bundle)
        finally:
            _CALL_OPTIONS.reset(token)

    def _setting(self, options: Mapping[str, Any], name: str) -> Any:
        value = options.get(name)
        return getattr(self, name) if value is None else value

    def _retrieve(self, query_bundle: QueryBundle) -> list[NodeWithScore]:
        options = _CALL_OPTIONS.get() or {}
        filters = self._setting(options, "filters")
        result = self.router.search(
            query_bundle.query_str,
            self._setting(options, "similarity_top_k"),
            language=self._setting(options, "language"),
            filter=to_core_filter(filters) if isinstance(filters, MetadataFilters) else filters,
            mode=self._setting(options, "mode"),
            fusion=self._setting(options, "fusion"),
            weight=self._setting(options, "weight"),
            min_relevance=self._setting(options, "min_relevance"),
        )
        return [self._to_node(hit, lang) for hit, lang in zip(result.hits, result.languages)]

    def _to_node(self, hit: Any, lang: str) -> NodeWithScore:
        key = self.router.language_key
        metadata = dict(hit.metadata)
        record = metadata.pop(NODE_KEY, None) or {}
        if record:
            metadata.pop("ref_doc_id", None)
        routing = [k for k in (key, CONFIDENCE_KEY) if k == key or k in metadata]  # not for embed or LLM
        embed_excluded = list(record.get("excluded_embed_metadata_keys", []))
        llm_excluded = list(record.get("excluded_llm_metadata_keys", []))
        node = TextNode(
            id_=hit.id,
            text=hit.text,
            metadata={**metadata, key: lang},
            excluded_embed_metadata_keys=embed_excluded + [k for k in routing if k not in embed_excluded],
            excluded_llm_metadata_keys=llm_excluded + [k for k in routing if k not in llm_excluded],
            relationships=_relationships(record.get("relationships", {})),
        )
        return NodeWithScore(node=node, score=hit.score)

    async def _aretrieve(self, query_bundle: QueryBundle) -> list[NodeWithScore]:
        return await asyncio.to_thread(self._retrieve, query_bundle)
