"""Crash-safe folder replacement and checksummed JSON: shared by the store and the router.

A save writes everything into ``.<name>.tmp``, fsyncs it, moves the current folder aside to
``.<name>.old``, renames the new one into place and only then removes the old one. A crash at
any point leaves either the old or the new folder complete; :func:`recover` puts ``.old``
back when the crash fell between the two renames.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import os
import shutil
import zlib
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from deposium_rag import _digests
from deposium_rag.errors import DimensionMismatchError, ModelMismatchError, StoreFormatError


def _sibling(folder: Path, suffix: str) -> Path:
    return folder.parent / f".{folder.name}.{suffix}"


def recover(folder: Path) -> None:
    """Restore ``folder`` from ``.<name>.old`` if a save was cut between its two renames."""
    old = _sibling(folder, "old")
    if not folder.exists() and old.is_dir():
        os.rename(old, folder)


def crc32_file(path: Path) -> str:
    """``crc32:<hex>``: the checksum of large data files (3x faster than sha256 here).

    Checksums guard against truncation and corruption, not against an editor who can rewrite
    the manifest too; CRC-32 catches every burst error and random damage but for 2^-32.
    A file of ``_SPLIT_BYTES`` or more is read as a few ranges on threads (zlib and reads
    release the GIL) whose checksums are joined with :func:`crc32_combine`: the same value.
    """
    with open(path, "rb") as fh:
        fd = fh.fileno()
        size = os.fstat(fd).st_size
        parts = min(_SPLIT_WAYS, os.cpu_count() or 1) if size >= _SPLIT_BYTES else 1
        if parts < 2 or not hasattr(os, "preadv"):
            return f"crc32:{_crc32_range(fd, 0, size):08x}"
        bounds = [size * i // parts for i in range(parts + 1)]
        ranges = list(itertools.pairwise(bounds))
        with ThreadPoolExecutor(parts - 1, thread_name_prefix="deposium-crc32") as pool:
            rest = [pool.submit(_crc32_range, fd, a, b) for a, b in ranges[1:]]
            crc = _crc32_range(fd, *ranges[0])
            for job, (a, b) in zip(rest, ranges[1:]):
                crc = crc32_combine(crc, job.result(), b - a)
    return f"crc32:{crc:08x}"


# A file this large is checksummed as _SPLIT_WAYS ranges at once (the vectors of a large
# partition: 3.8 GB at 1M documents of 1024 dims).
_SPLIT_BYTES = 256 << 20
_SPLIT_WAYS = 4
_BLOCK = 1 << 22


def _crc32_range(fd: int, start: int, stop: int) -> int:
    """CRC-32 of bytes ``start:stop`` of an open file, read into one reused buffer (a file
    that got shorter meanwhile just gives another value, which then fails its check)."""
    crc, pos = 0, start
    if not hasattr(os, "preadv"):  # no positional reads: one sequential pass of the whole file
        with open(fd, "rb", closefd=False) as fh:
            fh.seek(start)
            for block in iter(lambda: fh.read(min(_BLOCK, stop - fh.tell())), b""):
                crc = zlib.crc32(block, crc)
        return crc
    view = memoryview(bytearray(min(_BLOCK, max(1, stop - start))))
    while pos < stop:
        n = os.preadv(fd, [view[: min(len(view), stop - pos)]], pos)
        if n <= 0:
            break
        crc = zlib.crc32(view[:n], crc)
        pos += n
    return crc


def crc32_combine(crc1: int, crc2: int, len2: int) -> int:
    """CRC-32 of ``a + b`` from ``crc32(a)``, ``crc32(b)`` and ``len(b)`` (zlib's
    ``crc32_combine``, which Python's zlib module does not expose): ``len(b)`` zero bytes are
    fed through ``crc1`` by squaring the CRC's shift operator over GF(2)."""
    if len2 <= 0:
        return crc1
    op = [0xEDB88320] + [1 << n for n in range(31)]  # the operator for one zero bit
    for _ in range(3):  # 2, 4, then 8 zero bits: one zero byte
        op = _gf2_square(op)
    while True:  # apply the operator of 2^i zero bytes where len2 has bit i set
        if len2 & 1:
            crc1 = _gf2_times(op, crc1)
        len2 >>= 1
        if not len2:
            break
        op = _gf2_square(op)
    return crc1 ^ crc2


def _gf2_times(matrix: list[int], vector: int) -> int:
    out, i = 0, 0
    while vector:
        if vector & 1:
            out ^= matrix[i]
        vector >>= 1
        i += 1
    return out


def _gf2_square(matrix: list[int]) -> list[int]:
    return [_gf2_times(matrix, row) for row in matrix]


def file_checksum(path: Path, expected: str) -> str:
    """The checksum of ``path`` in the scheme ``expected`` uses (plain hex: sha256); remembered
    per file version (:mod:`deposium_rag._digests`), so an unchanged file is read once."""
    if expected.startswith("crc32:"):
        return _digests.digest(path, "crc32", crc32_file)
    return _digests.digest(path, "sha256", sha256_file)


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def fsync_tree(folder: Path) -> None:
    for path in folder.rglob("*"):
        if path.is_file():
            with open(path, "rb") as fh:
                os.fsync(fh.fileno())
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_folder_atomically(folder: str | os.PathLike[str], fill: Callable[[Path], None]) -> Path:
    """Call ``fill(tmp)`` to write a complete folder, then swap it in for ``folder``."""
    target = Path(folder).expanduser().absolute()
    target.parent.mkdir(parents=True, exist_ok=True)
    if target.exists() and not target.is_dir():
        raise NotADirectoryError(f"{target} exists and is not a folder; choose another path")
    recover(target)
    tmp, old = _sibling(target, "tmp"), _sibling(target, "old")
    for stale in (tmp, old):
        if stale.exists():
            shutil.rmtree(stale)
    tmp.mkdir()
    try:
        fill(tmp)
        fsync_tree(tmp)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    if target.exists():
        os.rename(target, old)
    os.rename(tmp, target)
    shutil.rmtree(old, ignore_errors=True)
    return target


def fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def replace_json(path: Path, data: Any) -> None:
    """Atomically replace one JSON file: write a sibling, fsync it, rename over, fsync the folder."""
    tmp = path.with_name(f".{path.name}.tmp")
    with open(tmp, "w", encoding="utf-8") as fh:
        json.dump(data, fh, ensure_ascii=True, separators=(",", ":"))
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)
    fsync_dir(path.parent)


def write_json(path: Path, data: Any) -> None:
    with open(path, "w", encoding="utf-8") as fh:
        json.dump(data, fh, ensure_ascii=True, separators=(",", ":"))


def read_json(path: Path, what: str) -> Any:
    try:
        with open(path, encoding="utf-8") as fh:
            return json.load(fh)
    except FileNotFoundError:
        raise StoreFormatError(f"{what} is missing: {path}") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise StoreFormatError(f"{what} is not valid JSON (truncated or edited?): {path}: {exc}") from None


# Files are hashed on several threads (hashlib and reads release the GIL) once a folder holds
# this much: a first open of a 1M-document partition reads ~5 GB.
_PARALLEL_BYTES = 64 << 20


def check_files(folder: Path, files: dict[str, str]) -> None:
    """Verify every file listed in a manifest exists and matches its checksum (sha256 or crc32)."""
    sizes = {}
    for name in files:
        path = folder / name
        if not path.is_file():
            raise StoreFormatError(f"store file {name} is missing from {folder}")
        sizes[name] = path.stat().st_size
    workers = min(4, os.cpu_count() or 1, len(files))
    if workers > 1 and sum(sizes.values()) >= _PARALLEL_BYTES:
        with ThreadPoolExecutor(workers, thread_name_prefix="deposium-checksum") as pool:
            largest_first = sorted(files, key=sizes.__getitem__, reverse=True)
            jobs = {n: pool.submit(file_checksum, folder / n, str(files[n])) for n in largest_first}
            found = {name: job.result() for name, job in jobs.items()}
    else:
        found = {name: file_checksum(folder / name, str(expected)) for name, expected in files.items()}
    for name, expected in files.items():  # the first mismatch in manifest order
        if found[name] != expected:
            raise StoreFormatError(
                f"store file {folder / name} does not match its checksum in manifest.json "
                "(truncated, edited or from another save); restore it or rebuild the store"
            )
    _digests.flush()


def read_manifest(
    folder: str | os.PathLike[str], fmt: str, version: int | tuple[int, ...], what: str
) -> tuple[Path, dict[str, Any]]:
    """Open a saved folder's manifest: recover an interrupted save, check format and version."""
    path = Path(folder).expanduser()
    recover(path)
    if not path.is_dir():
        raise StoreFormatError(f"no saved {what} at {path} (folder not found)")
    manifest = read_json(path / "manifest.json", f"{what} manifest")
    if not isinstance(manifest, dict) or manifest.get("format") != fmt:
        raise StoreFormatError(f"{path} is not a deposium-rag {what} (manifest format)")
    versions = (version,) if isinstance(version, int) else version
    if manifest.get("format_version") not in versions:
        raise StoreFormatError(
            f"{path} has {what} format version {manifest.get('format_version')!r}; "
            f"this deposium-rag reads version {' and '.join(map(str, versions))}"
        )
    return path, manifest


def check_model(
    manifest: dict[str, Any],
    path: Path,
    expected_dim: int | None,
    expected_fingerprint: str | None,
    expected_model: str | None,
) -> None:
    """Refuse a folder built with another model or dimension, naming both."""
    saved_model = manifest.get("model_name")
    saved_dim = manifest.get("dim")
    if expected_dim is not None and saved_dim is not None and saved_dim != expected_dim:
        raise DimensionMismatchError(
            f"{path} was built with model {saved_model!r} (dimension {saved_dim}); "
            f"the model in use, {expected_model!r}, has dimension {expected_dim}. "
            "Load it with the same model or rebuild it."
        )
    saved_fp = manifest.get("model_fingerprint")
    if expected_fingerprint and saved_fp and saved_fp != expected_fingerprint:
        raise ModelMismatchError(
            f"{path} was built with model {saved_model!r}; the model in use is "
            f"{expected_model!r}, which has other weights. Load it with the same model or rebuild it."
        )
