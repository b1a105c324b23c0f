"""Chunking: paragraph-aware pieces of at most ``size`` characters, with overlap.

Why paragraph-aware: a static model averages token vectors, so a chunk that mixes two topics
matches neither well; packing whole paragraphs keeps topics apart, and the overlap keeps a
sentence cut at a boundary whole in one chunk.
"""

from __future__ import annotations

import re

__all__ = ["chunk_text"]

_PARAGRAPH = re.compile(r"\n[ \t]*\n\s*")
_SENTENCE_END = re.compile(r"(?<=[.!?;:。！？；؟…])\s+|(?<=[。！？；])")


def _split_long(paragraph: str, size: int) -> list[str]:
    """Cut a paragraph longer than ``size`` at sentence ends, then spaces, then anywhere."""
    units: list[str] = []
    for sentence in (s for s in _SENTENCE_END.split(paragraph) if s.strip()):
        if len(sentence) <= size:
            units.append(sentence.strip())
            continue
        for word in sentence.split():
            while len(word) > size:  # no spaces (e.g. CJK): hard cut
                units.append(word[:size])
                word = word[size:]
            units.append(word)
    pieces: list[str] = []
    current = ""
    for unit in units:
        glue = "" if not current or _no_space_join(current, unit) else " "
        if current and len(current) + len(glue) + len(unit) > size:
            pieces.append(current)
            current, glue = "", ""
        current += glue + unit
    if current:
        pieces.append(current)
    return pieces


def _no_space_join(left: str, right: str) -> bool:
    """CJK text is written without spaces between sentences."""
    return bool(left) and bool(right) and ord(left[-1]) >= 0x2E80 and ord(right[0]) >= 0x2E80


def _tail(text: str, overlap: int) -> str:
    """The last ``overlap`` characters of ``text``, starting at a word boundary when there is one."""
    if overlap <= 0:
        return ""
    if len(text) <= overlap:
        return text
    tail = text[-overlap:]
    cut = tail.find(" ")
    return tail[cut + 1 :] if 0 <= cut < len(tail) - 1 else tail


def chunk_text(text: str, size: int = 1000, overlap: int = 100) -> list[str]:
    """Split ``text`` into chunks of at most ``size`` characters.

    Paragraphs (blank-line separated) are packed whole while they fit; a longer one is cut at
    sentence ends. Each chunk after the first starts with the last ``overlap`` characters of
    the previous one, so a sentence cut at a boundary is still found whole in one chunk.
    """
    if size < 1:
        raise ValueError(f"chunk size must be >= 1, got {size}")
    if not 0 <= overlap < size:
        raise ValueError(f"chunk overlap must be in [0, chunk size), got {overlap}")
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    pieces: list[tuple[str, bool]] = []  # (piece, continues the previous paragraph)
    for paragraph in _PARAGRAPH.split(text):
        paragraph = paragraph.strip()
        if not paragraph:
            continue
        parts = [paragraph] if len(paragraph) <= size else _split_long(paragraph, size)
        pieces.extend((p, i > 0) for i, p in enumerate(parts))
    chunks: list[str] = []
    current = ""
    for piece, continues in pieces:
        glue = (" " if not _no_space_join(current, piece) else "") if continues else "\n\n"
        if not current:
            current = piece
        elif len(current) + len(glue) + len(piece) <= size:
            current += glue + piece
        else:
            chunks.append(current)
            tail = _tail(current, overlap)
            current = tail + glue + piece if tail and len(tail) + len(glue) + len(piece) <= size else piece
    if current:
        chunks.append(current)
    return chunks
