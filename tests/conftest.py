"""Shared fixtures: the bundled model, and a pre-filled Hugging Face cache (no network)."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import pytest

from deposium_rag.models import BUNDLED_MODEL, StaticEmbedder

# Remembered checksums (deposium_rag._digests) go to a private folder, never the user's cache;
# child processes (CLI tests) inherit it.
os.environ["DEPOSIUM_RAG_CACHE"] = tempfile.mkdtemp(prefix="deposium-test-digests-")

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data"
FAKE_REPO = "deposium-test/bundled-mini"
FAKE_COMMIT = "0123456789abcdef0123456789abcdef01234567"


@pytest.fixture(scope="session")
def embedder() -> StaticEmbedder:
    return StaticEmbedder("bundled")


def fill_hf_cache(cache: Path, repo_id: str = FAKE_REPO) -> Path:
    """Lay the bundled model out exactly as huggingface_hub caches a downloaded repo."""
    repo = cache / f"models--{repo_id.replace('/', '--')}"
    snap = repo / "snapshots" / FAKE_COMMIT
    snap.mkdir(parents=True)
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text(FAKE_COMMIT)
    for f in BUNDLED_MODEL.iterdir():
        if f.is_file():
            shutil.copy(f, snap / f.name)
    return snap


@pytest.fixture
def hf_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A temporary HF cache holding the bundled model as ``deposium-test/bundled-mini``, offline."""
    cache = tmp_path / "hf" / "hub"
    fill_hf_cache(cache)
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    monkeypatch.setenv("HF_HUB_CACHE", str(cache))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    return cache


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def milvus_server():
    """A real ``milvus-lite server`` on a free loopback port, one per session (a cluster's gRPC API)."""
    import shutil
    import socket
    import subprocess
    import sys
    import tempfile
    import time

    pytest.importorskip("pymilvus", reason="the milvus extra is not installed")
    # Not under pytest's basetemp: concurrent pytest runs prune old basetemps, data dir included.
    data = Path(tempfile.mkdtemp(prefix="deposium-milvus-server-"))
    port = _free_port()
    log = open(data / "server.log", "wb")  # noqa: SIM115 - closed at teardown
    proc = subprocess.Popen(
        [sys.executable, "-m", "milvus_lite", "server", "--data-dir", str(data / "db"), "--host", "127.0.0.1",
         "--port", str(port)],
        stdout=log,
        stderr=subprocess.STDOUT,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"milvus-lite server exited: {(data / 'server.log').read_text()[-2000:]}")
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise RuntimeError("milvus-lite server did not start within 60 s") from None
                time.sleep(0.2)
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()
        shutil.rmtree(data, ignore_errors=True)
