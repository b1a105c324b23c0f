"""XQuAD-R retrieval R@5 of the bundled model (no torch needed): the figure its card states.

Per language, corpus = 240 paragraphs, queries = the language's questions; macro over the 11
XQuAD-R languages. Same evaluation as scripts/make_bundled_model.py --eval-only.

    python benchmarks/bundled_model.py
"""

from __future__ import annotations

import sys
from pathlib import Path

from _data import DATA

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    sys.path.insert(0, str(ROOT / "scripts"))
    import make_bundled_model as script

    raise SystemExit(script.main(["--eval-only", "--eval", str(DATA / "xquad-r")]))


if __name__ == "__main__":
    main()
