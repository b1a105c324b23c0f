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
from deposium_rag.models import (
    BUNDLED_MODEL,
    DEFAULT_MODEL,
    MODEL_ENV_VAR,
    StaticEmbedder,
    resolve_model,
)

__version__ = "0.1.0"

__all__ = [
    "BUNDLED_MODEL",
    "DEFAULT_MODEL",
    "MODEL_ENV_VAR",
    "DeposiumError",
    "DimensionMismatchError",
    "MissingExtraError",
    "ModelMismatchError",
    "ModelNotAvailableError",
    "ModelNotFoundError",
    "StaticEmbedder",
    "StoreFormatError",
    "__version__",
    "resolve_model",
]
