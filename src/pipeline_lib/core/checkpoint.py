"""Resumable training state: parameters, optimizer, random generators and history in one atomic file.

A training run that is killed midway must resume from its last checkpoint and end with exactly the parameters of
an uninterrupted run. That holds when the checkpoint carries everything the remaining iterations depend on:

* the free parameters phi and the optimizer state (Adam's moment estimates and step count),
* the state of every random generator (minibatch indices, zeroth-order directions),
* the history rows written so far and the iteration counter,
* a fingerprint of the run's configuration: a checkpoint written under another configuration is ignored.

The checkpoint lives in a directory that is *not* a declared Snakemake output (Snakemake deletes declared outputs
before re-running a job), and is written atomically, so a kill during the write leaves the previous one intact.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from pathlib import Path
from typing import Any

import torch

from pipeline_lib.core.io import atomic_path

CHECKPOINT_NAME = "state.pt"
CHECKPOINT_ROOT = "_ckpt"
log = logging.getLogger(__name__)


def fingerprint(config: dict[str, Any]) -> str:
    """A stable hash of a JSON-serialisable run configuration (key order does not matter)."""
    blob = json.dumps(config, sort_keys=True, default=str).encode("utf-8")
    return hashlib.sha256(blob).hexdigest()


def checkpoint_dir_for(output: str | os.PathLike) -> Path:
    """The checkpoint folder of the job that writes ``output``: ``results/X/.../file`` -> ``results/_ckpt/X/...``.

    Derived from a declared output so that no path travels through ``params:``; outside ``results/`` the folder
    ``_ckpt/<parent>`` next to the output's first path component is used.
    """
    parts = Path(output).parent.parts
    if not parts:
        return Path(CHECKPOINT_ROOT)
    return Path(parts[0], CHECKPOINT_ROOT, *parts[1:])


def checkpoint_file(ckpt_dir: str | os.PathLike) -> Path:
    return Path(ckpt_dir) / CHECKPOINT_NAME


def save_checkpoint(ckpt_dir: str | os.PathLike, state: dict[str, Any]) -> None:
    """Write ``state`` (tensors, generator states, plain Python values) atomically to ``ckpt_dir/state.pt``."""
    with atomic_path(checkpoint_file(ckpt_dir)) as tmp:
        torch.save(state, tmp)


def load_checkpoint(ckpt_dir: str | os.PathLike | None, expected_fingerprint: str) -> dict[str, Any] | None:
    """The saved state if one exists and was written under the same configuration, else ``None``."""
    if ckpt_dir is None:
        return None
    path = checkpoint_file(ckpt_dir)
    if not path.exists():
        return None
    try:
        state = torch.load(path, map_location="cpu", weights_only=False)
    except Exception as exc:  # a corrupt checkpoint is not fatal: training restarts from scratch
        log.warning("ignoring unreadable checkpoint %s: %s", path, exc)
        return None
    if state.get("fingerprint") != expected_fingerprint:
        log.warning("ignoring checkpoint %s written under a different configuration", path)
        return None
    return state


def remove_checkpoint(ckpt_dir: str | os.PathLike | None) -> None:
    """Delete the checkpoint after the final outputs exist (a forced re-run then starts afresh)."""
    if ckpt_dir is not None:
        checkpoint_file(ckpt_dir).unlink(missing_ok=True)
