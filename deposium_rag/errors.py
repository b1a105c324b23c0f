"""Typed errors: each one says what went wrong and what to do about it."""

from __future__ import annotations


class DeposiumError(Exception):
    """Base class for every error this package raises on purpose."""


class ModelNotFoundError(DeposiumError, FileNotFoundError):
    """A local model folder does not exist or holds no Model2Vec files."""


class ModelNotAvailableError(DeposiumError, RuntimeError):
    """A hub model is neither cached nor downloadable (offline, no network)."""


class DimensionMismatchError(DeposiumError, ValueError):
    """Vectors or a saved store do not match the dimension of the model in use."""


class ModelMismatchError(DeposiumError, ValueError):
    """A saved store was built with another embedding model."""


class StoreFormatError(DeposiumError, ValueError):
    """A saved store is missing, truncated, tampered with or of an unknown format."""


class BackendError(DeposiumError, RuntimeError):
    """A storage backend (e.g. a Milvus server) failed or holds data this version cannot use."""


class MissingExtraError(DeposiumError, ImportError):
    """An optional framework is not installed."""


def missing_extra(package: str, extra: str) -> MissingExtraError:
    """Build the ImportError for a missing optional dependency, naming the install command."""
    return MissingExtraError(
        f"{package} is not installed; it is needed for this part of deposium-rag. "
        f'Install it with: pip install "deposium-rag[{extra}]"'
    )
