"""Every random seed of the pipeline, derived in one place from the config's base seed.

A seed is a :class:`numpy.random.SeedSequence` with ``entropy = base seed`` and a *spawn key* naming what it is
for: ``seed_sequence(base, "2x2_A", 2)`` has spawn key ``(crc32("2x2_A"), 2)``. String parts are mapped through
:func:`stable_key` (a platform-independent CRC-32: Python's ``hash`` is salted per process), integers are used
as they are. Distinct keys give statistically independent streams, and every output records the key it used
(:func:`seed_record`), so a result can be traced to its seed and re-drawn exactly.

The keys in use (one row per consumer; the layout is part of the data's identity, do not change it):

====================================  ================================================  =====================
what                                  spawn key                                          function
====================================  ================================================  =====================
dataset split (train/val/test)        (setting, split index 0/1/2)                       :func:`split_seed`
latent family's persistent tastes     (setting, 99)                                      :func:`tastes_seed`
ZFO/FO/BBB-VVCA run                   (setting, 7, seed index)                           :func:`vvca_run_seed`
randomized AMA run (menu)             (setting, method, seed index)                      :func:`menu_run_seed`
single-item stage (warm start, ...)   (family, stage, index)                             :func:`stage_seed`
====================================  ================================================  =====================

VVCA runs deliberately leave the method out of the key: ZFO-, FO- and BBB-VVCA of one (setting, seed) see the
same minibatch sequence (common random numbers).
"""

from __future__ import annotations

import zlib
from typing import Any

import numpy as np

SPLITS = ("train", "val", "test")
SPLIT_INDEX = {name: i for i, name in enumerate(SPLITS)}
TASTES_STREAM = 99
VVCA_RUN_STREAM = 7


def stable_key(name: str) -> int:
    """A platform-independent 32-bit integer for a name (CRC-32 of its UTF-8 bytes)."""
    return zlib.crc32(name.encode("utf-8"))


def seed_sequence(base_seed: int, *parts: str | int) -> np.random.SeedSequence:
    """The seed of ``parts`` under ``base_seed``: strings through :func:`stable_key`, integers as they are."""
    key = tuple(stable_key(p) if isinstance(p, str) else int(p) for p in parts)
    return np.random.SeedSequence(entropy=int(base_seed), spawn_key=key)


def split_seed(base_seed: int, setting: str, split: str) -> np.random.SeedSequence:
    """Seed of one dataset (setting, split)."""
    return seed_sequence(base_seed, setting, SPLIT_INDEX[split])


def tastes_seed(base_seed: int, setting: str) -> np.random.SeedSequence:
    """Seed of a dataset's persistent latent tastes: shared by the train, val and test splits."""
    return seed_sequence(base_seed, setting, TASTES_STREAM)


def vvca_run_seed(base_seed: int, setting: str, seed_index: int) -> np.random.SeedSequence:
    """Seed of one ZFO-/FO-/BBB-VVCA run (method not in the key: common random numbers across methods)."""
    return seed_sequence(base_seed, setting, VVCA_RUN_STREAM, seed_index)


def menu_run_seed(base_seed: int, setting: str, method: str, seed_index: int) -> np.random.SeedSequence:
    """Seed of one randomized affine-maximizer run (Lottery AMA, AMenuNet)."""
    return seed_sequence(base_seed, setting, method, seed_index)


def stage_seed(base_seed: int, family: str, stage: str, index: int = 0) -> int:
    """A 31-bit integer seed for a single-item stage (``warmstart``, ``final``, ``sweep``, ...) of a family."""
    return int(seed_sequence(base_seed, family, stage, index).generate_state(1)[0] & 0x7FFFFFFF)


def child(seq: np.random.SeedSequence, k: int) -> np.random.SeedSequence:
    """The k-th child of ``seq`` built explicitly from (entropy, spawn_key + (k,)).

    ``seq.spawn`` would advance a counter inside ``seq``; this gives the same child every time.
    """
    return np.random.SeedSequence(entropy=seq.entropy, spawn_key=(*seq.spawn_key, k))


def torch_generators(seq: np.random.SeedSequence, count: int) -> list:
    """``count`` independent CPU torch generators from the children 0..count-1 of ``seq``.

    torch is imported here, not at module level: the workflow imports this package while it parses the DAG.
    """
    import torch

    gens = []
    for k in range(count):
        gen = torch.Generator(device="cpu")
        gen.manual_seed(int(child(seq, k).generate_state(1, dtype=np.uint64)[0]))
        gens.append(gen)
    return gens


def seed_record(seq: np.random.SeedSequence) -> dict[str, Any]:
    """What outputs record of a seed: its entropy and spawn key."""
    return {"entropy": seq.entropy, "spawn_key": list(seq.spawn_key)}
