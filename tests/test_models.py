"""The loader and the encoder: resolution rules, vector contract, bad input, threads."""

from __future__ import annotations

import os
import subprocess
import sys
import threading

import numpy as np
import pytest
from conftest import FAKE_REPO
from model2vec import StaticModel

from deposium_rag import BUNDLED_MODEL, MODEL_ENV_VAR, StaticEmbedder, resolve_model
from deposium_rag.errors import ModelNotAvailableError, ModelNotFoundError


# -- resolution ---------------------------------------------------------------------------------
def test_bundled_resolves_to_package_folder() -> None:
    r = resolve_model("bundled")
    assert r.path == BUNDLED_MODEL and r.name == "bundled" and r.source == "bundled"
    assert (BUNDLED_MODEL / "model.safetensors").is_file()


def test_local_folder_loads(tmp_path) -> None:
    import shutil

    local = tmp_path / "my-model"
    shutil.copytree(BUNDLED_MODEL, local)
    emb = StaticEmbedder(str(local))
    assert emb.resolved.source == "local" and emb.model_name == str(local.resolve())
    np.testing.assert_array_equal(
        emb.encode(["hello world"]), StaticEmbedder("bundled").encode(["hello world"])
    )


@pytest.mark.parametrize("bad", ["./no/such/folder", "/definitely/not/here", "~/nope-model-xyz"])
def test_missing_local_folder_says_folder_not_found(bad: str) -> None:
    with pytest.raises(ModelNotFoundError, match="folder not found"):
        resolve_model(bad)


def test_folder_without_model_files(tmp_path) -> None:
    with pytest.raises(ModelNotFoundError, match="holds no Model2Vec model"):
        resolve_model(tmp_path)


def test_hub_id_loads_from_prefilled_cache_offline(hf_cache) -> None:
    emb = StaticEmbedder(FAKE_REPO)
    assert emb.resolved.source == "hub" and emb.model_name == FAKE_REPO
    assert str(emb.resolved.path).startswith(str(hf_cache))
    np.testing.assert_array_equal(
        emb.encode(["offline hub load"]), StaticEmbedder("bundled").encode(["offline hub load"])
    )


def test_uncached_hub_id_offline_says_what_to_do(hf_cache) -> None:
    with pytest.raises(ModelNotAvailableError) as err:
        resolve_model("nobody/not-cached-model")
    msg = str(err.value)
    assert "not in the Hugging Face cache" in msg and "'bundled'" in msg
    assert "huggingface-cli download nobody/not-cached-model" in msg


def test_env_var_overrides_default(monkeypatch) -> None:
    monkeypatch.setenv(MODEL_ENV_VAR, "bundled")
    assert resolve_model(None).name == "bundled"
    monkeypatch.delenv(MODEL_ENV_VAR)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(ModelNotAvailableError, match="tss-deposium/qwen25-deposium-1024d"):
        resolve_model(None)


def test_hub_loading_in_fresh_process_with_env(tmp_path) -> None:
    """The env vars are read at call time, and also work when set before import."""
    from conftest import fill_hf_cache

    fill_hf_cache(tmp_path / "hub")
    env = {
        **os.environ,
        "HF_HUB_CACHE": str(tmp_path / "hub"),
        "HF_HUB_OFFLINE": "1",
        MODEL_ENV_VAR: FAKE_REPO,
    }
    code = "from deposium_rag import StaticEmbedder as S; e=S(); print(e.model_name, e.dim)"
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split()[0] == FAKE_REPO


# -- the vector contract -------------------------------------------------------------------------
def test_rows_are_float32_unit_length(embedder: StaticEmbedder) -> None:
    v = embedder.encode(["The cat sat on the mat.", "Quantum computing explained"])
    assert v.dtype == np.float32 and v.shape == (2, embedder.dim)
    np.testing.assert_allclose(np.linalg.norm(v, axis=1), 1.0, rtol=1e-5)


def test_empty_list_gives_empty_matrix(embedder: StaticEmbedder) -> None:
    v = embedder.encode([])
    assert v.shape == (0, embedder.dim) and v.dtype == np.float32


@pytest.mark.parametrize("text", ["", "   ", "\x00\x01\x02", "\U0001f600\U0001f680"])
def test_empty_or_unknown_text_is_zero_vector_never_nan(embedder: StaticEmbedder, text: str) -> None:
    v = embedder.encode([text, "real words here"])
    assert np.isfinite(v).all()
    if not embedder._tokenize([text])[0]:
        assert not v[0].any()


def test_empty_string_is_exactly_zero(embedder: StaticEmbedder) -> None:
    assert not embedder.encode([""]).any()


def test_matches_model2vec_for_short_texts(embedder: StaticEmbedder) -> None:
    texts = ["What is the capital of France?", "Der Hund bellt laut.", "short", "a b c d e f g"]
    ref = StaticModel.from_pretrained(BUNDLED_MODEL, normalize=True).encode(texts)
    np.testing.assert_allclose(embedder.encode(texts), ref, atol=1e-6)


def test_max_length_truncates_like_model2vec(embedder: StaticEmbedder) -> None:
    long = " ".join(["alpha beta gamma delta"] * 300) + " " + " ".join(["zebra"] * 500)
    ref = StaticModel.from_pretrained(BUNDLED_MODEL, normalize=True)
    ours = embedder.encode([long], max_length=64)
    np.testing.assert_allclose(ours, ref.encode([long], max_length=64), atol=1e-6)
    # The default (None) averages the whole text: the tail ("zebra") counts.
    whole = embedder.encode([long])
    assert not np.allclose(whole, ours, atol=1e-3)
    np.testing.assert_allclose(whole, ref.encode([long], max_length=None), atol=1e-6)


def test_prefix_cut_is_exact_with_long_whitespace(embedder: StaticEmbedder) -> None:
    text = "word " + " " * 50_000 + " ".join(["token"] * 200)
    got = embedder.encode([text], max_length=20)
    want = embedder.encode([" ".join(["word"] + ["token"] * 19)], max_length=None)
    np.testing.assert_allclose(got, want, atol=1e-6)


def test_one_megabyte_string(embedder: StaticEmbedder) -> None:
    text = ("retrieval augmented generation with static embeddings " * 20_000)[: 1 << 20]
    v = embedder.encode([text])
    assert v.shape == (1, embedder.dim) and np.isfinite(v).all()
    assert abs(float(np.linalg.norm(v)) - 1.0) < 1e-5


def test_lone_surrogate_is_read_as_replacement_char(embedder: StaticEmbedder) -> None:
    v = embedder.encode(["hello \ud800 world"])
    np.testing.assert_allclose(v, embedder.encode(["hello \ufffd world"]), atol=1e-7)


@pytest.mark.parametrize(
    ("bad", "match"),
    [
        (None, "got None"),
        (b"bytes", "single bytes"),
        ("a string", "single str"),
        (["ok", 3], r"texts\[1\] must be str, got int"),
        (["ok", None], r"texts\[1\] must be str, got NoneType"),
        (["ok", b"x"], r"texts\[1\] must be str, got bytes \(decode"),
        (42, "got int"),
    ],
)
def test_bad_inputs_raise_typeerror(embedder: StaticEmbedder, bad, match: str) -> None:
    with pytest.raises(TypeError, match=match):
        embedder.encode(bad)


def test_bad_settings_raise_valueerror() -> None:
    with pytest.raises(ValueError, match="max_length"):
        StaticEmbedder("bundled", max_length=0)
    with pytest.raises(ValueError, match="batch_size"):
        StaticEmbedder("bundled", batch_size=0)


def test_batching_does_not_change_vectors() -> None:
    texts = [f"document number {i} about topic {i % 7}" for i in range(50)]
    a = StaticEmbedder("bundled", batch_size=7).encode(texts)
    b = StaticEmbedder("bundled", batch_size=1000).encode(texts)
    np.testing.assert_array_equal(a, b)


def test_threads_with_mixed_max_length_match_single_thread(embedder: StaticEmbedder) -> None:
    """model2vec 0.10 flips a shared tokenizer's truncation per call; ours must not race."""
    rng = np.random.default_rng(0)
    words = "the of and to in a is that for it as was with be by on not he this".split(" ")
    texts = [" ".join(rng.choice(words, size=int(rng.integers(5, 400)))) for _ in range(100)]
    limits = [None, 8, 32, 128]
    expected = {m: embedder.encode(texts, max_length=m) for m in limits}
    mismatches: list[tuple[int, int | None]] = []
    barrier = threading.Barrier(8)

    def work(tid: int) -> None:
        barrier.wait()
        for r in range(25):
            m = limits[(tid + r) % len(limits)]
            if not np.array_equal(embedder.encode(texts, max_length=m), expected[m]):
                mismatches.append((tid, m))

    threads = [threading.Thread(target=work, args=(t,)) for t in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert mismatches == []


def test_fingerprint_identifies_weights(hf_cache) -> None:
    assert StaticEmbedder(FAKE_REPO).fingerprint == StaticEmbedder("bundled").fingerprint


def test_weights_are_memory_mapped_read_only_and_equal_model2vec_s() -> None:
    """The token table is a read-only view of the safetensors file, not a heap copy."""
    from deposium_rag._model_files import read_model_files

    files = read_model_files(BUNDLED_MODEL)
    assert files is not None
    ref = StaticModel.from_pretrained(BUNDLED_MODEL)
    assert not files.embedding.flags.writeable and not files.embedding.flags.owndata
    np.testing.assert_array_equal(files.embedding, ref.embedding)
    assert files.unk_token_id == ref.unk_token_id
    assert files.tokenizer.truncation is None  # off: max_length is applied to token ids


def test_files_the_reader_does_not_take_go_to_model2vec(tmp_path, monkeypatch) -> None:
    """A tensor dtype numpy lacks (bfloat16), or a header that does not match the data:
    read_model_files says so (None) instead of guessing, and model2vec's loader is used."""
    import json
    import shutil

    from deposium_rag import _model_files, models

    folder = tmp_path / "m"
    shutil.copytree(BUNDLED_MODEL, folder)
    raw = (folder / "model.safetensors").read_bytes()
    size = int.from_bytes(raw[:8], "little")
    header = json.loads(raw[8 : 8 + size])
    for dtype in ("BF16",):
        bad = dict(header, embeddings=dict(header["embeddings"], dtype=dtype))
        text = json.dumps(bad).encode()
        (tmp_path / "bad.safetensors").write_bytes(len(text).to_bytes(8, "little") + text + raw[8 + size :])
        assert _model_files._tensors(tmp_path / "bad.safetensors") is None
    (tmp_path / "short.safetensors").write_bytes(raw[:-4])  # data cut short
    assert _model_files._tensors(tmp_path / "short.safetensors") is None
    monkeypatch.setattr(models, "read_model_files", lambda folder: None)
    fallback = StaticEmbedder(folder)
    texts = ["What is the capital of France?", "Der Hund bellt laut."]
    np.testing.assert_allclose(fallback.encode(texts), StaticEmbedder("bundled").encode(texts), atol=1e-6)
    assert fallback._embedding.flags.writeable  # model2vec's heap copy
