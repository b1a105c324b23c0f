"""LangChain's standard retriever tests, and the faces' ``backend=`` pass-through, on Milvus."""

from __future__ import annotations

from pathlib import Path

import pytest

pytest.importorskip("pymilvus", reason="the milvus extra is not installed")

from langchain_core.documents import Document
from langchain_tests.integration_tests import RetrieversIntegrationTests

from deposium_rag.backends import MilvusBackend
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


def _router(backend: MilvusBackend) -> LanguageRouter:
    router = LanguageRouter(_EMB.embedder, backend=backend)
    router.add(TEXTS, ids=[f"d{i}" for i in range(len(TEXTS))])
    return router


class _Standard(RetrieversIntegrationTests):
    router: LanguageRouter | None = None

    @property
    def retriever_constructor(self) -> type[LanguageRoutingRetriever]:
        return LanguageRoutingRetriever

    @property
    def retriever_constructor_params(self) -> dict:
        return {"router": self.router, "k": 2}

    @property
    def retriever_query_example(self) -> str:
        return "How is bread made?"


class TestMilvusLiteEmbedded(_Standard):
    @pytest.fixture(autouse=True, scope="class")
    @classmethod
    def _make_router(cls, tmp_path_factory: pytest.TempPathFactory) -> None:
        cls.router = _router(MilvusBackend(str(tmp_path_factory.mktemp("lc") / "milvus.db"), collection="lc"))


class TestMilvusLiteServer(_Standard):
    @pytest.fixture(autouse=True, scope="class")
    @classmethod
    def _make_router(cls, milvus_server: str) -> None:
        cls.router = _router(MilvusBackend(milvus_server, collection="lc_standard"))


def test_backend_passes_through_the_face(tmp_path: Path) -> None:
    docs = [Document(page_content=t, id=f"x{i}", metadata={"i": i}) for i, t in enumerate(TEXTS)]
    backend = MilvusBackend(str(tmp_path / "m.db"), collection="face")
    r = LanguageRoutingRetriever.from_documents(docs, _EMB, k=2, backend=backend)
    assert r.router.backend is backend and r.router.counts() == {"de": 4, "en": 4}
    got = r.invoke("Wie wird Brot gebacken?")
    assert got[0].id == "x7" and all(d.metadata["language"] == "de" for d in got)
    assert [d.id for d in r.invoke("bread", filter={"i": {"$in": [0, 3]}})] == ["x3", "x0"]
    backend.close()
    again = LanguageRoutingRetriever.load(MilvusBackend(str(tmp_path / "m.db"), collection="face"), _EMB, k=2)
    assert [d.id for d in again.invoke("Wie wird Brot gebacken?")] == [d.id for d in got]
