"""BM25 after a write, at 100k documents: the previous bm25s rebuild vs the incremental index.

Why: the previous lexical index rebuilt a partition's whole bm25s matrix on the first search
after any write (11-14 s at 100k documents, issue 10). The incremental :class:`LexicalIndex`
keeps postings and statistics current, so a write costs its own tokens. Both run here on the
same analysed tokens (analysis is timed once, apart), in the same process:

    python benchmarks/lexical_update.py            # 100k English documents
    python benchmarks/lexical_update.py --n 20000 --lang de
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from benchmarks._synthetic import make_corpus, queries  # noqa: E402
from deposium_rag.lexical import LexicalIndex, LexicalState, analyzer_for  # noqa: E402


def _bm25s_build(tokens: list[list[str]]) -> tuple[dict[str, int], object]:
    """The previous implementation's rebuild: vocabulary ids, then ``bm25s.BM25.index``."""
    import bm25s
    from bm25s.tokenization import Tokenized

    vocab: dict[str, int] = {}
    rows = [[vocab.setdefault(t, len(vocab)) for t in toks] for toks in tokens]
    bm25 = bm25s.BM25(k1=1.2, b=0.75)
    bm25.index(Tokenized(ids=rows, vocab=vocab), show_progress=False)
    return vocab, bm25


def _bm25s_top(vocab: dict[str, int], bm25: object, query: list[str], k: int = 10) -> np.ndarray:
    qids = [vocab[t] for t in query if t in vocab]
    scores = np.asarray(bm25.get_scores_from_ids(qids), dtype=np.float32)  # type: ignore[attr-defined]
    return np.argsort(-scores, kind="stable")[:k]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n", type=int, default=100_000)
    parser.add_argument("--lang", default="en")
    parser.add_argument("--queries", type=int, default=200)
    args = parser.parse_args()
    corpus = [t for t, _ in make_corpus(args.n, [args.lang])]
    qs = [q for q, _ in queries([args.lang], args.queries)]
    analyzer = analyzer_for(args.lang)
    rows: list[tuple[str, str]] = []

    t = time.perf_counter()
    tokens = [analyzer.tokens(text) for text in corpus]
    rows.append(("analyse all documents (both pay it once)", f"{time.perf_counter() - t:.2f} s"))
    qtok = [analyzer.tokens(q) for q in qs]
    ids = [f"d{i}" for i in range(len(corpus))]
    extra = analyzer.tokens(corpus[0] + " freshly added")

    # previous: a write invalidates the matrix; the next search rebuilds it
    t = time.perf_counter()
    vocab, bm25 = _bm25s_build(tokens)
    build_old = time.perf_counter() - t
    t = time.perf_counter()
    for q in qs:  # query analysis included, as in ix.top
        _bm25s_top(vocab, bm25, analyzer.tokens(q))
    query_old = (time.perf_counter() - t) / len(qs)
    t = time.perf_counter()
    vocab, bm25 = _bm25s_build([*tokens, extra])
    _bm25s_top(vocab, bm25, qtok[0])
    add1_old = time.perf_counter() - t
    del vocab, bm25

    # incremental
    ix = LexicalIndex(args.lang)
    t = time.perf_counter()
    for i in range(0, len(ids), 2_000):
        ix.add_tokens(ids[i : i + 2_000], tokens[i : i + 2_000])
    build_new = time.perf_counter() - t
    t = time.perf_counter()
    for q in qs:
        ix.top(q, 10)
    query_new = (time.perf_counter() - t) / len(qs)
    samples = []
    for j in range(20):
        t = time.perf_counter()
        ix.add_tokens([f"new{j}"], [extra])
        ix.top(qs[j], 10)
        samples.append(time.perf_counter() - t)
    add1_new = float(np.median(samples))
    pool = ids[:: max(1, len(ids) // 100)][:100]
    t = time.perf_counter()
    for q in qs:
        ix.scores_for(q, pool)
    scores_for = (time.perf_counter() - t) / len(qs)
    t = time.perf_counter()
    ix.delete(ids[:100])
    ix.add_tokens(ids[:100], tokens[:100])
    upsert100 = time.perf_counter() - t

    t = time.perf_counter()
    state = ix.export_state()
    export = time.perf_counter() - t
    nbytes = sum(a.nbytes for a in state.arrays.values())
    with tempfile.TemporaryDirectory() as tmp:
        state.write(Path(tmp) / "full")
        ix.export_state(postings=False).write(Path(tmp) / "slim")
        t = time.perf_counter()
        LexicalIndex.from_state(LexicalState.read(Path(tmp) / "full", mmap=True))
        load_full = time.perf_counter() - t
        t = time.perf_counter()
        LexicalIndex.from_state(LexicalState.read(Path(tmp) / "slim"))
        load_slim = time.perf_counter() - t

    rows += [
        ("build: previous bm25s / incremental", f"{build_old:.2f} s / {build_new:.2f} s"),
        (
            "add 1 document then top-10 query: previous / incremental",
            f"{add1_old * 1000:.0f} ms / {add1_new * 1000:.2f} ms ({add1_old / add1_new:,.0f}x)",
        ),
        (
            "warm top-10 query: previous / incremental",
            f"{query_old * 1000:.2f} ms / {query_new * 1000:.2f} ms",
        ),
        ("scores_for (100 ids)", f"{scores_for * 1000:.2f} ms"),
        ("delete 100 + add 100 (upsert)", f"{upsert100 * 1000:.1f} ms"),
        ("export_state (merge + views)", f"{export * 1000:.0f} ms"),
        (
            "from_state: postings saved (mmap) / rebuilt by sort",
            f"{load_full * 1000:.0f} ms / {load_slim * 1000:.0f} ms",
        ),
        ("state arrays per document (bytes)", f"{nbytes / len(ix):.0f}"),
    ]
    print(f"| {args.n:,} {args.lang} documents | |\n|---|---|")
    for k, v in rows:
        print(f"| {k} | {v} |")


if __name__ == "__main__":
    main()
