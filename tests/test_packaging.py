"""Import hygiene: the core imports no framework; a missing extra names its pip install."""

from __future__ import annotations

import subprocess
import sys

import pytest


def _run(code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)


def test_core_import_does_not_import_frameworks() -> None:
    code = (
        "import sys, deposium_rag, deposium_rag.models, deposium_rag.integrations\n"
        "bad = [m for m in sys.modules if m.startswith(('langchain', 'llama_index'))]\n"
        "assert not bad, bad\n"
    )
    out = _run(code)
    assert out.returncode == 0, out.stderr


@pytest.mark.parametrize(
    ("module", "blocked", "extra"),
    [("langchain", "langchain_core", "langchain"), ("llamaindex", "llama_index", "llamaindex")],
)
def test_missing_extra_names_pip_install(module: str, blocked: str, extra: str) -> None:
    code = (
        f"import sys; sys.modules[{blocked!r}] = None\n"
        "from deposium_rag.errors import MissingExtraError\n"
        "try:\n"
        f"    import deposium_rag.integrations.{module}\n"
        "except MissingExtraError as e:\n"
        "    print(e)\n"
    )
    out = _run(code)
    assert out.returncode == 0, out.stderr
    assert f'pip install "deposium-rag[{extra}]"' in out.stdout
