"""py3langid's model, read from a decompressed copy kept in the cache folder.

Why: py3langid ships its model as an LZMA-compressed ``.npz``; decompressing it costs every
process 0.35 s of a cold start (the command line answers a query in about a second and a half).
The decompressed ``.npz`` (~70 MB, data only, read with ``allow_pickle=False``) is written once
next to the remembered checksums (:mod:`deposium_rag._digests`), named after py3langid's version
and the model file's size and modification time, so an upgrade or another file is read anew.
Any problem with the copy (missing, truncated, unwritable folder) falls back to py3langid's
own loader: the copy can make a start faster, never different.
"""

from __future__ import annotations

import contextlib
import hashlib
import lzma
import os
import shutil
import tempfile
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

from deposium_rag._digests import cache_folder

__all__ = ["load_identifier"]

_KEYS = ("ptc", "pc", "classes", "nextmove", "nextmove_row", "out_feat")


def _copy_path(model: Path) -> Path | None:
    folder = cache_folder()
    if folder is None:
        return None
    import py3langid

    st = model.stat()
    tag = f"{getattr(py3langid, '__version__', '?')}:{model.resolve()}:{st.st_size}:{st.st_mtime_ns}"
    return folder / f"py3langid-{hashlib.sha256(tag.encode()).hexdigest()[:16]}.npz"


def _write_copy(model: Path, copy: Path) -> None:
    copy.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".py3langid-", suffix=".tmp", dir=copy.parent)
    try:
        with os.fdopen(fd, "wb") as out, lzma.open(model) as src:
            shutil.copyfileobj(src, out, length=1 << 20)
        os.replace(tmp, copy)
    finally:
        with contextlib.suppress(OSError):
            os.unlink(tmp)


def _arrays(copy: Path) -> dict[str, np.ndarray] | None:
    try:
        with np.load(copy, allow_pickle=False) as data:
            if not set(_KEYS) <= set(data.files):
                return None
            return {k: data[k] for k in _KEYS}
    except (OSError, ValueError, EOFError, zipfile.BadZipFile):
        return None


def load_identifier(**kwargs: Any) -> Any:
    """py3langid's ``LanguageIdentifier`` for its packaged model (``kwargs`` as its own)."""
    from py3langid.langid import MODEL_DIR, MODEL_FILE, LanguageIdentifier
    from py3langid.modelio import _to_array

    model = Path(MODEL_DIR) / MODEL_FILE
    copy = None
    with contextlib.suppress(OSError):
        copy = _copy_path(model)
    arrays = _arrays(copy) if copy is not None and copy.is_file() else None
    if arrays is None and copy is not None:
        with contextlib.suppress(OSError):
            _write_copy(model, copy)
            arrays = _arrays(copy)
    if arrays is None:  # no usable copy: py3langid's own loader
        return LanguageIdentifier.from_model_file(MODEL_FILE, **kwargs)
    # As py3langid.modelio.load_model does with the same arrays.
    return LanguageIdentifier(
        np.asarray(arrays["ptc"]),
        np.asarray(arrays["pc"]),
        arrays["classes"].tolist(),
        _to_array(arrays["nextmove"]),
        arrays["out_feat"].tolist(),
        tk_row=_to_array(arrays["nextmove_row"]),
        **kwargs,
    )
