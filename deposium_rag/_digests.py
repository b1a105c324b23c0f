"""File checksums remembered per file version, so a reopened store or model is not re-read.

Why: opening a store checks every file against its manifest's checksum, and a model's
fingerprint is the sha256 of its weights. At a million documents that is gigabytes read on
every cold start (3 s of a 5 s first query at 1M). A checksum is kept with the identity and
version of the file it was computed from: device, inode, size, modification and change times
in nanoseconds. It is reused only while all of them match. Any write, truncation, replacement
or copy changes at least one of them (the change time cannot be set back from user space), so
that file is read again and a damaged file still fails its check. File times tick coarsely
(a few milliseconds), so two writes in one tick could look alike: a checksum is remembered
only for a file last changed at least ``_SETTLED_NS`` before it was read (git's "racy" rule).

Kept in ``digests.json`` under ``$DEPOSIUM_RAG_CACHE`` (default ``$XDG_CACHE_HOME/deposium-rag``
or ``~/.cache/deposium-rag``); ``DEPOSIUM_RAG_CACHE=""`` turns the file off (checksums are then
remembered for the process only). The file is data only (JSON), replaced atomically, and
merged with what other processes wrote; a missing, unreadable or foreign file is ignored.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

__all__ = ["cache_folder", "digest", "flush"]

_FORMAT = "deposium-rag/digests"
_MAX = 4096  # entries kept (most recently used): a few stores and models
_SETTLED_NS = 2_000_000_000  # a file changed more recently than this is not remembered
_LOCK = threading.Lock()
_memo: dict[str, list[object]] = {}  # "scheme:dev:ino" -> [size, mtime_ns, ctime_ns, digest]
_loaded_from: Path | None = None
_dirty = False


def cache_folder() -> Path | None:
    """Where deposium-rag keeps data-only caches; ``None`` when turned off or there is no home."""
    root = os.environ.get("DEPOSIUM_RAG_CACHE")
    if root is None:
        base = os.environ.get("XDG_CACHE_HOME")
        if not base:
            try:
                base = str(Path.home() / ".cache")
            except RuntimeError:  # no home directory: remember for this process only
                return None
        root = str(Path(base) / "deposium-rag")
    return Path(root) if root else None


def _cache_file() -> Path | None:
    folder = cache_folder()
    return folder / "digests.json" if folder is not None else None


def _read(path: Path | None) -> dict[str, list[object]]:
    if path is None:
        return {}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    entries = data.get("entries") if isinstance(data, dict) and data.get("format") == _FORMAT else None
    if not isinstance(entries, dict):
        return {}
    return {
        k: v
        for k, v in entries.items()
        if isinstance(k, str)
        and isinstance(v, list)
        and len(v) == 4
        and all(isinstance(x, int) for x in v[:3])
        and isinstance(v[3], str)
    }


def _memo_for(path: Path | None) -> dict[str, list[object]]:
    """The in-process memo, (re)read when the cache location changed (tests move it). Lock held."""
    global _memo, _loaded_from
    if path != _loaded_from:
        _memo, _loaded_from = _read(path), path
    return _memo


def _version(st: os.stat_result) -> list[object]:
    return [st.st_size, st.st_mtime_ns, st.st_ctime_ns]


def digest(path: Path, scheme: str, compute: Callable[[Path], str]) -> str:
    """``compute(path)``, or the value remembered for this very version of the file."""
    global _dirty
    now = time.time_ns()
    before = os.stat(path)
    key = f"{scheme}:{before.st_dev}:{before.st_ino}"
    version = _version(before)
    settled = now - max(before.st_mtime_ns, before.st_ctime_ns) >= _SETTLED_NS
    with _LOCK:
        memo = _memo_for(_cache_file())
        hit = memo.get(key)
        if hit is not None and hit[:3] == version:
            memo[key] = memo.pop(key)  # most recently used last
            return str(hit[3])
    value = compute(path)
    if settled and _version(os.stat(path)) == version:  # and unchanged while it was read
        with _LOCK:
            memo = _memo_for(_cache_file())
            memo.pop(key, None)
            memo[key] = [*version, value]
            _dirty = True
    return value


def flush() -> None:
    """Write new checksums to the cache file (merged with other processes'); errors ignored."""
    global _dirty
    with _LOCK:
        path = _cache_file()
        if not _dirty or path is None:
            return
        merged = _read(path)
        for key, value in _memo_for(path).items():
            merged.pop(key, None)
            merged[key] = value
        entries = dict(list(merged.items())[-_MAX:])
        with contextlib.suppress(OSError):
            path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(prefix=".digests-", suffix=".tmp", dir=path.parent)
            try:
                with os.fdopen(fd, "w", encoding="utf-8") as fh:
                    json.dump({"format": _FORMAT, "entries": entries}, fh, separators=(",", ":"))
                os.replace(tmp, path)
            finally:
                with contextlib.suppress(OSError):
                    os.unlink(tmp)
        _dirty = False
