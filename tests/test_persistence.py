"""Router persistence: append-only segments, lazy loading, compaction, crash safety, format v1."""

from __future__ import annotations

import json
import os
import pickle
import signal
import subprocess
import sys
import time
from pathlib import Path

import faiss
import numpy as np
import pytest

from deposium_rag import StaticEmbedder, _atomic
from deposium_rag.errors import StoreFormatError
from deposium_rag.retrievers import LanguageRouter

DOCS = {
    "en1": "Quantum computers use qubits that can be in superposition of states.",
    "en2": "The Eiffel Tower was completed in 1889 and stands in Paris.",
    "en3": "Photosynthesis converts light energy into chemical energy in plants.",
    "de1": "Quantencomputer verwenden Qubits, die sich in Überlagerung befinden können.",
    "de2": "Der Eiffelturm wurde 1889 fertiggestellt und steht in Paris.",
    "fr1": "Les ordinateurs quantiques utilisent des qubits en superposition d'états.",
    "fr2": "La tour Eiffel a été achevée en 1889 et se trouve à Paris.",
}
QUERIES = ["qubits superposition", "Eiffelturm Paris", "tour Eiffel achevée", "light energy plants"]


@pytest.fixture
def router(embedder: StaticEmbedder) -> LanguageRouter:
    r = LanguageRouter(embedder)
    r.add(list(DOCS.values()), [{"n": i} for i in range(len(DOCS))], list(DOCS))
    return r


def answers(router: LanguageRouter) -> list:
    return [
        [(h.id, round(h.score, 5), h.text, h.metadata) for h in router.search(q, k=4, mode=m).hits]
        for q in QUERIES
        for m in ("dense", "lexical", "hybrid")
    ]


def segments(folder: Path) -> list[str]:
    return sorted(p.name for p in (folder / "segments").iterdir())


def test_incremental_save_writes_only_what_changed(router: LanguageRouter, embedder, tmp_path: Path) -> None:
    folder = router.save(tmp_path / "r")
    first = segments(folder)
    stamps = {p: p.stat().st_mtime_ns for p in (folder / "segments").rglob("*") if p.is_file()}
    router.add(["Qubits können verschränkt sein und Information teilen."], [{"n": 99}], ["de3"])
    router.delete(["en2"])
    router.save(folder)
    second = segments(folder)
    new = sorted(set(second) - set(first))
    assert set(first) <= set(second) and len(new) == 2  # one segment for de, one for en; fr untouched
    manifest = json.loads((folder / "manifest.json").read_text())
    chains = {lang: [s["name"] for s in p["segments"]] for lang, p in manifest["partitions"].items()}
    assert len(chains["fr"]) == 1 and len(chains["de"]) == 2 and len(chains["en"]) == 2
    de_delta = manifest["partitions"]["de"]["segments"][1]
    en_delta = manifest["partitions"]["en"]["segments"][1]
    assert (de_delta["count"], de_delta["deleted"]) == (1, 0) and (
        en_delta["count"],
        en_delta["deleted"],
    ) == (0, 1)
    for path, stamp in stamps.items():  # earlier segments are never rewritten
        assert path.stat().st_mtime_ns == stamp
    loaded = LanguageRouter.load(folder, embedder)
    assert loaded.counts() == router.counts() and answers(loaded) == answers(router)
    # a save with nothing changed writes nothing
    router.save(folder)
    assert segments(folder) == second


def test_upsert_and_language_move_survive_segments(router: LanguageRouter, embedder, tmp_path: Path) -> None:
    folder = router.save(tmp_path / "r")
    loaded = LanguageRouter.load(folder, embedder)
    loaded.add(["Der Eiffelturm ist 330 Meter hoch."], [{"n": 7}], ["de2"])  # upsert in place
    loaded.add(["Die Photosynthese wandelt Lichtenergie um."], [{"language": "de"}], ["en3"])  # moves
    loaded.save(folder)
    again = LanguageRouter.load(folder, embedder)
    assert again.counts() == loaded.counts() == {"de": 3, "en": 2, "fr": 2}
    assert {r.id: r.text for r in again.get(["de2", "en3"])} == {
        "de2": "Der Eiffelturm ist 330 Meter hoch.",
        "en3": "Die Photosynthese wandelt Lichtenergie um.",
    }
    assert answers(again) == answers(loaded)


def test_load_is_lazy_and_never_reanalyses(
    router: LanguageRouter, embedder, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = router.save(tmp_path / "r")
    from deposium_rag.lexical import Analyzer

    calls: list[str] = []
    real = Analyzer.tokens
    monkeypatch.setattr(Analyzer, "tokens", lambda self, text: calls.append(text) or real(self, text))
    loaded = LanguageRouter.load(folder, embedder)
    assert loaded.backend.loaded() == [] and loaded.counts() == router.counts()
    hits = loaded.search("Quantencomputer Qubits", k=2, language="de", mode="hybrid").hits
    assert hits[0].id == "de1"
    assert loaded.backend.loaded() == ["de"]  # only the routed partition was read
    assert set(calls) == {"Quantencomputer Qubits"}  # the query only: no stored text analysed again


def test_ids_are_found_before_and_after_the_first_write_of_a_loaded_router(
    router: LanguageRouter, embedder, tmp_path: Path
) -> None:
    """An open builds no id -> language map: partitions, loaded or not, are asked; the first
    write builds it, and moves, deletes and reads agree before and after."""
    folder = router.save(tmp_path / "r")
    loaded = LanguageRouter.load(folder, embedder)
    assert loaded.backend._language_of is None
    assert [loaded.language_of(d) for d in ("en1", "de2", "fr1", "nope")] == ["en", "de", "fr", None]
    assert [h.id for h in loaded.search("Eiffelturm Paris", k=1, language="de").hits] == ["de2"]
    assert loaded.backend.loaded() == ["de"] and loaded.language_of("fr2") == "fr"
    assert len(loaded.backend) == len(DOCS)
    loaded.add(["Der Eiffelturm steht in Paris."], [{"n": 99}], ["fr2"])  # fr2 moves to de
    assert loaded.language_of("fr2") == "de" and loaded.counts() == {"de": 3, "en": 3, "fr": 1}
    assert loaded.delete(["en3", "nope"]) == 1 and loaded.language_of("en3") is None
    assert [r.id for r in loaded.get(["fr2", "en1", "en3"])] == ["fr2", "en1"]


def test_loaded_vectors_are_memory_mapped_and_copied_on_write(
    router: LanguageRouter, embedder, tmp_path
) -> None:
    folder = router.save(tmp_path / "r")
    loaded = LanguageRouter.load(folder, embedder)
    store = loaded.backend.partition("en")
    base = store._vecs._base  # a plain ndarray view whose buffer is the file's map
    assert isinstance(base.base, np.memmap) and not base.flags.writeable
    vec_file = next(folder.glob("segments/en-*/vectors.npy"))
    before = vec_file.read_bytes()
    loaded.add(["Light travels fast."], [{"n": 50}], ["en9"])
    loaded.delete(["en1"])
    assert vec_file.read_bytes() == before  # the saved file is never written through the map
    assert len(loaded.backend.partition("en")) == 3


def test_compact_merges_segments(router: LanguageRouter, embedder, tmp_path: Path) -> None:
    folder = router.save(tmp_path / "r")
    for i in range(3):
        router.add([f"Energy of plants number {i} comes from light."], [{"n": 100 + i}], [f"extra{i}"])
        router.delete([f"extra{i - 1}"] if i else ["en1"])
        router.save(folder)
    manifest = json.loads((folder / "manifest.json").read_text())
    assert len(manifest["partitions"]["en"]["segments"]) == 4
    want = answers(router)
    router.backend.compact()
    manifest = json.loads((folder / "manifest.json").read_text())
    assert all(len(p["segments"]) == 1 for p in manifest["partitions"].values())
    assert len(segments(folder)) == len(manifest["partitions"])  # merged segments removed
    assert answers(LanguageRouter.load(folder, embedder)) == want


def test_saving_elsewhere_writes_a_full_copy(router: LanguageRouter, embedder, tmp_path: Path) -> None:
    router.save(tmp_path / "a")
    router.add(["More text about qubits and gates."], [{"n": 70}], ["en7"])
    router.save(tmp_path / "b")
    manifest = json.loads((tmp_path / "b" / "manifest.json").read_text())
    assert all(len(p["segments"]) == 1 for p in manifest["partitions"].values())
    assert LanguageRouter.load(tmp_path / "b", embedder).counts() == router.counts()
    assert LanguageRouter.load(tmp_path / "a", embedder).counts()["en"] == 3


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        (lambda f: _poke(next(f.glob("segments/de-*/vectors.npy"))), "checksum"),
        (lambda f: next(f.glob("segments/de-*/texts.npy")).unlink(), "missing"),
        (lambda f: _poke(next(f.glob("segments/de-*/lexical.doc_terms.npy"))), "checksum"),
    ],
)
def test_tampered_segment_gives_a_clear_error(router, embedder, tmp_path: Path, damage, message: str) -> None:
    folder = router.save(tmp_path / "r")
    damage(folder)
    loaded = LanguageRouter.load(folder, embedder)  # opening reads only manifest and ids
    with pytest.raises(StoreFormatError, match=message):
        loaded.search("Quantencomputer", k=2, language="de")
    assert loaded.language_of("de1") == "de" and loaded.counts() == router.counts()  # as before
    with pytest.raises(StoreFormatError, match=message):  # and again: nothing half-loaded kept
        loaded.search("Quantencomputer", k=2, language="de")


def test_an_id_in_two_partitions_is_refused_before_a_write(
    router: LanguageRouter, embedder, tmp_path: Path
) -> None:
    """Checksums match (rewritten), yet two listings hold one id: the first write names it and
    changes nothing."""
    folder = router.save(tmp_path / "r")
    manifest = json.loads((folder / "manifest.json").read_text())
    seg = manifest["partitions"]["de"]["segments"][0]
    listing = folder / "segments" / seg["name"] / "ids.json"
    listing.write_text(listing.read_text().replace('"de1"', '"en1"'))
    seg["files"]["ids.json"] = _atomic.sha256_file(listing)
    (folder / "manifest.json").write_text(json.dumps(manifest))
    loaded = LanguageRouter.load(folder, embedder)
    before = loaded.counts()
    with pytest.raises(StoreFormatError, match="'en1' appears in two partitions"):
        loaded.add(["A new English sentence about trains."], ids=["en9"])
    assert loaded.counts() == before and loaded.get(["en9"]) == []


@pytest.mark.parametrize("bad", [[1, "de2"], ["", "de2"], "de1"])
def test_a_listing_that_is_not_ids_is_refused_at_open(router, embedder, tmp_path: Path, bad) -> None:
    """Checksums match (rewritten), yet the listing holds a number, an empty id or no list."""
    folder = router.save(tmp_path / "r")
    manifest = json.loads((folder / "manifest.json").read_text())
    seg = manifest["partitions"]["de"]["segments"][0]
    listing = folder / "segments" / seg["name"] / "ids.json"
    listing.write_text(json.dumps({**json.loads(listing.read_text()), "ids": bad}))
    seg["files"]["ids.json"] = _atomic.sha256_file(listing)
    (folder / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(StoreFormatError, match="are not lists of ids"):
        LanguageRouter.load(folder, embedder)


def test_missing_segment_folder(router: LanguageRouter, embedder, tmp_path: Path) -> None:
    folder = router.save(tmp_path / "r")
    import shutil

    shutil.rmtree(next(folder.glob("segments/fr-*")))
    with pytest.raises(StoreFormatError, match="missing"):
        LanguageRouter.load(folder, embedder)


def _poke(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[-1] ^= 0xFF
    path.write_bytes(bytes(data))


def test_load_never_unpickles(router, embedder, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    folder = router.save(tmp_path / "r")
    router.add(["Plants need water and light."], [{"n": 60}], ["en6"])
    router.save(folder)

    def refuse(*a, **k):
        raise AssertionError("pickle used on load")

    monkeypatch.setattr(pickle, "load", refuse)
    monkeypatch.setattr(pickle, "loads", refuse)
    monkeypatch.setattr(pickle, "Unpickler", refuse)
    loaded = LanguageRouter.load(folder, embedder)
    assert answers(loaded) == answers(router)


# -- format version 1 ------------------------------------------------------------------------------
def _write_v1(router: LanguageRouter, folder: Path) -> None:
    """The version-1 layout, byte for byte what deposium-rag wrote before segments (0.1)."""
    folder.mkdir()
    partitions = {}
    for lang, count in router.counts().items():
        store = router.backend.partition(lang)
        records = store.records()
        sub = folder / "partitions" / lang
        sub.mkdir(parents=True)
        index = faiss.IndexFlatIP(store.dim)
        index.add(np.stack([r.vector for r in records]))
        (sub / "index.faiss").write_bytes(faiss.serialize_index(index).tobytes())
        docs = {"ids": [r.id for r in records], "texts": [r.text for r in records]}
        docs["metadatas"] = [r.metadata for r in records]
        _atomic.write_json(sub / "docstore.json", docs)
        files = {n: _atomic.sha256_file(sub / n) for n in ("index.faiss", "docstore.json")}
        _atomic.write_json(
            sub / "manifest.json",
            {
                "format": "deposium-rag/faiss-store",
                "format_version": 1,
                "model_name": store.model_name,
                "model_fingerprint": store.model_fingerprint,
                "dim": store.dim,
                "metric": "inner_product",
                "normalized": True,
                "index": "flat",
                "hnsw": {"m": 32, "ef_construction": 80, "ef_search": 64},
                "count": count,
                "files": files,
            },
        )
        partitions[lang] = {"count": count, "manifest_sha256": _atomic.sha256_file(sub / "manifest.json")}
    enc = router.encoder
    manifest = {
        "format": "deposium-rag/language-router",
        "format_version": 1,
        "model_name": enc.model_name,
        "model_fingerprint": enc.fingerprint,
        "dim": enc.dim,
        **{k: v for k, v in router._options().items() if k != "index"},
        "index": "flat",
        "count": sum(router.counts().values()),
        "partitions": partitions,
    }
    _atomic.write_json(folder / "manifest.json", manifest)


def test_version_1_folders_still_load_and_upgrade_on_save(router: LanguageRouter, embedder, tmp_path) -> None:
    folder = tmp_path / "v1"
    _write_v1(router, folder)
    loaded = LanguageRouter.load(folder, embedder)
    assert loaded.counts() == router.counts()
    assert [[h.id for h in r] for r in map(lambda q: loaded.search(q, k=3).hits, QUERIES)] == [
        [h.id for h in router.search(q, k=3).hits] for q in QUERIES
    ]
    loaded.save(folder)  # one command upgrades it in place
    assert json.loads((folder / "manifest.json").read_text())["format_version"] == 2
    assert LanguageRouter.load(folder, embedder).counts() == router.counts()


# -- kill -9 ---------------------------------------------------------------------------------------
WRITER = """
import sys
from deposium_rag import StaticEmbedder
from deposium_rag.retrievers import LanguageRouter
folder, action = sys.argv[1], sys.argv[2]
emb = StaticEmbedder("bundled")
router = LanguageRouter.load(folder, emb)
words = "quantum qubit light energy plant tower paris gate circuit photon".split()
texts = [" ".join(words[(i + j) % 10] for j in range(40)) + f" number {i}" for i in range(3000)]
router.add(texts, [{"language": "en", "batch": 0}] * 3000, [f"bulk{i}" for i in range(3000)])
router.save(folder)
print("ready", flush=True)
i = 0
while True:
    i += 1
    router.add(texts[:500], [{"language": "en", "batch": i}] * 500, [f"b{i}-{j}" for j in range(500)])
    router.delete([f"bulk{i}"])
    router.save(folder)
    if action == "compact":
        router.backend.compact()
"""


@pytest.mark.parametrize("action", ["save", "compact"])
def test_kill_during_incremental_save_or_compaction(router, embedder, tmp_path: Path, action: str) -> None:
    folder = router.save(tmp_path / "r")
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    for delay in (0.05, 0.4, 1.2):
        proc = subprocess.Popen(
            [sys.executable, "-c", WRITER, str(folder), action], stdout=subprocess.PIPE, text=True, env=env
        )
        try:
            assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
            deadline = time.time() + 30
            while not list(folder.glob("segments/.tmp-*")) and time.time() < deadline:
                time.sleep(0.002)
            time.sleep(delay)
        finally:
            proc.send_signal(signal.SIGKILL)
            proc.wait()
        loaded = LanguageRouter.load(folder, embedder)
        counts = loaded.counts()
        for lang in counts:  # every partition reads back whole, checksums included
            assert len(loaded.backend.partition(lang)) == counts[lang]
        assert counts["en"] == 3 or counts["en"] >= 3003  # a whole save, never part of one
        ids = loaded.ids()
        assert len(ids) == len(loaded) == sum(counts.values()) and len(loaded.get(ids)) == len(ids)
        assert loaded.search("quantum qubit light", k=3, language="en").hits
        router = loaded  # the next round starts from what survived


def test_tampered_delta_segment_is_refused_at_open(router: LanguageRouter, embedder, tmp_path: Path) -> None:
    folder = router.save(tmp_path / "r")
    router.add(["Quanten sind klein."], [{"n": 80}], ["de8"])
    router.save(folder)
    manifest = json.loads((folder / "manifest.json").read_text())
    delta = manifest["partitions"]["de"]["segments"][1]
    assert sorted(delta["files"]) == ["rows.npz"]  # a delta is one data-only file
    _poke(folder / "segments" / delta["name"] / "rows.npz")
    with pytest.raises(StoreFormatError, match="checksum"):
        LanguageRouter.load(folder, embedder)
