"""Affine maximizer auctions (AMA) over an explicit menu of lottery allocations: hard argmax, exact payments and
the softmax relaxation used for training.

Math (docs/methods.md#vvca; Roberts' affine maximizer). A menu holds K candidate allocations
x_k (k = 1..K), each an (n, m) matrix with x_kij = probability that bidder i gets item j (entries in [0, 1], every
column summing to at most 1: "nobody" takes the rest). Bidder weights w_i > 0 and one boost lambda_k per entry.
With additive bids b (n, m), bidder i's value for a lottery is v_i(x) = sum_j x_ij b_ij, and

* affine welfare      AW(k)    = sum_i w_i v_i(x_k) + lambda_k,
* allocation (Eq. 1)  k*       = argmax_k AW(k),
* payment (Eq. 2)     p_i      = (1/w_i) [ max_k AW_{-i}(k) - AW_{-i}(k*) ],  AW_{-i}(k) = AW(k) - w_i v_i(x_k).

AW_{-i} zeroes bidder i's bids but keeps the boosts. For any w > 0 and any boosts the mechanism is DSIC; it is IR
(0 <= p_i <= v_i(x_{k*})) whenever the menu holds an allocation giving bidder i nothing (the empty allocation with
boost 0, which :func:`with_empty_allocation` appends; Lottery AMA and AMenuNet both append it).

Training replaces each argmax by a softmax with temperature tau (AMenuNet's relaxation):
pi = softmax(tau AW), pi^{-i} = softmax(tau AW_{-i}), and
p_i^soft = (1/w_i) [ sum_k pi^{-i}_k AW_{-i}(k) - sum_k pi_k AW_{-i}(k) ], which tends to p_i as tau -> infinity.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch


@dataclass
class Menu:
    """An AMA menu: allocations (K, n, m) in [0, 1], weights (n,) > 0, boosts (K,)."""

    allocs: torch.Tensor
    weights: torch.Tensor
    boosts: torch.Tensor

    def __post_init__(self) -> None:
        if self.allocs.dim() != 3:
            raise ValueError(f"allocs must be (K, n, m), got {tuple(self.allocs.shape)}")
        k, n, _ = self.allocs.shape
        if tuple(self.weights.shape) != (n,) or tuple(self.boosts.shape) != (k,):
            raise ValueError(
                f"weights (n,) = ({n},) and boosts (K,) = ({k},) expected, got "
                f"{tuple(self.weights.shape)}, {tuple(self.boosts.shape)}"
            )

    @property
    def size(self) -> int:
        return self.allocs.shape[0]

    def detach(self) -> Menu:
        return Menu(self.allocs.detach(), self.weights.detach(), self.boosts.detach())

    def to(self, device: torch.device | str | None = None, dtype: torch.dtype | None = None) -> Menu:
        return Menu(
            self.allocs.to(device=device, dtype=dtype),
            self.weights.to(device=device, dtype=dtype),
            self.boosts.to(device=device, dtype=dtype),
        )

    def as_dict(self) -> dict[str, torch.Tensor]:
        return {"allocs": self.allocs, "weights": self.weights, "boosts": self.boosts}


def with_empty_allocation(allocs: torch.Tensor, boosts: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Append the empty allocation (nothing to anybody) with boost 0 as the last menu entry."""
    empty = allocs.new_zeros((1, *allocs.shape[1:]))
    return torch.cat([allocs, empty]), torch.cat([boosts, boosts.new_zeros(1)])


def menu_values(bids: torch.Tensor, allocs: torch.Tensor) -> torch.Tensor:
    """v_i(x_k) = sum_j x_kij b_ij for every bidder, profile and entry: (B, n, m) x (K, n, m) -> (n, B, K).

    The bidder-major layout makes every softmax and max over the menu run along contiguous memory.
    """
    if bids.shape[1:] != allocs.shape[1:]:
        raise ValueError(f"bids (B, n, m) {tuple(bids.shape)} do not match allocs (K, n, m) {tuple(allocs.shape)}")
    # one matrix product per bidder: (n, B, m) @ (n, m, K) -> (n, B, K)
    return torch.bmm(bids.transpose(0, 1), allocs.permute(1, 2, 0))


def affine_welfare(values: torch.Tensor, menu: Menu) -> tuple[torch.Tensor, torch.Tensor]:
    """AW(k) (B, K) and AW_{-i}(k) (n, B, K) from the values v_i(x_k) (n, B, K)."""
    weighted = values * menu.weights[:, None, None]
    aw = weighted.sum(0) + menu.boosts
    return aw, aw - weighted


@dataclass
class AMAOutcome:
    """Hard-argmax outcome of an AMA on B profiles (no gradients)."""

    choice: torch.Tensor  # (B,) int64: k*
    choice_minus: torch.Tensor  # (B, n) int64: argmax_k AW_{-i}(k)
    allocation: torch.Tensor  # (B, n, m): x_{k*}
    values: torch.Tensor  # (B, n): v_i(x_{k*}) under the bids
    payments: torch.Tensor  # (B, n)

    @property
    def revenue(self) -> torch.Tensor:
        """sum_i p_i per profile (B,)."""
        return self.payments.sum(-1)

    @property
    def welfare(self) -> torch.Tensor:
        """sum_i v_i(x_{k*}) per profile (B,)."""
        return self.values.sum(-1)


def _hard_chunk(bids: torch.Tensor, menu: Menu) -> AMAOutcome:
    values = menu_values(bids, menu.allocs)  # (n, B, K)
    aw, aw_minus = affine_welfare(values, menu)
    choice = aw.argmax(-1)  # (B,)
    best_minus, choice_minus = aw_minus.max(-1)  # (n, B): max_k AW_{-i}(k)
    idx = choice.view(1, -1, 1).expand(values.shape[0], -1, 1)
    at_choice = aw_minus.gather(2, idx).squeeze(2)  # AW_{-i}(k*)
    chosen_values = values.gather(2, idx).squeeze(2)  # v_i(x_{k*})
    payments = (best_minus - at_choice) / menu.weights[:, None]
    return AMAOutcome(choice, choice_minus.T, menu.allocs[choice], chosen_values.T, payments.T)


@torch.no_grad()
def hard_outcome(bids: torch.Tensor, menu: Menu, *, chunk_size: int = 4096) -> AMAOutcome:
    """Exact AMA allocation (Eq. 1, ties to the lowest menu index) and payments (Eq. 2), chunked over profiles.

    ``bids`` (B, n, m) are cast to the menu's dtype and device.
    """
    bids = bids.to(device=menu.allocs.device, dtype=menu.allocs.dtype)
    parts = [_hard_chunk(bids[s : s + chunk_size], menu) for s in range(0, bids.shape[0], chunk_size)]
    if not parts:
        parts = [_hard_chunk(bids, menu)]
    return AMAOutcome(*(torch.cat([getattr(p, f) for p in parts]) for f in AMAOutcome.__dataclass_fields__))


def soft_payments(bids: torch.Tensor, menu: Menu, temperature: float) -> torch.Tensor:
    """Softmax-relaxed payments p_i^soft (B, n) (module docstring), differentiable in the menu."""
    values = menu_values(bids, menu.allocs)
    aw, aw_minus = affine_welfare(values, menu)  # (B, K), (n, B, K)
    pi = torch.softmax(temperature * aw, dim=-1)
    pi_minus = torch.softmax(temperature * aw_minus, dim=-1)
    # sum_k pi^{-i}_k AW_{-i}(k) - sum_k pi_k AW_{-i}(k), divided by w_i
    gap = ((pi_minus - pi) * aw_minus).sum(-1)  # (n, B)
    return (gap / menu.weights[:, None]).T


def soft_revenue(bids: torch.Tensor, menu: Menu, temperature: float) -> torch.Tensor:
    """Batch mean of sum_i p_i^soft: the training objective (to be maximised)."""
    return soft_payments(bids, menu, temperature).sum(-1).mean()
