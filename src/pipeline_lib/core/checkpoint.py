"""Resumable training state: parameters, optimizer, random generators and history in one atomic file.

A training run that is killed midway must resume from its last checkpoint and end with exactly the parameters of
an uninterrupted run. That holds when the checkpoint carries everything the remaining iterations depend on:

* the free parameters phi and the optimizer state (Adam's moment estimates and step count),
* the state of every random generator (minibatch indices, zeroth-order directions),
* the history rows written so far and the iteration counter,
* a fingerprint of the run's configuration, its input files' contents and the package code (:func:`run_key`): a
  checkpoint written under another configuration, other inputs or other code is ignored, so a forced or changed
  run starts from scratch (and every stage removes its checkpoint once its outputs exist).

The checkpoint lives in a directory that is *not* a declared Snakemake output (Snakemake deletes declared outputs
before re-running a job), and is written atomically, so a kill during the write leaves the previous one intact.
"""

from __future__ import annotations

import functools
import hashlib
import json
import logging
import os
import pickle
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from pipeline_lib.core.io import atomic_path, torch_bytes

CHECKPOINT_NAME = "state.pt"
CHECKPOINT_ROOT = "_ckpt"
log = logging.getLogger(__name__)


def fingerprint(config: dict[str, Any]) -> str:
    """A stable hash of a JSON-serialisable run configuration (key order does not matter)."""
    blob = json.dumps(config, sort_keys=True, default=str).encode("utf-8")
    return hashlib.sha256(blob).hexdigest()


def files_fingerprint(paths: Iterable[str | os.PathLike]) -> str:
    """A hash of the contents of ``paths`` (in order; names and times do not matter): keys a checkpoint or a study
    by the inputs it was computed from, so that regenerated inputs never resume a run of the old ones."""
    digest = hashlib.sha256()
    for path in paths:
        with open(path, "rb") as fh:
            size = os.fstat(fh.fileno()).st_size
            digest.update(f"{size}:".encode())
            for chunk in iter(lambda: fh.read(1 << 20), b""):  # noqa: B023 - fh is the loop's own file
                digest.update(chunk)
    return digest.hexdigest()


@functools.lru_cache(maxsize=1)
def code_fingerprint() -> str:
    """A hash of the package's source (every ``.py`` file of ``pipeline_lib``): Snakemake does not track library
    code, so checkpoints and sweep studies carry it and a run of changed code starts afresh instead of resuming."""
    root = Path(__file__).resolve().parents[1]
    digest = hashlib.sha256()
    for path in sorted(root.rglob("*.py")):
        digest.update(str(path.relative_to(root)).encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()


def run_key(input_paths: Iterable[str | os.PathLike]) -> str:
    """What a resumable run depends on besides its parameters: its input files' contents and the package code."""
    return fingerprint({"inputs": files_fingerprint(input_paths), "code": code_fingerprint()})


def checkpoint_dir_for(output: str | os.PathLike) -> Path:
    """The checkpoint folder of the job that writes ``output``: ``results/X/.../file`` -> ``results/_ckpt/X/...``.

    Derived from a declared output so that no path travels through ``params:``. The last ``results`` component of
    the path (relative or absolute) is the root; without one, a relative path uses its first component and an
    absolute one the folder ``_ckpt`` beside the output (never the file system root).
    """
    parts = Path(output).parent.parts
    if "results" in parts:
        k = len(parts) - 1 - parts[::-1].index("results")
        return Path(*parts[: k + 1], CHECKPOINT_ROOT, *parts[k + 1 :])
    if not parts:
        return Path(CHECKPOINT_ROOT)
    if Path(output).is_absolute():
        return Path(output).parent / CHECKPOINT_ROOT
    return Path(parts[0], CHECKPOINT_ROOT, *parts[1:])


def checkpoint_file(ckpt_dir: str | os.PathLike) -> Path:
    return Path(ckpt_dir) / CHECKPOINT_NAME


def save_checkpoint(ckpt_dir: str | os.PathLike, state: dict[str, Any]) -> None:
    """Write ``state`` (tensors, generator states, plain Python values) atomically to ``ckpt_dir/state.pt``."""
    data = torch_bytes(state)
    with atomic_path(checkpoint_file(ckpt_dir)) as tmp:
        tmp.write_bytes(data)


def load_checkpoint(ckpt_dir: str | os.PathLike | None, expected_fingerprint: str) -> dict[str, Any] | None:
    """The saved state if one exists and was written under the same configuration, else ``None``."""
    if ckpt_dir is None:
        return None
    path = checkpoint_file(ckpt_dir)
    if not path.exists():
        return None
    try:  # weights_only: tensors and plain values only, so a crafted file cannot run code while loading
        state = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        log.warning(
            "refusing checkpoint %s: it holds objects other than tensors and plain values (loaded with "
            "weights_only=True; %s); training restarts from scratch",
            path,
            str(exc).splitlines()[0] if str(exc) else type(exc).__name__,
        )
        return None
    except Exception as exc:  # a corrupt checkpoint is not fatal: training restarts from scratch
        log.warning("ignoring unreadable checkpoint %s: %s; training restarts from scratch", path, exc)
        return None
    if not isinstance(state, dict):
        log.warning("ignoring checkpoint %s: not a state dictionary; training restarts from scratch", path)
        return None
    if state.get("fingerprint") != expected_fingerprint:
        log.warning("ignoring checkpoint %s written under a different configuration", path)
        return None
    return state


@dataclass(frozen=True)
class Checkpoint:
    """A resumable run's checkpoint: its folder (:func:`checkpoint_dir_for`) and the fingerprint every state it
    saves carries; :meth:`load` returns None for a missing, unreadable or foreign state (:func:`load_checkpoint`)."""

    directory: str | os.PathLike
    fingerprint: str

    def load(self) -> dict[str, Any] | None:
        return load_checkpoint(self.directory, self.fingerprint)

    def save(self, state: Mapping[str, Any]) -> None:
        save_checkpoint(self.directory, {**state, "fingerprint": self.fingerprint})

    def remove(self) -> None:
        remove_checkpoint(self.directory)


def remove_checkpoint(ckpt_dir: str | os.PathLike | None) -> None:
    """Delete the checkpoint after the final outputs exist (a forced re-run then starts afresh)."""
    if ckpt_dir is not None:
        checkpoint_file(ckpt_dir).unlink(missing_ok=True)
