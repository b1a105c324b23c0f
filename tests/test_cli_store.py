"""``deposium-rag info`` and ``query`` reading many queries (``--interactive`` or stdin)."""

from __future__ import annotations

import io
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from deposium_rag import cli
from deposium_rag.models import MODEL_ENV_VAR

ROOT = Path(__file__).resolve().parents[1]
CORPUS = {
    "en/eiffel_tower.md": "eiffel_tower.en.md",
    "fr/pain.txt": "bread_baking.fr.txt",
    "de/quanten.md": "quantum_computing.de.md",
    "de/brot.md": "bread_baking.de.md",
}


@pytest.fixture
def store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> Path:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    monkeypatch.delenv(MODEL_ENV_VAR, raising=False)
    docs = tmp_path / "docs"
    for rel, sample in CORPUS.items():
        (docs / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(cli.SAMPLE_DOCS / sample, docs / rel)
    assert cli.main(["index", str(docs), "--store", str(tmp_path / "store"), "-q"]) == 0
    capsys.readouterr()
    return tmp_path / "store"


def test_info_prints_languages_counts_sizes_model_options(store: Path, capsys) -> None:
    assert cli.main(["info", str(store)]) == 0
    out = capsys.readouterr().out
    lines = out.splitlines()
    assert lines[0].startswith(f"store: {store.absolute()} (format 2, ") and " on disk)" in lines[0]
    assert lines[1] == "model: bundled (256 dims)"
    assert lines[2].startswith("documents: ") and "in 3 language(s)" in lines[2]
    assert "index=auto" in lines[3] and "vectors=float32" in lines[3] and "mode=hybrid" in lines[3]
    rows = {line.split()[0]: line.split()[1:] for line in lines[5:]}
    assert set(rows) == {"de", "en", "fr"} and rows["de"][1] == "1"
    assert cli.main(["info", str(store), "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["model_name"] == "bundled" and data["bytes"] > 0
    assert sum(p["count"] for p in data["partitions"].values()) == data["count"]


def test_info_on_a_missing_store(tmp_path: Path, capsys) -> None:
    assert cli.main(["info", str(tmp_path / "nothing")]) != 0
    assert "no store at" in capsys.readouterr().err


def test_query_reads_one_query_per_stdin_line(store: Path, capsys, monkeypatch) -> None:
    queries = "Wie funktioniert ein Quantencomputer?\n\nHow tall is the Eiffel Tower?\n"
    monkeypatch.setattr(sys, "stdin", io.StringIO(queries))
    assert cli.main(["query", str(store), "--json", "-k", "1"]) == 0
    out = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [o["query"] for o in out] == [
        "Wie funktioniert ein Quantencomputer?",
        "How tall is the Eiffel Tower?",
    ]
    assert [o["results"][0]["language"] for o in out] == ["de", "en"]


def test_query_interactive_in_a_real_process(store: Path) -> None:
    """Loads once and answers each line as it comes (the pipe stays open between queries)."""
    env = {**os.environ, "PYTHONPATH": str(ROOT), "HF_HUB_OFFLINE": "1"}
    env.pop(MODEL_ENV_VAR, None)
    proc = subprocess.Popen(
        [sys.executable, "-m", "deposium_rag.cli", "query", str(store), "--interactive", "-k", "1"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    assert proc.stdin is not None and proc.stdout is not None
    try:
        proc.stdin.write("Wie funktioniert ein Quantencomputer?\n")
        proc.stdin.flush()
        first = [proc.stdout.readline() for _ in range(4)]
        assert first[0].startswith("route: de") and " de " in first[2]
        proc.stdin.write("How tall is the Eiffel Tower?\n")
        proc.stdin.flush()
        second = [proc.stdout.readline() for _ in range(4)]
        assert second[0].startswith("route: en")
    finally:
        proc.stdin.close()
        assert proc.wait(30) == 0
