"""An id repeated within one batch: the last one wins, in the store, the router and the faces."""

from __future__ import annotations

import numpy as np
import pytest

from deposium_rag._validation import last_wins
from deposium_rag.retrievers import LanguageRouter
from deposium_rag.store import FaissStore


def test_last_wins_positions() -> None:
    assert last_wins(["a", "b", "c"]) == [0, 1, 2]
    assert last_wins(["a", "b", "a", "c", "b"]) == [2, 3, 4]
    with pytest.raises(TypeError, match=r"ids\[1\]"):
        last_wins(["a", None])


@pytest.mark.parametrize("kind", ["flat", "hnsw"])
def test_store_keeps_the_last_copy(kind: str) -> None:
    v = np.eye(4, dtype=np.float32)
    store = FaissStore(index=kind)
    ids = store.add(v[:3], ["first", "other", "last"], [{"n": 1}, {"n": 2}, {"n": 3}], ["x", "y", "x"])
    assert ids == ["x", "y", "x"]  # one id per input, as given
    assert len(store) == 2 and sorted(store.ids()) == ["x", "y"]
    (rec,) = store.get(["x"])
    assert (rec.text, rec.metadata) == ("last", {"n": 3})
    assert store.search(v[2], 1)[0].id == "x"  # the vector of the last copy
    assert store.search(v[0], 1)[0].id != "x" or store.search(v[0], 1)[0].score < 0.5


def test_store_duplicates_replace_an_existing_id() -> None:
    store = FaissStore()
    v = np.eye(4, dtype=np.float32)
    store.add(v[:1], ["old"], ids=["x"])
    store.add(v[1:3], ["mid", "new"], ids=["x", "x"])
    assert [r.text for r in store.records()] == ["new"]


def test_router_keeps_the_last_copy(embedder) -> None:
    router = LanguageRouter(embedder)
    ids = router.add(
        ["The Eiffel Tower is in Paris.", "Bread needs flour.", "Der Eiffelturm steht in Paris."],
        [{"v": 1}, None, {"v": 3}],
        ["t", "b", "t"],
    )
    assert ids == ["t", "b", "t"] and len(router) == 2
    (rec,) = router.get(["t"])
    assert rec.text.startswith("Der Eiffelturm") and rec.metadata["v"] == 3
    assert router.language_of("t") == "de" and router.counts().get("en") == 1


def test_langchain_faces_keep_the_last_copy() -> None:
    pytest.importorskip("langchain_core")
    from langchain_core.documents import Document

    from deposium_rag.integrations.langchain import (
        FAISSVectorStore,
        LanguageRoutingRetriever,
        Model2VecEmbeddings,
    )

    emb = Model2VecEmbeddings(model="bundled")
    docs = [Document("old text", id="a"), Document("bread with yeast", id="b"), Document("new text", id="a")]
    vs = FAISSVectorStore(emb)
    assert vs.add_documents(docs) == ["a", "b", "a"]
    assert [d.page_content for d in vs.get_by_ids(["a"])] == ["new text"] and len(vs) == 2
    r = LanguageRoutingRetriever.from_documents(docs[:2], emb)
    r.add_documents(docs)
    assert len(r.router) == 2 and r.router.get(["a"])[0].text == "new text"
