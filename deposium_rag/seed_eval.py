"""Seed evaluation: the six-dimension check of the default model's card, rerun on any model.

Why: the card of ``tss-deposium/qwen25-deposium-1024d`` publishes six scores (instruction-
awareness, code, conversational, semantic similarity, clustering, multilingual alignment) and
a weighted overall. Rerunning its own test with the model actually loaded shows whether that
model behaves as published, and what the offline ``bundled`` stand-in gives on the same test.

Where the test comes from (read on the public record, not guessed):

* pairs and scoring: ``benchmarks/models/qwen25-1024d/eval_script.py`` in
  github.com/theseedship/deposium_embeddings-turbov2 (commit 4b74f0b8abb2), which the card's
  ``BENCHMARKS.md`` names as its code. The texts below are that script's, unchanged;
* reported figures: the card (``HUGGINGFACE_README.md`` in the same repository, "Detailed
  Scores") and ``BENCHMARKS.md`` on the hub (tss-deposium/qwen25-deposium-1024d, revision
  540465f224da), which agree: see :data:`CARD_SCORES`.

Scoring, as in that script: four dimensions are the mean cosine of (text, paraphrase) pairs;
semantic similarity is ``(mean cos similar - mean cos dissimilar + 1) / 2``; clustering is
``(silhouette of the true topics + purity of a 3-means clustering) / 2``; overall is the
card's weighted mean (instruction 0.30, semantic 0.20, clustering 0.15, multilingual 0.15,
conversational 0.10, code 0.10). Our only departures: numpy k-means (k-means++, 10 starts,
seed 42) and silhouette instead of scikit-learn, on the unit vectors this package produces.

Read the numbers for what they are: a mean cosine over a handful of pairs rewards any model
whose vectors share a common direction, so it is not a retrieval score. The extra ``match@1``
column is ours: for each text of a dimension, whether its own partner is the nearest among
that dimension's partners.

Two inconsistencies in the published material, noted so nobody chases them: BENCHMARKS.md
lists four other code pairs (``def hello(): ...``, ``class Dog: pass``) whose values average
0.845, while the script has the five used here; and its six multilingual per-pair values
average 0.406, not the 0.394 it reports. An earlier note in that repository
(``DEPLOYMENT_STATUS.md``) also quotes 0.953 instruction-awareness and 0.841 overall.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

__all__ = [
    "CARD_MODEL",
    "CARD_OVERALL",
    "CARD_SCORES",
    "DIMENSIONS",
    "INSTRUCTION_FRAMES",
    "WEIGHTS",
    "ContrastiveReport",
    "ContrastiveScore",
    "DimensionScore",
    "SeedReport",
    "contrastive_triplets",
    "format_contrastive",
    "format_report",
    "kmeans",
    "purity",
    "run",
    "run_contrastive",
    "silhouette",
]

CARD_MODEL = "tss-deposium/qwen25-deposium-1024d"
# Figures the card reports for CARD_MODEL, as fractions. Source: the model card's "Detailed
# Scores" JSON (HUGGINGFACE_README.md, theseedship/deposium_embeddings-turbov2, commit
# a16e6e4202bf) and the "qwen25-deposium-1024d Performance" table of BENCHMARKS.md on the hub
# (huggingface.co/tss-deposium/qwen25-deposium-1024d, revision 540465f224da): 94.96% / 84.5% /
# 80.0% / 54.2% / 43.4% / 39.4%, overall 68.2% ("Weighted average").
CARD_SCORES: dict[str, float] = {
    "instruction_awareness": 0.9496,
    "code_understanding": 0.845,
    "conversational_understanding": 0.800,
    "semantic_similarity": 0.542,
    "topic_clustering": 0.434,
    "multilingual_alignment": 0.394,
}
CARD_OVERALL = 0.682

# Weights of the card's overall score (eval_script.py, "OVERALL QUALITY ASSESSMENT").
WEIGHTS: dict[str, float] = {
    "instruction_awareness": 0.30,
    "code_understanding": 0.10,
    "conversational_understanding": 0.10,
    "semantic_similarity": 0.20,
    "topic_clustering": 0.15,
    "multilingual_alignment": 0.15,
}

# Display names, in the card's order.
DIMENSIONS: dict[str, str] = {
    "instruction_awareness": "Instruction-Awareness",
    "code_understanding": "Code Understanding",
    "conversational_understanding": "Conversational Understanding",
    "semantic_similarity": "Semantic Similarity",
    "topic_clustering": "Topic Clustering",
    "multilingual_alignment": "Multilingual Alignment",
}

# -- the card's test texts (eval_script.py, unchanged) ------------------------------------------
Pair = tuple[str, str]

SIMILAR_PAIRS: list[Pair] = [
    ("The cat sat on the mat", "A feline rested on the rug"),
    ("Machine learning is fascinating", "AI and deep learning are interesting"),
    ("The weather is sunny today", "It's a bright and clear day"),
    ("Quantum computing uses qubits", "Quantum computers leverage quantum bits"),
]
DISSIMILAR_PAIRS: list[Pair] = [
    ("The cat sat on the mat", "Quantum physics explains the universe"),
    ("Machine learning is fascinating", "I enjoy eating pizza for dinner"),
    ("The weather is sunny today", "Databases store structured information"),
    ("Python is a programming language", "The ocean is deep and mysterious"),
]
CLUSTER_TOPICS: list[list[str]] = [
    [
        "Machine learning algorithms analyze data patterns",
        "Neural networks mimic the human brain structure",
        "Deep learning requires large datasets for training",
    ],
    [
        "The forest is full of tall green trees",
        "Birds sing beautiful songs in the morning",
        "Rivers flow through valleys and mountains",
    ],
    [
        "Football is a popular team sport worldwide",
        "Athletes train hard for competitions and medals",
        "Basketball requires coordination and teamwork",
    ],
]
MULTILINGUAL_PAIRS: list[Pair] = [
    ("Hello world", "Bonjour le monde"),
    ("Good morning", "Buenos días"),
    ("Thank you very much", "Danke schön"),
    ("I love you", "Ti amo"),
    ("How are you?", "¿Cómo estás?"),
    ("Artificial intelligence", "Intelligence artificielle"),
]
INSTRUCTION_PAIRS: list[Pair] = [
    ("Explain how neural networks work", "neural networks explanation tutorial guide"),
    ("Summarize machine learning concepts", "machine learning summary overview key points"),
    ("Find articles about quantum computing", "quantum computing articles documents papers"),
    ("List advantages of deep learning", "deep learning benefits advantages pros"),
    ("Compare Python and JavaScript", "Python vs JavaScript comparison differences"),
    ("Describe the process of photosynthesis", "photosynthesis process description how it works"),
    ("Translate this to French", "French translation language conversion"),
]
IDIOM_PAIRS: list[Pair] = [
    ("That's a piece of cake", "That's very easy simple straightforward"),
    ("Break a leg", "Good luck success wishes"),
    ("It's raining cats and dogs", "Heavy rain pouring downpour"),
    ("C'est du déjà-vu", "It's already seen before familiar"),
    ("Hit the nail on the head", "Exactly right correct precise"),
    ("Spill the beans", "Reveal secret tell truth"),
]
CODE_PAIRS: list[Pair] = [
    ("def add(a, b): return a + b", "function to add two numbers sum"),
    ("for i in range(10): print(i)", "loop iterate numbers print values"),
    ("import numpy as np", "import scientific computing library numpy"),
    ("SELECT * FROM users WHERE age > 18", "database query select adult users"),
    ("async function fetchData() { await api.get() }", "asynchronous function fetch data API"),
]


class _Encoder(Protocol):
    def encode(self, texts: Sequence[str]) -> np.ndarray: ...


@dataclass(frozen=True)
class DimensionScore:
    """One row of the table: our score, the card's figure, and our extra match@1."""

    key: str
    name: str
    score: float
    card: float | None
    weight: float
    matched: int | None = None  # texts whose own partner is the nearest (None: not a pair test)
    total: int | None = None


@dataclass(frozen=True)
class SeedReport:
    model_name: str
    dim: int
    dimensions: list[DimensionScore]
    overall: float
    card_overall: float | None

    def scores(self) -> dict[str, float]:
        return {d.key: d.score for d in self.dimensions}


# -- small numeric helpers (scikit-learn is not a dependency) -----------------------------------
def _unit(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=np.float64)
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    return np.divide(x, norms, out=np.zeros_like(x), where=norms > 0)


def _pair_cosines(enc: _Encoder, pairs: Sequence[Pair]) -> tuple[np.ndarray, int]:
    """Cosine of each pair, and how many left texts have their own partner as nearest."""
    left = _unit(enc.encode([a for a, _ in pairs]))
    right = _unit(enc.encode([b for _, b in pairs]))
    sims = left @ right.T
    matched = int((np.argmax(sims, axis=1) == np.arange(len(pairs))).sum())
    return np.diag(sims).copy(), matched


def kmeans(x: np.ndarray, k: int, *, n_init: int = 10, seed: int = 42, max_iter: int = 300) -> np.ndarray:
    """Lloyd's k-means with k-means++ starts; the labels of the lowest-inertia run."""
    x = np.asarray(x, dtype=np.float64)
    if not 1 <= k <= len(x):
        raise ValueError(f"k must be in [1, {len(x)}], got {k}")
    rng = np.random.default_rng(seed)
    best_labels, best_inertia = np.zeros(len(x), dtype=np.int64), np.inf
    for _ in range(n_init):
        centres = [x[rng.integers(len(x))]]
        for _ in range(1, k):
            d2 = np.min([((x - c) ** 2).sum(axis=1) for c in centres], axis=0)
            total = d2.sum()
            pick = rng.choice(len(x), p=d2 / total) if total > 0 else rng.integers(len(x))
            centres.append(x[pick])
        c = np.array(centres)
        labels = np.full(len(x), -1, dtype=np.int64)
        for _ in range(max_iter):
            dist = ((x[:, None, :] - c[None, :, :]) ** 2).sum(axis=2)
            new = np.argmin(dist, axis=1)
            if np.array_equal(new, labels):
                break
            labels = new
            for j in range(k):
                if np.any(labels == j):
                    c[j] = x[labels == j].mean(axis=0)
        inertia = float(((x - c[labels]) ** 2).sum())
        if inertia < best_inertia - 1e-12:
            best_labels, best_inertia = labels.copy(), inertia
    return best_labels


def silhouette(x: np.ndarray, labels: Sequence[int]) -> float:
    """Mean silhouette (Euclidean), as scikit-learn's ``silhouette_score``."""
    x = np.asarray(x, dtype=np.float64)
    lab = np.asarray(labels)
    groups = np.unique(lab)
    if not 2 <= len(groups) <= len(x) - 1:
        raise ValueError("silhouette needs between 2 and n - 1 clusters")
    dist = np.sqrt(np.maximum(((x[:, None, :] - x[None, :, :]) ** 2).sum(axis=2), 0.0))
    values = np.zeros(len(x))
    for i in range(len(x)):
        same = lab == lab[i]
        if same.sum() <= 1:
            continue  # a singleton scores 0
        a = dist[i, same].sum() / (same.sum() - 1)
        b = min(dist[i, lab == g].mean() for g in groups if g != lab[i])
        values[i] = 0.0 if max(a, b) == 0 else (b - a) / max(a, b)
    return float(values.mean())


def purity(true: Sequence[int], predicted: Sequence[int]) -> float:
    """Share of items in the majority true class of their predicted cluster."""
    t, p = np.asarray(true), np.asarray(predicted)
    return float(sum(np.bincount(t[p == c]).max() for c in np.unique(p)) / len(t))


# -- the evaluation --------------------------------------------------------------------------------
def _load(model: Any) -> tuple[_Encoder, str, int]:
    if isinstance(model, (str, os.PathLike)) or model is None:
        from deposium_rag.models import StaticEmbedder

        model = StaticEmbedder(model)
    name = str(getattr(model, "model_name", type(model).__name__))
    dim = int(getattr(model, "dim", 0) or np.asarray(model.encode(["x"])).shape[1])
    return model, name, dim


def run(model: Any = "bundled", progress: Any = None) -> SeedReport:
    """Score ``model`` (a name for :class:`StaticEmbedder`, or anything with ``encode``).

    ``progress(n)`` is called as dimensions are done (six in all).
    """
    enc, name, dim = _load(model)
    step = progress or (lambda n: None)
    rows: dict[str, tuple[float, int | None, int | None]] = {}

    sim, matched = _pair_cosines(enc, SIMILAR_PAIRS)
    dissim, _ = _pair_cosines(enc, DISSIMILAR_PAIRS)
    rows["semantic_similarity"] = (
        (float(sim.mean()) - float(dissim.mean()) + 1.0) / 2.0,
        matched,
        len(SIMILAR_PAIRS),
    )
    step(1)

    texts = [t for topic in CLUSTER_TOPICS for t in topic]
    true = [i for i, topic in enumerate(CLUSTER_TOPICS) for _ in topic]
    vectors = _unit(enc.encode(texts))
    predicted = kmeans(vectors, len(CLUSTER_TOPICS))
    rows["topic_clustering"] = ((silhouette(vectors, true) + purity(true, predicted)) / 2.0, None, None)
    step(1)

    for key, pairs in (
        ("multilingual_alignment", MULTILINGUAL_PAIRS),
        ("instruction_awareness", INSTRUCTION_PAIRS),
        ("conversational_understanding", IDIOM_PAIRS),
        ("code_understanding", CODE_PAIRS),
    ):
        cos, matched = _pair_cosines(enc, pairs)
        rows[key] = (float(cos.mean()), matched, len(pairs))
        step(1)

    dims = [
        DimensionScore(
            key, label, rows[key][0], CARD_SCORES.get(key), WEIGHTS[key], rows[key][1], rows[key][2]
        )
        for key, label in DIMENSIONS.items()
    ]
    overall = float(sum(d.score * d.weight for d in dims))
    return SeedReport(name, dim, dims, overall, CARD_OVERALL)


def format_report(report: SeedReport) -> str:
    """A table shaped like the card's: dimension | score | card | match@1."""

    def pct(x: float | None) -> str:
        return "—" if x is None else f"{x * 100:.2f}%"

    head = ("dimension", "score", "card", "match@1 (ours)")
    rows = [
        (
            d.name,
            pct(d.score),
            pct(d.card),
            "—" if d.matched is None else f"{d.matched}/{d.total}",
        )
        for d in report.dimensions
    ]
    rows.append(("Overall Quality (weighted)", pct(report.overall), pct(report.card_overall), ""))
    widths = [max(len(r[i]) for r in [head, *rows]) for i in range(len(head))]

    def line(cells: Sequence[str]) -> str:
        return "| " + " | ".join(c.ljust(w) for c, w in zip(cells, widths)) + " |"

    out = [
        f"seed evaluation: model {report.model_name} (dim {report.dim})",
        f"pairs and scoring: the model card's own (eval_script.py); 'card' = figures the card "
        f"reports for {CARD_MODEL}",
        "",
        line(head),
        "|" + "|".join("-" * (w + 2) for w in widths) + "|",
        *(line(r) for r in rows),
        "",
        "Scores are mean cosines of hand-picked pairs (semantic: similar minus dissimilar; clustering:",
        "silhouette + purity), as on the card: high values do not imply good retrieval. match@1: how",
        "many texts of a dimension have their own partner as nearest (our addition).",
    ]
    return "\n".join(out)


# -- contrastive variant (ours) ---------------------------------------------------------------------
# The instruction pairs' left texts as (frame, topic): a distractor keeps the frame (the verb)
# and takes another pair's topic, e.g. "Explain how photosynthesis work". Checked against
# INSTRUCTION_PAIRS by a test, so the texts stay the card's.
INSTRUCTION_FRAMES: list[tuple[str, str]] = [
    ("Explain how {} work", "neural networks"),
    ("Summarize {} concepts", "machine learning"),
    ("Find articles about {}", "quantum computing"),
    ("List advantages of {}", "deep learning"),
    ("Compare {}", "Python and JavaScript"),
    ("Describe the process of {}", "photosynthesis"),
    ("Translate this to {}", "French"),
]

Triplet = tuple[str, str, list[str]]  # (anchor, positive, distractors)


def contrastive_triplets(key: str) -> list[Triplet]:
    """(anchor, positive, distractors) of one dimension: distractors share the anchor's form
    (same verb, same language, same kind of text) and come from the other pairs' topics.

    * instruction: the anchor's frame filled with each other pair's topic;
    * multilingual, conversational, code, semantic: the other pairs' anchors (same language,
      idiom, code or plain sentence as the anchor, another meaning);
    * clustering: each same-topic text as positive, the other topics' texts as distractors.
    """
    if key == "instruction_awareness":
        out = []
        for i, ((frame, _topic), (anchor, positive)) in enumerate(zip(INSTRUCTION_FRAMES, INSTRUCTION_PAIRS)):
            others = [frame.format(t) for j, (_, t) in enumerate(INSTRUCTION_FRAMES) if j != i]
            out.append((anchor, positive, others))
        return out
    if key == "topic_clustering":
        out = []
        for ti, topic in enumerate(CLUSTER_TOPICS):
            others = [t for tj, other in enumerate(CLUSTER_TOPICS) if tj != ti for t in other]
            out += [(a, p, others) for a in topic for p in topic if p != a]
        return out
    pairs = {
        "multilingual_alignment": MULTILINGUAL_PAIRS,
        "conversational_understanding": IDIOM_PAIRS,
        "code_understanding": CODE_PAIRS,
        "semantic_similarity": SIMILAR_PAIRS,
    }[key]
    return [(a, p, [b for j, (b, _) in enumerate(pairs) if j != i]) for i, (a, p) in enumerate(pairs)]


@dataclass(frozen=True)
class ContrastiveScore:
    """Comparisons won: cos(anchor, positive) > cos(anchor, distractor)."""

    key: str
    name: str
    won: int
    total: int
    pairs_clean: int  # pairs ranked above every one of their distractors
    pairs: int

    @property
    def share(self) -> float:
        return self.won / self.total if self.total else 0.0


@dataclass(frozen=True)
class ContrastiveReport:
    model_name: str
    dim: int
    dimensions: list[ContrastiveScore]

    @property
    def overall(self) -> float:
        """Share of all comparisons won, pooled over the six dimensions."""
        total = sum(d.total for d in self.dimensions)
        return sum(d.won for d in self.dimensions) / total if total else 0.0

    @property
    def weighted(self) -> float:
        """The same shares weighted as the card weighs its dimensions."""
        return float(sum(d.share * WEIGHTS[d.key] for d in self.dimensions))


def run_contrastive(model: Any = "bundled", progress: Any = None) -> ContrastiveReport:
    """Score each positive pair against same-form, other-topic distractors, per dimension.

    Why: the card's mean cosine of positive pairs has no negatives, so it rises for any model
    whose vectors share a direction; ranking the partner above a distractor that shares the
    anchor's verb but not its topic measures what "instruction-awareness" claims.
    ``progress(n)`` is called after each dimension.
    """
    enc, name, dim = _load(model)
    scores = []
    for key, label in DIMENSIONS.items():
        triplets = contrastive_triplets(key)
        texts = sorted({t for a, p, ds in triplets for t in (a, p, *ds)})
        vectors = dict(zip(texts, _unit(enc.encode(texts))))
        won = total = clean = 0
        for anchor, positive, distractors in triplets:
            pos = float(vectors[anchor] @ vectors[positive])
            wins = [pos > float(vectors[anchor] @ vectors[d]) for d in distractors]
            won, total, clean = won + sum(wins), total + len(wins), clean + all(wins)
        scores.append(ContrastiveScore(key, label, won, total, clean, len(triplets)))
        if progress is not None:
            progress(1)
    return ContrastiveReport(name, dim, scores)


def format_contrastive(report: ContrastiveReport) -> str:
    head = ("dimension", "pairs above distractor", "comparisons won", "pairs above all")
    rows = [
        (d.name, f"{d.share * 100:.2f}%", f"{d.won}/{d.total}", f"{d.pairs_clean}/{d.pairs}")
        for d in report.dimensions
    ]
    won = sum(d.won for d in report.dimensions)
    total = sum(d.total for d in report.dimensions)
    clean = sum(d.pairs_clean for d in report.dimensions)
    pairs = sum(d.pairs for d in report.dimensions)
    rows.append(("Overall (pooled)", f"{report.overall * 100:.2f}%", f"{won}/{total}", f"{clean}/{pairs}"))
    rows.append(("Overall (card weights)", f"{report.weighted * 100:.2f}%", "", ""))
    widths = [max(len(r[i]) for r in [head, *rows]) for i in range(len(head))]

    def line(cells: Sequence[str]) -> str:
        return "| " + " | ".join(c.ljust(w) for c, w in zip(cells, widths)) + " |"

    return "\n".join(
        [
            f"contrastive seed evaluation: model {report.model_name} (dim {report.dim})",
            "each positive pair of the card against distractors that share the anchor's form (verb,",
            "language, idiom, code) but not its topic: share of comparisons where the partner wins",
            "",
            line(head),
            "|" + "|".join("-" * (w + 2) for w in widths) + "|",
            *(line(r) for r in rows),
            "",
            "50% is chance; a model that matches on the instruction verb or the language, not the",
            "topic, scores below it.",
        ]
    )
