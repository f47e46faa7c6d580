"""What every stage script does first: send its output to the rule's log and bound its CPU threads.

Stage scripts call :func:`start_stage` once, before any work, so that warnings, tracebacks and progress bars land
in the log Snakemake shows on failure, and torch and numba use the rule's ``threads`` (their two pools both default
to every core and oversubscribe a small machine).
"""

from __future__ import annotations

import logging
import os
import sys

import torch

LOG_FORMAT = "%(asctime)s %(name)s %(message)s"


def set_cpu_threads(threads: int) -> None:
    """Use ``threads`` CPU threads in torch and in the numba kernels of the dynamic program.

    Both pools default to every core; on a small shared machine the two spin-waiting pools oversubscribe the CPU
    (measured: a 2x5 ZFO iteration takes 22 ms with 1 + 1 threads and 231 ms with 2 + 2 on a loaded 2-core box).
    """
    torch.set_num_threads(max(1, threads))
    try:
        import numba
    except ImportError:  # pragma: no cover - numba is a declared dependency
        return
    numba.set_num_threads(max(1, min(threads, numba.config.NUMBA_NUM_THREADS)))


def start_stage(log_path: str | os.PathLike, threads: int | None = None, mode: str = "w") -> None:
    """Redirect stderr (logging, warnings, tqdm, tracebacks) to ``log_path`` and set the CPU thread count."""
    sys.stderr = open(log_path, mode, buffering=1)  # noqa: SIM115 - lives as long as the stage process
    logging.basicConfig(stream=sys.stderr, level=logging.INFO, format=LOG_FORMAT, force=True)
    if threads is not None:
        set_cpu_threads(threads)
