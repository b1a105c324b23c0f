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


@dataclass(frozen=True)
class IRSet:
    """An ad-hoc collection: documents, queries and binary relevance judgments."""

    name: str
    doc_ids: list[str]
    docs: list[str]
    queries: dict[str, str]
    qrels: dict[str, set[str]]


def _sgml_blocks(text: str, tag: str) -> list[str]:
    import re

    return re.findall(rf"<{tag}>(.*?)</{tag}>", text, flags=re.S)


def load_vaswani() -> IRSet:
    import re

    base = DATA / "vaswani-npl"
    raw = (base / "corpus" / "doc-text.trec").read_text(encoding="utf-8", errors="replace")
    doc_ids, docs = [], []
    for block in _sgml_blocks(raw, "DOC"):
        m = re.search(r"<DOCNO>\s*(\S+)\s*</DOCNO>(.*)", block, flags=re.S)
        if m:
            doc_ids.append(m.group(1))
            docs.append(" ".join(m.group(2).split()))
    queries = {}
    for block in _sgml_blocks((base / "query-text.trec").read_text(encoding="utf-8"), "top"):
        num = re.search(r"<num>\s*(\S+)\s*</num>", block)
        title = re.search(r"<title>(.*?)</title>", block, flags=re.S)
        if num and title:
            queries[num.group(1)] = " ".join(title.group(1).split()).lower()
    qrels: dict[str, set[str]] = {}
    for line in (base / "qrels").read_text(encoding="utf-8").splitlines():
        parts = line.split()
        if len(parts) >= 4 and parts[3] != "0":
            qrels.setdefault(parts[0], set()).add(parts[2])
    return IRSet("vaswani", doc_ids, docs, queries, qrels)


def load_cacm() -> IRSet:
    import re
    import tarfile

    base = DATA / "cacm"
    doc_ids, docs = [], []
    with tarfile.open(base / "cacm.tar.gz") as tar:
        for member in sorted(tar.getmembers(), key=lambda m: m.name):
            if not member.isfile() or not member.name.endswith(".html"):
                continue
            fh = tar.extractfile(member)
            if fh is None:
                continue
            text = re.sub(r"<[^>]+>", " ", fh.read().decode("utf-8", errors="replace"))
            doc_ids.append(Path(member.name).stem)
            docs.append(" ".join(text.split()))
    queries = {}
    for block in _sgml_blocks((base / "topics.cacm.txt").read_text(encoding="utf-8"), "DOC"):
        m = re.search(r"<DOCNO>\s*(\S+)\s*</DOCNO>(.*)", block, flags=re.S)
        if m:
            queries[m.group(1)] = " ".join(m.group(2).split())
    qrels: dict[str, set[str]] = {}
    for line in (base / "qrels.cacm.txt").read_text(encoding="utf-8").splitlines():
        parts = line.split()
        if len(parts) >= 4 and parts[3] != "0":
            qrels.setdefault(parts[0], set()).add(parts[2])
    queries = {q: t for q, t in queries.items() if q in qrels}  # the 52 judged topics
    return IRSet("cacm", doc_ids, docs, queries, qrels)
