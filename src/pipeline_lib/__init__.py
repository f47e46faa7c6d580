"""pipeline_lib: all logic of the auction-learning pipeline.

Stage scripts in ``scripts/`` are thin adapters; everything testable lives here. Nothing in this package imports
snakemake or reads the global config: functions take plain arguments.
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("pipeline_lib")
except PackageNotFoundError:  # pragma: no cover - running from a source tree without installation
    __version__ = "0.0.0+unknown"

__all__ = ["__version__"]
