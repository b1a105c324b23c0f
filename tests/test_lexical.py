"""Per-language analysers and the BM25 index: scripts, stemming, updates."""

from __future__ import annotations

import threading
from collections.abc import Callable

import pytest

from deposium_rag.lexical import ANALYZERS, Analyzer, LexicalIndex, analyzer_for


@pytest.mark.parametrize(
    ("lang", "text", "expected"),
    [
        ("en", "The runners were running in the parks", ["runner", "run", "park"]),
        ("de", "Die Häuser wurden gebaut", ["haus", "wurd", "gebaut"]),
        ("zh", "委员会批准", ["委", "员", "会", "批", "准", "委员", "批准"]),
        ("th", "ทีมรับ", ["ทีม", "ีมร", "มรั", "รับ"]),
        ("ja", "東京です", ["東", "京", "です"]),
    ],
)
def test_script_aware_analysis(lang: str, text: str, expected: list[str]) -> None:
    toks = analyzer_for(lang).tokens(text)
    for t in expected:
        assert t in toks, (lang, toks)


def test_digits_do_not_swallow_unspaced_script() -> None:
    # "308分" is a number then Han text: the Han part gets its characters and bigrams.
    toks = analyzer_for("zh").tokens("丢了 308分，联赛2015赛季冠军")
    assert "308" in toks and "分" in toks and "2015" in toks and "赛季" in toks and "冠军" in toks
    assert analyzer_for("th").tokens("ทีม2015รับ") == ["ทีม", "2015", "รับ"]


def test_combining_marks_stay_inside_words() -> None:
    toks = Analyzer("hi").tokens("पैंथर्स डिफ़ेंस लीग")  # no stemmer: raw script-aware words
    assert toks == ["पैंथर्स", "डिफ़ेंस", "लीग"]


def test_table_and_fallback() -> None:
    assert ANALYZERS["fr"].stemmer == "french" and "le" in ANALYZERS["fr"].stopwords
    unknown = analyzer_for("sw")
    assert unknown.stemmer is None and unknown.tokens("Habari ya asubuhi") == ["habari", "ya", "asubuhi"]


def test_stemmers_are_per_thread() -> None:
    a = analyzer_for("en")
    results: list[list[str]] = []

    def work() -> None:
        for _ in range(200):
            results.append(a.tokens("running runners ran quickly"))

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert all(r == results[0] for r in results) and len(results) == 800


def test_index_updates_are_visible() -> None:
    ix = LexicalIndex("en")
    ix.add(["a", "b"], ["cats are running", "dogs bark loudly"])
    order, scores = ix.scores("running cat")
    assert dict(zip(order, scores))["a"] > 0 and dict(zip(order, scores))["b"] == 0
    ix.add(["b"], ["a cat is running too"])  # upsert
    order, scores = ix.scores("cat")
    assert all(s > 0 for s in scores)
    ix.delete(["a"])
    assert ix.scores("cat")[0] == ["b"]
    order, scores = ix.scores("zebra")
    assert not scores.any()
    ix.clear()
    assert len(ix) == 0 and ix.scores("cat")[0] == []


# -- the incremental index ------------------------------------------------------------------------
import json  # noqa: E402
import math  # noqa: E402
import os  # noqa: E402
import random  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

import deposium_rag.lexical as lexical_module  # noqa: E402
from deposium_rag.errors import StoreFormatError  # noqa: E402
from deposium_rag.lexical import LexicalState  # noqa: E402

DATA = Path(os.environ.get("DEPOSIUM_DATA", Path(__file__).resolve().parents[2] / "shared" / "data"))
needs_data = pytest.mark.skipif(not (DATA / "xquad-r").is_dir(), reason="shared XQuAD data not present")


def _xquad(lang: str) -> tuple[list[str], list[str]]:
    data = json.loads((DATA / "xquad-r" / f"{lang}.json").read_text(encoding="utf-8"))["data"]
    paragraphs = [p["context"].strip() for a in data for p in a["paragraphs"]]
    questions = [q["question"] for a in data for p in a["paragraphs"] for q in p["qas"]]
    return paragraphs, questions


def _bm25s(docs: dict[str, list[str]], k1: float = 1.2) -> Callable[[list[str]], np.ndarray]:
    """The previous implementation: a bm25s matrix built from the kept tokens, in id order."""
    import bm25s
    from bm25s.tokenization import Tokenized

    vocab: dict[str, int] = {}
    rows = [[vocab.setdefault(t, len(vocab)) for t in toks] for toks in docs.values()]
    bm25 = bm25s.BM25(k1=k1, b=0.75)
    bm25.index(Tokenized(ids=rows, vocab=vocab), show_progress=False)

    def scores(query: list[str]) -> np.ndarray:
        qids = [vocab[t] for t in query if t in vocab]
        if not qids:
            return np.zeros(len(docs), np.float32)
        return np.asarray(bm25.get_scores_from_ids(qids), dtype=np.float32)

    return scores


def _same(a: LexicalIndex, b: LexicalIndex, queries: list[str]) -> None:
    """Same ids in the same order and the same scores through every read path."""
    assert len(a) == len(b)
    for q in queries:
        oa, sa = a.scores(q)
        ob, sb = b.scores(q)
        assert oa == ob
        np.testing.assert_allclose(sa, sb, rtol=1e-6, atol=1e-7)
        ta, tb = a.top(q, 10), b.top(q, 10)
        assert [d for d, _ in ta] == [d for d, _ in tb]
        np.testing.assert_allclose([s for _, s in ta], [s for _, s in tb], rtol=1e-9)
        some = oa[::7]
        fa, fb = a.scores_for(q, some), b.scores_for(q, some)
        assert fa.keys() == fb.keys()
        np.testing.assert_allclose(list(fa.values()), list(fb.values()), rtol=1e-9, atol=1e-12)


@pytest.fixture
def small_thresholds(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tiny merge thresholds, so a few hundred documents go through runs, merges and compaction."""
    monkeypatch.setattr(lexical_module, "_FRESH_MAX", 64)
    monkeypatch.setattr(lexical_module, "_DEAD_MIN", 8)


@needs_data
@pytest.mark.parametrize("lang", ["en", "de", "zh", "th"])
def test_scores_equal_bm25s(lang: str, small_thresholds: None) -> None:
    paragraphs, questions = _xquad(lang)
    ix = LexicalIndex(lang)
    ids = [f"{lang}{i}" for i in range(len(paragraphs))]
    for i in range(0, len(ids) - 5, 37):  # batches: several runs...
        ix.add(ids[i : min(i + 37, len(ids) - 5)], paragraphs[i : min(i + 37, len(ids) - 5)])
    lexical_module._FRESH_MAX = 10**6  # ... and a fresh tail (the fixture restores the threshold)
    ix.add(ids[-5:], paragraphs[-5:])
    reference = _bm25s({d: ix.analyzer.tokens(t) for d, t in zip(ids, paragraphs)})
    assert len(ix._runs) > 1 and ix._fresh_from < len(ids)  # the interesting layout
    for q in [*questions[:150], "", "zzzz qqqq", questions[0] + " " + questions[0]]:
        expected = reference(ix.analyzer.tokens(q))
        order, got = ix.scores(q)
        assert order == ids
        np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-5)
        top = ix.top(q, 10)
        ranked = [ids[i] for i in np.argsort(-expected, kind="stable")[:10] if expected[i] > 0]
        assert [d for d, _ in top] == ranked or np.allclose(
            [s for _, s in top], np.sort(expected)[::-1][: len(top)], rtol=1e-5
        )  # float32 ties may order differently; the scores must not
        assert all(s > 0 for _, s in top)


def _operations(ix: LexicalIndex, texts: list[str], seed: int) -> dict[str, str]:
    """Random adds, upserts (new text), deletes and re-adds; returns the expected live docs in order."""
    rng = random.Random(seed)
    model: dict[str, str] = {}
    for _ in range(60):
        kind = rng.random()
        if kind < 0.55 or not model:
            batch = [f"d{rng.randrange(400)}" for _ in range(rng.randrange(1, 25))]
            chosen = [rng.choice(texts) for _ in batch]
            ix.add(batch, chosen)
            for d, t in zip(batch, chosen):
                model.pop(d, None)
                model[d] = t
        else:
            gone = rng.sample(sorted(model), min(len(model), rng.randrange(1, 30)))
            ix.delete([*gone, "never-added"])
            for d in gone:
                model.pop(d)
    return model


def _scratch(model: dict[str, str], lang: str = "en") -> LexicalIndex:
    ix = LexicalIndex(lang)
    ix.add(list(model), list(model.values()))
    return ix


@needs_data
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_incremental_equals_scratch(seed: int, small_thresholds: None) -> None:
    paragraphs, questions = _xquad("en")
    texts = [s for p in paragraphs for s in p.split(". ")]
    ix = LexicalIndex("en")
    model = _operations(ix, texts, seed)
    assert list(ix.scores("the")[0]) == list(model)
    _same(ix, _scratch(model), questions[:40])
    # and the same as bm25s on the final documents
    reference = _bm25s({d: ix.analyzer.tokens(t) for d, t in model.items()})
    for q in questions[:20]:
        np.testing.assert_allclose(ix.scores(q)[1], reference(ix.analyzer.tokens(q)), rtol=1e-5, atol=1e-5)


def test_repeated_id_in_one_batch_last_wins() -> None:
    ix = LexicalIndex("en")
    ix.add(["a", "b", "a"], ["cats", "dogs", "zebras"])
    assert ix.scores("zebra") == (["b", "a"], pytest.approx(ix.scores("zebra")[1]))
    assert ix.top("cat", 5) == [] and ix.top("zebra", 5)[0][0] == "a" and len(ix) == 2


def test_top_filters_before_ranking() -> None:
    ix = LexicalIndex("en")
    ids = [f"d{i}" for i in range(300)]
    ix.add(ids, [f"apple {'apple ' * (i % 5)} banana{i}" for i in range(300)])
    order, scores = ix.scores("apple")
    for allowed in ({"d3", "d250", "d7", "nope"}, set(ids[::2]), lambda d: d.endswith("1")):
        keep = [allowed(d) if callable(allowed) else d in allowed for d in order]
        masked = np.where(keep, scores, 0.0)
        want = [order[i] for i in np.argsort(-masked, kind="stable")[:10] if masked[i] > 0]
        got = ix.top("apple", 10, allowed)
        assert [d for d, _ in got] == want
        assert [s for _, s in got] == pytest.approx([float(masked[order.index(d)]) for d in want], rel=1e-6)
    assert ix.top("apple", 10, set()) == [] and ix.top("apple", 0) == []
    assert ix.scores_for("apple banana7", ["d7", "d8", "unknown"]).keys() == {"d7", "d8"}


@needs_data
def test_export_import_round_trip(tmp_path: Path, small_thresholds: None) -> None:
    paragraphs, questions = _xquad("en")
    texts = [s for p in paragraphs for s in p.split(". ")]
    ix = LexicalIndex("en", k1=1.5)
    model = _operations(ix, texts, 7)
    state = ix.export_state()
    assert state.meta["kind"] == "full" and all(not a.flags.writeable for a in state.arrays.values())
    json.dumps(state.meta)  # JSON-able
    back = LexicalIndex.from_state(state)
    assert back.k1 == 1.5 and back.version == ix.version
    _same(ix, back, questions[:30])
    state.write(tmp_path / "full")
    assert all(np.load(p, allow_pickle=False) is not None for p in (tmp_path / "full").glob("*.npy"))
    mapped = LexicalIndex.from_state(LexicalState.read(tmp_path / "full", mmap=True))
    _same(ix, mapped, questions[:30])
    # a loaded (memory-mapped) index takes writes: copy-on-write, files untouched
    before = {p.name: p.read_bytes() for p in (tmp_path / "full").iterdir()}
    mapped.add(["new"], ["a brand new sentence about Normandy"])
    mapped.delete([next(iter(model))])
    ix.add(["new"], ["a brand new sentence about Normandy"])
    ix.delete([next(iter(model))])
    _same(ix, mapped, questions[:30])
    assert before == {p.name: p.read_bytes() for p in (tmp_path / "full").iterdir()}
    assert LexicalIndex.from_state(LexicalIndex("en").export_state()).top("x", 3) == []
    # without postings: rebuilt from the forward index on load
    slim = ix.export_state(postings=False)
    assert "post_docs" not in slim.arrays
    slim.write(tmp_path / "slim")
    _same(ix, LexicalIndex.from_state(LexicalState.read(tmp_path / "slim")), questions[:30])


@needs_data
def test_deltas_replay_to_the_same_index(tmp_path: Path, small_thresholds: None) -> None:
    paragraphs, questions = _xquad("en")
    texts = [s for p in paragraphs for s in p.split(". ")]
    ix = LexicalIndex("en")
    _operations(ix, texts, 3)
    full = ix.export_state()
    deltas = []
    for seed in (4, 5, 6):
        _operations(ix, texts, seed)
        ix.add(["brand-new"], [f"unseen{seed} vocabulary{seed} words"])
        since = deltas[-1].meta["version"] if deltas else full.meta["version"]
        delta = ix.export_delta(since)
        assert len(delta.meta["ids"]) < len(ix)  # only what changed
        delta.write(tmp_path / f"d{seed}")
        deltas.append(delta)
    full.write(tmp_path / "full")
    loaded = LexicalIndex.from_state(LexicalState.read(tmp_path / "full", mmap=True))
    with pytest.raises(StoreFormatError, match="out of order"):
        loaded.apply_delta(deltas[1])
    for seed in (4, 5, 6):
        loaded.apply_delta(LexicalState.read(tmp_path / f"d{seed}"))
    _same(ix, loaded, [*questions[:30], "unseen6 vocabulary5"])
    assert loaded.export_delta(loaded.version).meta["ids"] == []  # nothing since
    with pytest.raises(ValueError, match="full state"):
        ix.export_delta(-5)
    never = LexicalIndex("en")
    never.add(["a"], ["x"])
    never.delete(["a"])
    with pytest.raises(ValueError, match="full state"):  # no export yet: nothing to count from
        never.export_delta(0)
    ix.clear()
    with pytest.raises(ValueError, match="full state"):
        ix.export_delta(deltas[-1].meta["version"])


def test_postings_rebuilt_from_a_large_vocabulary() -> None:
    """Past 65,536 postings and terms the rebuild sorts by 16-bit halves: same index."""
    rng = np.random.default_rng(0)
    ix = LexicalIndex("und")
    ids = [f"d{i}" for i in range(3000)]
    docs = [[f"t{x}" for x in rng.integers(0, 150_000, 60)] for _ in ids]
    ix.add_tokens(ids, docs)
    assert len(ix._vocab) > 65_536
    slim = LexicalIndex.from_state(ix.export_state(postings=False))
    queries = [" ".join(docs[i][:3]) for i in range(0, 3000, 97)]
    _same(ix, slim, [*queries, "t70000 t149999", "t5 t5 t80000"])


def test_from_state_takes_over_a_known_slot_map_only_for_the_same_ids() -> None:
    ix = LexicalIndex("en")
    ix.add(["a", "b", "c"], ["red apples", "green pears", "red pears"])
    state = ix.export_state()
    known = {"a": 0, "b": 1, "c": 2}
    shared = LexicalIndex.from_state(state, slots=(["a", "b", "c"], known))
    assert shared._slot_of is known and shared.top("red", 3) == ix.top("red", 3)
    swapped = {"b": 0, "a": 1, "c": 2}
    own = LexicalIndex.from_state(state, slots=(["b", "a", "c"], swapped))
    assert own._slot_of is not swapped and own.top("green pears", 1)[0][0] == "b"


def test_damaged_state_is_a_store_format_error(tmp_path: Path) -> None:
    ix = LexicalIndex("en")
    ix.add(["a", "b"], ["cats run", "dogs bark"])
    state = ix.export_state()
    bad = dict(state.arrays)
    bad["post_docs"] = np.array([0, 1, 9, 1], np.int32)
    with pytest.raises(StoreFormatError):
        LexicalIndex.from_state(LexicalState(state.meta, bad))
    bad = dict(state.arrays)
    bad["doc_terms"] = bad["doc_terms"].astype(np.int64)
    with pytest.raises(StoreFormatError):
        LexicalIndex.from_state(LexicalState(state.meta, bad))
    with pytest.raises(StoreFormatError):
        LexicalIndex.from_state(LexicalState({**state.meta, "format_version": 99}, state.arrays))
    with pytest.raises(StoreFormatError):
        LexicalIndex.from_state(LexicalState({**state.meta, "ids": ["a"]}, state.arrays))
    state.write(tmp_path)
    (tmp_path / "lexical.post_tfs.npy").unlink()
    with pytest.raises(StoreFormatError):
        LexicalState.read(tmp_path)


def test_writers_and_readers_in_threads(small_thresholds: None) -> None:
    words = [f"w{i}" for i in range(60)]
    rng = random.Random(0)
    texts = [" ".join(rng.choices(words, k=12)) for _ in range(200)]
    ix = LexicalIndex("und")
    errors: list[BaseException] = []
    finals: dict[int, dict[str, str]] = {}

    def writer(w: int) -> None:
        r = random.Random(w)
        model: dict[str, str] = {}
        try:
            for _ in range(150):
                if r.random() < 0.7 or not model:
                    d, t = f"{w}-{r.randrange(80)}", r.choice(texts)
                    ix.add([d], [t])
                    model.pop(d, None)
                    model[d] = t
                else:
                    d = r.choice(sorted(model))
                    ix.delete([d])
                    del model[d]
            finals[w] = model
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    def reader() -> None:
        try:
            for i in range(300):
                q = " ".join(rng.choices(words, k=3))
                top = ix.top(q, 5)
                assert all(s > 0 for _, s in top)
                ix.scores_for(q, [d for d, _ in top] + ["0-1"])
                if i % 20 == 0:
                    order, scores = ix.scores(q)
                    assert len(order) == len(scores)
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(w,)) for w in range(3)]
    threads += [threading.Thread(target=reader) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    live = {d for m in finals.values() for d in m}
    assert set(ix.scores("w1")[0]) == live
    expected = _scratch({d: t for m in finals.values() for d, t in m.items()}, "und")
    for q in ["w1 w2", "w30", "w5 w5 w59"]:
        got = dict(ix.top(q, 500))
        want = dict(expected.top(q, 500))
        assert got.keys() == want.keys() and all(abs(got[d] - want[d]) < 1e-9 for d in got)


def _reference(
    docs: dict[str, list[str]], query: list[str], k1: float = 1.2, b: float = 0.75
) -> dict[str, float]:
    """BM25 "lucene" written out term by term, in float64: what every read path must return."""
    n = len(docs)
    avgdl = sum(len(t) for t in docs.values()) / n
    out = {}
    for d, toks in docs.items():
        score = 0.0
        for term in set(query):
            tf = toks.count(term)
            if not tf:
                continue
            df = sum(term in t for t in docs.values())
            idf = math.log1p((n - df + 0.5) / (df + 0.5))
            score += query.count(term) * idf * tf / (tf + k1 * (1 - b + b * len(toks) / avgdl))
        out[d] = score
    return out


def test_top_and_scores_for_equal_the_formula_through_writes(small_thresholds: None) -> None:
    """Scores stay exact through runs, the fresh tail, deletes (dead slots), upserts, and
    exports that renumber slots: the per-slot length norms are recomputed after each of them."""
    rng = random.Random(3)
    words = [f"w{i}" for i in range(40)]
    texts = {
        f"d{i}": " ".join(rng.choice(words[: 5 + i % 35]) for _ in range(3 + i % 17)) for i in range(300)
    }
    ix = LexicalIndex("xx")  # no stemmer, no stopwords: tokens are the words
    live: dict[str, str] = {}
    # (the last one has more terms than scores_for binary-searches: its forward-index path)
    queries = ["w1 w2", "w3 w3 w30", "w39", "w0 w7 w12 w25", "nothing here", " ".join(words[::2])]

    def check() -> None:
        for run in ix._runs:  # scores_for binary-searches each term's slots: ascending, always
            assert all((np.diff(run.docs[a:b]) > 0).all() for a, b in zip(run.indptr[:-1], run.indptr[1:]))
        docs = {d: ix.analyzer.tokens(t) for d, t in live.items()}
        for q in queries:
            want = _reference(docs, ix.analyzer.tokens(q))
            ranked = sorted(
                (d for d in live if want[d] > 0), key=lambda d: -want[d]
            )  # stable: insertion order
            got = ix.top(q, 15)
            assert [round(s, 9) for _, s in got] == [round(want[d], 9) for d in ranked[:15]]
            assert all(abs(s - want[d]) < 1e-9 for d, s in got)
            some = [*list(live)[::9], "unknown"]
            assert ix.scores_for(q, some) == pytest.approx({d: want[d] for d in some if d in live}, abs=1e-12)

    items = list(texts.items())
    for i in range(0, 240, 40):
        ix.add([d for d, _ in items[i : i + 40]], [t for _, t in items[i : i + 40]])
        live.update(items[i : i + 40])
        check()  # avgdl changes with each batch
    gone = list(live)[5:40:3]
    ix.delete(gone)
    for d in gone:
        live.pop(d)
    assert ix._dead_slots  # the dead-slot path of the scorer
    check()
    ix.add(["d7", "d100"], ["w1 w1 w1 w2", "w39 w39"])  # upserts move to the end
    live.pop("d7")
    live.pop("d100")
    live.update({"d7": "w1 w1 w1 w2", "d100": "w39 w39"})
    check()
    ix.export_state()  # compacts and renumbers slots without a write
    assert not ix._dead_slots
    check()


def test_loaded_postings_stay_memory_mapped_and_copy_on_write(tmp_path: Path) -> None:
    ix = LexicalIndex("en")
    ix.add([f"d{i}" for i in range(50)], [f"apples and pears number {i % 7}" for i in range(50)])
    ix.export_state().write(tmp_path)
    loaded = LexicalIndex.from_state(LexicalState.read(tmp_path, mmap=True))
    run = loaded._runs[0]
    assert not run.docs.flags.writeable and not run.tfs.flags.writeable  # file pages, not copies
    assert type(run.docs) is np.ndarray  # plain views: no np.memmap overhead per indexing call
    _same(ix, loaded, ["apples 3", "pears", "number 6 6"])  # pages released after the checks
    before = {p.name: p.read_bytes() for p in tmp_path.iterdir()}
    loaded.add(["new"], ["pears pears pears"])
    ix.add(["new"], ["pears pears pears"])
    _same(ix, loaded, ["apples 3", "pears"])
    assert before == {p.name: p.read_bytes() for p in tmp_path.iterdir()}


def test_a_replayed_delta_leaves_the_loaded_forward_index_mapped(tmp_path: Path) -> None:
    """A store saved full + a small delta: the replay appends the delta to a heap tail and
    the base forward index (the largest lexical array) stays on its memory map, not copied."""
    ix = LexicalIndex("en")
    ix.add([f"d{i}" for i in range(60)], [f"apples and pears number {i % 7}" for i in range(60)])
    ix.export_state().write(tmp_path / "full")
    since = ix.version
    ix.add(["new", "d3"], ["pears pears plums", "plums only"])  # one new, one replaced
    ix.delete(["d5"])
    ix.export_delta(since).write(tmp_path / "delta")
    loaded = LexicalIndex.from_state(LexicalState.read(tmp_path / "full", mmap=True))
    mapped = loaded._terms.base
    loaded.apply_delta(LexicalState.read(tmp_path / "delta"))
    assert loaded._terms.base is mapped and not mapped.flags.writeable  # not copied to the heap
    assert loaded._tfs.tail.n == loaded._terms.tail.n > 0  # the delta's postings, in the tail
    _same(ix, loaded, ["plums", "pears 3", "apples number 5", "number 3"])
    # writes after the replay, a compaction, and a full export still agree
    loaded.add(["later"], ["plums and apples"])
    ix.add(["later"], ["plums and apples"])
    loaded.delete(["d1"])
    ix.delete(["d1"])
    _same(ix, loaded, ["plums", "apples", "number 1"])
    again = LexicalIndex.from_state(loaded.export_state())
    _same(ix, again, ["plums", "apples", "number 1", "pears"])


def test_a_query_is_analysed_once_for_top_and_scores(monkeypatch: pytest.MonkeyPatch) -> None:
    """Hybrid asks a partition for a query's top documents, then for its scores of other ids:
    the analysis is reused, and never across a vocabulary change or a clear."""
    ix = LexicalIndex("en")
    ix.add(["a", "b"], ["red apples and pears", "green pears"])
    calls: list[str] = []
    real = ix.analyzer

    class Counting:
        def tokens(self, text: str) -> list[str]:
            calls.append(text)
            return real.tokens(text)

    monkeypatch.setattr(ix, "analyzer", Counting())
    top = ix.top("pears zebra", 5)
    assert ix.scores_for("pears zebra", ["a", "b"]) == dict(top)
    assert calls == ["pears zebra"]
    ix.add(["z"], ["a zebra"])  # "zebra" becomes a known term: analysed again
    assert ix.top("pears zebra", 1)[0][0] == "z" and calls.count("pears zebra") == 2
    ix.clear()
    assert ix.top("pears zebra", 5) == [] and calls.count("pears zebra") == 3


def test_scores_for_after_top_reads_the_same_scores_as_a_fresh_pass() -> None:
    """scores_for right after top() of the same query looks scores up from top's pass; the
    answers equal the full scoring, also after writes and a compaction that renumbers slots."""
    ix = LexicalIndex("en")
    texts = [f"pears {'apples ' * (i % 3)}number{i % 5} basket{i % 7}" for i in range(200)]
    ids = [f"d{i}" for i in range(200)]
    ix.add(ids, texts)

    def check(query: str) -> None:
        order, full = ix.scores(query)
        want = dict(zip(order, full.tolist()))
        ix.top(query, 3)
        got = ix.scores_for(query, [*order[::3], "unknown"])
        assert got.keys() == set(order[::3])
        assert got == pytest.approx({d: want[d] for d in order[::3]}, rel=1e-6, abs=1e-9)

    check("apples number3 basket2")
    check("nothing matches")
    ix.delete(ids[:5])  # few dead slots: kept until a compaction
    ix.top("apples number3", 3)
    ix.export_state()  # compacts and renumbers slots, no write: the kept scores are stale
    order, full = ix.scores("apples number3")
    want = dict(zip(order, full.tolist()))
    assert ix.scores_for("apples number3", order) == pytest.approx(want, rel=1e-6, abs=1e-9)
    ix.delete(ids[:120])  # a quarter dead: compaction renumbers slots
    ix.export_state()
    check("apples number3 basket2")
    ix.top("apples number3", 3)
    ix.add(["late"], ["apples number3 apples"])  # a write between top and scores_for
    order, full = ix.scores("apples number3")
    assert ix.scores_for("apples number3", ["late"])["late"] == pytest.approx(
        dict(zip(order, full.tolist()))["late"], rel=1e-6
    )
