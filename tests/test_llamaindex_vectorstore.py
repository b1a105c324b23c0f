"""LlamaIndex FAISSVectorStore face: index over the store, filters, delete, persist, async."""

from __future__ import annotations

from pathlib import Path

import pytest
from llama_index.core import Document, Settings, StorageContext, VectorStoreIndex
from llama_index.core.schema import TextNode
from llama_index.core.vector_stores.types import (
    FilterCondition,
    FilterOperator,
    MetadataFilter,
    MetadataFilters,
    VectorStoreQuery,
    VectorStoreQueryMode,
)

from deposium_rag.errors import ModelMismatchError
from deposium_rag.integrations.llamaindex import FAISSVectorStore, Model2VecEmbedding

DOCS = [
    Document(
        text="The Eiffel Tower is a landmark in Paris.",
        doc_id="paris",
        metadata={"topic": "travel", "year": 2020, "tags": ["fr", "city"]},
    ),
    Document(
        text="Photosynthesis turns light into chemical energy in plants.",
        doc_id="bio",
        metadata={"topic": "science", "year": 2018, "tags": ["plants"]},
    ),
    Document(
        text="The Louvre in Paris is the most visited museum.",
        doc_id="louvre",
        metadata={"topic": "travel", "year": 2015, "tags": ["fr", "art"]},
    ),
    Document(
        text="Qubits let quantum computers explore many states.",
        doc_id="quantum",
        metadata={"topic": "science", "year": 2023},
    ),
]


@pytest.fixture(scope="module")
def embed_model() -> Model2VecEmbedding:
    Settings.llm = None  # type: ignore[assignment]
    return Model2VecEmbedding(model_name="bundled")


@pytest.fixture
def index(embed_model: Model2VecEmbedding) -> VectorStoreIndex:
    store = FAISSVectorStore(embed_model=embed_model)
    ctx = StorageContext.from_defaults(vector_store=store)
    return VectorStoreIndex.from_documents(DOCS, storage_context=ctx, embed_model=embed_model)


def ids(nodes) -> list[str]:
    return [n.node.ref_doc_id for n in nodes]


def filters(*fs: MetadataFilter, condition: FilterCondition = FilterCondition.AND) -> MetadataFilters:
    return MetadataFilters(filters=list(fs), condition=condition)


def test_filtered_query(index: VectorStoreIndex) -> None:
    f = filters(MetadataFilter(key="topic", value="travel"))
    got = index.as_retriever(similarity_top_k=5, filters=f).retrieve("quantum physics")
    assert sorted(ids(got)) == ["louvre", "paris"]
    assert all(-1.0 <= n.score <= 1.0 for n in got)


@pytest.mark.parametrize(
    ("flt", "expected"),
    [
        (filters(MetadataFilter(key="year", value=2019, operator=FilterOperator.GT)), {"paris", "quantum"}),
        (filters(MetadataFilter(key="year", value=2018, operator=FilterOperator.LTE)), {"bio", "louvre"}),
        (
            filters(MetadataFilter(key="topic", value="travel", operator=FilterOperator.NE)),
            {"bio", "quantum"},
        ),
        (
            filters(MetadataFilter(key="year", value=[2015, 2023], operator=FilterOperator.IN)),
            {"louvre", "quantum"},
        ),
        (
            filters(MetadataFilter(key="year", value=[2015, 2023], operator=FilterOperator.NIN)),
            {"paris", "bio"},
        ),
        (
            filters(MetadataFilter(key="tags", value="fr", operator=FilterOperator.CONTAINS)),
            {"paris", "louvre"},
        ),
        (
            filters(MetadataFilter(key="tags", value=["art", "plants"], operator=FilterOperator.ANY)),
            {"bio", "louvre"},
        ),
        (filters(MetadataFilter(key="tags", value=["fr", "city"], operator=FilterOperator.ALL)), {"paris"}),
        (filters(MetadataFilter(key="tags", value=None, operator=FilterOperator.IS_EMPTY)), {"quantum"}),
        (
            filters(MetadataFilter(key="tags", value="art", operator=FilterOperator.NE)),
            {"paris", "bio", "louvre", "quantum"},
        ),
        (
            filters(MetadataFilter(key="topic", value="sci", operator=FilterOperator.TEXT_MATCH)),
            {"bio", "quantum"},
        ),
        (
            filters(
                MetadataFilter(key="topic", value="TRAV", operator=FilterOperator.TEXT_MATCH_INSENSITIVE)
            ),
            {"paris", "louvre"},
        ),
        (
            filters(
                MetadataFilter(key="topic", value="travel"),
                MetadataFilter(key="year", value=2023),
                condition=FilterCondition.OR,
            ),
            {"paris", "louvre", "quantum"},
        ),
        (
            filters(MetadataFilter(key="topic", value="travel"), condition=FilterCondition.NOT),
            {"bio", "quantum"},
        ),
        (
            MetadataFilters(
                filters=[
                    MetadataFilter(key="topic", value="science"),
                    MetadataFilters(
                        filters=[MetadataFilter(key="year", value=2020, operator=FilterOperator.GT)]
                    ),
                ]
            ),
            {"quantum"},
        ),
    ],
)
def test_every_operator(index: VectorStoreIndex, flt: MetadataFilters, expected: set[str]) -> None:
    got = index.as_retriever(similarity_top_k=10, filters=flt).retrieve("anything at all")
    assert set(ids(got)) == expected


def test_delete_ref_doc(index: VectorStoreIndex) -> None:
    index.delete_ref_doc("louvre")
    got = index.as_retriever(similarity_top_k=10).retrieve("museum in Paris")
    assert "louvre" not in ids(got) and len(got) == 3


def test_persist_and_reload(index: VectorStoreIndex, embed_model: Model2VecEmbedding, tmp_path: Path) -> None:
    index.storage_context.persist(persist_dir=str(tmp_path))
    before = index.as_retriever(similarity_top_k=3).retrieve("museum")
    store = FAISSVectorStore.from_persist_dir(str(tmp_path), embed_model=embed_model)
    reloaded = VectorStoreIndex.from_vector_store(store, embed_model=embed_model)
    after = reloaded.as_retriever(similarity_top_k=3).retrieve("museum")
    assert [(n.node.node_id, n.node.get_content(), n.score) for n in after] == [
        (n.node.node_id, n.node.get_content(), n.score) for n in before
    ]
    other = Model2VecEmbedding(model_name="bundled")
    other.embedder._fingerprint = "other"
    with pytest.raises(ModelMismatchError):
        FAISSVectorStore.from_persist_dir(str(tmp_path), embed_model=other)


async def test_async_index(embed_model: Model2VecEmbedding) -> None:
    store = FAISSVectorStore()
    index = VectorStoreIndex.from_vector_store(store, embed_model=embed_model)
    for d in DOCS:
        await index.ainsert(d)
    f = filters(MetadataFilter(key="topic", value="science"))
    got = await index.as_retriever(similarity_top_k=1, filters=f).aretrieve("light and plants")
    assert ids(got) == ["bio"]
    await index.adelete_ref_doc("bio")
    got = await index.as_retriever(similarity_top_k=1, filters=f).aretrieve("light and plants")
    assert ids(got) == ["quantum"]


def test_store_api_nodes_mmr_and_errors(embed_model: Model2VecEmbedding) -> None:
    store = FAISSVectorStore()
    nodes = [
        TextNode(text=t, id_=f"n{i}", metadata={"i": i})
        for i, t in enumerate(["paris tower", "paris tower again", "quantum qubits", "bread recipe"])
    ]
    for n in nodes:
        n.embedding = embed_model.get_text_embedding(n.text)
    assert store.add(nodes) == ["n0", "n1", "n2", "n3"]
    got = store.get_nodes(node_ids=["n2", "n0"])
    assert [n.node_id for n in got] == ["n2", "n0"] and got[0].get_content() == "quantum qubits"
    q = embed_model.get_query_embedding("paris tower")
    res = store.query(
        VectorStoreQuery(
            query_embedding=q, similarity_top_k=2, mode=VectorStoreQueryMode.MMR, mmr_threshold=0.2
        )
    )
    assert res.ids[0] in {"n0", "n1"} and not {"n0", "n1"} <= set(res.ids)
    res = store.query(VectorStoreQuery(query_embedding=q, similarity_top_k=4, node_ids=["n2", "n3"]))
    assert set(res.ids) == {"n2", "n3"}
    store.delete_nodes(filters=filters(MetadataFilter(key="i", value=1, operator=FilterOperator.GTE)))
    assert [n.node_id for n in store.get_nodes()] == ["n0"]
    bad = TextNode(text="no vector", id_="x")
    with pytest.raises(ValueError, match="has no embedding"):
        store.add([bad])
    with pytest.raises(ValueError, match="not supported"):
        store.query(VectorStoreQuery(query_embedding=q, mode=VectorStoreQueryMode.SPARSE))
    store.clear()
    assert store.get_nodes() == []
