"""Compact per-row columns for the store: vectors in a chosen precision, strings in one buffer.

Why: a Python ``str`` and ``dict`` per document cost hundreds of bytes of object headers and
pointers each; a 1024-d float32 vector in its own array costs another header. Here every
column is one NumPy array (or one bytes buffer plus end offsets) that grows by doubling, can
be a read-only memory map of a saved file (copied to RAM on the first write: copy-on-write)
and is written back with ``np.save`` (data only, never pickled).
"""

from __future__ import annotations

import os
import weakref
from pathlib import Path
from typing import Literal

import numpy as np

from deposium_rag.errors import StoreFormatError

VectorKind = Literal["float32", "float16", "int8"]
VECTOR_KINDS = ("float32", "float16", "int8")
_DTYPES = {"float32": np.float32, "float16": np.float16, "int8": np.int8}
_CHUNK = 256  # rows decoded at a time when scanning compact vectors (a cache-sized buffer)


def _grow(arr: np.ndarray, need: int) -> np.ndarray:
    """``arr`` with room for ``need`` rows: a fresh writable copy when full or memory-mapped."""
    if need <= len(arr) and arr.flags.writeable:
        return arr
    out = np.empty((max(need, 2 * len(arr), 1024), *arr.shape[1:]), dtype=arr.dtype)
    out[: len(arr)] = arr
    return out


def load_npy(path: Path, mmap: bool) -> np.ndarray:
    """A saved column: memory-mapped read-only (or read) with pickle refused."""
    try:
        if mmap and path.stat().st_size > 0:
            # A plain read-only ndarray over the map: np.memmap's Python-level __getitem__ and
            # __array_finalize__ cost microseconds on every row a query reads (texts, metadata).
            return np.asarray(np.load(path, mmap_mode="r", allow_pickle=False))
        return np.load(path, allow_pickle=False)
    except FileNotFoundError:
        raise StoreFormatError(f"store file {path.name} is missing from {path.parent}") from None
    except (ValueError, OSError, EOFError) as exc:
        raise StoreFormatError(f"cannot read store file {path} ({exc}); restore it or rebuild") from None


class Vectors:
    """Unit vectors stored as float32, float16 or int8 (symmetric, one scale per row).

    int8 keeps ``round(127 * v / max|v|)`` and the row's ``max|v| / 127``: no training, no
    clipping, whatever the model's value range; scores are computed in float32.

    Rows live in two parts: a read-only *base* (a loaded full segment, memory-mapped) and a
    growable in-memory *tail* (rows added since, or read from small delta segments), so
    opening a store after incremental saves never copies the base.
    """

    def __init__(self, kind: VectorKind, dim: int) -> None:
        if kind not in VECTOR_KINDS:
            raise ValueError(f"vectors must be one of {VECTOR_KINDS}, got {kind!r}")
        self.kind, self.dim, self.n = kind, dim, 0
        self._base = np.zeros((0, dim), dtype=_DTYPES[kind])
        self._base_scale = np.zeros(0, dtype=np.float32)
        self._rows = np.zeros((0, dim), dtype=_DTYPES[kind])  # the tail's buffer
        self._scale = np.zeros(0, dtype=np.float32)

    @property
    def nb(self) -> int:
        return len(self._base)

    @property
    def bytes_per_row(self) -> int:
        return self._rows.dtype.itemsize * self.dim + (4 if self.kind == "int8" else 0)

    def encode(self, unit: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        if self.kind == "int8":
            top = np.abs(unit).max(axis=1)
            scale = (top / 127.0).astype(np.float32)
            safe = np.where(top > 0, top, 1.0)[:, None]
            codes = np.rint(unit * (127.0 / safe)).astype(np.int8)
            return codes, scale
        return unit.astype(self._rows.dtype), np.zeros(0, dtype=np.float32)

    def append(self, unit: np.ndarray) -> None:
        codes, scale = self.encode(unit)
        have = self.n - self.nb
        end = have + len(codes)
        self._rows = _grow(self._rows, end)
        self._rows[have:end] = codes
        if self.kind == "int8":
            self._scale = _grow(self._scale, end)
            self._scale[have:end] = scale
        self.n += len(codes)

    def _codes(self, start: int, stop: int) -> tuple[np.ndarray, np.ndarray]:
        """(codes, scales) of rows ``start:stop`` (a view when they lie in one part)."""
        nb = self.nb
        if stop <= nb:
            return self._base[start:stop], self._base_scale[start:stop]
        if start >= nb:
            return self._rows[start - nb : stop - nb], self._scale[start - nb : stop - nb]
        a, sa = self._codes(start, nb)
        b, sb = self._codes(nb, stop)
        return np.concatenate([a, b]), np.concatenate([sa, sb])

    def decode(self, rows: np.ndarray | slice) -> np.ndarray:
        """Float32 vectors of the given rows (a copy)."""
        if isinstance(rows, slice):
            start, stop, _ = rows.indices(self.n)
            codes, scale = self._codes(start, max(start, stop))
        else:
            idx = np.asarray(rows, dtype=np.int64)
            nb = self.nb
            in_base = idx < nb
            if in_base.all():
                codes, scale = self._base[idx], self._base_scale[idx] if self.kind == "int8" else None
            elif not in_base.any():
                tail = idx - nb
                codes, scale = self._rows[tail], self._scale[tail] if self.kind == "int8" else None
            else:
                out = np.empty((len(idx), self.dim), dtype=np.float32)
                out[in_base] = self.decode(idx[in_base])
                out[~in_base] = self.decode(idx[~in_base])
                return out
        out = np.asarray(codes, dtype=np.float32)
        if self.kind == "int8":
            out *= np.asarray(scale)[:, None]
        return out

    def dot(self, query: np.ndarray, rows: np.ndarray | None = None) -> np.ndarray:
        """Cosine of ``query`` (unit, float32) with every row, or with the given rows."""
        if rows is not None:
            return (self.decode(rows) @ query).astype(np.float32)
        out = np.empty(self.n, dtype=np.float32)
        nb = self.nb
        for lo, hi, part in ((0, nb, self._base), (nb, self.n, self._rows[: self.n - nb])):
            if hi <= lo:
                continue
            if self.kind == "float32":
                out[lo:hi] = part @ query
                continue
            buf = np.empty((min(_CHUNK, hi - lo), self.dim), dtype=np.float32)  # stays in cache
            for start in range(0, hi - lo, _CHUNK):
                stop = min(hi - lo, start + _CHUNK)
                piece = buf[: stop - start]
                np.copyto(piece, part[start:stop], casting="unsafe")
                out[lo + start : lo + stop] = piece @ query
        if self.kind == "int8":
            out[:nb] *= self._base_scale  # one multiply per row, not per value
            out[nb:] *= self._scale[: self.n - nb]
        return out

    def take(self, keep: np.ndarray) -> Vectors:
        new = Vectors(self.kind, self.dim)
        idx = np.asarray(keep, dtype=np.int64)
        new._rows = np.ascontiguousarray(self._codes_at(idx)[0])
        if self.kind == "int8":
            new._scale = np.ascontiguousarray(self._codes_at(idx)[1])
        new.n = len(idx)
        return new

    def _codes_at(self, idx: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        nb = self.nb
        in_base = idx < nb
        codes = np.empty((len(idx), self.dim), dtype=self._rows.dtype)
        codes[in_base] = self._base[idx[in_base]]
        codes[~in_base] = self._rows[idx[~in_base] - nb]
        scales = np.zeros(len(idx), dtype=np.float32)
        if self.kind == "int8":
            scales[in_base] = self._base_scale[idx[in_base]]
            scales[~in_base] = self._scale[idx[~in_base] - nb]
        return codes, scales

    def arrays(self, start: int = 0) -> dict[str, np.ndarray]:
        """Files to save for rows ``start:``."""
        codes, scale = self._codes(start, self.n)
        out = {"vectors.npy": np.ascontiguousarray(codes)}
        if self.kind == "int8":
            out["scales.npy"] = np.ascontiguousarray(scale)
        return out

    @classmethod
    def concat(cls, kind: VectorKind, dim: int, parts: list[dict[str, np.ndarray]]) -> Vectors:
        """From saved parts: the first is the base (kept memory-mapped), the others the tail."""
        new = cls(kind, dim)
        rows = [p["vectors.npy"] for p in parts]
        for r in rows:
            if r.ndim != 2 or r.shape[1] != dim or r.dtype != _DTYPES[kind]:
                raise StoreFormatError(
                    f"saved vectors have shape {r.shape} {r.dtype}; expected (n, {dim}) {kind}"
                )
        if not rows:
            return new
        new._base = rows[0]
        if len(rows) > 1:
            new._rows = np.concatenate(rows[1:])
        if kind == "int8":
            scales = [p["scales.npy"] for p in parts]
            if [len(x) for x in scales] != [len(r) for r in rows]:
                raise StoreFormatError("saved int8 scales do not match the saved vectors")
            new._base_scale = scales[0]
            if len(scales) > 1:
                new._scale = np.concatenate(scales[1:])
        new.n = sum(len(r) for r in rows)
        return new


class FileBytes:
    """Byte ranges of a saved ``.npy`` byte buffer, read with ``os.pread`` instead of a map.

    Why: a memory map of a text file the page cache holds enters the process's resident set in
    whole large folios, so fetching a few texts per query mapped most of them (0.7 KB per
    document on the 11-language scale corpus after one query per language); a read copies
    only the bytes asked for (one system call per text: microseconds). Positional reads
    share no file offset, so threads can read at once. ``None`` from :meth:`open` means
    "use the map" (no ``os.pread`` on this platform, or a header this reader does not know).
    """

    __slots__ = ("__weakref__", "_fd", "_offset", "_size")

    def __init__(self, fd: int, offset: int, size: int) -> None:
        self._fd, self._offset, self._size = fd, offset, size
        weakref.finalize(self, os.close, fd)

    @classmethod
    def open(cls, path: Path) -> FileBytes | None:
        if not hasattr(os, "pread"):
            return None
        with open(path, "rb") as f:
            version = np.lib.format.read_magic(f)
            if version == (1, 0):
                shape, _, dtype = np.lib.format.read_array_header_1_0(f)
            elif version == (2, 0):
                shape, _, dtype = np.lib.format.read_array_header_2_0(f)
            else:
                return None
            offset = f.tell()
        if dtype != np.uint8 or len(shape) != 1:
            return None
        return cls(os.open(path, os.O_RDONLY | getattr(os, "O_CLOEXEC", 0)), offset, int(shape[0]))

    def read(self, start: int, stop: int) -> bytes:
        if not 0 <= start <= stop <= self._size:
            raise StoreFormatError("saved string offsets point outside their buffer")
        data = os.pread(self._fd, stop - start, self._offset + start)
        if len(data) != stop - start:
            raise StoreFormatError("a store file is shorter than its header says; restore it or rebuild")
        return data


class Strings:
    """Many strings in UTF-8 buffers with end offsets: about one byte per character.

    A loaded store's first segment is the *base* (memory-mapped, never copied); rows of later
    segments and rows added since go to a writable *tail*. Why: a store saved incrementally
    would otherwise copy every text into the heap on load (measured: +0.8 KB per document on
    the 11-language scale corpus)."""

    def __init__(self) -> None:
        self._base = np.zeros(0, dtype=np.uint8)
        self._base_ends = np.zeros(0, dtype=np.int64)
        self._nb = 0  # rows in the base
        self._base_used = 0  # bytes in the base
        self._data = np.zeros(0, dtype=np.uint8)  # tail bytes
        self._ends = np.zeros(0, dtype=np.int64)  # tail end offsets, relative to the tail
        self.n = 0  # rows, base and tail
        self._used = 0  # bytes, base and tail
        self._reader: FileBytes | None = None  # reads base rows without mapping them

    def _append_bytes(self, blob: np.ndarray, ends: np.ndarray) -> None:
        t0 = self._used - self._base_used
        t1 = t0 + len(blob)
        self._data = _grow(self._data, t1)
        self._data[t0:t1] = blob
        k0 = self.n - self._nb
        k1 = k0 + len(ends)
        self._ends = _grow(self._ends, k1)
        self._ends[k0:k1] = ends + t0
        self.n += len(ends)
        self._used += len(blob)

    def append(self, items: list[bytes]) -> None:
        blob = np.frombuffer(b"".join(items), dtype=np.uint8)
        self._append_bytes(blob, np.cumsum([len(x) for x in items], dtype=np.int64))

    def __getitem__(self, row: int) -> bytes:
        if row < self._nb:
            start = int(self._base_ends[row - 1]) if row else 0
            if self._reader is not None:
                return self._reader.read(start, int(self._base_ends[row]))
            return self._base[start : int(self._base_ends[row])].tobytes()
        row -= self._nb
        start = int(self._ends[row - 1]) if row else 0
        return self._data[start : int(self._ends[row])].tobytes()

    def take(self, keep: np.ndarray) -> Strings:
        new = Strings()
        new.append([self[int(r)] for r in keep])
        return new

    def arrays(self, start: int = 0, prefix: str = "texts") -> dict[str, np.ndarray]:
        """Rows ``start`` on as one byte buffer and end offsets (what a segment saves)."""
        datas, ends, offset = [], [], 0
        if start < self._nb:
            begin = int(self._base_ends[start - 1]) if start else 0
            datas.append(self._base[begin : self._base_used])
            ends.append(self._base_ends[start : self._nb] - begin)
            offset, start = self._base_used - begin, self._nb
        row = start - self._nb
        begin = int(self._ends[row - 1]) if row else 0
        datas.append(self._data[begin : self._used - self._base_used])
        ends.append(self._ends[row : self.n - self._nb] - begin + offset)
        data = np.concatenate(datas) if len(datas) > 1 else np.ascontiguousarray(datas[0])
        return {f"{prefix}.npy": data, f"{prefix}_ends.npy": np.concatenate(ends)}

    @classmethod
    def concat(cls, parts: list[tuple[np.ndarray, np.ndarray]], reader: FileBytes | None = None) -> Strings:
        """From saved parts: the first is the base (kept as given, memory-mapped; single rows
        read through ``reader`` when given: the same bytes, from the file), the others the tail."""
        new = cls()
        new._reader = reader if parts else None
        for i, (data, raw_ends) in enumerate(parts):
            ends = np.asarray(raw_ends, dtype=np.int64)
            if data.dtype != np.uint8 or data.ndim != 1 or ends.ndim != 1:
                raise StoreFormatError("saved strings are not a byte buffer with end offsets")
            used = int(ends[-1]) if len(ends) else 0
            if used > len(data) or (len(ends) and (ends[0] < 0 or (np.diff(ends) < 0).any())):
                raise StoreFormatError("saved string offsets point outside their buffer")
            if i == 0:
                new._base, new._base_ends = data, ends
                new._nb = new.n = len(ends)
                new._base_used = new._used = used
            else:
                new._append_bytes(data[:used], ends)
        return new
