"""What every output records of its provenance: the versions of the packages a result depends on."""

from __future__ import annotations

import platform
from importlib.metadata import PackageNotFoundError, version

TRACKED_PACKAGES = ("pipeline_lib", "torch", "numpy", "pandas", "pyarrow", "optuna", "snakemake", "numba")


def package_versions() -> dict[str, str]:
    """Installed versions of the packages whose behaviour a result depends on."""
    out = {"python": platform.python_version()}
    for name in TRACKED_PACKAGES:
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            out[name] = "not installed"
    return out
