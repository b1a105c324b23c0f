"""Resolve, load and run a Model2Vec static model: the one place text becomes vectors.

Every vector in this package comes from :class:`StaticEmbedder.encode`: float32 rows,
L2-normalised by default, so inner product is cosine everywhere downstream.

Why not call ``StaticModel.encode`` directly: in model2vec 0.10 it sets the shared
tokenizer's truncation on every call, so two threads with different ``max_length``
corrupt each other's vectors. Here the tokenizer is a private copy with truncation
switched off once at load, and ``max_length`` is applied to token ids per call, so
nothing shared is ever mutated. The weights are memory-mapped from the model's safetensors
file (:mod:`deposium_rag._model_files`), not copied: a cold start costs the tokenizer parse.
"""

from __future__ import annotations

import os
import re
import threading
from collections import defaultdict
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np

from deposium_rag import _digests
from deposium_rag._atomic import sha256_file as _sha256_file
from deposium_rag._model_files import ModelFiles, read_model_files
from deposium_rag._validation import check_text, check_texts
from deposium_rag.errors import ModelNotAvailableError, ModelNotFoundError

__all__ = [
    "BUNDLED_MODEL",
    "DEFAULT_MODEL",
    "MODEL_ENV_VAR",
    "ResolvedModel",
    "StaticEmbedder",
    "resolve_model",
]

DEFAULT_MODEL = "tss-deposium/qwen25-deposium-1024d"
MODEL_ENV_VAR = "DEPOSIUM_RAG_MODEL"
BUNDLED_MODEL: Path = Path(__file__).resolve().parent / "bundled_model"
BUNDLED_NAME = "bundled"

_MODEL_FILES = ("model.safetensors", "tokenizer.json", "config.json")
_ST_FILES = ("model.safetensors", "tokenizer.json", "config_sentence_transformers.json")
_SURROGATE = re.compile("[\ud800-\udfff]")
_HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")
# Gather at most this many values at once: bounds memory for very long texts.
_GATHER_BUDGET = 8_000_000
_WORKERS = max(1, min(8, os.cpu_count() or 1))


@dataclass(frozen=True)
class ResolvedModel:
    """Where a model's files are and the name it is known by."""

    name: str
    path: Path
    source: str  # "bundled" | "local" | "hub"


def _has_model_files(folder: Path) -> bool:
    """True when ``folder`` holds a Model2Vec (or sentence-transformers static) layout."""
    return all((folder / f).is_file() for f in _MODEL_FILES) or all((folder / f).is_file() for f in _ST_FILES)


def _env_flag(name: str) -> bool:
    return os.environ.get(name, "").strip().lower() in {"1", "true", "yes", "on"}


def _hf_cache_dir() -> Path:
    """The Hugging Face hub cache, read from the environment at call time (not import time)."""
    if os.environ.get("HF_HUB_CACHE"):
        return Path(os.environ["HF_HUB_CACHE"]).expanduser()
    if os.environ.get("HF_HOME"):
        return Path(os.environ["HF_HOME"]).expanduser() / "hub"
    from huggingface_hub import constants

    return Path(constants.HF_HUB_CACHE)


def _not_available(repo_id: str, cache: Path, reason: str) -> ModelNotAvailableError:
    return ModelNotAvailableError(
        f"model {repo_id!r} is not in the Hugging Face cache ({cache}) and {reason}. "
        f"Either pre-download it where the hub is reachable "
        f"(`huggingface-cli download {repo_id}`, then copy the cache or set HF_HUB_CACHE), "
        "or pass a local folder holding model.safetensors, tokenizer.json and config.json "
        "(model='/path/to/folder'), or use the small offline model with model='bundled'."
    )


def _hub_snapshot(repo_id: str) -> Path:
    """Return the local folder of a hub model: the cache first, the network only if allowed."""
    from huggingface_hub import snapshot_download

    cache = _hf_cache_dir()
    patterns = [*_MODEL_FILES, *_ST_FILES, "README.md", "0_StaticEmbedding/*"]
    try:
        folder = Path(
            snapshot_download(repo_id, cache_dir=str(cache), local_files_only=True, allow_patterns=patterns)
        )
        if _has_model_files(folder) or _has_model_files(folder / "0_StaticEmbedding"):
            return folder
    except Exception:
        pass
    if _env_flag("HF_HUB_OFFLINE") or _env_flag("TRANSFORMERS_OFFLINE"):
        raise _not_available(repo_id, cache, "HF_HUB_OFFLINE is set")
    try:
        folder = Path(snapshot_download(repo_id, cache_dir=str(cache), allow_patterns=patterns))
    except Exception as exc:
        raise _not_available(repo_id, cache, f"could not be downloaded ({type(exc).__name__})") from exc
    if not _has_model_files(folder):
        raise ModelNotFoundError(
            f"hub repo {repo_id!r} has no Model2Vec files ({', '.join(_MODEL_FILES)}); "
            "is it a Model2Vec model?"
        )
    return folder


def resolve_model(model: str | os.PathLike[str] | None = None) -> ResolvedModel:
    """Turn ``model`` into a local folder.

    ``None`` means ``$DEPOSIUM_RAG_MODEL`` or :data:`DEFAULT_MODEL`; ``"bundled"`` is the
    small model shipped in the package; an existing folder is used as is; ``org/name`` is a
    hub id, loaded from the cache when present.
    """
    if model is None:
        model = os.environ.get(MODEL_ENV_VAR) or DEFAULT_MODEL
    if not isinstance(model, (str, os.PathLike)):
        raise TypeError(f"model must be a hub id, a folder path or 'bundled', got {type(model).__name__}")
    text = os.fspath(model).strip()
    if not text:
        raise ValueError("model must not be empty: pass a hub id, a folder path or 'bundled'")
    if text == BUNDLED_NAME:
        if not _has_model_files(BUNDLED_MODEL):
            raise ModelNotFoundError(
                f"the bundled model is missing from {BUNDLED_MODEL}; reinstall deposium-rag"
            )
        return ResolvedModel(BUNDLED_NAME, BUNDLED_MODEL, "bundled")
    path = Path(text).expanduser()
    if path.exists():
        if not path.is_dir():
            raise ModelNotFoundError(f"model path {path} is a file; pass the folder that holds it")
        if not (_has_model_files(path) or _has_model_files(path / "0_StaticEmbedding")):
            raise ModelNotFoundError(
                f"folder {path} holds no Model2Vec model (expected {', '.join(_MODEL_FILES)})"
            )
        resolved = path.resolve()
        if resolved == BUNDLED_MODEL:
            return ResolvedModel(BUNDLED_NAME, BUNDLED_MODEL, "bundled")
        return ResolvedModel(str(resolved), resolved, "local")
    if isinstance(model, os.PathLike) or not _HUB_ID.match(text):
        raise ModelNotFoundError(
            f"model folder not found: {path.absolute()}. Pass an existing folder, "
            "a hub id like 'org/name', or 'bundled'."
        )
    return ResolvedModel(text, _hub_snapshot(text), "hub")


_LOAD_LOCK = threading.Lock()
_LOADED: dict[Path, ModelFiles] = {}


def _load_model(folder: Path) -> ModelFiles:
    """Load once per folder per process; nothing loaded is mutated afterwards (the token table
    is read-only, the tokenizer's padding and truncation are set before it is shared)."""
    with _LOAD_LOCK:
        cached = _LOADED.get(folder)
        if cached is not None:
            return cached
        if not _has_model_files(folder) and _has_model_files(folder / "0_StaticEmbedding"):
            folder_to_load = folder / "0_StaticEmbedding"
        else:
            folder_to_load = folder
        loaded = read_model_files(folder_to_load) or _from_model2vec(folder_to_load)
        _LOADED[folder] = loaded
        return loaded


def _from_model2vec(folder: Path) -> ModelFiles:
    """model2vec's own loader, for files the memory-mapped reader does not take."""
    from model2vec import StaticModel
    from tokenizers import Tokenizer

    model = StaticModel.from_pretrained(folder, force_download=False)
    # A private tokenizer: model2vec's encode sets truncation on its own one at every call.
    tokenizer = Tokenizer.from_str(model.tokenizer.to_str())
    tokenizer.no_truncation()
    return ModelFiles(model.embedding, model.weights, model.token_mapping, tokenizer, model.unk_token_id)


class StaticEmbedder:
    """Framework-free embedder over a Model2Vec model; both framework faces wrap it.

    ``max_length=None`` (the default) averages every token of a text: a static model's cost
    is linear in tokens, so a long chunk is represented by all of it rather than its first
    512 tokens. Pass an int to truncate to that many tokens, as model2vec does.
    Empty or all-unknown text gives a zero vector; lone surrogates are read as U+FFFD.
    """

    def __init__(
        self,
        model: str | os.PathLike[str] | ResolvedModel | None = None,
        *,
        normalize: bool = True,
        max_length: int | None = None,
        batch_size: int = 1024,
    ) -> None:
        if max_length is not None and (not isinstance(max_length, int) or max_length < 1):
            raise ValueError(f"max_length must be a positive int or None, got {max_length!r}")
        if not isinstance(batch_size, int) or batch_size < 1:
            raise ValueError(f"batch_size must be a positive int, got {batch_size!r}")
        self.resolved = model if isinstance(model, ResolvedModel) else resolve_model(model)
        files = _load_model(self.resolved.path)
        self._tokenizer = files.tokenizer  # truncation and padding off; never mutated
        self._unk = files.unk_token_id
        self._embedding = files.embedding
        self._weights = files.weights
        self._mapping = files.mapping
        self._longest_token: int | None = None  # characters; read from the vocabulary if needed
        self.normalize = normalize
        self.max_length = max_length
        self.batch_size = batch_size
        self._fingerprint: str | None = None

    @property
    def model_name(self) -> str:
        """The name the model was asked for: hub id, absolute folder or ``"bundled"``."""
        return self.resolved.name

    @property
    def dim(self) -> int:
        return int(self._embedding.shape[1])

    @property
    def fingerprint(self) -> str:
        """sha256 of the weights file: identifies the model whatever name it was loaded by."""
        if self._fingerprint is None:
            folder = self.resolved.path
            weights = folder / "model.safetensors"
            if not weights.is_file():
                weights = folder / "0_StaticEmbedding" / "model.safetensors"
            # Remembered per file version: a 1024-d model's weights take ~0.3 s to hash.
            self._fingerprint = _digests.digest(weights, "sha256", _sha256_file)
            _digests.flush()
        return self._fingerprint

    # -- encoding ---------------------------------------------------------------------------

    def encode(
        self,
        texts: Sequence[str],
        *,
        normalize: bool | None = None,
        max_length: int | Literal["default"] | None = "default",
    ) -> np.ndarray:
        """Encode texts to a ``(len(texts), dim)`` float32 array; ``[]`` gives shape ``(0, dim)``."""
        items = check_texts(texts)
        norm = self.normalize if normalize is None else normalize
        limit = self.max_length if max_length == "default" else max_length
        if limit is not None and (not isinstance(limit, int) or limit < 1):
            raise ValueError(f"max_length must be a positive int or None, got {limit!r}")
        if len(items) == 1:  # a query: no pool, no batch bookkeeping
            out = self._encode_batch(items, limit)
            if norm:
                _l2_normalise_inplace(out)
            return out
        out = np.zeros((len(items), self.dim), dtype=np.float32)
        starts = range(0, len(items), self.batch_size)

        def run(start: int) -> None:
            out[start : start + self.batch_size] = self._encode_batch(
                items[start : start + self.batch_size], limit
            )

        workers = min(len(starts), _WORKERS)
        if workers > 1:
            # Tokenizing and gathering release the GIL; a per-call pool keeps no shared state.
            with ThreadPoolExecutor(max_workers=workers) as pool:
                list(pool.map(run, starts))
        else:
            for start in starts:
                run(start)
        if norm:
            _l2_normalise_inplace(out)
        return out

    def encode_one(self, text: str, **kwargs: Any) -> np.ndarray:
        """Encode a single text to a ``(dim,)`` float32 vector."""
        return self.encode([check_text(text)], **kwargs)[0]

    def _token_ids(self, texts: list[str], limit: int | None) -> list[list[int]]:
        if limit is None:
            return self._tokenize(texts)
        prefixes = [self._prefix(t, limit) for t in texts]
        ids = self._tokenize(prefixes)
        # A cut prefix that came up short (long whitespace or unknown runs): redo it whole.
        short = [i for i, (p, t, r) in enumerate(zip(prefixes, texts, ids)) if p is not t and len(r) < limit]
        if short:
            for i, row in zip(short, self._tokenize([texts[i] for i in short])):
                ids[i] = row
        return [row[:limit] for row in ids]

    def _tokenize(self, texts: list[str]) -> list[list[int]]:
        try:
            encodings = self._tokenizer.encode_batch_fast(texts, add_special_tokens=False)
        except (UnicodeEncodeError, TypeError):
            texts = [_SURROGATE.sub("\ufffd", t) for t in texts]
            encodings = self._tokenizer.encode_batch_fast(texts, add_special_tokens=False)
        unk = self._unk
        if unk is None:
            return [e.ids for e in encodings]
        return [[i for i in e.ids if i != unk] for e in encodings]

    def _prefix(self, text: str, limit: int) -> str:
        """Cut text that surely holds more than ``limit`` tokens, at a whitespace boundary.

        Tokenizers split at whitespace before anything else, so the first ``limit`` tokens of
        the prefix are those of the whole text; without whitespace we keep the whole text.
        """
        if self._longest_token is None:  # once (idempotent): only truncation needs it
            self._longest_token = max(1, max(len(t) for t in self._tokenizer.get_vocab()))
        bound = limit * self._longest_token * 2
        if len(text) <= bound:
            return text
        cut = text.rfind(" ", limit, bound)
        return text[:cut] if cut > 0 else text

    def _encode_batch(self, texts: list[str], limit: int | None) -> np.ndarray:
        """Mean of token vectors per text, grouped by token count so each group is one gather."""
        ids = self._token_ids(texts, limit)
        if len(ids) == 1 and 0 < len(ids[0]) <= _GATHER_BUDGET // self.dim:
            return self._sum_tokens(np.array(ids, dtype=np.int64)) / np.float32(len(ids[0]))
        out = np.zeros((len(ids), self.dim), dtype=np.float32)
        buckets: dict[int, list[int]] = defaultdict(list)
        for i, row in enumerate(ids):
            if row:
                buckets[len(row)].append(i)
        for length, members in buckets.items():
            # Rows per gather, so that one gather stays within the memory budget.
            step = max(1, _GATHER_BUDGET // (length * self.dim))
            for a in range(0, len(members), step):
                chunk = members[a : a + step]
                matrix = np.array([ids[i] for i in chunk], dtype=np.int64)
                out[chunk] = self._sum_tokens(matrix) / np.float32(length)
        return out

    def _sum_tokens(self, matrix: np.ndarray) -> np.ndarray:
        """Sum token vectors along axis 1, in token slices when one text alone is too long."""
        length = matrix.shape[1]
        span = max(1, _GATHER_BUDGET // self.dim)
        total = np.zeros((matrix.shape[0], self.dim), dtype=np.float32)
        for a in range(0, length, span):
            part = matrix[:, a : a + span]
            table = part if self._mapping is None else self._mapping[part]
            vecs = self._embedding[table]
            if self._weights is not None:
                vecs = vecs.astype(np.float32) * self._weights[part].astype(np.float32)[..., None]
            total += vecs.sum(axis=1, dtype=np.float32)
        return total


def _l2_normalise_inplace(matrix: np.ndarray) -> None:
    """Scale rows to unit length; zero rows stay zero (never NaN)."""
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    np.divide(matrix, norms, out=matrix, where=norms > 0)
