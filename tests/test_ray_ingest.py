"""Ray Data ingestion into a milvus-lite server equals a single-process ingest of the same files."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

pytest.importorskip("ray.data", reason="the ray extra is not installed")
pytest.importorskip("pymilvus", reason="the milvus extra is not installed")

import ray

from deposium_rag import StaticEmbedder
from deposium_rag.backends import MilvusBackend
from deposium_rag.ingest.ray import _reader, ingest_folder_ray
from deposium_rag.models import BUNDLED_MODEL
from deposium_rag.retrievers import LanguageRouter

SAMPLES = BUNDLED_MODEL.parent / "sample_docs"
QUERIES = ["How is bread baked?", "Wie funktioniert Photosynthese?", "tour Eiffel", "量子计算", "qubits"]


@pytest.fixture(scope="module")
def ray_cluster():
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield
    ray.shutdown()


def _single_process(folder: Path, uri: str, collection: str) -> LanguageRouter:
    list_files, read = _reader()
    router = LanguageRouter(StaticEmbedder("bundled"), backend=MilvusBackend(uri, collection))
    for f in list_files([str(folder)]):
        rows = read(f, 300, 30)
        router.add([t for _, t, _ in rows], [m for _, _, m in rows], [i for i, _, _ in rows])
    return router


def test_ray_ingest_equals_single_process(ray_cluster, milvus_server: str, tmp_path: Path) -> None:
    folder = tmp_path / "docs"
    shutil.copytree(SAMPLES, folder)
    summary = ingest_folder_ray(
        folder, milvus_server, "ray_docs", chunk_size=300, chunk_overlap=30, batch_size=16
    )
    assert ray.is_initialized()  # a running Ray is left running
    reference = _single_process(folder, milvus_server, "ref_docs")
    assert summary["files"] == 20 and summary["chunks"] == len(reference) > 20
    assert summary["languages"] == reference.counts() and {"en", "de", "fr", "zh"} <= set(
        summary["languages"]
    )

    got = LanguageRouter.load(MilvusBackend(milvus_server, "ray_docs"), StaticEmbedder("bundled"))
    ids = sorted(reference.ids())
    assert sorted(got.ids()) == ids
    want = {r.id: (reference.language_of(r.id), r.text, r.metadata) for r in reference.get(ids)}
    have = {r.id: (got.language_of(r.id), r.text, r.metadata) for r in got.get(ids)}
    assert have == want
    for q in QUERIES:
        a, b = got.search(q, 5, mode="dense"), reference.search(q, 5, mode="dense")
        assert [(h.id, round(h.score, 5)) for h in a.hits] == [(h.id, round(h.score, 5)) for h in b.hits]
        # milvus-lite keeps BM25 statistics per segment, and segments depend on write batches and
        # background compaction: BM25 values differ slightly between two ingests, rankings do not.
        for mode in ("lexical", "hybrid"):
            a, b = got.search(q, 5, mode=mode), reference.search(q, 5, mode=mode)
            assert [h.id for h in a.hits] == [h.id for h in b.hits], (q, mode)


def test_embedded_uri_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="needs a Milvus server URI.*milvus-lite server"):
        ingest_folder_ray(SAMPLES, str(tmp_path / "m.db"))


def test_missing_ray_names_the_extra(tmp_path: Path) -> None:
    import subprocess
    import sys

    code = (
        "import sys; sys.modules['ray'] = None\n"
        "from deposium_rag.ingest.ray import ingest_folder_ray\n"
        "from deposium_rag.errors import MissingExtraError\n"
        "try:\n"
        "    ingest_folder_ray('.', 'http://127.0.0.1:1')\n"
        "except MissingExtraError as e:\n"
        "    print(e)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert 'pip install "deposium-rag[ray]"' in out.stdout


def test_cli_index_ray(ray_cluster, milvus_server: str, tmp_path: Path, capsys) -> None:
    from deposium_rag.cli import main

    folder = tmp_path / "docs"
    shutil.copytree(SAMPLES, folder)
    args = ["--ray", "--milvus-uri", milvus_server, "--collection", "cli_docs", "--model", "bundled"]
    code = main(["index", *args, str(folder)])
    out = capsys.readouterr().out
    assert code == 0 and "indexed 20 file(s)" in out and "collection cli_docs" in out
    router = LanguageRouter.load(MilvusBackend(milvus_server, "cli_docs"), StaticEmbedder("bundled"))
    assert router.search("Wie wird Brot gebacken?", 1).languages == ["de"]
    assert main(["index", "--milvus-uri", milvus_server, str(folder)]) == 2
    assert "--ray and --milvus-uri go together" in capsys.readouterr().err
    assert main(["index", str(folder)]) == 2 and "--store DIR is required" in capsys.readouterr().err
