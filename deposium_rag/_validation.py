"""Input checks shared by the embedder, the store and the faces."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any


def check_texts(texts: Any, what: str = "texts") -> list[str]:
    """Return ``texts`` as a list of str, or raise ``TypeError`` naming the bad position.

    A bare string is refused: iterating it would embed single characters.
    """
    if texts is None:
        raise TypeError(f"{what} must be a list of str, got None")
    if isinstance(texts, (str, bytes, bytearray)):
        raise TypeError(
            f"{what} must be a list of str, got a single {type(texts).__name__}; "
            "wrap it in a list, or use the single-text method (embed_query)"
        )
    if not isinstance(texts, Sequence):
        try:
            texts = list(texts)
        except TypeError:
            raise TypeError(f"{what} must be a list of str, got {type(texts).__name__}") from None
    out = list(texts)
    for i, t in enumerate(out):
        if not isinstance(t, str):
            hint = (
                " (decode bytes first, e.g. b.decode('utf-8'))" if isinstance(t, (bytes, bytearray)) else ""
            )
            raise TypeError(f"{what}[{i}] must be str, got {type(t).__name__}{hint}")
    return out


def check_text(text: Any, what: str = "text") -> str:
    """Return ``text`` if it is a str, else raise ``TypeError`` that says what to pass."""
    if isinstance(text, str):
        return text
    hint = " (decode bytes first, e.g. b.decode('utf-8'))" if isinstance(text, (bytes, bytearray)) else ""
    raise TypeError(f"{what} must be str, got {type(text).__name__}{hint}")


def last_wins(ids: Sequence[Any]) -> list[int]:
    """Check ids and return the positions to store: the last occurrence of each id, in order.

    Why: LangChain's own stores (a dict underneath) keep the last document when one batch
    repeats an id; raising instead breaks loaders that emit a corrected copy later in a batch.
    """
    last: dict[str, int] = {}
    for i, doc_id in enumerate(ids):
        if not isinstance(doc_id, str) or not doc_id:
            raise TypeError(f"ids[{i}] must be a non-empty str, got {doc_id!r}")
        last[doc_id] = i
    if len(last) == len(ids):
        return list(range(len(ids)))
    return sorted(last.values())
