"""Loaders for the shared evaluation data (read in place from ../shared/data, never copied)."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DATA = Path(os.environ.get("DEPOSIUM_DATA", ROOT.parent / "shared" / "data"))
XQUAD_LANGS = ["ar", "de", "el", "en", "es", "hi", "ru", "th", "tr", "vi", "zh"]


@dataclass(frozen=True)
class QASet:
    """One language of XQuAD: its paragraphs and (question, gold paragraph index) pairs."""

    language: str
    paragraphs: list[str]
    questions: list[str]
    gold: list[int]


def _xquad_file(lang: str) -> Path:
    if lang == "ro":
        return DATA / "xquad" / "xquad.ro.json"
    return DATA / "xquad-r" / f"{lang}.json"


def load_xquad(lang: str) -> QASet:
    with open(_xquad_file(lang), encoding="utf-8") as fh:
        data = json.load(fh)["data"]
    paragraphs: list[str] = []
    questions: list[str] = []
    gold: list[int] = []
    for article in data:
        for para in article["paragraphs"]:
            pid = len(paragraphs)
            paragraphs.append(para["context"].lstrip("\ufeff").strip())
            for qa in para["qas"]:
                questions.append(qa["question"].strip())
                gold.append(pid)
    return QASet(lang, paragraphs, questions, gold)


def load_all_xquad(include_ro: bool = True) -> list[QASet]:
    langs = [*XQUAD_LANGS, "ro"] if include_ro else list(XQUAD_LANGS)
    return [load_xquad(lang) for lang in langs]
