"""LlamaIndex faces. Translation only: every behaviour lives in the framework-free core."""

from __future__ import annotations

import asyncio
from typing import Any

from deposium_rag.errors import missing_extra

try:
    from llama_index.core.base.embeddings.base import BaseEmbedding, Embedding
    from pydantic import Field, PrivateAttr
except ImportError as exc:  # pragma: no cover - exercised only without the extra
    raise missing_extra("llama-index-core", "llamaindex") from exc

from deposium_rag.models import StaticEmbedder

__all__ = ["Model2VecEmbedding"]


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
