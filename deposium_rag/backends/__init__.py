"""Where language partitions live: the local backend (FAISS + BM25 in this process) and Milvus.

``MilvusBackend`` is imported lazily so that importing this package never imports pymilvus.
"""

from __future__ import annotations

from typing import Any

from deposium_rag.backends.base import BackendConfig, Document, PartitionBackend
from deposium_rag.backends.local import LocalBackend

__all__ = ["BackendConfig", "Document", "LocalBackend", "MilvusBackend", "PartitionBackend"]


def __getattr__(name: str) -> Any:
    if name == "MilvusBackend":
        from deposium_rag.backends.milvus import MilvusBackend

        return MilvusBackend
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
