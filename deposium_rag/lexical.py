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

Updates: bm25s indexes are static. Documents are analysed once on add; the BM25 matrix is
rebuilt from the kept tokens on the first search after a change (cost measured in
benchmarks/hybrid.py), so a burst of writes costs one rebuild.
"""

from __future__ import annotations

import threading
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np
import regex

__all__ = ["ANALYZERS", "Analyzer", "LexicalIndex", "analyzer_for"]

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


class LexicalIndex:
    """BM25 over one partition's documents, kept in step with the dense store by id."""

    def __init__(self, language: str, *, k1: float = 1.2, b: float = 0.75) -> None:
        self.language = language
        self.analyzer = analyzer_for(language)
        self.k1, self.b = k1, b
        self._docs: dict[str, list[str]] = {}
        self._built: tuple[list[str], dict[str, int], object, dict[str, int]] | None = None
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._docs)

    def add(self, ids: Sequence[str], texts: Sequence[str]) -> None:
        """Upsert documents (analysed now; the BM25 matrix is rebuilt on the next search)."""
        analysed = [self.analyzer.tokens(t) for t in texts]
        with self._lock:
            for doc_id, toks in zip(ids, analysed):
                self._docs.pop(doc_id, None)  # an upsert moves to the end, like a fresh add
                self._docs[doc_id] = toks
            self._built = None

    def delete(self, ids: Iterable[str]) -> None:
        with self._lock:
            for doc_id in ids:
                self._docs.pop(doc_id, None)
            self._built = None

    def clear(self) -> None:
        with self._lock:
            self._docs.clear()
            self._built = None

    def _index(self) -> tuple[list[str], dict[str, int], object, dict[str, int]]:
        """The current BM25 matrix, rebuilt if documents changed since the last search."""
        with self._lock:
            if self._built is None:
                import bm25s
                from bm25s.tokenization import Tokenized

                order = list(self._docs)
                vocab: dict[str, int] = {}
                rows = [[vocab.setdefault(t, len(vocab)) for t in self._docs[d]] for d in order]
                bm25 = bm25s.BM25(k1=self.k1, b=self.b)
                if order:
                    bm25.index(Tokenized(ids=rows, vocab=vocab), show_progress=False)
                self._built = (order, vocab, bm25, {d: i for i, d in enumerate(order)})
            return self._built

    def scores(self, query: str) -> tuple[list[str], np.ndarray]:
        """(ids, BM25 score of each) for every document; all zeros when no query term is known."""
        order, scores, _ = self.scored(query)
        return order, scores

    def scored(self, query: str) -> tuple[list[str], np.ndarray, dict[str, int]]:
        """Like :meth:`scores`, plus each id's position (built once per rebuild, not per query)."""
        order, vocab, bm25, positions = self._index()
        qids = [vocab[t] for t in self.analyzer.tokens(query) if t in vocab]
        if not order or not qids:
            return order, np.zeros(len(order), dtype=np.float32), positions
        scores = np.asarray(bm25.get_scores_from_ids(qids), dtype=np.float32)  # type: ignore[attr-defined]
        return order, scores, positions
