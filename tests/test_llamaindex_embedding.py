"""LlamaIndex embedding face: real index retrieval, sync and async, batching."""

from __future__ import annotations

import pytest
from llama_index.core import Document, Settings, VectorStoreIndex

from deposium_rag.integrations.llamaindex import Model2VecEmbedding

DOCS = [
    Document(text="The Eiffel Tower is a wrought-iron lattice tower in Paris, France.", doc_id="paris"),
    Document(text="Photosynthesis converts light energy into chemical energy in plants.", doc_id="bio"),
    Document(text="The stock market fell sharply after the central bank raised rates.", doc_id="fin"),
    Document(
        text="Python is a programming language with dynamic typing and garbage collection.",
        doc_id="code",
    ),
]


@pytest.fixture(scope="module")
def embed_model() -> Model2VecEmbedding:
    Settings.llm = None  # type: ignore[assignment]
    return Model2VecEmbedding(model_name="bundled")


def test_fields(embed_model: Model2VecEmbedding) -> None:
    assert embed_model.model_name == "bundled"
    assert embed_model.embed_batch_size >= 512
    assert embed_model.dimension == len(embed_model.get_text_embedding("x"))


def test_index_retrieves_right_document(embed_model: Model2VecEmbedding) -> None:
    index = VectorStoreIndex.from_documents(DOCS, embed_model=embed_model)
    hits = index.as_retriever(similarity_top_k=1).retrieve("How do plants turn light into energy?")
    assert hits[0].node.ref_doc_id == "bio"
    hits = index.as_retriever(similarity_top_k=1).retrieve("tower in Paris")
    assert hits[0].node.ref_doc_id == "paris"


async def test_index_retrieves_right_document_async(embed_model: Model2VecEmbedding) -> None:
    index = VectorStoreIndex.from_documents(DOCS, embed_model=embed_model, use_async=True)
    hits = await index.as_retriever(similarity_top_k=1).aretrieve("programming language typing")
    assert hits[0].node.ref_doc_id == "code"


def test_batch_is_one_call_not_a_loop(embed_model: Model2VecEmbedding, monkeypatch) -> None:
    calls: list[int] = []
    original = embed_model.embedder.encode

    def spy(texts, **kw):
        calls.append(len(texts))
        return original(texts, **kw)

    monkeypatch.setattr(embed_model.embedder, "encode", spy)
    out = embed_model.get_text_embedding_batch([f"text {i}" for i in range(100)])
    assert len(out) == 100 and calls == [100]


async def test_async_batch_matches_sync(embed_model: Model2VecEmbedding) -> None:
    texts = [f"text {i}" for i in range(30)]
    assert await embed_model.aget_text_embedding_batch(texts) == embed_model.get_text_embedding_batch(texts)
    assert await embed_model.aget_query_embedding("q") == embed_model.get_query_embedding("q")


def test_empty_batch(embed_model: Model2VecEmbedding) -> None:
    assert embed_model.get_text_embedding_batch([]) == []
