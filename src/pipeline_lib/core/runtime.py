"""What every stage script does first: send its output to the rule's log and bound its CPU threads; and the runs of
a job that trains several seeds in one process (:func:`seed_runs`).

Stage scripts call :func:`start_stage` once, before any work, so that warnings, tracebacks and progress bars land
in the log Snakemake shows on failure, and torch and numba use the rule's ``threads`` (their two pools both default
to every core and oversubscribe a small machine).
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

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


@dataclass(frozen=True)
class SeedRun:
    """One seed's share of a job: its index, its named input and output files, and the params of its run."""

    seed: int
    inputs: dict[str, str]
    outputs: dict[str, str]
    params: dict[str, Any]


def seed_runs(
    inputs: Mapping[str, str], outputs: Mapping[str, str], params: Mapping[str, Any], wildcards: Mapping[str, str]
) -> list[SeedRun]:
    """The runs of a job of a per-seed rule (one run, its seed from the ``seed`` wildcard) or of its all-seeds
    variant (``combinatorial.seeds_in_one_job``: ``params['seeds']`` lists the seeds, file names carry a ``_<seed>``
    suffix, ``params['per_seed'][k]`` is seed k's params): each run gets the names and params the per-seed rule
    would have given it, so a stage function cannot tell the two apart."""
    if "seeds" not in params:
        return [SeedRun(int(wildcards["seed"]), dict(inputs), dict(outputs), dict(params))]
    runs = []
    for seed, own in zip(params["seeds"], params["per_seed"], strict=True):
        suffix = f"_{seed}"
        runs.append(
            SeedRun(
                int(seed),
                {k.removesuffix(suffix): v for k, v in inputs.items() if k.endswith(suffix)},
                {k.removesuffix(suffix): v for k, v in outputs.items() if k.endswith(suffix)},
                dict(own),
            )
        )
    return runs
