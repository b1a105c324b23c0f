"""Incremental indexing: a second ``deposium-rag index`` of an unchanged folder vs the first.

Builds a folder of ``--files`` text files (default 1,000) from the XQuAD paragraphs in
../shared/data (11 languages, a few paragraphs per file, in a temporary folder: nothing is
copied into the repository), then times, in the same run:

1. the first ``deposium-rag index DIR --store STORE`` (read, detect, embed, BM25, save);
2. a second one of the unchanged folder (hash each file, embed nothing, no save);
3. a third after touching 1% of the files (only those are re-embedded).

Each run is a fresh ``deposium-rag`` process (as a user runs it: start-up and model load
included) unless ``--in-process``. Goal: the second run takes <= 10% of the first.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _data import load_all_xquad

ROOT = Path(__file__).resolve().parents[1]


def make_folder(root: Path, n_files: int, per_file: int = 3) -> int:
    """``n_files`` files of ``per_file`` paragraphs each, one language per file; returns bytes."""
    sets = load_all_xquad(include_ro=False)
    total = 0
    for i in range(n_files):
        s = sets[i % len(sets)]
        start = (i // len(sets)) * per_file
        paragraphs = [s.paragraphs[(start + j) % len(s.paragraphs)] for j in range(per_file)]
        path = root / s.language / f"doc{i:05d}.txt"
        path.parent.mkdir(parents=True, exist_ok=True)
        text = f"Document {i}\n\n" + "\n\n".join(paragraphs)
        path.write_text(text, encoding="utf-8")
        total += len(text.encode("utf-8"))
    return total


def run_index(folder: Path, store: Path, in_process: bool) -> tuple[float, str]:
    argv = ["index", str(folder), "--store", str(store), "--model", "bundled", "--quiet"]
    t0 = time.perf_counter()
    if in_process:
        import contextlib
        import io

        from deposium_rag import cli

        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            code = cli.main(argv)
        text = out.getvalue()
    else:
        env = {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}
        proc = subprocess.run(
            [sys.executable, "-m", "deposium_rag.cli", *argv], capture_output=True, text=True, env=env
        )
        code, text = proc.returncode, proc.stdout + proc.stderr
    elapsed = time.perf_counter() - t0
    if code != 0:
        raise SystemExit(f"index failed ({code}):\n{text}")
    return elapsed, text


def summary_line(output: str) -> str:
    return next(
        (line for line in output.splitlines() if line.startswith(("indexed", "nothing to embed"))), "?"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=1000)
    parser.add_argument("--in-process", action="store_true", help="call cli.main instead of a new process")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="deposium-ingest-") as tmp:
        folder, store = Path(tmp) / "docs", Path(tmp) / "store"
        size = make_folder(folder, args.files)
        print(f"{args.files} files, {size / 1e6:.1f} MB, in {folder}")
        mode = "in-process" if args.in_process else "one process per run"
        print(f"runs: {mode}, model bundled\n")
        first, out1 = run_index(folder, store, args.in_process)
        second, out2 = run_index(folder, store, args.in_process)
        touched = sorted(folder.rglob("*.txt"))[:: max(1, args.files // 10)][: max(1, args.files // 100)]
        for path in touched:
            path.write_text(path.read_text(encoding="utf-8") + "\n\nA new closing line.", encoding="utf-8")
        third, out3 = run_index(folder, store, args.in_process)
        print("| run | seconds | vs first | summary |")
        print("|---|---|---|---|")
        print(f"| first index | {first:.2f} | 100% | {summary_line(out1)} |")
        print(f"| unchanged folder | {second:.2f} | {second / first:.1%} | {summary_line(out2)} |")
        print(f"| {len(touched)} files changed | {third:.2f} | {third / first:.1%} | {summary_line(out3)} |")
        verdict = "met" if second <= 0.10 * first else "NOT met"
        print(f"\nsecond / first = {second / first:.3f} (goal <= 0.10: {verdict})")


if __name__ == "__main__":
    main()
