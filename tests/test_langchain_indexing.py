"""LangChain routing retriever as a DocumentIndex: delete, get_by_ids and indexing.index()."""

from __future__ import annotations

from collections.abc import AsyncGenerator, Generator

import pytest
from langchain_core.documents import Document
from langchain_core.indexing import InMemoryRecordManager, index
from langchain_core.indexing.base import DocumentIndex
from langchain_tests.integration_tests.indexer import AsyncDocumentIndexTestSuite, DocumentIndexerTestSuite

from deposium_rag.integrations.langchain import LanguageRoutingRetriever, Model2VecEmbeddings
from deposium_rag.retrievers import LanguageRouter

EMB = Model2VecEmbeddings(model="bundled")


def _docs(version: int = 1) -> list[Document]:
    return [
        Document("Bread is baked from flour, water, salt and yeast.", metadata={"source": "bread.txt"}),
        Document("Sourdough rises slowly with wild yeast.", metadata={"source": "bread.txt"}),
        Document(f"The Eiffel Tower is in Paris (revision {version}).", metadata={"source": "paris.txt"}),
        Document("Brot wird aus Mehl, Wasser, Salz und Hefe gebacken.", metadata={"source": "brot.txt"}),
    ]


@pytest.fixture
def retriever() -> LanguageRoutingRetriever:
    return LanguageRoutingRetriever(router=LanguageRouter(EMB.embedder), k=4)


@pytest.fixture
def records() -> InMemoryRecordManager:
    rm = InMemoryRecordManager(namespace="deposium/test")
    rm.create_schema()
    return rm


def test_delete_and_get_by_ids(retriever: LanguageRoutingRetriever) -> None:
    docs = _docs()
    for i, d in enumerate(docs):
        d.id = f"d{i}"
    retriever.add_documents(docs)
    got = retriever.get_by_ids(["d3", "missing", "d0"])
    assert [d.id for d in got] == ["d3", "d0"]
    assert got[0].metadata == {"source": "brot.txt"}  # as stored: the detected language is not added
    assert retriever.router.language_of("d3") == "de"
    given = Document("Un texte.", metadata={"language": "fr"}, id="given")
    retriever.add_documents([given])
    assert retriever.get_by_ids(["given"])[0].metadata == {"language": "fr"}
    assert all("_language_detected" not in d.metadata for d in retriever.invoke("Brot Mehl"))
    response = retriever.delete(["d0", "missing"])
    assert response["num_deleted"] == 1 and response["succeeded"] == ["d0"]
    assert retriever.get_by_ids(["d0"]) == [] and len(retriever.router) == 4
    assert "d0" not in [d.id for d in retriever.invoke("bread flour yeast")]
    retriever.delete(filter={"source": "brot.txt"})
    assert retriever.router.ids() and "d3" not in retriever.router.ids()
    with pytest.raises(ValueError, match="delete needs ids"):
        retriever.delete()


def test_index_incremental_cleanup(retriever: LanguageRoutingRetriever, records) -> None:
    first = index(
        _docs(), records, retriever, cleanup="incremental", source_id_key="source", key_encoder="sha256"
    )
    assert first == {"num_added": 4, "num_updated": 0, "num_skipped": 0, "num_deleted": 0}
    again = index(
        _docs(), records, retriever, cleanup="incremental", source_id_key="source", key_encoder="sha256"
    )
    assert again["num_added"] == 0 and again["num_skipped"] == 4 and again["num_deleted"] == 0
    changed = index(
        _docs(2), records, retriever, cleanup="incremental", source_id_key="source", key_encoder="sha256"
    )
    assert changed["num_added"] == 1 and changed["num_deleted"] == 1
    assert len(retriever.router) == 4
    texts = [d.page_content for d in retriever.invoke("Eiffel Tower Paris", language="en")]
    assert any("revision 2" in t for t in texts) and not any("revision 1" in t for t in texts)


def test_index_full_cleanup_removes_vanished_documents(retriever: LanguageRoutingRetriever, records) -> None:
    index(_docs(), records, retriever, cleanup="full", source_id_key="source", key_encoder="sha256")
    kept = [d for d in _docs() if d.metadata["source"] != "bread.txt"]
    result = index(kept, records, retriever, cleanup="full", source_id_key="source", key_encoder="sha256")
    assert result["num_deleted"] == 2 and result["num_skipped"] == 2
    assert len(retriever.router) == 2
    assert all(d.metadata["source"] != "bread.txt" for d in retriever.invoke("bread yeast flour"))


async def test_async_indexing(retriever: LanguageRoutingRetriever, records) -> None:
    from langchain_core.indexing import aindex

    result = await aindex(
        _docs(), records, retriever, cleanup="full", source_id_key="source", key_encoder="sha256"
    )
    assert result["num_added"] == 4
    result = await aindex(
        _docs()[:1], records, retriever, cleanup="full", source_id_key="source", key_encoder="sha256"
    )
    assert result["num_deleted"] == 3 and len(retriever.router) == 1


class TestDocumentIndexStandard(DocumentIndexerTestSuite):
    """LangChain's own DocumentIndex test suite, sync."""

    @pytest.fixture
    def index(self) -> Generator[DocumentIndex, None, None]:
        yield LanguageRoutingRetriever(router=LanguageRouter(EMB.embedder), k=4)


class TestAsyncDocumentIndexStandard(AsyncDocumentIndexTestSuite):
    """LangChain's own DocumentIndex test suite, async."""

    @pytest.fixture
    async def index(self) -> AsyncGenerator[DocumentIndex, None]:
        yield LanguageRoutingRetriever(router=LanguageRouter(EMB.embedder), k=4)
