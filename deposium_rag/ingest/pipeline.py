"""From files to stored chunks, incrementally: what changed is embedded, nothing else.

Why: re-indexing a folder is the common case (a docs tree, a notes folder), and embedding is
the cost. Each chunk carries its file's content hash (``file_hash``: bytes + chunking
settings); a file whose hash is already stored is skipped without being parsed, a changed one
has its chunks replaced, and files that vanished from an indexed folder are reported (and
removed on request). The hash lives in the chunks' own metadata, so it is saved atomically
with them: a store and its hashes can never disagree after a crash.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from deposium_rag.ingest.chunking import chunk_text
from deposium_rag.ingest.files import (
    Discovery,
    SourceDocument,
    UnreadableFileError,
    read_bytes,
    read_documents,
)
from deposium_rag.ingest.ids import chunk_id, file_hash

if TYPE_CHECKING:
    from deposium_rag.retrievers.router import LanguageRouter

__all__ = [
    "FILE_HASH_KEY",
    "Chunk",
    "IndexPlan",
    "apply_plan",
    "make_chunks",
    "plan_index",
    "read_chunks",
    "store_table",
    "stored_files",
]

FILE_HASH_KEY = "file_hash"
ADD_BATCH = 512


@dataclass(frozen=True)
class Chunk:
    id: str
    text: str
    metadata: dict[str, Any]


def make_chunks(
    docs: Iterable[SourceDocument], size: int = 1000, overlap: int = 100, content_hash: str | None = None
) -> list[Chunk]:
    """Chunks with ``source``, ``chunk_index`` (``record`` for JSON) and the file hash in metadata."""
    out: list[Chunk] = []
    for doc in docs:
        for i, piece in enumerate(chunk_text(doc.text, size, overlap)):
            meta: dict[str, Any] = {"source": doc.source, "chunk_index": i}
            if doc.record is not None:
                meta["record"] = doc.record
            if content_hash is not None:
                meta[FILE_HASH_KEY] = content_hash
            out.append(Chunk(chunk_id(doc.source, doc.record, i), piece, meta))
    return out


def read_chunks(
    path: Path | str, size: int = 1000, overlap: int = 100, *, explicit: bool = False
) -> list[Chunk]:
    """The chunks of one file (a plain per-file step, e.g. for Ray's ``flat_map``).

    As for a file found in a folder, a JSON file without ``"text"`` records gives ``[]``
    (``explicit=True`` makes that an error). Raises
    :class:`~deposium_rag.ingest.files.UnreadableFileError` when the file is not readable text.
    """
    path = Path(path).resolve()
    data = read_bytes(path)
    docs, _ = read_documents(path, explicit, data)
    return make_chunks(docs, size, overlap, file_hash(data, size, overlap))


def stored_files(router: LanguageRouter) -> dict[str, str | None]:
    """``source -> file hash`` of every file already in the store (from its first chunks)."""
    out: dict[str, str | None] = {}
    for rec in router.get(router.ids({"chunk_index": 0})):
        source = rec.metadata.get("source")
        if isinstance(source, str):
            stored = rec.metadata.get(FILE_HASH_KEY)
            out.setdefault(source, stored if isinstance(stored, str) else None)
    return out


@dataclass
class IndexPlan:
    """What an index run will do; nothing is stored until :func:`apply_plan`."""

    chunks: list[Chunk] = field(default_factory=list)  # of new and changed files
    stale: list[str] = field(default_factory=list)  # old chunk ids of changed files not in chunks
    new_files: list[str] = field(default_factory=list)
    changed_files: list[str] = field(default_factory=list)
    unchanged_files: list[str] = field(default_factory=list)
    removed_files: list[str] = field(default_factory=list)  # indexed before, gone from a folder
    removed_ids: list[str] = field(default_factory=list)  # their chunks
    removed_chunks: int = 0  # how many chunks the removed files have in the store
    unreadable: list[UnreadableFileError] = field(default_factory=list)
    unsupported: Counter[str] = field(default_factory=Counter)
    notes: list[str] = field(default_factory=list)
    # What was learnt about each file this run (for the ingest cache): source -> {"hash": ...,
    # "note": ..., "unreadable": ...}; files that could not even be read are absent.
    files: dict[str, dict[str, Any]] = field(default_factory=dict)

    @property
    def embedded_files(self) -> int:
        return len({c.metadata["source"] for c in self.chunks})


def _under(source: str, roots: Sequence[Path]) -> bool:
    path = Path(source)
    return any(path == root or root in path.parents for root in roots)


def plan_index(
    router: LanguageRouter,
    found: Discovery,
    size: int = 1000,
    overlap: int = 100,
    *,
    strict: bool = False,
    force: bool = False,
    on_file: Callable[[], None] | None = None,
) -> IndexPlan:
    """Read what changed since the last run and decide what to embed and delete.

    ``strict`` re-raises the first :class:`UnreadableFileError`; otherwise unreadable files are
    collected in ``plan.unreadable`` (and their chunks, if any, are kept). ``force`` reads and
    embeds every file again (e.g. after the store's language set changed, so chunks are
    detected anew).
    """
    plan = IndexPlan(unsupported=Counter(found.unsupported))
    stored = stored_files(router)
    seen: set[str] = set()
    for path, explicit in found.files:
        source = str(path)
        seen.add(source)
        content_hash = None
        try:
            data = read_bytes(path)
            content_hash = file_hash(data, size, overlap)
            if not force and stored.get(source) == content_hash:
                plan.unchanged_files.append(source)
                plan.files[source] = {"hash": content_hash}
                continue
            docs, note = read_documents(path, explicit, data)
        except UnreadableFileError as exc:
            if strict:
                raise
            plan.unreadable.append(exc)
            if content_hash is not None:
                plan.files[source] = {"hash": content_hash, "unreadable": exc.reason}
            continue
        finally:
            if on_file is not None:
                on_file()
        plan.files[source] = {"hash": content_hash, "note": note}
        if note:
            plan.notes.append(note)
        chunks = make_chunks(docs, size, overlap, content_hash)
        plan.chunks.extend(chunks)
        if source in stored:
            plan.changed_files.append(source)
        elif chunks:
            plan.new_files.append(source)
    if plan.changed_files:
        fresh_ids = {c.id for c in plan.chunks}
        old = router.ids({"source": {"$in": plan.changed_files}})
        plan.stale = [d for d in old if d not in fresh_ids]
    dirs = [root for root in found.roots if root.is_dir()]
    plan.removed_files = sorted(s for s in stored if s not in seen and _under(s, dirs))
    if plan.removed_files:
        plan.removed_ids = router.ids({"source": {"$in": plan.removed_files}})
        plan.removed_chunks = len(plan.removed_ids)
    return plan


def store_table(router: LanguageRouter) -> tuple[list[tuple[str, int, int]], Counter[str]]:
    """Rows ``(language, files, chunks)`` plus a ``total`` row, and the chunk count per source."""
    rows: list[tuple[str, int, int]] = []
    per_source: Counter[str] = Counter()
    for lang, count in router.counts().items():
        records = router.get(router.ids(language=lang))
        sources = [s for s in (r.metadata.get("source") for r in records) if isinstance(s, str)]
        per_source.update(sources)
        rows.append((lang, len(set(sources)), count))
    rows.append(("total", len(per_source), len(router)))
    return rows, per_source


def apply_plan(
    router: LanguageRouter,
    plan: IndexPlan,
    *,
    prune: bool = False,
    on_chunks: Callable[[int], None] | None = None,
) -> tuple[int, int, int]:
    """Embed and upsert the plan's chunks, delete its stale chunks (and, with ``prune``, the
    chunks of removed files). Returns (new, updated, removed) chunk counts."""
    chunks = plan.chunks
    fresh = sum(1 for c in chunks if router.language_of(c.id) is None)
    for start in range(0, len(chunks), ADD_BATCH):
        batch = chunks[start : start + ADD_BATCH]
        router.add([c.text for c in batch], [c.metadata for c in batch], [c.id for c in batch])
        if on_chunks is not None:
            on_chunks(len(batch))
    removed = router.delete(plan.stale + (plan.removed_ids if prune else []))
    return fresh, len(chunks) - fresh, removed
