"""Where language partitions live: the local backend (FAISS + BM25 in this process) and Milvus."""

from deposium_rag.backends.base import BackendConfig, Document, PartitionBackend
from deposium_rag.backends.milvus import MilvusBackend  # imports pymilvus only when opened

__all__ = ["BackendConfig", "Document", "MilvusBackend", "PartitionBackend"]
