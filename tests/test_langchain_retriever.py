"""LangChain LanguageRoutingRetriever: standard retriever tests plus routing behaviour."""

from __future__ import annotations

from pathlib import Path

import pytest
from langchain_core.documents import Document
from langchain_core.embeddings import DeterministicFakeEmbedding
from langchain_tests.integration_tests import RetrieversIntegrationTests

from deposium_rag.integrations.langchain import LanguageRoutingRetriever, Model2VecEmbeddings
from deposium_rag.retrievers import LanguageRouter

TEXTS = [
    "The Eiffel Tower is a wrought-iron lattice tower in Paris.",
    "Photosynthesis converts light energy into chemical energy.",
    "Quantum computers use qubits in superposition.",
    "Bread is baked from flour, water, salt and yeast.",
    "Der Eiffelturm ist ein Eisenfachwerkturm in Paris.",
    "Die Photosynthese wandelt Lichtenergie in chemische Energie um.",
    "Quantencomputer verwenden Qubits in Überlagerung.",
    "Brot wird aus Mehl, Wasser, Salz und Hefe gebacken.",
]

_EMB = Model2VecEmbeddings(model="bundled")
_ROUTER = LanguageRouter(_EMB.embedder)
_ROUTER.add(TEXTS, ids=[f"d{i}" for i in range(len(TEXTS))])


class TestLanguageRoutingRetrieverStandard(RetrieversIntegrationTests):
    @property
    def retriever_constructor(self) -> type[LanguageRoutingRetriever]:
        return LanguageRoutingRetriever

    @property
    def retriever_constructor_params(self) -> dict:
        return {"router": _ROUTER, "k": 2}

    @property
    def retriever_query_example(self) -> str:
        return "How is bread made?"


def test_documents_carry_language_and_score() -> None:
    r = LanguageRoutingRetriever(router=_ROUTER, k=3)
    docs = r.invoke("Wie wird Brot gebacken?")
    assert docs[0].id == "d7"
    assert all(d.metadata["language"] == "de" for d in docs)
    assert all(-1 <= d.metadata["score"] <= 1 and 0 <= d.metadata["relevance"] <= 1 for d in docs)


def test_invoke_kwargs_override_defaults() -> None:
    r = LanguageRoutingRetriever(router=_ROUTER, k=4)
    assert len(r.invoke("bread", k=1)) == 1
    assert {d.metadata["language"] for d in r.invoke("bread", language="de")} == {"de"}
    assert [d.id for d in r.invoke("bread", filter=lambda d: d.id == "d3")] == ["d3"]
    assert r.invoke("bread", language="en", filter=lambda d: d.id == "d4") == []  # d4 is German


async def test_async() -> None:
    r = LanguageRoutingRetriever(router=_ROUTER, k=2)
    docs = await r.ainvoke("What do quantum computers use?")
    assert docs[0].id == "d2" and docs[0].metadata["language"] == "en"


def test_from_texts_documents_save_load(tmp_path: Path) -> None:
    docs = [Document(page_content=t, id=f"x{i}", metadata={"i": i}) for i, t in enumerate(TEXTS)]
    r = LanguageRoutingRetriever.from_documents(docs, _EMB, k=2)
    assert r.router.counts() == {"de": 4, "en": 4}
    r.save(tmp_path / "router")
    loaded = LanguageRoutingRetriever.load(tmp_path / "router", _EMB, k=2)
    for q in ["bread", "Brot backen", "qubits"]:
        assert loaded.invoke(q) == r.invoke(q)


def test_any_langchain_embeddings_work() -> None:
    r = LanguageRoutingRetriever.from_texts(TEXTS, DeterministicFakeEmbedding(size=8), k=2)
    assert len(r.invoke("bread")) == 2 and r.router.counts() == {"de": 4, "en": 4}


def test_bad_query() -> None:
    r = LanguageRoutingRetriever(router=_ROUTER)
    with pytest.raises(ValueError, match="query is empty"):
        r.invoke("")
    with pytest.raises(ValueError, match="unknown language code"):
        r.invoke("bread", language="zz-top-secret")
