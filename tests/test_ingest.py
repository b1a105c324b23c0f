"""Incremental CLI ingestion: hashes, resolved paths, unreadable/unsupported files, prune, help."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from deposium_rag import cli
from deposium_rag.ingest import FILE_HASH_KEY, chunk_id, iter_files, read_chunks
from deposium_rag.models import MODEL_ENV_VAR


@pytest.fixture(autouse=True)
def _offline(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hf" / "hub"))
    monkeypatch.delenv(MODEL_ENV_VAR, raising=False)


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = cli.main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def docs(tmp_path: Path) -> Path:
    root = tmp_path / "docs"
    (root / "sub").mkdir(parents=True)
    (root / "bread.md").write_text("Bread is baked from flour, water, salt and yeast.")
    (root / "tower.txt").write_text("The Eiffel Tower stands on the Champ de Mars in Paris.")
    (root / "sub" / "qubits.md").write_text("Quantum computers store information in qubits.")
    (root / "sub" / "pain.txt").write_text("Le pain est fait de farine, d'eau, de sel et de levure.")
    return root


def manifest_count(store: Path) -> int:
    return json.loads((store / "manifest.json").read_text())["count"]


def test_unreadable_files_are_skipped_and_listed_together(docs: Path, tmp_path: Path, capsys) -> None:
    (docs / "latin1.txt").write_bytes("Le café est très bon".encode("latin-1"))
    (docs / "sub" / "binary.md").write_bytes(b"ab\x00cd")
    (docs / "sub" / "cp1252.txt").write_bytes("naïve résumé".encode("cp1252"))
    store = tmp_path / "store"
    code, out, err = run(capsys, "index", str(docs), "--store", str(store))
    assert code == 0, err
    assert "indexed 4 file(s) into 4 chunk(s): 4 new" in out
    lines = out.splitlines()
    at = lines.index("skipped 3 unreadable file(s) (--strict stops at the first):")
    listed = lines[at + 1 : at + 4]
    assert all(line.startswith("  - ") for line in listed)
    assert any("latin1.txt is not UTF-8" in x for x in listed)
    assert any("binary.md looks like a binary file" in x for x in listed)
    assert any("cp1252.txt is not UTF-8" in x for x in listed)
    assert manifest_count(store) == 4
    code, _, err = run(capsys, "index", str(docs), "--store", str(store), "--strict")
    assert code == 2 and ("is not UTF-8" in err or "binary" in err)


def test_unsupported_files_are_counted(docs: Path, tmp_path: Path, capsys) -> None:
    (docs / "a.pdf").write_bytes(b"%PDF")
    (docs / "sub" / "b.pdf").write_bytes(b"%PDF")
    (docs / "c.png").write_bytes(b"\x89PNG")
    (docs / "Makefile").write_text("all:")
    code, out, err = run(capsys, "index", str(docs), "--store", str(tmp_path / "s"))
    assert code == 0, err
    line = next(x for x in out.splitlines() if x.startswith("skipped 4 unsupported file(s) ("))
    kinds = line.removeprefix("skipped 4 unsupported file(s) (").removesuffix(")")
    assert set(kinds.split(", ")) == {".pdf 2", ".png 1", "(none) 1"}


def test_symlinks_and_dotdot_give_the_same_ids(docs: Path, tmp_path: Path, capsys) -> None:
    store = tmp_path / "store"
    assert run(capsys, "index", str(docs), "--store", str(store))[0] == 0
    link = tmp_path / "link"
    link.symlink_to(docs, target_is_directory=True)
    code, out, err = run(capsys, "index", str(link), "--store", str(store))
    assert code == 0, err
    assert "nothing to embed: 4 unchanged file(s)" in out and manifest_count(store) == 4
    dotted = docs / "sub" / ".." / "sub" / ".." / "bread.md"
    code, out, _ = run(capsys, "index", str(dotted), "--store", str(store))
    assert "1 unchanged" in out and manifest_count(store) == 4
    code, out, _ = run(capsys, "query", str(store), "bread flour yeast", "--json")
    top = json.loads(out)["results"][0]
    assert top["source"] == str((docs / "bread.md").resolve())
    assert top["id"] == chunk_id(str((docs / "bread.md").resolve()), None, 0)


def test_removed_files_are_reported_then_pruned(docs: Path, tmp_path: Path, capsys) -> None:
    store = tmp_path / "store"
    (docs / "long.md").write_text("\n\n".join(f"Paragraph {i} talks about rivers. " * 4 for i in range(4)))
    sizes = ("--chunk-size", "200", "--chunk-overlap", "0")
    assert run(capsys, "index", str(docs), "--store", str(store), *sizes)[0] == 0
    total = manifest_count(store)
    (docs / "long.md").unlink()
    (docs / "sub" / "qubits.md").unlink()
    code, out, _ = run(capsys, "index", str(docs), "--store", str(store), *sizes)
    assert code == 0
    assert "2 file(s) indexed before are gone" in out and "--prune removes them" in out
    assert "long.md" in out and "qubits.md" in out
    assert manifest_count(store) == total  # kept without --prune
    code, out, _ = run(capsys, "index", str(docs), "--store", str(store), *sizes, "--prune")
    assert code == 0 and "pruned 2 file(s) no longer found" in out
    assert manifest_count(store) == 3
    # a file indexed from another folder is not "removed" by indexing this one
    other = tmp_path / "other"
    other.mkdir()
    (other / "x.txt").write_text("Sourdough needs time.")
    assert run(capsys, "index", str(other), "--store", str(store))[0] == 0
    code, out, _ = run(capsys, "index", str(docs), "--store", str(store), *sizes, "--prune")
    assert "gone" not in out and "pruned" not in out and manifest_count(store) == 4


def test_an_empty_store_says_it_is_empty(docs: Path, tmp_path: Path, capsys) -> None:
    store = tmp_path / "store"
    only = tmp_path / "only"
    only.mkdir()
    (only / "a.txt").write_text("The only file here.")
    assert run(capsys, "index", str(only), "--store", str(store))[0] == 0
    (only / "a.txt").unlink()
    (only / "b.txt").write_text("   ")
    code, out, err = run(capsys, "index", str(only), "--store", str(store), "--prune")
    assert code == 0, err
    code, out, _ = run(capsys, "query", str(store), "anything")
    assert code == 0 and "is empty (0 chunks)" in out and "deposium-rag index" in out
    code, out, _ = run(capsys, "query", str(store), "anything", "--json")
    data = json.loads(out)
    assert data["results"] == [] and "is empty" in data["note"]


@pytest.mark.parametrize("command", ["index", "query", "demo", "eval", "bench"])
def test_every_subcommand_help_has_an_example(command: str, capsys) -> None:
    code, out, _ = run(capsys, command, "--help")
    assert code == 0
    assert "examples:" in out and f"deposium-rag {command}" in out.split("examples:")[1]


def test_per_file_api_for_distributed_pipelines(docs: Path) -> None:
    files = list(iter_files([docs]))
    assert [f.name for f in files] == ["bread.md", "tower.txt", "pain.txt", "qubits.md"]
    assert all(f.is_absolute() and f == f.resolve() for f in files)
    chunks = read_chunks(files[0], 1000, 100)
    assert len(chunks) == 1 and chunks[0].metadata["source"] == str(files[0])
    assert len(chunks[0].metadata[FILE_HASH_KEY]) == 64
    via_link = Path(os.path.relpath(files[0]))
    assert read_chunks(via_link)[0].id == chunks[0].id


def test_unchanged_run_loads_neither_model_nor_store(
    docs: Path, tmp_path: Path, capsys, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = tmp_path / "store"
    (docs / "package.json").write_text('{"name": "not a document"}')
    (docs / "latin1.txt").write_bytes("café".encode("latin-1"))
    assert run(capsys, "index", str(docs), "--store", str(store))[0] == 0
    (docs / "sub" / "qubits.md").unlink()

    def refuse(*args, **kwargs):
        raise AssertionError("the shortcut should not load the model or the store")

    monkeypatch.setattr(cli, "load_embedder", refuse)
    monkeypatch.setattr(cli, "load_router", refuse)
    code, out, err = run(capsys, "index", str(docs), "--store", str(store))
    assert code == 0, err
    assert "nothing to embed: 3 unchanged file(s)" in out
    assert "1 file(s) indexed before are gone (1 chunk(s) kept" in out
    assert "skipped 1 unreadable file(s)" in out and "latin1.txt is not UTF-8" in out
    assert "note: skipped" in err and "package.json" in err
    assert "  total          4       4" in out
    monkeypatch.undo()
    # --prune has work to do: the full path runs and removes the file's chunk
    code, out, _ = run(capsys, "index", str(docs), "--store", str(store), "--prune")
    assert code == 0 and "pruned 1 file(s)" in out and manifest_count(store) == 3


def test_the_cache_is_ignored_once_the_store_changed(docs: Path, tmp_path: Path, capsys) -> None:
    from deposium_rag.ingest.cache import CACHE_FILE
    from deposium_rag.models import StaticEmbedder
    from deposium_rag.retrievers import LanguageRouter

    store = tmp_path / "store"
    assert run(capsys, "index", str(docs), "--store", str(store))[0] == 0
    cache = json.loads((store / CACHE_FILE).read_text())
    # Another program deletes a chunk and saves: the manifest changes, the cache no longer applies.
    router = LanguageRouter.load(store, StaticEmbedder("bundled"))
    bread = str((docs / "bread.md").resolve())
    router.delete(router.ids({"source": bread}))
    router.save(store)
    (store / CACHE_FILE).write_text(json.dumps(cache))  # even a cache copied back is refused
    code, out, err = run(capsys, "index", str(docs), "--store", str(store))
    assert code == 0, err
    assert "indexed 1 file(s) into 1 chunk(s): 1 new" in out and manifest_count(store) == 4
    (store / CACHE_FILE).write_text("{not json")
    code, out, _ = run(capsys, "index", str(docs), "--store", str(store))
    assert code == 0 and "nothing to embed: 4 unchanged file(s)" in out


def test_the_shortcut_survives_indexing_another_folder(
    docs: Path, tmp_path: Path, capsys, monkeypatch: pytest.MonkeyPatch
) -> None:
    store, other = tmp_path / "store", tmp_path / "other"
    other.mkdir()
    (other / "x.txt").write_text("Sourdough needs time and a warm kitchen.")
    assert run(capsys, "index", str(docs), "--store", str(store))[0] == 0
    assert run(capsys, "index", str(other), "--store", str(store))[0] == 0  # saves: new manifest

    def refuse(*args, **kwargs):
        raise AssertionError("the shortcut should not load the model")

    monkeypatch.setattr(cli, "load_embedder", refuse)
    for folder, n in ((docs, 4), (other, 1)):
        code, out, err = run(capsys, "index", str(folder), "--store", str(store))
        assert code == 0, err
        assert f"nothing to embed: {n} unchanged file(s)" in out and "  total          5       5" in out


def test_read_chunks_skips_json_without_text_and_raises_on_unreadable(tmp_path: Path) -> None:
    from deposium_rag.ingest import UnreadableFileError

    (tmp_path / "package.json").write_text('{"name": "not a document"}')
    assert read_chunks(tmp_path / "package.json") == []
    with pytest.raises(UnreadableFileError, match="no record"):
        read_chunks(tmp_path / "package.json", explicit=True)
    (tmp_path / "latin1.txt").write_bytes("café".encode("latin-1"))
    with pytest.raises(UnreadableFileError, match="not UTF-8") as info:
        read_chunks(tmp_path / "latin1.txt")
    assert info.value.path == str(tmp_path / "latin1.txt")
