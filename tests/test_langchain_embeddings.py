"""LangChain embeddings face: the standard suites plus this adapter's own promises."""

from __future__ import annotations

import numpy as np
import pytest
from langchain_tests.integration_tests import EmbeddingsIntegrationTests
from langchain_tests.unit_tests import EmbeddingsUnitTests

from deposium_rag import BUNDLED_MODEL, MODEL_ENV_VAR
from deposium_rag.integrations.langchain import Model2VecEmbeddings


class TestModel2VecEmbeddingsUnit(EmbeddingsUnitTests):
    @property
    def embeddings_class(self) -> type[Model2VecEmbeddings]:
        return Model2VecEmbeddings

    @property
    def embedding_model_params(self) -> dict:
        return {"model": "bundled"}

    @property
    def init_from_env_params(self) -> tuple[dict, dict, dict]:
        return ({MODEL_ENV_VAR: str(BUNDLED_MODEL)}, {}, {"model_name": "bundled"})


class TestModel2VecEmbeddingsIntegration(EmbeddingsIntegrationTests):
    @property
    def embeddings_class(self) -> type[Model2VecEmbeddings]:
        return Model2VecEmbeddings

    @property
    def embedding_model_params(self) -> dict:
        return {"model": "bundled"}


@pytest.fixture(scope="module")
def emb() -> Model2VecEmbeddings:
    return Model2VecEmbeddings(model="bundled")


def test_fields(emb: Model2VecEmbeddings) -> None:
    assert emb.model_name == "bundled" and emb.dimension == emb.embedder.dim > 0
    assert emb.normalize is True


def test_empty_list_gives_empty_list(emb: Model2VecEmbeddings) -> None:
    assert emb.embed_documents([]) == []


async def test_async_matches_sync(emb: Model2VecEmbeddings) -> None:
    docs = ["one document", "another document"]
    assert await emb.aembed_documents(docs) == emb.embed_documents(docs)
    assert await emb.aembed_query("q") == emb.embed_query("q")
    assert await emb.aembed_documents([]) == []


def test_query_and_document_vectors_agree(emb: Model2VecEmbeddings) -> None:
    assert emb.embed_query("same text") == emb.embed_documents(["same text"])[0]


def test_non_string_item_names_position(emb: Model2VecEmbeddings) -> None:
    with pytest.raises(TypeError, match=r"texts\[2\]"):
        emb.embed_documents(["a", "b", 7])  # type: ignore[list-item]
    with pytest.raises(TypeError, match="must be str"):
        emb.embed_query(None)  # type: ignore[arg-type]


def test_similar_texts_score_higher(emb: Model2VecEmbeddings) -> None:
    q = np.array(emb.embed_query("How do I bake bread?"))
    docs = np.array(emb.embed_documents(["A recipe for baking bread at home", "Stock market news"]))
    sims = docs @ q
    assert sims[0] > sims[1]


def test_options_are_passed_to_the_core() -> None:
    e = Model2VecEmbeddings(model="bundled", normalize=False, max_length=4, batch_size=3)
    v = np.array(e.embed_query("one two three four five six seven"))
    assert abs(np.linalg.norm(v) - 1.0) > 1e-3  # not normalised
    assert e.embedder.max_length == 4 and e.embedder.batch_size == 3


def test_bad_model_is_a_clear_error() -> None:
    from deposium_rag.errors import ModelNotFoundError

    with pytest.raises(ModelNotFoundError, match="folder not found"):
        Model2VecEmbeddings(model="./missing-folder")
