"""Core FaissStore: upsert, delete, pre-filtering, scores, atomicity, persistence, threads."""

from __future__ import annotations

import json
import os
import pickle
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from deposium_rag.errors import DimensionMismatchError, ModelMismatchError, StoreFormatError
from deposium_rag.store import FaissStore, relevance

KINDS = ["flat", "auto", "hnsw"]


def vecs(n: int, dim: int = 16, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).normal(size=(n, dim)).astype(np.float32)


def filled(
    kind: str = "flat", n: int = 200, dim: int = 16, vectors: str = "float32"
) -> tuple[FaissStore, np.ndarray]:
    # "auto" switches to its approximate index at 1,024 documents here, so tests cover both sides
    store = FaissStore(index=kind, vectors=vectors, exact_below=1024 if kind == "auto" else 4096)
    v = vecs(n, dim)
    store.add(
        v,
        [f"text {i}" for i in range(n)],
        [{"i": i, "g": i % 10} for i in range(n)],
        [f"id{i}" for i in range(n)],
    )
    return store, v


def snapshot(store: FaissStore) -> tuple:
    recs = store.records()
    return tuple((r.id, r.text, json.dumps(r.metadata), r.vector.tobytes()) for r in recs)


@pytest.mark.parametrize("kind", KINDS)
def test_search_finds_itself_with_score_one(kind: str) -> None:
    store, v = filled(kind)
    hit = store.search(v[42], k=1)[0]
    assert hit.id == "id42" and hit.text == "text 42" and hit.metadata == {"i": 42, "g": 2}
    assert hit.score == pytest.approx(1.0, abs=1e-5) and hit.relevance == pytest.approx(1.0, abs=1e-5)


def test_score_convention_cosine_and_relevance() -> None:
    store = FaissStore(2)
    store.add([[1, 0], [0, 1], [-1, 0]], ["same", "orthogonal", "opposite"], ids=["s", "o", "x"])
    hits = {h.id: h for h in store.search([3.0, 0.0], k=3)}  # unnormalised query is fine
    assert hits["s"].score == pytest.approx(1.0) and hits["s"].relevance == pytest.approx(1.0)
    assert hits["o"].score == pytest.approx(0.0, abs=1e-6) and hits["o"].relevance == pytest.approx(0.5)
    assert hits["x"].score == pytest.approx(-1.0) and hits["x"].relevance == pytest.approx(0.0)
    assert [h.id for h in store.search([1.0, 0.1], k=3)] == ["s", "o", "x"]
    assert relevance(-1.5) == 0.0 and relevance(1.5) == 1.0


@pytest.mark.parametrize("kind", KINDS)
def test_filter_applies_before_ranking(kind: str) -> None:
    """10 matching documents far from the query among 5,000: all 10 come back."""
    dim = 16
    rng = np.random.default_rng(1)
    query = rng.normal(size=dim).astype(np.float32)
    near = query + 0.05 * rng.normal(size=(4990, dim)).astype(np.float32)
    far = -query + 0.05 * rng.normal(size=(10, dim)).astype(np.float32)
    store = FaissStore(index=kind)
    store.add(np.vstack([near, far]), ["x"] * 5000, [{"rare": False}] * 4990 + [{"rare": True}] * 10)
    hits = store.search(query, k=10, filter={"rare": True})
    assert len(hits) == 10 and all(h.metadata["rare"] for h in hits)
    assert len(store.search(query, k=50, filter={"rare": True})) == 10
    assert store.search(query, k=5, filter={"rare": "nope"}) == []


@pytest.mark.parametrize("kind", KINDS)
def test_filtered_search_is_exact_top_k(kind: str) -> None:
    store, v = filled(kind, n=2000)
    q = vecs(1, seed=9)[0]
    got = [h.id for h in store.search(q, k=5, filter={"g": 3})]
    unit = v / np.linalg.norm(v, axis=1, keepdims=True)
    scores = unit @ (q / np.linalg.norm(q))
    cand = [i for i in range(2000) if i % 10 == 3]
    want = [f"id{i}" for i in sorted(cand, key=lambda i: -scores[i])[:5]]
    assert got == want


@pytest.mark.parametrize("kind", KINDS)
def test_upsert_replaces_in_place(kind: str) -> None:
    store, v = filled(kind, n=50)
    store.add(-v[7:8], ["replaced"], [{"new": True}], ["id7"])
    assert len(store) == 50
    rec = store.get(["id7"])[0]
    assert rec.text == "replaced" and rec.metadata == {"new": True}
    assert store.search(-v[7], k=1)[0].id == "id7"
    assert store.search(v[7], k=1)[0].id != "id7"


@pytest.mark.parametrize("kind", KINDS)
def test_delete_and_missing_ids(kind: str) -> None:
    store, v = filled(kind, n=300)
    assert store.delete(["id1", "id2", "nope"]) == 2
    assert store.delete(["id1"]) == 0 and store.delete([]) == 0
    assert len(store) == 298 and "id1" not in store
    assert all(h.id not in {"id1", "id2"} for h in store.search(v[1], k=20))
    # Deleting most of the store compacts it; everything left still maps right.
    store.delete([f"id{i}" for i in range(0, 300, 3)])
    for h in store.search(v[5], k=50):
        assert h.text == "text " + h.id[2:] and h.metadata["i"] == int(h.id[2:])


def test_get_keeps_order_and_skips_missing() -> None:
    store, _ = filled(n=10)
    assert [r.id for r in store.get(["id3", "zzz", "id1"])] == ["id3", "id1"]


def test_returned_metadata_is_a_copy() -> None:
    store, v = filled(n=5)
    store.search(v[0], k=1)[0].metadata["i"] = "mutated"
    store.get(["id0"])[0].metadata["i"] = "mutated"
    assert store.get(["id0"])[0].metadata["i"] == 0


def test_mmr_prefers_diversity() -> None:
    store = FaissStore(2)
    store.add([[1, 0], [0.999, 0.04], [0.7, 0.7]], ["a", "a-dup", "b"], ids=["a", "d", "b"])
    assert [h.id for h in store.mmr_search([1, 0], k=2, fetch_k=3, lambda_mult=0.3)] == ["a", "b"]
    assert [h.id for h in store.mmr_search([1, 0], k=2, fetch_k=3, lambda_mult=1.0)] == ["a", "d"]


@pytest.mark.parametrize(
    ("call", "error"),
    [
        (lambda s: s.add(vecs(2, 8), ["a", "b"], ids=["n1", "n2"]), DimensionMismatchError),
        # a repeated id keeps the last copy, but every copy is still checked first
        (
            lambda s: s.add(np.vstack([np.full((1, 16), np.nan), vecs(1)]), ["a", "b"], ids=["n1", "n1"]),
            ValueError,
        ),
        (lambda s: s.add(vecs(2), ["a", "b"], [{"x": 1}, {"d": object()}], ["n1", "n2"]), TypeError),
        (lambda s: s.add(vecs(2), ["a", 5], ids=["n1", "n2"]), TypeError),
        (lambda s: s.add(vecs(3), ["a", "b"], ids=["n1", "n2"]), ValueError),
        (lambda s: s.add(np.full((2, 16), np.nan), ["a", "b"], ids=["id0", "n2"]), ValueError),
        (lambda s: s.add(vecs(1), ["a"], ids=[""]), TypeError),
        (lambda s: s.search(vecs(1, 8)[0]), DimensionMismatchError),
        (lambda s: s.search(vecs(1)[0], filter={"g": {"$bad": 1}}), ValueError),
        (lambda s: s.delete("id0"), TypeError),
    ],
)
def test_bad_input_raises_and_leaves_store_unchanged(call, error) -> None:
    store, _ = filled(n=20)
    before = snapshot(store)
    with pytest.raises(error):
        call(store)
    assert snapshot(store) == before


def test_dimension_error_names_both_dims_and_model() -> None:
    store = FaissStore(16, model_name="my-model")
    with pytest.raises(DimensionMismatchError, match="dimension 8.*my-model.*dimension 16"):
        store.add(vecs(1, 8), ["x"])


def test_empty_store_and_k_zero() -> None:
    store = FaissStore()
    assert store.search([1.0, 2.0], k=3) == [] and len(store) == 0
    filled_store, v = filled(n=5)
    assert filled_store.search(v[0], k=0) == []
    with pytest.raises(ValueError):
        filled_store.search(v[0], k=-1)


def test_zero_vectors_score_zero_not_nan() -> None:
    store = FaissStore(4)
    store.add([[0, 0, 0, 0], [1, 0, 0, 0]], ["empty", "x"], ids=["e", "x"])
    hits = store.search([1, 0, 0, 0], k=2)
    assert [h.id for h in hits] == ["x", "e"] and hits[1].score == 0.0


# -- persistence -----------------------------------------------------------------------------------
@pytest.mark.parametrize("kind", KINDS)
def test_save_load_roundtrip(tmp_path: Path, kind: str) -> None:
    store, v = filled(kind, n=300)
    store.model_name, store.model_fingerprint = "m", "abc"
    store.delete(["id3"])
    store.save(tmp_path / "s")
    loaded = FaissStore.load(tmp_path / "s", expected_dim=16, expected_fingerprint="abc")
    assert loaded.index_kind == kind and len(loaded) == 299 and loaded.model_name == "m"
    for q in v[:20]:
        assert store.search(q, 5, {"g": {"$lt": 5}}) == loaded.search(q, 5, {"g": {"$lt": 5}})
    manifest = json.loads((tmp_path / "s" / "manifest.json").read_text())
    assert manifest["format_version"] == 2 and manifest["count"] == 299
    assert manifest["metric"] == "inner_product" and manifest["dim"] == 16
    names = {"ids.json", "manifest.json", "vectors.npy", "texts.npy", "texts_ends.npy"}
    names |= {"metas.npy", "metas_ends.npy"} | ({"ann.faiss"} if kind == "hnsw" else set())
    assert sorted(p.name for p in (tmp_path / "s").iterdir()) == sorted(names)


def test_load_never_unpickles(tmp_path: Path, monkeypatch) -> None:
    store, _ = filled(n=10)
    store.save(tmp_path / "s")

    def refuse(*a, **k):
        raise AssertionError("pickle used on load")

    monkeypatch.setattr(pickle, "load", refuse)
    monkeypatch.setattr(pickle, "loads", refuse)
    monkeypatch.setattr(pickle, "Unpickler", refuse)
    assert len(FaissStore.load(tmp_path / "s")) == 10


def test_load_refuses_other_model_or_dim(tmp_path: Path) -> None:
    store = FaissStore(16, model_name="model-a", model_fingerprint="aaa")
    store.add(vecs(3), ["a", "b", "c"])
    store.save(tmp_path / "s")
    with pytest.raises(DimensionMismatchError, match="model-a.*dimension 16.*model-b.*dimension 32"):
        FaissStore.load(tmp_path / "s", expected_dim=32, expected_fingerprint="bbb", expected_model="model-b")
    with pytest.raises(ModelMismatchError, match="model-a.*model-b"):
        FaissStore.load(tmp_path / "s", expected_dim=16, expected_fingerprint="bbb", expected_model="model-b")


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        (lambda d: (d / "vectors.npy").write_bytes((d / "vectors.npy").read_bytes()[:100]), "checksum"),
        (lambda d: (d / "ids.json").write_text('{"ids": ["x"]'), "checksum"),
        (lambda d: (d / "texts.npy").unlink(), "missing"),
        (lambda d: (d / "manifest.json").unlink(), "manifest is missing"),
        (lambda d: (d / "manifest.json").write_text("{not json"), "not valid JSON"),
        (lambda d: (d / "manifest.json").write_text('{"format": "other"}'), "not a deposium-rag"),
    ],
)
def test_damaged_store_gives_clear_error(tmp_path: Path, damage, message: str) -> None:
    store, _ = filled(n=10)
    folder = store.save(tmp_path / "s")
    damage(folder)
    with pytest.raises(StoreFormatError, match=message):
        FaissStore.load(folder)


def test_tampered_docstore_with_matching_checksum_is_still_checked(tmp_path: Path) -> None:
    from deposium_rag._atomic import sha256_file

    store, _ = filled(n=10)
    folder = store.save(tmp_path / "s")
    (folder / "ids.json").write_text(json.dumps({"ids": ["a"], "deleted": []}))
    manifest = json.loads((folder / "manifest.json").read_text())
    manifest["files"]["ids.json"] = sha256_file(folder / "ids.json")
    (folder / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(StoreFormatError, match="does not hold 1 aligned"):
        FaissStore.load(folder)


def test_missing_folder(tmp_path: Path) -> None:
    with pytest.raises(StoreFormatError, match="folder not found"):
        FaissStore.load(tmp_path / "nothing")


def test_crash_between_renames_recovers_old_store(tmp_path: Path) -> None:
    store, _v = filled(n=10)
    folder = store.save(tmp_path / "s")
    os.rename(folder, tmp_path / ".s.old")  # the state right after the first rename
    (tmp_path / ".s.tmp").mkdir()
    assert len(FaissStore.load(folder)) == 10
    store.add(vecs(1), ["more"], ids=["more"])
    store.save(folder)
    assert len(FaissStore.load(folder)) == 11
    assert not (tmp_path / ".s.old").exists() and not (tmp_path / ".s.tmp").exists()


SAVER = """
import sys, numpy as np
from deposium_rag.store import FaissStore
s = FaissStore(64)
n = 60000
s.add(np.random.default_rng(0).normal(size=(n, 64)).astype('float32'), ['t' * 200] * n,
      [{'k': i} for i in range(n)], [str(i) for i in range(n)])
print('ready', flush=True)
while True:
    s.save(sys.argv[1])
"""


def test_kill_during_save_keeps_a_loadable_store(tmp_path: Path) -> None:
    folder = tmp_path / "store"
    old, _ = filled(n=10)
    old.save(folder)
    proc = subprocess.Popen([sys.executable, "-c", SAVER, str(folder)], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
        deadline = time.time() + 60
        while not (tmp_path / ".store.tmp").exists() and time.time() < deadline:
            time.sleep(0.005)
        time.sleep(0.05)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    loaded = FaissStore.load(folder)
    assert len(loaded) in (10, 60000)


# -- threads ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("kind", KINDS)
def test_concurrent_writers_and_readers_never_mismatch(kind: str) -> None:
    """8 writers upsert/delete while 8 readers search; every hit must be self-consistent."""
    dim = 16
    store = FaissStore(dim, index=kind)
    mismatches: list[str] = []
    errors: list[BaseException] = []
    stop = threading.Event()

    def writer(w: int) -> None:
        rng = np.random.default_rng(w)
        try:
            for r in range(40):
                ids = [f"w{w}-{j}" for j in rng.integers(0, 60, size=10)]
                ids = list(dict.fromkeys(ids))
                v = rng.normal(size=(len(ids), dim)).astype(np.float32)
                store.add(v, [f"text:{i}" for i in ids], [{"id": i} for i in ids], ids)
                if r % 3 == 0:
                    store.delete(ids[:3])
        except BaseException as exc:
            errors.append(exc)

    def reader(r: int) -> None:
        rng = np.random.default_rng(100 + r)
        try:
            while not stop.is_set():
                filt = {"id": {"$exists": True}} if r % 2 else None
                for h in store.search(rng.normal(size=dim), k=10, filter=filt):
                    if h.text != f"text:{h.id}" or h.metadata.get("id") != h.id:
                        mismatches.append(h.id)
                for rec in store.get(store.ids()[:20]):
                    if rec.text != f"text:{rec.id}":
                        mismatches.append(rec.id)
        except BaseException as exc:
            errors.append(exc)

    writers = [threading.Thread(target=writer, args=(w,)) for w in range(8)]
    readers = [threading.Thread(target=reader, args=(r,)) for r in range(8)]
    for t in writers + readers:
        t.start()
    for t in writers:
        t.join()
    stop.set()
    for t in readers:
        t.join()
    assert errors == [] and mismatches == []
    # Final state: every id maps to its own vector (search by its vector finds itself).
    for rec in store.records()[:50]:
        assert store.search(rec.vector, k=1)[0].id == rec.id or kind == "hnsw"


@pytest.mark.parametrize("kind", KINDS)
def test_indexed_filters_follow_every_change(kind: str) -> None:
    """Equality filters use a cached inverted index; it must never serve stale rows."""
    store, v = filled(kind, n=300)
    q = v[0]
    assert {h.metadata["g"] for h in store.search(q, 50, {"g": 3})} == {3}
    assert len(store.search(q, 50, {"g": 3})) == 30
    store.add(v[5:6], ["moved"], [{"i": 5, "g": 3}], ["id5"])  # upsert into group 3
    assert len(store.search(q, 50, {"g": 3})) == 31
    store.delete(["id3", "id13"])
    assert len(store.search(q, 50, {"g": {"$in": [3]}})) == 29
    assert len(store.search(q, 50, {"$and": [{"g": 3}, {"i": {"$gt": 100}}]})) == 20
    assert store.search(q, 5, {"g": 3, "i": 5})[0].id == "id5"


def test_indexed_filter_keeps_bool_and_int_apart() -> None:
    store = FaissStore(4)
    store.add(vecs(3, 4), ["a", "b", "c"], [{"f": True}, {"f": 1}, {"f": 1.0}], ["a", "b", "c"])
    q = vecs(1, 4)[0]
    assert {h.id for h in store.search(q, 5, {"f": True})} == {"a"}
    assert {h.id for h in store.search(q, 5, {"f": 1})} == {"b", "c"}
    assert {h.id for h in store.search(q, 5, {"f": {"$in": [True, 1]}})} == {"a", "b", "c"}


def test_flat_search_with_tombstones_and_broad_filter_is_exact() -> None:
    store, v = filled("flat", n=1000)
    store.delete([f"id{i}" for i in range(0, 1000, 7)])  # tombstones below the compaction bar
    q = vecs(1, seed=3)[0]
    unit = v / np.linalg.norm(v, axis=1, keepdims=True)
    scores = unit @ (q / np.linalg.norm(q))
    live = [i for i in range(1000) if i % 7 and i % 2 == 0]
    want = [f"id{i}" for i in sorted(live, key=lambda i: -scores[i])[:10]]
    assert [h.id for h in store.search(q, 10, lambda md: md["i"] % 2 == 0)] == want


def test_one_thread_is_per_calling_thread_and_restored() -> None:
    """Single queries run on one OpenMP thread without touching other threads' setting."""
    import faiss

    from deposium_rag.store import one_thread

    before = faiss.omp_get_max_threads()
    faiss.omp_set_num_threads(2)
    try:
        inside: list[int] = []
        entered, release = threading.Event(), threading.Event()

        def worker() -> None:
            faiss.omp_set_num_threads(2)
            with one_thread():
                inside.append(faiss.omp_get_max_threads())
                entered.set()
                release.wait(5)
            inside.append(faiss.omp_get_max_threads())

        t = threading.Thread(target=worker)
        t.start()
        assert entered.wait(5)
        assert faiss.omp_get_max_threads() == 2  # this thread's batch work keeps its team
        release.set()
        t.join()
        assert inside == [1, 2]
        store, v = filled("flat")
        store.search(v[0], 3)
        assert faiss.omp_get_max_threads() == 2  # a search restores the caller's setting
    finally:
        faiss.omp_set_num_threads(before)


# -- compact vectors, the approximate index, segments ----------------------------------------------
def clustered(n: int, dim: int = 32, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    centre = rng.normal(size=dim)
    return (centre + 0.6 * rng.normal(size=(n, dim))).astype(np.float32)


@pytest.mark.parametrize("vectors", ["float32", "float16", "int8"])
@pytest.mark.parametrize("kind", ["flat", "auto"])
def test_compact_vectors_keep_recall_and_survive_a_save(tmp_path: Path, kind: str, vectors: str) -> None:
    data = clustered(3000)
    store = FaissStore(index=kind, vectors=vectors, exact_below=1024)
    store.add(
        data,
        [f"t{i}" for i in range(3000)],
        [{"g": i % 3} for i in range(3000)],
        [str(i) for i in range(3000)],
    )
    assert (store._ann is not None) == (kind == "auto")
    per_row = {"float32": 4 * 32, "float16": 2 * 32, "int8": 32 + 4}[vectors]
    assert store.memory_bytes()["vectors"] == 3000 * per_row
    unit = data / np.linalg.norm(data, axis=1, keepdims=True)
    queries = clustered(50, seed=1)
    recall = []
    for q in queries:
        exact = np.argsort(-(unit @ (q / np.linalg.norm(q))))[:10]
        got = [int(d) for d, _ in store.scores(q, 10)]
        recall.append(len(set(got) & {int(x) for x in exact}) / 10)
    assert np.mean(recall) >= 0.95
    hit = store.search(data[7], 1)[0]
    assert hit.id == "7" and hit.score == pytest.approx(1.0, abs=2e-2)
    assert all(h.metadata["g"] == 1 for h in store.search(queries[0], 20, {"g": 1}))
    store.save(tmp_path / "s")
    loaded = FaissStore.load(tmp_path / "s")
    assert loaded.vector_kind == vectors and loaded.index_kind == kind
    for q in queries[:10]:
        assert loaded.scores(q, 10) == store.scores(q, 10)


def test_unfiltered_approximate_search_skips_tombstones_and_keeps_recall() -> None:
    """The unfiltered path builds no allowed mask: deleted rows must still never come back."""
    data = clustered(3000)
    store = FaissStore(index="auto", exact_below=1024)
    store.add(data, [f"t{i}" for i in range(3000)], ids=[str(i) for i in range(3000)])
    unit = data / np.linalg.norm(data, axis=1, keepdims=True)
    queries = clustered(30, seed=2)
    gone = set()
    for q in queries[:10]:  # delete each query's current best few: below the compaction bar
        gone |= {d for d, _ in store.scores(q, 3)}
    store.delete(sorted(gone))
    assert store._ann is not None and len(store._ids) - len(store) == len(gone)
    alive = np.array([str(i) not in gone for i in range(3000)])
    recall = []
    for q in queries:
        got = [d for d, _ in store.scores(q, 10)]
        assert not gone & set(got) and len(got) == 10
        sims = np.where(alive, unit @ (q / np.linalg.norm(q)), -np.inf)
        exact = {str(i) for i in np.argsort(-sims)[:10]}
        recall.append(len(exact & set(got)) / 10)
        assert got == [d for d, _ in store.scores(q, 10, lambda md: True)]  # same as a mask of all
    assert np.mean(recall) >= 0.95


def test_certified_rerank_finds_the_exact_top_k_among_near_copies(monkeypatch: pytest.MonkeyPatch) -> None:
    """Hundreds of near-copies tie within the quantiser's error: a fixed first pool misses
    some of the exact top 10, the certainty test widens the pool until none can be missed."""
    rng = np.random.default_rng(3)
    dim = 64
    base = rng.normal(size=(3000, dim)).astype(np.float32)
    copies = (base[:8].repeat(150, axis=0) + 0.02 * rng.normal(size=(1200, dim))).astype(np.float32)
    data = np.concatenate([base, copies])
    unit = data / np.linalg.norm(data, axis=1, keepdims=True)
    queries = base[:8] + 0.3 * rng.normal(size=(8, dim)).astype(np.float32)

    def recall(store: FaissStore) -> float:
        found = []
        for q in queries:
            exact = {str(i) for i in np.argsort(-(unit @ (q / np.linalg.norm(q))))[:10]}
            found.append(len(exact & {d for d, _ in store.scores(q, 10)}) / 10)
        return float(np.mean(found))

    store = FaissStore(index="auto", exact_below=1024, rerank=20)
    store.add(data, [""] * len(data), ids=[str(i) for i in range(len(data))])
    assert recall(store) == 1.0
    monkeypatch.setattr("deposium_rag.store.CERTAINTY", -np.inf)  # stop at the first pool
    assert recall(store) < 0.9


def test_int8_keeps_each_rows_own_range() -> None:
    """A row with one large component and one with tiny values both come back close."""
    store = FaissStore(4, vectors="int8")
    rows = np.array([[1.0, 1e-3, 0, 0], [1e-4, 2e-4, -3e-4, 1e-4]], dtype=np.float32)
    store.add(rows, ["a", "b"], ids=["a", "b"])
    got = store.vectors(["a", "b"])
    for key, row in zip("ab", rows):
        assert float(got[key] @ (row / np.linalg.norm(row))) > 0.999


def test_segments_replay_adds_upserts_and_deletes(tmp_path: Path) -> None:
    data = clustered(2000)
    store = FaissStore(index="auto", exact_below=1024)
    store.add(data[:1500], [f"t{i}" for i in range(1500)], None, [str(i) for i in range(1500)])
    base = store.write_segment(tmp_path / "s0", full=True)
    store.mark_saved()
    assert base["full"] and base["count"] == 1500 and "ann.faiss" in base["files"]
    assert not store.has_changes()
    store.add(data[1500:], [f"t{i}" for i in range(1500, 2000)], None, [str(i) for i in range(1500, 2000)])
    store.add(-data[3:4], ["moved"], [{"new": 1}], ["3"])  # upsert
    store.delete(["4", "1600"])
    delta = store.write_segment(tmp_path / "s1", full=False)
    store.mark_saved()
    assert not delta["full"] and delta["count"] == 500 and delta["deleted"] == 3
    assert "ann.faiss" not in delta["files"]
    loaded = FaissStore(index="auto", exact_below=1024, dim=32)
    loaded.load_segments([(tmp_path / "s0", base["files"]), (tmp_path / "s1", delta["files"])])
    assert sorted(loaded.ids()) == sorted(store.ids()) and len(loaded) == 1998
    assert loaded.get(["3"])[0].text == "moved" and loaded.get(["3"])[0].metadata == {"new": 1}
    for q in clustered(20, seed=2):
        assert loaded.scores(q, 5) == store.scores(q, 5)


def test_auto_compaction_keeps_its_trained_quantiser() -> None:
    data = clustered(3000)
    store = FaissStore(index="auto", exact_below=1024)
    store.add(data, [f"t{i}" for i in range(3000)], None, [str(i) for i in range(3000)])
    centroids = faiss_centroids(store)
    store.delete([str(i) for i in range(0, 3000, 3)])  # a third dead: compacted
    assert len(store._ids) == 2000 and store._ann.ntotal == 2000
    assert np.array_equal(faiss_centroids(store), centroids)
    assert store.search(data[1], 1)[0].id == "1"


def faiss_centroids(store: FaissStore) -> np.ndarray:
    import faiss

    return faiss.vector_to_array(store._ann.pq.centroids)


@pytest.mark.parametrize("vectors", ["float32", "float16", "int8"])
def test_similarities_are_the_cosines_of_the_stored_vectors(vectors: str) -> None:
    rng = np.random.default_rng(5)
    v = rng.normal(size=(60, 16)).astype(np.float32)
    v /= np.linalg.norm(v, axis=1, keepdims=True)
    store = FaissStore(16, vectors=vectors)  # type: ignore[arg-type]
    store.add(v, [f"t{i}" for i in range(60)], ids=[f"id{i}" for i in range(60)])
    store.delete(["id3"])
    q = v[7]
    got = store.similarities(q, ["id9", "id3", "nope", "id7", "id59"])
    stored = store.vectors(["id9", "id7", "id59"])
    assert list(got) == ["id9", "id7", "id59"]  # order asked, unknown and deleted ids left out
    assert got == pytest.approx({d: float(x @ q) for d, x in stored.items()}, abs=1e-6)
    assert got["id7"] == pytest.approx(1.0, abs=0.02) and store.similarities(q, []) == {}


def test_strings_keep_a_mapped_base_and_save_the_same_bytes(tmp_path: Path) -> None:
    from deposium_rag._columns import Strings

    texts = [f"texte {i} é" * (i % 4) for i in range(30)]
    first = Strings()
    first.append([t.encode() for t in texts[:20]])
    saved = first.arrays()
    np.save(tmp_path / "t.npy", saved["texts.npy"])
    base = np.load(tmp_path / "t.npy", mmap_mode="r")
    second = Strings()
    second.append([t.encode() for t in texts[20:25]])
    s = Strings.concat([(base, saved["texts_ends.npy"]), tuple(second.arrays().values())])  # type: ignore[list-item]
    s.append([t.encode() for t in texts[25:]])
    assert s._base is base  # the mapped segment is read in place, never copied
    assert [s[i].decode() for i in range(30)] == texts
    for start in (0, 7, 20, 26, 30):
        got = s.arrays(start)
        ends = got["texts_ends.npy"]
        blob = got["texts.npy"].tobytes()
        assert [blob[a:b].decode() for a, b in zip([0, *ends[:-1]], ends)] == texts[start:]
    assert [s.take(np.array([29, 3]))[i].decode() for i in range(2)] == [texts[29], texts[3]]


def _mapped_rss_kb(path: Path) -> int:
    """Resident KB of this process's mappings of ``path`` (Linux /proc/self/smaps)."""
    total, inside = 0, False
    for line in Path("/proc/self/smaps").read_text().splitlines():
        head = line.split()
        if head and "-" in head[0] and len(head) >= 5 and all(c in "0123456789abcdef-" for c in head[0]):
            inside = len(head) >= 6 and head[-1] == str(path)
        elif inside and line.startswith("Rss:"):
            total += int(head[1])
    return total


@pytest.mark.skipif(not Path("/proc/self/smaps").exists(), reason="needs Linux /proc/self/smaps")
def test_a_loaded_store_reads_texts_without_mapping_them(tmp_path: Path) -> None:
    """Texts of the loaded base segment come through positional reads: fetching them leaves
    the file out of the resident set (a map would pull in whole page-cache folios)."""
    rng = np.random.default_rng(3)
    v = rng.normal(size=(3000, 8)).astype(np.float32)
    texts = [f"document {i} " + "é" * (i % 50) + "x" * 400 for i in range(3000)]
    store = FaissStore(8)
    store.add(v, texts, [{"i": i} for i in range(3000)], [f"d{i}" for i in range(3000)])
    store.save(tmp_path / "s")
    loaded = FaissStore.load(tmp_path / "s")
    assert loaded._texts._reader is not None
    got = [r.text for r in loaded.get([f"d{i}" for i in range(0, 3000, 7)])]
    assert got == texts[::7]
    assert loaded.search(v[11], k=3)[0].text == texts[11]
    seg = next(p for p in (tmp_path / "s").rglob("texts.npy"))
    assert _mapped_rss_kb(seg.resolve()) == 0
    # added rows and a compaction still read right; the saved folder is unchanged meanwhile
    loaded.add(v[:2], ["new one", "new two"], ids=["n1", "n2"])
    loaded.delete([f"d{i}" for i in range(1000)])
    assert [r.text for r in loaded.get(["n2", "d1500", "d5"])] == ["new two", texts[1500]]
    # threads read at once (positional reads share no file offset)
    want = {f"d{i}": texts[i] for i in range(1000, 3000)}
    errors: list[str] = []

    def read(part: int) -> None:
        for r in loaded.get([f"d{i}" for i in range(1000 + part, 3000, 4)]):
            if r.text != want[r.id]:
                errors.append(r.id)

    threads = [threading.Thread(target=read, args=(j,)) for j in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []


def test_a_truncated_text_file_is_a_store_format_error(tmp_path: Path) -> None:
    from deposium_rag._columns import FileBytes

    np.save(tmp_path / "t.npy", np.frombuffer(b"abcdefghij", dtype=np.uint8))
    reader = FileBytes.open(tmp_path / "t.npy")
    assert reader is not None and reader.read(2, 5) == b"cde"
    with pytest.raises(StoreFormatError, match="outside"):
        reader.read(8, 12)
    with open(tmp_path / "t.npy", "r+b") as f:  # cut behind the reader's back
        f.truncate(f.seek(0, 2) - 4)
    with pytest.raises(StoreFormatError, match="shorter"):
        reader.read(4, 10)
    np.save(tmp_path / "f.npy", np.zeros(4, dtype=np.float32))
    assert FileBytes.open(tmp_path / "f.npy") is None  # not a byte buffer: the map is used
