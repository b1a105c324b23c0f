"""deposium-rag: Model2Vec static embeddings, a correct FAISS store and language routing.

Importing this package imports neither LangChain nor LlamaIndex; their faces live in
``deposium_rag.integrations``.
"""

from __future__ import annotations

from deposium_rag.errors import (
    DeposiumError,
    DimensionMismatchError,
    MissingExtraError,
    ModelMismatchError,
    ModelNotAvailableError,
    ModelNotFoundError,
    StoreFormatError,
)
from deposium_rag.filters import compile_filter
from deposium_rag.language import get_detector
from deposium_rag.models import (
    BUNDLED_MODEL,
    DEFAULT_MODEL,
    MODEL_ENV_VAR,
    StaticEmbedder,
    resolve_model,
)
from deposium_rag.retrievers import LanguageRouter
from deposium_rag.store import FaissStore, Hit, Record, relevance

__version__ = "0.1.0"

__all__ = [
    "BUNDLED_MODEL",
    "DEFAULT_MODEL",
    "MODEL_ENV_VAR",
    "DeposiumError",
    "DimensionMismatchError",
    "FaissStore",
    "Hit",
    "LanguageRouter",
    "MissingExtraError",
    "ModelMismatchError",
    "ModelNotAvailableError",
    "ModelNotFoundError",
    "Record",
    "StaticEmbedder",
    "StoreFormatError",
    "__version__",
    "compile_filter",
    "get_detector",
    "relevance",
    "resolve_model",
]
