"""Where the corpus-evidence routing rule changes routes (chooses ``EVIDENCE_BELOW``), dev half.

Why: the check asks up to four partitions about the query's words, which costs time on every
query; this shows, by query length and by the best candidate's probability (prior included),
how often the check changes the route and whether the query's own language is then the only
one searched (``only_own``) or searched at all (``in``), with the check on and off.

    DEPOSIUM_DATA=../shared/data python benchmarks/routing_evidence_gate.py
"""

from __future__ import annotations

import sys
import time
from collections import Counter, defaultdict
from pathlib import Path

HERE = Path(__file__).resolve().parent
for p in (HERE.parent, HERE):
    if str(p) not in sys.path:
        sys.path.insert(0, str(p))

import messy_routing as mr  # noqa: E402

import deposium_rag.retrievers.router as rm  # noqa: E402
from deposium_rag import BUNDLED_MODEL, LanguageRouter, StaticEmbedder  # noqa: E402


def main() -> None:
    docs, queries = mr.build(False)
    queries = [
        q for q in queries if mr.split_of(q) == "dev" and mr.kind_of(q) in ("sentence", "keywords", "pairs")
    ]
    router = LanguageRouter(StaticEmbedder(BUNDLED_MODEL))
    router.add([d.text for d in docs], ids=[d.id for d in docs])
    checked = rm._fewer_words
    rm.EVIDENCE_BELOW = 2.0  # ask on every query; the gate is what this measures
    stats: dict[tuple[str, str], Counter[str]] = defaultdict(Counter)
    t_on = t_off = 0.0
    present = [lang for lang in router.counts() if lang != "und"]
    for q in queries:
        rm._fewer_words = checked
        t = time.perf_counter()
        on = router.route(q.text)
        t_on += time.perf_counter() - t
        rm._fewer_words = lambda *a: set()
        t = time.perf_counter()
        off = router.route(q.text)
        t_off += time.perf_counter() - t
        p = rm._with_prior(router.detector.detect(q.text, present), router.counts(), rm.PRIOR_WEIGHT)[0]
        words = len(q.text.split())
        key = (
            "w<=3" if words <= 3 else "w<=5" if words <= 5 else "w>5",
            "p>=.99" if p.probability >= 0.99 else "p>=.9" if p.probability >= 0.9 else "p<.9",
        )
        s = stats[key]
        s["n"] += 1
        if on.languages != off.languages:
            s["changed"] += 1
            s["only_own_on"] += on.languages == (q.language,)
            s["only_own_off"] += off.languages == (q.language,)
            s["in_on"] += q.language in on.languages
            s["in_off"] += q.language in off.languages
    n = len(queries)
    print(f"{n} dev queries; route() ms/query: check on {t_on / n * 1e3:.3f}, off {t_off / n * 1e3:.3f}")
    for key in sorted(stats):
        print(key, dict(stats[key]))


if __name__ == "__main__":
    main()
