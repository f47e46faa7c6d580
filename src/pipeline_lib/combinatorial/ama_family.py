"""The AMA over every allocation as a family Algorithm 3 trains: free parameters phi, full or bundle-symmetric
(``docs/methods.md``, section "Deterministic AMA over every allocation").

theta = (alpha, lambda) is a gather of phi: alpha_i = phi[alpha_index[i]], lambda(a) = phi[boost_index[a]], index -1
meaning the constant 0 (the empty allocation's boost, fixed so that IR holds).

* ``full`` (method ``zfo_ama``): phi = [alpha (n), lambda(a) for a = 1..K-1], d = n + K - 1.
* ``symmetric`` (method ``zfo_ama_sym``): the boost of an allocation depends only on its shape up to the symmetries
  of the setting. Items are exchangeable in every distribution (A-D draw items i.i.d. per bidder; (D)'s
  complementarity width depends on |S| only), so the shape is the count of items per owner (c_0 unsold, c_1..c_n);
  where bidders are exchangeable too ((A), (D): i.i.d. bidders) it is (c_0, the sorted counts of the bidders) and
  the bidders share one weight. (B) and (C) bidders differ, so only items are permuted. 2x2(A): three boosts (one
  item sold, both to one bidder, one each) and one weight.

Algorithm 3 on either (:meth:`AMAFamily.ascent`): g = grad Rev1 (Danskin, :func:`deterministic_ama.rev1_surrogate`)
+ the Eq. 9 estimate of grad Rev2_sigma (:func:`pipeline_lib.vvca.estimators.smoothing_gradient`), unchanged.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch

from pipeline_lib.combinatorial import deterministic_ama as ama
from pipeline_lib.vvca.bids import BidSource
from pipeline_lib.vvca.config import ZEROTH_ORDER
from pipeline_lib.vvca.estimators import StepResult, smoothing_gradient

BIDDER_SYMMETRIC = ("A", "D")  # i.i.d. bidders; (B), (C) scale bidder i's values by i


def shape_keys(n: int, m: int, bidders_symmetric: bool) -> list[tuple[int, ...]]:
    """The shape of every allocation (index order of :func:`deterministic_ama.owners`): (c_0, c_1, .., c_n) item
    counts per owner, the bidders' counts sorted when bidders are exchangeable."""
    counts = torch.stack([(ama.owners(n, m) == k).sum(1) for k in range(n + 1)], dim=1).tolist()
    return [(c[0], *sorted(c[1:])) if bidders_symmetric else tuple(c) for c in counts]


@dataclass(frozen=True)
class AMAFamily:
    """alpha = phi[alpha_index], lambda = phi[boost_index] (-1 = 0); ``bundles`` (K, n) of every allocation."""

    n: int
    m: int
    alpha_index: torch.Tensor  # (n,) long
    boost_index: torch.Tensor  # (K,) long, boost_index[0] = -1
    dim: int
    name: str = "full"
    labels: tuple[str, ...] = field(default_factory=tuple)

    @property
    def bundles(self) -> torch.Tensor:
        return ama.outcome_bundles(self.n, self.m)

    @property
    def n_boosts(self) -> int:
        """Free boost parameters: phi's entries after the weights'."""
        return self.dim - int(self.alpha_index.max()) - 1

    @classmethod
    def full(cls, n: int, m: int) -> AMAFamily:
        k = ama.outcome_count(n, m)
        boost_index = torch.cat([torch.tensor([-1]), n + torch.arange(k - 1)])
        labels = tuple(f"alpha_{i}" for i in range(n)) + tuple(f"lambda({a})" for a in range(1, k))
        return cls(n, m, torch.arange(n), boost_index, n + k - 1, "full", labels)

    @classmethod
    def symmetric(cls, n: int, m: int, distribution: str) -> AMAFamily:
        bidders_symmetric = distribution in BIDDER_SYMMETRIC
        keys = shape_keys(n, m, bidders_symmetric)
        n_alpha = 1 if bidders_symmetric else n
        alpha_index = torch.zeros(n, dtype=torch.long) if bidders_symmetric else torch.arange(n)
        empty = keys[0]
        shapes = list(dict.fromkeys(k for k in keys if k != empty))
        boost_index = torch.tensor([-1 if k == empty else n_alpha + shapes.index(k) for k in keys])
        labels = tuple(f"alpha_{i}" for i in range(n_alpha)) + tuple(f"lambda(shape {s})" for s in shapes)
        return cls(n, m, alpha_index, boost_index, n_alpha + len(shapes), f"symmetric_{distribution}", labels)

    # ----------------------------------------------------------------------------------------- parameters
    def _gather(self, phi: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        ext = torch.cat([phi, phi.new_zeros(*phi.shape[:-1], 1)], dim=-1)  # index -1 -> the appended 0
        return ext[..., self.alpha_index.to(phi.device)], ext[..., self.boost_index.to(phi.device)]

    def params(self, phi: torch.Tensor) -> ama.AMAParams:
        """AMA parameters of one phi (d,), differentiable in phi."""
        return ama.AMAParams(*self._gather(phi))

    def batched(self, phis: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """alphas (q, n) and boosts (q, K) of phis (q, d)."""
        return self._gather(phis)

    def phi_of(self, params: ama.AMAParams) -> torch.Tensor:
        """The phi whose parameters are the orbit means of ``params`` (after shifting lambda(empty) to 0): exact for
        the full family and for parameters that already have the family's symmetry, a projection otherwise."""
        values = torch.cat([params.alpha.double(), (params.boosts - params.boosts[0]).double()])
        index = torch.cat([self.alpha_index, self.boost_index])
        keep = index >= 0
        sums = torch.zeros(self.dim, dtype=torch.float64).index_add_(0, index[keep], values[keep])
        counts = torch.zeros(self.dim, dtype=torch.float64).index_add_(
            0, index[keep], torch.ones(int(keep.sum()), dtype=torch.float64)
        )
        return (sums / counts).to(torch.float32)

    # ------------------------------------------------------------------------------------- Algorithm 3
    def ascent(
        self,
        method: str,
        bids: torch.Tensor,
        phi: torch.Tensor,
        directions: torch.Tensor | None,
        sigma: float,
        estimator: str,
    ) -> StepResult:
        """grad Rev1 (Danskin) + the Eq. 9 estimate of grad Rev2_sigma on the minibatch (methods of ZEROTH_ORDER)."""
        if method not in ZEROTH_ORDER or directions is None:
            raise ValueError(f"the AMA family trains zeroth-order methods {ZEROTH_ORDER} with directions, not {method}")
        bundles = self.bundles.to(bids.device)
        params = self.params(phi)
        outcome = ama.evaluate_ama(bids, params, bundles)
        (grad,) = torch.autograd.grad(ama.rev1_surrogate(bids, params, bundles, outcome), phi)
        base = outcome.rev2.mean()

        def rev2_of(phis: torch.Tensor) -> torch.Tensor:
            return ama.rev2_batched(bids, *self.batched(phis), bundles)

        grad = grad + smoothing_gradient(rev2_of, phi, directions, sigma, base=base, estimator=estimator)
        return StepResult(grad, float(outcome.revenue.mean()), float(outcome.rev1.mean()), float(base))

    def evaluate(self, source: BidSource, phi: torch.Tensor) -> dict:
        """The exact evaluation summary of phi on ``source`` (:func:`deterministic_ama.evaluate_source`)."""
        with torch.no_grad():
            params = self.params(phi.detach().to(source.device))
        return ama.evaluate_source(source, params, self.bundles.to(source.device))

    def revenue(self, source: BidSource, phi: torch.Tensor) -> float:
        return self.evaluate(source, phi)["revenue"]["mean"]
