"""LlamaIndex routing retriever: nodes keep ref_doc_id / relationships; delete_ref_doc; persist."""

from __future__ import annotations

from pathlib import Path

import pytest
from llama_index.core import Document
from llama_index.core.llms.mock import MockLLM
from llama_index.core.node_parser import SentenceSplitter
from llama_index.core.query_engine import RetrieverQueryEngine
from llama_index.core.schema import NodeRelationship

from deposium_rag import LanguageRouter
from deposium_rag.errors import ModelMismatchError
from deposium_rag.integrations.llamaindex import NODE_KEY, LanguageRoutingRetriever, Model2VecEmbedding

EMB = Model2VecEmbedding("bundled")
BREAD = " ".join(
    [
        "Bread is baked from flour, water, salt and yeast.",
        "The dough is kneaded, left to rise, shaped and baked in a hot oven.",
        "Sourdough uses wild yeast and lactic bacteria instead of baker's yeast.",
    ]
    * 3
)
PARIS = "The Eiffel Tower is a wrought-iron lattice tower on the Champ de Mars in Paris, France."
BROT = "Brot wird aus Mehl, Wasser, Salz und Hefe gebacken; der Teig geht und wird im Ofen gebacken."


def _nodes() -> list:
    docs = [
        Document(text=BREAD, doc_id="bread-doc", metadata={"file": "bread.txt"}),
        Document(text=PARIS, doc_id="paris-doc", metadata={"file": "paris.txt"}),
        Document(text=BROT, doc_id="brot-doc", metadata={"file": "brot.txt"}),
    ]
    return SentenceSplitter(chunk_size=60, chunk_overlap=0).get_nodes_from_documents(docs)


NODES = _nodes()  # node ids are random per split: build them once


@pytest.fixture
def retriever() -> LanguageRoutingRetriever:
    r = LanguageRoutingRetriever(LanguageRouter(EMB.embedder), 10)
    r.add_nodes(NODES)
    return r


def test_nodes_keep_ref_doc_id_and_relationships(retriever: LanguageRoutingRetriever) -> None:
    source = {n.node_id: n for n in NODES}
    got = retriever.retrieve("How is bread baked?", language="en")
    bread = [n.node for n in got if n.node.ref_doc_id == "bread-doc"]
    assert len(bread) >= 2
    for node in bread:
        original = source[node.node_id]
        assert node.relationships[NodeRelationship.SOURCE].node_id == "bread-doc"
        assert {k: v.node_id for k, v in node.relationships.items()} == {
            k: v.node_id for k, v in original.relationships.items()
        }
        assert node.metadata["file"] == "bread.txt"
        assert NODE_KEY not in node.metadata and "ref_doc_id" not in node.metadata
        assert "language" in node.excluded_llm_metadata_keys


def test_whole_documents_are_their_own_source() -> None:
    docs = [Document(text=PARIS, doc_id="paris-doc"), Document(text=BROT, doc_id="brot-doc")]
    r = LanguageRoutingRetriever.from_documents(docs, EMB)
    assert {n.node.ref_doc_id for n in r.retrieve("Paris tower", language="en")} == {"paris-doc"}
    assert r.delete_ref_doc("paris-doc") == 1 and len(r.router) == 1


def test_query_engine_cites_source_documents(retriever: LanguageRoutingRetriever) -> None:
    engine = RetrieverQueryEngine.from_args(retriever, llm=MockLLM())
    response = engine.query("How is bread baked?")
    assert "bread-doc" in {n.node.ref_doc_id for n in response.source_nodes}


def test_delete_ref_doc_removes_every_chunk(retriever: LanguageRoutingRetriever) -> None:
    chunks = sum(1 for n in NODES if n.ref_doc_id == "bread-doc")
    before = len(retriever.router)
    assert retriever.delete_ref_doc("bread-doc") == chunks > 1
    assert len(retriever.router) == before - chunks
    assert all(n.node.ref_doc_id != "bread-doc" for n in retriever.retrieve("bread yeast oven"))
    assert retriever.delete_ref_doc("no-such-doc") == 0


def test_persist_and_reload(retriever: LanguageRoutingRetriever, tmp_path: Path) -> None:
    retriever.persist(tmp_path / "storage")
    back = LanguageRoutingRetriever.from_persist_dir(tmp_path / "storage", EMB, similarity_top_k=10)
    q = "How is bread baked?"
    a = [(n.node.node_id, n.node.ref_doc_id, round(n.score, 6)) for n in retriever.retrieve(q)]
    b = [(n.node.node_id, n.node.ref_doc_id, round(n.score, 6)) for n in back.retrieve(q)]
    assert a == b
    other = Model2VecEmbedding("bundled")
    other.embedder._fingerprint = "different-weights"
    with pytest.raises(ModelMismatchError):
        LanguageRoutingRetriever.from_persist_dir(tmp_path / "storage", other)
