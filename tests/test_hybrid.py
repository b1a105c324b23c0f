"""Router search modes: dense / lexical / hybrid, filters, scores, updates, persistence."""

from __future__ import annotations

from pathlib import Path

import pytest

from deposium_rag import StaticEmbedder
from deposium_rag.retrievers import LanguageRouter

DOCS = {
    "en1": "The Zorblax protocol encrypts satellite telemetry with rotating keys.",
    "en2": "Photosynthesis converts light energy into chemical energy in plants.",
    "en3": "Bread dough rises because yeast ferments sugars into carbon dioxide.",
    "en4": "The committee approved the budget for public libraries.",
    "de1": "Das Zorblax-Protokoll verschlüsselt Satellitentelemetrie mit wechselnden Schlüsseln.",
    "de2": "Die Photosynthese wandelt Lichtenergie in chemische Energie um.",
    "de3": "Brotteig geht auf, weil Hefe Zucker zu Kohlendioxid vergärt.",
}
MODES = ["dense", "lexical", "hybrid"]


@pytest.fixture(scope="module")
def embedder() -> StaticEmbedder:
    return StaticEmbedder("bundled")


@pytest.fixture
def router(embedder: StaticEmbedder) -> LanguageRouter:
    r = LanguageRouter(embedder)
    r.add(list(DOCS.values()), [{"n": i, "even": i % 2 == 0} for i in range(len(DOCS))], list(DOCS))
    return r


def test_default_mode_is_hybrid(router: LanguageRouter) -> None:
    assert router.mode == "hybrid" and router.fusion == "convex" and router.weight == 0.9


def test_lexical_finds_rare_keyword(router: LanguageRouter) -> None:
    res = router.search("How does Zorblax protect telemetry?", 2, mode="lexical")
    assert res.hits[0].id == "en1" and res.languages[0] == "en"


@pytest.mark.parametrize("mode", MODES)
def test_every_mode_finds_the_right_doc_and_keeps_the_score_convention(
    router: LanguageRouter, mode: str
) -> None:
    res = router.search("Why does bread dough rise with yeast?", 3, mode=mode)
    assert res.hits[0].id == "en3"
    assert all(-1.0 <= h.score <= 1.0 and 0.0 <= h.relevance <= 1.0 for h in res.hits)
    assert [h.score for h in res.hits] == sorted((h.score for h in res.hits), reverse=True)


@pytest.mark.parametrize("fusion", ["convex", "minmax", "rrf"])
def test_fusions(router: LanguageRouter, fusion: str) -> None:
    res = router.search("yeast ferments sugars in bread", 2, mode="hybrid", fusion=fusion)
    assert res.hits[0].id == "en3" and 0 <= res.hits[0].relevance <= 1


@pytest.mark.parametrize("mode", MODES)
def test_filters_apply_in_every_mode(router: LanguageRouter, mode: str) -> None:
    res = router.search("bread yeast dough and the library budget", 5, mode=mode, filter={"n": {"$ne": 2}})
    assert res.hits and all(h.metadata["n"] != 2 for h in res.hits)
    assert "en3" not in [h.id for h in res.hits]  # en3 (n=2) is filtered out before ranking


@pytest.mark.parametrize("mode", MODES)
def test_updates_are_reflected_in_the_next_search(router: LanguageRouter, mode: str) -> None:
    router.add(["Quasarfish migrate across the Vexlor reef every spring."], ids=["en5"])
    assert router.search("Quasarfish Vexlor reef migration", 1, mode=mode).hits[0].id == "en5"
    router.add(["Library budgets were approved by the city committee."], ids=["en5"])  # upsert
    assert "en5" not in [h.id for h in router.search("Quasarfish Vexlor", 3, mode="lexical").hits]
    router.delete(["en1"])
    assert "en1" not in [h.id for h in router.search("Zorblax protocol telemetry", 4, mode=mode).hits]


def test_save_load_identical_in_every_mode(
    router: LanguageRouter, embedder: StaticEmbedder, tmp_path: Path
) -> None:
    router.save(tmp_path / "r")
    loaded = LanguageRouter.load(tmp_path / "r", embedder)
    assert (loaded.mode, loaded.fusion, loaded.weight) == (router.mode, router.fusion, router.weight)
    for mode in MODES:
        for q in ["Zorblax telemetry", "Photosynthese Licht", "bread yeast", "budget"]:
            assert loaded.search(q, 4, mode=mode).hits == router.search(q, 4, mode=mode).hits, (mode, q)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"mode": "sparse"}, "mode must be"),
        ({"fusion": "sum"}, "fusion must be"),
        ({"weight": 1.5}, "weight"),
    ],
)
def test_bad_mode_arguments(router: LanguageRouter, kwargs: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        router.search("bread", 2, **kwargs)


def test_lexical_without_matching_terms_returns_nothing(router: LanguageRouter) -> None:
    assert router.search("xyzzy plugh", 3, mode="lexical", language="en").hits == []


def test_dense_only_router(embedder: StaticEmbedder, tmp_path: Path) -> None:
    r = LanguageRouter(embedder, lexical=False)
    r.add(list(DOCS.values()), ids=list(DOCS))
    assert r.mode == "dense" and r.search("bread yeast", 1).hits[0].id == "en3"
    with pytest.raises(ValueError, match="lexical=False"):
        r.search("bread", 1, mode="hybrid")
    r.save(tmp_path / "d")
    assert LanguageRouter.load(tmp_path / "d", embedder).lexical is False


def test_uncertain_merge_scales_partitions_by_language_probability(embedder: StaticEmbedder) -> None:
    router = LanguageRouter(embedder, confidence=0.9)
    router.add([*DOCS.values(), "Les ordinateurs quantiques utilisent des qubits et la superposition."])
    route = router.route("Explain quantum computing")  # en 0.66 vs fr 0.33 (with the prior)
    assert route.reason.startswith("uncertain")
    res = router.search("Explain quantum computing", 6, mode="lexical")
    probs = {c.language: c.probability for c in route.candidates}
    top = route.candidates[0].probability
    for hit, lang in zip(res.hits, res.languages):
        assert hit.relevance <= probs.get(lang, 1.0) / top + 1e-9
