"""The ``deposium-rag`` command line: index, query, demo, eval, bench.

Why it is shaped this way:

* every mistake a user can make (a missing path, an empty folder, a file that is not UTF-8, a
  store built with another model, an empty query) ends as ONE line on stderr starting with
  ``error:`` and exit code 2 (1 for an environment problem such as a model that is not
  downloaded), never a traceback; ``--debug`` shows the traceback of an unexpected error;
* ``index`` reads and checks all its input, and loads the model and the existing store,
  before it writes anything; the save itself is atomic, so a failed run leaves the store
  exactly as it was;
* ingestion (discovery, readers, chunking, ids, incremental logic) lives in
  :mod:`deposium_rag.ingest`; this module parses arguments and prints;
* chunk ids are ``sha1(resolved source path, chunk index)`` and each chunk keeps its file's
  content hash: indexing a folder again embeds only new and changed files, changed files
  have their chunks replaced, and files gone from the folder are reported (``--prune``
  removes them); unreadable files are skipped and listed at the end (``--strict`` stops).
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import importlib.util
import json
import os
import re
import shlex
import sys
import tempfile
import unicodedata
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

from deposium_rag.ingest import (
    SUPPORTED_SUFFIXES,
    Discovery,
    IndexPlan,
    IngestError,
    UnreadableFileError,
    apply_plan,
    chunk_text,
    collect_files,
    html_to_text,
    plan_index,
    store_table,
)
from deposium_rag.ingest.cache import quick_plan, read_cache, write_cache

if TYPE_CHECKING:
    from deposium_rag.language import LanguageDetector
    from deposium_rag.models import StaticEmbedder
    from deposium_rag.retrievers.router import LanguageRouter, RoutedResult

__all__ = ["SUPPORTED_SUFFIXES", "chunk_text", "html_to_text", "main"]

EXIT_OK, EXIT_ENV, EXIT_USAGE = 0, 1, 2
SAMPLE_DOCS = Path(__file__).resolve().parent / "sample_docs"
BENCHMARKS = Path(__file__).resolve().parent.parent / "benchmarks"
_HEADING_MARK = re.compile(r"(?m)^[ \t]*#{1,6}[ \t]+")
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


def _language_table(rows: Sequence[tuple[str, int, int]]) -> list[str]:
    """Files and chunks per language of the whole store."""
    out = [f"{'language':<9}{'files':>7}{'chunks':>8}"]
    out += [f"{lang:<9}{files:>7}{chunks:>8}" for lang, files, chunks in rows]
    return out


# -- commands ---------------------------------------------------------------------------------------
def _discover(paths: Sequence[str], exclude: Sequence[Path] = ()) -> Discovery:
    try:
        return collect_files(paths, exclude)
    except IngestError as exc:
        raise CliError(str(exc)) from None


def _names(sources: Sequence[str], limit: int = 5) -> str:
    shown = ", ".join(_display_source(s) for s in sources[:limit])
    return shown + (f" and {len(sources) - limit} more" if len(sources) > limit else "")


def _index_summary(plan: IndexPlan, counts: tuple[int, int, int], store: Path, prune: bool) -> list[str]:
    fresh, updated, removed = counts
    unchanged = len(plan.unchanged_files)
    lines = []
    if plan.chunks or plan.stale or (prune and plan.removed_ids):
        lines.append(
            f"indexed {plan.embedded_files} file(s) into {len(plan.chunks)} chunk(s): {fresh} new, "
            f"{updated} updated, {removed} removed; {unchanged} unchanged; store {store}"
        )
    else:
        lines.append(f"nothing to embed: {unchanged} unchanged file(s); store {store} left as it was")
    if plan.removed_files:
        n, chunks = len(plan.removed_files), plan.removed_chunks
        if prune:
            lines.append(
                f"pruned {n} file(s) no longer found ({chunks} chunk(s)): {_names(plan.removed_files)}"
            )
        else:
            lines.append(
                f"{n} file(s) indexed before are gone ({chunks} chunk(s) kept; --prune removes them): "
                f"{_names(plan.removed_files)}"
            )
    if plan.unsupported:
        kinds = ", ".join(f"{suffix} {n}" for suffix, n in plan.unsupported.most_common())
        lines.append(f"skipped {sum(plan.unsupported.values())} unsupported file(s) ({kinds})")
    if plan.unreadable:
        lines.append(f"skipped {len(plan.unreadable)} unreadable file(s) (--strict stops at the first):")
        lines += [f"  - {_one_line(exc.reason)}" for exc in plan.unreadable]
    return lines


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
    found = _discover(args.paths, exclude=[store])
    saved_model = manifest["model_name"] if manifest else None
    previous = read_cache(store) if manifest else None
    languages = (
        _languages_option(args.languages, manifest.get("languages") if manifest else None)
        if (args.languages)
        else None
    )
    relabel = bool(manifest) and languages is not None and languages != manifest.get("languages")
    if manifest and args.model in (None, saved_model) and not relabel:
        # Nothing changed since the last run? Then neither the model nor the store is loaded.
        quick = quick_plan(
            store, found, args.chunk_size, args.chunk_overlap, strict=args.strict, prune=args.prune
        )
        if quick is not None:
            plan, rows = quick
            for note in plan.notes:
                _note(f"note: {note}", args.quiet)
            _say(
                f"model: {saved_model} (dim {manifest.get('dim', '?')}; the model this store was built with)"
            )
            for line in _index_summary(plan, (0, 0, 0), store, args.prune):
                _say(line)
            for row in _language_table(rows):
                _say("  " + row)
            return EXIT_OK
    # Model and store next, so a wrong --model fails before the (possibly long) reading.
    if args.model:
        model, why = args.model, "--model"
    elif saved_model:
        model, why = saved_model, "the model this store was built with"
    else:
        model, why = default_model()
    embedder = load_embedder(model, None if args.model else saved_model)
    router = load_router(store, embedder, manifest) if manifest else new_router(embedder)
    if languages is not None:
        router.allowed = languages
    if relabel:
        _note("note: the language set changed: every file is read and its chunks detected again", args.quiet)
    with _progress(len(found.files), "reading", "file", args.quiet) as bar:
        try:
            plan = plan_index(
                router,
                found,
                args.chunk_size,
                args.chunk_overlap,
                strict=args.strict,
                force=relabel,
                on_file=lambda: bar.update(1),
            )
        except UnreadableFileError as exc:
            raise CliError(exc.reason) from None
        for note in plan.notes:
            if not args.quiet:
                bar.write(f"note: {note}", file=sys.stderr)
    if not plan.chunks and not len(router):
        if plan.unreadable:
            more = f" (and {len(plan.unreadable) - 1} more unreadable)" if len(plan.unreadable) > 1 else ""
            raise CliError(f"nothing to index: {plan.unreadable[0].reason}{more}")
        raise CliError(f"nothing to index: the {len(found.files)} file(s) found hold no text")
    _say(f"model: {embedder.model_name} (dim {embedder.dim}; {why})")
    outside: dict[str, int] = {}

    def added(n: int) -> None:
        bar.update(n)
        for lang, count in router.last_ingest_report.outside.items():
            outside[lang] = outside.get(lang, 0) + count

    with _progress(len(plan.chunks), "embedding", "chunk", args.quiet) as bar:
        counts = apply_plan(router, plan, prune=args.prune, on_chunks=added)
    if outside:
        langs = ", ".join(f"{lang}: {n}" for lang, n in sorted(outside.items(), key=lambda kv: -kv[1]))
        _say(
            f"note: {sum(outside.values())} chunk(s) look like languages outside the store's set "
            f"({langs}) and were filed under 'und'; re-index with --languages +{','.join(sorted(outside))}"
        )
    if plan.chunks or counts[2]:
        router.save(store)
    rows, per_source = store_table(router)
    write_cache(store, plan, rows, per_source, previous)
    for line in _index_summary(plan, counts, store, args.prune):
        _say(line)
    for row in _language_table(rows):
        _say("  " + row)
    return EXIT_OK


def _languages_option(value: str, current: list[str] | None) -> list[str]:
    """``--languages en,fr`` (exactly these) or ``+eo,la`` (the store's set plus these)."""
    from deposium_rag.language import COMMON_LANGUAGES, normalize_language

    add = value.startswith("+")
    codes = [c for c in value.lstrip("+").split(",") if c.strip()]
    try:
        chosen = {normalize_language(c) for c in codes}
    except (TypeError, ValueError) as exc:
        raise CliError(f"--languages: {_one_line(exc)}") from None
    if not chosen:
        raise CliError("--languages: give ISO 639-1 codes separated by commas, e.g. en,fr or +eo")
    return sorted(chosen | set(current or COMMON_LANGUAGES)) if add else sorted(chosen)


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
    router: LanguageRouter,
    text: str,
    k: int,
    language: str | None,
    mode: str | None = None,
    min_relevance: float | None = None,
) -> RoutedResult:
    try:
        return router.search(text, k, language=language, mode=mode, min_relevance=min_relevance)  # type: ignore[arg-type]
    except ValueError as exc:  # a bad language code, or an empty query
        raise CliError(f"--language {language}: {_one_line(exc)}" if language else _one_line(exc)) from None


_SCORES = {
    "dense": "score = cosine similarity",
    "lexical": "score = BM25 rescaled per language, 2r - 1: 1 = best of its partition",
    "hybrid": "score = BM25 + cosine fused per language, 2r - 1: 1 = best of its partition",
}


_BIG_STORE = 20000  # documents from which `query` says it is loading
_NEED_TEXT = (
    "the following arguments are required: text "
    "(or pipe queries on stdin, one per line, or pass --interactive)"
)


def cmd_query(args: argparse.Namespace) -> int:
    """One query, or (``--interactive`` / no query given) one per stdin line, loading once."""
    many = args.interactive or args.text is None
    if args.text is None and not args.interactive and _stdin_is_tty():
        raise CliError(_NEED_TEXT)
    if not many and not args.text.strip():
        raise CliError("the query is empty: pass some text to search for")
    if args.k < 1:
        raise CliError(f"-k must be >= 1, got {args.k}")
    store = Path(args.store).expanduser()
    manifest = _store_manifest(store, for_query=True)
    assert manifest is not None
    saved_model = manifest["model_name"]
    count = manifest.get("count")
    if isinstance(count, int) and count >= _BIG_STORE:
        _note(f"loading {store} ({count:,} documents) ...", args.quiet)
    embedder = load_embedder(args.model or saved_model, None if args.model else saved_model)
    router = load_router(store, embedder, manifest)
    mode = args.mode or router.mode
    if not len(router):
        empty = (
            f"the store {store} is empty (0 chunks): add files with "
            f"`deposium-rag index PATH --store {shlex.quote(str(store))}`"
        )
        if args.json:
            payload = {"query": args.text, "model": embedder.model_name, "mode": mode, "results": []}
            _say(json.dumps({**payload, "note": empty}, ensure_ascii=False, indent=2))
        else:
            _say(empty)
        return EXIT_OK
    min_rel = getattr(args, "min_relevance", None)
    if min_rel is not None and not 0.0 <= min_rel <= 1.0:
        raise CliError(f"--min-relevance must be in [0, 1], got {min_rel}")
    if not many:
        result = _search(router, args.text, args.k, args.language, mode, min_rel)
        _print_result(result, args, args.text, embedder.model_name, mode)
        return EXIT_OK
    prompt = args.interactive and sys.stdin.isatty()
    if prompt:
        _note("one query per line; an empty line or Ctrl-D ends", args.quiet)
    while True:
        if prompt:
            print("> ", end="", file=sys.stderr, flush=True)
        try:
            line = sys.stdin.readline()
        except OSError:  # no readable stdin (closed, or captured by a test harness)
            raise CliError(_NEED_TEXT) from None
        if not line or (prompt and not line.strip()):
            return EXIT_OK
        text = line.strip()
        if not text:
            continue
        result = _search(router, text, args.k, args.language, mode, min_rel)
        _print_result(result, args, text, embedder.model_name, mode)
        sys.stdout.flush()


def _stdin_is_tty() -> bool:
    try:
        return bool(sys.stdin.isatty())
    except (AttributeError, OSError, ValueError):
        return True


def _print_result(result: RoutedResult, args: argparse.Namespace, text: str, model: str, mode: str) -> None:
    if args.json:  # one query: indented; a stream of queries: one JSON object per line
        payload = _result_json(result, text, model, mode)
        _say(json.dumps(payload, ensure_ascii=False, indent=2 if args.text is not None else None))
        return
    _say(f"route: {_route_text(result)}")
    _say(f"mode: {mode} ({_SCORES.get(mode, mode)})")
    if not result.hits:
        if getattr(args, "min_relevance", None) is not None:
            _say(f"nothing relevant found: no result has relevance >= {args.min_relevance}")
        else:
            _say("no results")
    for rank, (hit, lang) in enumerate(zip(result.hits, result.languages), 1):
        source = _display_source(str(hit.metadata.get("source", "?")))
        if "record" in hit.metadata:
            source += f"#{hit.metadata['record']}"
        chunk = hit.metadata.get("chunk_index", "?")
        _say(f"{rank:>2}. {hit.score:6.3f}  {lang:<3} {source} [chunk {chunk}]")
        _say(f"    {_snippet(hit.text, 160)}")


def _size(n: int) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024  # type: ignore[assignment]
    return f"{n} B"  # pragma: no cover


def cmd_info(args: argparse.Namespace) -> int:
    """What a store holds, read from its manifest only (no model, no vectors loaded)."""
    from deposium_rag.backends.local import describe
    from deposium_rag.errors import StoreFormatError

    store = Path(args.store).expanduser()
    _store_manifest(store, for_query=True)
    try:
        info = describe(store)
    except StoreFormatError as exc:
        raise CliError(f"store {store}: {_one_line(exc)}") from None
    if args.json:
        _say(json.dumps(info, ensure_ascii=False, indent=2))
        return EXIT_OK
    opts = info["options"]
    _say(f"store: {info['path']} (format {info['format_version']}, {_size(info['bytes'])} on disk)")
    _say(f"model: {info['model_name']} ({info['dim']} dims)")
    _say(f"documents: {info['count']:,} in {len(info['partitions'])} language(s)")
    shown = ("mode", "fusion", "weight", "index", "vectors", "lexical", "detector", "fallback")
    _say("options: " + ", ".join(f"{k}={opts[k]}" for k in shown if k in opts))
    _say(f"{'language':<9} {'documents':>10} {'segments':>8} {'on disk':>10}")
    for lang, part in sorted(info["partitions"].items(), key=lambda kv: -(kv[1]["count"] or 0)):
        _say(f"{lang:<9} {part['count']:>10,} {part['segments']:>8} {_size(part['bytes']):>10}")
    return EXIT_OK


def cmd_demo(args: argparse.Namespace) -> int:
    model, why = (args.model, "--model") if args.model else default_model()
    embedder = load_embedder(model)
    found = _discover([str(SAMPLE_DOCS)])
    with tempfile.TemporaryDirectory(prefix="deposium-rag-demo-") as tmp:
        store = Path(tmp) / "store"
        built = new_router(embedder)
        plan = plan_index(built, found, strict=True)
        with _progress(len(plan.chunks), "embedding", "chunk", args.quiet) as bar:
            apply_plan(built, plan, on_chunks=bar.update)
        built.save(store)
        router = load_router(store, embedder, _store_manifest(store, for_query=True) or {})
        counts = ", ".join(f"{lang} {n}" for lang, n in router.counts().items())
        _say(f"deposium-rag demo: {len(found.files)} sample documents, one store per language ({counts})")
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
        if args.contrastive:
            raise CliError("--contrastive applies to --suite seed only")
        argv = ["--model", model]
        if args.max_questions is not None:
            argv += ["--max-questions", str(args.max_questions)]
        return _run_benchmark("xquad_routing.py", argv)
    if args.max_questions is not None:
        raise CliError("--max-questions applies to --suite xquad only")
    from deposium_rag import seed_eval

    steps = len(seed_eval.DIMENSIONS)
    with _progress(steps, "seed eval", "dimension", args.quiet) as bar:
        if args.contrastive:
            _say(seed_eval.format_contrastive(seed_eval.run_contrastive(embedder, progress=bar.update)))
        else:
            _say(seed_eval.format_report(seed_eval.run(embedder, progress=bar.update)))
    _note(f"(model {embedder.model_name}: {why})", args.quiet)
    return EXIT_OK


def cmd_bench(args: argparse.Namespace) -> int:
    model = args.model or default_model()[0]
    load_embedder(model)
    return _run_benchmark("embed_overhead.py", ["--model", model, "--repeat", str(args.repeat)])


# -- entry point ------------------------------------------------------------------------------------
_EXAMPLES = {
    "index": """examples:
  deposium-rag index docs/ notes.md --store ./store
  deposium-rag index docs/ --store ./store            # again: only changed files are embedded
  deposium-rag index docs/ --store ./store --prune    # also drop files deleted from docs/
  deposium-rag index docs/ --store ./store --strict   # stop at the first unreadable file
  deposium-rag index docs/ --store ./store --languages +eo,la   # also detect Esperanto, Latin""",
    "query": """examples:
  deposium-rag query ./store "How is sourdough made?"
  deposium-rag query ./store "pain" --language fr -k 3
  deposium-rag query ./store "qubits" --mode lexical --json
  deposium-rag query ./store "pain" --min-relevance 0.6    # say so when nothing is relevant enough
  deposium-rag query ./store --interactive               # load once, then one query per line
  printf 'bread\nqubits\n' | deposium-rag query ./store  # queries from stdin
  cat questions.txt | deposium-rag query ./store --json   # one JSON object per line""",
    "info": """examples:
  deposium-rag info ./store
  deposium-rag info ./store --json""",
    "demo": """examples:
  deposium-rag demo
  deposium-rag demo --model bundled""",
    "eval": """examples:
  deposium-rag eval                          # the model card's seed pairs
  deposium-rag eval --contrastive            # seed pairs against same-verb distractors
  deposium-rag eval --suite xquad --max-questions 50""",
    "bench": """examples:
  deposium-rag bench --repeat 3""",
}


def build_parser() -> argparse.ArgumentParser:
    common = _Parser(add_help=False)
    common.add_argument("-q", "--quiet", action="store_true", help="no progress bars or notes")
    common.add_argument("--debug", action="store_true", help="show the traceback of an unexpected error")
    model_help = "hub id, local folder or 'bundled' (default: the default model if cached, else bundled)"

    parser = _Parser(
        prog="deposium-rag",
        description="Multilingual retrieval with Model2Vec static embeddings and language routing.",
        epilog="run `deposium-rag COMMAND --help` for a command's options and examples",
    )
    from deposium_rag import __version__

    parser.add_argument("--version", action="version", version=f"deposium-rag {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    def command(name: str, help: str) -> argparse.ArgumentParser:
        return sub.add_parser(
            name,
            parents=[common],
            help=help,
            description=help[0].upper() + help[1:] + ".",
            epilog=_EXAMPLES[name],
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )

    p = command("index", "index files and folders into a routed store")
    p.add_argument(
        "paths", nargs="+", metavar="PATH", help="files or folders (.txt .md .rst .html .json ...)"
    )
    p.add_argument("--store", metavar="DIR", help="store folder (created, or updated)")
    p.add_argument("--model", help=model_help + "; an existing store keeps its own model")
    p.add_argument("--chunk-size", type=int, default=1000, metavar="N", help="characters (default 1000)")
    p.add_argument("--chunk-overlap", type=int, default=100, metavar="N", help="characters (default 100)")
    p.add_argument(
        "--prune", action="store_true", help="remove the chunks of files gone from the folders given"
    )
    p.add_argument(
        "--strict", action="store_true", help="stop at the first unreadable file (default: skip, list at end)"
    )
    p.add_argument(
        "--languages",
        metavar="xx,yy",
        help="languages chunks are detected among (stored with the store): 'en,fr' exactly these, "
        "'+eo,la' the store's set plus these (default: 59 widely used languages)",
    )
    p.add_argument(
        "--ray", action="store_true", help="read, embed and write with Ray Data (needs --milvus-uri)"
    )
    p.add_argument(
        "--milvus-uri", metavar="URI", help="Milvus server to write to with --ray (http://host:19530)"
    )
    p.add_argument("--collection", default="deposium_rag", help="Milvus collection (default deposium_rag)")
    p.set_defaults(func=cmd_index)

    p = command("query", "search a store")
    p.add_argument("store", metavar="DIR")
    p.add_argument("text", nargs="?", help="the query (none: read one query per line from stdin)")
    p.add_argument(
        "-i", "--interactive", action="store_true", help="load once, then answer one query per line"
    )
    p.add_argument("-k", type=int, default=5, help="number of results (default 5)")
    p.add_argument("--language", metavar="xx", help="search this language's partition (ISO 639-1)")
    p.add_argument("--json", action="store_true", help="print JSON: route and results")
    p.add_argument(
        "--min-relevance",
        type=float,
        metavar="R",
        help="drop results with relevance below R in [0, 1] and say so when nothing is left",
    )
    p.add_argument(
        "--mode", choices=["dense", "lexical", "hybrid"], help="ranking (default: the store's, hybrid)"
    )
    p.add_argument("--model", help="load the store with this model (default: the one it was built with)")
    p.set_defaults(func=cmd_query)

    p = command("info", "languages, counts, sizes, model and options of a store")
    p.add_argument("store", metavar="DIR")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=cmd_info)

    p = command("demo", "index the bundled sample documents and query them")
    p.add_argument("--model", help=model_help)
    p.set_defaults(func=cmd_demo)

    p = command("eval", "run an evaluation suite")
    p.add_argument("--suite", choices=["seed", "xquad"], default="seed", help="default: seed")
    p.add_argument("--model", help=model_help)
    p.add_argument("--max-questions", type=int, metavar="N", help="xquad: questions per language")
    p.add_argument(
        "--contrastive",
        action="store_true",
        help="seed: rank each positive pair against a same-verb, other-topic distractor",
    )
    p.set_defaults(func=cmd_eval)

    p = command("bench", "embedding overhead benchmark (repository only)")
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
