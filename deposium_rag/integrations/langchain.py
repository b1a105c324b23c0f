"""LangChain faces. Translation only: every behaviour lives in the framework-free core."""

from __future__ import annotations

import asyncio
from typing import Any

from deposium_rag.errors import missing_extra

try:
    from langchain_core.embeddings import Embeddings
    from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, model_validator
except ImportError as exc:  # pragma: no cover - exercised only without the extra
    raise missing_extra("langchain-core", "langchain") from exc

from deposium_rag._validation import check_text
from deposium_rag.models import StaticEmbedder

__all__ = ["Model2VecEmbeddings"]


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

    def __getstate__(self) -> Any:  # pragma: no cover - keep pickling out of reach
        raise TypeError("Model2VecEmbeddings is not picklable; rebuild it from its model name")
