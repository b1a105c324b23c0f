"""The router's behaviour pinned on every backend: local, milvus-lite embedded, milvus-lite server.

The same assertions run against the three; anything backend-specific (reopening a Milvus
collection, server errors) is at the end.
"""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import pytest

from deposium_rag import StaticEmbedder
from deposium_rag.backends import LocalBackend, MilvusBackend
from deposium_rag.errors import BackendError, DimensionMismatchError, ModelMismatchError, StoreFormatError
from deposium_rag.filters import compile_filter
from deposium_rag.retrievers import LanguageRouter

pytest.importorskip("pymilvus", reason="the milvus extra is not installed")

DOCS = {
    "en1": "The Zorblax protocol encrypts satellite telemetry with rotating keys.",
    "en2": "Photosynthesis converts light energy into chemical energy in plants.",
    "en3": "Bread dough rises because yeast ferments sugars into carbon dioxide.",
    "en4": "The committee approved the budget for public libraries.",
    "de1": "Das Zorblax-Protokoll verschlüsselt Satellitentelemetrie mit wechselnden Schlüsseln.",
    "de2": "Die Photosynthese wandelt Lichtenergie in chemische Energie um.",
    "de3": "Brotteig geht auf, weil Hefe Zucker zu Kohlendioxid vergärt.",
    "fr1": "Les ordinateurs quantiques utilisent des qubits en superposition d'états.",
    "num": "1889 1890 1991 2024 42",
}
MODES = ["dense", "lexical", "hybrid"]
KINDS = ["local", "milvus-lite", "milvus-server"]

# Metadata with the awkward cases: bools next to 0/1, numbers as strings, nulls, lists, nesting.
METAS: dict[str, dict[str, Any]] = {
    "en1": {"n": 0, "year": 2001, "tags": ["space", "crypto"], "title": "Zorblax 50% off_x", "flag": True},
    "en2": {"n": 1, "year": "2001", "tags": [], "title": "", "flag": 1, "note": None},
    "en3": {"n": 2, "year": 1999.5, "tags": "bread", "title": "Bread Dough", "flag": False},
    "en4": {"n": 3, "year": None, "tags": [1, "civic"], "title": "Budget", "flag": 0},
    "de1": {"n": 4, "year": 2001.0, "tags": {"x": 1}, "title": "Zorblax"},
    "de2": {"n": 5, "tags": ["plants", "energy"], "title": "Photosynthese", "flag": True},
    "de3": {"n": 6, "year": 2024, "title": "Brot"},
    "fr1": {"n": 7, "year": 2010, "tags": ["space"], "title": "Qubits"},
    "num": {"n": 8, "flag": None},
}
FILTERS: list[Any] = [
    {"n": 1},
    {"n": 0},
    {"flag": True},
    {"flag": 1},
    {"flag": False},
    {"year": 2001},
    {"year": "2001"},
    {"n": [1, 2, 9]},
    {"title": ["Budget", "Brot"]},
    {"year": {"$gt": 2000}},
    {"year": {"$gte": 2001, "$lt": 2024}},
    {"n": {"$lte": 0}},
    {"n": {"$lt": 1}},
    {"n": {"$gt": 0.5}},
    {"title": {"$gt": "C"}},
    {"year": {"$ne": 2001}},
    {"flag": {"$ne": True}},
    {"n": {"$nin": [0, 1, 2]}},
    {"year": {"$in": [2001, 2024]}},
    {"year": {"$exists": False}},
    {"note": {"$exists": False}},
    {"tags": {"$contains": "space"}},
    {"tags": {"$contains": 1}},
    {"title": {"$contains": "Dough"}},
    {"tags": {"$any": ["space", "energy"]}},
    {"tags": {"$all": ["space", "crypto"]}},
    {"tags": {"$all": []}},
    {"title": {"$text_match": "50% off"}},
    {"title": {"$text_match": "Zorb"}},
    {"title": {"$text_match_insensitive": "zorblax"}},
    {"tags": {"$is_empty": True}},
    {"title": {"$is_empty": False}},
    {"$or": [{"n": 1}, {"title": "Brot"}]},
    {"$and": [{"year": {"$gt": 2000}}, {"tags": {"$contains": "space"}}]},
    {"$not": {"year": {"$gt": 2000}}},
    {"$not": {"flag": True}},
    {"n": {"$gte": 2}, "title": {"$exists": True}},
    lambda md: md.get("n", 0) % 3 == 0,
]


@pytest.fixture(scope="module")
def embedder() -> StaticEmbedder:
    return StaticEmbedder("bundled")


def _make_backend(kind: str, tmp_path: Path, request: pytest.FixtureRequest) -> Any:
    if kind == "local":
        return LocalBackend()
    if kind == "milvus-lite":
        return MilvusBackend(str(tmp_path / "milvus.db"), collection="t")
    uri = request.getfixturevalue("milvus_server")
    name = f"t_{uuid.uuid4().hex}"
    backend = MilvusBackend(uri, collection=name)

    def drop() -> None:
        from pymilvus import MilvusClient

        client = MilvusClient(uri)
        if client.has_collection(name):
            client.drop_collection(name)
        client.close()

    request.addfinalizer(drop)
    return backend


@pytest.fixture(params=KINDS)
def kind(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture
def backend(kind: str, tmp_path: Path, request: pytest.FixtureRequest) -> Any:
    return _make_backend(kind, tmp_path, request)


@pytest.fixture
def router(embedder: StaticEmbedder, backend: Any) -> LanguageRouter:
    r = LanguageRouter(embedder, backend=backend)
    r.add(list(DOCS.values()), [METAS[d] for d in DOCS], list(DOCS))
    return r


@pytest.fixture(scope="module")
def reference(embedder: StaticEmbedder) -> LanguageRouter:
    """The local router every backend is compared with."""
    r = LanguageRouter(embedder)
    r.add(list(DOCS.values()), [METAS[d] for d in DOCS], list(DOCS))
    return r


def test_partitions_and_get(router: LanguageRouter) -> None:
    assert router.counts() == {"de": 3, "en": 4, "fr": 1, "und": 1}
    assert len(router) == 9 and router.language_of("de2") == "de" and router.language_of("nope") is None
    recs = router.get(["de3", "nope", "en1"])
    assert [r.id for r in recs] == ["de3", "en1"]
    meta = dict(recs[1].metadata)
    assert 0.0 < meta.pop("language_confidence") <= 1.0  # detected, so its confidence is kept
    assert recs[1].text == DOCS["en1"] and meta == {**METAS["en1"], "language": "en"}
    assert recs[0].vector.shape == (router.encoder.dim,)


@pytest.mark.parametrize("mode", MODES)
def test_every_mode_finds_the_right_doc_and_keeps_the_score_convention(
    router: LanguageRouter, mode: str
) -> None:
    res = router.search("Why does bread dough rise with yeast?", 3, mode=mode)
    assert res.hits[0].id == "en3" and res.route.languages[0] == "en"
    assert all(-1.0 <= h.score <= 1.0 and 0.0 <= h.relevance <= 1.0 for h in res.hits)
    assert [h.score for h in res.hits] == sorted((h.score for h in res.hits), reverse=True)
    assert set(res.languages) <= {"en", "und"}


@pytest.mark.parametrize("mode", MODES)
def test_same_results_as_the_local_backend(
    router: LanguageRouter, reference: LanguageRouter, mode: str
) -> None:
    queries = ["Zorblax telemetry keys", "Photosynthese Licht Energie", "bread yeast", "budget", "qubits"]
    for q in queries:
        got, want = router.search(q, 4, mode=mode), reference.search(q, 4, mode=mode)
        assert got.route == want.route, q
        assert [h.id for h in got.hits] == [h.id for h in want.hits], (mode, q)
        for a, b in zip(got.hits, want.hits):
            assert a.score == pytest.approx(b.score, abs=1e-4), (mode, q, a.id)
            assert a.text == b.text and a.metadata == b.metadata


@pytest.mark.parametrize("fusion", ["convex", "minmax", "rrf"])
def test_fusions(router: LanguageRouter, fusion: str) -> None:
    res = router.search("yeast ferments sugars in bread", 2, mode="hybrid", fusion=fusion)
    assert res.hits[0].id == "en3" and 0 <= res.hits[0].relevance <= 1


@pytest.mark.parametrize(
    "spec", FILTERS, ids=[str(f) if isinstance(f, dict) else "callable" for f in FILTERS]
)
def test_filter_semantics_match_the_filter_language(router: LanguageRouter, spec: Any) -> None:
    pred = compile_filter(spec)
    want = sorted(d for d in DOCS if pred({**METAS[d], "language": router.language_of(d)}))
    assert sorted(router.ids(spec)) == want
    # filters apply before ranking: k hits whenever k documents of the language match
    pool = {d for d in want if router.language_of(d) in ("en", "und")}  # und joins a forced route
    for mode in MODES:
        res = router.search("Zorblax bread budget plants energy", 3, language="en", filter=spec, mode=mode)
        assert {h.id for h in res.hits} <= pool, mode
        if mode != "lexical":  # lexical returns only documents sharing a term
            assert len(res.hits) == min(3, len(pool)), mode


def test_null_is_missing_on_milvus_only_for_exists_true(router: LanguageRouter, kind: str) -> None:
    """The one documented difference: Milvus cannot tell a JSON null from a missing key."""
    got = sorted(router.ids({"note": {"$exists": True}}))
    assert got == (["en2"] if kind == "local" else [])


@pytest.mark.parametrize("mode", MODES)
def test_filters_apply_in_every_mode(router: LanguageRouter, mode: str) -> None:
    res = router.search("bread yeast dough and the library budget", 5, mode=mode, filter={"n": {"$ne": 2}})
    assert res.hits and all(h.metadata["n"] != 2 for h in res.hits)


@pytest.mark.parametrize("mode", MODES)
def test_updates_are_reflected_in_the_next_search(router: LanguageRouter, mode: str) -> None:
    router.add(["Quasarfish migrate across the Vexlor reef every spring."], ids=["en5"])
    assert router.search("Quasarfish Vexlor reef migration", 1, mode=mode).hits[0].id == "en5"
    router.add(["Library budgets were approved by the city committee."], ids=["en5"])  # upsert
    assert "en5" not in [h.id for h in router.search("Quasarfish Vexlor", 3, mode="lexical").hits]
    router.delete(["en1"])
    assert "en1" not in [h.id for h in router.search("Zorblax protocol telemetry", 4, mode=mode).hits]


def test_upsert_moves_partition_and_delete(router: LanguageRouter) -> None:
    router.add(["Les qubits sont étranges et merveilleux à étudier."], ids=["en3"])
    assert router.language_of("en3") == "fr" and router.counts()["en"] == 3 and router.counts()["fr"] == 2
    assert router.search("bread yeast", 4, language="en", mode="dense").hits[0].id != "en3"
    assert "en3" in router.ids(language="fr") and "en3" not in router.ids(language="en")
    assert router.search("qubits étranges", 1, language="fr", mode="lexical").hits[0].id == "en3"
    assert router.delete(["en3", "missing"]) == 1 and router.counts()["fr"] == 1 and len(router) == 8
    assert router.get(["en3"]) == [] and router.delete(["en3"]) == 0


def test_lexical_scores_convention(router: LanguageRouter) -> None:
    b = router.backend
    assert b.lexical("en", "xyzzy plugh", 3) == []
    hits = b.lexical("en", "Zorblax telemetry", 3)
    assert hits[0][0] == "en1" and all(s > 0 for _, s in hits)
    scores = b.lexical_scores("en", "Zorblax telemetry", ["en1", "en2", "de1", "nope"])
    assert scores["en1"] == pytest.approx(hits[0][1]) and scores["en2"] == 0.0
    assert scores.get("de1", 0.0) == 0.0 and scores.get("nope", 0.0) == 0.0  # not English: no score
    vec = router.encoder.encode(["bread"])[0]
    dense = dict(b.dense("en", vec, 4))
    assert all(-1.0 <= s <= 1.0 for s in dense.values())
    assert b.dense_scores("en", vec, ["en3", "de3"]) == pytest.approx({"en3": dense["en3"]}, abs=1e-5)


def test_lexical_without_matching_terms_returns_nothing(router: LanguageRouter) -> None:
    assert router.search("xyzzy plugh", 3, mode="lexical", language="en").hits == []


@pytest.mark.parametrize(
    ("call", "error", "message"),
    [
        (lambda r: r.search("qubits", filter={"n": {"$regex": 1}}), ValueError, "unknown filter operator"),
        (lambda r: r.search("qubits", filter={"n": {"$in": 3}}), ValueError, "needs a list"),
        (lambda r: r.add(["a", None]), TypeError, r"texts\[1\]"),
        (lambda r: r.add(["a"], [{"language": "elvish"}]), ValueError, r"metadatas\[0\]\['language'\]"),
        (lambda r: r.add(["a", "b"], [{"t": object()}, None]), TypeError, "JSON"),
    ],
)
def test_bad_input_leaves_data_unchanged(
    router: LanguageRouter, call, error, message: str, kind: str
) -> None:
    if "big" in str(call.__code__.co_consts) and kind == "local":
        pytest.skip("the local backend has no text length limit")
    before = (router.counts(), [(r.id, r.text, r.metadata) for r in router.get(list(DOCS))])
    with pytest.raises(error, match=message):
        call(router)
    assert (router.counts(), [(r.id, r.text, r.metadata) for r in router.get(list(DOCS))]) == before


class _Other:
    dim, model_name, fingerprint = 256, "other-model", "other"

    def encode(self, texts):  # pragma: no cover - never called
        raise AssertionError


class _Small(_Other):
    dim = 8


# -- Milvus only -----------------------------------------------------------------------------------
MILVUS = ["milvus-lite", "milvus-server"]


@pytest.mark.parametrize("kind", MILVUS, indirect=True)
def test_reopen_answers_identically_and_keeps_options(
    embedder: StaticEmbedder, backend: MilvusBackend, kind: str
) -> None:
    r = LanguageRouter(embedder, backend=backend, weight=0.7, fallback="none")
    r.add(list(DOCS.values()), [METAS[d] for d in DOCS], list(DOCS))
    want = {m: r.search("bread yeast Zorblax", 4, mode=m).hits for m in MODES}
    backend.close()
    again = MilvusBackend(backend.uri, collection=backend.collection)
    loaded = LanguageRouter.load(again, embedder)
    assert (loaded.weight, loaded.fallback) == (0.7, "none") and loaded.counts() == r.counts()
    for m in MODES:
        assert [(h.id, round(h.score, 5)) for h in loaded.search("bread yeast Zorblax", 4, mode=m).hits] == [
            (h.id, round(h.score, 5)) for h in want[m]
        ]
    again.close()
    with pytest.raises(ModelMismatchError, match="bundled.*other-model"):
        LanguageRouter(_Other(), backend=MilvusBackend(backend.uri, collection=backend.collection))
    with pytest.raises(DimensionMismatchError, match="256-d.*other-model.*8-d"):
        LanguageRouter(_Small(), backend=MilvusBackend(backend.uri, collection=backend.collection))


@pytest.mark.parametrize("kind", MILVUS, indirect=True)
def test_foreign_and_future_collections_refused(embedder: StaticEmbedder, backend: MilvusBackend) -> None:
    import json

    from pymilvus import DataType, MilvusClient

    LanguageRouter(embedder, backend=backend)
    client = backend.client
    desc = client.describe_collection(backend.collection)
    manifest = json.loads(desc["properties"]["deposium_rag.manifest"])
    client.drop_collection(backend.collection)
    # a collection another tool made
    schema = MilvusClient.create_schema(auto_id=False)
    schema.add_field("pk", DataType.INT64, is_primary=True)
    schema.add_field("v", DataType.FLOAT_VECTOR, dim=4)
    params = client.prepare_index_params()
    params.add_index("v", index_type="FLAT", metric_type="IP")
    client.create_collection(backend.collection, schema=schema, index_params=params)
    with pytest.raises(StoreFormatError, match="not written by deposium-rag"):
        LanguageRouter(embedder, backend=MilvusBackend(backend.uri, collection=backend.collection))
    client.drop_collection(backend.collection)
    # a collection from a future format version
    backend._create(client, backend._config)
    client.alter_collection_properties(
        backend.collection, {"deposium_rag.manifest": json.dumps({**manifest, "format_version": 99})}
    )
    with pytest.raises(StoreFormatError, match="version 99.*Re-index"):
        LanguageRouter(embedder, backend=MilvusBackend(backend.uri, collection=backend.collection))


@pytest.mark.parametrize("kind", MILVUS, indirect=True)
def test_too_long_text_refused_before_any_write(router: LanguageRouter) -> None:
    before = [(r.id, r.text) for r in router.get(list(DOCS))]
    with pytest.raises(ValueError, match="longer than Milvus's 65535-byte"):
        router.add(["Bread is baked.", "x " * 40000], ids=["en1", "big"])
    assert [(r.id, r.text) for r in router.get(list(DOCS))] == before and router.get(["big"]) == []


@pytest.mark.parametrize("kind", MILVUS, indirect=True)
def test_failed_write_is_rolled_back(router: LanguageRouter) -> None:
    """A batch the server rejects after earlier batches were written: the earlier ones are undone."""
    from deposium_rag.backends import Document

    backend = router.backend
    before = {d: (lang, r.text, r.metadata) for d, (lang, r) in zip(DOCS, backend.get(list(DOCS)))}
    vec = router.encoder.encode(["x"])[0]
    docs = [Document("en1", "replaced", {}, "en", vec)]
    docs += [Document(f"new{i}", f"new text {i}", {}, "en", vec) for i in range(600)]
    docs.append(Document("bad", "text", {}, "x" * 40, vec))  # language longer than the field: rejected
    with pytest.raises(BackendError, match="upsert failed"):
        backend.upsert(docs)
    after = {r.id: (lang, r.text, r.metadata) for lang, r in backend.get([*DOCS, "new0", "new599", "bad"])}
    assert after == before and router.counts() == {"de": 3, "en": 4, "fr": 1, "und": 1}


def test_unreachable_server_is_a_clear_error(embedder: StaticEmbedder) -> None:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(BackendError, match="cannot connect to Milvus.*start the server"):
        LanguageRouter(embedder, backend=MilvusBackend(f"http://127.0.0.1:{port}", timeout=3))


def test_server_down_mid_session_is_a_clear_error(embedder: StaticEmbedder, tmp_path: Path) -> None:
    import socket
    import subprocess
    import sys
    import time

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    cmd = [
        sys.executable,
        "-m",
        "milvus_lite",
        "server",
        "--data-dir",
        str(tmp_path / "d"),
        "--port",
        str(port),
    ]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(300):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                break
            except OSError:
                time.sleep(0.1)
        r = LanguageRouter(embedder, backend=MilvusBackend(f"http://127.0.0.1:{port}", timeout=3))
        r.add(["Bread dough rises because yeast ferments sugars."], ids=["a"])
    finally:
        proc.kill()
        proc.wait()
    with pytest.raises(BackendError, match="Milvus (search|flush) failed.*server is running"):
        r.search("bread", 1, language="en")


def test_importing_the_core_imports_no_milvus() -> None:
    import subprocess
    import sys

    code = (
        "import sys, deposium_rag, deposium_rag.backends; assert not {'pymilvus', 'ray'} & set(sys.modules)"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_missing_pymilvus_names_the_extra() -> None:
    import subprocess
    import sys

    code = (
        "import sys; sys.modules['pymilvus'] = None\n"
        "from deposium_rag.backends import MilvusBackend\n"
        "from deposium_rag.errors import MissingExtraError\n"
        "from deposium_rag.backends.base import BackendConfig\n"
        "try:\n"
        "    MilvusBackend('/tmp/never.db').open(BackendConfig(8, 'm', None))\n"
        "except MissingExtraError as e:\n"
        "    print(e)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert 'pip install "deposium-rag[milvus]"' in out.stdout


def test_readme_milvus_block_runs_as_written(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import re

    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Scale out with Milvus", 1)[1].split("\n## ", 1)[0]
    block = re.search(r"```python\n(.*?)```", section, flags=re.S)
    assert block is not None
    monkeypatch.chdir(tmp_path)
    scope: dict[str, Any] = {}
    exec(compile(block.group(1), "README.md", "exec"), scope)  # our own README, run as written
    assert scope["router"].backend.name == "milvus" and scope["hits"][0].id == "de"
