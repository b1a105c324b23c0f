"""The LlamaIndex routing retriever on the Milvus backend: ``backend=`` passes through the face."""

from __future__ import annotations

from pathlib import Path

import pytest

pytest.importorskip("pymilvus", reason="the milvus extra is not installed")

from llama_index.core import Document
from llama_index.core.vector_stores.types import MetadataFilter, MetadataFilters

from deposium_rag.backends import MilvusBackend
from deposium_rag.integrations.llamaindex import LanguageRoutingRetriever, Model2VecEmbedding

DOCS = [
    ("The Eiffel Tower is a wrought-iron lattice tower in Paris.", "en1", 1),
    ("Quantum computers use qubits in superposition.", "en2", 2),
    ("La tour Eiffel est une tour en treillis de fer à Paris.", "fr1", 3),
    ("Les ordinateurs quantiques utilisent des qubits en superposition.", "fr2", 4),
    ("El pan se hace con harina, agua, sal y levadura.", "es1", 5),
]


def test_llamaindex_retriever_on_milvus(tmp_path: Path) -> None:
    docs = [Document(text=t, doc_id=d, metadata={"i": i}) for t, d, i in DOCS]
    backend = MilvusBackend(str(tmp_path / "m.db"), collection="li")
    r = LanguageRoutingRetriever.from_documents(
        docs, Model2VecEmbedding(model_name="bundled"), similarity_top_k=2, backend=backend
    )
    assert r.router.backend is backend and r.router.counts() == {"en": 2, "es": 1, "fr": 2}
    nodes = r.retrieve("Qu'est-ce que les ordinateurs quantiques utilisent ?")
    assert nodes[0].node.node_id == "fr2" and {n.node.metadata["language"] for n in nodes} == {"fr"}
    r.filters = MetadataFilters(filters=[MetadataFilter(key="i", value=3)])
    assert [n.node.node_id for n in r.retrieve("ordinateurs quantiques")] == ["fr1"]
