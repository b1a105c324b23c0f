"""LanguageRouter: partitions, routing policy, fallback, upsert across languages, persistence."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import deposium_rag.retrievers.router as router_module
from deposium_rag import StaticEmbedder
from deposium_rag.errors import DimensionMismatchError, ModelMismatchError, StoreFormatError
from deposium_rag.retrievers import LanguageRouter

DOCS = {
    "en1": "The Eiffel Tower is a wrought-iron lattice tower in Paris, built for the 1889 World's Fair.",
    "en2": "Photosynthesis converts light energy into chemical energy stored in glucose.",
    "en3": "Quantum computers use qubits, which can be in superpositions of states.",
    "de1": "Der Eiffelturm ist ein Eisenfachwerkturm in Paris, gebaut für die Weltausstellung 1889.",
    "de2": "Die Photosynthese wandelt Lichtenergie in chemische Energie um, die in Glukose gespeichert wird.",
    "de3": "Quantencomputer verwenden Qubits, die sich in Überlagerungen von Zuständen befinden können.",
    "fr1": "La tour Eiffel est une tour en treillis de fer forgé à Paris, construite pour 1889.",
    "fr2": "La photosynthèse convertit l'énergie lumineuse en énergie chimique stockée dans le glucose.",
    "fr3": "Les ordinateurs quantiques utilisent des qubits, qui peuvent être en superposition d'états.",
    "num": "1889 1890 1991 2024 42",
}


@pytest.fixture(scope="module")
def embedder() -> StaticEmbedder:
    return StaticEmbedder("bundled")


@pytest.fixture
def router(embedder: StaticEmbedder) -> LanguageRouter:
    r = LanguageRouter(embedder)
    r.add(list(DOCS.values()), [{"n": i} for i in range(len(DOCS))], list(DOCS))
    return r


def test_partitions_by_detected_language(router: LanguageRouter) -> None:
    assert router.counts() == {"de": 3, "en": 3, "fr": 3, "und": 1}
    assert router.language_of("de2") == "de" and router.language_of("num") == "und"
    meta = router.get(["fr1"])[0].metadata
    assert meta["n"] == 6 and meta["language"] == "fr" and 0.5 < meta["language_confidence"] <= 1.0


@pytest.mark.parametrize(
    ("query", "lang", "top"),
    [
        ("What are qubits in quantum computers?", "en", "en3"),
        ("Was verwenden Quantencomputer?", "de", "de3"),
        ("Comment fonctionne la photosynthèse des plantes ?", "fr", "fr2"),
    ],
)
def test_query_routed_to_its_language(router: LanguageRouter, query: str, lang: str, top: str) -> None:
    res = router.search(query, k=3)
    assert res.route.languages[0] == lang and res.hits[0].id == top
    assert set(res.languages) <= {lang, "und"}


def test_und_fills_when_the_routed_partition_cannot(router: LanguageRouter) -> None:
    res = router.search("Eiffel tower built 1889", k=10)  # en holds 3 documents: und fills up to k
    assert "und" in res.route.fill and "num" in [h.id for h in res.hits]
    assert res.languages[-1] == "und"  # after every routed hit
    res = router.search("Eiffel tower built 1889", k=2)
    assert "und" not in res.languages


def test_uncertain_query_merges_partitions_by_score(
    router: LanguageRouter, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Corpus evidence settles it: the French partition does not know "quantum" nor "explain".
    settled = router.route("Explain quantum computing").languages
    assert settled[0] == "en" and "fr" not in settled and "de" not in settled
    monkeypatch.setattr(router_module, "_fewer_words", lambda *a: set())  # the detector alone
    route = router.route("Explain quantum computing")  # en 0.499 vs fr 0.497 among en/de/fr
    assert route.reason.startswith("uncertain") and route.languages[:2] == ("en", "fr")
    res = router.search("Explain quantum computing", k=6)
    assert {"en", "fr"} <= set(res.languages)
    assert [h.score for h in res.hits] == sorted((h.score for h in res.hits), reverse=True)


def test_forced_language(router: LanguageRouter) -> None:
    res = router.search("qubits", k=2, language="FR")
    assert res.route.reason == "forced" and set(res.languages) <= {"fr", "und"}


def test_forced_language_without_partition_follows_fallback(embedder: StaticEmbedder) -> None:
    for fallback, expected in [("all", {"de", "en", "fr", "und"}), ("none", set()), ("de", {"de", "und"})]:
        r = LanguageRouter(embedder, fallback=fallback)
        r.add(list(DOCS.values()), ids=list(DOCS))
        res = r.search("qubits", k=20, language="ja")
        assert set(res.route.languages) | set(res.route.fill) == expected, fallback
        assert "no partition for forced language 'ja'" in res.route.reason


def test_undecidable_query_follows_fallback(router: LanguageRouter) -> None:
    res = router.search("1889", k=3)
    assert "undecidable" in res.route.reason and "fallback all" in res.route.reason


@pytest.mark.parametrize(
    ("call", "error", "message"),
    [
        (lambda r: r.search(None), TypeError, "query must be str"),
        (lambda r: r.search(b"bytes"), TypeError, "decode bytes first"),
        (lambda r: r.search("   "), ValueError, "query is empty"),
        (lambda r: r.search("qubits", language="klingon"), ValueError, "unknown language code"),
        (lambda r: r.search("qubits", filter={"n": {"$regex": 1}}), ValueError, "unknown filter operator"),
        (lambda r: r.add(["a", None]), TypeError, r"texts\[1\]"),
        (lambda r: r.add(["a"], [{"language": "elvish"}]), ValueError, r"metadatas\[0\]\['language'\]"),
        (lambda r: r.add(["a", "b"], ids=["x", ""]), TypeError, r"ids\[1\]"),
        (lambda r: r.add(["a", "b"], [{"t": object()}, None]), TypeError, "JSON"),
    ],
)
def test_bad_input(router: LanguageRouter, call, error, message: str) -> None:
    before = (router.counts(), [r.text for r in router.get(list(DOCS))])
    with pytest.raises(error, match=message):
        call(router)
    assert (router.counts(), [r.text for r in router.get(list(DOCS))]) == before


def test_metadata_language_overrides_detection(embedder: StaticEmbedder) -> None:
    r = LanguageRouter(embedder)
    r.add(["This text is English but filed as German."], [{"language": "de-AT"}], ["x"])
    assert r.counts() == {"de": 1} and r.get(["x"])[0].metadata["language"] == "de"


def test_upsert_moves_partition_and_delete(router: LanguageRouter) -> None:
    router.add(["Les qubits sont étranges et merveilleux à étudier."], ids=["en3"])
    assert router.language_of("en3") == "fr" and router.counts()["en"] == 2 and router.counts()["fr"] == 4
    assert router.delete(["en3", "missing"]) == 1 and router.counts()["fr"] == 3 and len(router) == 9
    assert router.get(["en3"]) == []


def test_languages_restrict_ingest_detection(embedder: StaticEmbedder) -> None:
    r = LanguageRouter(embedder, languages=["en", "de"])
    r.add([DOCS["fr1"], DOCS["en1"]], ids=["f", "e"])
    # French is outside the candidates: filed under und (not a look-alike) and reported.
    assert set(r.counts()) <= {"en", "de", "und"} and r.language_of("f") == "und"
    assert r.last_ingest_report.outside == {"fr": 1}


def test_save_load_answers_identically(
    router: LanguageRouter, embedder: StaticEmbedder, tmp_path: Path
) -> None:
    router.save(tmp_path / "r")
    loaded = LanguageRouter.load(tmp_path / "r", embedder)
    assert loaded.counts() == router.counts()
    for q in ["qubits", "Photosynthese", "tour Eiffel", "Paris", "1889"]:
        a, b = router.search(q, k=5), loaded.search(q, k=5)
        assert a.hits == b.hits and a.route == b.route
    manifest = json.loads((tmp_path / "r" / "manifest.json").read_text())
    assert manifest["count"] == 10 and set(manifest["partitions"]) == {"de", "en", "fr", "und"}


def test_load_refuses_other_model_and_damage(
    router: LanguageRouter, embedder: StaticEmbedder, tmp_path: Path
) -> None:
    folder = router.save(tmp_path / "r")

    class Other:
        dim, model_name, fingerprint = 256, "other-model", "other"

        def encode(self, texts):  # pragma: no cover - never called
            raise AssertionError

    class Small(Other):
        dim = 8

    with pytest.raises(ModelMismatchError, match="bundled.*other-model"):
        LanguageRouter.load(folder, Other())
    with pytest.raises(DimensionMismatchError, match="dimension 256.*dimension 8"):
        LanguageRouter.load(folder, Small())
    (next((folder / "segments").glob("de-*")) / "ids.json").write_text("{}")
    with pytest.raises(StoreFormatError, match="checksum"):
        LanguageRouter.load(folder, embedder)
    with pytest.raises(StoreFormatError, match="folder not found"):
        LanguageRouter.load(tmp_path / "nope", embedder)


def test_filter_inside_routing(router: LanguageRouter) -> None:
    res = router.search("Was verwenden Quantencomputer für Zustände?", k=5, filter={"n": {"$lt": 4}})
    assert [h.id for h in res.hits] == ["de1"]


class _TwoPassDetector:
    """The router's detector without ``detect_pair``: the router then calls ``detect`` twice."""

    def __init__(self, inner) -> None:
        self.inner, self.name = inner, inner.name

    def detect(self, text, candidates=None):
        return self.inner.detect(text, candidates)

    def detect_batch(self, texts, candidates=None):
        return self.inner.detect_batch(texts, candidates)


def test_one_pass_query_detection_routes_as_two_passes(router: LanguageRouter) -> None:
    """With an und partition, route() takes both rankings from one detect_pair call: same routes."""
    assert "und" in router.counts()
    queries = [
        "Explain quantum computing",
        "When was the Eiffel Tower built?",
        "Wann wurde der Eiffelturm gebaut?",
        "Quand la tour Eiffel a-t-elle été construite ?",
        "Photosynthese Glukose",
        "Wie viele Qubits?",
        "¿Cuándo se construyó la torre Eiffel?",
        "Когда была построена Эйфелева башня?",
        "1889",
    ]

    def key(route):  # probabilities agree to float32 rounding (the feature sums' order differs)
        return route.languages, route.reason, route.fill, [c.language for c in route.candidates]

    one = [router.route(q) for q in queries]
    router.detector = _TwoPassDetector(router.detector)
    two = [router.route(q) for q in queries]
    assert [key(r) for r in two] == [key(r) for r in one]
    for a, b in zip(one, two):
        assert [c.probability for c in a.candidates] == pytest.approx(
            [c.probability for c in b.candidates], abs=1e-4
        )
