"""``eval`` shows progress bars on a terminal (stderr), like ``index``.

(``bench`` draws the same kind of bar over its four workloads; running it takes minutes here,
so it is not run in the tests.)"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pytest

from deposium_rag import cli

ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("DEPOSIUM_DATA", ROOT.parent / "shared" / "data"))


def as_tty(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make captured stderr look like a terminal, so progress bars are drawn (call in the test:
    capsys swaps sys.stderr only once the test body runs)."""
    monkeypatch.setattr(sys.stderr, "isatty", lambda: True, raising=False)


def test_seed_eval_shows_progress(monkeypatch, capsys: pytest.CaptureFixture[str]) -> None:
    as_tty(monkeypatch)
    assert cli.main(["eval", "--model", "bundled"]) == 0
    assert "seed eval" in capsys.readouterr().err
    assert cli.main(["eval", "--model", "bundled", "--quiet"]) == 0
    assert "seed eval" not in capsys.readouterr().err


@pytest.fixture
def small_data(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    if not (SHARED_DATA / "xquad-r").is_dir():
        pytest.skip("shared XQuAD data not present")
    for src in [*sorted((SHARED_DATA / "xquad-r").glob("*.json")), SHARED_DATA / "xquad" / "xquad.ro.json"]:
        data = json.loads(src.read_text(encoding="utf-8"))
        article = data["data"][0]
        small = {"data": [{**article, "paragraphs": article["paragraphs"][:2]}]}
        dest = tmp_path / "data" / src.parent.name / src.name
        dest.parent.mkdir(parents=True, exist_ok=True)
        dest.write_text(json.dumps(small, ensure_ascii=False), encoding="utf-8")
    monkeypatch.setenv("DEPOSIUM_DATA", str(tmp_path / "data"))


def test_xquad_eval_shows_progress(small_data, monkeypatch, capsys: pytest.CaptureFixture[str]) -> None:
    as_tty(monkeypatch)
    assert cli.main(["eval", "--suite", "xquad", "--model", "bundled", "--max-questions", "1"]) == 0
    assert "queries" in capsys.readouterr().err
