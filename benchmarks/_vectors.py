"""Realistic clustered unit vectors for store benchmarks, made the way a static model makes them.

A Model2Vec document vector is the normalised mean of its tokens' vectors. With token
frequencies following Zipf's law and every token vector sharing a common component (as in
real distilled models), documents of one language end up tightly clustered (the issue
measured a mean cosine of 0.89 among German XQuAD paragraphs), which is what makes HNSW hard.
This module reproduces that: a random token table with a shared mean direction, Zipf-sampled
token ids, documents of 40-200 tokens and queries of 4-12 tokens drawn from a document's topic.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import numpy as np


def token_table(vocab: int, dim: int, shared: float = 0.45, seed: int = 0) -> np.ndarray:
    """Random token vectors with a common direction of weight ``shared`` (float32)."""
    rng = np.random.default_rng(seed)
    table = rng.standard_normal((vocab, dim), dtype=np.float32) / np.sqrt(dim)
    common = rng.standard_normal(dim).astype(np.float32)
    common /= np.linalg.norm(common)
    table += shared * common
    return table


def _zipf_ids(rng: np.random.Generator, vocab: int, size: int, topic: np.ndarray | None) -> np.ndarray:
    ids = rng.zipf(1.15, size=size) - 1
    ids = ids[ids < vocab]
    if topic is not None:  # half the tokens come from the document's topic words
        half = len(ids) // 2
        ids[:half] = rng.choice(topic, size=half)
    return ids


def corpus(
    n: int, dim: int = 1024, *, queries: int = 200, vocab: int = 30000, topics: int = 2000, seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """``(docs, queries)``: unit float32 rows shaped like one language's static-model vectors.

    Cached in the system temp folder (never in the repo): 100k rows take ~40 s to make.
    """
    cache = Path(tempfile.gettempdir()) / f"deposium-vectors-{n}-{dim}-{queries}-{vocab}-{topics}-{seed}.npz"
    if cache.is_file():
        with np.load(cache, allow_pickle=False) as z:
            return z["docs"], z["queries"]
    docs, qs = _make(n, dim, queries, vocab, topics, seed)
    tmp = cache.with_suffix(f".{os.getpid()}.npz")
    np.savez(tmp, docs=docs, queries=qs)
    os.replace(tmp, cache)
    return docs, qs


def _make(
    n: int, dim: int, queries: int, vocab: int, topics: int, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed + 1)
    table = token_table(vocab, dim, seed=seed)
    topic_words = rng.integers(100, vocab, size=(topics, 20))
    docs = np.empty((n, dim), dtype=np.float32)
    doc_topic = rng.integers(0, topics, size=n)
    for i in range(n):
        ids = _zipf_ids(rng, vocab, int(rng.integers(40, 200)), topic_words[doc_topic[i]])
        docs[i] = table[ids].mean(axis=0)
    qs = np.empty((queries, dim), dtype=np.float32)
    for j in range(queries):
        ids = _zipf_ids(rng, vocab, int(rng.integers(4, 12)), topic_words[doc_topic[rng.integers(0, n)]])
        qs[j] = table[ids].mean(axis=0)
    docs /= np.linalg.norm(docs, axis=1, keepdims=True)
    qs /= np.linalg.norm(qs, axis=1, keepdims=True)
    return docs, qs


def mean_cosine(vectors: np.ndarray, sample: int = 500, seed: int = 0) -> float:
    """Mean pairwise cosine of a random sample (how clustered the set is)."""
    rng = np.random.default_rng(seed)
    s = vectors[rng.choice(len(vectors), size=min(sample, len(vectors)), replace=False)]
    sims = s @ s.T
    m = len(s)
    return float((sims.sum() - np.trace(sims)) / (m * (m - 1)))
