"""Combinatorial valuation samplers: settings (A), (B), (C), (D) of the ZFO-VVCA paper
(docs/methods.md#combinatorial-settings).

Bundles are bitmasks 0..2^m - 1 (bit j set = item j in the bundle). Additive settings are sampled and stored as
item values ``(N, n, m)``; :func:`additive_bundle_values` expands them to bundle values ``(N, n, 2^m)`` with
v_i(S) = sum_{j in S} v_i({j}). Setting (D) is sampled directly as bundle values ``(N, n, 2^m)``.

* (A) v_i({j}) ~ U[0, 1]
* (B) v_i({j}) ~ U[0, i] for bidder i = 1..n (1-indexed)
* (C) v_i({j}) ~ LogNormal(mu=0, sigma=1/i) for bidder i = 1..n
* (D) v_i({j}) ~ U[1, 2]; for |S| >= 2, v_i(S) = sum_{j in S} v_i({j}) + c_{i,S}, c_{i,S} ~ U[-a_S, a_S] drawn
  independently per bidder and bundle, with a_S = |S|/m (``size_over_m``, default) or (|S|-1)/(m-1)
  (``size_minus_one``); v_i(empty) = 0.
"""

from __future__ import annotations

import numpy as np

DISTRIBUTIONS = ("A", "B", "C", "D")
WIDTH_RULES = ("size_over_m", "size_minus_one")


def bundle_membership(m: int) -> np.ndarray:
    """0/1 matrix of shape (2^m, m): entry [S, j] is 1 when item j is in bundle S."""
    masks = np.arange(2**m)[:, None]
    return ((masks >> np.arange(m)[None, :]) & 1).astype(np.float64)


def bundle_sizes(m: int) -> np.ndarray:
    """|S| for every bundle bitmask S, shape (2^m,)."""
    return bundle_membership(m).sum(axis=1).astype(np.int64)


def additive_bundle_values(items):
    """Expand item values ``[..., n, m]`` to bundle values ``[..., n, 2^m]`` (v(S) = sum of its items).

    Works for numpy arrays and torch tensors (the result has the input's type, dtype and device).
    """
    m = items.shape[-1]
    member = bundle_membership(m)
    if isinstance(items, np.ndarray):
        return items @ member.T.astype(items.dtype)
    import torch

    return items @ torch.as_tensor(member.T, dtype=items.dtype, device=items.device)


def sample_item_values(rng: np.random.Generator, size: int, n: int, m: int, distribution: str) -> np.ndarray:
    """Item values ``(size, n, m)`` for the additive settings (A), (B), (C)."""
    bidder = np.arange(1, n + 1, dtype=np.float64)[None, :, None]
    if distribution == "A":
        return rng.random((size, n, m))
    if distribution == "B":
        return rng.random((size, n, m)) * bidder
    if distribution == "C":
        return np.exp(rng.standard_normal((size, n, m)) / bidder)
    raise ValueError(f"additive distribution must be A, B or C, got {distribution!r}")


def complementarity_width(m: int, rule: str = "size_over_m") -> np.ndarray:
    """Half-width a_S of the complementarity noise for every bundle (0 for |S| <= 1), shape (2^m,)."""
    size = bundle_sizes(m).astype(np.float64)
    if rule == "size_over_m":
        width = size / m
    elif rule == "size_minus_one":
        width = (size - 1.0) / max(m - 1, 1)
    else:
        raise ValueError(f"unknown (D) width rule {rule!r}; expected one of {WIDTH_RULES}")
    return np.where(size >= 2, width, 0.0)


def sample_bundle_values_d(
    rng: np.random.Generator, size: int, n: int, m: int, width_rule: str = "size_over_m"
) -> np.ndarray:
    """Setting (D): bundle values ``(size, n, 2^m)``, additive U[1,2] items plus bundle complementarity."""
    items = 1.0 + rng.random((size, n, m))
    width = complementarity_width(m, width_rule)
    noise = rng.uniform(-1.0, 1.0, size=(size, n, 2**m)) * width
    values = additive_bundle_values(items) + noise
    values[..., 0] = 0.0
    return values


def sample_combinatorial(
    rng: np.random.Generator, size: int, n: int, m: int, distribution: str, width_rule: str = "size_over_m"
) -> np.ndarray:
    """Item values (A/B/C, shape (size, n, m)) or bundle values (D, shape (size, n, 2^m)), float64."""
    if distribution == "D":
        return sample_bundle_values_d(rng, size, n, m, width_rule)
    return sample_item_values(rng, size, n, m, distribution)
