"""Checksums remembered per file version: read once, read again after any change."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from deposium_rag import _atomic, _digests
from deposium_rag.errors import StoreFormatError
from deposium_rag.store import FaissStore


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "cache"
    monkeypatch.setenv("DEPOSIUM_RAG_CACHE", str(folder))
    return folder


_CRC32 = _atomic.crc32_file


def _counting(calls: list[Path]):  # type: ignore[no-untyped-def]
    def compute(path: Path) -> str:
        calls.append(path)
        return _CRC32(path)

    return compute


def _age(path: Path, seconds: float = 60.0) -> None:
    """Set the modification time back (the change time is now: see the settled rule)."""
    st = path.stat()
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns - int(seconds * 1e9)))


def test_a_settled_file_is_read_once_and_again_after_a_change(
    cache: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(_digests, "_SETTLED_NS", 0)
    f = tmp_path / "data.bin"
    f.write_bytes(b"a" * 1000)
    calls: list[Path] = []
    first = _digests.digest(f, "crc32", _counting(calls))
    assert _digests.digest(f, "crc32", _counting(calls)) == first and len(calls) == 1
    f.write_bytes(b"b" * 1000)  # same size, new content
    _age(f)  # a distinct modification time, whatever the clock's tick
    second = _digests.digest(f, "crc32", _counting(calls))
    assert second != first and second == _atomic.crc32_file(f) and len(calls) == 2
    # another process finds it in the cache file (its compute would fail if called)
    _digests.flush()
    saved = json.loads((cache / "digests.json").read_text())
    assert saved["format"] == "deposium-rag/digests" and len(saved["entries"]) == 1
    code = (
        "import sys; from pathlib import Path; from deposium_rag import _digests\n"
        "def boom(p): raise SystemExit('read again')\n"
        f"print(_digests.digest(Path({str(f)!r}), 'crc32', boom))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == second


def test_a_file_changed_moments_ago_is_not_remembered(cache: Path, tmp_path: Path) -> None:
    """Racy rule: file times tick coarsely, so a just-written file is checked every time."""
    f = tmp_path / "fresh.bin"
    f.write_bytes(b"x" * 100)
    calls: list[Path] = []
    _digests.digest(f, "crc32", _counting(calls))
    _digests.digest(f, "crc32", _counting(calls))
    assert len(calls) == 2


def test_an_unusable_cache_folder_is_ignored(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "not-a-folder").write_text("x")
    monkeypatch.setenv("DEPOSIUM_RAG_CACHE", str(tmp_path / "not-a-folder"))
    f = tmp_path / "d.bin"
    f.write_bytes(b"abc")
    assert _digests.digest(f, "crc32", _atomic.crc32_file) == _atomic.crc32_file(f)
    _digests.flush()  # cannot write: no error
    monkeypatch.setenv("DEPOSIUM_RAG_CACHE", "")  # off: nothing written anywhere
    assert _digests.digest(f, "crc32", _atomic.crc32_file) == _atomic.crc32_file(f)
    _digests.flush()


def test_a_reopened_store_skips_reading_unchanged_files_and_catches_a_tampered_one(
    cache: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(_digests, "_SETTLED_NS", 0)
    rng = np.random.default_rng(0)
    store = FaissStore(8)
    store.add(rng.normal(size=(50, 8)).astype(np.float32), [f"t{i}" for i in range(50)])
    store.save(tmp_path / "s")
    calls: list[Path] = []
    monkeypatch.setattr(_atomic, "crc32_file", _counting(calls))
    FaissStore.load(tmp_path / "s")
    assert calls  # first open: every file read
    calls.clear()
    again = FaissStore.load(tmp_path / "s")
    assert calls == [] and len(again) == 50  # unchanged: nothing read
    texts = next((tmp_path / "s").rglob("texts.npy"))
    raw = bytearray(texts.read_bytes())
    raw[-1] ^= 0xFF  # same size, one byte flipped
    texts.write_bytes(bytes(raw))
    _age(texts)
    with pytest.raises(StoreFormatError, match="does not match its checksum"):
        FaissStore.load(tmp_path / "s")
    assert texts in calls  # read again: its change time moved


def test_large_folders_are_checked_on_several_threads(
    tmp_path: Path, cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Above _PARALLEL_BYTES the files are hashed on worker threads; a mismatch is still
    reported for the first damaged file in manifest order."""
    import threading

    rng = np.random.default_rng(0)
    store = FaissStore(8)
    store.add(rng.normal(size=(50, 8)).astype(np.float32), [f"t{i}" for i in range(50)])
    store.save(tmp_path / "s")
    threads: list[str] = []

    def compute(path: Path) -> str:
        threads.append(threading.current_thread().name)
        return _CRC32(path)

    monkeypatch.setattr(_atomic, "_PARALLEL_BYTES", 0)
    monkeypatch.setattr(_atomic.os, "cpu_count", lambda: 2)
    monkeypatch.setattr(_atomic, "crc32_file", compute)
    assert len(FaissStore.load(tmp_path / "s")) == 50
    assert len(threads) > 1 and all(name.startswith("deposium-checksum") for name in threads)
    order = list(json.loads((tmp_path / "s" / "manifest.json").read_text())["files"])
    damaged = [name for name in order if name in ("texts.npy", "vectors.npy")]
    for name in damaged:
        raw = bytearray((tmp_path / "s" / name).read_bytes())
        raw[-1] ^= 0xFF
        (tmp_path / "s" / name).write_bytes(bytes(raw))
    with pytest.raises(StoreFormatError, match=f"{damaged[0]} does not match its checksum"):
        FaissStore.load(tmp_path / "s")


def test_crc32_combine_joins_the_checksums_of_two_parts() -> None:
    import random
    import zlib

    rnd = random.Random(0)
    for _ in range(200):
        a = rnd.randbytes(rnd.randrange(0, 3000))
        b = rnd.randbytes(rnd.choice([0, 1, rnd.randrange(0, 3000)]))
        assert _atomic.crc32_combine(zlib.crc32(a), zlib.crc32(b), len(b)) == zlib.crc32(a + b)


def test_a_large_file_is_checksummed_in_ranges_with_the_same_value(
    tmp_path: Path, cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Above _SPLIT_BYTES a file is read as ranges on threads; the value is the whole file's
    CRC-32 (what every saved manifest holds), and damage in any range still shows."""
    import zlib

    data = bytearray(np.random.default_rng(1).integers(0, 256, 100_003, dtype=np.uint8).tobytes())
    path = tmp_path / "big.bin"
    path.write_bytes(bytes(data))
    whole = f"crc32:{zlib.crc32(bytes(data)):08x}"
    assert _atomic.crc32_file(path) == whole  # below the threshold: one pass
    ranges: list[tuple[int, int]] = []
    crc_range = _atomic._crc32_range

    def counting(fd: int, start: int, stop: int) -> int:
        ranges.append((start, stop))
        return crc_range(fd, start, stop)

    monkeypatch.setattr(_atomic, "_SPLIT_BYTES", 1000)
    monkeypatch.setattr(_atomic, "_BLOCK", 4096)  # several reads per range
    monkeypatch.setattr(_atomic.os, "cpu_count", lambda: 3)
    monkeypatch.setattr(_atomic, "_crc32_range", counting)
    assert _atomic.crc32_file(path) == whole
    assert sorted(ranges) == [(0, 33_334), (33_334, 66_668), (66_668, 100_003)]
    data[50_000] ^= 0x01  # inside the second range
    path.write_bytes(bytes(data))
    assert _atomic.crc32_file(path) == f"crc32:{zlib.crc32(bytes(data)):08x}" != whole
    path.write_bytes(b"")
    assert _atomic.crc32_file(path) == f"crc32:{zlib.crc32(b''):08x}"
