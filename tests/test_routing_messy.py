"""Routing rules for messy corpora: each test fails if its rule is removed.

Rules pinned: document language from the whole text (headers and junk do not decide),
confidence kept in metadata, languages outside the candidate set reported and kept out of
look-alike partitions, the query prior (with the detector's own choice never left out),
``und`` only filling up to k and scored on the routed language's scale, ``min_relevance``,
and jieba segmentation for Chinese (lazy, quiet, thread-safe).
"""

from __future__ import annotations

import json
import logging
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from deposium_rag import StaticEmbedder
from deposium_rag.language import COMMON_LANGUAGES, detect_documents, get_detector, sample_windows
from deposium_rag.lexical import analyzer_for
from deposium_rag.retrievers import LanguageRouter

GERMAN = (
    "Der Super Bowl 50 war ein American-Football-Spiel zur Ermittlung des Champions der National "
    "Football League für die Saison 2015. Die Denver Broncos besiegten die Carolina Panthers und "
    "sicherten sich ihren dritten Titel. Das Spiel wurde im Levi's Stadium in Santa Clara gespielt."
)
HEADER = "Super Bowl 50 - Wikipedia, the free encyclopedia\nRetrieved 2019-05-01. Page 12\n\n"
ESPERANTO = (
    "Jonaso ne estas historia figuro, sed difinita formo de Izraelo tra la jarcentoj. Imagu, ke "
    "Esperanto iĝus oficiala internacia lingvo. La ekzemplojn, kiujn ni uzis, ni ne mem elpensis."
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
    router = LanguageRouter(embedder)  # default candidates: Esperanto is not among them
    with caplog.at_level(logging.WARNING, logger="deposium_rag.retrievers.router"):
        router.add([ESPERANTO, GERMAN], ids=["eo", "de"])
    assert router.language_of("eo") == "und" and router.language_of("de") == "de"
    report = router.last_ingest_report
    assert report.outside == {"eo": 1} and report.documents == 2
    assert "outside the candidate set (eo: 1)" in report.summary()
    assert any("eo: 1" in r.getMessage() for r in caplog.records)
    wider = LanguageRouter(embedder, languages=[*COMMON_LANGUAGES, "eo"])
    wider.add([ESPERANTO], ids=["eo"])
    assert wider.language_of("eo") == "eo" and wider.last_ingest_report.outside == {}


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
    router.add([*ENGLISH, ESPERANTO], ids=[f"en{i}" for i in range(len(ENGLISH))] + ["eo"])
    assert router.language_of("eo") == "und"
    res = router.search("Esperanto iĝus oficiala internacia lingvo", 3)
    assert "und" in res.route.languages and res.hits[0].id == "eo"


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


# -- Chinese --------------------------------------------------------------------------------------
def test_chinese_uses_jieba_words_plus_bigrams() -> None:
    toks = analyzer_for("zh").tokens("光合作用是植物利用阳光的过程")
    assert "光合作用" in toks and "阳光" in toks  # jieba words
    assert "合作" in toks  # character bigrams kept
    assert "光合作用" not in analyzer_for("ja").tokens("光合作用")  # only Chinese is segmented


def test_jieba_is_thread_safe() -> None:
    text = "委员会批准了新的预算计划。光合作用是植物利用阳光的过程。"
    expected = analyzer_for("zh").tokens(text)
    results: list[list[str]] = []
    threads = [
        threading.Thread(target=lambda: results.extend(analyzer_for("zh").tokens(text) for _ in range(20)))
        for _ in range(8)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(results) == 160 and all(r == expected for r in results)


def test_jieba_loads_lazily_quietly_and_leaves_no_cache(tmp_path: Path) -> None:
    code = (
        "import sys, deposium_rag.lexical as lx\n"
        "assert 'jieba' not in sys.modules\n"  # importing the package does not load it
        "print(lx.analyzer_for('zh').tokens('委员会批准'))\n"
    )
    env = {"TMPDIR": str(tmp_path), "PATH": "", "HOME": str(tmp_path)}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""  # jieba's dictionary build is not logged
    assert "委员会" in json.loads(done.stdout.replace("'", '"'))
    assert list(tmp_path.iterdir()) == []  # no jieba.cache left behind to be loaded later
