"""Starts of the AMA over every allocation (``docs/methods.md``, section "Deterministic AMA over every allocation").

* ``vcg``: w = 1, every boost 0.
* ``vvca_plus``: ZFO-VVCA+'s selected run of the same seed, lifted exactly (:func:`deterministic_ama.lift_vvca`,
  lambda(a) = sum_i lambda_i(A_i(a)) up to a constant): the AMA starts where the best VVCA stands, and as the
  selection keeps the best validation iterate (iteration 0 included) it never ends below it on validation.
* ``symmetric_search`` (bundle-symmetric family only): a coordinate search of the exact training revenue over the
  symmetric boosts, from the best of the other candidates, and, where the symmetric family has at most
  ``grid_max_dim`` parameters, from the best point of a full grid (:func:`grid_search`). A derivative-free
  complement of Algorithm 3: Rev2 is piecewise constant, so coarse moves across its steps find basins that the
  smoothed gradient reaches slowly (2x2(A): the one-each boost moves away from twice the one-item boost, which no
  VVCA can express).
* ``zfo_ama_sym`` (full family only): the trained bundle-symmetric AMA of the same seed, lifted exactly.

Searches see only the training split; candidates are ranked on the validation split (:func:`rank`).
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import torch

from pipeline_lib.combinatorial import deterministic_ama as ama
from pipeline_lib.combinatorial.ama_family import AMAFamily
from pipeline_lib.core.config_blocks import from_mapping
from pipeline_lib.vvca.bids import BidSource


def _revenues(family: AMAFamily, bids: torch.Tensor, phis: torch.Tensor) -> torch.Tensor:
    alphas, boosts = family.batched(phis.to(bids.dtype))
    return ama.revenue_batched(bids, alphas, boosts, family.bundles.to(bids.device))


def grid_search(family: AMAFamily, bids: torch.Tensor, points: int, low: float, high: float) -> torch.Tensor:
    """The best phi of a grid of ``points`` values in [low, high] per boost (weights fixed at 1) on ``bids``."""
    boosts = family.n_boosts
    axis = torch.linspace(low, high, points, dtype=torch.float64)
    grid = torch.tensor(list(itertools.product(axis.tolist(), repeat=boosts)), dtype=torch.float64)
    phis = torch.cat([torch.zeros(len(grid), family.dim - boosts, dtype=torch.float64), grid], dim=1)
    return phis[int(_revenues(family, bids, phis).argmax())].float()


def coordinate_search(
    family: AMAFamily, bids: torch.Tensor, phi: torch.Tensor, steps: tuple[float, ...], rounds: int
) -> torch.Tensor:
    """Per round and step size h (largest first), each coordinate k in turn moves to the best of
    phi + h t e_k, t in {-4, .., 4}, on ``bids`` (exact revenue; ties keep the current point)."""
    phi = phi.detach().double().clone()
    moves = torch.arange(-4, 5, dtype=torch.float64)
    for _, h in itertools.product(range(rounds), steps):
        for k in range(family.dim):
            phis = phi.expand(len(moves), -1).clone()
            phis[:, k] += h * moves
            revenues = _revenues(family, bids, phis)
            best = int(revenues.argmax())
            if revenues[best] > revenues[4]:
                phi = phis[best]
    return phi.float()


@dataclass
class Candidate:
    """A start (phi of the family) and its exact validation revenue."""

    name: str
    phi: torch.Tensor
    val_revenue: float


def rank(family: AMAFamily, starts: dict[str, torch.Tensor], val: BidSource) -> list[Candidate]:
    """Every start evaluated exactly on the validation split, best first (ties keep the insertion order)."""
    ranked = [Candidate(name, phi, family.revenue(val, phi)) for name, phi in starts.items()]
    return sorted(ranked, key=lambda c: -c.val_revenue)


@dataclass(frozen=True)
class SearchConfig:
    """Searches of the bundle-symmetric starts: grid (points per boost in [low, high], only up to ``grid_max_dim``
    boosts; on at most ``grid_profiles`` training profiles) and coordinate search (step sizes, rounds), on as many
    training profiles as keep profiles x n x (n+1)^m within ``cells`` (2x2: 20,000 and more; 2x5: 5,144; 5x3:
    2,314), in as many rounds as keep dim x steps x rounds within ``max_moves`` (at least one: 5x3(B), 60
    parameters, one round)."""

    grid_points: int = 21
    grid_low: float = -1.5
    grid_high: float = 0.5
    grid_max_dim: int = 3
    grid_profiles: int = 5000
    steps: tuple[float, ...] = (0.2, 0.05, 0.01)
    rounds: int = 3
    cells: int = 2_500_000
    max_moves: int = 150  # coordinate moves (dim x steps x rounds) at most, by fewer rounds (at least one)

    @classmethod
    def from_mapping(cls, cfg: Mapping[str, Any] | None, key: str = "combinatorial.ama.search") -> SearchConfig:
        """Strict (:func:`pipeline_lib.core.config_blocks.from_mapping`): an unknown key names ``key``."""
        cfg = dict(cfg or {})
        if "steps" in cfg:
            cfg["steps"] = tuple(float(x) for x in cfg["steps"])
        return from_mapping(cls, cfg, key)

    def profiles(self, n: int, m: int) -> int:
        """Training profiles of the coordinate search for n bidders and m items."""
        return max(1, self.cells // (n * ama.outcome_count(n, m)))

    def rounds_for(self, dim: int) -> int:
        """Rounds of the coordinate search of a family of dimension ``dim``."""
        return max(1, min(self.rounds, self.max_moves // (dim * len(self.steps))))


def symmetric_candidates(
    family: AMAFamily, starts: dict[str, torch.Tensor], train_bids: torch.Tensor, search: SearchConfig
) -> dict[str, torch.Tensor]:
    """``starts`` plus ``symmetric_search``: the coordinate search from the best start on the training profiles,
    and from the best grid point where the family has at most ``grid_max_dim`` boosts (whichever earns more)."""
    bids = train_bids[: search.profiles(family.n, family.m)].double()
    names = list(starts)
    revenues = _revenues(family, bids, torch.stack([starts[k] for k in names]).double())
    origins = [starts[names[int(revenues.argmax())]]]
    if family.n_boosts <= search.grid_max_dim:
        grid_bids = bids[: search.grid_profiles]
        origins.append(grid_search(family, grid_bids, search.grid_points, search.grid_low, search.grid_high))
    rounds = search.rounds_for(family.dim)
    found = [coordinate_search(family, bids, phi, search.steps, rounds) for phi in origins]
    scores = _revenues(family, bids, torch.stack(found).double())
    return {**starts, "symmetric_search": found[int(scores.argmax())]}
