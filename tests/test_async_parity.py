"""Every per-call option of invoke / retrieve works the same through ainvoke / aretrieve."""

from __future__ import annotations

import asyncio

import pytest
from llama_index.core.vector_stores.types import MetadataFilter, MetadataFilters

from deposium_rag.integrations import langchain as lc
from deposium_rag.integrations import llamaindex as li
from deposium_rag.retrievers import LanguageRouter

TEXTS = [
    "Bread is baked from flour, water, salt and yeast.",
    "Sourdough bread rises slowly with wild yeast.",
    "The Eiffel Tower is a wrought-iron lattice tower in Paris.",
    "Quantum computers use qubits in superposition.",
    "Brot wird aus Mehl, Wasser, Salz und Hefe gebacken.",
    "Der Eiffelturm ist ein Eisenfachwerkturm in Paris.",
]
IDS = ["b1", "b2", "t1", "q1", "b_de", "t_de"]


@pytest.fixture(scope="module")
def router(embedder) -> LanguageRouter:
    r = LanguageRouter(embedder)
    r.add(TEXTS, [{"n": i, "kind": "bread" if i in (0, 1, 4) else "other"} for i in range(6)], IDS)
    return r


# (options, check on the ids returned) — each check fails if the option were ignored.
LC_CASES = [
    ({"k": 1}, lambda ids: len(ids) == 1),
    ({"language": "de"}, lambda ids: set(ids) <= {"b_de", "t_de"} and ids),
    ({"filter": {"n": {"$gte": 1}}}, lambda ids: "b1" not in ids and ids),
    ({"filter": lambda d: d.id == "b2"}, lambda ids: ids == ["b2"]),
    ({"mode": "lexical"}, lambda ids: ids and ids[0] in ("b1", "b2")),
    ({"mode": "dense", "k": 2}, lambda ids: len(ids) == 2),
    ({"fusion": "rrf"}, lambda ids: bool(ids)),
    ({"weight": 0.0}, lambda ids: bool(ids)),
    ({"min_relevance": 0.5}, lambda ids: ids == ["b1", "b2"]),
]


@pytest.mark.parametrize(("options", "check"), LC_CASES)
def test_langchain_invoke_and_ainvoke_agree(router: LanguageRouter, options: dict, check) -> None:
    retriever = lc.LanguageRoutingRetriever(router=router, k=4)
    sync = retriever.invoke("How is bread baked with yeast?", **options)
    done = asyncio.run(retriever.ainvoke("How is bread baked with yeast?", **options))
    assert [(d.id, d.metadata["score"]) for d in sync] == [(d.id, d.metadata["score"]) for d in done]
    assert check([d.id for d in done])


def test_langchain_options_change_the_result(router: LanguageRouter) -> None:
    retriever = lc.LanguageRoutingRetriever(router=router, k=4)
    q = "How is bread baked with yeast?"
    base = asyncio.run(retriever.ainvoke(q))
    fused = asyncio.run(retriever.ainvoke(q, mode="hybrid", weight=0.0))
    dense = asyncio.run(retriever.ainvoke(q, mode="dense"))
    # weight 0 in hybrid is dense relevance only: same order as dense mode
    assert [d.id for d in fused] == [d.id for d in dense]
    assert [d.metadata["score"] for d in base] != [d.metadata["score"] for d in dense]


LI_CASES = [
    ({"similarity_top_k": 1}, lambda ids: len(ids) == 1),
    ({"language": "de"}, lambda ids: set(ids) <= {"b_de", "t_de"} and ids),
    (
        {"filters": MetadataFilters(filters=[MetadataFilter(key="kind", value="other")])},
        lambda ids: ids and set(ids) <= {"t1", "q1", "t_de"},
    ),
    ({"filters": {"n": {"$in": [1]}}}, lambda ids: ids == ["b2"]),
    ({"mode": "lexical"}, lambda ids: ids and ids[0] in ("b1", "b2")),
    ({"mode": "dense", "similarity_top_k": 2}, lambda ids: len(ids) == 2),
    ({"fusion": "minmax"}, lambda ids: bool(ids)),
    ({"weight": 1.0}, lambda ids: bool(ids)),
    ({"min_relevance": 0.5}, lambda ids: ids == ["b1", "b2"]),
]


@pytest.mark.parametrize(("options", "check"), LI_CASES)
def test_llamaindex_retrieve_and_aretrieve_agree(router: LanguageRouter, options: dict, check) -> None:
    retriever = li.LanguageRoutingRetriever(router, similarity_top_k=4)
    sync = retriever.retrieve("How is bread baked with yeast?", **options)
    done = asyncio.run(retriever.aretrieve("How is bread baked with yeast?", **options))
    assert [(n.node.node_id, n.score) for n in sync] == [(n.node.node_id, n.score) for n in done]
    assert check([n.node.node_id for n in done])
    # the options were for one call only
    assert len(retriever.retrieve("How is bread baked with yeast?")) == 4


def test_llamaindex_unknown_option_is_refused(router: LanguageRouter) -> None:
    retriever = li.LanguageRoutingRetriever(router)
    with pytest.raises(TypeError, match="unknown retrieve option.*k"):
        retriever.retrieve("bread", k=1)
    with pytest.raises(TypeError, match="unknown retrieve option"):
        asyncio.run(retriever.aretrieve("bread", top=1))


async def test_llamaindex_concurrent_calls_keep_their_own_options(router: LanguageRouter) -> None:
    retriever = li.LanguageRoutingRetriever(router, similarity_top_k=4)
    results = await asyncio.gather(
        *(retriever.aretrieve("bread and yeast", similarity_top_k=k) for k in (1, 2, 3, 4, 1, 2))
    )
    assert [len(r) for r in results] == [1, 2, 3, 4, 1, 2]
