"""File discovery and readers: which files to index, and the text each one holds.

Why here and not in the CLI: the command line, Ray ingestion and any script read files the
same way (same suffixes, same UTF-8 rules, same HTML text), so a fix lands once.
"""

from __future__ import annotations

import codecs
import json
import os
import re
import shlex
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

from deposium_rag.errors import DeposiumError

__all__ = [
    "SUPPORTED_SUFFIXES",
    "Discovery",
    "IngestError",
    "SourceDocument",
    "UnreadableFileError",
    "collect_files",
    "decode",
    "html_to_text",
    "iter_files",
    "read_bytes",
    "read_documents",
]

SUPPORTED_SUFFIXES: dict[str, str] = {
    ".txt": "text",
    ".md": "text",
    ".markdown": "text",
    ".rst": "text",
    ".html": "html",
    ".htm": "html",
    ".json": "json",
    ".jsonl": "jsonl",
}


class IngestError(DeposiumError, ValueError):
    """Input that cannot be indexed as given (a missing path, an unsupported file named)."""


class UnreadableFileError(IngestError):
    """One file could not be read as text: skipped and reported, or fatal with ``strict``."""

    def __init__(self, path: Path | str, reason: str) -> None:
        super().__init__(reason)
        self.path = str(path)
        self.reason = reason


# -- reading ----------------------------------------------------------------------------------------
def _raw_read(path: Path) -> bytes:
    """The one call that touches a file (tests replace it to simulate EACCES when running as root)."""
    return path.read_bytes()


def read_bytes(path: Path) -> bytes:
    """A file's bytes; any OS error becomes an :class:`UnreadableFileError` naming the file."""
    try:
        return _raw_read(path)
    except PermissionError:
        raise UnreadableFileError(path, f"cannot read {path}: permission denied") from None
    except OSError as exc:
        raise UnreadableFileError(path, f"cannot read {path}: {exc.strerror or exc}") from None


def decode(data: bytes, path: Path) -> str:
    """UTF-8 (a BOM is fine; UTF-16 with a BOM too); anything else is an UnreadableFileError."""
    if data.startswith(codecs.BOM_UTF8):
        data = data[len(codecs.BOM_UTF8) :]
    elif data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        try:
            return data.decode("utf-16")
        except UnicodeDecodeError:
            pass
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        quoted = shlex.quote(str(path))
        raise UnreadableFileError(
            path,
            f"{path} is not UTF-8 text (byte 0x{data[exc.start]:02x} at offset {exc.start}); "
            f"convert it first, e.g. `iconv -f LATIN1 -t UTF-8 {quoted} > converted{path.suffix}`",
        ) from None
    if "\x00" in text:
        raise UnreadableFileError(
            path, f"{path} looks like a binary file (it contains NUL bytes); pass text files only"
        )
    return text


class _HTMLText(HTMLParser):
    """Visible text of an HTML page, with block elements as paragraph breaks."""

    _SKIP = frozenset({"script", "style", "template", "noscript", "svg"})
    _BLOCK = frozenset(
        "address article aside blockquote br dd div dl dt figcaption footer form h1 h2 h3 h4 h5 h6 "
        "header hr li main nav ol p pre section table td th title tr ul".split()
    )

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._skipping = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in self._SKIP:
            self._skipping += 1
        elif tag in self._BLOCK:
            self.parts.append("\n\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in self._SKIP:
            self._skipping = max(0, self._skipping - 1)
        elif tag in self._BLOCK:
            self.parts.append("\n\n")

    def handle_data(self, data: str) -> None:
        if not self._skipping:
            self.parts.append(data)

    def text(self) -> str:
        paragraphs = re.split(r"\n\s*\n", "".join(self.parts))
        return "\n\n".join(" ".join(p.split()) for p in paragraphs if p.strip())


def html_to_text(markup: str) -> str:
    parser = _HTMLText()
    parser.feed(markup)
    parser.close()
    return parser.text()


@dataclass(frozen=True)
class SourceDocument:
    """Text read from one file, or one record of a JSON / JSONL file."""

    source: str  # resolved absolute path
    text: str
    record: int | None = None


def _json_texts(text: str, path: Path, jsonl: bool) -> list[tuple[int, str]]:
    """(record index, text) of the records that carry a string ``"text"`` field."""
    records: list[Any]
    if jsonl:
        records = []
        for lineno, line in enumerate(text.splitlines(), 1):
            if not line.strip():
                continue
            try:
                records.append(json.loads(line))
            except json.JSONDecodeError as exc:
                raise UnreadableFileError(path, f"{path}:{lineno}: not valid JSON ({exc.msg})") from None
    else:
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise UnreadableFileError(path, f"{path}:{exc.lineno}: not valid JSON ({exc.msg})") from None
        records = data if isinstance(data, list) else [data]
    return [
        (i, r["text"])
        for i, r in enumerate(records)
        if isinstance(r, dict) and isinstance(r.get("text"), str) and r["text"].strip()
    ]


def read_documents(
    path: Path, explicit: bool = True, data: bytes | None = None
) -> tuple[list[SourceDocument], str | None]:
    """Documents of one file, plus a note when a file found in a folder was skipped.

    ``data`` is the file's bytes when the caller has read them already (to hash them).
    Raises :class:`UnreadableFileError` for a file that cannot be read as text.
    """
    kind = SUPPORTED_SUFFIXES[path.suffix.lower()]
    source = str(path.resolve())
    text = decode(read_bytes(path) if data is None else data, path)
    if kind in ("json", "jsonl"):
        try:
            items = _json_texts(text, path, kind == "jsonl")
        except UnreadableFileError as exc:
            if explicit:
                raise
            return [], f"skipped {exc.reason}"  # e.g. a config file found in a folder
        if not items:
            message = f'{path} holds no record with a "text" field'
            if explicit:
                raise UnreadableFileError(
                    path, f'{message}; JSON files need [{{"text": ...}}, ...] or one such object'
                )
            return [], f"skipped {message}"
        return [SourceDocument(source, t, i) for i, t in items], None
    if kind == "html":
        text = html_to_text(text)
    return ([SourceDocument(source, text)] if text.strip() else []), None


# -- discovery --------------------------------------------------------------------------------------
@dataclass
class Discovery:
    """What a walk over the input paths found."""

    files: list[tuple[Path, bool]] = field(default_factory=list)  # (resolved path, named explicitly)
    roots: list[Path] = field(default_factory=list)  # resolved folders and files given
    unsupported: Counter[str] = field(default_factory=Counter)  # suffix -> files skipped


def collect_files(paths: Sequence[str | os.PathLike[str]], exclude: Sequence[Path] = ()) -> Discovery:
    """Supported files under ``paths`` (recursive, hidden entries skipped), each once, in order.

    Paths are resolved (symlinks, ``..``) first, so a file reached two ways is read once and
    its chunk ids do not depend on how it was named. Files of other types found in folders are
    counted in ``unsupported``; one named explicitly is an error.
    """
    excluded = {Path(p).resolve() for p in exclude}
    found: dict[Path, tuple[Path, bool]] = {}
    out = Discovery()

    def raise_walk_error(exc: OSError) -> None:
        raise IngestError(f"cannot read folder {exc.filename}: {exc.strerror or exc}")

    for raw in paths:
        given = Path(raw).expanduser()
        if not given.exists():
            raise IngestError(f"path not found: {raw}")
        path = given.resolve()
        out.roots.append(path)
        if path.is_file():
            if path.suffix.lower() not in SUPPORTED_SUFFIXES:
                raise IngestError(
                    f"unsupported file type {path.suffix or '(none)'!r}: {raw} "
                    f"(supported: {', '.join(SUPPORTED_SUFFIXES)})"
                )
            found.setdefault(path, (path, True))
            continue
        if not path.is_dir():
            raise IngestError(f"not a regular file or folder: {raw}")
        before = len(found)
        for folder, dirnames, filenames in os.walk(path, onerror=raise_walk_error, followlinks=False):
            dirnames[:] = sorted(
                d for d in dirnames if not d.startswith(".") and (Path(folder) / d).resolve() not in excluded
            )
            for name in sorted(filenames):
                if name.startswith("."):
                    continue
                file = Path(folder) / name
                suffix = file.suffix.lower()
                if suffix not in SUPPORTED_SUFFIXES:
                    out.unsupported[suffix or "(none)"] += 1
                    continue
                resolved = file.resolve()
                if resolved.is_file():
                    found.setdefault(resolved, (resolved, False))
        if len(found) == before:
            raise IngestError(
                f"no supported files in {raw} (looked for {', '.join(SUPPORTED_SUFFIXES)}, recursively)"
            )
    out.files = list(found.values())
    return out


def iter_files(paths: Sequence[str | os.PathLike[str]], exclude: Sequence[Path] = ()) -> Iterator[Path]:
    """The resolved supported files under ``paths``, each once (for per-file pipelines, e.g. Ray)."""
    for path, _ in collect_files(paths, exclude).files:
        yield path
