"""Contrastive seed evaluation: positive pairs against same-verb, other-topic distractors."""

from __future__ import annotations

import zlib
from collections.abc import Sequence

import numpy as np
import pytest

from deposium_rag import cli, seed_eval
from deposium_rag.models import MODEL_ENV_VAR


class _ByFirstWord:
    """A model that only sees a text's first word: it matches on the verb, never the topic."""

    model_name, dim = "first-word", 64

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        out = []
        for t in texts:
            # crc32, not hash(): str hashes change per process, which made this test flaky
            rng = np.random.default_rng(zlib.crc32(t.split()[0].lower().encode("utf-8")))
            out.append(rng.normal(size=self.dim))
        return np.asarray(out, dtype=np.float32)


class _Partners:
    """Partners of every pair share one vector; clusters share a centre: a perfect model."""

    model_name, dim = "partners", 256

    def __init__(self) -> None:
        rng = np.random.default_rng(0)
        self.v: dict[str, np.ndarray] = {}
        for pairs in (
            seed_eval.SIMILAR_PAIRS,
            seed_eval.MULTILINGUAL_PAIRS,
            seed_eval.INSTRUCTION_PAIRS,
            seed_eval.IDIOM_PAIRS,
            seed_eval.CODE_PAIRS,
        ):
            for a, b in pairs:
                self.v[a] = self.v[b] = rng.normal(size=self.dim)
        for topic in seed_eval.CLUSTER_TOPICS:
            centre = rng.normal(size=self.dim)
            for t in topic:
                self.v[t] = centre + 0.05 * rng.normal(size=self.dim)
        self.rng = rng

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        return np.asarray([self.v.setdefault(t, self.rng.normal(size=self.dim)) for t in texts])


def test_frames_rebuild_the_cards_instruction_texts() -> None:
    rebuilt = [frame.format(topic) for frame, topic in seed_eval.INSTRUCTION_FRAMES]
    assert rebuilt == [a for a, _ in seed_eval.INSTRUCTION_PAIRS]


def test_distractors_share_the_verb_not_the_topic() -> None:
    anchor, positive, distractors = seed_eval.contrastive_triplets("instruction_awareness")[0]
    assert anchor == "Explain how neural networks work"
    assert positive == "neural networks explanation tutorial guide"
    assert "Explain how photosynthesis work" in distractors and len(distractors) == 6
    assert all(d.startswith("Explain how") and "neural" not in d for d in distractors)
    ml = seed_eval.contrastive_triplets("multilingual_alignment")[0]
    assert ml[0] == "Hello world" and "Good morning" in ml[2]  # same language, other meaning


def test_a_perfect_model_wins_everything_and_a_verb_matcher_loses() -> None:
    perfect = seed_eval.run_contrastive(_Partners())
    assert all(d.share == 1.0 for d in perfect.dimensions) and perfect.overall == 1.0
    verb = seed_eval.run_contrastive(_ByFirstWord())
    instruction = next(d for d in verb.dimensions if d.key == "instruction_awareness")
    assert instruction.share == 0.0 and instruction.total == 42
    assert verb.overall < 0.5


def test_cli_contrastive_report(capsys: pytest.CaptureFixture[str], monkeypatch) -> None:
    monkeypatch.delenv(MODEL_ENV_VAR, raising=False)
    code = cli.main(["eval", "--suite", "seed", "--contrastive", "--model", "bundled"])
    out = capsys.readouterr().out
    assert code == 0
    assert "contrastive seed evaluation: model bundled" in out
    for name in seed_eval.DIMENSIONS.values():
        assert f"| {name}" in out
    assert "| Overall (pooled)" in out and "/242" in out
    code = cli.main(["eval", "--suite", "xquad", "--contrastive", "--model", "bundled"])
    assert code == 2 and "--contrastive applies to --suite seed only" in capsys.readouterr().err
