"""The free parameters phi of a VVCA: theta = (alpha, lambda) as a gather of phi (the full mechanism or a tying).

Shared by the ZFO-VVCA loop, the Fig. 2 case study (a tied 2x2 VVCA) and the starts of ZFO-VVCA+.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch

from pipeline_lib.vvca.mechanism import VVCAParams


@dataclass(frozen=True)
class Parametrisation:
    """theta = (alpha, lambda) as a gather of free parameters phi (d,): alpha_i = phi[alpha_index[i]],
    lambda_i(S) = phi[boost_index[i, S]], where index -1 means the constant 0.

    ``full``: phi = [alpha, lambda.flatten()] (d = n + n 2^m, docs/methods.md#vvca). ``by_bundle_size``: w = 1 and
    lambda_i(S) = x_{|S|} shared by all bidders (d = m + 1; for 2x2 the three families empty / single item / both
    items of the Fig. 2 case study). phi = 0 is VCG in both.
    """

    n: int
    m: int
    alpha_index: torch.Tensor  # (n,) long
    boost_index: torch.Tensor  # (n, 2^m) long
    dim: int
    name: str = "full"
    labels: tuple[str, ...] = field(default_factory=tuple)

    @classmethod
    def full(cls, n: int, m: int) -> Parametrisation:
        size = 2**m
        alpha_index = torch.arange(n)
        boost_index = n + torch.arange(n * size).reshape(n, size)
        labels = tuple(f"alpha_{i}" for i in range(n)) + tuple(
            f"lambda_{i}({s})" for i in range(n) for s in range(size)
        )
        return cls(n, m, alpha_index, boost_index, n + n * size, "full", labels)

    @classmethod
    def by_bundle_size(cls, n: int, m: int) -> Parametrisation:
        sizes = torch.tensor([bin(s).count("1") for s in range(2**m)])
        return cls(
            n,
            m,
            torch.full((n,), -1),
            sizes.expand(n, -1).clone(),
            m + 1,
            "by_bundle_size",
            tuple(f"lambda(|S|={c})" for c in range(m + 1)),
        )

    def _gather(self, phi: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        ext = torch.cat([phi, phi.new_zeros(*phi.shape[:-1], 1)], dim=-1)  # index -1 -> the appended 0
        return ext[..., self.alpha_index.to(phi.device)], ext[..., self.boost_index.to(phi.device)]

    def params(self, phi: torch.Tensor) -> VVCAParams:
        """VVCA parameters of one phi (d,), differentiable in phi."""
        alpha, boosts = self._gather(phi)
        return VVCAParams(alpha, boosts)

    def batched(self, phis: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """alphas (q, n) and boosts (q, n, 2^m) of q parameter vectors phis (q, d)."""
        return self._gather(phis)
