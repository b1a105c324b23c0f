"""Per-language text analysis and a BM25 index (bm25s) for one language partition.

Why per language: a tokenizer, stemmer and stopword list only make sense for one language,
and BM25's collection statistics (idf) are only meaningful within one. Routing by language is
what makes both possible; benchmarks/hybrid.py measures what each step is worth.

Analysis, in order: NFKC + casefold; tokens by script (Han: characters plus character
bigrams; Thai, Lao, Khmer, Myanmar: character trigrams; kana: bigrams, since these are
written without spaces; everything else: runs of letters, combining marks and digits, so
Devanagari vowel signs stay inside their word); stopwords removed; Snowball stemming where
PyStemmer has the language. BM25 k1=1.2, b=0.75 (k1 chosen on the XQuAD dev half).
The whole table is :data:`ANALYZERS`: one line per language, easy to extend.

Updates: :class:`LexicalIndex` is incremental (postings, document frequencies and lengths
kept current on every write, scores derived at query time), so a write costs O(its tokens)
and the first query after it is as fast as any other; its state saves and loads as numpy
arrays + JSON without re-analysing text (see benchmarks/scale.py).
"""

from __future__ import annotations

import contextlib
import json
import mmap
import threading
import unicodedata
from collections import Counter
from collections.abc import Callable, Collection, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import regex

from deposium_rag.errors import StoreFormatError

__all__ = ["ANALYZERS", "Analyzer", "LexicalIndex", "LexicalState", "analyzer_for"]

_TOKEN = regex.compile(
    r"(?P<han>\p{Han}+)"
    r"|(?P<brahmic>[\p{Thai}\p{Lao}\p{Khmer}\p{Myanmar}]+)"
    r"|(?P<kana>[\p{Hiragana}\p{Katakana}ー]+)"
    # A word never swallows unspaced script: "308分" is "308" then Han, not one token.
    r"|(?P<word>[[\p{L}\p{M}\p{N}]--[\p{Han}\p{Thai}\p{Lao}\p{Khmer}\p{Myanmar}\p{Hiragana}\p{Katakana}ー]]+)",
    regex.V1,
)
_WORD = regex.compile(r"[\p{L}\p{M}\p{N}]+")
_SPECIAL = regex.compile(r"[\p{Han}\p{Thai}\p{Lao}\p{Khmer}\p{Myanmar}\p{Hiragana}\p{Katakana}ー]")
# Character n-gram sizes for scripts written without spaces (chosen on the dev half of
# XQuAD, see benchmarks/hybrid.py --ablation): Thai-like scripts 3, kana 2.
_NGRAM = {"brahmic": 3, "kana": 2}


def _ngrams(piece: str, n: int) -> list[str]:
    return [piece[i : i + n] for i in range(max(1, len(piece) - n + 1))]


def _stopwords(name: str) -> frozenset[str]:
    import bm25s.stopwords as lists

    return frozenset(w.casefold() for w in getattr(lists, name, ()))


# language -> (PyStemmer algorithm or None, bm25s stopword list name or None)
_TABLE: dict[str, tuple[str | None, str | None]] = {
    "ar": ("arabic", None),
    "ca": ("catalan", None),
    "cs": ("czech", None),
    "da": ("danish", "STOPWORDS_DANISH"),
    "de": ("german", "STOPWORDS_GERMAN"),
    "el": ("greek", None),
    "en": ("english", "STOPWORDS_EN"),
    "eo": ("esperanto", None),
    "es": ("spanish", "STOPWORDS_SPANISH"),
    "et": ("estonian", None),
    "eu": ("basque", None),
    "fa": ("persian", None),
    "fi": ("finnish", None),
    "fr": ("french", "STOPWORDS_FRENCH"),
    "ga": ("irish", None),
    "hi": ("hindi", None),
    "hu": ("hungarian", None),
    "hy": ("armenian", None),
    "id": ("indonesian", None),
    "it": ("italian", "STOPWORDS_ITALIAN"),
    "ko": (None, "STOPWORDS_KOREAN"),
    "lt": ("lithuanian", None),
    "nb": ("norwegian", "STOPWORDS_NORWEGIAN"),
    "ne": ("nepali", None),
    "nl": ("dutch", "STOPWORDS_DUTCH"),
    "pl": ("polish", None),
    "pt": ("portuguese", "STOPWORDS_PORTUGUESE"),
    "ro": ("romanian", None),
    "ru": ("russian", "STOPWORDS_RUSSIAN"),
    "sr": ("serbian", None),
    "sv": ("swedish", "STOPWORDS_SWEDISH"),
    "ta": ("tamil", None),
    "tr": ("turkish", "STOPWORDS_TURKISH"),
    "yi": ("yiddish", None),
    "zh": (None, "STOPWORDS_CHINESE"),
}
# Chinese: characters + character bigrams. jieba word segmentation was measured against it on
# the XQuAD-R zh dev half (BM25 MRR@10): jieba words 94.2, jieba words + bigrams 95.6,
# characters + bigrams 95.8 (once digits no longer glue to Han, see _TOKEN), so it was not
# adopted; benchmarks/hybrid.py's ablation keeps the comparison.


@dataclass(frozen=True)
class Analyzer:
    """Text -> tokens for one language. Stemmers are per thread (PyStemmer is not thread-safe)."""

    language: str
    stemmer: str | None = None
    stopwords: frozenset[str] = frozenset()
    _local: threading.local = field(default_factory=threading.local, repr=False, compare=False)

    def _stem(self, words: list[str]) -> list[str]:
        if self.stemmer is None:
            return words
        stemmer = getattr(self._local, "stemmer", None)
        if stemmer is None:
            import Stemmer

            stemmer = self._local.stemmer = Stemmer.Stemmer(self.stemmer)
        return stemmer.stemWords(words)

    def tokens(self, text: str) -> list[str]:
        """Analysed tokens of ``text``, in order."""
        text = unicodedata.normalize("NFKC", text).casefold()
        if _SPECIAL.search(text) is None:  # fast path: only space-separated scripts
            stop = self.stopwords
            return self._stem([w for w in _WORD.findall(text) if w not in stop])
        out: list[str] = []
        words: list[str] = []
        for m in _TOKEN.finditer(text):
            kind = m.lastgroup
            piece = m.group()
            if kind == "word":
                if piece not in self.stopwords:
                    words.append(piece)
                continue
            if words:
                out.extend(self._stem(words))
                words = []
            if kind == "han":
                # Characters and character bigrams: bigrams carry most Chinese words.
                out.extend(c for c in piece if c not in self.stopwords)
                if len(piece) > 1:
                    out.extend(_ngrams(piece, 2))
            else:
                out.extend(_ngrams(piece, _NGRAM[kind or "kana"]))
        if words:
            out.extend(self._stem(words))
        return out


def _build(language: str) -> Analyzer:
    stemmer, stop = _TABLE.get(language, (None, None))
    return Analyzer(language, stemmer, _stopwords(stop) if stop else frozenset())


ANALYZERS: dict[str, Analyzer] = {lang: _build(lang) for lang in _TABLE}


def analyzer_for(language: str) -> Analyzer:
    """The analyser of ``language``; a language without an entry gets script-aware tokens only."""
    found = ANALYZERS.get(language)
    return found if found is not None else Analyzer(language)


# -- the index -----------------------------------------------------------------------------------
_TF_MAX = np.iinfo(np.uint16).max  # tf saturates here: BM25's tf part is flat long before it
_FRESH_MAX = 32_768  # postings kept unsorted (scanned per query) before they become a run
_MARKS_KEPT = 8  # exported versions an export_delta can start from
_SEARCH_TERMS = 12  # scores_for: up to this many query terms, binary searches in postings
_KEEP_SCORES = 1 << 18  # candidates whose scores top() keeps for scores_for (16 B each)
_DEAD_MIN = 1024  # tombstones tolerated before slots are renumbered (also a quarter of them)
_FORMAT = "deposium-lexical"
_FORMAT_VERSION = 1
_FULL_ARRAYS = ("doc_len", "doc_start", "doc_terms", "doc_tfs", "post_indptr", "post_docs", "post_tfs")
_DELTA_ARRAYS = ("doc_len", "doc_start", "doc_terms", "doc_tfs")
_DTYPES = {
    "doc_len": np.int32,
    "doc_start": np.int64,
    "doc_terms": np.int32,
    "doc_tfs": np.uint16,
    "post_indptr": np.int64,
    "post_docs": np.int32,
    "post_tfs": np.uint16,
}

Allowed = Collection[str] | Callable[[str], bool] | None


class _Grow:
    """A growable 1-d array (amortised O(1) append). A read-only buffer (a memory map) is
    copied on the first append, so a loaded index is copy-on-write."""

    __slots__ = ("buf", "n")

    def __init__(self, dtype: type | np.dtype, data: np.ndarray | None = None) -> None:
        self.buf = np.empty(0, dtype) if data is None else data
        self.n = len(self.buf)

    @property
    def a(self) -> np.ndarray:
        return self.buf[: self.n]

    def extend(self, values: np.ndarray) -> None:
        need = self.n + len(values)
        if need > len(self.buf) or not self.buf.flags.writeable:
            # Half again as much room when growing; a loaded (mapped) buffer gets little slack:
            # it is usually copied for one small delta, not to grow much further.
            room = len(self.buf) * 3 // 2 if self.buf.flags.writeable else need + need // 16
            grown = np.empty(max(need, room + 16), self.buf.dtype)
            grown[: self.n] = self.buf[: self.n]
            self.buf = grown
        self.buf[self.n : need] = values
        self.n = need


class _Split:
    """A 1-d array as a read-only base (a loaded memory map) and a growable heap tail.

    Why: the forward index is the largest lexical array; replaying a small saved delta onto
    a loaded one must not copy the whole base to the heap (0.6 KB per document at 100k)."""

    __slots__ = ("base", "tail")

    def __init__(self, dtype: type | np.dtype, data: np.ndarray | None = None) -> None:
        self.base = np.empty(0, dtype) if data is None else data
        self.tail = _Grow(dtype)

    @property
    def n(self) -> int:
        return len(self.base) + self.tail.n

    @property
    def a(self) -> np.ndarray:
        """The whole array (a copy when both parts hold data: for full saves only)."""
        if not self.tail.n:
            return self.base
        return np.concatenate([self.base, self.tail.a]) if len(self.base) else self.tail.a

    def extend(self, values: np.ndarray) -> None:
        self.tail.extend(values)

    def since(self, start: int) -> np.ndarray:
        """``a[start:]``; no copy when ``start`` is in the tail (the fresh postings are)."""
        nb = len(self.base)
        return self.tail.a[start - nb :] if start >= nb else np.concatenate([self.base[start:], self.tail.a])

    def take(self, idx: np.ndarray) -> np.ndarray:
        """``a[idx]`` without joining the parts."""
        nb = len(self.base)
        if not self.tail.n:
            return self.base[idx]
        if not nb:
            return self.tail.a[idx]
        out = np.empty(len(idx), self.base.dtype)
        low = idx < nb
        out[low] = self.base[idx[low]]
        out[~low] = self.tail.a[idx[~low] - nb]
        return out


@dataclass(frozen=True)
class _Run:
    """Immutable postings sorted by term: ``docs[indptr[t]:indptr[t+1]]`` hold term ``t``."""

    indptr: np.ndarray  # int64, one more than the vocabulary size when the run was built
    docs: np.ndarray  # int32 slots
    tfs: np.ndarray  # uint16

    def __len__(self) -> int:
        return len(self.docs)

    def terms(self) -> np.ndarray:
        return np.repeat(np.arange(len(self.indptr) - 1, dtype=np.int32), np.diff(self.indptr))

    def bounds(self, q: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        inside = q < len(self.indptr) - 1
        qq = np.where(inside, q, 0)
        lo = self.indptr[qq]
        return lo, np.where(inside, self.indptr[qq + 1] - lo, 0)


def _ranges(lo: np.ndarray, cnt: np.ndarray) -> np.ndarray:
    """Concatenated ``arange(lo[i], lo[i] + cnt[i])`` without a Python loop."""
    total = int(cnt.sum())
    if total == 0:
        return np.empty(0, np.int64)
    offsets = np.cumsum(cnt) - cnt
    return np.arange(total, dtype=np.int64) + np.repeat(lo - offsets, cnt)


def _stable_order(terms: np.ndarray, vocab_size: int, *, runs: bool) -> np.ndarray:
    """Stable argsort of term ids. Sorted stretches (``runs``): timsort merges them in linear
    time; otherwise LSD radix on 16-bit halves (numpy radix-sorts 16-bit keys), ~2x faster."""
    if runs or len(terms) < 65_536:
        return np.argsort(terms, kind="stable")
    order = np.argsort((terms & 0xFFFF).astype(np.uint16), kind="stable")
    if vocab_size <= 0x10000:
        return order
    high = (terms[order] >> 16).astype(np.uint16)
    return order[np.argsort(high, kind="stable")]


def _csr(
    terms: np.ndarray, docs: np.ndarray, tfs: np.ndarray, vocab_size: int, *, runs: bool = False
) -> _Run:
    """A run from postings in any order: a stable sort by term keeps each term's docs in input order."""
    order = _stable_order(terms, vocab_size, runs=runs)
    indptr = np.zeros(vocab_size + 1, np.int64)
    np.cumsum(np.bincount(terms, minlength=vocab_size), out=indptr[1:])
    return _Run(indptr, docs[order], tfs[order])


@dataclass(frozen=True)
class LexicalState:
    """A data-only picture of a :class:`LexicalIndex`: JSON-able ``meta`` plus numpy ``arrays``.

    ``meta["kind"]`` is ``"full"`` (from :meth:`LexicalIndex.export_state`) or ``"delta"``
    (from :meth:`LexicalIndex.export_delta`). Arrays are read-only views; write them with
    ``np.save(..., allow_pickle=False)`` (see :meth:`write`).
    """

    meta: dict[str, Any]
    arrays: dict[str, np.ndarray]

    def write(self, folder: str | Path, name: str = "lexical") -> list[Path]:
        """``<name>.json`` + one ``<name>.<array>.npy`` per array in ``folder``; returns the paths.

        Not atomic by itself: the caller writes into a temporary folder or segment and adds
        the files to its manifest checksums.
        """
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        paths = []
        for key, arr in self.arrays.items():
            path = folder / f"{name}.{key}.npy"
            np.save(path, np.ascontiguousarray(arr), allow_pickle=False)
            paths.append(path)
        path = folder / f"{name}.json"
        path.write_text(json.dumps(self.meta, ensure_ascii=False), encoding="utf-8")
        return [*paths, path]

    @classmethod
    def read(cls, folder: str | Path, name: str = "lexical", *, mmap: bool = False) -> LexicalState:
        """Read what :meth:`write` wrote (no pickle); ``mmap=True`` maps the arrays read-only."""
        folder = Path(folder)
        try:
            meta = json.loads((folder / f"{name}.json").read_text(encoding="utf-8"))
            keys = _arrays_of(meta)
            arrays = {
                k: np.load(folder / f"{name}.{k}.npy", mmap_mode="r" if mmap else None, allow_pickle=False)
                for k in keys
            }
        except (OSError, ValueError, AttributeError) as exc:
            raise StoreFormatError(
                f"the lexical index in {folder} is missing or unreadable ({exc}); "
                "restore the folder from a backup or rebuild the store"
            ) from exc
        return cls(meta, arrays)


class LexicalIndex:
    """Incremental BM25 over one partition's documents, kept in step with the dense store by id.

    How (as search engines do): a vocabulary ``str -> int`` that only grows; each document
    is a *slot* with its length and its (term id, tf) pairs (the forward index, flat int32 /
    uint16 arrays); postings (term -> slots, tf) live in a few immutable term-sorted *runs*
    plus a small unsorted *fresh* tail (the forward entries of the newest slots), merged like
    an LSM tree (amortised O(log n) per posting). Document frequencies, the document count
    and the total length are kept current on every write, so adding or deleting ``m``
    documents costs O(m) and the first query after a write is as fast as any other. A
    delete marks the slot dead (a tombstone); merges drop dead postings and slots are
    renumbered when a quarter of them are dead.

    Scores are computed at query time from the postings of the query's terms only:
    BM25 "lucene" as bm25s computes it, ``idf = log(1 + (N - df + 0.5) / (df + 0.5))``,
    ``tf part = tf / (tf + k1 * (1 - b + b * dl / avgdl))``; a repeated query term counts
    each time it appears. Ties rank by insertion order (an upsert moves a document last).

    Thread safety: one lock around every read and write; text analysis (the slow part)
    runs outside it (:meth:`add` analyses first; :meth:`add_tokens` takes analysed tokens).

    Persistence (data only, no pickle; the storage layer owns files, checksums, atomicity):

    * :meth:`export_state` -> :class:`LexicalState` ``kind="full"``: vocabulary and live ids
      (JSON), forward index and postings (numpy). :meth:`from_state` rebuilds the index
      from it without analysing text or sorting anything (arrays may be memory maps; they
      are copied only when a write needs it).
    * :meth:`export_delta(since) <export_delta>` -> ``kind="delta"``: what changed since
      the export that returned ``meta["version"] == since`` (one of the last 8 exports):
      new vocabulary terms, deleted ids, and the forward index of documents added since.
      O(changes), not O(N). :meth:`apply_delta` replays it onto an index at version
      ``since``: ``from_state(full)`` then ``apply_delta(d1)``, ``apply_delta(d2)``...
      reproduces the index (same ids, order and scores).
    * :meth:`LexicalState.write` / :meth:`LexicalState.read` put a state in a folder as
      ``.npy`` files + ``.json``.
    """

    def __init__(self, language: str, *, k1: float = 1.2, b: float = 0.75) -> None:
        self.language = language
        self.analyzer = analyzer_for(language)
        self.k1, self.b = float(k1), float(b)
        self._lock = threading.RLock()
        self._reset()

    def _reset(self) -> None:
        self._vocab: dict[str, int] = {}
        self._df = _Grow(np.int32)
        self._ids: list[str | None] = []  # per slot; None once deleted
        self._slot_of: dict[str, int] = {}
        self._live = _Grow(np.bool_)
        self._dl = _Grow(np.int32)
        self._start = _Grow(np.int64, np.zeros(1, np.int64))  # forward index offsets per slot
        self._terms = _Split(np.int32)  # forward index: (term, tf) per posting, by slot
        self._tfs = _Split(np.uint16)
        self._runs: list[_Run] = []
        self._fresh_from = 0  # slots from here on are not in any run yet
        self._n = 0  # live documents
        self._total_len = 0  # tokens in live documents
        self._dead_slots = 0
        self._dead_in_runs = 0  # postings of dead slots still inside runs
        self._version = 0
        # exported version -> (slots, vocabulary size) then; deletes are logged only while a
        # mark exists (an index never exported keeps no log), from the oldest mark on
        self._marks: dict[int, tuple[int, int]] = {}
        self._deleted: list[tuple[int, str]] = []  # (version, id)
        self._legacy: tuple[list[str], dict[str, int], np.ndarray] | None = None
        self._norm: np.ndarray | None = None  # BM25 length norm per slot, until the next write
        self._last_query: tuple[str, int, np.ndarray, np.ndarray] | None = None
        self._last_scores: tuple[str, int, np.ndarray, np.ndarray] | None = None

    # -- writes -------------------------------------------------------------------------------
    def __len__(self) -> int:
        return self._n

    @property
    def version(self) -> int:
        """Increases with every write; what :meth:`export_delta` counts from."""
        return self._version

    def document_frequencies(self, terms: Sequence[str]) -> list[int]:
        """Live documents holding each analysed term (0 for a term never seen).

        Read-only, for routing: the router asks a partition how many of a query's words it
        knows (its own vocabulary is the best language model of its own documents).
        """
        with self._lock:
            df = self._df.a
            return [int(df[i]) if (i := self._vocab.get(t)) is not None else 0 for t in terms]

    def analyse(self, texts: Sequence[str]) -> list[list[str]]:
        """Tokens of each text with this partition's analyser (no lock needed)."""
        return [self.analyzer.tokens(t) for t in texts]

    def add(self, ids: Sequence[str], texts: Sequence[str]) -> None:
        """Upsert documents by id (a repeated id: the last one wins)."""
        self.add_tokens(ids, self.analyse(texts))

    def add_tokens(self, ids: Sequence[str], tokens: Sequence[Sequence[str]]) -> None:
        """Upsert already analysed documents (see :meth:`analyse`); O(tokens)."""
        if len(ids) != len(tokens):
            raise ValueError(f"{len(ids)} ids but {len(tokens)} token lists")
        last = {d: i for i, d in enumerate(ids)}  # a repeated id: the last occurrence wins
        order = sorted(last.values())
        lens = np.fromiter((len(tokens[i]) for i in order), np.int64, len(order))
        with self._lock:
            version = self._version + 1
            vocab = self._vocab  # grows first: a failure below leaves only unused terms behind
            flat = np.fromiter(
                (vocab.setdefault(t, len(vocab)) for i in order for t in tokens[i]), np.int64, int(lens.sum())
            )
            self._grow_vocab()
            self._remove([ids[i] for i in order], version)
            self._append([ids[i] for i in order], lens, flat)
            self._version = version
            self._maintain()

    def delete(self, ids: Iterable[str]) -> None:
        """Remove by id; unknown ids are ignored. O(removed tokens)."""
        with self._lock:
            version = self._version + 1
            if self._remove(list(ids), version):
                self._version = version
                self._maintain()

    def clear(self) -> None:
        with self._lock:
            version = self._version + 1
            self._reset()
            self._version = version  # no marks: nothing before a clear can be replayed as a delta

    def _grow_vocab(self) -> None:
        if len(self._vocab) > self._df.n:
            self._df.extend(np.zeros(len(self._vocab) - self._df.n, np.int32))

    def _append(self, ids: list[str], lens: np.ndarray, flat: np.ndarray) -> None:
        """New slots for ``ids``: ``flat`` holds their term ids back to back (``lens`` each)."""
        m = len(ids)
        if not m:
            return
        vocab_size = max(len(self._vocab), 1)
        doc = np.repeat(np.arange(m, dtype=np.int64), lens)
        keys, counts = np.unique(doc * vocab_size + flat, return_counts=True)  # by doc, then term
        terms = (keys % vocab_size).astype(np.int32)
        per_doc = np.bincount(keys // vocab_size, minlength=m)
        self._append_forward(ids, lens, per_doc, terms, np.minimum(counts, _TF_MAX).astype(np.uint16))

    def _append_forward(
        self, ids: list[str], lens: np.ndarray, per_doc: np.ndarray, terms: np.ndarray, tfs: np.ndarray
    ) -> None:
        first = len(self._ids)
        self._ids.extend(ids)
        self._slot_of.update((d, first + j) for j, d in enumerate(ids))
        self._live.extend(np.ones(len(ids), np.bool_))
        self._dl.extend(lens.astype(np.int32))
        self._start.extend(self._terms.n + np.cumsum(per_doc))
        self._terms.extend(terms)
        self._tfs.extend(tfs)
        np.add.at(self._df.buf, terms, 1)
        self._n += len(ids)
        self._total_len += int(lens.sum())
        self._legacy = None
        self._norm = None

    def _remove(self, ids: list[str], version: int) -> int:
        slots = [s for s in (self._slot_of.pop(d, None) for d in ids) if s is not None]
        if not slots:
            return 0
        arr = np.asarray(slots, np.int64)
        start = self._start.a
        lo, cnt = start[arr], start[arr + 1] - start[arr]
        np.subtract.at(self._df.buf, self._terms.take(_ranges(lo, cnt)), 1)
        self._live.buf[arr] = False
        self._n -= len(slots)
        self._total_len -= int(self._dl.a[arr].sum())
        self._dead_slots += len(slots)
        self._dead_in_runs += int(cnt[arr < self._fresh_from].sum())
        log = self._deleted if self._marks else None
        for s in slots:
            if log is not None:
                log.append((version, self._ids[s]))  # type: ignore[arg-type]
            self._ids[s] = None
        self._legacy = None
        self._norm = None
        return len(slots)

    # -- postings maintenance -----------------------------------------------------------------
    def _maintain(self) -> None:
        """Keep the fresh tail short, runs logarithmic in number, tombstones a minority."""
        slots = len(self._ids)
        if self._dead_slots > max(_DEAD_MIN, slots // 4):
            self._compact(renumber=True)
            return
        in_runs = sum(len(r) for r in self._runs)
        if self._dead_in_runs > max(_FRESH_MAX, in_runs // 4):
            self._compact(renumber=False)
            return
        if self._terms.n - int(self._start.a[self._fresh_from]) > _FRESH_MAX:
            self._flush()

    def _fresh(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Live postings of the fresh tail as (terms, slots, tfs), in slot order."""
        slots = len(self._ids)
        start = self._start.a
        p0 = int(start[self._fresh_from])
        lens = np.diff(start[self._fresh_from :])
        docs = np.repeat(np.arange(self._fresh_from, slots, dtype=np.int32), lens)
        terms, tfs = self._terms.since(p0), self._tfs.since(p0)
        keep = self._live.a[docs]
        if not keep.all():
            terms, docs, tfs = terms[keep], docs[keep], tfs[keep]
        return terms, docs, tfs

    def _flush(self) -> None:
        terms, docs, tfs = self._fresh()
        self._fresh_from = len(self._ids)
        if len(docs):
            self._runs.append(_csr(terms, docs, tfs, len(self._vocab)))
        while len(self._runs) > 1 and len(self._runs[-2]) <= 2 * len(self._runs[-1]):
            b = self._runs.pop()
            a = self._runs.pop()
            self._runs.append(self._merge([a, b], ()))

    def _merge(self, runs: Sequence[_Run], extra: tuple[np.ndarray, ...]) -> _Run:
        """One run from ``runs`` (+ unsorted ``extra`` postings), dead slots dropped."""
        live = self._live.a
        parts = [(r.terms(), r.docs, r.tfs) for r in runs]
        if extra:
            parts.append(extra)  # type: ignore[arg-type]
        terms = np.concatenate([p[0] for p in parts]) if parts else np.empty(0, np.int32)
        docs = np.concatenate([p[1] for p in parts]) if parts else np.empty(0, np.int32)
        tfs = np.concatenate([p[2] for p in parts]) if parts else np.empty(0, np.uint16)
        keep = live[docs]
        dropped = int(len(keep) - keep.sum())
        if dropped:
            terms, docs, tfs = terms[keep], docs[keep], tfs[keep]
            self._dead_in_runs = max(0, self._dead_in_runs - dropped)
        # Term-sorted inputs: the stable sort is a linear merge of already sorted stretches.
        return _csr(terms, docs, tfs, len(self._vocab), runs=True)

    def _compact(self, *, renumber: bool) -> None:
        """All postings in one run; with ``renumber``, dead slots are dropped for good."""
        self._last_scores = None  # slots may be renumbered
        if len(self._runs) <= 1 and self._fresh_from == len(self._ids) and not self._dead_slots:
            return  # already compact
        fresh = self._fresh()
        run = self._merge(self._runs, fresh)
        self._dead_in_runs = 0
        self._fresh_from = len(self._ids)
        if renumber and self._dead_slots:
            live = self._live.a
            remap = np.cumsum(live) - 1  # old slot -> new slot (for live slots)
            run = _Run(run.indptr, remap[run.docs].astype(np.int32), run.tfs)
            start = self._start.a
            kept = np.flatnonzero(live)
            lo, cnt = start[kept], start[kept + 1] - start[kept]
            idx = _ranges(lo, cnt)
            new_start = np.zeros(len(kept) + 1, np.int64)
            np.cumsum(cnt, out=new_start[1:])
            self._terms = _Split(np.int32, self._terms.take(idx))
            self._tfs = _Split(np.uint16, self._tfs.take(idx))
            self._start = _Grow(np.int64, new_start)
            self._dl = _Grow(np.int32, self._dl.a[kept])
            self._live = _Grow(np.bool_, np.ones(len(kept), np.bool_))
            cum = np.concatenate([[0], np.cumsum(live)])
            self._marks = {v: (int(cum[s]), voc) for v, (s, voc) in self._marks.items()}
            self._ids = [d for d in self._ids if d is not None]
            self._slot_of = {d: i for i, d in enumerate(self._ids)}  # type: ignore[misc]
            self._dead_slots = 0
            self._fresh_from = len(self._ids)
        self._runs = [run] if len(run) else []
        self._legacy = None
        self._norm = None

    # -- reads --------------------------------------------------------------------------------
    def _query(self, tokens: list[str]) -> tuple[np.ndarray, np.ndarray]:
        """Unique known term ids of analysed query ``tokens`` (sorted) and how often each occurs."""
        vocab = self._vocab
        known = Counter(i for i in (vocab.get(t) for t in tokens) if i is not None)
        terms = sorted(known)  # a few terms: cheaper than np.unique's array machinery
        return np.array(terms, np.int64), np.array([known[t] for t in terms], np.int64)

    def _analysed(self, query: str) -> tuple[np.ndarray, np.ndarray]:
        """:meth:`_query` of ``query``'s tokens, the last query's kept: a hybrid search asks for
        a query's top documents and then for its scores of other ids. Lock held."""
        last = self._last_query
        if last is not None and last[0] == query and last[1] == len(self._vocab):
            return last[2], last[3]
        q, counts = self._query(self.analyzer.tokens(query))
        self._last_query = (query, len(self._vocab), q, counts)  # term ids never change
        return q, counts

    def _weights(self, q: np.ndarray, counts: np.ndarray) -> np.ndarray:
        df = self._df.a[q].astype(np.float64)
        return counts * np.log1p((self._n - df + 0.5) / (df + 0.5))

    def _norms(self) -> np.ndarray:
        """``k1 * (1 - b + b * dl / avgdl)`` per slot: computed once per write, not per posting."""
        if self._norm is None or len(self._norm) != len(self._ids):
            self._norm = self.k1 * (1.0 - self.b + self.b * self._dl.a / (self._total_len / self._n))
        return self._norm

    def _tf_part(self, tfs: np.ndarray, docs: np.ndarray) -> np.ndarray:
        tf = tfs.astype(np.float64)
        return tf / (tf + self._norms()[docs])

    def _candidates(self, q: np.ndarray, counts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(slots ascending, BM25 > 0) of every live document holding a query term."""
        if not len(q) or not self._n:
            return np.empty(0, np.int64), np.empty(0, np.float64)
        w = self._weights(q, counts)
        docs_parts, tf_parts, w_parts = [], [], []
        for run in self._runs:
            lo, cnt = run.bounds(q)
            # One contiguous slice per query term (a few): cheaper than a gather by index.
            spans = [(a, a + c, j) for j, (a, c) in enumerate(zip(lo.tolist(), cnt.tolist())) if c]
            if spans:
                docs_parts += [run.docs[a:b] for a, b, _ in spans]
                tf_parts += [run.tfs[a:b] for a, b, _ in spans]
                w_parts.append(np.repeat(w, cnt))
        p0 = int(self._start.a[self._fresh_from])
        tail = self._terms.since(p0)
        if len(tail):
            pos = np.flatnonzero(np.isin(tail, q))
            if len(pos):
                docs_parts.append(np.searchsorted(self._start.a, pos + p0, side="right") - 1)
                tf_parts.append(self._tfs.since(p0)[pos])
                w_parts.append(w[np.searchsorted(q, tail[pos])])
        if not docs_parts:
            return np.empty(0, np.int64), np.empty(0, np.float64)
        docs = np.concatenate(docs_parts) if len(docs_parts) > 1 else docs_parts[0]
        tfs = np.concatenate(tf_parts) if len(tf_parts) > 1 else tf_parts[0]
        ws = np.concatenate(w_parts) if len(w_parts) > 1 else w_parts[0]
        if self._dead_slots:  # postings of deleted slots are dropped lazily
            alive = self._live.a[docs]
            if not alive.all():
                docs, tfs, ws = docs[alive], tfs[alive], ws[alive]
        contrib = ws * self._tf_part(tfs, docs)
        slots = len(self._ids)
        if len(docs) * 64 > slots:  # measured: a dense pass beats sorting past ~slots/64 postings
            dense = np.bincount(docs, weights=contrib, minlength=slots)
            hit = np.flatnonzero(dense != 0)  # on a bool mask: ~5x faster than on the floats
            return hit, dense[hit]
        uniq, inverse = np.unique(docs, return_inverse=True)
        return uniq.astype(np.int64), np.bincount(inverse, weights=contrib)

    def top(self, query: str, k: int, allowed: Allowed = None) -> list[tuple[str, float]]:
        """Best ``k`` ``(id, BM25)`` with BM25 > 0, ties by insertion order.

        ``allowed`` restricts the ranking before the cut (a filter): a collection of ids or
        a predicate on an id (called on candidates in rank order until ``k`` pass).
        Cost: the postings of the query's terms, never O(N) Python work.
        """
        if k <= 0:
            return []
        with self._lock:
            q, counts = self._analysed(query)
            slots, scores = self._candidates(q, counts)
            # Kept until the next query or write (up to 4 MB): scores_for(query, ...) reads other
            # ids' scores here.
            if len(slots) <= _KEEP_SCORES:  # any write bumps the version (vocabulary included)
                self._last_scores = (query, self._version, slots, scores)
            if allowed is not None and not callable(allowed) and len(allowed) < len(slots):
                want = np.fromiter(
                    (s for s in (self._slot_of.get(d) for d in allowed) if s is not None), np.int64
                )
                keep = np.isin(slots, want)
                slots, scores, allowed = slots[keep], scores[keep], None
            ids = self._ids
            if allowed is None:
                chosen = _best(scores, k)
                return [(ids[s], v) for s, v in zip(slots[chosen].tolist(), scores[chosen].tolist())]  # type: ignore[misc]
            accept = allowed if callable(allowed) else allowed.__contains__
            out: list[tuple[str, float]] = []
            for i in _best(scores, len(scores)):
                doc_id = ids[slots[i]]
                if accept(doc_id):  # type: ignore[arg-type]
                    out.append((doc_id, float(scores[i])))  # type: ignore[arg-type]
                    if len(out) == k:
                        break
            return out

    def scores_for(self, query: str, ids: Sequence[str]) -> dict[str, float]:
        """BM25 of ``query`` for each known id (0.0 where no term matches; unknown ids left out).

        Cost: a binary search per (query term, id) in the term's postings (a run keeps each
        term's slots ascending), and the forward index of ids still in the fresh tail;
        whatever N is.
        """
        with self._lock:
            q, counts = self._analysed(query)
            known = [(d, s) for d in ids if (s := self._slot_of.get(d)) is not None]
            out = dict.fromkeys((d for d, _ in known), 0.0)
            if not known or not len(q):
                return out
            slots = np.fromiter((s for _, s in known), np.int64, len(known))
            last = self._last_scores
            if last is not None and last[:2] == (query, self._version):
                # The same query's top() just scored every document holding a term: look up.
                have, values = last[2], last[3]
                if len(have):
                    pos, found = _lookup(have, slots)
                    for (d, _), v in zip(known, np.where(found, values[pos], 0.0).tolist()):
                        out[d] = v
                return out
            w = self._weights(q, counts)
            per = np.zeros(len(slots))
            # Few query terms: binary searches; many (Han bigrams, Thai trigrams): the forward index.
            in_runs = np.flatnonzero(slots < self._fresh_from) if len(q) <= _SEARCH_TERMS else slots[:0]
            if len(in_runs):
                wanted = slots[in_runs]
                for run in self._runs:
                    lo, cnt = run.bounds(q)
                    for j, (a, c) in enumerate(zip(lo.tolist(), cnt.tolist())):
                        if not c:
                            continue
                        pos, hit = _lookup(run.docs[a : a + c], wanted)
                        if hit.any():
                            who = in_runs[hit]
                            per[who] += w[j] * self._tf_part(run.tfs[a + pos[hit]], slots[who])
            fresh = np.flatnonzero(slots >= self._fresh_from) if len(in_runs) else np.arange(len(slots))
            if len(fresh):
                per[fresh] = self._forward_scores(q, w, slots[fresh])
            for (d, _), v in zip(known, per.tolist()):
                out[d] = v
            return out

    def _forward_scores(self, q: np.ndarray, w: np.ndarray, slots: np.ndarray) -> np.ndarray:
        """BM25 of the given slots from their own (term, tf) entries."""
        start = self._start.a
        lo, cnt = start[slots], start[slots + 1] - start[slots]
        idx = _ranges(lo, cnt)
        terms = self._terms.take(idx)
        hit = np.isin(terms, q)
        if not hit.any():
            return np.zeros(len(slots))
        owner = np.repeat(np.arange(len(slots)), cnt)[hit]
        contrib = w[np.searchsorted(q, terms[hit])] * self._tf_part(self._tfs.take(idx[hit]), slots[owner])
        return np.bincount(owner, weights=contrib, minlength=len(slots))

    def scores(self, query: str) -> tuple[list[str], np.ndarray]:
        """(ids, BM25 score of each) for every document; all zeros when no query term is known."""
        order, scores, _ = self.scored(query)
        return order, scores

    def scored(self, query: str) -> tuple[list[str], np.ndarray, dict[str, int]]:
        """Like :meth:`scores`, plus each id's position. O(N): prefer :meth:`top` / :meth:`scores_for`."""
        with self._lock:
            q, counts = self._analysed(query)
            if self._legacy is None:
                order = [d for d in self._ids if d is not None]
                positions = {d: i for i, d in enumerate(order)}
                self._legacy = (order, positions, np.cumsum(self._live.a) - 1)
            order, positions, position_of_slot = self._legacy
            slots, values = self._candidates(q, counts)
            out = np.zeros(len(order), np.float32)
            out[position_of_slot[slots]] = values
            return order, out, positions

    # -- persistence --------------------------------------------------------------------------
    def _mark(self) -> None:
        self._marks[self._version] = (len(self._ids), len(self._vocab))
        for v in sorted(self._marks)[:-_MARKS_KEPT]:
            del self._marks[v]
        oldest = min(self._marks)
        self._deleted = [(v, d) for v, d in self._deleted if v > oldest]

    def _meta(self, kind: str) -> dict[str, Any]:
        return {
            "format": _FORMAT,
            "format_version": _FORMAT_VERSION,
            "kind": kind,
            "language": self.language,
            "k1": self.k1,
            "b": self.b,
            "version": self._version,
        }

    def export_state(self, *, postings: bool = True) -> LexicalState:
        """Everything needed to rebuild this index without re-analysing text (one merge, O(N)).

        ``postings=False`` leaves the postings out (half the bytes): :meth:`from_state` then
        rebuilds them from the forward index with one sort (well under a second per 100k docs).
        """
        with self._lock:
            self._compact(renumber=True)
            self._mark()
            run = self._runs[0] if self._runs else _Run(np.zeros(1, np.int64), *_empty())
            indptr = run.indptr  # a run built before the vocabulary last grew is shorter
            if len(indptr) < len(self._vocab) + 1:
                indptr = np.concatenate([indptr, np.full(len(self._vocab) + 1 - len(indptr), indptr[-1])])
            meta = self._meta("full") | {
                "vocab": list(self._vocab),
                "ids": list(self._ids),
                "postings": postings,
            }
            arrays = {
                "doc_len": self._dl.a,
                "doc_start": self._start.a,
                "doc_terms": self._terms.a,
                "doc_tfs": self._tfs.a,
                "post_indptr": indptr,
                "post_docs": run.docs,
                "post_tfs": run.tfs,
            }
            if not postings:
                arrays = {k: v for k, v in arrays.items() if k in _DELTA_ARRAYS}
        return LexicalState(meta, _read_only(arrays))

    def export_delta(self, since: int) -> LexicalState:
        """What changed since the export at version ``since``; O(changes).

        Raises ``ValueError`` when ``since`` is not one of the last exports (or a
        :meth:`clear` came after it): take a full :meth:`export_state` then.
        """
        with self._lock:
            if since not in self._marks:
                raise ValueError(f"no export at version {since} to start a delta from; export the full state")
            slot_mark, vocab_mark = self._marks[since]
            slots = np.arange(slot_mark, len(self._ids))
            slots = slots[self._live.a[slots]]
            start = self._start.a
            lo, cnt = start[slots], start[slots + 1] - start[slots]
            idx = _ranges(lo, cnt)
            doc_start = np.zeros(len(slots) + 1, np.int64)
            np.cumsum(cnt, out=doc_start[1:])
            vocab = list(self._vocab)
            meta = self._meta("delta") | {
                "since": since,
                "vocab_from": vocab_mark,
                "new_terms": vocab[vocab_mark:],
                "deleted": sorted({d for v, d in self._deleted if v > since}),
                "ids": [self._ids[s] for s in slots.tolist()],
            }
            arrays = {
                "doc_len": self._dl.a[slots],
                "doc_start": doc_start,
                "doc_terms": self._terms.take(idx),
                "doc_tfs": self._tfs.take(idx),
            }
            self._mark()
        return LexicalState(meta, _read_only(arrays))

    @classmethod
    def from_state(
        cls, state: LexicalState, *, slots: tuple[list[str], dict[str, int]] | None = None
    ) -> LexicalIndex:
        """The index a full :meth:`export_state` describes; no text analysis, no sorting.

        ``slots``: ids and their id -> position dict known to the caller (the dense store's,
        built once); taken over when the state lists the same ids in the same order.

        Raises :class:`~deposium_rag.errors.StoreFormatError` when the state is inconsistent.
        """
        meta, arrays = state.meta, state.arrays
        _check_meta(meta, "full")
        try:
            ix = cls(str(meta["language"]), k1=float(meta["k1"]), b=float(meta["b"]))
            vocab, ids = list(meta["vocab"]), list(meta["ids"])
            # Plain ndarray views of memory maps: the np.memmap subclass costs per indexing call.
            a = {k: _typed(arrays, k).view(np.ndarray) for k in _arrays_of(meta)}
        except (KeyError, TypeError, ValueError) as exc:
            raise _format_error(f"incomplete lexical state ({exc})") from exc
        n, size = len(ids), len(vocab)
        _check_forward(a, n, size)
        if "post_docs" not in a:  # saved without postings: one stable sort by term rebuilds them
            owner = np.repeat(np.arange(n, dtype=np.int32), np.diff(a["doc_start"]))
            run = _csr(a["doc_terms"], owner, a["doc_tfs"], size)
            a |= {"post_indptr": run.indptr, "post_docs": run.docs, "post_tfs": run.tfs}
        indptr, docs = a["post_indptr"], a["post_docs"]
        if (
            len(indptr) != size + 1
            or indptr[0] != 0
            or indptr[-1] != len(docs)
            or len(a["post_tfs"]) != len(docs)
            or len(docs) != len(a["doc_terms"])
            or (size and np.any(np.diff(indptr) < 0))
            or (len(docs) and (docs.min() < 0 or docs.max() >= n))
        ):
            raise _format_error("lexical postings do not match the documents")
        ix._vocab = dict(zip(vocab, range(size)))  # C-level passes: a million ids load on open
        ix._slot_of = slots[1] if slots is not None and slots[0] == ids else dict(zip(ids, range(n)))
        if len(ix._vocab) != size or len(ix._slot_of) != n:
            raise _format_error("duplicate vocabulary terms or ids in the lexical state")
        ix._ids = ids
        ix._df = _Grow(np.int32, np.diff(indptr).astype(np.int32))
        # The checks above read every page of the mapped arrays; a query reads a few.
        _release(arrays.values())
        ix._live = _Grow(np.bool_, np.ones(n, np.bool_))
        ix._dl = _Grow(np.int32, a["doc_len"])
        ix._start = _Grow(np.int64, a["doc_start"])
        ix._terms = _Split(np.int32, a["doc_terms"])
        ix._tfs = _Split(np.uint16, a["doc_tfs"])
        ix._runs = [_Run(indptr, docs, a["post_tfs"])] if len(docs) else []
        ix._fresh_from = n
        ix._n = n
        ix._total_len = int(a["doc_len"].sum(dtype=np.int64))
        ix._version = int(meta["version"])
        ix._marks = {ix._version: (n, size)}
        return ix

    def apply_delta(self, state: LexicalState) -> None:
        """Replay an :meth:`export_delta` onto this index, which must be at its ``since`` version."""
        meta, arrays = state.meta, state.arrays
        _check_meta(meta, "delta")
        try:
            since, vocab_from = int(meta["since"]), int(meta["vocab_from"])
            new_terms, deleted, ids = list(meta["new_terms"]), list(meta["deleted"]), list(meta["ids"])
            a = {k: _typed(arrays, k) for k in _DELTA_ARRAYS}
        except (KeyError, TypeError, ValueError) as exc:
            raise _format_error(f"incomplete lexical delta ({exc})") from exc
        with self._lock:
            if since != self._version or vocab_from != len(self._vocab):
                raise _format_error(
                    f"lexical delta starts at version {since} (vocabulary {vocab_from}) but the index "
                    f"is at version {self._version} (vocabulary {len(self._vocab)}): segments out of order"
                )
            size = vocab_from + len(new_terms)
            _check_forward(a, len(ids), size)
            if len(set(ids)) != len(ids):
                raise _format_error("duplicate ids in a lexical delta")
            for t in new_terms:
                if self._vocab.setdefault(t, len(self._vocab)) != len(self._vocab) - 1:
                    raise _format_error("a lexical delta repeats a vocabulary term")
            self._grow_vocab()
            version = int(meta["version"])
            self._remove([*deleted, *ids], version)
            self._append_forward(ids, a["doc_len"], np.diff(a["doc_start"]), a["doc_terms"], a["doc_tfs"])
            self._version = version
            self._marks = {version: (len(self._ids), len(self._vocab))}
            self._deleted = []
            self._maintain()


def _best(scores: np.ndarray, k: int) -> np.ndarray:
    """Positions of the ``k`` highest scores, highest first, ties by position."""
    if len(scores) > k:
        kth = np.partition(scores, len(scores) - k)[len(scores) - k]
        pick = np.flatnonzero(scores >= kth)
    else:
        pick = np.arange(len(scores))
    return pick[np.argsort(-scores[pick], kind="stable")][:k]


def _lookup(ordered: np.ndarray, keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(position, found) of each key in a non-empty ascending array: a binary search each."""
    pos = np.minimum(np.searchsorted(ordered, keys), len(ordered) - 1)
    return pos, ordered[pos] == keys


def _release(arrays: Iterable[np.ndarray]) -> None:
    """Unmap the pages of read-only memory maps (they stay in the OS page cache and come back
    on the next read): a load that scanned a whole file then holds only what queries touch."""
    for arr in arrays:
        mapped = getattr(arr, "_mmap", None)
        if mapped is not None and not arr.flags.writeable and hasattr(mapped, "madvise"):
            with contextlib.suppress(OSError, ValueError):
                mapped.madvise(mmap.MADV_DONTNEED)


def _empty() -> tuple[np.ndarray, np.ndarray]:
    return np.empty(0, np.int32), np.empty(0, np.uint16)


def _read_only(arrays: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    out = {}
    for k, arr in arrays.items():
        view = arr.view()
        view.flags.writeable = False
        out[k] = view
    return out


def _format_error(what: str) -> StoreFormatError:
    return StoreFormatError(f"{what}; the saved store is damaged: restore it from a backup or rebuild it")


def _check_meta(meta: dict[str, Any], kind: str) -> None:
    if meta.get("format") != _FORMAT or meta.get("kind") != kind:
        raise _format_error(
            f"not a {kind} lexical state (format {meta.get('format')!r}, kind {meta.get('kind')!r})"
        )
    if meta.get("format_version") != _FORMAT_VERSION:
        raise _format_error(f"lexical format version {meta.get('format_version')!r} is not {_FORMAT_VERSION}")


def _arrays_of(meta: dict[str, Any]) -> tuple[str, ...]:
    return _FULL_ARRAYS if meta.get("kind") == "full" and meta.get("postings", True) else _DELTA_ARRAYS


def _typed(arrays: dict[str, np.ndarray], key: str) -> np.ndarray:
    arr = arrays[key]
    if arr.dtype != _DTYPES[key] or arr.ndim != 1:
        raise ValueError(f"{key} is {arr.dtype}[{arr.ndim}d], expected {np.dtype(_DTYPES[key])}[1d]")
    return arr


def _check_forward(a: dict[str, np.ndarray], n: int, size: int) -> None:
    start, terms = a["doc_start"], a["doc_terms"]
    if (
        len(a["doc_len"]) != n
        or len(start) != n + 1
        or start[0] != 0
        or start[-1] != len(terms)
        or len(a["doc_tfs"]) != len(terms)
        or (n and np.any(np.diff(start) < 0))
        or (len(terms) and (terms.min() < 0 or terms.max() >= size))
        or (n and a["doc_len"].min() < 0)
    ):
        raise _format_error("lexical documents are inconsistent")
