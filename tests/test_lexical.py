"""Per-language analysers and the BM25 index: scripts, stemming, updates."""

from __future__ import annotations

import threading

import pytest

from deposium_rag.lexical import ANALYZERS, Analyzer, LexicalIndex, analyzer_for


@pytest.mark.parametrize(
    ("lang", "text", "expected"),
    [
        ("en", "The runners were running in the parks", ["runner", "run", "park"]),
        ("de", "Die Häuser wurden gebaut", ["haus", "wurd", "gebaut"]),
        ("zh", "委员会批准", ["委", "员", "会", "批", "准", "委员", "批准"]),
        ("th", "ทีมรับ", ["ทีม", "ีมร", "มรั", "รับ"]),
        ("ja", "東京です", ["東", "京", "です"]),
    ],
)
def test_script_aware_analysis(lang: str, text: str, expected: list[str]) -> None:
    toks = analyzer_for(lang).tokens(text)
    for t in expected:
        assert t in toks, (lang, toks)


def test_digits_do_not_swallow_unspaced_script() -> None:
    # "308分" is a number then Han text: the Han part gets its characters and bigrams.
    toks = analyzer_for("zh").tokens("丢了 308分，联赛2015赛季冠军")
    assert "308" in toks and "分" in toks and "2015" in toks and "赛季" in toks and "冠军" in toks
    assert analyzer_for("th").tokens("ทีม2015รับ") == ["ทีม", "2015", "รับ"]


def test_combining_marks_stay_inside_words() -> None:
    toks = Analyzer("hi").tokens("पैंथर्स डिफ़ेंस लीग")  # no stemmer: raw script-aware words
    assert toks == ["पैंथर्स", "डिफ़ेंस", "लीग"]


def test_table_and_fallback() -> None:
    assert ANALYZERS["fr"].stemmer == "french" and "le" in ANALYZERS["fr"].stopwords
    unknown = analyzer_for("sw")
    assert unknown.stemmer is None and unknown.tokens("Habari ya asubuhi") == ["habari", "ya", "asubuhi"]


def test_stemmers_are_per_thread() -> None:
    a = analyzer_for("en")
    results: list[list[str]] = []

    def work() -> None:
        for _ in range(200):
            results.append(a.tokens("running runners ran quickly"))

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert all(r == results[0] for r in results) and len(results) == 800


def test_index_updates_are_visible() -> None:
    ix = LexicalIndex("en")
    ix.add(["a", "b"], ["cats are running", "dogs bark loudly"])
    order, scores = ix.scores("running cat")
    assert dict(zip(order, scores))["a"] > 0 and dict(zip(order, scores))["b"] == 0
    ix.add(["b"], ["a cat is running too"])  # upsert
    order, scores = ix.scores("cat")
    assert all(s > 0 for s in scores)
    ix.delete(["a"])
    assert ix.scores("cat")[0] == ["b"]
    order, scores = ix.scores("zebra")
    assert not scores.any()
    ix.clear()
    assert len(ix) == 0 and ix.scores("cat")[0] == []
