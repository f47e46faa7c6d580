"""Atomic file writes (JSON, Parquet, torch, figures) and the matching reads: the only way results reach disk.

An interrupted stage must leave no half-written output behind, so every writer here goes through a temporary file
in the destination folder followed by :func:`os.replace` (atomic on POSIX). Only :mod:`pipeline_lib.stages` and
:mod:`pipeline_lib.core` call these functions; the algorithms take and return values.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

FIGURE_DPI = 150


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path next to ``path``; on success rename it onto ``path``, on error delete it."""
    dest = Path(path)
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=".tmp", dir=dest.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp_path, 0o666 & ~umask)  # mkstemp creates 0600; give the file ordinary permissions
        os.replace(tmp_path, dest)
    except BaseException:
        tmp_path.unlink(missing_ok=True)
        raise


def write_text(path: str | os.PathLike, text: str) -> None:
    """Write ``text`` atomically."""
    with atomic_path(path) as tmp:
        tmp.write_text(text)


class NonFiniteJSONError(ValueError):
    """A JSON payload holds NaN or an infinity (not JSON; ``null`` must be chosen explicitly by the caller)."""


def write_json(path: str | os.PathLike, payload: dict[str, Any]) -> None:
    """Write ``payload`` as indented JSON atomically. NaN and infinities are refused (:class:`NonFiniteJSONError`
    naming the file and the key path): a writer maps a legitimately missing number to ``None`` itself
    (:func:`finite_or_none`), so that a NaN from a failure never reaches a result file as ``NaN``."""
    try:
        text = json.dumps(payload, indent=2, sort_keys=False, default=_json_default, allow_nan=False)
    except ValueError as exc:
        where = _nonfinite_path(payload, "$")
        raise NonFiniteJSONError(
            f"refusing to write {path}: {where or 'a value'} is not a finite number (JSON has no NaN or Infinity); "
            "map a missing value to None explicitly"
        ) from exc
    write_text(path, text + "\n")


def finite_or_none(x: Any) -> float | None:
    """``float(x)`` when finite, else ``None`` (JSON ``null``): for numbers that may legitimately be undefined,
    e.g. the standard error of a single profile."""
    if x is None:
        return None
    x = float(x)
    return x if math.isfinite(x) else None


def _nonfinite_path(obj: Any, path: str) -> str | None:
    """Key path (``$.a[2].b``) of the first non-finite float in ``obj`` and the value, or ``None``."""
    if isinstance(obj, float):
        return None if math.isfinite(obj) else f"{path} = {float(obj)}"
    if isinstance(obj, dict):
        for key, value in obj.items():
            hit = _nonfinite_path(value, f"{path}.{key}")
            if hit:
                return hit
        return None
    if isinstance(obj, list | tuple):
        for k, value in enumerate(obj):
            hit = _nonfinite_path(value, f"{path}[{k}]")
            if hit:
                return hit
        return None
    if isinstance(obj, str | int | bool) or obj is None:
        return None
    try:
        return _nonfinite_path(_json_default(obj), path)
    except TypeError:
        return None


def json_roundtrip(obj: Any) -> Any:
    """``obj`` as it reads back from a JSON file written by :func:`write_json` (tuples become lists, numpy and
    torch scalars plain numbers): for comparing a value with a stored record."""
    return json.loads(json.dumps(obj, default=_json_default))


def read_json(path: str | os.PathLike) -> Any:
    """The JSON document at ``path``."""
    return json.loads(Path(path).read_text())


def write_parquet(frame: Any, path: str | os.PathLike) -> None:
    """Write a pandas DataFrame to Parquet atomically (no index)."""
    with atomic_path(path) as tmp:
        frame.to_parquet(tmp, index=False)


def read_parquet(path: str | os.PathLike) -> Any:
    """A Parquet file as a pandas DataFrame."""
    import pandas as pd

    return pd.read_parquet(path)


def torch_bytes(obj: Any) -> bytes:
    """What ``torch.save`` writes for ``obj``, independent of the file name: saving to a path stores the path's
    name as the archive's folder name, so a temporary file's random name would make identical runs differ."""
    import io as _io

    import torch

    buffer = _io.BytesIO()
    torch.save(obj, buffer)
    return buffer.getvalue()


def save_torch(obj: Any, path: str | os.PathLike) -> None:
    """``torch.save`` atomically (plain tensors, numbers, strings, lists and dicts only); the same ``obj`` gives
    the same bytes whatever the file name."""
    data = torch_bytes(obj)
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)


def load_torch(path: str | os.PathLike, map_location: Any = "cpu") -> Any:
    """``torch.load`` with ``weights_only=True``: a crafted file cannot run code."""
    import torch

    return torch.load(path, map_location=map_location, weights_only=True)


def save_figure(fig: Any, out_png: str | os.PathLike, out_pdf: str | os.PathLike) -> None:
    """Save a matplotlib figure as PNG and PDF (atomically) and close it."""
    import matplotlib.pyplot as plt

    for path, fmt in ((out_png, "png"), (out_pdf, "pdf")):
        with atomic_path(path) as tmp:
            fig.savefig(tmp, format=fmt, dpi=FIGURE_DPI, bbox_inches="tight")
    plt.close(fig)


def _json_default(obj: Any) -> Any:
    if hasattr(obj, "tolist"):
        return obj.tolist()
    if isinstance(obj, Path):
        return str(obj)
    raise TypeError(f"not JSON serialisable: {type(obj).__name__}")
