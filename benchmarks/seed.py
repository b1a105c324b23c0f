"""The model card's six-dimension "seed" evaluation, on any model (default: the bundled one).

Same code as ``deposium-rag eval --suite seed``: the card's own pairs and scoring rules
(deposium_rag/seed_eval.py), printed beside the card's published figures.

    python benchmarks/seed.py [--model bundled]
"""

from __future__ import annotations

import argparse

from deposium_rag import seed_eval


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="bundled")
    args = parser.parse_args()
    print(seed_eval.format_report(seed_eval.run(args.model)))


if __name__ == "__main__":
    main()
