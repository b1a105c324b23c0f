"""Shared fixtures: the bundled model, and a pre-filled Hugging Face cache (no network)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from deposium_rag.models import BUNDLED_MODEL, StaticEmbedder

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
