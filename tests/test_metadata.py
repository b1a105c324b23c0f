"""Metadata conversion at the boundary: one set of rules for the store, the router and both faces."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pytest

from deposium_rag.metadata import to_json_metadata
from deposium_rag.retrievers import LanguageRouter
from deposium_rag.store import FaissStore

UTC = dt.timezone.utc


def test_conversion_rules() -> None:
    md = {
        "when": dt.datetime(2024, 5, 1, 10, 30),
        "day": dt.date(2024, 5, 1),
        "aware": dt.datetime(2024, 5, 1, 10, 0, tzinfo=dt.timezone(dt.timedelta(hours=2))),
        "f32": np.float32(0.5),
        "i64": np.int64(7),
        "flag": np.bool_(True),
        "pair": (1, 2),
        "tags": {"b", "a", "c"},
        "nested": {"at": [dt.date(2020, 1, 2), np.int32(3)]},
        "keep": ["x", None, 1.5, True],
    }
    out = to_json_metadata(md, 0)
    assert out == {
        "when": "2024-05-01T10:30:00",
        "day": "2024-05-01",
        "aware": "2024-05-01T08:00:00+00:00",  # aware datetimes are stored in UTC
        "f32": 0.5,
        "i64": 7,
        "flag": True,
        "pair": [1, 2],
        "tags": ["a", "b", "c"],
        "nested": {"at": ["2020-01-02", 3]},
        "keep": ["x", None, 1.5, True],
    }
    assert type(out["f32"]) is float and type(out["i64"]) is int and type(out["flag"]) is bool
    assert to_json_metadata(None, 0) == {}


@pytest.mark.parametrize(
    ("md", "path"),
    [
        ({"source": {"when": b"raw"}}, r"metadatas\[3\]\['source'\]\['when'\] is bytes"),
        ({"score": float("nan")}, r"metadatas\[3\]\['score'\] is nan"),
        ({"score": np.float64("inf")}, r"metadatas\[3\]\['score'\] is inf"),
        ({"a": [1, {"b": object()}]}, r"metadatas\[3\]\['a'\]\[1\]\['b'\] is a object"),
        ({"a": {1: "x"}}, r"metadatas\[3\]\['a'\] has a key 1"),
        ({"v": np.zeros(3)}, r"metadatas\[3\]\['v'\] is a numpy array"),
    ],
)
def test_non_json_values_name_position_and_key_path(md: dict, path: str) -> None:
    with pytest.raises(TypeError, match=path):
        to_json_metadata(md, 3)


def test_input_is_not_mutated_and_output_is_a_copy() -> None:
    inner = {"d": dt.date(2024, 1, 1)}
    md = {"inner": inner, "tags": {"x"}}
    out = to_json_metadata(md, 0)
    out["inner"]["d"] = "changed"
    assert inner == {"d": dt.date(2024, 1, 1)} and md["tags"] == {"x"}


def _vecs(n: int) -> np.ndarray:
    return np.random.default_rng(0).normal(size=(n, 8)).astype(np.float32)


DATES = [dt.datetime(2023, 12, 31, 23, 59), dt.datetime(2024, 1, 1, 0, 0, 1), dt.datetime(2024, 6, 1, 12)]


def test_store_converts_and_round_trips(tmp_path: Path) -> None:
    store = FaissStore()
    store.add(_vecs(3), ["a", "b", "c"], [{"when": d, "n": np.int64(i)} for i, d in enumerate(DATES)])
    store.save(tmp_path / "s")
    back = FaissStore.load(tmp_path / "s")
    assert sorted(r.metadata["when"] for r in back.records()) == [d.isoformat() for d in DATES]


def test_bad_metadata_leaves_store_unchanged() -> None:
    store = FaissStore()
    store.add(_vecs(1), ["a"], [{"x": 1}], ["keep"])
    with pytest.raises(TypeError, match=r"metadatas\[1\]\['src'\]\['when'\]"):
        store.add(_vecs(2), ["b", "c"], [{"ok": 1}, {"src": {"when": b"x"}}], ["n1", "n2"])
    assert store.ids() == ["keep"]


@pytest.mark.parametrize(
    "bound", [dt.datetime(2024, 1, 1), dt.date(2024, 1, 1), "2024-01-01", "2024-01-01T00:00:00"]
)
def test_iso_strings_compare_in_time_order_in_filters(bound: object) -> None:
    store = FaissStore()
    store.add(_vecs(3), ["old", "new", "newer"], [{"when": d} for d in DATES], ["old", "new", "newer"])
    after = {h.id for h in store.search(_vecs(1)[0], 10, {"when": {"$gt": bound}})}
    before = {h.id for h in store.search(_vecs(1)[0], 10, {"when": {"$lt": bound}})}
    assert after == {"new", "newer"} and before == {"old"}


def test_aware_datetimes_with_different_offsets_sort_in_time_order() -> None:
    # 09:00+02:00 is 07:00 UTC: earlier than 08:00 UTC although its local clock reads later.
    early = dt.datetime(2024, 1, 1, 9, tzinfo=dt.timezone(dt.timedelta(hours=2)))
    late = dt.datetime(2024, 1, 1, 8, tzinfo=UTC)
    store = FaissStore()
    store.add(_vecs(2), ["early", "late"], [{"t": early}, {"t": late}], ["early", "late"])
    bound = dt.datetime(2024, 1, 1, 7, 30, tzinfo=UTC)
    assert [h.id for h in store.search(_vecs(1)[0], 10, {"t": {"$gt": bound}})] == ["late"]


def test_numpy_operands_and_values_filter_alike() -> None:
    store = FaissStore()
    store.add(_vecs(3), ["a", "b", "c"], [{"n": np.int64(i)} for i in range(3)], ["a", "b", "c"])
    assert {h.id for h in store.search(_vecs(1)[0], 10, {"n": np.int32(1)})} == {"b"}
    assert {h.id for h in store.search(_vecs(1)[0], 10, {"n": {"$gte": np.float32(1.0)}})} == {"b", "c"}


def test_router_converts_with_the_same_rules(embedder) -> None:
    router = LanguageRouter(embedder)
    router.add(
        ["The tower stands in Paris.", "Bread is baked with yeast."],
        [{"when": DATES[0]}, {"when": DATES[2], "score": np.float32(0.25)}],
        ["t", "b"],
    )
    assert router.get(["b"])[0].metadata["when"] == DATES[2].isoformat()
    hits = router.search("bread", 5, filter={"when": {"$gte": dt.date(2024, 1, 1)}}).hits
    assert [h.id for h in hits] == ["b"]
    with pytest.raises(TypeError, match=r"metadatas\[1\]\['x'\]\['y'\] is bytes"):
        router.add(["a text", "another"], [{}, {"x": {"y": b"z"}}], ["p", "q"])
    assert len(router) == 2 and router.get(["p", "q"]) == []  # nothing of the failed call stored


def test_langchain_faces_convert() -> None:
    pytest.importorskip("langchain_core")
    from langchain_core.documents import Document

    from deposium_rag.integrations.langchain import (
        FAISSVectorStore,
        LanguageRoutingRetriever,
        Model2VecEmbeddings,
    )

    emb = Model2VecEmbeddings(model="bundled")
    docs = [
        Document("Bread is baked with yeast.", metadata={"when": DATES[2], "p": np.float32(0.5)}, id="b"),
        Document("The tower stands in Paris.", metadata={"when": DATES[0]}, id="t"),
    ]
    vs = FAISSVectorStore(emb)
    vs.add_documents(docs)
    got = vs.similarity_search("bread", k=5, filter={"when": {"$gt": dt.datetime(2024, 1, 1)}})
    assert [d.id for d in got] == ["b"] and got[0].metadata == {"when": DATES[2].isoformat(), "p": 0.5}
    r = LanguageRoutingRetriever.from_documents(docs, emb)
    assert [d.id for d in r.invoke("bread", filter={"when": {"$lt": dt.date(2024, 1, 1)}})] == ["t"]
    with pytest.raises(TypeError, match=r"metadatas\[0\]\['raw'\] is bytes"):
        vs.add_texts(["x"], [{"raw": b"x"}])


def test_llamaindex_faces_convert() -> None:
    pytest.importorskip("llama_index.core")
    from llama_index.core.schema import TextNode
    from llama_index.core.vector_stores.types import VectorStoreQuery

    from deposium_rag.integrations.llamaindex import (
        FAISSVectorStore,
        LanguageRoutingRetriever,
        Model2VecEmbedding,
    )

    emb = Model2VecEmbedding("bundled")

    def nodes() -> list[TextNode]:
        return [
            TextNode(
                text="Bread is baked with yeast.", id_="b", metadata={"when": DATES[2], "n": np.int64(2)}
            ),
            TextNode(text="The tower stands in Paris.", id_="t", metadata={"when": DATES[0]}),
        ]

    vs = FAISSVectorStore(embed_model=emb)
    batch = nodes()
    for n in batch:
        n.embedding = emb.get_text_embedding(n.text)
    vs.add(batch)
    res = vs.query(VectorStoreQuery(query_embedding=emb.get_query_embedding("bread"), similarity_top_k=5))
    by_id = {n.node_id: n for n in res.nodes}
    assert by_id["b"].metadata == {"when": DATES[2].isoformat(), "n": 2}
    bad = TextNode(text="x", id_="x", metadata={"raw": {"k": b"x"}}, embedding=[0.0] * emb.dimension)
    with pytest.raises(TypeError, match=r"nodes\[1\]\.metadata\['raw'\]\['k'\] is bytes"):
        vs.add([batch[0], bad])
    r = LanguageRoutingRetriever.from_documents(nodes(), emb)
    got = r.retrieve("bread")
    assert {n.node.metadata["when"] for n in got} == {DATES[0].isoformat(), DATES[2].isoformat()}


def test_llamaindex_index_with_dated_documents() -> None:
    """Chunks carry a copy of their document's metadata in their relationships: converted too."""
    from llama_index.core import Document, StorageContext, VectorStoreIndex

    from deposium_rag.integrations.llamaindex import FAISSVectorStore, Model2VecEmbedding

    emb = Model2VecEmbedding("bundled")
    vs = FAISSVectorStore(embed_model=emb)
    doc = Document(
        text="Bread is baked from flour, water and yeast. " * 120,
        doc_id="bread",
        metadata={"when": dt.datetime(2024, 1, 2, 3, 4), "n": np.int64(3)},
    )
    index = VectorStoreIndex.from_documents(
        [doc], storage_context=StorageContext.from_defaults(vector_store=vs), embed_model=emb
    )
    nodes = index.as_retriever(similarity_top_k=2).retrieve("bread")
    assert len(nodes) == 2 and all(n.node.ref_doc_id == "bread" for n in nodes)
    assert nodes[0].node.metadata == {"when": "2024-01-02T03:04:00", "n": 3}
