"""Routing rules for messy corpora: each test fails if its rule is removed.

Rules pinned: document language from the whole text (headers and junk do not decide),
confidence kept in metadata, languages outside the candidate set reported and kept out of
look-alike partitions, the query prior (with the detector's own choice never left out),
corpus evidence (a partition that knows fewer of the query's words, or holds them in no one
document, is ruled out), ``und`` only filling up to k and scored on the routed language's
scale, ``min_relevance``; documents read their middle window only when the ends disagree.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest

import deposium_rag.retrievers.router as router_module
from deposium_rag import StaticEmbedder
from deposium_rag.backends.local import LocalBackend
from deposium_rag.language import (
    COMMON_LANGUAGES,
    Py3LangidDetector,
    detect_documents,
    get_detector,
    sample_windows,
)
from deposium_rag.retrievers import LanguageRouter

GERMAN = (
    "Der Super Bowl 50 war ein American-Football-Spiel zur Ermittlung des Champions der National "
    "Football League für die Saison 2015. Die Denver Broncos besiegten die Carolina Panthers und "
    "sicherten sich ihren dritten Titel. Das Spiel wurde im Levi's Stadium in Santa Clara gespielt."
)
HEADER = "Super Bowl 50 - Wikipedia, the free encyclopedia\nRetrieved 2019-05-01. Page 12\n\n"
LATIN = (
    "Gallia est omnis divisa in partes tres, quarum unam incolunt Belgae, aliam Aquitani, tertiam "
    "qui ipsorum lingua Celtae, nostra Galli appellantur. Hi omnes lingua, institutis, legibus "
    "inter se differunt."
)
ENGLISH = [
    "To change your login shell, run chsh with the path of the new shell and log in again.",
    "The release notes list every change made to the package manager in this version.",
    "Configure the proxy with the http_proxy variable before you run curl or wget.",
    "A static site generator turns markdown files into HTML pages you can host anywhere.",
    "Back up your home folder before you upgrade the operating system to a new release.",
    "The firewall blocks incoming connections unless a rule allows the port explicitly.",
]
JUNK = [
    "---- 2.0 ----",
    "| 12.5 | 3,400 | 0.07 |\n|---|---|---|",
    '<div class="nav"><a href="/x.html">»</a></div>',
]


@pytest.fixture(scope="module")
def embedder() -> StaticEmbedder:
    return StaticEmbedder("bundled")


# -- documents ------------------------------------------------------------------------------------
def test_an_english_header_does_not_decide_a_german_document(embedder: StaticEmbedder) -> None:
    router = LanguageRouter(embedder)
    router.add([HEADER + GERMAN], ids=["de"])
    assert router.language_of("de") == "de"
    windows = sample_windows(HEADER + GERMAN)
    assert len(windows) >= 2 and "2019" not in " ".join(windows)  # numbers dropped, several windows


def test_a_mixed_chunk_goes_to_the_language_most_of_it_is_in() -> None:
    text = "This page was last edited on 12 March 2019. " + GERMAN + " " + GERMAN
    got = detect_documents(get_detector(), [text], COMMON_LANGUAGES)[0]
    assert got.language == "de" and got.status == "detected"


class _Counting(Py3LangidDetector):
    """The real detector, counting the windows it is asked about."""

    def __init__(self) -> None:
        super().__init__()
        self.seen: list[str] = []

    def detect_batch(self, texts, candidates=None):  # type: ignore[no-untyped-def]
        if candidates is not None:
            self.seen.extend(texts)
        return super().detect_batch(texts, candidates)


def test_the_middle_window_is_read_only_when_the_ends_disagree() -> None:
    detector = _Counting()
    long_german = f"{GERMAN} {GERMAN}"
    assert len(sample_windows(long_german)) == 3
    got = detect_documents(detector, [long_german], COMMON_LANGUAGES)[0]
    assert got.language == "de" and len(detector.seen) == 2  # head and tail agree: two windows
    detector.seen.clear()
    english = " ".join(ENGLISH[:3])
    got = detect_documents(detector, [f"{english} {GERMAN}"], COMMON_LANGUAGES)[0]
    assert len(detector.seen) == 3 and got.language in ("de", "en")  # ends disagree: all three
    detector.seen.clear()
    norwegian = (
        "Oslo er hovedstaden i Norge og landets største by. Byen ligger innerst i Oslofjorden og har "
        "mange parker, museer og restauranter som besøkes av turister fra hele verden hvert eneste år."
    )
    got = detect_documents(detector, [" ".join([norwegian] * 3)], COMMON_LANGUAGES)[0]
    assert got.language == "nb" and len(detector.seen) == 3  # ends agree but unsure (< 0.97): all three


def test_confidence_is_kept_in_metadata(embedder: StaticEmbedder) -> None:
    router = LanguageRouter(embedder)
    router.add([GERMAN, HEADER + GERMAN, JUNK[0]], ids=["clean", "header", "junk"])
    conf = {r.id: r.metadata["language_confidence"] for r in router.get(["clean", "header", "junk"])}
    assert 0.9 < conf["clean"] <= 1.0
    assert 0.0 < conf["header"] <= conf["clean"]  # a mixed chunk is less certain
    assert conf["junk"] == 0.0 and router.language_of("junk") == "und"
    # Given metadata is not overwritten by detection.
    router.add([GERMAN], [{"language": "de"}], ids=["given"])
    assert "language_confidence" not in router.get(["given"])[0].metadata


def test_junk_has_no_language(embedder: StaticEmbedder) -> None:
    router = LanguageRouter(embedder)
    router.add([*JUNK, "x1 = f(y[3]) + 0x1F; /* 31 */", "https://cdn.example.com/a/123/img.png?w=1"])
    assert router.counts() == {"und": 5}
    assert router.last_ingest_report.no_text == 5


def test_languages_outside_the_set_are_reported_not_misfiled(
    embedder: StaticEmbedder, caplog: pytest.LogCaptureFixture
) -> None:
    router = LanguageRouter(embedder)  # default candidates: Latin is not among them
    with caplog.at_level(logging.WARNING, logger="deposium_rag.retrievers.router"):
        router.add([LATIN, GERMAN], ids=["la", "de"])
    assert router.language_of("la") == "und" and router.language_of("de") == "de"
    report = router.last_ingest_report
    assert report.outside == {"la": 1} and report.documents == 2
    assert "outside the candidate set (la: 1)" in report.summary()
    assert any("la: 1" in r.getMessage() for r in caplog.records)
    wider = LanguageRouter(embedder, languages=[*COMMON_LANGUAGES, "la"])
    wider.add([LATIN], ids=["la"])
    assert wider.language_of("la") == "la" and wider.last_ingest_report.outside == {}


def test_serbian_and_esperanto_are_default_candidates(embedder: StaticEmbedder) -> None:
    router = LanguageRouter(embedder)
    router.add(
        [
            "Београд је главни и највећи град Србије. Налази се на ушћу Саве у Дунав и има дугу историју.",
            "Esperanto estas planlingvo, kreita de Zamenhof por faciligi la komunikadon inter popoloj.",
        ],
        ids=["sr", "eo"],
    )
    assert router.language_of("sr") == "sr" and router.language_of("eo") == "eo"


# -- queries --------------------------------------------------------------------------------------
def _english_heavy(embedder: StaticEmbedder) -> LanguageRouter:
    router = LanguageRouter(embedder)
    router.add(ENGLISH * 5, [{"language": "en"}] * 30, [f"en{i}" for i in range(30)])
    router.add(
        ["Configurarea unui proxy pentru curl se face prin variabila de mediu."],
        [{"language": "ro"}],
        ["ro0"],
    )
    router.add(["Configura el proxy de curl con la variable de entorno."], [{"language": "es"}], ["es0"])
    return router


def test_prior_sends_an_ambiguous_short_query_where_the_documents_are(embedder: StaticEmbedder) -> None:
    router = _english_heavy(embedder)
    detected = get_detector().detect("curl proxy", router.languages)
    assert detected[0].language != "en"  # the detector alone prefers a small partition
    route = router.route("curl proxy")
    assert route.languages[0] == "en"  # the prior: 30 of 32 documents are English
    assert detected[0].language in route.languages  # the detector's own choice is never left out


FOOTBALL_EN = [
    "Lionel Messi scored twice for Barcelona in the final.",
    "Messi and Ronaldo are the best players of their generation.",
    "The stadium was full when Barcelona won the league.",
    "Football clubs sign players every summer.",
    "Ronaldo scored a header in the second half.",
    "The coach praised Messi after the match.",
]
FOOTBALL_ES = [
    "Messi marcó dos goles en la final con el Barcelona.",
    "El entrenador elogió a Messi tras el partido.",
]


def _football(
    embedder: StaticEmbedder, english: list[str], backend: LocalBackend | None = None
) -> LanguageRouter:
    router = LanguageRouter(embedder, backend=backend)
    router.add(english, [{"language": "en"}] * len(english), [f"en{i}" for i in range(len(english))])
    router.add(FOOTBALL_ES, [{"language": "es"}] * 2, ["es0", "es1"])
    return router


def test_a_partition_that_knows_fewer_of_the_query_words_is_ruled_out(
    embedder: StaticEmbedder, monkeypatch: pytest.MonkeyPatch
) -> None:
    router = _football(embedder, FOOTBALL_EN * 5)
    # "Messi" is a name (in both partitions); "goles" is only in the Spanish one.
    assert router.route("Messi goles").languages == ("es",)
    hits = router.search("Messi goles", 4)
    assert set(hits.languages) == {"es"}  # no English hit interleaved
    monkeypatch.setattr(router_module, "_fewer_words", lambda *a: set())
    assert router.route("Messi goles").languages[0] == "en"  # detector + prior alone: English


def test_a_confident_query_skips_the_corpus_evidence(
    embedder: StaticEmbedder, monkeypatch: pytest.MonkeyPatch
) -> None:
    router = _football(embedder, FOOTBALL_EN * 5)
    asked: list[str] = []

    def spy(backend, query, candidates):  # type: ignore[no-untyped-def]
        asked.append(query)
        return set()

    monkeypatch.setattr(router_module, "_fewer_words", spy)
    sentence = "Who scored twice for Barcelona in the final of the league?"
    assert router.route(sentence).languages == ("en",)
    assert asked == []  # sure of English: no lexical lookups on the query path
    router.route("Messi goles")
    assert asked == ["Messi goles"]  # unsure: the partitions are asked
    monkeypatch.setattr(router_module, "EVIDENCE_BELOW", 1.01)
    router.route(sentence)
    assert asked[-1] == sentence  # the gate, not the query, decided


class _NoVocabulary(LocalBackend):
    word_counts = None  # a backend that cannot read its vocabulary (as Milvus)


def test_corpus_evidence_without_word_counts_asks_the_lexical_search(embedder: StaticEmbedder) -> None:
    router = _football(embedder, FOOTBALL_EN * 5, _NoVocabulary())
    assert router.route("Messi goles").languages == ("es",)  # same answer, through the protocol
    dense_only = LanguageRouter(embedder, lexical=False)
    dense_only.add(FOOTBALL_EN * 5, [{"language": "en"}] * 30)
    dense_only.add(FOOTBALL_ES, [{"language": "es"}] * 2)
    assert dense_only.route("Messi goles").languages[0] == "en"  # no BM25 kept: no evidence


def test_words_held_together_break_a_vocabulary_tie(
    embedder: StaticEmbedder, monkeypatch: pytest.MonkeyPatch
) -> None:
    # English also knows "goles", but never in the same document as "Messi".
    router = _football(embedder, [*FOOTBALL_EN * 5, "In Spanish match reports goals are called goles."])
    assert router.route("Messi goles").languages == ("es",)
    monkeypatch.setattr(router_module, "_words_together", lambda *a: 0)
    assert router.route("Messi goles").languages[0] == "en"


def test_uncertain_route_always_includes_the_largest_plausible_partition(embedder: StaticEmbedder) -> None:
    router = _english_heavy(embedder)
    router.confidence = 1.0  # every route is uncertain: the rule must still add English
    route = router.route("curl proxy")
    assert "en" in route.languages


def test_und_only_fills_and_on_the_routed_scale(embedder: StaticEmbedder) -> None:
    router = LanguageRouter(embedder)
    router.add(ENGLISH, [{"language": "en"}] * len(ENGLISH), [f"en{i}" for i in range(len(ENGLISH))])
    router.add(["shell ---- 2.0 ---- shell"], ids=["junk"])  # too few letters: und
    assert router.language_of("junk") == "und"
    query = "How do I change my login shell?"
    res = router.search(query, 3)
    assert "junk" not in [h.id for h in res.hits] and res.route.fill == ("und",)
    res = router.search(query, 10)  # English cannot fill 10: und fills, after English
    ids = [h.id for h in res.hits]
    assert ids[0] == "en0" and ids[-1] == "junk"
    junk = res.hits[-1]
    # On its own scale the best und hit would be ~0.9+; on English's scale it is far below the answer.
    assert junk.relevance < 0.75 * res.hits[0].relevance


def test_a_query_in_a_language_no_partition_holds_searches_und(embedder: StaticEmbedder) -> None:
    router = LanguageRouter(embedder)
    router.add([*ENGLISH, LATIN], ids=[f"en{i}" for i in range(len(ENGLISH))] + ["la"])
    assert router.language_of("la") == "und"
    res = router.search("Gallia est omnis divisa in partes tres", 3)
    assert "und" in res.route.languages and res.hits[0].id == "la"


def test_min_relevance_drops_weak_hits(embedder: StaticEmbedder) -> None:
    router = LanguageRouter(embedder)
    router.add(ENGLISH, ids=[f"en{i}" for i in range(len(ENGLISH))])
    everything = router.search("login shell", 6)
    assert len(everything.hits) == 6
    strict = router.search("login shell", 6, min_relevance=0.8)
    assert 1 <= len(strict.hits) < 6 and all(h.relevance >= 0.8 for h in strict.hits)
    assert router.search("photosynthesis chlorophyll", 6, min_relevance=0.99).hits == []
    with pytest.raises(ValueError, match="min_relevance"):
        router.search("login shell", 3, min_relevance=1.5)


def test_faces_pass_min_relevance_through(embedder: StaticEmbedder) -> None:
    pytest.importorskip("langchain_core")
    from deposium_rag.integrations.langchain import LanguageRoutingRetriever

    router = LanguageRouter(embedder)
    router.add(ENGLISH, ids=[f"en{i}" for i in range(len(ENGLISH))])
    retriever = LanguageRoutingRetriever(router=router, k=6, min_relevance=0.8)
    docs = retriever.invoke("login shell")
    assert 1 <= len(docs) < 6


# -- command line ---------------------------------------------------------------------------------
def test_cli_languages_are_stored_and_reported(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from deposium_rag import cli

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "gallia.txt").write_text(LATIN, encoding="utf-8")
    (docs / "bowl.txt").write_text(GERMAN, encoding="utf-8")
    store = tmp_path / "store"
    assert cli.main(["index", str(docs), "--store", str(store), "--model", "bundled"]) == 0
    out = capsys.readouterr().out
    assert "outside the store's set (la: 1)" in out and "--languages +la" in out
    assert cli.main(["index", str(docs), "--store", str(store), "--languages", "+la"]) == 0
    manifest = json.loads((store / "manifest.json").read_text(encoding="utf-8"))
    stored = manifest.get("languages") or manifest.get("options", {}).get("languages")
    assert "la" in stored and "de" in stored
    assert "outside" not in capsys.readouterr().out
    assert cli.main(["query", str(store), "Gallia divisa in partes tres", "--language", "la"]) == 0
    assert "gallia.txt" in capsys.readouterr().out
    code = cli.main(["query", str(store), "Quantencomputer Qubits", "--min-relevance", "0.99"])
    assert code == 0 and "nothing relevant found" in capsys.readouterr().out
