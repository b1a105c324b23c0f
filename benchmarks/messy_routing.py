"""Language routing on a messy corpus: headers, mixed chunks, junk, unknown languages, imbalance.

Built at run time from ../shared/data (nothing is copied into the repository):

  XQuAD-R paragraphs   240 per language (ar de el en es hi ru th tr vi zh); one in three gets an
                       English page header (article title, site name, date), one in three an
                       English boilerplate line (copyright / navigation), one in four a sentence
                       of another language appended (a chunk mixing two languages; English
                       paragraphs get a German one). The paragraph keeps its language.
  English filler       Vaswani abstracts + lingua English sentences: English is most of the
                       collection, as in real documentation.
  junk                 tables of numbers, separators, markup, code-like lines, URLs: text a
                       detector cannot place (its true language is ``und``).
  unknown languages    lingua sentences (grouped 4 per chunk) of eo hy ka la sr kk, which are
                       outside the router's default candidate set.

Queries, split by index parity (even = dev, odd = test):

  sentence   XQuAD-R questions (gold: the paragraph holding the question);
  keywords   2-3 content words of the same questions (gold: the same paragraph);
  pairs      lingua word pairs (routing accuracy only);
  words      lingua single words (routing accuracy only).

Two routers over the same documents: ``detected`` (no language metadata, routes by
detection) and ``oracle`` (true language as metadata, queries forced to their language).
Reported per language and macro: routing accuracy (sentences, 2-3 word queries, 1 word),
success@5 and MRR@10 detected vs oracle, share of top-10 hits in another language, share of
top-10 hits from ``und``, share of documents filed under a wrong partition.

    python benchmarks/messy_routing.py [--split test|dev] [--small] [--dense] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import random
import time
from collections import Counter, defaultdict
from dataclasses import dataclass

from _data import DATA, XQUAD_LANGS, load_vaswani
from _metrics import mean, mrr_at, recall_at

from deposium_rag import BUNDLED_MODEL, StaticEmbedder
from deposium_rag.language import UND
from deposium_rag.lexical import analyzer_for
from deposium_rag.retrievers import LanguageRouter

UNKNOWN = ["eo", "hy", "ka", "la", "sr", "kk"]
LINGUA = DATA / "lingua-language-testdata"
SITES = ["Wikipedia, the free encyclopedia", "Knowledge Base", "Product Documentation v2.3", "Help Center"]
BOILER = [
    "Copyright © 2019 Example Corp. All rights reserved. Terms of use | Privacy policy",
    "Home > Docs > Reference > Previous page | Next page | Edit this page on GitHub",
    "This page was last edited on 12 March 2019, at 10:42. Text is available under CC BY-SA.",
    "Skip to main content. Sign in. Search the documentation. Download PDF.",
]


@dataclass(frozen=True)
class Doc:
    id: str
    text: str
    language: str  # the true language (und for junk)
    kind: str


@dataclass(frozen=True)
class Query:
    text: str
    language: str
    kind: str  # sentence | keywords | pairs | words
    gold: str | None


def _lines(folder: str, lang: str) -> list[str]:
    path = LINGUA / folder / f"{lang}.txt"
    return [x.strip() for x in path.read_text(encoding="utf-8").splitlines() if x.strip()]


def _xquad(lang: str) -> list[tuple[str, str, list[str]]]:
    """(article title, paragraph, questions) per paragraph, in file order."""
    with open(DATA / "xquad-r" / f"{lang}.json", encoding="utf-8") as fh:
        data = json.load(fh)["data"]
    out = []
    for article in data:
        for para in article["paragraphs"]:
            questions = [qa["question"].strip() for qa in para["qas"]]
            out.append(
                (article["title"].replace("_", " "), para["context"].lstrip("\ufeff").strip(), questions)
            )
    return out


def keywords(question: str, lang: str, n: int) -> str:
    """``n`` content words of a question (longest non-stopwords, in question order)."""
    import regex

    if lang in ("zh", "th"):  # written without spaces: a run of the script, cut short
        runs = sorted(regex.findall(r"[\p{Han}\p{Thai}]+", question), key=len, reverse=True)
        return runs[0][: 2 + 2 * n] if runs else question[:6]
    stop = analyzer_for(lang).stopwords
    words = [w for w in regex.findall(r"[\p{L}\p{M}\p{N}]+", question) if w.casefold() not in stop]
    keep = set(sorted(range(len(words)), key=lambda i: (-len(words[i]), i))[:n])
    return " ".join(w for i, w in enumerate(words) if i in keep)


def junk(rng: random.Random, i: int) -> str:
    """Text with no language to speak of: tables, separators, markup, code, URLs."""
    kind = i % 5
    if kind == 0:
        rows = [
            " | ".join(f"{rng.uniform(0, 5000):.{rng.randint(0, 3)}f}" for _ in range(5)) for _ in range(6)
        ]
        return "| " + " |\n| ".join(rows) + " |\n|---|---|---|---|---|"
    if kind == 1:
        return (
            f"---- {rng.randint(1, 9)}.{rng.randint(0, 9)} ----\n==== {rng.randint(1, 99)} ====  ***  § {i}"
        )
    if kind == 2:
        n = rng.randint(1, 999)
        return f'<div class="nav-{n}"><a href="/x/{n}.html">&raquo;</a></div><br/><span id="q{n}"></span>'
    if kind == 3:
        a, b = rng.randint(0, 255), rng.randint(0, 9)
        return f"x{b} = f(y[{b}]) + 0x{a:02X}; /* {a} */\nif (x{b} > {a}) {{ z{b}++; }} // {b}:{a}"
    return (
        f"https://cdn{i}.example.com/a/{rng.randint(10**5, 10**6)}/img_{i}.png?w={rng.randint(1, 999)}&h=42"
    )


def build(small: bool, seed: int = 0) -> tuple[list[Doc], list[Query]]:
    rng = random.Random(seed)
    docs: list[Doc] = []
    queries: list[Query] = []
    foreign = {lang: _lines("sentences", "en" if lang != "en" else "de") for lang in XQUAD_LANGS}
    for lang in XQUAD_LANGS:
        qi = 0
        for pid, (title, text, questions) in enumerate(_xquad(lang)):
            kind = "clean"
            if pid % 3 == 0:
                header = f"{title} - {SITES[pid % len(SITES)]}\nRetrieved 2019-05-{1 + pid % 28:02d}."
                text = f"{header} Page {pid}\n\n{text}"
                kind = "header"
            elif pid % 3 == 1:
                text = f"{BOILER[pid % len(BOILER)]}\n{text}"
                kind = "boilerplate"
            if pid % 4 == 2:
                extra = foreign[lang][pid % len(foreign[lang])]
                text = f"{text}\n{extra}" if pid % 8 == 2 else f"{extra}\n{text}"
                kind += "+mixed"
            did = f"{lang}:{pid}"
            docs.append(Doc(did, text, lang, kind))
            for q in questions:
                queries.append(Query(q, lang, f"sentence#{qi}", did))
                queries.append(Query(keywords(q, lang, 2 + (qi // 2) % 2), lang, f"keywords#{qi}", did))
                qi += 1
        for i, pair in enumerate(_lines("word-pairs", lang)):
            queries.append(Query(pair, lang, f"pairs#{i}", None))
        for i, word in enumerate(_lines("single-words", lang)):
            queries.append(Query(word, lang, f"words#{i}", None))
    vas = load_vaswani()
    n_vas = 800 if small else 3000
    for i, text in enumerate(vas.docs[:n_vas]):
        docs.append(Doc(f"en-filler:v{i}", text, "en", "filler"))
    en_sent = _lines("sentences", "en")
    for i in range(0, len(en_sent), 2):
        docs.append(Doc(f"en-filler:s{i}", " ".join(en_sent[i : i + 2]), "en", "filler"))
    for i in range(120 if small else 300):
        docs.append(Doc(f"junk:{i}", junk(rng, i), UND, "junk"))
    for lang in UNKNOWN:
        sents = _lines("sentences", lang)
        for c in range(0, min(len(sents), 240), 4):
            docs.append(Doc(f"{lang}:u{c}", " ".join(sents[c : c + 4]), lang, "unknown"))
    return docs, queries


def split_of(q: Query) -> str:
    return "test" if int(q.kind.split("#")[1]) % 2 else "dev"


def kind_of(q: Query) -> str:
    return q.kind.split("#")[0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=BUNDLED_MODEL)
    parser.add_argument("--split", choices=["dev", "test"], default="test")
    parser.add_argument("--small", action="store_true", help="fewer documents and queries (development)")
    parser.add_argument("--dense", action="store_true", help="also report dense mode")
    parser.add_argument("--json", help="also write the results to this JSON file")
    parser.add_argument("--confidence", type=float, help="router confidence (tuning on dev)")
    parser.add_argument("--prior", type=float, help="router PRIOR_WEIGHT (tuning on dev)")
    args = parser.parse_args()
    if args.prior is not None:
        import deposium_rag.retrievers.router as router_module

        router_module.PRIOR_WEIGHT = args.prior
    options = {} if args.confidence is None else {"confidence": args.confidence}

    t_start = time.perf_counter()
    embedder = StaticEmbedder(args.model)
    docs, queries = build(args.small)
    queries = [q for q in queries if split_of(q) == args.split]
    per_kind_cap = {"sentence": 60 if args.small else 10**9, "keywords": 60 if args.small else 10**9}
    per_kind_cap.update({"pairs": 100 if args.small else 500, "words": 100 if args.small else 500})
    seen: Counter[tuple[str, str]] = Counter()
    kept = []
    for q in queries:
        key = (q.language, kind_of(q))
        if seen[key] < per_kind_cap[kind_of(q)]:
            seen[key] += 1
            kept.append(q)
    queries = kept
    truth = {d.id: d.language for d in docs}
    kinds = Counter(d.kind for d in docs)
    print(
        f"model {embedder.model_name}; {len(docs)} documents ({dict(kinds)}); "
        f"{len(queries)} {args.split} queries ({dict(Counter(kind_of(q) for q in queries))})"
    )

    texts, ids = [d.text for d in docs], [d.id for d in docs]
    vectors = embedder.encode(texts)

    class Cached:  # both routers embed the same texts: encode once
        dim, model_name, fingerprint = embedder.dim, embedder.model_name, embedder.fingerprint

        def encode(self, batch):
            return vectors if list(batch) == texts else embedder.encode(batch)

    t0 = time.perf_counter()
    detected = LanguageRouter(Cached(), **options)
    detected.add(texts, ids=ids)
    t_ingest = time.perf_counter() - t0
    report = getattr(detected, "last_ingest_report", None)
    oracle = LanguageRouter(Cached(), languages=None)
    oracle.add(texts, [{"language": d.language} for d in docs], ids)
    print(f"detected-router ingest {t_ingest:.2f} s; partitions: {detected.counts()}")
    if report is not None:
        print(f"ingest report: {report}")

    # -- documents misfiled ------------------------------------------------------------------------
    misfiled: dict[str, list[float]] = defaultdict(list)
    by_kind: dict[str, list[float]] = defaultdict(list)
    where_unknown: dict[str, Counter[str]] = defaultdict(Counter)
    for d in docs:
        got = detected.language_of(d.id)
        wrong = float(got != d.language)
        misfiled[d.language].append(wrong)
        by_kind[d.kind].append(wrong)
        if d.kind == "unknown":
            where_unknown[d.language][got or "?"] += 1

    # -- queries ------------------------------------------------------------------------------------
    present = set(XQUAD_LANGS)
    route_acc: dict[tuple[str, str], list[float]] = defaultdict(list)
    route_in: dict[tuple[str, str], list[float]] = defaultdict(list)
    modes = ["hybrid", "dense"] if args.dense else ["hybrid"]
    rows: dict[tuple[str, str, str, str], list[float]] = defaultdict(list)  # (mode, system, lang, metric)
    for q in queries:
        kind = kind_of(q)
        rk = "short" if kind in ("keywords", "pairs") else kind
        if kind == "keywords" and len(q.text.split()) < 2 and q.language not in ("zh", "th"):
            rk = "words"
        route = detected.route(q.text)
        if q.language in present:
            route_acc[(q.language, rk)].append(
                float(bool(route.languages) and route.languages[0] == q.language)
            )
            route_in[(q.language, rk)].append(float(q.language in route.languages))
        if q.gold is None:
            continue
        for mode in modes:
            for system, res in (
                ("detected", detected.search(q.text, 10, mode=mode)),
                ("oracle", oracle.search(q.text, 10, mode=mode, language=q.language)),
            ):
                ranked = [h.id for h in res.hits]
                key = (mode, system, q.language)
                rows[(*key, f"{kind}/s5")].append(recall_at(ranked, q.gold, 5))
                rows[(*key, f"{kind}/mrr")].append(mrr_at(ranked, q.gold, 10))
                parts = res.languages
                other = mean([truth[i] not in (q.language, UND) for i in ranked]) if ranked else 0.0
                und = mean([p == UND for p in parts]) if parts else 0.0
                rows[(*key, "other")].append(other)
                rows[(*key, "und")].append(und)
                rows[(*key, f"{kind}/other")].append(other)
                rows[(*key, f"{kind}/und")].append(und)

    def pct(x: float) -> str:
        return f"{x * 100:.1f}"

    langs = list(XQUAD_LANGS)
    summary: dict[str, object] = {}
    for mode in modes:
        print(f"\n## {mode}, {args.split} half (S@5 / MRR@10 in %, detected vs oracle)\n")
        print(
            "| lang | route sent. | route 2-3 w | route 1 w | S@5 det | S@5 orc | MRR det | MRR orc "
            "| kw MRR det | kw MRR orc | other % | und % | misfiled % |"
        )
        print("|---|" + "---|" * 12)
        table: dict[str, list[float]] = {}
        for lang in langs:

            def r(system: str, metric: str, lang: str = lang, mode: str = mode) -> float:
                return mean(rows[(mode, system, lang, metric)])

            vals = [
                mean(route_acc[(lang, "sentence")]),
                mean(route_acc[(lang, "short")]),
                mean(route_acc[(lang, "words")]),
                r("detected", "sentence/s5"),
                r("oracle", "sentence/s5"),
                r("detected", "sentence/mrr"),
                r("oracle", "sentence/mrr"),
                r("detected", "keywords/mrr"),
                r("oracle", "keywords/mrr"),
                r("detected", "other"),
                r("detected", "und"),
                mean(misfiled[lang]),
            ]
            table[lang] = vals
            print(f"| {lang} | " + " | ".join(pct(v) for v in vals) + " |")
        macro = [mean([table[lang][j] for lang in langs]) for j in range(12)]
        print("| **macro** | " + " | ".join(f"**{pct(v)}**" for v in macro) + " |")
        oracle_und = mean([mean(rows[(mode, "oracle", lang, "und")]) for lang in langs])
        summary[mode] = {
            "per_language": table,
            "macro": macro,
            "columns": [
                "route_sentence",
                "route_short",
                "route_word",
                "s5_det",
                "s5_oracle",
                "mrr_det",
                "mrr_oracle",
                "kw_mrr_det",
                "kw_mrr_oracle",
                "other",
                "und",
                "misfiled",
            ],
        }
        both_det = mean(
            [
                mean(
                    rows[(mode, "detected", lang, "sentence/mrr")]
                    + rows[(mode, "detected", lang, "keywords/mrr")]
                )
                for lang in langs
            ]
        )
        both_orc = mean(
            [
                mean(
                    rows[(mode, "oracle", lang, "sentence/mrr")]
                    + rows[(mode, "oracle", lang, "keywords/mrr")]
                )
                for lang in langs
            ]
        )
        print(
            f"\n{mode}: MRR@10 over sentence + keyword queries: detected {pct(both_det)}, "
            f"oracle {pct(both_orc)} "
            f"(gap {(both_orc - both_det) * 100:+.2f}); und share in oracle top 10 {pct(oracle_und)}%"
        )
        for kind in ("sentence", "keywords"):
            per = {
                m: mean([mean(rows[(mode, "detected", lang, f"{kind}/{m}")]) for lang in langs])
                for m in ("mrr", "other", "und")
            }
            orc = mean([mean(rows[(mode, "oracle", lang, f"{kind}/mrr")]) for lang in langs])
            print(
                f"{mode}, {kind} queries: MRR@10 detected {pct(per['mrr'])} vs oracle {pct(orc)} "
                f"(gap {(orc - per['mrr']) * 100:+.2f}); other-language {pct(per['other'])}%, "
                f"und {pct(per['und'])}% of the top 10"
            )
            summary[mode][f"{kind}_gap"] = orc - per["mrr"]  # type: ignore[index]
        summary[mode]["mrr_all_det"] = both_det  # type: ignore[index]
        summary[mode]["mrr_all_oracle"] = both_orc  # type: ignore[index]

    short_all = [v for lang in langs for v in route_acc[(lang, "short")]]
    short_in = [v for lang in langs for v in route_in[(lang, "short")]]
    print(
        f"\nrouting on 2-3 word queries (keywords + word pairs), all present languages pooled: "
        f"top route {pct(mean(short_all))}%, language searched {pct(mean(short_in))}%"
    )
    print(
        "\ndocuments misfiled, by kind: "
        + ", ".join(f"{k} {pct(mean(v))}%" for k, v in sorted(by_kind.items()))
    )
    print(
        "unknown-language documents filed under: "
        + "; ".join(f"{lang}: {dict(c.most_common(3))}" for lang, c in where_unknown.items())
    )
    print(f"junk filed under: {dict(Counter(detected.language_of(d.id) for d in docs if d.kind == 'junk'))}")
    print(f"\ntotal run time {time.perf_counter() - t_start:.0f} s")
    if args.json:
        with open(args.json, "w", encoding="utf-8") as fh:
            json.dump(summary, fh, indent=2)


if __name__ == "__main__":
    main()
