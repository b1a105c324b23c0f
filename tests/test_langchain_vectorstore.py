"""LangChain FAISSVectorStore face: the 25 standard tests plus filters, scores, persistence."""

from __future__ import annotations

from collections.abc import Generator
from pathlib import Path

import pytest
from langchain_core.documents import Document
from langchain_core.embeddings import DeterministicFakeEmbedding
from langchain_tests.integration_tests import VectorStoreIntegrationTests

from deposium_rag.errors import DimensionMismatchError, ModelMismatchError
from deposium_rag.integrations.langchain import FAISSVectorStore, Model2VecEmbeddings


class TestFAISSVectorStoreStandard(VectorStoreIntegrationTests):
    @pytest.fixture
    def vectorstore(self) -> Generator[FAISSVectorStore, None, None]:  # type: ignore[override]
        store = FAISSVectorStore(embedding=self.get_embeddings())
        yield store
        store.store.clear()


class TestFAISSVectorStoreStandardHNSW(TestFAISSVectorStoreStandard):
    @pytest.fixture
    def vectorstore(self) -> Generator[FAISSVectorStore, None, None]:  # type: ignore[override]
        store = FAISSVectorStore(embedding=self.get_embeddings(), index="hnsw")
        yield store
        store.store.clear()


@pytest.fixture(scope="module")
def emb() -> Model2VecEmbeddings:
    return Model2VecEmbeddings(model="bundled")


TEXTS = [
    "The Eiffel Tower is in Paris.",
    "Le chat dort sur le canapé.",
    "Quantum computers use qubits.",
    "Bread is made from flour, water and yeast.",
    "The Louvre museum is in Paris.",
]
METAS = [
    {"topic": "travel", "year": 2020},
    {"topic": "pets", "year": 2018},
    {"topic": "science", "year": 2023},
    {"topic": "food", "year": 2019},
    {"topic": "travel", "year": 2015},
]


@pytest.fixture
def vs(emb: Model2VecEmbeddings) -> FAISSVectorStore:
    return FAISSVectorStore.from_texts(TEXTS, emb, METAS, ids=[f"d{i}" for i in range(5)])


def test_similarity_search_finds_the_right_text(vs: FAISSVectorStore) -> None:
    assert vs.similarity_search("What are qubits?", k=1)[0].id == "d2"


def test_dict_filter_before_ranking(vs: FAISSVectorStore) -> None:
    docs = vs.similarity_search("qubits", k=10, filter={"topic": "travel"})
    assert {d.id for d in docs} == {"d0", "d4"}
    docs = vs.similarity_search("anything", k=10, filter={"year": {"$gte": 2019}, "topic": {"$ne": "food"}})
    assert {d.id for d in docs} == {"d0", "d2"}


def test_callable_filter_gets_documents(vs: FAISSVectorStore) -> None:
    docs = vs.similarity_search("x", k=10, filter=lambda d: "Paris" in d.page_content and d.id != "d4")
    assert [d.id for d in docs] == ["d0"]


def test_scores_follow_the_convention(vs: FAISSVectorStore, emb: Model2VecEmbeddings) -> None:
    (doc, score), *_ = vs.similarity_search_with_score(TEXTS[3], k=5)
    assert doc.id == "d3" and score == pytest.approx(1.0, abs=1e-5)
    scored = vs.similarity_search_with_score("qubits", k=5)
    assert all(-1.0 <= s <= 1.0 for _, s in scored)
    assert [s for _, s in scored] == sorted((s for _, s in scored), reverse=True)
    rel = vs.similarity_search_with_relevance_scores("qubits", k=5)
    assert [d.id for d, _ in rel] == [d.id for d, _ in scored]
    for (_, r), (_, s) in zip(rel, scored):
        assert r == pytest.approx((1 + s) / 2) and 0.0 <= r <= 1.0


def test_by_vector_and_mmr(vs: FAISSVectorStore, emb: Model2VecEmbeddings) -> None:
    v = emb.embed_query("Paris museums and towers")
    assert vs.similarity_search_by_vector(v, k=1)[0].id in {"d0", "d4"}
    mmr = vs.max_marginal_relevance_search("Paris", k=2, fetch_k=5, lambda_mult=0.1)
    assert len(mmr) == 2 and len({d.id for d in mmr}) == 2
    assert (
        vs.max_marginal_relevance_search("Paris", k=3, filter={"topic": "travel"})[0].metadata["topic"]
        == "travel"
    )


def test_as_retriever(vs: FAISSVectorStore) -> None:
    r = vs.as_retriever(search_kwargs={"k": 1, "filter": {"topic": "food"}})
    assert [d.id for d in r.invoke("anything")] == ["d3"]


async def test_async_twins(vs: FAISSVectorStore) -> None:
    assert (await vs.asimilarity_search("qubits", k=1))[0].id == "d2"
    ids = await vs.aadd_documents([Document(page_content="new text about cats", id="n1")])
    assert ids == ["n1"] and (await vs.aget_by_ids(["n1"]))[0].page_content == "new text about cats"
    await vs.adelete(["n1"])
    assert await vs.aget_by_ids(["n1"]) == []
    assert len(await vs.amax_marginal_relevance_search("Paris", k=2)) == 2


def test_save_load_identical(vs: FAISSVectorStore, emb: Model2VecEmbeddings, tmp_path: Path) -> None:
    vs.save(tmp_path / "store")
    loaded = FAISSVectorStore.load(tmp_path / "store", emb)
    for q in ["Paris", "qubits", "bread", "chat"]:
        assert loaded.similarity_search_with_score(q, k=3) == vs.similarity_search_with_score(q, k=3)


def test_load_with_another_model_is_refused(vs: FAISSVectorStore, tmp_path: Path) -> None:
    vs.save(tmp_path / "store")
    with pytest.raises(DimensionMismatchError, match="bundled.*256.*6"):
        FAISSVectorStore.load(tmp_path / "store", DeterministicFakeEmbedding(size=6))
    other = Model2VecEmbeddings(model="bundled")
    other.embedder._fingerprint = "different-weights"
    with pytest.raises(ModelMismatchError, match="bundled"):
        FAISSVectorStore.load(tmp_path / "store", other)


def test_bad_input_leaves_store_unchanged(vs: FAISSVectorStore) -> None:
    before = [(d.id, d.page_content) for d in vs.get_by_ids([f"d{i}" for i in range(5)])]
    with pytest.raises(TypeError, match=r"texts\[1\]"):
        vs.add_texts(["ok", None])  # type: ignore[list-item]
    with pytest.raises(TypeError, match="JSON"):
        vs.add_texts(["a"], [{"when": object()}], ids=["d1"])
    with pytest.raises(ValueError, match="unknown filter operator"):
        vs.similarity_search("x", filter={"year": {"$near": 1}})
    assert [(d.id, d.page_content) for d in vs.get_by_ids([f"d{i}" for i in range(5)])] == before
    assert len(vs) == 5


def test_delete_by_filter_and_guard(vs: FAISSVectorStore) -> None:
    vs.delete(filter={"topic": "travel"})
    assert len(vs) == 3
    with pytest.raises(ValueError, match="needs ids"):
        vs.delete()
