"""Language detection: one small protocol, two backends, ISO 639-1 codes everywhere.

Why restrict candidates: queries are short ("Explain quantum computing"), where detectors are
weakest; a router only needs to choose among the languages its index holds, and restricting
the choice to those is both more accurate and faster (benchmarks/language_id.py measures it).

Rules shared by every backend: ``None`` / bytes raise ``TypeError``; text without letters
(empty, digits, punctuation, emoji) is ``und`` with probability 1. Backends are immutable
after construction, so one detector is safe to share across threads.
"""

from __future__ import annotations

import math
import re
import threading
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Protocol, runtime_checkable

import numpy as np
import regex

from deposium_rag._validation import check_text

__all__ = [
    "COMMON_LANGUAGES",
    "UND",
    "Candidate",
    "DocumentLanguage",
    "LangdetectDetector",
    "LanguageDetector",
    "Py3LangidDetector",
    "detect_documents",
    "get_detector",
    "has_letters",
    "normalize_language",
    "sample_windows",
]

UND = "und"
# Widely used languages (langdetect's 55 profiles, as ISO 639-1) plus the languages lexical.py
# stems that stole no documents from their neighbours when added (sr eo eu ga hy; measured on
# lingua sentences, 3-sentence chunks): the default set a document's language is chosen from.
# Without a set, short texts land in rare look-alikes (English as Latin, Spanish as Aragonese)
# and those stray partitions then attract queries.
COMMON_LANGUAGES: tuple[str, ...] = (
    "af",
    "ar",
    "bg",
    "bn",
    "ca",
    "cs",
    "cy",
    "da",
    "de",
    "el",
    "en",
    "eo",
    "es",
    "et",
    "eu",
    "fa",
    "fi",
    "fr",
    "ga",
    "gu",
    "he",
    "hi",
    "hr",
    "hu",
    "hy",
    "id",
    "it",
    "ja",
    "kn",
    "ko",
    "lt",
    "lv",
    "mk",
    "ml",
    "mr",
    "nb",
    "ne",
    "nl",
    "pa",
    "pl",
    "pt",
    "ro",
    "ru",
    "sk",
    "sl",
    "so",
    "sq",
    "sr",
    "sv",
    "sw",
    "ta",
    "te",
    "th",
    "tl",
    "tr",
    "uk",
    "ur",
    "vi",
    "zh",
)
_ISO_639_1 = frozenset(
    "aa ab ae af ak am an ar as av ay az ba be bg bh bi bm bn bo br bs ca ce ch co cr cs cu cv cy da de "
    "dv dz ee el en eo es et eu fa ff fi fj fo fr fy ga gd gl gn gu gv ha he hi ho hr ht hu hy hz ia id "
    "ie ig ii ik io is it iu ja jv ka kg ki kj kk kl km kn ko kr ks ku kv kw ky la lb lg li ln lo lt lu "
    "lv mg mh mi mk ml mn mr ms mt my na nb nd ne ng nl nn no nr nv ny oc oj om or os pa pi pl ps pt qu "
    "rm rn ro ru rw sa sc sd se sg si sk sl sm sn so sq sr ss st su sv sw ta te tg th ti tk tl tn to tr "
    "ts tt tw ty ug uk ur uz ve vi vo wa wo xh yi yo za zh zu".split(" ")
)
# Codes a backend may emit that are not plain ISO 639-1, mapped to what we store.
_ALIASES = {
    "zh-cn": "zh",
    "zh-tw": "zh",
    "zh-hans": "zh",
    "zh-hant": "zh",
    "iw": "he",
    "in": "id",
    "jw": "jv",
    "no": "nb",
    "mo": "ro",
}


@dataclass(frozen=True)
class Candidate:
    """One candidate language with its probability (candidates of one text sum to <= 1)."""

    language: str
    probability: float


def has_letters(text: str) -> bool:
    """True when ``text`` holds at least one letter: otherwise its language is undecidable."""
    return any(ch.isalpha() for ch in text)


def normalize_language(code: object) -> str:
    """Normalise a language tag to ISO 639-1 (``'EN-us'`` -> ``'en'``, ``'zh-Hans'`` -> ``'zh'``).

    ``'und'`` passes through. Anything else raises ``ValueError`` naming the bad tag.
    """
    if not isinstance(code, str):
        raise TypeError(f"a language code must be str, got {type(code).__name__}")
    tag = code.strip().lower().replace("_", "-")
    if tag == UND:
        return UND
    if tag in _ALIASES:
        return _ALIASES[tag]
    primary = tag.split("-", 1)[0]
    primary = _ALIASES.get(primary, primary)
    if primary not in _ISO_639_1:
        raise ValueError(
            f"unknown language code {code!r}: use an ISO 639-1 code such as 'en', 'fr', 'zh' (or 'und')"
        )
    return primary


@runtime_checkable
class LanguageDetector(Protocol):
    """Detects candidate languages of a text, best first."""

    name: str

    def detect(self, text: str, candidates: Collection[str] | None = None) -> list[Candidate]:
        """Candidates best first; ``candidates`` restricts the choice to those ISO 639-1 codes."""
        ...

    def detect_batch(
        self, texts: Sequence[str], candidates: Collection[str] | None = None
    ) -> list[list[Candidate]]: ...


def _und() -> list[Candidate]:
    return [Candidate(UND, 1.0)]


# Scripts written by one language only (among ISO 639-1 languages a router meets): a text whose
# letters are mostly in one of these needs no statistical model.
_UNIQUE_SCRIPTS = {
    "th": "Thai",
    "el": "Greek",
    "ko": "Hangul",
    "he": "Hebrew",
    "ka": "Georgian",
    "hy": "Armenian",
    "gu": "Gujarati",
    "pa": "Gurmukhi",
    "ta": "Tamil",
    "te": "Telugu",
    "kn": "Kannada",
    "ml": "Malayalam",
    "si": "Sinhala",
    "km": "Khmer",
    "lo": "Lao",
    "my": "Myanmar",
    "am": "Ethiopic",
}
_SCRIPT_OF = regex.compile("|".join(f"(?P<{lang}>\\p{{{name}}})" for lang, name in _UNIQUE_SCRIPTS.items()))
_SCRIPT_RE = {lang: regex.compile(rf"\p{{{name}}}") for lang, name in _UNIQUE_SCRIPTS.items()}
_LETTER = regex.compile(r"\p{L}")


# Pre-filter by code-point blocks with the stdlib ``re`` (much faster than \p{...} classes);
# the script regexes above decide.
_ANY_UNIQUE = re.compile(
    "[\u0370-\u03ff\u1f00-\u1fff\u0530-\u05ff\u0a00-\u0dff\u0e00-\u0eff\u10a0-\u10ff"
    "\u1000-\u109f\u1100-\u11ff\u1200-\u137f\u1780-\u17ff\u3130-\u318f\uac00-\ud7af]"
)


def _unique_script_language(text: str) -> str | None:
    """The language of a text written (>= 80% of letters) in a one-language script, else None."""
    hit = _ANY_UNIQUE.search(text)  # one character class: fast on the usual, negative, case
    if hit is None:
        return None
    first = _SCRIPT_OF.match(hit.group())
    if first is None:
        return None
    lang = first.lastgroup
    # Counts by what a sub removes: one string, not a list of one-character matches.
    letters = len(text) - len(_LETTER.sub("", text))
    in_script = len(text) - len(_SCRIPT_RE[lang].sub("", text))
    return lang if letters and in_script >= 0.8 * letters else None


@lru_cache(maxsize=256)
def _wanted_set(candidates: tuple[str, ...]) -> frozenset[str]:
    return frozenset(normalize_language(c) for c in candidates) - {UND}


def _wanted(candidates: Collection[str] | None) -> frozenset[str] | None:
    """Normalised candidate set (cached per distinct set: routers ask with the same few)."""
    if candidates is None:
        return None
    if isinstance(candidates, str):
        raise TypeError("candidates must be a collection of language codes, not a single str")
    return _wanted_set(
        tuple(sorted(candidates)) if isinstance(candidates, (set, frozenset)) else tuple(candidates)
    )


class _Base:
    name = "base"

    def detect_batch(
        self, texts: Sequence[str], candidates: Collection[str] | None = None
    ) -> list[list[Candidate]]:
        wanted = _wanted(candidates)
        return [self._one(check_text(t), wanted) for t in texts]

    def detect(self, text: str, candidates: Collection[str] | None = None) -> list[Candidate]:
        return self._one(check_text(text), _wanted(candidates))

    def _one(self, text: str, wanted: frozenset[str] | None) -> list[Candidate]:
        quick = self._quick(text, wanted)
        return quick if quick is not None else self._detect(text, wanted)

    @staticmethod
    def _quick(text: str, wanted: frozenset[str] | None) -> list[Candidate] | None:
        """Answers that need no model (no letters, one candidate, a one-language script)."""
        if not has_letters(text):
            return _und()
        if wanted is not None:
            if not wanted:
                return _und()
            if len(wanted) == 1:
                return [Candidate(next(iter(wanted)), 1.0)]
        lang = _unique_script_language(text)
        if lang is not None and (wanted is None or lang in wanted):
            return [Candidate(lang, 1.0)]
        return None

    def _detect(self, text: str, wanted: frozenset[str] | None) -> list[Candidate]:
        raise NotImplementedError


class Py3LangidDetector(_Base):
    """py3langid >= 0.4 (a retrained langid.py model, numpy): fast and accurate on short text.

    Labels without an ISO 639-1 code are folded into their macro-language when there is one
    (yue -> zh, arz -> ar) and dropped otherwise; text with no feature the model knows is ``und``.
    """

    name = "py3langid"

    def __init__(self) -> None:
        from py3langid.langid import LanguageIdentifier

        from deposium_rag._detector_model import load_identifier

        self._cls = LanguageIdentifier
        self._full = load_identifier(norm_probs=True)  # from a decompressed copy when cached
        self._codes = {c: normalize_language(c) for c in self._full.nb_classes if _safe(c)}
        self._full_entry = _entry(self._full, self._codes)
        self._tables = _automaton(self._full)  # read-only numpy views for batch detection
        self._ptc: dict[frozenset[str] | None, np.ndarray] = {}
        self._restricted: dict[frozenset[str], tuple[Any, list[str], np.ndarray]] = {}
        self._cols: dict[frozenset[str], np.ndarray] = {}  # full-model columns of each restriction
        self._lock = threading.Lock()

    @property
    def languages(self) -> set[str]:
        return set(self._codes.values())

    def _identifier(self, wanted: frozenset[str] | None) -> tuple[Any, list[str], np.ndarray] | None:
        """A model restricted to ``wanted`` (new arrays; the full model is never mutated)."""
        if wanted is None:
            return self._full_entry
        with self._lock:
            found = self._restricted.get(wanted)
            if found is not None:
                return found
            full = self._full
            idx = [i for i, c in enumerate(full.nb_classes) if self._codes.get(c) in wanted]
            if not idx:
                return None
            ident = self._cls(
                full.nb_ptc[:, idx],
                full.nb_pc[idx],
                [full.nb_classes[i] for i in idx],
                full.tk_nextmove,
                full.tk_output,
                norm_probs=True,
                tk_row=full.tk_row,
            )
            entry = _entry(ident, self._codes)
            self._cols[wanted] = np.asarray(idx, dtype=np.int64)  # detect_pair reads raw scores here
            self._restricted[wanted] = entry
            return entry

    def _detect(self, text: str, wanted: frozenset[str] | None) -> list[Candidate]:
        entry = self._identifier(wanted)
        if entry is None:  # none of the wanted languages is known to this backend
            return _und()
        ident, labels, known = entry
        return _ranked_batch(ident._decide(text)[None, :], labels, known)[0]  # aliases folded

    def detect_pair(
        self, text: str, candidates: Collection[str] | None, *, unrestricted: bool = True
    ) -> tuple[list[Candidate], list[Candidate] | None]:
        """``(detect(text, candidates), detect(text))`` from one pass over ``text``.

        Why: a router with an ``und`` partition asks both for every query (restricted to the
        languages it holds, and unrestricted to see whether the query looks like a language
        it lacks). A restricted model is the full one's columns, so one automaton walk and one
        feature sum give both: the restricted scores are the full raw scores at its columns,
        normalised as py3langid does (tests/test_language.py pins equal answers). One text
        also skips the batch machinery. ``unrestricted=False`` returns ``None`` in its place.
        """
        text = check_text(text)
        wanted = _wanted(candidates)
        restricted = self._quick(text, wanted)
        full = self._quick(text, None) if unrestricted else None
        if restricted is not None and (full is not None or not unrestricted):
            return restricted, full
        ident = self._full
        encoded = ident._encode(text)
        raw = _raw_scores(ident, encoded)
        raw *= 1.0 / math.sqrt(len(encoded) or 1)
        if full is None and unrestricted:
            full = _ranked_one(_softmax(ident, raw), *self._full_entry[1:])
        if restricted is None:
            entry = self._identifier(wanted)
            if entry is None:
                restricted = _und()
            else:
                sub_ident, labels, known = entry
                # A restricted model's columns were noted by _identifier; None is the full model.
                sub_raw = raw if wanted is None else raw[self._cols[wanted]]
                restricted = _ranked_one(_softmax(sub_ident, sub_raw), labels, known)
        return restricted, full

    def _ptc32(self, wanted: frozenset[str] | None, ident: Any) -> np.ndarray:
        """The model's feature table as float32, converted once per candidate set."""
        with self._lock:
            table = self._ptc.get(wanted)
            if table is None:
                table = self._ptc[wanted] = np.ascontiguousarray(ident.nb_ptc, dtype=np.float32)
            return table

    def detect_batch(
        self, texts: Sequence[str], candidates: Collection[str] | None = None
    ) -> list[list[Candidate]]:
        """Like ``detect`` per text, but all texts walk the model's automaton together."""
        wanted = _wanted(candidates)
        out: list[list[Candidate] | None] = []
        todo: list[int] = []
        for i, text in enumerate(texts):
            quick = self._quick(check_text(text), wanted)
            out.append(quick)
            if quick is None:
                todo.append(i)
        # Long texts go one by one: the batch walk pads every text to the longest.
        for i in [i for i in todo if len(texts[i]) > _BATCH_CHARS]:
            out[i] = self._detect(texts[i], wanted)
        todo = [i for i in todo if len(texts[i]) <= _BATCH_CHARS]
        # Texts of similar byte length walk together, so the padding to the longest is small.
        todo.sort(key=lambda i: len(texts[i].encode("utf-8", "surrogatepass")))
        entry = self._identifier(wanted) if todo else None
        if todo and entry is None:
            for i in todo:
                out[i] = _und()
        elif todo and entry is not None:
            ident, labels, known = entry
            chunk = [texts[i] for i in todo]
            ptc = self._ptc32(wanted, ident)
            probs = np.concatenate(
                [
                    _decide_batch(ident, chunk[a : a + _CHUNK], self._tables, ptc)
                    for a in range(0, len(chunk), _CHUNK)
                ]
            )
            for i, cands in zip(todo, _ranked_batch(probs, labels, known)):
                out[i] = cands
        return out  # type: ignore[return-value]


_BATCH_CHARS = 1024
_CHUNK = 2048  # texts per automaton walk (sorted by length, so little padding)
_GATHER = 64  # texts per feature gather


def _automaton(ident: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """py3langid's byte automaton as numpy arrays (next-state table, row base, output feature)."""
    return (
        np.frombuffer(ident.tk_nextmove, dtype=np.dtype(ident.tk_nextmove.typecode)).astype(np.int64),
        np.asarray(ident._rowbase, dtype=np.int64),
        np.asarray(ident.tk_output, dtype=np.int64),
    )


def _walk_batch(
    tables: tuple[np.ndarray, np.ndarray, np.ndarray], encoded: list[bytes]
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Walk every text through the automaton at once, one numpy step per byte position.

    Returns (row, feature, count) triples sorted by row: exactly what py3langid's per-text,
    per-byte Python loop (``visit_counts``) counts, at a fraction of the cost.
    """
    nextmove, rowbase, output = tables
    n = len(encoded)
    lengths = np.fromiter((len(b) for b in encoded), dtype=np.int64, count=n)
    # Shortest first: the texts still walking at step t are then a suffix, and each step reads
    # one contiguous slice of a position-major byte table (no masks, no strided columns).
    order = np.argsort(lengths, kind="stable")
    width = int(lengths.max(initial=0))
    data = np.zeros((width, n), dtype=np.uint8)
    for k, i in enumerate(order.tolist()):
        b = encoded[i]
        data[: len(b), k] = np.frombuffer(b, dtype=np.uint8)
    starts = np.searchsorted(lengths[order], np.arange(width), side="right").tolist()
    state = np.zeros(n, dtype=np.int64)
    feats = np.full((width, n), -1, dtype=np.int64)
    for t, s in enumerate(starts):
        state[s:] = step = nextmove[rowbase[state[s:]] + data[t, s:]]
        feats[t, s:] = output[step]
    steps, slots = np.nonzero(feats >= 0)
    if steps.size == 0:
        empty = np.zeros(0, dtype=np.int64)
        return empty, empty, empty
    n_features = int(output.max()) + 1
    # One key per (text, feature); int32 sorts faster when it fits.
    key_type = np.int32 if n * n_features < 2**31 else np.int64
    keys = order.astype(key_type)[slots] * key_type(n_features) + feats[steps, slots].astype(key_type)
    pairs, counts = np.unique(keys, return_counts=True)
    pairs = pairs.astype(np.int64)
    return pairs // n_features, pairs % n_features, counts


_NEGLIGIBLE = 1e-6  # candidates below this probability are left out (nothing uses them)


def _ranked_batch(probs: np.ndarray, labels: list[str], known: np.ndarray) -> list[list[Candidate]]:
    """Top candidates per row of class probabilities; a flat row (no feature the model knows:
    equal scores, x2 where py3langid folded aliases) means ``und``."""
    sub = probs[:, known]
    positive = sub > 0
    lowest = np.where(positive, sub, np.inf).min(axis=1)
    # Flat means every positive score is the lowest one or exactly twice it (a folded alias):
    # merely close scores among a few candidates are an uncertain answer, not "no language".
    with np.errstate(over="ignore", divide="ignore", invalid="ignore"):
        ratio = np.where(positive, sub / np.where(np.isfinite(lowest), lowest, 1.0)[:, None], 1.0)
    near = (np.abs(ratio - 1.0) < 1e-3) | (np.abs(ratio - 2.0) < 2e-3)
    flat = ~positive.any(axis=1) | near.all(axis=1)
    top = np.argsort(-sub, axis=1, kind="stable")[:, :12]
    picked = np.take_along_axis(sub, top, axis=1).tolist()
    names = [[labels[j] for j in row] for row in known[top].tolist()]
    out: list[list[Candidate]] = []
    for is_flat, row_names, row_probs in zip(flat.tolist(), names, picked):
        if is_flat:
            out.append(_und())
            continue
        out.append(_merged(row_names, row_probs))
    return out


def _merged(names: Sequence[str], probs: Sequence[float]) -> list[Candidate]:
    """The ten best languages of one row's top classes, aliases' probabilities summed."""
    merged: dict[str, float] = {}
    for lang, p in zip(names, probs):
        if p > _NEGLIGIBLE or not merged:
            merged[lang] = merged.get(lang, 0.0) + p
    ranked = sorted(merged.items(), key=lambda kv: -kv[1])[:10]
    return [Candidate(lang, p) for lang, p in ranked] or _und()


def _decide_batch(
    ident: Any, texts: Sequence[str], tables: tuple[np.ndarray, ...], ptc: np.ndarray
) -> np.ndarray:
    """py3langid's ``_decide`` (normalised probabilities) for many texts at once."""
    return _softmax(ident, _logits_batch(ident, texts, tables, ptc))


def _raw_scores(ident: Any, encoded: bytes) -> np.ndarray:
    """py3langid's raw class scores of one encoded text (``_raw_score`` under ``norm_probs``),
    with the float16 feature rows cast before a float32 product (BLAS, not a mixed-type loop)."""
    from py3langid.langid import visit_counts

    visits = visit_counts(ident.tk_nextmove, ident._rowbase, ident.tk_output, encoded)
    if not visits:
        return np.zeros(len(ident.nb_classes), dtype=np.float32)
    idx = np.fromiter(visits.keys(), dtype=np.intp, count=len(visits))
    counts = np.fromiter(visits.values(), dtype=np.float32, count=len(visits))
    return np.log1p(counts) @ ident.nb_ptc[idx].astype(np.float32) + ident.nb_pc


def _ranked_one(probs: np.ndarray, labels: list[str], known: np.ndarray) -> list[Candidate]:
    """:func:`_ranked_batch` for one row of probabilities, without the batch overhead."""
    sub = probs[known]
    pos = sub[sub > 0]
    if not len(pos):
        return _und()
    with np.errstate(over="ignore", divide="ignore", invalid="ignore"):
        ratio = pos / pos.min()
    if ((np.abs(ratio - 1.0) < 1e-3) | (np.abs(ratio - 2.0) < 2e-3)).all():
        return _und()  # flat: no feature the model knows (see _ranked_batch)
    top = np.argsort(-sub, kind="stable")[:12]
    return _merged([labels[j] for j in known[top].tolist()], sub[top].tolist())


def _softmax(ident: Any, scores: np.ndarray) -> np.ndarray:
    """Class probabilities from length-scaled scores (one row or a batch of rows),
    py3langid's aliases folded."""
    scores = np.exp(scores - scores.max(axis=-1, keepdims=True))
    scores /= scores.sum(axis=-1, keepdims=True)
    for i, j in ident._alias_pairs:
        scores[..., i] += scores[..., j]
        scores[..., j] = 0.0
    return scores


def _logits_batch(
    ident: Any, texts: Sequence[str], tables: tuple[np.ndarray, ...], ptc: np.ndarray
) -> np.ndarray:
    """Length-scaled class scores (before the softmax) of many texts at once."""
    encoded = [ident._encode(t) for t in texts]
    lengths = [len(b) or 1 for b in encoded]
    rows, cols, counts = _walk_batch(tables, encoded)  # type: ignore[arg-type]
    indptr = np.searchsorted(rows, np.arange(len(texts) + 1))
    bounds = np.asarray(indptr, dtype=np.int64)
    empty = np.diff(bounds) == 0
    raw = np.zeros((len(texts), ident.nb_ptc.shape[1]), dtype=np.float32)
    weights = np.log1p(counts.astype(np.float32))
    # The feature gather runs on blocks of _GATHER texts: small enough to stay in cache (4x
    # faster than one big block), while the automaton walk above amortises over the batch.
    for a in range(0, len(texts), _GATHER):
        b = min(len(texts), a + _GATHER)
        lo, hi = int(bounds[a]), int(bounds[b])
        if hi == lo:
            continue
        keep = ~empty[a:b]
        contrib = ptc.take(cols[lo:hi], axis=0)  # take + in-place multiply: 2x faster
        contrib *= weights[lo:hi, None]
        raw[a:b][keep] = np.add.reduceat(contrib, bounds[a:b][keep] - lo, axis=0)
    scores = raw + ident.nb_pc
    scores[empty] = 0.0  # no feature: uniform, as py3langid does under norm_probs
    scores *= (1.0 / np.sqrt(np.asarray(lengths, dtype=np.float32)))[:, None]
    return scores


class LangdetectDetector(_Base):
    """langdetect (Google's language-detection port, 55 languages), seeded for stable output.

    Unseeded, langdetect changes its answer between calls; here every call starts from the
    same seed, on a private factory (never the module-global one).
    """

    name = "langdetect"

    def __init__(self, seed: int = 0) -> None:
        from langdetect.detector_factory import PROFILES_DIRECTORY, DetectorFactory

        self._factory = DetectorFactory()
        self._factory.load_profile(PROFILES_DIRECTORY)
        self._factory.seed = seed
        self._codes = {c: normalize_language(c) for c in self._factory.get_lang_list() if _safe(c)}

    @property
    def languages(self) -> set[str]:
        return set(self._codes.values())

    def _detect(self, text: str, wanted: frozenset[str] | None) -> list[Candidate]:
        from langdetect.lang_detect_exception import LangDetectException

        detector = self._factory.create()
        if wanted is not None:
            prior = {c: (1.0 if lang in wanted else 0.0) for c, lang in self._codes.items()}
            if not any(prior.values()):
                return _und()
            detector.set_prior_map(prior)
        detector.append(text)
        try:
            probs = detector.get_probabilities()
        except LangDetectException:
            return _und()
        merged: dict[str, float] = {}
        for item in probs:
            lang = self._codes.get(item.lang)
            if lang is not None:
                merged[lang] = merged.get(lang, 0.0) + float(item.prob)
        ranked = sorted(merged.items(), key=lambda kv: -kv[1])
        return [Candidate(lang, p) for lang, p in ranked] or _und()


def _entry(ident: Any, codes: dict[str, str]) -> tuple[Any, list[str], np.ndarray]:
    """(identifier, ISO label per column, indices of columns with a usable label)."""
    labels = [codes.get(c, UND) for c in ident.nb_classes]
    known = np.array([i for i, lang in enumerate(labels) if lang != UND], dtype=np.int64)
    return ident, labels, known


def _safe(code: str) -> bool:
    try:
        normalize_language(code)
    except ValueError:
        return False
    return True


_BACKENDS = {"py3langid": Py3LangidDetector, "langdetect": LangdetectDetector}
DEFAULT_DETECTOR = "py3langid"


_SHARED: dict[str, LanguageDetector] = {}
_SHARED_LOCK = threading.Lock()


def get_detector(name: str | LanguageDetector | None = None) -> LanguageDetector:
    """A detector by name (``"py3langid"`` default, ``"langdetect"``), or pass one through.

    Named detectors are built once per process and shared: they are immutable after
    construction (restricted models are cached under a lock), and loading one takes ~0.5 s.
    """
    if name is None:
        name = DEFAULT_DETECTOR
    if not isinstance(name, str):
        if isinstance(name, LanguageDetector):
            return name
        raise TypeError(f"detector must be a name or a LanguageDetector, got {type(name).__name__}")
    if name not in _BACKENDS:
        raise ValueError(f"unknown detector {name!r}; choose one of {sorted(_BACKENDS)}")
    with _SHARED_LOCK:
        found = _SHARED.get(name)
        if found is None:
            found = _SHARED[name] = _BACKENDS[name]()  # type: ignore[assignment]
        return found


# -- documents ----------------------------------------------------------------------------------
# A document's language is read from its words, not its head: page headers, titles, boilerplate,
# markup and code decide nothing. Chosen on the dev half of benchmarks/messy_routing.py.
WINDOW_CHARS = 160  # one sample window
MIN_LETTERS = 12  # fewer letters (after markup, code and numbers are dropped): no language
DOC_FLOOR = 0.0  # documents below this confidence go to ``und``
OUTSIDE_MIN = 0.5  # unrestricted mass a language outside the candidates needs to be reported
OUTSIDE_CHOSEN = 0.1  # ... while the chosen candidate gets at most this (close varieties split)
OUTSIDE_CHECK = 0.97  # the check runs below this confidence, or on a script the set lacks
OUTSIDE_LETTERS = 60  # ... on at least this many letters (short texts look like anything)

_URL = regex.compile(r"\b(?:[a-z][a-z0-9+.-]{1,10}://|www\.)\S+|[\w.+-]+@[\w-]+\.[\w.]+", regex.I)
_MARKUP = regex.compile(r"<[^<>\n]{0,300}>|&#?\w{1,10};")
_SYMBOL = re.compile(r"[_=\\/{}\[\]<>|#$%^*~`@+]")
# A token with code symbols in it (f(y[3]), snake_case, a/b, x=1). It cannot reach into
# unspaced scripts (Chinese, Japanese, Thai), so their runs are never dropped whole.
_UNSPACED = r"\p{Han}\p{Hiragana}\p{Katakana}\p{Thai}\p{Lao}\p{Khmer}\p{Myanmar}"
_CODE = regex.compile(
    rf"(?<![^\s{_UNSPACED}])(?=[^\s{_UNSPACED}]*[_=\\/{{}}\[\]<>|#$%^*~`@+])[^\s{_UNSPACED}]+"
)
_WORDISH = regex.compile(r"[\p{L}\p{M}]+")
# The whitespace-delimited tokens that hold a code symbol (stdlib re: a fast first pass); only
# those holding unspaced-script characters need _CODE, which stops at those characters.
# The lookbehind starts a try only at a token's start: without it each failed try rescans the
# rest of its word (quadratic in word length, 3x slower on prose).
_SYMBOL_TOKEN = re.compile(r"(?<!\S)[^\s_=\\/{}\[\]<>|#$%^*~`@+]*[_=\\/{}\[\]<>|#$%^*~`@+]\S*")
_ANY_UNSPACED = regex.compile(rf"[{_UNSPACED}]")


def _drop_code(match: re.Match[str]) -> str:
    token = match.group()
    return _CODE.sub(" ", token) if _ANY_UNSPACED.search(token) else " "


def _words(text: str) -> list[str]:
    """The natural-language words of ``text``: URLs, markup, code-like tokens and numbers dropped."""
    if "://" in text or "www." in text or "@" in text:
        text = _URL.sub(" ", text)
    if "<" in text or "&" in text:
        text = _MARKUP.sub(" ", text)
    if _SYMBOL.search(text):
        text = _SYMBOL_TOKEN.sub(_drop_code, text)
    return _WORDISH.findall(text)


def sample_windows(text: str, budget: int = 3 * WINDOW_CHARS) -> list[str]:
    """A bounded, representative sample of a document's words: windows spread over the text.

    Whitespace is collapsed and URLs, markup, code-like tokens and numbers are dropped first.
    The cleaned text is cut into ``budget // WINDOW_CHARS`` windows (at least one) placed
    evenly from head to tail, so a header or a first line cannot decide alone. Returns ``[]``
    when fewer than ``MIN_LETTERS`` letters remain: the text has no language to detect.
    """
    words = _words(text)
    clean = " ".join(words)
    if len(clean) - len(words) + 1 < MIN_LETTERS:
        return []
    count = max(1, budget // WINDOW_CHARS)
    width = max(1, budget // count)
    if len(clean) <= width * count:
        count = max(1, -(-len(clean) // width))
        width = -(-len(clean) // count)
    if count == 1:
        return [clean[:width]]
    out = []
    for i in range(count):
        start = round(i * (len(clean) - width) / (count - 1))
        if start:  # start on a word boundary
            space = clean.find(" ", start, start + 20)
            start = space + 1 if space >= 0 else start
        out.append(clean[start : start + width])
    return [w for w in out if w.strip()]


def _agree(a: Sequence[Candidate], b: Sequence[Candidate]) -> bool:
    """Two windows name the same language, each with at least ``OUTSIDE_CHECK`` (confident)."""
    return bool(
        a
        and b
        and a[0].language == b[0].language != UND
        and min(a[0].probability, b[0].probability) >= OUTSIDE_CHECK
    )


@dataclass(frozen=True)
class DocumentLanguage:
    """Where a document goes, how sure that is, and what its best language was.

    ``status`` is ``"detected"``, ``"no text"`` (no words left), ``"low confidence"`` (below
    the floor) or ``"outside"`` (its best language is not among the candidates); the last
    three go to ``und``. ``best`` is the best language over everything the detector knows.
    """

    language: str
    confidence: float
    best: str
    status: str


def detect_documents(
    detector: LanguageDetector,
    texts: Sequence[str],
    candidates: Collection[str] | None = None,
    *,
    budget: int = 3 * WINDOW_CHARS,
    floor: float = DOC_FLOOR,
) -> list[DocumentLanguage]:
    """The language of each document, decided from a sample of its whole text.

    Rule: each window is detected among ``candidates`` (the first and last first; the ones in
    between only unless both name the same language with at least ``OUTSIDE_CHECK``); the
    document's probability for a
    language is the letter-weighted mean over its windows (so a chunk mixing two languages
    goes to the one most of its text is in), and ``confidence`` is that mean for the chosen
    language. Below ``floor`` the document goes to ``und``. When the confidence is below
    ``OUTSIDE_CHECK`` (or the script is one no candidate writes), the middle window is also read
    without the restriction: when a language outside ``candidates`` gets at least
    ``OUTSIDE_MIN`` there while the chosen candidate gets at most ``OUTSIDE_CHOSEN`` (close
    varieties such as hr/sr or nb/nn split the mass and stay with the candidate), over at
    least ``OUTSIDE_LETTERS`` letters, the document goes to ``und`` with status
    ``"outside"``, instead of into a look-alike's partition.
    """
    samples = [sample_windows(check_text(t), budget) for t in texts]
    # Early exit: the first and last windows are read first; the ones in between only when
    # those two disagree or either is unsure (a header, a mixed chunk, a look-alike language):
    # confidently agreeing ends decide the document.
    ends = [[0, len(ws) - 1] if len(ws) > 2 else list(range(len(ws))) for ws in samples]
    first = iter(detector.detect_batch([ws[j] for ws, js in zip(samples, ends) for j in js], candidates))
    found: list[dict[int, list[Candidate]]] = [{j: next(first) for j in js} for js in ends]
    rest = [
        (i, j)
        for i, (ws, got) in enumerate(zip(samples, found))
        if len(ws) > 2 and not _agree(got[0], got[len(ws) - 1])
        for j in range(1, len(ws) - 1)
    ]
    for (i, j), cands in zip(rest, detector.detect_batch([samples[i][j] for i, j in rest], candidates)):
        found[i][j] = cands
    wanted = _wanted(candidates)
    decided: list[tuple[str, float] | None] = []  # (language, confidence) among the candidates
    for windows, got in zip(samples, found):
        some: dict[str, float] = {}
        total = 0.0
        for j, w in enumerate(windows):
            if j not in got:
                continue
            weight = float(len(w) - w.count(" ")) or 1.0  # letters: windows are words and spaces
            total += weight
            for c in got[j]:
                if c.language != UND:
                    some[c.language] = some.get(c.language, 0.0) + weight * c.probability
        if not some:
            decided.append(None)
            continue
        lang = max(some, key=some.__getitem__)
        decided.append((lang, round(some[lang] / total, 4)))
    # The outside-the-set check reads the middle window with the full model, only where it can
    # matter: a confident in-set decision (>= OUTSIDE_CHECK) on a script the set covers is kept.
    check: list[int] = []
    if wanted is not None:
        for i, (windows, got) in enumerate(zip(samples, decided)):
            if got is None:
                continue
            script = _unique_script_language(windows[len(windows) // 2])
            if got[1] < OUTSIDE_CHECK or (script is not None and script not in wanted):
                check.append(i)
    full = dict(zip(check, detector.detect_batch([samples[i][len(samples[i]) // 2] for i in check], None)))
    out: list[DocumentLanguage] = []
    for i, (windows, got) in enumerate(zip(samples, decided)):
        if got is None:
            out.append(DocumentLanguage(UND, 0.0, UND, "no text"))
            continue
        lang, conf = got
        best = lang
        if i in full:
            top = full[i][0]
            mid = windows[len(windows) // 2]
            chosen = next((c.probability for c in full[i] if c.language == lang), 0.0)
            if (
                top.language not in (wanted or ())
                and top.language != UND
                and top.probability >= OUTSIDE_MIN
                and chosen <= OUTSIDE_CHOSEN
                and len(mid) - mid.count(" ") >= OUTSIDE_LETTERS
            ):
                out.append(DocumentLanguage(UND, conf, top.language, "outside"))
                continue
            best = top.language
        if conf < floor:
            out.append(DocumentLanguage(UND, conf, best, "low confidence"))
        else:
            out.append(DocumentLanguage(lang, conf, best, "detected"))
    return out
