"""Synthetic pieces for scale benchmarks: a model of the default model's shape, big corpora.

Why synthetic: the default model (1024-d, ~150k-token vocabulary) is a hub download, and
the shared data holds thousands of documents, not millions. Speed and memory depend on the
shape (dimension, vocabulary, tokens per document, languages), not on what the vectors
mean, so: random vectors over a byte-level BPE tokenizer trained here on the shared texts,
and corpora replicated from those texts with perturbations (word drops, local shuffles,
numbers), so each document is distinct and BM25 sees a realistic vocabulary growth.
Nothing here is written into the repository; the model goes to a folder the caller picks.
"""

from __future__ import annotations

import json
import random
import re
from pathlib import Path

import numpy as np

try:
    from benchmarks._data import DATA, XQUAD_LANGS, load_cacm, load_vaswani, load_xquad
except ImportError:  # run as a script from benchmarks/
    from _data import DATA, XQUAD_LANGS, load_cacm, load_vaswani, load_xquad  # type: ignore[no-redef]

__all__ = ["XQUAD_LANGS", "base_texts", "make_corpus", "make_model", "queries"]

_NO_SPACES = {"zh", "ja", "th"}
_CLAUSE = re.compile(r"(?<=[。，、；！？,.;!?])|\s+")


def _lingua(lang: str) -> list[str]:
    path = DATA / "lingua-language-testdata" / "sentences" / f"{lang}.txt"
    if not path.is_file():
        return []
    return [s.strip() for s in path.read_text(encoding="utf-8").splitlines() if s.strip()]


def base_texts(languages: list[str]) -> dict[str, list[str]]:
    """Paragraph-sized source texts per language: XQuAD-R paragraphs, lingua sentences grouped
    four by four, and for English the Vaswani and CACM documents."""
    out: dict[str, list[str]] = {}
    for lang in languages:
        texts = list(load_xquad(lang).paragraphs)
        sentences = _lingua(lang)
        texts += [" ".join(sentences[i : i + 4]) for i in range(0, len(sentences), 4)]
        if lang == "en":
            texts += [d for d in load_vaswani().docs if len(d) > 80]
            texts += [d for d in load_cacm().docs if len(d) > 80]
        out[lang] = texts
    return out


def queries(languages: list[str], per_language: int, seed: int = 0) -> list[tuple[str, str]]:
    """``(question, language)`` pairs from XQuAD-R, interleaved across languages."""
    rng = random.Random(seed)
    pools = {lang: rng.sample(load_xquad(lang).questions, per_language) for lang in languages}
    return [(pools[lang][i], lang) for i in range(per_language) for lang in languages]


def _perturb(text: str, lang: str, rng: random.Random) -> str:
    """A distinct variant of ``text``: ~10% of its pieces dropped, some neighbours swapped,
    a few numbers added (pieces are words, or clauses for scripts without spaces)."""
    pieces = [p for p in _CLAUSE.split(text) if p] if lang in _NO_SPACES else text.split()
    if len(pieces) > 3:
        pieces = [p for p in pieces if rng.random() > 0.1] or pieces
        for _ in range(max(1, len(pieces) // 10)):
            i = rng.randrange(len(pieces) - 1)
            pieces[i], pieces[i + 1] = pieces[i + 1], pieces[i]
    for _ in range(rng.randrange(1, 4)):
        pieces.insert(rng.randrange(len(pieces) + 1), str(rng.randrange(10_000)))
    return ("" if lang in {"zh", "ja"} else " ").join(pieces)


def make_corpus(n: int, languages: list[str], seed: int = 0) -> list[tuple[str, str]]:
    """``n`` ``(text, language)`` documents, languages in turn; the first pass keeps the
    originals, later ones are perturbed copies."""
    rng = random.Random(seed)
    pools = base_texts(languages)
    out: list[tuple[str, str]] = []
    cursor = dict.fromkeys(languages, 0)
    while len(out) < n:
        for lang in languages:
            pool = pools[lang]
            i = cursor[lang]
            cursor[lang] += 1
            text = pool[i % len(pool)]
            out.append((text if i < len(pool) else _perturb(text, lang, rng), lang))
            if len(out) == n:
                break
    return out


def make_model(folder: Path, *, vocab_size: int = 150_000, dim: int = 1024, seed: int = 0) -> Path:
    """A Model2Vec model in ``folder``: a byte-level BPE tokenizer trained on the shared texts
    (padded with unreachable tokens up to ``vocab_size`` when the texts run out of merges)
    and random unit float32 vectors. Reused when ``folder`` already holds one of that shape."""
    folder = Path(folder)
    config = folder / "config.json"
    if config.is_file():
        cfg = json.loads(config.read_text())
        if cfg.get("synthetic_dim") == dim and cfg.get("synthetic_vocab") == vocab_size:
            return folder  # model2vec's config has no dimension: ours records it
    from model2vec import StaticModel
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    pools = base_texts(list(XQUAD_LANGS))
    texts = [t for pool in pools.values() for t in pool]
    tok = Tokenizer(models.BPE(unk_token=None))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=True)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        min_frequency=1,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(texts, trainer=trainer)
    spec = json.loads(tok.to_str())
    vocab = spec["model"]["vocab"]
    for i in range(len(vocab), vocab_size):  # unreachable filler: the embedding table's size
        vocab[f"<unused{i}>"] = i
    tok = Tokenizer.from_str(json.dumps(spec))
    rng = np.random.default_rng(seed)
    vectors = rng.standard_normal((tok.get_vocab_size(), dim), dtype=np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    model = StaticModel(vectors=vectors, tokenizer=tok, normalize=True, base_model_name="synthetic")
    folder.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(folder)
    cfg = json.loads(config.read_text())
    cfg["synthetic_vocab"] = vocab_size
    cfg["synthetic_dim"] = dim
    config.write_text(json.dumps(cfg, indent=2))
    return folder
