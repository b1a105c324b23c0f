"""Language detection: codes, und, restriction, determinism, thread safety."""

from __future__ import annotations

import threading

import pytest

from deposium_rag.language import (
    UND,
    LangdetectDetector,
    LanguageDetector,
    Py3LangidDetector,
    get_detector,
    normalize_language,
)

BACKENDS = [Py3LangidDetector, LangdetectDetector]
SAMPLES = {
    "en": "The committee approved the new budget for public schools yesterday.",
    "de": "Der Ausschuss hat gestern den neuen Haushalt für öffentliche Schulen genehmigt.",
    "fr": "Le comité a approuvé hier le nouveau budget des écoles publiques.",
    "es": "El comité aprobó ayer el nuevo presupuesto para las escuelas públicas.",
    "ru": "Комитет вчера одобрил новый бюджет для государственных школ.",
    "zh": "委员会昨天批准了公立学校的新预算。",
    "ar": "وافقت اللجنة أمس على الميزانية الجديدة للمدارس العامة.",
}


@pytest.fixture(scope="module", params=BACKENDS, ids=lambda c: c.name)
def detector(request) -> LanguageDetector:
    return request.param()


def test_sentences_detected(detector: LanguageDetector) -> None:
    for lang, text in SAMPLES.items():
        assert detector.detect(text)[0].language == lang, (detector.name, lang)


@pytest.mark.parametrize(
    "text", ["", "   ", "12345 678", "!!! ???", "\U0001f600\U0001f680", "3.14 + 2 = 5.14"]
)
def test_no_letters_is_und(detector: LanguageDetector, text: str) -> None:
    assert [(c.language, c.probability) for c in detector.detect(text)] == [(UND, 1.0)]


@pytest.mark.parametrize("bad", [None, b"bytes", 42])
def test_non_str_raises_typeerror(detector: LanguageDetector, bad) -> None:
    with pytest.raises(TypeError, match="must be str"):
        detector.detect(bad)  # type: ignore[arg-type]


def test_restriction_only_returns_candidates(detector: LanguageDetector) -> None:
    cands = detector.detect("Explain quantum computing", ["en", "de", "fr"])
    assert {c.language for c in cands} <= {"en", "de", "fr"}
    assert abs(sum(c.probability for c in cands) - 1.0) < 0.05
    assert detector.detect("hola amigo", ["fr"])[0].language == "fr"  # a single candidate wins
    assert detector.detect("hola", [])[0].language == UND


def test_restriction_fixes_short_queries() -> None:
    d = Py3LangidDetector()
    assert d.detect("Explain quantum computing")[0].language != "en"  # unrestricted: Latin
    assert d.detect("Explain quantum computing", ["en", "de", "ru"])[0].language == "en"


def test_probabilities_sorted(detector: LanguageDetector) -> None:
    probs = [c.probability for c in detector.detect("Ceci est une phrase en français.")]
    assert probs == sorted(probs, reverse=True) and all(0 <= p <= 1 for p in probs)


def test_langdetect_is_deterministic() -> None:
    texts = ["ok", "Hallo Welt", "bonjour", "ciao bella", "hej hej", "dobrý den"] * 20
    a, b = LangdetectDetector(), LangdetectDetector()
    assert (
        [a.detect(t)[0] for t in texts] == [a.detect(t)[0] for t in texts] == [b.detect(t)[0] for t in texts]
    )


def test_threads_with_different_restrictions_agree_with_single_thread() -> None:
    d = Py3LangidDetector()
    sets = [None, ["en", "fr"], ["de", "es", "en"], ["ru", "zh", "ar", "en"]]
    texts = [*SAMPLES.values(), "Explain quantum computing", "hola", "Wetter morgen"]
    expected = {i: [d.detect(t, s) for t in texts] for i, s in enumerate(sets)}
    bad: list[int] = []

    def work(i: int) -> None:
        for _ in range(30):
            j = (i + _) % len(sets)
            if [d.detect(t, sets[j]) for t in texts] != expected[j]:
                bad.append(j)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert bad == []


@pytest.mark.parametrize(
    ("tag", "code"),
    [
        ("en", "en"),
        ("EN-us", "en"),
        ("zh-Hans", "zh"),
        ("zh_CN", "zh"),
        ("pt-BR", "pt"),
        ("und", "und"),
        ("iw", "he"),
    ],
)
def test_normalize_language(tag: str, code: str) -> None:
    assert normalize_language(tag) == code


@pytest.mark.parametrize("tag", ["english", "x", "123", "", "e1", "zz", "qq-QQ"])
def test_bad_codes_raise(tag: str) -> None:
    with pytest.raises(ValueError, match="unknown language code"):
        normalize_language(tag)


def test_get_detector() -> None:
    assert get_detector().name == "py3langid" and get_detector("langdetect").name == "langdetect"
    assert get_detector() is get_detector("py3langid")  # shared: built once per process
    d = Py3LangidDetector()
    assert get_detector(d) is d
    with pytest.raises(ValueError, match="unknown detector"):
        get_detector("cld9")


@pytest.mark.parametrize("text", ["a", "x", "ab", "ǅ"])
def test_letters_the_model_does_not_know_are_und(text: str) -> None:
    d = Py3LangidDetector()
    assert d.detect(text)[0].language == UND
    assert d.detect(text, ["en", "de", "zh", "ar"])[0].language == UND


def test_three_letter_labels_fold_into_iso_639_1() -> None:
    cands = Py3LangidDetector().detect("粤语好难学啊，但系好有趣")
    assert cands[0].language == "zh" and all(len(c.language) == 2 for c in cands)


def test_candidates_must_not_be_a_bare_string() -> None:
    with pytest.raises(TypeError, match="not a single str"):
        Py3LangidDetector().detect("guten Morgen", "en")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("text", "lang"),
    [("ทีมรับของแพนเธอร์ NFL", "th"), ("Η άμυνα των Καρολίνα Πάνθερς", "el"), ("한국어 텍스트", "ko")],
)
def test_one_language_scripts_skip_the_model(text: str, lang: str) -> None:
    for backend in (Py3LangidDetector(), LangdetectDetector()):
        assert backend.detect(text)[0].language == lang
    assert Py3LangidDetector().detect(text, ["en", lang])[0].language == lang


def test_batch_detection_equals_one_by_one() -> None:
    """Batch scoring walks the automaton with a per-chunk memo: it must change nothing."""
    d = Py3LangidDetector()
    d.detect_batch(list(SAMPLES.values()), None)  # warm the memo first
    texts = [
        *SAMPLES.values(),
        "",
        "123",
        "a",
        "Explain quantum computing",
        "Η άμυνα",
        "hola amigo",
        "Wetter",
    ]
    for cands in (None, ["en", "de", "fr", "es", "ru", "zh", "ar"], ["en"], []):
        batch = d.detect_batch(texts, cands)
        for text, got in zip(texts, batch):
            want = d.detect(text, cands)
            # Same candidates wherever the probability is real (below 1e-6 float order may differ).
            assert [c.language for c in got if c.probability > 1e-6] == [
                c.language for c in want if c.probability > 1e-6
            ]
            assert got[0].probability == pytest.approx(want[0].probability, abs=1e-5)


PAIR_TEXTS = [
    *SAMPLES.values(),
    "Explain quantum computing",
    "What year was the tower built?",
    "Wann wurde der Turm gebaut?",
    "¿Cuándo se construyó la torre?",
    "Когда была построена башня?",
    "ΤΙ ΩΡΑ ΕΙΝΑΙ",  # upper case: py3langid lower-cases it
    "สวัสดีครับ",  # a one-language script: no model needed
    "2024 1889",  # no letters
    "V&A को उसके मूल स्थान से कहाँ स्थानांतरित किया गया था?",
    "ok",
]


@pytest.mark.parametrize(
    "candidates",
    [["en", "de", "fr"], ["en", "de", "fr", "es", "ru", "zh", "ar", "el", "th"], ["th", "en"], ["de"], None],
)
def test_detect_pair_gives_both_rankings_of_two_detects(candidates: list[str] | None) -> None:
    """One pass (detect_pair) answers what detect(text, candidates) and detect(text) answer."""
    detector = get_detector("py3langid")
    for text in PAIR_TEXTS:
        restricted, full = detector.detect_pair(text, candidates)
        for got, want in ((restricted, detector.detect(text, candidates)), (full, detector.detect(text))):
            assert full is not None and got[0].language == want[0].language, (text, got, want)
            assert {c.language for c in got if c.probability > 1e-3} == {
                c.language for c in want if c.probability > 1e-3
            }
            probs = {c.language: c.probability for c in want}
            for c in got:
                assert c.probability == pytest.approx(probs.get(c.language, 0.0), abs=1e-3), (text, c)
        assert detector.detect_pair(text, candidates, unrestricted=False) == (restricted, None)


def test_the_detector_model_loads_from_a_decompressed_copy(tmp_path, monkeypatch) -> None:
    """py3langid's LZMA model is decompressed once into the cache folder; later loads read
    the copy (no LZMA), a damaged copy is replaced, and no cache folder means py3langid's own
    loader. Every way gives the same identifier."""
    import lzma

    import numpy as np
    from py3langid.langid import MODEL_FILE, LanguageIdentifier

    from deposium_rag import _detector_model

    texts = ["Das ist ein Haus am See.", "Ceci est une phrase.", "これは日本語です", "ok"]
    ref = LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)

    def same(ident) -> None:  # type: ignore[no-untyped-def]
        assert ident.nb_classes == ref.nb_classes
        np.testing.assert_array_equal(ident.nb_ptc, ref.nb_ptc)
        assert [ident.classify(t) for t in texts] == [ref.classify(t) for t in texts]

    monkeypatch.setenv("DEPOSIUM_RAG_CACHE", str(tmp_path / "cache"))
    same(_detector_model.load_identifier(norm_probs=True))
    (copy,) = (tmp_path / "cache").glob("py3langid-*.npz")

    def no_lzma(*a, **k):  # type: ignore[no-untyped-def]
        raise AssertionError("decompressed again")

    with monkeypatch.context() as m:
        m.setattr(lzma, "open", no_lzma)
        same(_detector_model.load_identifier(norm_probs=True))
    copy.write_bytes(copy.read_bytes()[:1000])  # damaged: rewritten from the packaged model
    same(_detector_model.load_identifier(norm_probs=True))
    assert copy.stat().st_size > 10_000_000
    monkeypatch.setenv("DEPOSIUM_RAG_CACHE", "")
    same(_detector_model.load_identifier(norm_probs=True))
