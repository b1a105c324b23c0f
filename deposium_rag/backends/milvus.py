"""MilvusBackend: language partitions in one Milvus collection (milvus-lite embedded or a server).

Why this shape (measured, see issue 11 and benchmarks/milvus_backend.py): Milvus's own
analysers ignore stemmers and multi-language settings, and its hybrid rankers lose badly to
this project's fusion. So analysis and fusion stay client-side: each document's tokens from
:func:`deposium_rag.lexical.analyzer_for` are hashed to language-prefixed ASCII terms and
written to a ``lex`` field that Milvus's BM25 function indexes with the ``standard``
tokenizer; the router fuses Milvus's dense and BM25 lists itself.

Collection: ``id`` VARCHAR primary key, ``language`` VARCHAR partition key (16 buckets are
shared between languages, so every read filters on ``language``), ``text``, ``lex`` (+ BM25
function into ``sparse``), ``dense`` FLOAT_VECTOR (inner product on unit vectors = cosine)
and ``metadata`` JSON. The manifest (format version, model, fingerprint, dimension, analyser
version, router options) is a collection property, checked by :meth:`MilvusBackend.open`.

Filters are translated to Milvus boolean expressions on ``metadata["key"]``. Where Milvus's
JSON semantics differ from :mod:`deposium_rag.filters` (milvus-lite treats ``true == 1``, a
negation of a comparison on a missing key is unknown rather than true, ``LIKE`` has no escape),
the expression sent is a superset and each candidate is checked with the exact predicate
before ranking; the search widens until ``k`` checked hits are found or the language is
exhausted, so ``k`` results come back whenever ``k`` match. Callable filters are checked the
same way over the language's documents. One documented difference: Milvus cannot tell a key
holding JSON ``null`` from a missing key, so ``{"key": {"$exists": True}}`` does not match
``null`` values here.

Writes are visible to the next search: the backend flushes once after a burst of writes, before
that search (milvus-lite searches unflushed rows 20-30x slower and keeps BM25 statistics per
segment, so one segment per burst keeps scores close to the local backend's). A reopened
collection is loaded by :meth:`MilvusBackend.open`. Everything is validated before the first
request. A write that fails half-way (server lost) is rolled back as far as Milvus allows: the
previous versions of the ids in the call are written back and new ids deleted. Milvus has no
transactions, so a crash of the *client* between batches can leave the call partly applied
(each batch itself is atomic).
"""

from __future__ import annotations

import functools
import hashlib
import json
import logging
import math
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

import numpy as np

from deposium_rag.backends.base import BackendConfig, Document
from deposium_rag.errors import (
    BackendError,
    DimensionMismatchError,
    ModelMismatchError,
    StoreFormatError,
    missing_extra,
)
from deposium_rag.filters import FilterSpec, RowFilter, compile_filter
from deposium_rag.store import Record

__all__ = ["MilvusBackend", "analyser_version", "filter_expression", "lex_terms"]

FORMAT = "deposium-rag/milvus"
FORMAT_VERSION = 1
_MANIFEST_KEY = "deposium_rag.manifest"
_FIELDS = ("id", "language", "text", "lex", "sparse", "dense", "metadata")
_MAX_VARCHAR = 65535  # Milvus's VARCHAR limit (bytes)
_MAX_LIMIT = 16384  # Milvus's largest top-k / query page
_BATCH = 256  # rows per insert request
_CHUNK = 1000  # ids per "id in [...]" expression
_BM25_K1, _BM25_B = 1.2, 0.75  # the same as deposium_rag.lexical.LexicalIndex
_OUT = ["id", "language", "text", "dense", "metadata"]


# -- lexical terms ---------------------------------------------------------------------------------
def _term(language: str, token: str) -> str:
    """One analysed token as an ASCII word Milvus's ``standard`` tokenizer keeps whole.

    Hashing keeps any script intact (``\\w`` splits Devanagari at vowel signs); the language
    prefix keeps term statistics apart where languages share a bucket.
    """
    digest = hashlib.blake2b(f"{language}:{token}".encode(), digest_size=8).digest()
    return "t" + np.base_repr(int.from_bytes(digest, "big"), 36).lower()


def lex_terms(language: str, text: str) -> str:
    """The ``lex`` field of ``text``: its analysed tokens as hashed terms, space-separated."""
    from deposium_rag.lexical import analyzer_for

    return " ".join(_term(language, t) for t in analyzer_for(language).tokens(text))


@functools.lru_cache(maxsize=1)
def analyser_version() -> str:
    """A fingerprint of the analyser table and term hashing: stored terms are valid only with it."""
    from deposium_rag import lexical

    parts = [f"term=blake2b8-base36;ngram={sorted(lexical._NGRAM.items())}"]
    for lang, an in sorted(lexical.ANALYZERS.items()):
        parts.append(f"{lang}:{an.stemmer}:{','.join(sorted(an.stopwords))}")
    probe = "Déjà vu: the running Bäume 東京タワーの夜景 ภาษาไทย हिन्दी Ελληνικά 2024"
    for lang in ["und", *sorted(lexical.ANALYZERS)]:  # tokens too: tokenizer changes show
        parts.append(" ".join(lexical.analyzer_for(lang).tokens(probe)))
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()[:16]


# -- filters ---------------------------------------------------------------------------------------
def _lit(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    return repr(value)


def _key(name: str) -> str:
    return f"metadata[{json.dumps(name, ensure_ascii=False)}]"


def _num(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _scalar(value: Any) -> bool:
    return isinstance(value, str) or _num(value)


# An expression and whether it is exact (False: a superset, checked client-side); None: no
# Milvus-side condition at all (every candidate is checked).
_Expr = tuple[str | None, bool]


def _eq_atom(f: str, v: Any) -> _Expr:
    if isinstance(v, str):
        return f"{f} == {_lit(v)}", True
    if _num(v):
        # milvus-lite compares JSON true/false equal to 1/0: check those client-side.
        return f"{f} == {_lit(v)}", v not in (0, 1)
    if isinstance(v, bool):
        return f"{f} == {_lit(v)}", False
    return None, False


def _any_of(parts: list[_Expr]) -> _Expr:
    if not parts:
        return "false", True
    if any(e is None for e, _ in parts):
        return None, False
    exprs = [e for e, _ in parts]
    return (exprs[0] if len(exprs) == 1 else "(" + " or ".join(exprs) + ")"), all(x for _, x in parts)


def _all_of(parts: list[_Expr]) -> _Expr:
    exprs = [e for e, _ in parts if e is not None]
    exact = all(x for _, x in parts)
    if not exprs:
        return None, exact and not parts
    return (exprs[0] if len(exprs) == 1 else "(" + " and ".join(exprs) + ")"), exact


def _like(text: str) -> _Expr:
    # LIKE has no escape in milvus-lite: a literal % or _ acts as a wildcard (a superset).
    return json.dumps(f"%{text}%", ensure_ascii=False), not any(c in text for c in "%_")


def _field_op(f: str, op: str, o: Any) -> _Expr:
    if op == "$eq":
        return _eq_atom(f, o)
    if op in ("$in",):
        return _any_of([_eq_atom(f, v) for v in o])
    if op == "$ne" or op == "$nin":
        values = [o] if op == "$ne" else list(o)
        if not values:
            return f"(exists {f} or {f} is null)", False
        if all(_scalar(v) for v in values):
            cond = " and ".join(f"{f} != {_lit(v)}" for v in values)
            return f"(({cond}) or {f} is null)", False  # null values, true/1: checked client-side
        return None, False
    if op in ("$gt", "$gte", "$lt", "$lte"):
        sym = {"$gt": ">", "$gte": ">=", "$lt": "<", "$lte": "<="}[op]
        if isinstance(o, str):
            return f"{f} {sym} {_lit(o)}", True
        if _num(o):
            # Exact unless a bool (as 0 or 1) could satisfy the comparison on milvus-lite.
            bool_may_pass = {"$gt": o < 1, "$gte": o <= 1, "$lt": o > 0, "$lte": o >= 0}[op]
            return f"{f} {sym} {_lit(o)}", not bool_may_pass
        return None, False
    if op == "$exists":
        return (f"exists {f}", True) if o else (f"not exists {f}", False)
    if op == "$contains":
        if isinstance(o, str):
            pattern, exact = _like(o)
            return f"(json_contains({f}, {_lit(o)}) or {f} like {pattern})", exact
        if _num(o) or isinstance(o, bool):
            return f"json_contains({f}, {_lit(o)})", _num(o) and o not in (0, 1)
        return None, False
    if op in ("$any", "$all"):
        if not all(_scalar(v) or isinstance(v, bool) for v in o):
            return None, False
        exact = all(isinstance(v, str) or (_num(v) and v not in (0, 1)) for v in o)
        if op == "$any" and not o:
            return "false", True
        fn = "json_contains_any" if op == "$any" else "json_contains_all"
        return f"{fn}({f}, [{', '.join(_lit(v) for v in o)}])", exact
    if op == "$text_match":
        if not isinstance(o, str):
            return "false", True
        pattern, exact = _like(o)
        return f"{f} like {pattern}", exact
    if op == "$is_empty":
        if o in (True, None):
            return f'(not exists {f} or {f} == "" or json_contains_all({f}, []))', False
        return f"exists {f}", False
    return None, False  # $text_match_insensitive: Milvus has no case folding; checked client-side


def _translate(spec: Mapping[str, Any]) -> _Expr:
    parts: list[_Expr] = []
    for key, cond in spec.items():
        if key == "$and":
            parts.append(_all_of([_translate(c) for c in cond]))
        elif key == "$or":
            parts.append(_any_of([_translate(c) for c in cond]))
        elif key == "$not":
            # Milvus negates "unknown" (missing key, other type) to unknown, not to true:
            # no superset can be sent, so the negation is checked client-side.
            parts.append((None, False))
        else:
            f = _key(key)
            if isinstance(cond, Mapping) and cond and all(str(k).startswith("$") for k in cond):
                parts.append(_all_of([_field_op(f, op, o) for op, o in cond.items()]))
            elif isinstance(cond, (list, tuple)):
                parts.append(_field_op(f, "$in", list(cond)))
            else:
                parts.append(_eq_atom(f, cond))
    return _all_of(parts)


def filter_expression(spec: FilterSpec) -> tuple[str | None, bool]:
    """Milvus expression for a filter and whether it is exact (else a superset checked client-side).

    Raises ``ValueError`` for a malformed filter, like the local backend.
    """
    compile_filter(spec)  # validation: bad filters fail here, before any request
    if spec is None or (isinstance(spec, Mapping) and not spec):
        return None, True
    if not isinstance(spec, Mapping):
        return None, False  # a callable: checked client-side
    return _translate(spec)


def _ids_expr(ids: Sequence[str]) -> str:
    return f"id in [{', '.join(_lit(d) for d in ids)}]"


_CONNECT_ATTEMPTS = 3  # connection tries before BackendError (0.5 s, then 1 s apart)


class MilvusBackend:
    """Language partitions in one Milvus collection; see the module docstring.

    ``uri``: a local path (milvus-lite embedded; the folder is locked by one process) or
    ``http://host:19530`` (a Milvus server, ``milvus-lite server`` or a cluster).
    ``index``: ``"flat"`` (exact; the default, see benchmarks/milvus_backend.py) or ``"hnsw"``.
    """

    name = "milvus"

    def __init__(
        self,
        uri: str = "./milvus.db",
        collection: str = "deposium_rag",
        *,
        token: str | None = None,
        db_name: str | None = None,
        index: str = "flat",
        hnsw_m: int = 32,
        hnsw_ef_construction: int = 200,
        hnsw_ef: int = 128,
        timeout: float = 30.0,
    ) -> None:
        if index not in ("flat", "hnsw"):
            raise ValueError(f"index must be 'flat' or 'hnsw', got {index!r}")
        if index == "hnsw" and hnsw_m < 32:
            raise ValueError(f"hnsw_m must be >= 32 (recall drops below on 1024-d vectors), got {hnsw_m}")
        if not isinstance(collection, str) or not collection:
            raise ValueError("collection must be a non-empty str")
        self.uri = str(uri)
        self.collection = collection
        self.token = token
        self.db_name = db_name
        self.index = index
        self.hnsw_m, self.hnsw_ef_construction, self.hnsw_ef = hnsw_m, hnsw_ef_construction, hnsw_ef
        self.timeout = timeout
        self._client: Any = None
        self._config: BackendConfig | None = None
        self._counts: dict[str, int] | None = None  # read lazily: a scan of the collection
        self._dirty = False  # written since the last flush
        self._lock = threading.RLock()

    def __repr__(self) -> str:
        return f"MilvusBackend(uri={self.uri!r}, collection={self.collection!r}, index={self.index!r})"

    # -- connection ---------------------------------------------------------------------------------
    def _pymilvus(self) -> Any:
        try:
            import pymilvus
        except ImportError:
            raise missing_extra("pymilvus", "milvus") from None
        # pymilvus logs every failed RPC with a traceback; our errors say what happened.
        logging.getLogger("pymilvus").setLevel(logging.CRITICAL)
        return pymilvus

    def _connect(self) -> Any:
        if self._client is not None:
            return self._client
        pm = self._pymilvus()
        kwargs: dict[str, Any] = {"uri": self.uri, "timeout": self.timeout}
        if self.token:
            kwargs["token"] = self.token
        if self.db_name:
            kwargs["db_name"] = self.db_name
        # A server that is starting or briefly starved (a busy node) refuses a first connection:
        # try a few times with a short backoff before saying it is unreachable.
        error: Exception | None = None
        for attempt in range(_CONNECT_ATTEMPTS):
            if attempt:
                time.sleep(0.5 * 2 ** (attempt - 1))
            try:
                self._client = pm.MilvusClient(**kwargs)
                return self._client
            except Exception as exc:
                error = exc
        assert error is not None
        raise BackendError(
            f"cannot connect to Milvus at {self.uri!r} ({_reason(error)}); start the server "
            "(e.g. `milvus-lite server --data-dir DIR --port 19530`), check the URI and token, "
            "or pass a local path such as './milvus.db' for embedded milvus-lite"
        )

    def _call(self, what: str, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """One request; a Milvus failure becomes a :class:`BackendError` that says what to do."""
        try:
            return fn(*args, **kwargs)
        except Exception as exc:
            pm = self._pymilvus()
            if isinstance(exc, pm.exceptions.MilvusException):
                raise BackendError(
                    f"Milvus {what} failed on {self.uri!r}, collection {self.collection!r}: "
                    f"{_reason(exc)}. Check that the server is running and reachable; "
                    "nothing was changed by this call unless stated otherwise"
                ) from None
            raise

    @property
    def client(self) -> Any:
        if self._config is None:
            raise BackendError("MilvusBackend is not open: pass it to LanguageRouter(..., backend=...)")
        return self._connect()

    # -- open / manifest ----------------------------------------------------------------------------
    def _manifest(self, config: BackendConfig) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "format_version": FORMAT_VERSION,
            "model_name": config.model_name,
            "model_fingerprint": config.model_fingerprint,
            "dim": config.dim,
            "analyser_version": analyser_version(),
            "lexical": config.lexical,
            "index": self.index,
            "options": dict(config.options),
        }

    def open(self, config: BackendConfig) -> dict[str, Any] | None:
        """Create the collection, or check an existing one was written by this model and format."""
        with self._lock:
            client = self._connect()
            where = f"collection {self.collection!r} at {self.uri!r}"
            if self._call("has_collection", client.has_collection, self.collection):
                desc = self._call("describe_collection", client.describe_collection, self.collection)
                raw = (desc.get("properties") or {}).get(_MANIFEST_KEY)
                names = {f["name"] for f in desc.get("fields", [])}
                if raw is None or not set(_FIELDS) <= names:
                    raise StoreFormatError(
                        f"{where} was not written by deposium-rag (no manifest or fields "
                        f"{sorted(set(_FIELDS) - names)} missing); use another collection name"
                    )
                try:
                    manifest = json.loads(raw)
                except ValueError:
                    raise StoreFormatError(f"{where}: its manifest is not valid JSON; re-index it") from None
                _check_manifest(manifest, config, where)
                self._config = config
                self._call("load_collection", client.load_collection, self.collection)
                self._counts = None
                return dict(manifest.get("options") or {})
            self._create(client, config)
            self._config = config
            self._counts = {}
            return None

    def _create(self, client: Any, config: BackendConfig) -> None:
        pm = self._pymilvus()
        dt = pm.DataType
        schema = client.create_schema(auto_id=False, enable_dynamic_field=False)
        schema.add_field("id", dt.VARCHAR, is_primary=True, max_length=_MAX_VARCHAR)
        schema.add_field("language", dt.VARCHAR, max_length=16, is_partition_key=True)
        schema.add_field("text", dt.VARCHAR, max_length=_MAX_VARCHAR)
        schema.add_field(
            "lex",
            dt.VARCHAR,
            max_length=_MAX_VARCHAR,
            enable_analyzer=True,
            analyzer_params={"type": "standard"},
        )
        schema.add_field("sparse", dt.SPARSE_FLOAT_VECTOR)
        schema.add_field("dense", dt.FLOAT_VECTOR, dim=config.dim)
        schema.add_field("metadata", dt.JSON)
        schema.add_function(
            pm.Function(
                name="lex_bm25",
                function_type=pm.FunctionType.BM25,
                input_field_names=["lex"],
                output_field_names=["sparse"],
            )
        )
        params = client.prepare_index_params()
        if self.index == "hnsw":
            params.add_index(
                "dense",
                index_type="HNSW",
                metric_type="IP",
                params={"M": self.hnsw_m, "efConstruction": self.hnsw_ef_construction},
            )
        else:
            params.add_index("dense", index_type="FLAT", metric_type="IP")
        params.add_index(
            "sparse",
            index_type="SPARSE_INVERTED_INDEX",
            metric_type="BM25",
            params={"bm25_k1": _BM25_K1, "bm25_b": _BM25_B},
        )
        self._call(
            "create_collection",
            client.create_collection,
            self.collection,
            schema=schema,
            consistency_level="Strong",  # searches see this client's writes
            properties={_MANIFEST_KEY: json.dumps(self._manifest(config))},
        )
        # sync=False: pymilvus otherwise polls the index state in 0.5 s sleeps (1 s per collection);
        # a cluster builds the index in the background and load_collection waits for what it needs.
        self._call("create_index", client.create_index, self.collection, params, sync=False)
        self._call("load_collection", client.load_collection, self.collection)

    def _refresh_counts(self) -> None:
        self._ready()
        counts: dict[str, int] = {}
        for row in self._iterate("", ["language"]):
            counts[row["language"]] = counts.get(row["language"], 0) + 1
        self._counts = counts

    def refresh(self) -> None:
        """Re-read per-language counts (after other processes wrote to the collection)."""
        with self._lock:
            self._refresh_counts()

    def _iterate(self, expr: str, fields: list[str]) -> Iterable[dict[str, Any]]:
        """Every row matching ``expr`` (pages of Milvus's largest query size)."""
        client = self.client
        it = self._call(
            "query_iterator",
            client.query_iterator,
            self.collection,
            batch_size=4096,
            filter=expr,
            output_fields=fields,
        )
        try:
            while True:
                page = self._call("query_iterator", it.next)
                if not page:
                    break
                yield from page
        finally:
            it.close()

    # -- reads ---------------------------------------------------------------------------------------
    def counts(self) -> dict[str, int]:
        """Documents per language: one scan on first use, then kept up to date by this client's writes."""
        with self._lock:
            if self._counts is None:
                self._refresh_counts()
            assert self._counts is not None
            return {lang: n for lang, n in sorted(self._counts.items()) if n}

    def _query(self, expr: str, fields: list[str], limit: int | None = None) -> list[dict[str, Any]]:
        kwargs: dict[str, Any] = {"filter": expr, "output_fields": fields}
        if limit is not None:
            kwargs["limit"] = limit
        return self._call("query", self.client.query, self.collection, **kwargs)

    def _rows(self, ids: Sequence[str], fields: list[str]) -> dict[str, dict[str, Any]]:
        wanted = list(dict.fromkeys(d for d in ids if isinstance(d, str)))
        out: dict[str, dict[str, Any]] = {}
        for i in range(0, len(wanted), _CHUNK):
            chunk = wanted[i : i + _CHUNK]
            for row in self._query(_ids_expr(chunk), ["id", *fields], limit=len(chunk)):
                out[row["id"]] = row
        return out

    def language_of(self, ids: Sequence[str]) -> dict[str, str]:
        return {d: row["language"] for d, row in self._rows(ids, ["language"]).items()}

    def get(self, ids: Sequence[str]) -> list[tuple[str, Record]]:
        rows = self._rows(ids, ["language", "text", "dense", "metadata"])
        return [(rows[d]["language"], _record(rows[d])) for d in ids if isinstance(d, str) and d in rows]

    def ids(self, language: str, filter: FilterSpec = None) -> list[str]:
        """Ids of that language's documents matching ``filter`` (checked exactly, see module doc)."""
        expr, exact = filter_expression(filter)
        base = f"language == {_lit(language)}"
        full = base if expr is None else f"{base} and ({expr})"
        self._ready()
        if exact:
            return [row["id"] for row in self._iterate(full, ["id"])]
        pred = compile_filter(filter)
        return [
            row["id"]
            for row in self._iterate(full, ["id", "text", "metadata"])
            if _passes(pred, row["id"], row)
        ]

    # -- writes --------------------------------------------------------------------------------------
    def _row(self, doc: Document, dim: int, lexical: bool) -> dict[str, Any]:
        vec = np.asarray(doc.vector, dtype=np.float32).reshape(-1)
        if vec.shape[0] != dim:
            raise DimensionMismatchError(
                f"document {doc.id!r} has a {vec.shape[0]}-d vector; this collection holds {dim}-d vectors"
            )
        if not np.isfinite(vec).all():
            raise ValueError(f"document {doc.id!r} has a non-finite vector")
        lex = lex_terms(doc.language, doc.text) if lexical else ""
        for name, value in (("id", doc.id), ("text", doc.text), ("lex", lex)):
            if len(value.encode("utf-8")) > _MAX_VARCHAR:
                raise ValueError(
                    f"document {doc.id!r}: its {name} is longer than Milvus's {_MAX_VARCHAR}-byte VARCHAR "
                    "limit; split the text into smaller chunks"
                )
        return {
            "id": doc.id,
            "language": doc.language,
            "text": doc.text,
            "lex": lex,
            "dense": vec.tolist(),
            "metadata": doc.metadata,
        }

    def upsert(self, docs: Sequence[Document]) -> None:
        """Insert or replace by id (a changed language moves it); see the module docstring."""
        if not docs:
            return
        with self._lock:
            config = self._config
            if config is None:
                raise BackendError("MilvusBackend is not open: pass it to LanguageRouter(..., backend=...)")
            rows = [self._row(d, config.dim, config.lexical) for d in docs]  # all checks first
            ids = [r["id"] for r in rows]
            if len(set(ids)) != len(ids):
                raise ValueError("duplicate ids in one upsert")
            before = self._rows(ids, ["language", "text", "lex", "dense", "metadata"])
            done = 0
            try:
                for i in range(0, len(rows), _BATCH):
                    batch = rows[i : i + _BATCH]
                    self._call("upsert", self.client.upsert, self.collection, batch)
                    done = i + len(batch)
                self._dirty = True
            except Exception:
                self._rollback(ids[:done], before)
                raise
            if self._counts is None:
                return
            for d, row in zip(ids, rows):
                old = before.get(d)
                if old is not None:
                    self._counts[old["language"]] = self._counts.get(old["language"], 1) - 1
                self._counts[row["language"]] = self._counts.get(row["language"], 0) + 1

    def _rollback(self, written: list[str], before: dict[str, dict[str, Any]]) -> None:
        """Best effort: put back what a failed upsert overwrote, remove what it added."""
        try:
            new = [d for d in written if d not in before]
            for i in range(0, len(new), _CHUNK):
                self.client.delete(self.collection, filter=_ids_expr(new[i : i + _CHUNK]))
            old = [
                {k: before[d][k] for k in ("id", "language", "text", "lex", "dense", "metadata")}
                for d in written
                if d in before
            ]
            for i in range(0, len(old), _BATCH):
                self.client.upsert(self.collection, old[i : i + _BATCH])
            self._dirty = True
        except Exception:
            pass

    def _flush(self) -> None:
        self._call("flush", self.client.flush, self.collection)
        self._dirty = False

    def _ready(self) -> None:
        """Flush before a search if anything was written since the last one.

        Why lazily: unflushed rows search 20-30x slower on milvus-lite, and milvus-lite keeps
        BM25 statistics per segment, so one flush after a burst of writes (one segment) keeps
        the statistics closer to the collection's than a flush (a small segment) per write.
        """
        if self._dirty:
            with self._lock:
                if self._dirty:
                    self._flush()

    def delete(self, ids: Iterable[str]) -> int:
        if isinstance(ids, str):
            raise TypeError("ids must be a list of str, got a single str; wrap it in a list")
        with self._lock:
            known = self.language_of([d for d in ids if isinstance(d, str)])
            if not known:
                return 0
            found = list(known)
            for i in range(0, len(found), _CHUNK):
                self._call(
                    "delete", self.client.delete, self.collection, filter=_ids_expr(found[i : i + _CHUNK])
                )
            self._dirty = True
            for lang in known.values() if self._counts is not None else ():
                self._counts[lang] = self._counts.get(lang, 1) - 1
            return len(found)

    def clear(self) -> None:
        with self._lock:
            client, config = self.client, self._config
            assert config is not None
            self._call("drop_collection", client.drop_collection, self.collection)
            self._create(client, config)
            self._counts = {}

    def close(self) -> None:
        with self._lock:
            if self._client is not None:
                try:
                    self._client.close()
                finally:
                    self._client = None
                    self._config = None

    # -- search --------------------------------------------------------------------------------------
    def _search(
        self,
        language: str,
        data: Any,
        field: str,
        k: int,
        filter: FilterSpec,
    ) -> list[tuple[str, float]]:
        """Top-``k`` of one language among rows matching ``filter``, checked exactly."""
        expr, exact = filter_expression(filter)
        k = int(k)
        if k <= 0:
            return []
        self._ready()
        base = f"language == {_lit(language)}"
        full = base if expr is None else f"{base} and ({expr})"
        if field == "dense":
            params: dict[str, Any] = {"metric_type": "IP"}
            if self.index == "hnsw":
                params["params"] = {"ef": max(self.hnsw_ef, k)}
        else:
            params = {"metric_type": "BM25", "params": {"bm25_k1": _BM25_K1, "bm25_b": _BM25_B}}
        pred = None if exact else compile_filter(filter)
        fields = ["id"] if pred is None else ["id", "text", "metadata"]
        limit = k if pred is None else max(4 * k, 64)
        while True:
            limit = min(limit, _MAX_LIMIT)
            res = self._call(
                "search",
                self.client.search,
                self.collection,
                data=[data],
                anns_field=field,
                limit=limit,
                filter=full,
                output_fields=fields,
                search_params=params,
            )
            raw = res[0] if res else []
            out: list[tuple[str, float]] = []
            for hit in raw:
                ent = hit.get("entity") or {}
                doc_id = hit.get("id", ent.get("id"))
                if pred is not None and not _passes(pred, doc_id, ent):
                    continue
                score = float(hit["distance"])
                out.append((doc_id, abs(score) if field == "sparse" else min(1.0, max(-1.0, score))))
                if len(out) == k:
                    return out
            if len(raw) < limit or limit >= _MAX_LIMIT:
                return out
            limit *= 4

    def dense(
        self, language: str, vector: np.ndarray, k: int, filter: FilterSpec = None
    ) -> list[tuple[str, float]]:
        vec = np.asarray(vector, dtype=np.float32).reshape(-1).tolist()
        return self._search(language, vec, "dense", k, filter)

    def dense_scores(self, language: str, vector: np.ndarray, ids: Sequence[str]) -> dict[str, float]:
        """Exact cosine from the stored vectors (an id-filtered ANN search could miss some)."""
        unit = np.asarray(vector, dtype=np.float32).reshape(-1)
        unit = unit / (float(np.linalg.norm(unit)) or 1.0)
        rows = self._rows(ids, ["language", "dense"])
        return {
            d: min(1.0, max(-1.0, float(np.asarray(row["dense"], dtype=np.float32) @ unit)))
            for d, row in rows.items()
            if row["language"] == language
        }

    def lexical(
        self, language: str, query: str, k: int, filter: FilterSpec = None
    ) -> list[tuple[str, float]]:
        terms = lex_terms(language, query)
        if not terms:
            filter_expression(filter)
            return []
        return [(d, s) for d, s in self._search(language, terms, "sparse", k, filter) if s > 0]

    def lexical_scores(self, language: str, query: str, ids: Sequence[str]) -> dict[str, float]:
        """BM25 of each given id; 0.0 where no term matches (or the id is not of that language).

        One request: the router asks for ids it has just seen in that language, so checking they
        exist first would cost a round trip for nothing.
        """
        wanted = list(dict.fromkeys(d for d in ids if isinstance(d, str)))
        out = dict.fromkeys(wanted, 0.0)
        terms = lex_terms(language, query)
        if not terms or not wanted:
            return out
        self._ready()
        params = {"metric_type": "BM25", "params": {"bm25_k1": _BM25_K1, "bm25_b": _BM25_B}}
        for i in range(0, len(wanted), _CHUNK):
            chunk = wanted[i : i + _CHUNK]
            res = self._call(
                "search",
                self.client.search,
                self.collection,
                data=[terms],
                anns_field="sparse",
                limit=len(chunk),
                filter=f"language == {_lit(language)} and {_ids_expr(chunk)}",
                output_fields=["id"],
                search_params=params,
            )
            for hit in res[0] if res else []:
                out[hit.get("id", (hit.get("entity") or {}).get("id"))] = abs(float(hit["distance"]))
        return out


def _passes(pred: Any, doc_id: str, ent: Mapping[str, Any]) -> bool:
    md = ent.get("metadata") or {}
    if isinstance(pred, RowFilter):
        return bool(pred.fn(doc_id, ent.get("text", ""), md))
    return bool(pred(md))


def _record(row: Mapping[str, Any]) -> Record:
    vec = np.asarray(row["dense"], dtype=np.float32)
    return Record(row["id"], row["text"], dict(row.get("metadata") or {}), vec)


def _reason(exc: BaseException) -> str:
    msg = getattr(exc, "message", None) or str(exc) or type(exc).__name__
    return " ".join(str(msg).split())[:300]


def _check_manifest(manifest: Mapping[str, Any], config: BackendConfig, where: str) -> None:
    if manifest.get("format") != FORMAT:
        raise StoreFormatError(f"{where} was not written by deposium-rag; use another collection name")
    version = manifest.get("format_version")
    if version != FORMAT_VERSION:
        raise StoreFormatError(
            f"{where} has collection format version {version}; this deposium-rag reads version "
            f"{FORMAT_VERSION}. Re-index into a new collection (or drop this one) with this version"
        )
    if manifest.get("dim") != config.dim:
        raise DimensionMismatchError(
            f"{where} holds {manifest.get('dim')}-d vectors from model {manifest.get('model_name')!r}; "
            f"the model in use, {config.model_name!r}, makes {config.dim}-d vectors. Open it with "
            "that model or index into another collection"
        )
    theirs, ours = manifest.get("model_fingerprint"), config.model_fingerprint
    if (theirs and ours and theirs != ours) or (
        not (theirs and ours) and manifest.get("model_name") != config.model_name
    ):
        raise ModelMismatchError(
            f"{where} was built with model {manifest.get('model_name')!r} (fingerprint {theirs}); "
            f"the model in use is {config.model_name!r} (fingerprint {ours}). Open it with the same "
            "model or index into another collection"
        )
    if config.lexical and manifest.get("analyser_version") != analyser_version():
        raise StoreFormatError(
            f"{where}: its lexical terms were written by another analyser version "
            f"({manifest.get('analyser_version')} != {analyser_version()}); re-index the documents "
            "(clear and add again) or open with lexical=False"
        )
    if config.lexical and not manifest.get("lexical", True):
        raise StoreFormatError(
            f"{where} was written without lexical terms; open it with lexical=False or re-index"
        )
