"""The seed evaluation: the card's scoring rules, its reported figures, and our numpy clustering."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import pytest

from deposium_rag import seed_eval
from deposium_rag.models import StaticEmbedder


class _TableEncoder:
    """Partners of every pair share one vector; anything else gets its own random vector."""

    model_name = "table"
    dim = 512

    def __init__(self) -> None:
        self._rng = np.random.default_rng(0)
        self._vectors: dict[str, np.ndarray] = {}
        pairs = [
            *seed_eval.SIMILAR_PAIRS,
            *seed_eval.MULTILINGUAL_PAIRS,
            *seed_eval.INSTRUCTION_PAIRS,
            *seed_eval.IDIOM_PAIRS,
            *seed_eval.CODE_PAIRS,
        ]
        for a, b in pairs:
            self._vectors[a] = self._vectors[b] = self._new()
        for topic in seed_eval.CLUSTER_TOPICS:
            centre = self._new()
            for text in topic:
                self._vectors[text] = centre + 0.01 * self._new()

    def _new(self) -> np.ndarray:
        return self._rng.normal(size=self.dim)

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        return np.array([self._vectors.setdefault(t, self._new()) for t in texts], dtype=np.float32)


def test_card_figures_and_weights_are_consistent() -> None:
    assert set(seed_eval.CARD_SCORES) == set(seed_eval.DIMENSIONS) == set(seed_eval.WEIGHTS)
    assert math.isclose(sum(seed_eval.WEIGHTS.values()), 1.0)
    weighted = sum(seed_eval.CARD_SCORES[k] * w for k, w in seed_eval.WEIGHTS.items())
    assert round(weighted, 3) == seed_eval.CARD_OVERALL  # the card's 68.2% is this weighted mean


def test_bundled_model_scores_six_dimensions(embedder: StaticEmbedder) -> None:
    report = seed_eval.run(embedder)
    assert report.model_name == "bundled" and report.dim == embedder.dim
    assert [d.key for d in report.dimensions] == list(seed_eval.DIMENSIONS)
    for d in report.dimensions:
        assert math.isfinite(d.score) and -1.0 <= d.score <= 1.0, d
        assert d.card == seed_eval.CARD_SCORES[d.key]
    assert math.isclose(report.overall, sum(d.score * d.weight for d in report.dimensions))
    # Deterministic: same model, same numbers.
    assert seed_eval.run(embedder).scores() == report.scores()
    table = seed_eval.format_report(report)
    for name in seed_eval.DIMENSIONS.values():
        assert name in table
    assert "| dimension" in table and "card" in table and "68.20%" in table


def test_run_accepts_a_model_name() -> None:
    assert seed_eval.run("bundled").model_name == "bundled"


def test_scoring_rules_give_one_for_a_perfect_encoder() -> None:
    report = seed_eval.run(_TableEncoder())
    scores = report.scores()
    for key in ("instruction_awareness", "code_understanding", "conversational_understanding"):
        assert scores[key] == pytest.approx(1.0, abs=1e-5)
    assert scores["multilingual_alignment"] == pytest.approx(1.0, abs=1e-5)
    # similar pairs identical, dissimilar ones random in 512-d (cos ~ 0): (1 - 0 + 1) / 2
    assert scores["semantic_similarity"] == pytest.approx(1.0, abs=0.05)
    assert scores["topic_clustering"] == pytest.approx(1.0, abs=0.02)
    assert all(d.matched == d.total for d in report.dimensions if d.matched is not None)


def test_silhouette_matches_hand_computation() -> None:
    x = np.array([[0.0], [1.0], [10.0], [11.0]])
    expected = (9.5 / 10.5 + 8.5 / 9.5) / 2
    assert seed_eval.silhouette(x, [0, 0, 1, 1]) == pytest.approx(expected)
    assert seed_eval.silhouette(x, [0, 1, 0, 1]) < 0  # a bad labelling scores negative
    with pytest.raises(ValueError):
        seed_eval.silhouette(x, [0, 0, 0, 0])


def test_kmeans_recovers_blobs_deterministically() -> None:
    rng = np.random.default_rng(1)
    centres = np.array([[0.0, 0.0], [10.0, 0.0], [0.0, 10.0]])
    x = np.concatenate([c + rng.normal(scale=0.3, size=(5, 2)) for c in centres])
    true = np.repeat([0, 1, 2], 5)
    labels = seed_eval.kmeans(x, 3)
    assert seed_eval.purity(true, labels) == 1.0
    assert np.array_equal(labels, seed_eval.kmeans(x, 3))
    with pytest.raises(ValueError):
        seed_eval.kmeans(x, 0)


def test_purity() -> None:
    assert seed_eval.purity([0, 0, 1, 1], [5, 5, 5, 7]) == 0.75
    assert seed_eval.purity([0, 1, 2], [0, 0, 0]) == pytest.approx(1 / 3)
