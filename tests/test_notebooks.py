"""Execute every notebook in notebooks/ and check it against the committed copy.

Checks per notebook: no cell raises; the fresh run has the same output *structure* as the
committed notebook (same code cells, and for each cell the same sequence of output kinds:
stream name, execute_result or display_data with its mime types); and a few key strings
appear in the fresh outputs. Exact text is not compared: scores may move slightly when the
model, the detector or the BM25 analysers change.

stderr is left out of the comparison: library warnings and one-off notices (matplotlib's
first-run font cache message, for instance) depend on the environment, not on the notebook.
The committed notebooks must not contain stderr output at all; that is checked separately.

Refresh the committed notebooks (re-execute and save them with outputs) with::

    HF_HUB_OFFLINE=1 python tests/test_notebooks.py
"""

from __future__ import annotations

import ast
import copy
import os
import re
import sys
from pathlib import Path
from typing import Any

import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS_DIR = ROOT / "notebooks"
NOTEBOOKS = sorted(NOTEBOOKS_DIR.glob("*.ipynb"))
KERNEL = "python3"
CELL_TIMEOUT = 300  # seconds per cell

# Strings every fresh run must print (routing decisions, stand-in labels, round trips).
KEY_STRINGS: dict[str, list[str]] = {
    "01_langchain_rag.ipynb": [
        "model: bundled, dimension 256",
        "documents per partition: {'de': 4, 'en': 4, 'es': 4, 'fr': 4}",
        "route -> ['en']  reason: detected",
        "route -> ['fr']  reason: detected",
        "route -> ['de']  reason: detected",
        "route -> ['es']  reason: detected",
        "reason: uncertain: merged by score",
        "route -> ['fr']  reason: forced",
        "[stand-in LLM, extractive]",
        "passage [1]: eiffel.en, en",
        "passage [1]: bread.fr, fr",
        "same results after load: True",
    ],
    "02_llamaindex_pipeline.ipynb": [
        "embedding model: bundled, dimension 256",
        "20 documents -> ",
        "LLM: MockLLM (local stand-in",
        "Context information is below.",
        "same results after reload: True",
        "partitions ['en'] (detected)",
        "partitions ['de'] (detected)",
        "partitions ['es'] (detected)",
        "partitions ['fr'] (detected)",
        "partitions ['ru'] (detected)",
    ],
    "03_multilingual_routing_xquad.ipynb": [
        "2880 paragraphs in 12 languages; 1200 questions",
        "R@5 on the first 100 questions per language",
        "macro R@5:",
        "other-language share in top 5:",
    ],
}


def execute(nb: Any) -> Any:
    """Run a notebook in a fresh kernel with cwd = notebooks/; raises on the first cell error."""
    client = nbclient.NotebookClient(
        nb,
        timeout=CELL_TIMEOUT,
        kernel_name=KERNEL,
        resources={"metadata": {"path": str(NOTEBOOKS_DIR)}},
        coalesce_streams=True,
    )
    client.execute()
    return nb


def code_cells(nb: Any) -> list[Any]:
    return [c for c in nb.cells if c.cell_type == "code"]


def output_kinds(cell: Any) -> list[tuple[str, ...]]:
    """Output kinds of a cell: consecutive streams of one name merged, stderr dropped."""
    kinds: list[tuple[str, ...]] = []
    for out in cell.get("outputs", []):
        kind = out["output_type"]
        if kind == "stream":
            if out["name"] == "stderr":
                continue
            item: tuple[str, ...] = ("stream", out["name"])
            if kinds and kinds[-1] == item:
                continue
        elif kind in ("execute_result", "display_data"):
            item = (kind, *sorted(out.get("data", {})))
        else:
            item = (kind,)
        kinds.append(item)
    return kinds


def output_text(nb: Any) -> str:
    parts = []
    for cell in code_cells(nb):
        for out in cell.get("outputs", []):
            if out["output_type"] == "stream":
                parts.append(out["text"])
            elif "data" in out:
                parts.append(out["data"].get("text/plain", ""))
    return "\n".join(parts)


@pytest.fixture(scope="module", autouse=True)
def offline_environment() -> Any:
    """The kernel inherits this process's environment: no model hub, ever."""
    saved = os.environ.get("HF_HUB_OFFLINE")
    os.environ["HF_HUB_OFFLINE"] = "1"
    yield
    if saved is None:
        os.environ.pop("HF_HUB_OFFLINE", None)
    else:
        os.environ["HF_HUB_OFFLINE"] = saved


def test_notebooks_exist() -> None:
    assert [p.name for p in NOTEBOOKS] == sorted(KEY_STRINGS), "notebooks and KEY_STRINGS disagree"


def test_kernel_runs_this_python() -> None:
    """nbclient starts the 'python3' kernelspec; it must use this interpreter (and this venv)."""
    from jupyter_client.kernelspec import KernelSpecManager

    argv0 = KernelSpecManager().get_kernel_spec(KERNEL).argv[0]
    aliases = {"python", f"python{sys.version_info[0]}", f"python{sys.version_info[0]}.{sys.version_info[1]}"}
    # jupyter_client swaps a bare "python" for sys.executable; an absolute path must be this one.
    assert argv0 in aliases or Path(argv0).resolve() == Path(sys.executable).resolve(), (
        f"the {KERNEL!r} kernelspec runs {argv0}, not {sys.executable}; "
        f"run `{sys.executable} -m ipykernel install --sys-prefix` or remove the other kernelspec"
    )


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook(path: Path) -> None:
    committed = nbformat.read(path, as_version=4)
    committed_cells = code_cells(committed)
    assert all(c.get("execution_count") for c in committed_cells), (
        f"{path.name} is committed without outputs; refresh it with `python tests/test_notebooks.py`"
    )
    stderr = [
        i
        for i, c in enumerate(committed_cells)
        if any(o["output_type"] == "stream" and o["name"] == "stderr" for o in c.get("outputs", []))
    ]
    assert not stderr, f"{path.name}: committed code cells {stderr} have stderr output (warnings?)"

    fresh = execute(copy.deepcopy(committed))
    fresh_cells = code_cells(fresh)
    errors = [
        i for i, c in enumerate(fresh_cells) if any(o["output_type"] == "error" for o in c.get("outputs", []))
    ]
    assert not errors, f"{path.name}: code cells {errors} raised"

    assert len(fresh_cells) == len(committed_cells)
    for i, (old, new) in enumerate(zip(committed_cells, fresh_cells)):
        assert output_kinds(new) == output_kinds(old), (
            f"{path.name}, code cell {i} ({old.source.splitlines()[0]!r}): output structure changed"
        )

    text = output_text(fresh)
    missing = [s for s in KEY_STRINGS[path.name] if s not in text]
    assert not missing, f"{path.name}: fresh outputs lack {missing}"

    if path.name.startswith("03_"):
        match = re.search(r"other-language share in top 5: (\{.*\})", text)
        assert match, "notebook 03 did not print the other-language share"
        share = {k: float(v.rstrip("%")) for k, v in ast.literal_eval(match.group(1)).items()}
        assert share["routed dense"] < share["pooled"], share
        assert share["routed hybrid"] < share["pooled"], share


def refresh(paths: list[Path]) -> None:
    """Re-execute notebooks from scratch and save them with their outputs."""
    os.environ["HF_HUB_OFFLINE"] = "1"
    for path in paths:
        nb = nbformat.read(path, as_version=4)
        for cell in code_cells(nb):
            cell.outputs, cell.execution_count = [], None
        execute(nb)
        nbformat.validate(nb)
        nbformat.write(nb, path)
        print(f"refreshed {path.relative_to(ROOT)}")


if __name__ == "__main__":
    refresh([Path(a).resolve() for a in sys.argv[1:]] or NOTEBOOKS)
