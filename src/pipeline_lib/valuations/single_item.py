"""Single-item valuation samplers (docs/methods.md#single-item-families).

Every sampler draws an ``(N, n)`` array of bidder values for one item from an explicit
:class:`numpy.random.Generator`, so the same seed gives the same values bit for bit.

Families
--------
* ``uniform``      v_i ~ U[low, high] i.i.d.
* ``exponential``  v_i ~ Exp(mean) i.i.d.
* ``latent``       v_i = max(0, w_i . z + eps_i), z ~ N(0, sigma_z^2 I_d), eps_i ~ N(0, sigma_eps^2) per auction;
                   persistent bidder tastes w_i ~ N(0, I_d) drawn once per dataset (``w_mode="fixed"``) from their
                   own recorded seed, or redrawn per auction (``w_mode="per_auction"``, the report's literal text).
* ``hetero``       i.i.d. mixture: each bidder's type uniform on {U[0.5, 1], U[0, 0.5], Exp(mean 1)}, so the
                   marginal is F = 2/3 U[0,1] + 1/3 Exp(1) (docs/methods.md#myerson-and-ironing).
* ``lognormal``    multivariate log-normal (the report's "Option A"): v = exp(mu + sigma x), x ~ N(0, R) with the
                   equicorrelation matrix R = (1 - rho) I + rho 11^T.
* ``mixture``      i.i.d. finite mixture F = sum_k w_k F_k of marginals (uniform, exponential, hetero, mixture):
                   ``{"distribution": "mixture", "components": [spec, ...], "weights": [w, ...]}``.
* ``per_bidder``   independent, not identically distributed (asymmetric bidders): bidder i's value has its own
                   marginal, ``{"distribution": "per_bidder", "bidders": [spec_1, ..., spec_n]}``.

Adding the last two families left the bytes drawn for every earlier family unchanged.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

FAMILIES = ("uniform", "exponential", "latent", "hetero", "lognormal", "mixture", "per_bidder")
MARGINALS = ("uniform", "exponential", "hetero", "mixture")  # one-dimensional specs usable as components


def sample_uniform(rng: np.random.Generator, size: int, n: int, low: float = 0.0, high: float = 1.0) -> np.ndarray:
    """v_i ~ U[low, high], i.i.d."""
    return rng.uniform(low, high, size=(size, n))


def sample_exponential(rng: np.random.Generator, size: int, n: int, mean: float = 1.0) -> np.ndarray:
    """v_i ~ Exp with the given mean (rate 1/mean), i.i.d."""
    return rng.exponential(mean, size=(size, n))


def draw_latent_tastes(rng: np.random.Generator, n: int, d: int) -> np.ndarray:
    """Persistent bidder tastes w_i ~ N(0, I_d), shape (n, d)."""
    return rng.standard_normal((n, d))


def sample_latent(
    rng: np.random.Generator,
    size: int,
    n: int,
    tastes: np.ndarray | None,
    d: int = 1,
    sigma_z: float = 1.0,
    sigma_eps: float = 0.05,
    w_mode: str = "fixed",
) -> np.ndarray:
    """v_i = max(0, w_i . z + eps_i) with z ~ N(0, sigma_z^2 I_d), eps_i ~ N(0, sigma_eps^2)."""
    z = sigma_z * rng.standard_normal((size, d))
    eps = sigma_eps * rng.standard_normal((size, n))
    if w_mode == "fixed":
        if tastes is None or tastes.shape != (n, d):
            raise ValueError(f"latent family needs persistent tastes of shape ({n}, {d})")
        signal = z @ tastes.T
    elif w_mode == "per_auction":
        w = rng.standard_normal((size, n, d))
        signal = np.einsum("snd,sd->sn", w, z)
    else:
        raise ValueError(f"latent w_mode must be 'fixed' or 'per_auction', got {w_mode!r}")
    return np.maximum(0.0, signal + eps)


def sample_hetero(rng: np.random.Generator, size: int, n: int) -> np.ndarray:
    """Each bidder's type uniform on {U[0.5,1], U[0,0.5], Exp(1)}; i.i.d. across bidders and auctions."""
    kind = rng.integers(0, 3, size=(size, n))
    u = rng.random((size, n))
    e = rng.exponential(1.0, size=(size, n))
    return np.where(kind == 0, 0.5 + 0.5 * u, np.where(kind == 1, 0.5 * u, e))


def sample_lognormal(
    rng: np.random.Generator, size: int, n: int, mu: float = 0.0, sigma: float = 1.0, rho: float = 0.0
) -> np.ndarray:
    """v = exp(mu + sigma x), x ~ N(0, (1 - rho) I + rho 11^T); needs -1/(n-1) < rho < 1."""
    if not (-1.0 / max(n - 1, 1) < rho < 1.0) and not (n == 1 and rho == 0.0):
        raise ValueError(f"lognormal correlation rho={rho} gives no valid correlation matrix for n={n}")
    cov = (1.0 - rho) * np.eye(n) + rho * np.ones((n, n))
    x = rng.standard_normal((size, n)) @ np.linalg.cholesky(cov).T
    return np.exp(mu + sigma * x)


def mixture_weights(weights: Any, n_components: int) -> np.ndarray:
    """Validated mixture weights: one per component, non-negative, summing to 1 (to 1e-9; then renormalised)."""
    w = np.asarray(weights, np.float64).reshape(-1)
    if w.size != n_components or n_components == 0:
        raise ValueError(f"a mixture needs one weight per component ({n_components}), got {w.size}")
    if np.any(w < 0) or abs(float(w.sum()) - 1.0) > 1e-9:
        raise ValueError(f"mixture weights must be non-negative and sum to 1, got {w.tolist()}")
    return w / w.sum()


def sample_marginal(rng: np.random.Generator, shape: tuple[int, ...], spec: Mapping[str, Any]) -> np.ndarray:
    """Draws of shape ``shape`` from one one-dimensional marginal ``spec`` (a member of :data:`MARGINALS`)."""
    dist = spec["distribution"]
    kw = {k: v for k, v in spec.items() if k != "distribution"}
    if dist == "uniform":
        return rng.uniform(float(kw.get("low", 0.0)), float(kw.get("high", 1.0)), size=shape)
    if dist == "exponential":
        return rng.exponential(float(kw.get("mean", 1.0)), size=shape)
    if dist == "hetero":
        return sample_hetero(rng, int(np.prod(shape)), 1).reshape(shape)
    if dist == "mixture":
        return sample_mixture(rng, shape, kw["components"], kw["weights"])
    raise ValueError(f"unknown one-dimensional distribution {dist!r}; expected one of {MARGINALS}")


def sample_mixture(rng: np.random.Generator, shape: tuple[int, ...], components: Any, weights: Any) -> np.ndarray:
    """F = sum_k w_k F_k: a component index per draw (``rng.choice`` with p = w), then, component by component
    in order, that component's draws for the positions holding its index."""
    w = mixture_weights(weights, len(components))
    kind = rng.choice(len(w), size=shape, p=w)
    out = np.empty(shape, np.float64)
    for k, comp in enumerate(components):
        mask = kind == k
        out[mask] = sample_marginal(rng, (int(mask.sum()),), comp)
    return out


def sample_per_bidder(rng: np.random.Generator, size: int, n: int, bidders: Any) -> np.ndarray:
    """Independent asymmetric bidders: column i drawn from ``bidders[i]``, bidder by bidder in order."""
    if len(bidders) != n:
        raise ValueError(f"per_bidder family lists {len(bidders)} distributions for {n} bidders")
    return np.stack([sample_marginal(rng, (size,), spec) for spec in bidders], axis=1)


def sample_single_item(
    rng: np.random.Generator, size: int, n: int, params: Mapping[str, Any], tastes: np.ndarray | None = None
) -> np.ndarray:
    """Dispatch on ``params["distribution"]``; returns float64 values of shape (size, n). A family's own
    ``n_bidders`` is its size (``n``), not a parameter of its distribution."""
    dist = params["distribution"]
    kw = {k: v for k, v in params.items() if k not in ("distribution", "n_bidders")}
    if dist == "uniform":
        return sample_uniform(rng, size, n, **kw)
    if dist == "exponential":
        return sample_exponential(rng, size, n, **kw)
    if dist == "latent":
        return sample_latent(rng, size, n, tastes, **kw)
    if dist == "hetero":
        return sample_hetero(rng, size, n)
    if dist == "lognormal":
        return sample_lognormal(rng, size, n, **kw)
    if dist == "mixture":
        return sample_mixture(rng, (size, n), kw["components"], kw["weights"])
    if dist == "per_bidder":
        return sample_per_bidder(rng, size, n, kw["bidders"])
    raise ValueError(f"unknown single-item distribution {dist!r}; expected one of {FAMILIES}")
