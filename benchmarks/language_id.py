"""Language-ID accuracy and speed of the deposium_rag.language backends on Lingua's test data.

What it measures, per backend (py3langid, langdetect, and lingua only if it is already importable):

- on the 16 languages ar de el en es fr hi it nl pt ro ru th tr vi zh (the XQuAD-R + XQuAD-ro
  languages of the routing benchmark, plus fr it nl pt), for each test set word-pairs (the
  short-query proxy: two words, >= 10 chars), single-words and sentences, using the first
  ``--per-lang`` items of each language:
  * accuracy: top-1 == gold, over all items (micro), unrestricted and restricted to the 16
    languages (``candidates=`` the 16);
  * macro: mean of the per-language accuracies;
  * texts/s: ``detect`` calls per second, wall clock, one thread, after one warm-up call made
    with the same ``candidates`` (so py3langid's restricted model is already built);
- word-pairs of en de es fr only, unrestricted and restricted to those 4 (a small realistic index);
- stability of langdetect: the same 500 word-pairs detected twice by one detector, and once by a
  second detector with the same seed; label changes are counted (expected 0, the backend is seeded).
  Unseeded ``langdetect.detect`` is run the same way for contrast.

Data: ``$DEPOSIUM_DATA/lingua-language-testdata`` (default ``../shared/data``), read in place.
Published accuracies of other detectors on the full data (``tables/*.md``) are printed as a
reference: macro over the same 16 languages, all items (1000 per language; zh 729 sentences).

    python benchmarks/language_id.py [--per-lang 300] [--sets word-pairs sentences single-words]
                                     [--backends py3langid langdetect lingua] [--stability 500]

BLAS threads are pinned to 1 (numpy in py3langid) so timings are single-threaded.
"""

from __future__ import annotations

import argparse
import html
import importlib.util
import os
import re
import time
import warnings
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from _data import DATA

if TYPE_CHECKING:
    from deposium_rag.language import Candidate, LanguageDetector

LANGS16 = ["ar", "de", "el", "en", "es", "fr", "hi", "it", "nl", "pt", "ro", "ru", "th", "tr", "vi", "zh"]
LANGS4 = ["de", "en", "es", "fr"]
SETS = ["word-pairs", "single-words", "sentences"]
BACKENDS = ["py3langid", "langdetect", "lingua"]
TESTDATA = DATA / "lingua-language-testdata"
# English names used by the published tables, for the 16 languages.
TABLE_NAMES = {
    "Arabic": "ar", "German": "de", "Greek": "el", "English": "en", "Spanish": "es", "French": "fr",
    "Hindi": "hi", "Italian": "it", "Dutch": "nl", "Portuguese": "pt", "Romanian": "ro",
    "Russian": "ru", "Thai": "th", "Turkish": "tr", "Vietnamese": "vi", "Chinese": "zh",
}  # fmt: skip
TABLE_FILES = {
    "word-pairs": "WORD_PAIRS_ACCURACY_TABLE.md",
    "single-words": "SINGLE_WORDS_ACCURACY_TABLE.md",
    "sentences": "SENTENCES_ACCURACY_TABLE.md",
}
TABLE_COLUMNS = ["Langdetect", "Langid", "Lingua (high accuracy mode)"]


@dataclass(frozen=True)
class Result:
    """One row of the summary table."""

    backend: str
    test_set: str
    restricted: str
    accuracy: float
    macro: float
    texts_per_s: float
    per_lang: dict[str, float]


def load_set(name: str, langs: Sequence[str], per_lang: int) -> dict[str, list[str]]:
    """The first ``per_lang`` non-empty items of each language of one test set."""
    out: dict[str, list[str]] = {}
    for lang in langs:
        items: list[str] = []
        with open(TESTDATA / name / f"{lang}.txt", encoding="utf-8") as fh:
            for line in fh:
                text = line.strip()
                if text:
                    items.append(text)
                    if len(items) >= per_lang:
                        break
        out[lang] = items
    return out


class LinguaDetector:
    """lingua-language-detector behind the same ``detect`` contract (only used if importable)."""

    name = "lingua"

    def __init__(self) -> None:
        import lingua

        self._lingua = lingua
        self._builders: dict[frozenset[str] | None, Any] = {}

    def _detector(self, wanted: frozenset[str] | None) -> Any:
        if wanted not in self._builders:
            lg = self._lingua
            if wanted is None:
                builder = lg.LanguageDetectorBuilder.from_all_languages()
            else:
                codes = [getattr(lg.IsoCode639_1, c.upper()) for c in sorted(wanted)]
                builder = lg.LanguageDetectorBuilder.from_iso_codes_639_1(*codes)
            self._builders[wanted] = builder.build()
        return self._builders[wanted]

    def detect(self, text: str, candidates: Collection[str] | None = None) -> list[Candidate]:
        from deposium_rag.language import UND, Candidate, has_letters

        if not has_letters(text):
            return [Candidate(UND, 1.0)]
        wanted = frozenset(candidates) if candidates is not None else None
        values = self._detector(wanted).compute_language_confidence_values(text)
        out = [Candidate(v.language.iso_code_639_1.name.lower(), float(v.value)) for v in values]
        return [c for c in out if c.probability > 0] or [Candidate(UND, 1.0)]

    def detect_batch(
        self, texts: Sequence[str], candidates: Collection[str] | None = None
    ) -> list[list[Candidate]]:
        return [self.detect(t, candidates) for t in texts]


def make_backend(name: str) -> LanguageDetector | None:
    """The named backend, or None (with a note) when it cannot be used here."""
    if name == "lingua":
        if importlib.util.find_spec("lingua") is None:
            print("note: lingua (lingua-language-detector) is not importable here; skipped (not installed)")
            return None
        return LinguaDetector()  # type: ignore[return-value]
    from deposium_rag.language import get_detector

    return get_detector(name)


def evaluate(
    detector: LanguageDetector,
    test_set: str,
    data: dict[str, list[str]],
    candidates: list[str] | None,
    label: str,
) -> Result:
    """Accuracy (micro and macro over languages) and single-thread throughput of one setting."""
    first = next(t for items in data.values() for t in items)
    detector.detect(first, candidates)  # warm-up (builds py3langid's restricted model)
    correct: dict[str, int] = {}
    n = 0
    t0 = time.perf_counter()
    for lang, items in data.items():
        hits = 0
        for text in items:
            if detector.detect(text, candidates)[0].language == lang:
                hits += 1
        correct[lang] = hits
        n += len(items)
    elapsed = time.perf_counter() - t0
    per_lang = {lang: correct[lang] / len(items) for lang, items in data.items() if items}
    return Result(
        backend=detector.name,
        test_set=test_set,
        restricted=label,
        accuracy=sum(correct.values()) / n,
        macro=sum(per_lang.values()) / len(per_lang),
        texts_per_s=n / elapsed,
        per_lang=per_lang,
    )


def stability(items: Sequence[str]) -> None:
    """Label changes of langdetect between two passes over the same items (seeded vs unseeded)."""
    from deposium_rag.language import LangdetectDetector

    a = LangdetectDetector()
    b = LangdetectDetector()
    first = [a.detect(t)[0].language for t in items]
    again = [a.detect(t)[0].language for t in items]
    other = [b.detect(t)[0].language for t in items]
    same_inst = sum(x != y for x, y in zip(first, again))
    new_inst = sum(x != y for x, y in zip(first, other))
    print(
        f"langdetect stability on {len(items)} word-pairs: {same_inst} label changes between two passes "
        f"of one detector, {new_inst} between two detectors with the same seed (expected 0 and 0)"
    )
    import langdetect
    from langdetect.lang_detect_exception import LangDetectException

    def raw(text: str) -> str:
        try:
            return str(langdetect.detect(text))
        except LangDetectException:
            return "und"

    r1 = [raw(t) for t in items]
    r2 = [raw(t) for t in items]
    print(
        f"contrast, unseeded langdetect.detect (module API, not the backend): "
        f"{sum(x != y for x, y in zip(r1, r2))} label changes between two passes"
    )


def published(test_set: str) -> dict[str, float] | None:
    """Macro accuracy over the 16 languages of some published detectors (tables/*.md), in %."""
    path = TESTDATA / "tables" / TABLE_FILES[test_set]
    if not path.exists():
        return None
    text = path.read_text(encoding="utf-8")

    def clean(cell: str) -> str:
        return " ".join(html.unescape(re.sub(r"<br\s*/?>", " ", cell)).split()).strip()

    headers = [clean(re.sub(r"<[^>]+>", " ", re.sub(r"<br\s*/?>", " ", h))) for h in
               re.findall(r"<th[^>]*>(.*?)</th>", text, re.S)]  # fmt: skip
    columns = [h for h in headers if h and h != "Language" and "Detection Performance" not in h]
    cells = [clean(re.sub(r"<[^>]+>", " ", c)) for c in re.findall(r"<td[^>]*>(.*?)</td>", text, re.S)]
    scores: dict[str, list[float]] = {c: [] for c in TABLE_COLUMNS}
    for i, cell in enumerate(cells):
        if cell in TABLE_NAMES:
            row = cells[i + 1 : i + 1 + len(columns)]
            for col, value in zip(columns, row):
                if col in scores and re.fullmatch(r"[\d.]+", value):
                    scores[col].append(float(value))
    if any(len(v) != len(LANGS16) for v in scores.values()):
        return None
    return {col: sum(v) / len(v) for col, v in scores.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--per-lang", type=int, default=300, help="items per language and test set")
    parser.add_argument("--sets", nargs="+", choices=SETS, default=SETS)
    parser.add_argument("--backends", nargs="+", choices=BACKENDS, default=BACKENDS)
    parser.add_argument("--stability", type=int, default=500, help="items for the langdetect check (0: skip)")
    args = parser.parse_args()
    # Single-thread timings: pin BLAS before numpy is first imported (by deposium_rag below).
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ.setdefault(var, "1")
    warnings.filterwarnings("ignore", category=DeprecationWarning)

    import deposium_rag.language as language_mod

    t_start = time.perf_counter()
    data = {s: load_set(s, LANGS16, args.per_lang) for s in args.sets}
    print(
        f"data {TESTDATA}; {len(LANGS16)} languages x up to {args.per_lang} items: "
        + ", ".join(f"{s} {sum(map(len, d.values()))}" for s, d in data.items())
    )
    versions = []
    for mod in ("py3langid", "langdetect", "lingua"):
        try:
            from importlib.metadata import version

            dist = "lingua-language-detector" if mod == "lingua" else mod
            versions.append(f"{mod} {version(dist)}")
        except Exception:
            versions.append(f"{mod} -")
    print("versions: " + ", ".join(versions) + f"; module default: {language_mod.DEFAULT_DETECTOR}")

    results: list[Result] = []
    for name in args.backends:
        t0 = time.perf_counter()
        detector = make_backend(name)
        if detector is None:
            continue
        print(f"{name}: loaded in {time.perf_counter() - t0:.2f} s")
        for test_set, d in data.items():
            results.append(evaluate(detector, test_set, d, None, "no"))
            results.append(evaluate(detector, test_set, d, LANGS16, "16"))
        if "word-pairs" in data:
            d4 = {lang: data["word-pairs"][lang] for lang in LANGS4}
            results.append(evaluate(detector, "word-pairs en/de/es/fr", d4, None, "no"))
            results.append(evaluate(detector, "word-pairs en/de/es/fr", d4, LANGS4, "4 (en de es fr)"))

    print()
    print("| backend | set | restricted? | accuracy | macro | texts/s |")
    print("|---|---|---|---:|---:|---:|")
    for r in results:
        print(
            f"| {r.backend} | {r.test_set} | {r.restricted} | {r.accuracy:.1%} | {r.macro:.1%} "
            f"| {r.texts_per_s:,.0f} |"
        )

    wp = [r for r in results if r.test_set == "word-pairs"]
    if wp:
        print()
        print("word-pairs accuracy per language (unrestricted / restricted to the 16):")
        names = list(dict.fromkeys(r.backend for r in wp))
        print("| lang | " + " | ".join(names) + " |")
        print("|---|" + "---:|" * len(names))
        for lang in LANGS16:
            cells = []
            for b in names:
                un = next(r for r in wp if r.backend == b and r.restricted == "no").per_lang[lang]
                re16 = next(r for r in wp if r.backend == b and r.restricted == "16").per_lang[lang]
                cells.append(f"{un:.0%} / {re16:.0%}")
            print(f"| {lang} | " + " | ".join(cells) + " |")

    print()
    print("published macro accuracy over the same 16 languages (tables/*.md, all items, unrestricted;")
    print("'Langid' there is the original langid.py model, not py3langid's retrained one):")
    for test_set in args.sets:
        ref = published(test_set)
        if ref is None:
            print(f"  {test_set}: table not found or not parseable")
        else:
            print(f"  {test_set}: " + ", ".join(f"{k} {v:.1f}%" for k, v in ref.items()))

    if "langdetect" in args.backends and args.stability > 0 and "word-pairs" in data:
        pool = [
            t for i in range(args.per_lang) for lang in LANGS16 for t in data["word-pairs"][lang][i : i + 1]
        ]
        print()
        stability(pool[: args.stability])

    key = [r for r in results if r.test_set == "word-pairs" and r.restricted == "16"]
    print()
    print(f"total runtime {time.perf_counter() - t_start:.1f} s")
    if len(key) >= 2:
        key.sort(key=lambda r: (-r.macro, -r.texts_per_s))
        best, runner = key[0], key[1]
        close = best.macro - runner.macro < 0.01
        if close and runner.texts_per_s > best.texts_per_s:
            best, runner = runner, best
        print(
            f"Recommendation: default backend = {best.backend} (word-pairs restricted to the 16: macro "
            f"{best.macro:.1%} vs {runner.backend} {runner.macro:.1%}, "
            f"{best.texts_per_s / runner.texts_per_s:.1f}x its throughput)"
        )


if __name__ == "__main__":
    main()
