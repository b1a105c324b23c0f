"""Overhead of the adapters over raw ``StaticModel.encode``, measured side by side in one run.

Workloads (real text from ../shared/data/xquad-r and xquad):
  short: 20,000 questions (11 + 1 languages, cycled), a few to ~20 tokens each;
  long:  2,000 texts of 4 consecutive paragraphs each (~3,000 characters, > 512 tokens).

For each workload the same model runs in the same process: raw ``StaticModel.encode``
(normalize=True), the core ``StaticEmbedder.encode`` (numpy out) and the LangChain face
``embed_documents`` (list-of-lists out, as LangChain's API requires). Both settings of
``max_length`` are timed: 512 (model2vec's default) and None (whole text, our default).
Best of ``--repeat`` runs. Core overhead = core / raw - 1. LangChain must return
``list[list[float]]``, so its overhead is measured against raw encode + ``.tolist()``
(what any LangChain adapter pays). Goal: <= 10%.

    python benchmarks/embed_overhead.py [--model bundled] [--repeat 5]
"""

from __future__ import annotations

import argparse
import sys

import numpy as np
from _data import load_all_xquad
from _metrics import best_time
from model2vec import StaticModel
from tqdm import tqdm

from deposium_rag import StaticEmbedder
from deposium_rag.integrations.langchain import Model2VecEmbeddings


def workloads() -> dict[str, list[str]]:
    sets = load_all_xquad()
    questions = [q for s in sets for q in s.questions]
    short = [questions[i % len(questions)] for i in range(20_000)]
    paragraphs = [p for s in sets for p in s.paragraphs]
    long = [" ".join(paragraphs[(i + j) % len(paragraphs)] for j in range(4)) for i in range(2_000)]
    return {"short (20k)": short, "long (2k)": long}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="bundled")
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()

    core = StaticEmbedder(args.model)
    raw = StaticModel.from_pretrained(core.resolved.path, force_download=False)
    print(f"model {core.model_name} dim {core.dim}; best of {args.repeat}")
    print(
        f"{'workload':<12} {'max_length':>10} {'raw s':>8} {'core s':>8} {'core ovh':>9} "
        f"{'raw+list s':>11} {'langchain s':>12} {'lc ovh':>8} {'max |diff|':>10}"
    )
    bar = tqdm(total=4, desc="workloads", unit="run", file=sys.stderr, leave=False,
               disable=not sys.stderr.isatty())  # fmt: skip
    for name, texts in workloads().items():
        for max_length in (512, None):
            bar.update(1)
            face = Model2VecEmbeddings(model=args.model, max_length=max_length)

            def run_raw(texts: list[str] = texts, m: int | None = max_length) -> np.ndarray:
                return raw.encode(texts, normalize=True, max_length=m)

            def run_core(texts: list[str] = texts, m: int | None = max_length) -> np.ndarray:
                return core.encode(texts, max_length=m)

            def run_raw_list(texts: list[str] = texts, m: int | None = max_length) -> list[list[float]]:
                return raw.encode(texts, normalize=True, max_length=m).tolist()

            def run_face(texts: list[str] = texts, face: Model2VecEmbeddings = face) -> list[list[float]]:
                return face.embed_documents(texts)

            run_raw(), run_core()  # warm up
            t_raw = best_time(run_raw, args.repeat)
            t_core = best_time(run_core, args.repeat)
            t_face = best_time(run_face, args.repeat)
            t_raw_list = best_time(run_raw_list, args.repeat)
            diff = float(np.abs(run_raw().astype(np.float32) - run_core()).max())
            print(
                f"{name:<12} {max_length!s:>10} {t_raw:8.3f} {t_core:8.3f} "
                f"{t_core / t_raw - 1:+9.1%} {t_raw_list:11.3f} {t_face:12.3f} "
                f"{t_face / t_raw_list - 1:+8.1%} {diff:10.2e}"
            )


if __name__ == "__main__":
    main()
