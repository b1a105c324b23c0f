"""The ``deposium-rag`` command line: index, query, demo, eval, bench.

Why it is shaped this way:

* every mistake a user can make (a missing path, an empty folder, a file that is not UTF-8, a
  store built with another model, an empty query) ends as ONE line on stderr starting with
  ``error:`` and exit code 2 (1 for an environment problem such as a model that is not
  downloaded), never a traceback; ``--debug`` shows the traceback of an unexpected error;
* ``index`` reads and checks all its input, and loads the model and the existing store,
  before it writes anything; the save itself is atomic, so a failed run leaves the store
  exactly as it was;
* chunk ids are ``sha1(source path, chunk index)``: indexing the same files again updates
  their chunks in place, and chunks a shorter file no longer has are removed.
"""

from __future__ import annotations

import argparse
import codecs
import contextlib
import functools
import hashlib
import importlib.util
import json
import os
import re
import shlex
import sys
import tempfile
import unicodedata
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

if TYPE_CHECKING:
    from deposium_rag.language import LanguageDetector
    from deposium_rag.models import StaticEmbedder
    from deposium_rag.retrievers.router import LanguageRouter, RoutedResult

__all__ = ["SUPPORTED_SUFFIXES", "chunk_text", "main"]

EXIT_OK, EXIT_ENV, EXIT_USAGE = 0, 1, 2
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
SAMPLE_DOCS = Path(__file__).resolve().parent / "sample_docs"
BENCHMARKS = Path(__file__).resolve().parent.parent / "benchmarks"
ADD_BATCH = 512
# Demo queries: (text, forced language or None). "pain" is bread in French: forcing fr shows why
# a caller may want to override detection on a one-word query.
DEMO_QUERIES: list[tuple[str, str | None]] = [
    ("Explain quantum computing", None),
    ("Comment la photosynthèse produit-elle de l'oxygène ?", None),
    ("Wie hoch ist der Eiffelturm?", None),
    ("¿Por qué sube la masa del pan?", None),
    ("什么是量子比特？", None),
    ("Что такое кубит?", None),
    ("pain", "fr"),
]


class CliError(Exception):
    """An error the user can fix: printed as one ``error:`` line, exit ``code``."""

    def __init__(self, message: str, code: int = EXIT_USAGE) -> None:
        super().__init__(message)
        self.message = message
        self.code = code


class _UsageError(Exception):
    """Raised instead of argparse's print-usage-and-exit, so main() can print one line."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        raise _UsageError(f"{message} (see `{self.prog} --help`)")


# -- output helpers ---------------------------------------------------------------------------------
def _say(*parts: Any) -> None:
    print(*parts, file=sys.stdout)


def _note(message: str, quiet: bool = False) -> None:
    if not quiet:
        print(message, file=sys.stderr)


def _one_line(message: object) -> str:
    return " ".join(str(message).split())


def _progress(total: int, desc: str, unit: str, quiet: bool) -> Any:
    """A tqdm bar on stderr, off with --quiet or when stderr is not a terminal."""
    from tqdm import tqdm

    return tqdm(
        total=total,
        desc=desc,
        unit=unit,
        file=sys.stderr,
        leave=False,
        dynamic_ncols=True,
        disable=quiet or not sys.stderr.isatty(),
    )


def _display_source(source: str) -> str:
    """A path relative to the working folder when it lies under it, else as stored."""
    try:
        rel = os.path.relpath(source)
    except ValueError:  # another drive (Windows)
        return source
    return source if rel.startswith("..") else rel


# -- reading files ----------------------------------------------------------------------------------
def _read_bytes(path: Path) -> bytes:
    """One place that reads a file (tests replace it to simulate EACCES when running as root)."""
    return path.read_bytes()


def _decode(data: bytes, path: Path) -> str:
    """UTF-8 (a BOM is fine; UTF-16 with a BOM too); anything else is a clear error."""
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
        raise CliError(
            f"{path} is not UTF-8 text (byte 0x{data[exc.start]:02x} at offset {exc.start}); "
            f"convert it first, e.g. `iconv -f LATIN1 -t UTF-8 {quoted} > converted{path.suffix}`"
        ) from None
    if "\x00" in text:
        raise CliError(f"{path} looks like a binary file (it contains NUL bytes); pass text files only")
    return text


def _read_text(path: Path) -> str:
    try:
        data = _read_bytes(path)
    except PermissionError:
        raise CliError(f"cannot read {path}: permission denied") from None
    except OSError as exc:
        raise CliError(f"cannot read {path}: {exc.strerror or exc}") from None
    return _decode(data, path)


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
class Document:
    """Text read from one file, or one record of a JSON / JSONL file."""

    source: str  # absolute path
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
                raise CliError(f"{path}:{lineno}: not valid JSON ({exc.msg})") from None
    else:
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise CliError(f"{path}:{exc.lineno}: not valid JSON ({exc.msg})") from None
        records = data if isinstance(data, list) else [data]
    return [
        (i, r["text"])
        for i, r in enumerate(records)
        if isinstance(r, dict) and isinstance(r.get("text"), str) and r["text"].strip()
    ]


def read_documents(path: Path, explicit: bool) -> tuple[list[Document], str | None]:
    """Documents of one file, plus a note when a file found in a folder was skipped."""
    kind = SUPPORTED_SUFFIXES[path.suffix.lower()]
    source = str(path.absolute())
    if kind in ("json", "jsonl"):
        text = _read_text(path)  # unreadable or not UTF-8: always an error
        try:
            items = _json_texts(text, path, kind == "jsonl")
        except CliError as exc:
            if explicit:
                raise
            return [], f"skipped {exc.message}"  # e.g. a config file found in a folder
        if not items:
            message = f'{path} holds no record with a "text" field'
            if explicit:
                raise CliError(f'{message}; JSON files need [{{"text": ...}}, ...] or one such object')
            return [], f"skipped {message}"
        return [Document(source, t, i) for i, t in items], None
    text = _read_text(path)
    if kind == "html":
        text = html_to_text(text)
    return ([Document(source, text)] if text.strip() else []), None


def collect_files(paths: Sequence[str], exclude: Sequence[Path] = ()) -> list[tuple[Path, bool]]:
    """Supported files under ``paths`` (recursive, hidden entries skipped), each once, in order.

    Each item is ``(path, explicit)``: whether the user named the file itself.
    """
    excluded = {p.resolve() for p in exclude}
    found: dict[Path, tuple[Path, bool]] = {}

    def raise_walk_error(exc: OSError) -> None:
        raise CliError(f"cannot read folder {exc.filename}: {exc.strerror or exc}")

    for raw in paths:
        path = Path(raw).expanduser()
        if not path.exists():
            raise CliError(f"path not found: {raw}")
        if path.is_file():
            if path.suffix.lower() not in SUPPORTED_SUFFIXES:
                raise CliError(
                    f"unsupported file type {path.suffix or '(none)'!r}: {raw} "
                    f"(supported: {', '.join(SUPPORTED_SUFFIXES)})"
                )
            found.setdefault(path.resolve(), (path, True))
            continue
        if not path.is_dir():
            raise CliError(f"not a regular file or folder: {raw}")
        before = len(found)
        for folder, dirnames, filenames in os.walk(path, onerror=raise_walk_error):
            dirnames[:] = sorted(
                d for d in dirnames if not d.startswith(".") and (Path(folder) / d).resolve() not in excluded
            )
            for name in sorted(filenames):
                file = Path(folder) / name
                if name.startswith(".") or file.suffix.lower() not in SUPPORTED_SUFFIXES:
                    continue
                found.setdefault(file.resolve(), (file, False))
        if len(found) == before:
            raise CliError(
                f"no supported files in {raw} (looked for {', '.join(SUPPORTED_SUFFIXES)}, recursively)"
            )
    return list(found.values())


# -- chunking ---------------------------------------------------------------------------------------
_HEADING_MARK = re.compile(r"(?m)^[ \t]*#{1,6}[ \t]+")
_PARAGRAPH = re.compile(r"\n[ \t]*\n\s*")
_SENTENCE_END = re.compile(r"(?<=[.!?;:。！？；؟…])\s+|(?<=[。！？；])")


def _split_long(paragraph: str, size: int) -> list[str]:
    """Cut a paragraph longer than ``size`` at sentence ends, then spaces, then anywhere."""
    units: list[str] = []
    for sentence in (s for s in _SENTENCE_END.split(paragraph) if s.strip()):
        if len(sentence) <= size:
            units.append(sentence.strip())
            continue
        for word in sentence.split():
            while len(word) > size:  # no spaces (e.g. CJK): hard cut
                units.append(word[:size])
                word = word[size:]
            units.append(word)
    pieces: list[str] = []
    current = ""
    for unit in units:
        glue = "" if not current or _no_space_join(current, unit) else " "
        if current and len(current) + len(glue) + len(unit) > size:
            pieces.append(current)
            current, glue = "", ""
        current += glue + unit
    if current:
        pieces.append(current)
    return pieces


def _no_space_join(left: str, right: str) -> bool:
    """CJK text is written without spaces between sentences."""
    return bool(left) and bool(right) and ord(left[-1]) >= 0x2E80 and ord(right[0]) >= 0x2E80


def _tail(text: str, overlap: int) -> str:
    """The last ``overlap`` characters of ``text``, starting at a word boundary when there is one."""
    if overlap <= 0:
        return ""
    if len(text) <= overlap:
        return text
    tail = text[-overlap:]
    cut = tail.find(" ")
    return tail[cut + 1 :] if 0 <= cut < len(tail) - 1 else tail


def chunk_text(text: str, size: int = 1000, overlap: int = 100) -> list[str]:
    """Split ``text`` into chunks of at most ``size`` characters.

    Paragraphs (blank-line separated) are packed whole while they fit; a longer one is cut at
    sentence ends. Each chunk after the first starts with the last ``overlap`` characters of
    the previous one, so a sentence cut at a boundary is still found whole in one chunk.
    """
    if size < 1:
        raise ValueError(f"chunk size must be >= 1, got {size}")
    if not 0 <= overlap < size:
        raise ValueError(f"chunk overlap must be in [0, chunk size), got {overlap}")
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    pieces: list[tuple[str, bool]] = []  # (piece, continues the previous paragraph)
    for paragraph in _PARAGRAPH.split(text):
        paragraph = paragraph.strip()
        if not paragraph:
            continue
        parts = [paragraph] if len(paragraph) <= size else _split_long(paragraph, size)
        pieces.extend((p, i > 0) for i, p in enumerate(parts))
    chunks: list[str] = []
    current = ""
    for piece, continues in pieces:
        glue = (" " if not _no_space_join(current, piece) else "") if continues else "\n\n"
        if not current:
            current = piece
        elif len(current) + len(glue) + len(piece) <= size:
            current += glue + piece
        else:
            chunks.append(current)
            tail = _tail(current, overlap)
            current = tail + glue + piece if tail and len(tail) + len(glue) + len(piece) <= size else piece
    if current:
        chunks.append(current)
    return chunks


@dataclass(frozen=True)
class Chunk:
    id: str
    text: str
    metadata: dict[str, Any]


def chunk_id(source: str, record: int | None, index: int) -> str:
    """Stable id: sha1 of the source path (and record, for JSON) and the chunk index."""
    key = source if record is None else f"{source}#{record}"
    return hashlib.sha1(f"{key}\n{index}".encode()).hexdigest()


def make_chunks(docs: Sequence[Document], size: int, overlap: int) -> list[Chunk]:
    out: list[Chunk] = []
    for doc in docs:
        for i, piece in enumerate(chunk_text(doc.text, size, overlap)):
            meta: dict[str, Any] = {"source": doc.source, "chunk_index": i}
            if doc.record is not None:
                meta["record"] = doc.record
            out.append(Chunk(chunk_id(doc.source, doc.record, i), piece, meta))
    return out


# -- models and stores ------------------------------------------------------------------------------
@contextlib.contextmanager
def _offline() -> Iterator[None]:
    """Look at the local Hugging Face cache only: choosing a default must not touch the network."""
    saved = os.environ.get("HF_HUB_OFFLINE")
    os.environ["HF_HUB_OFFLINE"] = "1"
    try:
        yield
    finally:
        if saved is None:
            os.environ.pop("HF_HUB_OFFLINE", None)
        else:
            os.environ["HF_HUB_OFFLINE"] = saved


def default_model() -> tuple[str, str]:
    """(model, why): $DEPOSIUM_RAG_MODEL, else the default model if cached, else ``bundled``."""
    from deposium_rag.errors import DeposiumError
    from deposium_rag.models import DEFAULT_MODEL, MODEL_ENV_VAR, resolve_model

    env = os.environ.get(MODEL_ENV_VAR, "").strip()
    if env:
        return env, f"from ${MODEL_ENV_VAR}"
    try:
        with _offline():
            resolve_model(DEFAULT_MODEL)
    except (DeposiumError, OSError, ValueError):
        return "bundled", f"{DEFAULT_MODEL} is not in the local Hugging Face cache; --model to choose"
    return DEFAULT_MODEL, "the default model, found in the local Hugging Face cache"


def load_embedder(model: str, store_model: str | None = None) -> StaticEmbedder:
    """Load a model, turning the core's errors into one-line CLI errors."""
    from deposium_rag.errors import ModelNotAvailableError, ModelNotFoundError
    from deposium_rag.models import StaticEmbedder

    prefix = (
        f"this store was built with model {store_model!r}, which cannot be loaded: " if store_model else ""
    )
    try:
        return StaticEmbedder(model)
    except ModelNotAvailableError as exc:
        raise CliError(prefix + str(exc), EXIT_ENV) from None
    except (ModelNotFoundError, ValueError, TypeError) as exc:
        raise CliError(prefix + str(exc)) from None


def _store_manifest(store: Path, *, for_query: bool) -> dict[str, Any] | None:
    """The router manifest of ``store``; None when ``store`` is missing or an empty folder.

    Refuses a file, or a non-empty folder that holds no store: saving there would replace it.
    """
    from deposium_rag import _atomic

    _atomic.recover(store)  # a save cut between its two renames: put the old store back
    build = f"build one with `deposium-rag index PATH --store {shlex.quote(str(store))}`"
    if not store.exists():
        if for_query:
            raise CliError(f"no store at {store}: {build}")
        return None
    if not store.is_dir():
        raise CliError(f"{store} is a file, not a store folder")
    manifest_path = store / "manifest.json"
    if not manifest_path.is_file():
        if for_query:
            raise CliError(f"{store} holds no deposium-rag store (no manifest.json): {build}")
        if any(store.iterdir()):
            raise CliError(
                f"{store} is not empty and holds no deposium-rag store (no manifest.json); "
                "pass a new or empty folder to --store"
            )
        return None
    try:
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise CliError(f"cannot read the store manifest {manifest_path}: {_one_line(exc)}") from None
    if not isinstance(manifest, dict) or not isinstance(manifest.get("model_name"), str):
        raise CliError(f"{manifest_path} is not a deposium-rag store manifest (no model_name)")
    return manifest


@functools.cache
def _detector(name: str) -> LanguageDetector:
    """One detector per name per process: they are immutable, and py3langid's takes ~0.7 s to load."""
    from deposium_rag.language import get_detector

    return get_detector(name)


def new_router(embedder: StaticEmbedder) -> LanguageRouter:
    from deposium_rag.language import DEFAULT_DETECTOR
    from deposium_rag.retrievers.router import LanguageRouter

    return LanguageRouter(embedder, detector=_detector(DEFAULT_DETECTOR))


def load_router(store: Path, embedder: StaticEmbedder, manifest: dict[str, Any]) -> LanguageRouter:
    """Load a saved store with its own detector; refuse one built with another model."""
    from deposium_rag.errors import DimensionMismatchError, ModelMismatchError
    from deposium_rag.language import DEFAULT_DETECTOR
    from deposium_rag.retrievers.router import LanguageRouter

    saved_model = manifest.get("model_name")
    try:
        detector = _detector(str(manifest.get("detector") or DEFAULT_DETECTOR))
    except ValueError as exc:
        raise CliError(f"store {store}: {_one_line(exc)}") from None
    try:
        return LanguageRouter.load(store, embedder, detector=detector)
    except (ModelMismatchError, DimensionMismatchError):
        raise CliError(
            f"store {store} was built with model {saved_model!r}, not {embedder.model_name!r}; "
            "drop --model to use the store's own model, or choose a new --store"
        ) from None


def _language_table(router: LanguageRouter) -> list[str]:
    """Files and chunks per language of the whole store."""
    rows = []
    all_sources: set[str] = set()
    for lang, count in router.counts().items():
        part = router.partition(lang)
        sources = {str(r.metadata.get("source")) for r in part.records()} if part is not None else set()
        all_sources |= sources
        rows.append((lang, len(sources), count))
    rows.append(("total", len(all_sources), len(router)))
    out = [f"{'language':<9}{'files':>7}{'chunks':>8}"]
    out += [f"{lang:<9}{files:>7}{chunks:>8}" for lang, files, chunks in rows]
    return out


def _ingest(
    router: LanguageRouter, chunks: Sequence[Chunk], sources: Sequence[str], quiet: bool
) -> tuple[int, int, int]:
    """Upsert ``chunks``; drop the old chunks of ``sources`` (the files read) not among them.

    A file that shrank, or was emptied, loses the chunks it no longer has. Returns
    (new, updated, removed).
    """
    new_ids = {c.id for c in chunks}
    sources = sorted(set(sources))
    stale: list[str] = []
    for lang in router.counts():
        part = router.partition(lang)
        if part is not None:
            stale += [d for d in part.matching_ids({"source": {"$in": sources}}) if d not in new_ids]
    fresh = sum(1 for c in chunks if router.language_of(c.id) is None)
    with _progress(len(chunks), "embedding", "chunk", quiet) as bar:
        for start in range(0, len(chunks), ADD_BATCH):
            batch = chunks[start : start + ADD_BATCH]
            router.add([c.text for c in batch], [c.metadata for c in batch], [c.id for c in batch])
            bar.update(len(batch))
    removed = router.delete(stale)
    return fresh, len(chunks) - fresh, removed


def _read_all(files: Sequence[tuple[Path, bool]], quiet: bool) -> list[Document]:
    docs: list[Document] = []
    with _progress(len(files), "reading", "file", quiet) as bar:
        for path, explicit in files:
            found, note = read_documents(path, explicit)
            if note and not quiet:
                bar.write(f"note: {note}", file=sys.stderr)
            docs.extend(found)
            bar.update(1)
    return docs


# -- commands ---------------------------------------------------------------------------------------
def _index_ray(args: argparse.Namespace) -> int:
    """``index --ray --milvus-uri URI``: distributed ingestion into a Milvus collection."""
    if not (args.ray and args.milvus_uri) or args.store:
        raise CliError(
            "--ray and --milvus-uri go together, without --store (e.g. --milvus-uri http://127.0.0.1:19530)"
        )
    from deposium_rag.ingest.ray import ingest_folder_ray

    try:
        done = ingest_folder_ray(
            args.paths,
            args.milvus_uri,
            args.collection,
            model=args.model or default_model()[0],
            chunk_size=args.chunk_size,
            chunk_overlap=args.chunk_overlap,
        )
    except ValueError as exc:
        raise CliError(str(exc)) from None
    _say(
        f"indexed {done['files']} file(s) into {done['chunks']} chunk(s); "
        f"collection {args.collection} at {args.milvus_uri}"
    )
    for lang, n in done["languages"].items():
        _say(f"  {lang}  {n}")
    return EXIT_OK


def cmd_index(args: argparse.Namespace) -> int:
    if args.ray or args.milvus_uri:
        return _index_ray(args)
    if not args.store:
        raise CliError("--store DIR is required (or --ray --milvus-uri URI)")
    if args.chunk_size < 1:
        raise CliError(f"--chunk-size must be >= 1, got {args.chunk_size}")
    if not 0 <= args.chunk_overlap < args.chunk_size:
        raise CliError(f"--chunk-overlap must be >= 0 and < --chunk-size, got {args.chunk_overlap}")
    store = Path(args.store).expanduser()
    manifest = _store_manifest(store, for_query=False)
    files = collect_files(args.paths, exclude=[store])
    # Model and store next, so a wrong --model fails before the (possibly long) reading.
    saved_model = manifest["model_name"] if manifest else None
    if args.model:
        model, why = args.model, "--model"
    elif saved_model:
        model, why = saved_model, "the model this store was built with"
    else:
        model, why = default_model()
    embedder = load_embedder(model, None if args.model else saved_model)
    router = load_router(store, embedder, manifest) if manifest else new_router(embedder)
    docs = _read_all(files, args.quiet)
    chunks = make_chunks(docs, args.chunk_size, args.chunk_overlap)
    if not chunks:
        raise CliError(f"nothing to index: the {len(files)} file(s) found hold no text")
    _say(f"model: {embedder.model_name} (dim {embedder.dim}; {why})")
    read = [str(path.absolute()) for path, _ in files]
    fresh, updated, removed = _ingest(router, chunks, read, args.quiet)
    router.save(store)
    n_files = len({c.metadata["source"] for c in chunks})
    _say(
        f"indexed {n_files} file(s) into {len(chunks)} chunk(s): {fresh} new, {updated} updated, "
        f"{removed} removed; store {store}"
    )
    for row in _language_table(router):
        _say("  " + row)
    return EXIT_OK


def _route_text(result: RoutedResult) -> str:
    """``en + fr (uncertain: merged by score; candidates en 0.49, fr 0.49)``."""
    route = result.route
    langs = " + ".join(route.languages) or "none"
    top = [c for c in route.candidates[:3] if c.probability >= 0.01]
    cands = ", ".join(f"{c.language} {c.probability:.2f}" for c in top)
    return f"{langs} ({route.reason}{'; candidates ' + cands if cands else ''})"


def _snippet(text: str, width: int) -> str:
    """One line of at most ``width`` terminal columns (CJK counts 2), markdown heading marks dropped."""
    flat = " ".join(_HEADING_MARK.sub("", text).split())
    cols = 0
    for i, ch in enumerate(flat):
        cols += 2 if unicodedata.east_asian_width(ch) in "WF" else 1
        if cols > width - 1:
            return flat[:i].rstrip() + "…"
    return flat


def _result_json(result: RoutedResult, query: str, model: str, mode: str) -> dict[str, Any]:
    return {
        "query": query,
        "model": model,
        "mode": mode,
        "route": {
            "languages": list(result.route.languages),
            "reason": result.route.reason,
            "candidates": [
                {"language": c.language, "probability": round(c.probability, 4)}
                for c in result.route.candidates
            ],
        },
        "results": [
            {
                "id": hit.id,
                "score": round(hit.score, 6),
                "relevance": round(hit.relevance, 6),
                "language": lang,
                "source": hit.metadata.get("source"),
                "chunk_index": hit.metadata.get("chunk_index"),
                "text": hit.text,
            }
            for hit, lang in zip(result.hits, result.languages)
        ],
    }


def _search(
    router: LanguageRouter, text: str, k: int, language: str | None, mode: str | None = None
) -> RoutedResult:
    try:
        return router.search(text, k, language=language, mode=mode)  # type: ignore[arg-type]
    except ValueError as exc:  # a bad language code, or an empty query
        raise CliError(f"--language {language}: {_one_line(exc)}" if language else _one_line(exc)) from None


_SCORES = {
    "dense": "score = cosine similarity",
    "lexical": "score = BM25 rescaled per language, 2r - 1: 1 = best of its partition",
    "hybrid": "score = BM25 + cosine fused per language, 2r - 1: 1 = best of its partition",
}


def cmd_query(args: argparse.Namespace) -> int:
    if not args.text.strip():
        raise CliError("the query is empty: pass some text to search for")
    if args.k < 1:
        raise CliError(f"-k must be >= 1, got {args.k}")
    store = Path(args.store).expanduser()
    manifest = _store_manifest(store, for_query=True)
    assert manifest is not None
    saved_model = manifest["model_name"]
    embedder = load_embedder(args.model or saved_model, None if args.model else saved_model)
    router = load_router(store, embedder, manifest)
    mode = args.mode or router.mode
    result = _search(router, args.text, args.k, args.language, mode)
    if args.json:
        payload = _result_json(result, args.text, embedder.model_name, mode)
        _say(json.dumps(payload, ensure_ascii=False, indent=2))
        return EXIT_OK
    _say(f"route: {_route_text(result)}")
    _say(f"mode: {mode} ({_SCORES.get(mode, mode)})")
    if not result.hits:
        _say("no results")
    for rank, (hit, lang) in enumerate(zip(result.hits, result.languages), 1):
        source = _display_source(str(hit.metadata.get("source", "?")))
        if "record" in hit.metadata:
            source += f"#{hit.metadata['record']}"
        chunk = hit.metadata.get("chunk_index", "?")
        _say(f"{rank:>2}. {hit.score:6.3f}  {lang:<3} {source} [chunk {chunk}]")
        _say(f"    {_snippet(hit.text, 160)}")
    return EXIT_OK


def cmd_demo(args: argparse.Namespace) -> int:
    model, why = (args.model, "--model") if args.model else default_model()
    embedder = load_embedder(model)
    files = collect_files([str(SAMPLE_DOCS)])
    docs = _read_all(files, args.quiet)
    chunks = make_chunks(docs, 1000, 100)
    with tempfile.TemporaryDirectory(prefix="deposium-rag-demo-") as tmp:
        store = Path(tmp) / "store"
        built = new_router(embedder)
        _ingest(built, chunks, [], args.quiet)
        built.save(store)
        router = load_router(store, embedder, _store_manifest(store, for_query=True) or {})
        counts = ", ".join(f"{lang} {n}" for lang, n in router.counts().items())
        _say(f"deposium-rag demo: {len(docs)} sample documents, one store per language ({counts})")
        _say(f"model: {embedder.model_name} (dim {embedder.dim}; {why})")
        _say(f"mode: {router.mode} ({_SCORES.get(router.mode, router.mode)})")
        for text, language in DEMO_QUERIES:
            result = _search(router, text, 3, language)
            forced = f"  [--language {language}]" if language else ""
            _say(f"\n> {text}{forced}")
            _say(f"  route: {_route_text(result)}")
            for hit, lang in zip(result.hits, result.languages):
                name = Path(str(hit.metadata.get("source", "?"))).name
                _say(f"  {hit.score:6.3f}  {lang:<3} {name:<25} {_snippet(hit.text, 50)}")
    _say(
        "\nyour own files: deposium-rag index PATH... --store DIR, then deposium-rag query DIR "
        '"question" (--json, --language xx)'
    )
    return EXIT_OK


@contextlib.contextmanager
def _benchmark_module(script: str) -> Iterator[Any]:
    """Import a benchmark of the repository by path, with its folder importable, then undo it."""
    path = BENCHMARKS / script
    if not path.is_file():
        raise CliError(
            f"benchmarks/{script} ships with the deposium-rag repository, not the installed package; "
            "run this command from a clone (pip install -e . in it)"
        )
    saved_path, saved_argv = list(sys.path), list(sys.argv)
    helpers = {name: sys.modules.pop(name) for name in ("_data", "_metrics") if name in sys.modules}
    sys.path.insert(0, str(BENCHMARKS))
    try:
        spec = importlib.util.spec_from_file_location(f"_deposium_bench_{path.stem}", path)
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        yield module
    finally:
        sys.path[:] = saved_path
        sys.argv[:] = saved_argv
        for name in ("_data", "_metrics"):
            sys.modules.pop(name, None)
        sys.modules.update(helpers)


def _run_benchmark(script: str, argv: list[str]) -> int:
    from deposium_rag.errors import DeposiumError

    try:
        with _benchmark_module(script) as module:
            sys.argv[:] = [script, *argv]
            try:
                module.main()
            except SystemExit as exc:
                return _exit_code(exc)
    except DeposiumError:  # ModelNotFoundError is a FileNotFoundError too: not a data problem
        raise
    except FileNotFoundError as exc:
        raise CliError(
            f"benchmark data not found ({exc.filename}); the benchmarks read ../shared/data next to "
            "the repository, or set DEPOSIUM_DATA to the folder holding xquad-r/ and xquad/"
        ) from None
    except ImportError as exc:
        raise CliError(f"{script} needs a package that is not installed: {_one_line(exc)}") from None
    return EXIT_OK


def cmd_eval(args: argparse.Namespace) -> int:
    model, why = (args.model, "--model") if args.model else default_model()
    embedder = load_embedder(model)  # a bad --model fails here, in one line
    if args.suite == "xquad":
        argv = ["--model", model]
        if args.max_questions is not None:
            argv += ["--max-questions", str(args.max_questions)]
        return _run_benchmark("xquad_routing.py", argv)
    if args.max_questions is not None:
        raise CliError("--max-questions applies to --suite xquad only")
    from deposium_rag import seed_eval

    report = seed_eval.run(embedder)
    _say(seed_eval.format_report(report))
    _note(f"(model {embedder.model_name}: {why})", args.quiet)
    return EXIT_OK


def cmd_bench(args: argparse.Namespace) -> int:
    model = args.model or default_model()[0]
    load_embedder(model)
    return _run_benchmark("embed_overhead.py", ["--model", model, "--repeat", str(args.repeat)])


# -- entry point ------------------------------------------------------------------------------------
def build_parser() -> argparse.ArgumentParser:
    common = _Parser(add_help=False)
    common.add_argument("-q", "--quiet", action="store_true", help="no progress bars or notes")
    common.add_argument("--debug", action="store_true", help="show the traceback of an unexpected error")
    model_help = "hub id, local folder or 'bundled' (default: the default model if cached, else bundled)"

    parser = _Parser(
        prog="deposium-rag",
        description="Multilingual retrieval with Model2Vec static embeddings and language routing.",
    )
    from deposium_rag import __version__

    parser.add_argument("--version", action="version", version=f"deposium-rag {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    p = sub.add_parser("index", parents=[common], help="index files and folders into a routed store")
    p.add_argument(
        "paths", nargs="+", metavar="PATH", help="files or folders (.txt .md .rst .html .json ...)"
    )
    p.add_argument("--store", metavar="DIR", help="store folder (created, or updated)")
    p.add_argument("--model", help=model_help + "; an existing store keeps its own model")
    p.add_argument("--chunk-size", type=int, default=1000, metavar="N", help="characters (default 1000)")
    p.add_argument("--chunk-overlap", type=int, default=100, metavar="N", help="characters (default 100)")
    p.add_argument(
        "--ray", action="store_true", help="read, embed and write with Ray Data (needs --milvus-uri)"
    )
    p.add_argument(
        "--milvus-uri", metavar="URI", help="Milvus server to write to with --ray (http://host:19530)"
    )
    p.add_argument("--collection", default="deposium_rag", help="Milvus collection (default deposium_rag)")
    p.set_defaults(func=cmd_index)

    p = sub.add_parser("query", parents=[common], help="search a store")
    p.add_argument("store", metavar="DIR")
    p.add_argument("text", help="the query")
    p.add_argument("-k", type=int, default=5, help="number of results (default 5)")
    p.add_argument("--language", metavar="xx", help="search this language's partition (ISO 639-1)")
    p.add_argument("--json", action="store_true", help="print JSON: route and results")
    p.add_argument(
        "--mode", choices=["dense", "lexical", "hybrid"], help="ranking (default: the store's, hybrid)"
    )
    p.add_argument("--model", help="load the store with this model (default: the one it was built with)")
    p.set_defaults(func=cmd_query)

    p = sub.add_parser("demo", parents=[common], help="index the bundled sample documents and query them")
    p.add_argument("--model", help=model_help)
    p.set_defaults(func=cmd_demo)

    p = sub.add_parser("eval", parents=[common], help="run an evaluation suite")
    p.add_argument("--suite", choices=["seed", "xquad"], default="seed", help="default: seed")
    p.add_argument("--model", help=model_help)
    p.add_argument("--max-questions", type=int, metavar="N", help="xquad: questions per language")
    p.set_defaults(func=cmd_eval)

    p = sub.add_parser("bench", parents=[common], help="embedding overhead benchmark (repository only)")
    p.add_argument("--model", help=model_help)
    p.add_argument("--repeat", type=int, default=5)
    p.set_defaults(func=cmd_bench)
    return parser


def _exit_code(exc: SystemExit) -> int:
    if exc.code is None:
        return EXIT_OK
    if isinstance(exc.code, int):
        return exc.code
    print(exc.code, file=sys.stderr)
    return EXIT_ENV


def _error(message: object) -> None:
    print(f"error: {_one_line(message)}", file=sys.stderr)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit code (0 ok, 1 environment, 2 usage or input)."""
    with contextlib.suppress(AttributeError, ValueError):
        if (sys.stdout.encoding or "").lower().replace("-", "") != "utf8":
            sys.stdout.reconfigure(errors="backslashreplace")  # type: ignore[union-attr]
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except _UsageError as exc:
        _error(exc)
        return EXIT_USAGE
    except SystemExit as exc:  # --help, --version
        return _exit_code(exc)
    func: Callable[[argparse.Namespace], int] = args.func
    try:
        return func(args)
    except CliError as exc:
        _error(exc.message)
        return exc.code
    except KeyboardInterrupt:
        _error("interrupted")
        return 130
    except BrokenPipeError:  # `deposium-rag ... | head`: the reader left, nothing to report
        with contextlib.suppress(OSError, ValueError, AttributeError):
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # no error at exit
        return 141
    except Exception as exc:
        from deposium_rag.errors import DeposiumError, ModelNotAvailableError

        if args.debug:
            raise
        if isinstance(exc, DeposiumError):
            _error(exc)
            return EXIT_ENV if isinstance(exc, ModelNotAvailableError) else EXIT_USAGE
        _error(f"unexpected {type(exc).__name__}: {exc} (re-run with --debug for the traceback)")
        return EXIT_ENV


if __name__ == "__main__":
    raise SystemExit(main())
