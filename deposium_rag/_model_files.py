"""Read a Model2Vec folder with the weights memory-mapped, not copied.

Why: ``StaticModel.from_pretrained`` reads the whole weights file into the heap, parses the
tokenizer, deep-copies it and lists the vocabulary: 2.2 s for a 1024-d model of 150k tokens
here, on every cold start of the command line, before any store is opened. A static model
only ever gathers a few rows per query, so the table is mapped read-only from the safetensors
file (the page cache shares it between processes) and the tokenizer is parsed once.

Layouts read: model2vec (``model.safetensors`` with ``embeddings``, optional ``weights`` and
``mapping``; ``tokenizer.json``) and sentence-transformers' ``0_StaticEmbedding``
(``embedding.weight``). Anything else (another dtype such as bfloat16, a missing tensor)
returns ``None`` and the caller falls back to model2vec's own loader.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from tokenizers import Tokenizer

__all__ = ["ModelFiles", "read_model_files"]

_DTYPES = {
    "F64": "<f8",
    "F32": "<f4",
    "F16": "<f2",
    "I64": "<i8",
    "I32": "<i4",
    "I16": "<i2",
    "I8": "i1",
    "U8": "u1",
}
_HEADER_MAX = 100 << 20  # safetensors' own limit on the JSON header


@dataclass(frozen=True)
class ModelFiles:
    """What encoding needs: the token table (read-only), optional per-token weights and
    token -> row mapping, a private tokenizer (padding and truncation off) and its unk id."""

    embedding: np.ndarray
    weights: np.ndarray | None
    mapping: np.ndarray | None
    tokenizer: Tokenizer
    unk_token_id: int | None


def _tensors(path: Path) -> dict[str, np.ndarray] | None:
    """Every tensor of a safetensors file as a read-only view of one memory map."""
    with open(path, "rb") as fh:
        size = int.from_bytes(fh.read(8), "little")
        if not 0 < size <= _HEADER_MAX:
            return None
        header = json.loads(fh.read(size))
    if not isinstance(header, dict):
        return None
    data = np.memmap(path, dtype=np.uint8, mode="r")
    start = 8 + size
    out: dict[str, np.ndarray] = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        dtype = _DTYPES.get(info.get("dtype")) if isinstance(info, dict) else None
        if dtype is None:
            return None
        shape = tuple(int(x) for x in info["shape"])
        lo, hi = (int(x) for x in info["data_offsets"])
        if (
            not 0 <= lo <= hi
            or start + hi > len(data)
            or hi - lo != math.prod(shape) * np.dtype(dtype).itemsize
        ):
            return None
        # A plain ndarray over the map: np.memmap's Python-level hooks cost on every gather.
        out[name] = np.asarray(data[start + lo : start + hi]).view(dtype).reshape(shape)
    return out


def _unk_id(tokenizer: Tokenizer) -> int | None:
    """model2vec's rule: the model's unk token (WordPiece, BPE, WordLevel) or Unigram's unk_id."""
    model: Any = tokenizer.model
    if hasattr(model, "unk_token"):
        token = model.unk_token
        return None if token is None else tokenizer.token_to_id(token)
    unk = json.loads(tokenizer.to_str())["model"].get("unk_id")
    return None if unk is None else int(unk)


def read_model_files(folder: Path) -> ModelFiles | None:
    """The model in ``folder`` (model2vec or ``0_StaticEmbedding`` layout), or ``None`` when
    its files need model2vec's loader."""
    from tokenizers import Tokenizer

    weights_file, tokenizer_file = folder / "model.safetensors", folder / "tokenizer.json"
    if not (weights_file.is_file() and tokenizer_file.is_file()):
        return None
    try:
        tensors = _tensors(weights_file)
    except (OSError, ValueError, KeyError, TypeError):
        return None
    if tensors is None:
        return None
    embedding = tensors.get("embeddings", tensors.get("embedding.weight"))
    if embedding is None or embedding.ndim != 2:
        return None
    weights, mapping = tensors.get("weights"), tensors.get("mapping")
    tokenizer = Tokenizer.from_file(str(tokenizer_file))
    padding = tokenizer.padding
    if padding is not None:  # as model2vec: no padding, the pad token kept
        tokenizer.enable_padding(
            pad_id=padding["pad_id"],
            pad_token=padding["pad_token"],
            pad_type_id=padding["pad_type_id"],
            length=0,
        )
    tokenizer.no_truncation()
    if mapping is None and len(embedding) != tokenizer.get_vocab_size(with_added_tokens=True):
        return None  # model2vec raises here: let it say why
    return ModelFiles(embedding, weights, mapping, tokenizer, _unk_id(tokenizer))
