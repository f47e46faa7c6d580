"""Myerson-shaped VVCAs and the start selection of ZFO-VVCA+ (docs/methods.md#myerson-shaped-vvcas, #zfo-vvca-plus).

A VVCA with weights w_i = 1 and additive boosts lambda_i(S) = -sum_{j in S} c_ij allocates every item separately
(additive bids): the affine welfare sum_i [v_i(A_i) + lambda_i(A_i)] = sum_j (v_{i_j j} - c_{i_j j}) is maximised
item by item, so item j goes to argmax_i (v_ij - c_ij) when that is >= 0 and nobody otherwise, and the VVCA
payment (Eq. 2) of the winner w of item j is its critical bid c_wj + max(0, max_{k != w} (v_kj - c_kj)).

* Exact Item-Myerson: when every bidder's item virtual value is affine with a common slope, phi_i(v) = a v - c_i
  (a > 0), ranking by phi_i(v) is ranking by v - c_i/a and phi_w^{-1}(max(0, max_k phi_k)) = c_w/a + max(0,
  max_k (v_k - c_k/a)); so per-item Myerson IS the VVCA with w_i = 1, lambda_i(S) = -(c_i/a)|S| = -r_i |S|, r_i the
  Myerson reserve. (A) U[0,1]: r = 1/2; (B) U[0,i]: r_i = i/2 (:func:`myerson_shaped_vvca`).
* Reserve VVCA (:func:`item_reserve_vvca`): lambda_i(S) = -sum_{j in S} r_ij with r_ij = bidder i's Myerson reserve
  for item j; for (C) log-normal items (phi_i not affine) the exact reserves phi_i(r_i) = 0 of
  :mod:`pipeline_lib.combinatorial.item_myerson`: a start, not Item-Myerson. With reserves fitted on the training
  split (:func:`pipeline_lib.combinatorial.bundle_myerson.empirical_myerson_reserve` of the singleton values) it
  is defined for every distribution, (D) included.
* Grand-bundle Myerson as a VVCA (:func:`grand_bundle_vvca`): lambda_i(empty) = 0, lambda_i(S) = -K for
  0 < |S| < m, lambda_i(M) = -r_i, w_i = 1, with K larger than any bundle value (partial bundles never win) and
  r_i the Myerson reserve of bidder i's grand-bundle value v_i(M) (complementarity term included in (D)), fitted
  on the training split. It equals ``bundle_myerson(..., rule="shifted")``.
* Bundle-reserve VVCA (:func:`bundle_reserve_vvca`): lambda_i(S) = -r_i(S) with r_i(S) the empirical Myerson
  reserve of v_i(S) for every bundle (interpolates between the two above).

ZFO-VVCA+ (key ``zfo_vvca_plus``): Algorithm 3 unchanged, started from the candidate with the best validation
revenue under the exact evaluator (:func:`rank_starts`, :func:`select_start`). Parametrisation.full maps
theta = (alpha, lambda) to phi = [alpha, lambda.flatten()] (:func:`params_to_phi`); the training loop takes it as
``init_phi`` (:func:`pipeline_lib.vvca.zfo.train`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from pipeline_lib.combinatorial.bundle_myerson import empirical_myerson_reserve, grand_bundle_values
from pipeline_lib.combinatorial.item_myerson import item_priors
from pipeline_lib.valuations.combinatorial import bundle_membership, bundle_sizes
from pipeline_lib.vvca.bids import BidSource
from pipeline_lib.vvca.evaluate import evaluate_on
from pipeline_lib.vvca.mechanism import VVCAParams
from pipeline_lib.vvca.parametrisation import Parametrisation

EXACT_ITEM_MYERSON = ("A", "B")  # common-slope affine virtual values: the VVCA is exact Item-Myerson
BIG_BOOST_FACTOR = 10.0  # K = 10 x the largest bundle value seen (docs/methods.md#myerson-shaped-vvcas)
MAX_FIT_PROFILES = 20000  # training profiles used to fit empirical reserves


# ------------------------------------------------------------------------------------------------ builders
def item_reserve_vvca(
    reserves: Sequence[float] | torch.Tensor, m: int, *, dtype: torch.dtype = torch.float32
) -> VVCAParams:
    """w_i = 1 and lambda_i(S) = -sum_{j in S} r_ij (lambda_i(empty) = 0).

    Args:
        reserves: (n,) one reserve per bidder (the same for every item: lambda_i(S) = -r_i |S|) or (n, m).
        m: number of items.
    """
    r = torch.as_tensor(reserves, dtype=torch.float64)
    if r.dim() == 1:
        r = r[:, None].expand(-1, m)
    if r.dim() != 2 or r.shape[1] != m:
        raise ValueError(f"reserves must be (n,) or (n, {m}), got {tuple(r.shape)}")
    member = torch.as_tensor(bundle_membership(m), dtype=torch.float64)  # (2^m, m)
    boosts = -(r @ member.T)
    return VVCAParams(torch.zeros(r.shape[0], dtype=dtype), boosts.to(dtype))


def myerson_reserves(distribution: str, n: int) -> list[float]:
    """Exact per-item Myerson reserves r_i (phi_i(r_i) = 0) of the additive settings: (A) 1/2, (B) i/2, (C) the
    log-normal root of :mod:`pipeline_lib.combinatorial.item_myerson`."""
    return [float(p.reserve) for p in item_priors(distribution, n)]


def myerson_shaped_vvca(n: int, m: int, distribution: str, *, dtype: torch.dtype = torch.float32) -> VVCAParams:
    """The Myerson-shaped VVCA of a setting: w_i = 1, lambda_i(S) = -r_i |S| with the exact item reserves r_i.

    Exact Item-Myerson (allocation and payments, profile by profile) for (A) and (B); the reserve VVCA for (C).
    (D) has no item prior (ValueError); use :func:`item_reserve_vvca` with fitted reserves instead.
    """
    return item_reserve_vvca(myerson_reserves(distribution, n), m, dtype=dtype)


def grand_bundle_vvca(
    reserves: Sequence[float] | torch.Tensor, m: int, big: float, *, dtype: torch.dtype = torch.float32
) -> VVCAParams:
    """Grand-bundle Myerson as a VVCA: w_i = 1, lambda_i(empty) = 0, lambda_i(S) = -big for 0 < |S| < m,
    lambda_i(M) = -r_i. ``big`` must exceed every bundle value so that partial bundles never win."""
    r = torch.as_tensor(reserves, dtype=torch.float64).reshape(-1)
    sizes = torch.as_tensor(bundle_sizes(m))
    boosts = torch.where(sizes > 0, -float(big), 0.0).to(torch.float64).expand(r.shape[0], -1).clone()
    boosts[:, -1] = -r
    return VVCAParams(torch.zeros(r.shape[0], dtype=dtype), boosts.to(dtype))


def bundle_reserve_vvca(reserves: torch.Tensor, *, dtype: torch.dtype = torch.float32) -> VVCAParams:
    """w_i = 1, lambda_i(S) = -r_i(S) for a table of per-bundle reserves (n, 2^m) (r_i(empty) is set to 0)."""
    boosts = -torch.as_tensor(reserves, dtype=torch.float64).clone()
    boosts[:, 0] = 0.0
    return VVCAParams(torch.zeros(boosts.shape[0], dtype=dtype), boosts.to(dtype))


# --------------------------------------------------------------------------------------------- fitted starts
def _fit_block(values: np.ndarray | torch.Tensor, max_profiles: int) -> torch.Tensor:
    """The first ``max_profiles`` training profiles as a CPU tensor in their own dtype (reserves are fitted in
    float64 column block by column block, so a (D) table of 2^m bundles is never copied whole to float64)."""
    if isinstance(values, torch.Tensor):
        return values[:max_profiles].detach().cpu()
    return torch.tensor(np.asarray(values)[:max_profiles])


def fitted_grand_bundle_vvca(
    values: np.ndarray | torch.Tensor,
    additive: bool,
    *,
    max_profiles: int = MAX_FIT_PROFILES,
    dtype: torch.dtype = torch.float32,
) -> VVCAParams:
    """:func:`grand_bundle_vvca` with r_i the empirical Myerson reserve of v_i(M) on (the first ``max_profiles``
    of) the training values, and K = 10 x the largest bundle value among them.

    Args:
        values: training item values (N, n, m) when ``additive``, else bundle values (N, n, 2^m).
    """
    x = _fit_block(values, max_profiles)
    grand = grand_bundle_values(x.double() if additive else x, additive).double()  # (N, n)
    m = x.shape[2] if additive else x.shape[2].bit_length() - 1
    largest = float(grand.max()) if additive else float(x.max())  # additive values are monotone in S
    big = BIG_BOOST_FACTOR * max(largest, 1.0)
    return grand_bundle_vvca(empirical_myerson_reserve(grand), m, big, dtype=dtype)


def fitted_item_reserve_vvca(
    values: np.ndarray | torch.Tensor,
    additive: bool,
    *,
    max_profiles: int = MAX_FIT_PROFILES,
    dtype: torch.dtype = torch.float32,
) -> VVCAParams:
    """:func:`item_reserve_vvca` with r_ij the empirical Myerson reserve of v_i({j}) on the training values."""
    x = _fit_block(values, max_profiles)
    if additive:
        singles = x  # (N, n, m)
    else:
        m = x.shape[2].bit_length() - 1
        singles = x[..., [1 << j for j in range(m)]]
    n, m = singles.shape[1], singles.shape[2]
    reserves = empirical_myerson_reserve(singles.reshape(singles.shape[0], n * m)).reshape(n, m)
    return item_reserve_vvca(reserves, m, dtype=dtype)


def fitted_bundle_reserve_vvca(
    values: np.ndarray | torch.Tensor,
    additive: bool,
    *,
    max_profiles: int = MAX_FIT_PROFILES,
    dtype: torch.dtype = torch.float32,
) -> VVCAParams:
    """:func:`bundle_reserve_vvca` with r_i(S) the empirical Myerson reserve of v_i(S), bidder by bidder."""
    x = _fit_block(values, max_profiles)
    n = x.shape[1]
    size = 2 ** x.shape[2] if additive else x.shape[2]
    member = torch.as_tensor(bundle_membership(size.bit_length() - 1), dtype=torch.float64) if additive else None
    reserves = torch.empty(n, size, dtype=torch.float64)
    for i in range(n):
        for start in range(0, size, 128):  # blocks of bundles bound the memory of the sort
            cols = slice(start, min(start + 128, size))
            table = x[:, i].double() @ member[cols].T if member is not None else x[:, i, cols]
            reserves[i, cols] = empirical_myerson_reserve(table)
    return bundle_reserve_vvca(reserves, dtype=dtype)


# ----------------------------------------------------------------------------------------- start selection
def params_to_phi(params: VVCAParams, parametrisation: Parametrisation | None = None) -> torch.Tensor:
    """phi of :meth:`Parametrisation.full` for these parameters: phi = [alpha, boosts.flatten()] (float32)."""
    if parametrisation is not None:
        if parametrisation.name != "full" or (parametrisation.n, parametrisation.m) != (params.n, params.m):
            raise ValueError(f"only the full parametrisation of ({params.n}, {params.m}) maps every VVCA to a phi")
    return params.as_vector().detach().to(torch.float32).clone()


def candidate_starts(
    n: int,
    m: int,
    distribution: str,
    train_values: np.ndarray | torch.Tensor,
    *,
    max_profiles: int = MAX_FIT_PROFILES,
) -> dict[str, VVCAParams]:
    """Every candidate start of ZFO-VVCA+ for a setting, by name (insertion order = preference on ties).

    * ``vcg``: w = 1, lambda = 0 (the start of plain ZFO-VVCA);
    * ``myerson_shaped``: (A), (B) exact Item-Myerson, (C) the reserve VVCA with exact log-normal reserves (absent
      for (D));
    * ``item_reserve_fitted``: lambda_i(S) = -sum_{j in S} r_ij, empirical singleton reserves (every setting);
    * ``grand_bundle``: grand-bundle Myerson with empirical bundle reserves;
    * ``bundle_reserve_fitted``: lambda_i(S) = -r_i(S), empirical reserve of every bundle value.

    Args:
        train_values: the training split as stored: item values (N, n, m) for (A), (B), (C), bundle values
            (N, n, 2^m) for (D).
    """
    additive = distribution != "D"
    shape = tuple(np.shape(train_values))[1:]
    if shape != ((n, m) if additive else (n, 2**m)):
        raise ValueError(f"training values of shape {shape} do not fit {n}x{m} ({distribution})")
    starts: dict[str, VVCAParams] = {"vcg": VVCAParams.vcg(n, m)}
    if additive:
        starts["myerson_shaped"] = myerson_shaped_vvca(n, m, distribution)
    kwargs: dict[str, Any] = {"max_profiles": max_profiles}
    starts["item_reserve_fitted"] = fitted_item_reserve_vvca(train_values, additive, **kwargs)
    starts["grand_bundle"] = fitted_grand_bundle_vvca(train_values, additive, **kwargs)
    starts["bundle_reserve_fitted"] = fitted_bundle_reserve_vvca(train_values, additive, **kwargs)
    return starts


@dataclass
class RankedStart:
    """A candidate start with its exact validation evaluation (``val``: mean, se, n_profiles, welfare, ...)."""

    name: str
    params: VVCAParams
    val_revenue: float
    val: dict[str, Any] = field(default_factory=dict)

    @property
    def phi(self) -> torch.Tensor:
        """The start as phi of :meth:`Parametrisation.full` (pass it as ``init_phi``)."""
        return params_to_phi(self.params)


def rank_starts(
    candidates: dict[str, VVCAParams], val_source: BidSource, *, chunk_size: int = 8192
) -> list[RankedStart]:
    """Evaluate every candidate on the validation split with the exact evaluator (DP argmax, Algorithm 2) and
    return them best first (stable: ties keep the candidates' order)."""
    ranked = []
    for name, params in candidates.items():
        params = params.to(device=val_source.device, dtype=val_source.values.dtype)
        val = evaluate_on(val_source, params, chunk_size=chunk_size)
        ranked.append(RankedStart(name, params.to(device="cpu"), val["revenue"]["mean"], val))
    return sorted(ranked, key=lambda s: -s.val_revenue)


def select_start(
    n: int,
    m: int,
    distribution: str,
    train_values: np.ndarray | torch.Tensor,
    val_source: BidSource,
    *,
    max_profiles: int = MAX_FIT_PROFILES,
) -> list[RankedStart]:
    """ZFO-VVCA+ start selection: :func:`candidate_starts` ranked by :func:`rank_starts`; element 0 is the start."""
    return rank_starts(candidate_starts(n, m, distribution, train_values, max_profiles=max_profiles), val_source)
