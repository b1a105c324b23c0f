"""deposium-rag: Model2Vec static embeddings, a correct FAISS store and language routing.

Importing this package imports neither LangChain nor LlamaIndex; their faces live in
``deposium_rag.integrations``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

# Exports are imported on first use (PEP 562): `import deposium_rag.ingest` (the CLI's path to
# an unchanged folder) then costs no numpy, faiss or model2vec import.
_EXPORTS = {
    "DeposiumError": "deposium_rag.errors",
    "DimensionMismatchError": "deposium_rag.errors",
    "MissingExtraError": "deposium_rag.errors",
    "ModelMismatchError": "deposium_rag.errors",
    "ModelNotAvailableError": "deposium_rag.errors",
    "ModelNotFoundError": "deposium_rag.errors",
    "StoreFormatError": "deposium_rag.errors",
    "compile_filter": "deposium_rag.filters",
    "get_detector": "deposium_rag.language",
    "BUNDLED_MODEL": "deposium_rag.models",
    "DEFAULT_MODEL": "deposium_rag.models",
    "MODEL_ENV_VAR": "deposium_rag.models",
    "StaticEmbedder": "deposium_rag.models",
    "resolve_model": "deposium_rag.models",
    "LanguageRouter": "deposium_rag.retrievers",
    "FaissStore": "deposium_rag.store",
    "Hit": "deposium_rag.store",
    "Record": "deposium_rag.store",
    "relevance": "deposium_rag.store",
}

if TYPE_CHECKING:
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


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'deposium_rag' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *_EXPORTS])


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
