"""LlamaIndex LanguageRoutingRetriever: query engine, same-language nodes, excluded key."""

from __future__ import annotations

import pytest
from llama_index.core import Document, Settings
from llama_index.core.llms.mock import MockLLM
from llama_index.core.query_engine import RetrieverQueryEngine
from llama_index.core.schema import MetadataMode, QueryBundle
from llama_index.core.vector_stores.types import MetadataFilter, MetadataFilters

from deposium_rag.integrations.llamaindex import LanguageRoutingRetriever, Model2VecEmbedding

DOCS = [
    Document(
        text="The Eiffel Tower is a wrought-iron lattice tower in Paris.", doc_id="en1", metadata={"i": 1}
    ),
    Document(text="Quantum computers use qubits in superposition.", doc_id="en2", metadata={"i": 2}),
    Document(text="La tour Eiffel est une tour en treillis de fer à Paris.", doc_id="fr1", metadata={"i": 3}),
    Document(
        text="Les ordinateurs quantiques utilisent des qubits en superposition.",
        doc_id="fr2",
        metadata={"i": 4},
    ),
    Document(text="El pan se hace con harina, agua, sal y levadura.", doc_id="es1", metadata={"i": 5}),
]


@pytest.fixture(scope="module")
def retriever() -> LanguageRoutingRetriever:
    Settings.llm = MockLLM()
    return LanguageRoutingRetriever.from_documents(
        DOCS, Model2VecEmbedding(model_name="bundled"), similarity_top_k=2
    )


def test_counts_and_excluded_key(retriever: LanguageRoutingRetriever) -> None:
    assert retriever.router.counts() == {"en": 2, "es": 1, "fr": 2}
    assert "language" in DOCS[0].excluded_embed_metadata_keys


def test_same_language_nodes(retriever: LanguageRoutingRetriever) -> None:
    nodes = retriever.retrieve("Qu'est-ce que les ordinateurs quantiques utilisent ?")
    assert nodes[0].node.node_id == "fr2"
    assert {n.node.metadata["language"] for n in nodes} == {"fr"}
    node = nodes[0].node
    assert "language" not in node.get_content(metadata_mode=MetadataMode.EMBED)
    assert "language" not in node.get_content(metadata_mode=MetadataMode.LLM)


async def test_async_retrieve(retriever: LanguageRoutingRetriever) -> None:
    nodes = await retriever.aretrieve(QueryBundle("What do quantum computers use?"))
    assert nodes[0].node.node_id == "en2" and {n.node.metadata["language"] for n in nodes} == {"en"}


def test_query_engine_with_mock_llm(retriever: LanguageRoutingRetriever) -> None:
    engine = RetrieverQueryEngine.from_args(retriever, llm=MockLLM())
    response = engine.query("Where is the Eiffel Tower?")
    assert response.source_nodes[0].node.node_id == "en1"
    assert {n.node.metadata["language"] for n in response.source_nodes} == {"en"}
    assert isinstance(str(response), str)


async def test_async_query_engine(retriever: LanguageRoutingRetriever) -> None:
    engine = RetrieverQueryEngine.from_args(retriever, llm=MockLLM())
    response = await engine.aquery("¿Cómo se hace el pan?")
    assert response.source_nodes[0].node.node_id == "es1"


def test_filters_and_forced_language() -> None:
    r = LanguageRoutingRetriever.from_documents(
        DOCS, Model2VecEmbedding(model_name="bundled"), similarity_top_k=5
    )
    r.filters = MetadataFilters(filters=[MetadataFilter(key="i", value=1)])
    assert [n.node.node_id for n in r.retrieve("Eiffel Tower Paris")] == ["en1"]
    r.filters = None
    r.language = "fr"
    assert {n.node.metadata["language"] for n in r.retrieve("Eiffel Tower Paris")} == {"fr"}
