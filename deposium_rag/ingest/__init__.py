"""Ingestion: file discovery, readers, chunking, stable ids, incremental indexing.

The command line and Ray ingestion share these steps; ``iter_files(paths)`` and
``read_chunks(path)`` work one file at a time for pipelines that distribute the work.
"""

from __future__ import annotations

from deposium_rag.ingest.chunking import chunk_text
from deposium_rag.ingest.files import (
    SUPPORTED_SUFFIXES,
    Discovery,
    IngestError,
    SourceDocument,
    UnreadableFileError,
    collect_files,
    html_to_text,
    iter_files,
    read_documents,
)
from deposium_rag.ingest.ids import chunk_id, file_hash, source_of
from deposium_rag.ingest.pipeline import (
    FILE_HASH_KEY,
    Chunk,
    IndexPlan,
    apply_plan,
    make_chunks,
    plan_index,
    read_chunks,
    store_table,
    stored_files,
)

__all__ = [
    "FILE_HASH_KEY",
    "SUPPORTED_SUFFIXES",
    "Chunk",
    "Discovery",
    "IndexPlan",
    "IngestError",
    "SourceDocument",
    "UnreadableFileError",
    "apply_plan",
    "chunk_id",
    "chunk_text",
    "collect_files",
    "file_hash",
    "html_to_text",
    "iter_files",
    "make_chunks",
    "plan_index",
    "read_chunks",
    "read_documents",
    "source_of",
    "store_table",
    "stored_files",
]
