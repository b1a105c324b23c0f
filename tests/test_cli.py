"""The ``deposium-rag`` command line, run in-process (plus one subprocess run of ``--help``)."""

from __future__ import annotations

import hashlib
import itertools
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from deposium_rag import cli
from deposium_rag.ingest import files as ingest_files
from deposium_rag.models import BUNDLED_MODEL, DEFAULT_MODEL, MODEL_ENV_VAR

ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = ROOT.parent / "shared" / "data"
SAMPLES = cli.SAMPLE_DOCS
CORPUS = {
    "en/eiffel_tower.md": "eiffel_tower.en.md",
    "en/bread_baking.md": "bread_baking.en.md",
    "fr/pain.txt": "bread_baking.fr.txt",
    "fr/photosynthese.txt": "photosynthesis.fr.txt",
    "de/quanten.md": "quantum_computing.de.md",
    "de/brot.md": "bread_baking.de.md",
    "es/torre.txt": "eiffel_tower.es.txt",
}

Run = Callable[..., tuple[int, str, str]]


@pytest.fixture(autouse=True)
def _offline_empty_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """No hub, an empty HF cache and no model override: the default model is then ``bundled``."""
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hf" / "hub"))
    monkeypatch.delenv(MODEL_ENV_VAR, raising=False)


@pytest.fixture
def run(capsys: pytest.CaptureFixture[str]) -> Run:
    def _run(*argv: str) -> tuple[int, str, str]:
        code = cli.main(list(argv))
        out, err = capsys.readouterr()
        return code, out, err

    return _run


@pytest.fixture
def corpus(tmp_path: Path) -> Path:
    root = tmp_path / "docs"
    for rel, sample in CORPUS.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(SAMPLES / sample, root / rel)
    return root


@pytest.fixture
def store(tmp_path: Path, corpus: Path, run: Run) -> Path:
    path = tmp_path / "store"
    code, _, err = run("index", str(corpus), "--store", str(path))
    assert code == 0, err
    return path


def snapshot(folder: Path) -> dict[str, tuple[str, int]]:
    """Every file under ``folder`` (and its hidden save siblings) with its sha256 and mtime."""
    files = {}
    for path in sorted(folder.parent.glob(f"*{folder.name}*")):
        for f in [path] if path.is_file() else sorted(path.rglob("*")):
            if f.is_file():
                files[str(f.relative_to(folder.parent))] = (
                    hashlib.sha256(f.read_bytes()).hexdigest(),
                    f.stat().st_mtime_ns,
                )
    return files


def one_error_line(err: str) -> str:
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, err
    assert lines[0].startswith("error: "), err
    assert "Traceback" not in err
    return lines[0]


def query_json(run: Run, store: Path, text: str, *extra: str) -> dict:
    code, out, err = run("query", str(store), text, "--json", *extra)
    assert code == 0, err
    return json.loads(out)


# -- index and query ---------------------------------------------------------------------------------
def test_index_reports_model_and_languages(tmp_path: Path, corpus: Path, run: Run) -> None:
    code, out, err = run("index", str(corpus), "--store", str(tmp_path / "s"))
    assert code == 0, err
    assert "model: bundled" in out and "not in the local Hugging Face cache" in out
    assert "indexed 7 file(s) into 7 chunk(s): 7 new, 0 updated, 0 removed" in out
    rows = {line.split()[0]: line.split()[1:] for line in out.splitlines() if line.startswith("  ")}
    assert rows["en"] == ["2", "2"] and rows["fr"] == ["2", "2"] and rows["de"] == ["2", "2"]
    assert rows["es"] == ["1", "1"] and rows["total"] == ["7", "7"]
    assert (tmp_path / "s" / "manifest.json").is_file()


@pytest.mark.parametrize(
    ("text", "source", "language"),
    [
        ("How tall is the Eiffel Tower?", "en/eiffel_tower.md", "en"),
        ("Comment fait-on lever la pâte du pain ?", "fr/pain.txt", "fr"),
        ("Wie funktioniert ein Quantencomputer mit Qubits?", "de/quanten.md", "de"),
        ("¿Cuándo se construyó la torre Eiffel?", "es/torre.txt", "es"),
    ],
)
def test_query_finds_the_right_document_in_the_right_language(
    store: Path, corpus: Path, run: Run, text: str, source: str, language: str
) -> None:
    data = query_json(run, store, text, "-k", "3")
    assert data["route"]["languages"][0] == language
    top = data["results"][0]
    assert top["source"] == str((corpus / source).absolute())
    assert top["language"] == language
    assert {r["language"] for r in data["results"]} <= set(data["route"]["languages"])


def test_query_text_output(store: Path, run: Run) -> None:
    code, out, err = run("query", str(store), "Wie hoch ist der Eiffelturm?", "-k", "2", "--mode", "dense")
    assert code == 0, err
    lines = out.splitlines()
    assert lines[0].startswith("route: de (detected")
    assert lines[1].startswith("mode: dense (score = cosine")
    assert lines[2].startswith(" 1. ") and " de " in lines[2]
    assert len([line for line in lines if line[:3].strip().rstrip(".").isdigit()]) == 2


def test_query_json_shape_and_stable_ids(store: Path, corpus: Path, run: Run) -> None:
    data = query_json(run, store, "bread flour yeast", "-k", "2", "--mode", "dense")
    assert set(data) >= {"query", "model", "mode", "route", "results"}
    assert data["model"] == "bundled" and data["mode"] == "dense"
    assert set(data["route"]) == {"languages", "reason", "candidates"}
    assert data["route"]["reason"] == "detected"
    assert len(data["results"]) == 2
    for r in data["results"]:
        assert {"id", "score", "relevance", "language", "source", "text"} <= set(r)
        assert -1.0 <= r["score"] <= 1.0
        assert r["relevance"] == pytest.approx((1 + r["score"]) / 2, abs=1e-5)
    top = data["results"][0]
    source = str((corpus / "en/bread_baking.md").absolute())
    assert top["source"] == source and "flour" in top["text"]
    assert top["id"] == hashlib.sha1(f"{source}\n0".encode()).hexdigest()


def test_forced_language(store: Path, run: Run) -> None:
    data = query_json(run, store, "pain", "--language", "FR")
    assert data["route"]["languages"] == ["fr"] and data["route"]["reason"] == "forced"
    assert data["results"][0]["source"].endswith("pain.txt")


def test_index_twice_embeds_nothing_and_leaves_the_store_alone(
    store: Path, corpus: Path, run: Run, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = snapshot(store)
    from deposium_rag.retrievers.router import LanguageRouter

    def no_add(*args, **kwargs):
        raise AssertionError("an unchanged file was embedded")

    monkeypatch.setattr(LanguageRouter, "add", no_add)
    code, out, err = run("index", str(corpus), "--store", str(store))
    assert code == 0, err
    assert "model: bundled (dim 256; the model this store was built with)" in out
    assert "nothing to embed: 7 unchanged file(s)" in out
    assert snapshot(store) == before  # not even rewritten
    monkeypatch.undo()
    (corpus / "fr" / "pain.txt").write_text("Le pain se fait avec de la farine, de l'eau et du sel.")
    code, out, err = run("index", str(corpus), "--store", str(store))
    assert code == 0, err
    assert "indexed 1 file(s) into 1 chunk(s): 0 new, 1 updated, 0 removed; 6 unchanged" in out
    data = query_json(run, store, "farine eau sel", "--language", "fr")
    assert data["results"][0]["text"].startswith("Le pain se fait")


def test_changing_chunk_settings_re_embeds(store: Path, corpus: Path, run: Run) -> None:
    code, out, err = run("index", str(corpus), "--store", str(store), "--chunk-size", "300")
    assert code == 0, err
    assert "indexed 7 file(s)" in out and "0 unchanged" in out


def test_reindex_adds_new_files_and_drops_stale_chunks(tmp_path: Path, run: Run) -> None:
    docs, store = tmp_path / "notes", tmp_path / "s"
    docs.mkdir()
    long_doc = docs / "long.txt"
    long_doc.write_text(
        "\n\n".join(f"Paragraph {i} is about rivers, mountains and valleys. " * 3 for i in range(3))
    )
    (docs / "short.txt").write_text("Rivers flow into the sea.")
    sizes = ("--chunk-size", "200", "--chunk-overlap", "0")
    code, out, err = run("index", str(docs), "--store", str(store), *sizes)
    assert code == 0 and "2 file(s) into 4 chunk(s): 4 new" in out, err
    long_doc.write_text("Only one paragraph is left about rivers.")
    (docs / "extra.md").write_text("Sourdough needs patience and a warm kitchen.")
    code, out, err = run("index", str(docs), "--store", str(store), *sizes)
    assert code == 0, err
    assert "2 file(s) into 2 chunk(s): 1 new, 1 updated, 2 removed; 1 unchanged" in out
    assert json.loads((store / "manifest.json").read_text())["count"] == 3
    texts = [r["text"] for r in query_json(run, store, "rivers", "-k", "10")["results"]]
    assert not any("Paragraph" in t for t in texts)
    (docs / "short.txt").write_text("  \n")  # emptied: its chunk goes too
    code, out, err = run("index", str(docs), "--store", str(store), *sizes)
    assert code == 0 and "0 file(s) into 0 chunk(s): 0 new, 0 updated, 1 removed; 2 unchanged" in out, err


def test_index_reads_html_json_jsonl_and_bom(tmp_path: Path, run: Run) -> None:
    docs = tmp_path / "mixed"
    docs.mkdir()
    (docs / "page.html").write_text(
        "<html><head><title>Bread</title><style>p{color:red}</style></head><body>"
        "<p>Sourdough &amp; yeast make the dough rise.</p><script>var x = 1;</script></body></html>"
    )
    (docs / "notes.jsonl").write_text(
        '{"text": "Qubits are fragile and need error correction."}\n\n{"title": "no text"}\n'
        '{"text": "The Eiffel Tower is repainted every seven years."}\n'
    )
    (docs / "one.json").write_text(json.dumps([{"text": "Photosynthesis releases oxygen."}]))
    (docs / "package.json").write_text('{"name": "not a document"}')
    (docs / "bom.txt").write_bytes(b"\xef\xbb\xbfChlorophyll absorbs red and blue light.")
    (docs / "utf16.md").write_bytes("Gluten traps carbon dioxide.".encode("utf-16"))
    (docs / "image.png").write_bytes(b"\x89PNG")
    (docs / ".hidden.txt").write_text("never indexed")
    store = tmp_path / "s"
    code, out, err = run("index", str(docs), "--store", str(store), "--quiet")
    assert code == 0, err
    assert "indexed 5 file(s) into 6 chunk(s)" in out
    assert err == ""  # --quiet: no notes, no progress
    manifest = json.loads((store / "manifest.json").read_text())
    router = cli.load_router(store, cli.load_embedder("bundled"), manifest)
    stored = {}
    for lang in router.counts():
        part = router.partition(lang)
        assert part is not None
        stored.update({r.text: r.metadata for r in part.records()})
    assert set(stored) == {
        "Bread\n\nSourdough & yeast make the dough rise.",
        "Qubits are fragile and need error correction.",
        "The Eiffel Tower is repainted every seven years.",
        "Photosynthesis releases oxygen.",
        "Chlorophyll absorbs red and blue light.",
        "Gluten traps carbon dioxide.",
    }
    note = stored["The Eiffel Tower is repainted every seven years."]
    assert note["source"] == str(docs / "notes.jsonl") and note["record"] == 2 and note["chunk_index"] == 0


def test_index_skips_the_store_folder_inside_the_input(tmp_path: Path, corpus: Path, run: Run) -> None:
    store = corpus / "index"
    assert run("index", str(corpus), "--store", str(store))[0] == 0
    code, out, _ = run("index", str(corpus), "--store", str(store))
    assert code == 0 and "7 unchanged file(s)" in out  # not its own docstore.json


# -- bad input: one error line, non-zero exit, store untouched ------------------------------------------
def _other_model(tmp_path: Path, kind: str) -> Path:
    """A real Model2Vec folder with other weights: 64 dims, or 256 dims scaled."""
    from model2vec import StaticModel

    base = StaticModel.from_pretrained(BUNDLED_MODEL)
    vectors = base.embedding.astype(np.float32)
    vectors = vectors[:, :64] if kind == "dim" else vectors * np.linspace(0.5, 1.5, vectors.shape[1])
    folder = tmp_path / f"model-{kind}"
    StaticModel(vectors=vectors, tokenizer=base.tokenizer, config=base.config).save_pretrained(str(folder))
    return folder


def _deny_read(monkeypatch: pytest.MonkeyPatch, target: Path) -> None:
    """chmod 000, and (root ignores modes) make the one read function refuse that file."""
    target.chmod(0)
    real = ingest_files._raw_read

    def read(path: Path) -> bytes:
        if path.resolve() == target.resolve():
            raise PermissionError(13, "Permission denied", str(path))
        return real(path)

    monkeypatch.setattr(ingest_files, "_raw_read", read)


BAD_INPUTS = {
    "missing path": (lambda t, c, s, m: ["index", str(t / "nope"), "--store", str(s)], "path not found"),
    "empty folder": (
        lambda t, c, s, m: [(t / "empty").mkdir(), "index", str(t / "empty"), "--store", str(s)][1:],
        "no supported files in",
    ),
    "unreadable file": (
        lambda t, c, s, m: [
            _deny_read(m, c / "fr" / "pain.txt"),
            "index",
            str(c),
            "--store",
            str(s),
            "--strict",
        ][1:],
        "pain.txt: permission denied",
    ),
    "not utf-8": (
        lambda t, c, s, m: [
            (c / "fr" / "latin1.txt").write_bytes("Le pain, c'est très bon".encode("latin-1")),
            "index",
            str(c),
            "--store",
            str(s),
            "--strict",
        ][1:],
        "latin1.txt is not UTF-8 text (byte 0xe8 at offset 17); convert it first, e.g. `iconv",
    ),
    "binary file": (
        lambda t, c, s, m: [
            (c / "bin.txt").write_bytes(b"ab\x00cd"),
            "index",
            str(c),
            "--store",
            str(s),
            "--strict",
        ][1:],
        "bin.txt looks like a binary file",
    ),
    "unsupported file": (
        lambda t, c, s, m: [(t / "a.pdf").write_bytes(b"%PDF"), "index", str(t / "a.pdf"), "--store", str(s)][
            1:
        ],
        "unsupported file type '.pdf'",
    ),
    "bad json given explicitly": (
        lambda t, c, s, m: [
            (t / "x.jsonl").write_text('{"text": 1\n'),
            "index",
            str(t / "x.jsonl"),
            "--store",
            str(s),
            "--strict",
        ][1:],
        "x.jsonl:1: not valid JSON",
    ),
    "store from a model of another dimension": (
        lambda t, c, s, m: ["index", str(c), "--store", str(s), "--model", str(_other_model(t, "dim"))],
        "was built with model 'bundled', not '",
    ),
    "store from a model with other weights": (
        lambda t, c, s, m: ["index", str(c), "--store", str(s), "--model", str(_other_model(t, "weights"))],
        "drop --model to use the store's own model",
    ),
    "unknown model": (
        lambda t, c, s, m: ["index", str(c), "--store", str(s), "--model", str(t / "no-model")],
        "model folder not found",
    ),
    "bad overlap": (
        lambda t, c, s, m: [
            "index",
            str(c),
            "--store",
            str(s),
            "--chunk-size",
            "50",
            "--chunk-overlap",
            "50",
        ],
        "--chunk-overlap must be >= 0 and < --chunk-size",
    ),
    "missing store folder": (lambda t, c, s, m: ["query", str(t / "nowhere"), "bread"], "no store at"),
    "empty query": (lambda t, c, s, m: ["query", str(s), "   "], "the query is empty"),
    "unknown language": (
        lambda t, c, s, m: ["query", str(s), "bread", "--language", "xx"],
        "unknown language",
    ),
    "bad k": (lambda t, c, s, m: ["query", str(s), "bread", "-k", "0"], "-k must be >= 1"),
    "missing argument": (lambda t, c, s, m: ["query", str(s)], "required: text"),
}


@pytest.mark.parametrize("case", list(BAD_INPUTS))
def test_bad_input_is_one_error_line_and_leaves_the_store_alone(
    case: str, tmp_path: Path, corpus: Path, store: Path, run: Run, monkeypatch: pytest.MonkeyPatch
) -> None:
    make_argv, expected = BAD_INPUTS[case]
    before = snapshot(store)
    argv = make_argv(tmp_path, corpus, store, monkeypatch)
    code, _, err = run(*argv)
    assert code == 2
    assert expected in one_error_line(err)
    assert snapshot(store) == before


def test_a_foreign_folder_is_never_overwritten(tmp_path: Path, corpus: Path, run: Run) -> None:
    folder = tmp_path / "my-notes"
    folder.mkdir()
    (folder / "important.txt").write_text("keep me")
    before = snapshot(folder)
    code, _, err = run("index", str(corpus), "--store", str(folder))
    assert code == 2 and "holds no deposium-rag store" in one_error_line(err)
    assert snapshot(folder) == before


def test_query_a_store_whose_model_is_gone(tmp_path: Path, corpus: Path, run: Run) -> None:
    model = _other_model(tmp_path, "dim")
    store = tmp_path / "s"
    assert run("index", str(corpus), "--store", str(store), "--model", str(model))[0] == 0
    assert query_json(run, store, "bread")["model"] == str(model.resolve())
    shutil.rmtree(model)
    code, _, err = run("query", str(store), "bread")
    line = one_error_line(err)
    assert code == 2 and f"this store was built with model '{model.resolve()}'" in line


def test_unexpected_errors_are_one_line_unless_debug(
    store: Path, run: Run, monkeypatch: pytest.MonkeyPatch
) -> None:
    def boom(*args: object, **kwargs: object) -> None:
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(cli, "_search", boom)
    code, _, err = run("query", str(store), "bread")
    assert code == 1 and "unexpected RuntimeError: disk on fire" in one_error_line(err)
    with pytest.raises(RuntimeError):
        cli.main(["query", str(store), "bread", "--debug"])


# -- chunking and reading ---------------------------------------------------------------------------------
def test_chunks_keep_paragraphs_whole_and_overlap() -> None:
    paragraphs = [f"Paragraph {i}. " + "word " * 30 for i in range(6)]
    chunks = cli.chunk_text("\n\n".join(paragraphs), size=400, overlap=40)
    assert all(len(c) <= 400 for c in chunks)
    assert len(chunks) > 1
    for p in paragraphs:
        assert any(p.strip() in c for c in chunks)  # never cut: each fits
    for prev, nxt in itertools.pairwise(chunks):
        assert nxt.split("\n\n")[0] in prev  # starts with the previous chunk's tail


def test_a_long_paragraph_is_cut_at_sentences_and_cjk_hard() -> None:
    text = " ".join(f"Sentence number {i} ends here." for i in range(40))
    chunks = cli.chunk_text(text, size=100, overlap=0)
    assert all(len(c) <= 100 for c in chunks)
    assert all(c.endswith("here.") for c in chunks)
    assert " ".join(chunks) == text
    cjk = "量子计算机用量子比特存储信息" * 20
    pieces = cli.chunk_text(cjk, size=50, overlap=0)
    assert all(len(p) <= 50 for p in pieces) and "".join(pieces) == cjk


def test_chunk_arguments_are_checked() -> None:
    assert cli.chunk_text("") == [] and cli.chunk_text("\n\n  \n") == []
    with pytest.raises(ValueError):
        cli.chunk_text("x", size=0)
    with pytest.raises(ValueError):
        cli.chunk_text("x", size=10, overlap=10)


def test_html_to_text() -> None:
    html = "<div>a&nbsp;b</div><script>x()</script><ul><li>one</li><li>two</li></ul><p>c &lt; d</p>"
    assert cli.html_to_text(html) == "a b\n\none\n\ntwo\n\nc < d"  # nbsp is whitespace too


# -- default model, demo, eval, help ---------------------------------------------------------------------
def test_default_model_is_used_when_cached(tmp_path: Path, run: Run, monkeypatch: pytest.MonkeyPatch) -> None:
    from conftest import fill_hf_cache

    cache = tmp_path / "cache" / "hub"
    fill_hf_cache(cache, DEFAULT_MODEL)
    monkeypatch.setenv("HF_HUB_CACHE", str(cache))
    assert cli.default_model()[0] == DEFAULT_MODEL
    code, out, _ = run("eval", "--suite", "seed")
    assert code == 0 and f"model {DEFAULT_MODEL}" in out
    monkeypatch.setenv(MODEL_ENV_VAR, "bundled")
    assert cli.default_model() == ("bundled", f"from ${MODEL_ENV_VAR}")


def test_demo(run: Run) -> None:
    code, out, err = run("demo")
    assert code == 0, err
    assert out.startswith("deposium-rag demo: 20 sample documents")
    assert "model: bundled" in out
    blocks = {b.splitlines()[0]: b for b in out.split("\n> ")[1:]}
    quantum = blocks["Explain quantum computing"]
    assert "route: en" in quantum and "quantum_computing.en.md" in quantum.splitlines()[2]
    for query, lang in [
        ("Wie hoch ist der Eiffelturm?", "de"),
        ("¿Por qué sube la masa del pan?", "es"),
        ("什么是量子比特？", "zh"),
        ("Что такое кубит?", "ru"),
    ]:
        assert f"route: {lang} (detected; candidates {lang}" in blocks[query]
    assert "route: fr (forced)" in blocks["pain  [--language fr]"]
    assert "bread_baking.fr.txt" in blocks["pain  [--language fr]"].splitlines()[2]


def test_eval_seed_prints_the_six_dimensions(run: Run) -> None:
    code, out, err = run("eval", "--suite", "seed", "--model", "bundled")
    assert code == 0, err
    for name in (
        "Instruction-Awareness",
        "Code Understanding",
        "Conversational Understanding",
        "Semantic Similarity",
        "Topic Clustering",
        "Multilingual Alignment",
        "Overall Quality",
    ):
        assert f"| {name}" in out
    assert "94.96%" in out  # the card's figure, beside ours


@pytest.mark.skipif(not (SHARED_DATA / "xquad-r").is_dir(), reason="shared XQuAD data not present")
def test_eval_xquad_runs_on_a_small_subset(tmp_path: Path, run: Run, monkeypatch: pytest.MonkeyPatch) -> None:
    """The real benchmark, on the first 3 paragraphs of each language (the full run takes minutes)."""
    for src in [*sorted((SHARED_DATA / "xquad-r").glob("*.json")), SHARED_DATA / "xquad" / "xquad.ro.json"]:
        data = json.loads(src.read_text(encoding="utf-8"))
        article = data["data"][0]
        small = {"data": [{**article, "paragraphs": article["paragraphs"][:3]}]}
        dest = tmp_path / "data" / src.parent.name / src.name
        dest.parent.mkdir(parents=True, exist_ok=True)
        dest.write_text(json.dumps(small, ensure_ascii=False), encoding="utf-8")
    monkeypatch.setenv("DEPOSIUM_DATA", str(tmp_path / "data"))
    modules, path = set(sys.modules), list(sys.path)
    code, out, err = run("eval", "--suite", "xquad", "--model", "bundled", "--max-questions", "2")
    assert code == 0, err
    assert "36 paragraphs, 24 questions, 12 languages" in out
    assert "| detected |" in out and "routing accuracy on questions" in out
    assert sys.path == path and not {"_data", "_metrics"} & (set(sys.modules) - modules)


def test_eval_xquad_outside_a_clone(tmp_path: Path, run: Run, monkeypatch: pytest.MonkeyPatch) -> None:
    code, _, err = run("eval", "--suite", "xquad", "--model", str(tmp_path / "no-model"))
    assert code == 2 and "model folder not found" in one_error_line(err)
    monkeypatch.setattr(cli, "BENCHMARKS", tmp_path / "site-packages" / "benchmarks")
    code, _, err = run("eval", "--suite", "xquad")
    assert code == 2 and "ships with the deposium-rag repository" in one_error_line(err)


def test_usage_errors_and_help(run: Run) -> None:
    code, _, err = run()
    assert code == 2 and "required: COMMAND" in one_error_line(err)
    code, _, err = run("frobnicate")
    assert code == 2 and "invalid choice" in one_error_line(err)
    code, out, _ = run("query", "--help")
    assert code == 0 and "--language" in out and "--json" in out


def test_console_script_help() -> None:
    script = Path(sys.executable).with_name("deposium-rag")
    argv = [str(script)] if script.is_file() else [sys.executable, "-m", "deposium_rag.cli"]
    proc = subprocess.run(
        [*argv, "--help"],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "HF_HUB_OFFLINE": "1"},
    )
    assert proc.returncode == 0, proc.stderr
    for command in ("index", "query", "demo", "eval", "bench"):
        assert command in proc.stdout
