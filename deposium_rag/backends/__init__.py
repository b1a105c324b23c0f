"""Where language partitions live: the local backend (FAISS + BM25 in this process) and Milvus."""

from deposium_rag.backends.base import BackendConfig, Document, PartitionBackend

__all__ = ["BackendConfig", "Document", "PartitionBackend"]
