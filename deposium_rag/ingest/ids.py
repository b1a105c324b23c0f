"""Stable ids and content hashes for ingested files.

Why: ids come from the resolved source path (symlinks and ``..`` removed), so indexing the
same file again, however it is named, updates its chunks instead of duplicating them; the
content hash lets an unchanged file be skipped without reading its chunks back.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

__all__ = ["chunk_id", "file_hash", "source_of"]


def source_of(path: Path | str) -> str:
    """The source string stored for a file: its resolved absolute path."""
    return str(Path(path).resolve())


def chunk_id(source: str, record: int | None, index: int) -> str:
    """Stable id: sha1 of the source path (and record, for JSON) and the chunk index."""
    key = source if record is None else f"{source}#{record}"
    return hashlib.sha1(f"{key}\n{index}".encode()).hexdigest()


def file_hash(data: bytes, size: int, overlap: int) -> str:
    """sha256 of a file's bytes and the chunking settings: equal hashes give equal chunks."""
    digest = hashlib.sha256(f"chunks {size} {overlap}\n".encode())
    digest.update(data)
    return digest.hexdigest()
