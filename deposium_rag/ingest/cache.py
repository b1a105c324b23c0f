"""The ingest cache: lets an index run over an unchanged folder finish without loading the store.

Why: the content hashes that decide what changed live in the chunks' metadata, saved
atomically with them. Reading them back means loading the model and the whole store, which
costs more than hashing a thousand files. So after each run the CLI also writes
``ingest-cache.json`` into the store folder: every file's hash and chunk count, the summary
table, and the sha256 of the store's ``manifest.json`` at that moment. A later run trusts the
cache only while that manifest is byte-for-byte the same (any save, by the CLI or the API,
changes it) and only when nothing needs to be written; otherwise it takes the full path. A
crash between a save and the cache write leaves a cache that names the old manifest, which is
then ignored: the cache can make a run faster, never wrong.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections import Counter
from pathlib import Path
from typing import Any

from deposium_rag.ingest.files import Discovery, UnreadableFileError, read_bytes
from deposium_rag.ingest.ids import file_hash
from deposium_rag.ingest.pipeline import IndexPlan, _under

__all__ = ["CACHE_FILE", "quick_plan", "read_cache", "write_cache"]

CACHE_FILE = "ingest-cache.json"
_FORMAT = "deposium-rag/ingest-cache"
_VERSION = 1


def _manifest_sha(store: Path) -> str | None:
    try:
        return hashlib.sha256((store / "manifest.json").read_bytes()).hexdigest()
    except OSError:
        return None


def read_cache(store: Path) -> dict[str, Any] | None:
    """The cache if it describes the store as it is now, else None."""
    try:
        data = json.loads((store / CACHE_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict) or data.get("format") != _FORMAT or data.get("version") != _VERSION:
        return None
    sha = _manifest_sha(store)
    if sha is None or data.get("manifest_sha256") != sha or not isinstance(data.get("files"), dict):
        return None
    return data


def write_cache(
    store: Path,
    plan: IndexPlan,
    table: list[tuple[str, int, int]],
    chunks_per_source: Counter[str],
    previous: dict[str, Any] | None = None,
) -> None:
    """Record this run's files (hash, chunks, note or unreadable reason) against the manifest.

    Files stored before but not seen this run (other folders) keep their previous entries.
    """
    sha = _manifest_sha(store)
    if sha is None:
        return
    files: dict[str, dict[str, Any]] = {}
    for source, entry in ((previous or {}).get("files") or {}).items():
        if source in chunks_per_source and isinstance(entry, dict):
            files[source] = {**entry, "chunks": chunks_per_source[source]}
    for source, state in plan.files.items():
        entry = {k: v for k, v in state.items() if v is not None}
        entry["chunks"] = chunks_per_source.get(source, 0)
        files[source] = entry
    data = {
        "format": _FORMAT,
        "version": _VERSION,
        "manifest_sha256": sha,
        "files": files,
        "table": [list(row) for row in table],
    }
    tmp = store / f".{CACHE_FILE}.tmp"
    try:
        tmp.write_text(json.dumps(data, ensure_ascii=True, separators=(",", ":")), encoding="utf-8")
        os.replace(tmp, store / CACHE_FILE)
    except OSError:  # a read-only store still works, just without the shortcut
        tmp.unlink(missing_ok=True)


def quick_plan(
    store: Path,
    found: Discovery,
    size: int,
    overlap: int,
    *,
    strict: bool = False,
    prune: bool = False,
) -> tuple[IndexPlan, list[tuple[str, int, int]]] | None:
    """The plan of a run that has nothing to write, decided from the cache alone; None when the
    full path is needed (no valid cache, a new or changed file, pruning to do, strict errors)."""
    cache = read_cache(store)
    if cache is None:
        return None
    entries: dict[str, dict[str, Any]] = cache["files"]
    plan = IndexPlan(unsupported=Counter(found.unsupported))
    seen: set[str] = set()
    for path, _ in found.files:
        source = str(path)
        seen.add(source)
        entry = entries.get(source)
        if not isinstance(entry, dict):
            return None
        try:
            content_hash = file_hash(read_bytes(path), size, overlap)
        except UnreadableFileError:
            return None
        if entry.get("hash") != content_hash:
            return None
        if entry.get("unreadable"):
            if strict:
                return None
            plan.unreadable.append(UnreadableFileError(source, str(entry["unreadable"])))
            continue
        if entry.get("note"):
            plan.notes.append(str(entry["note"]))
        if entry.get("chunks"):  # a file that gave no chunks is read each time, never "unchanged"
            plan.unchanged_files.append(source)
    dirs = [root for root in found.roots if root.is_dir()]
    stored = [s for s, e in entries.items() if isinstance(e, dict) and e.get("chunks")]
    plan.removed_files = sorted(s for s in stored if s not in seen and _under(s, dirs))
    if plan.removed_files and prune:
        return None
    plan.removed_chunks = sum(int(entries[s]["chunks"]) for s in plan.removed_files)
    table = [(str(r[0]), int(r[1]), int(r[2])) for r in cache.get("table") or []]
    return plan, table
