"""Deterministic affine maximizer auctions (AMA) over every allocation: exact, batched winner determination and
payments (``docs/methods.md``, section "Deterministic AMA over every allocation"; Roberts 1979; Sandholm and
Likhodedov 2015; Duan et al. 2024, Eq. 1-2 and 5).

Outcomes. Every item goes to one bidder or stays unsold, so there are K = (n+1)^m allocations. Allocation ``a`` is
an owner vector o in {0, .., n}^m (0 = unsold, k = bidder k-1) with index a = sum_j o_j (n+1)^j; index 0 is the
empty allocation. ``bundles[a, i]`` is the bitmask of the items bidder i gets in ``a``.

Mechanism. Weights w_i = exp(alpha_i) and one boost lambda(a) per allocation, lambda(empty) = 0. For bundle bids
b (B, n, 2^m) let V[b, i, a] = b_i(A_i(a)) and

* affine welfare    AW(a)      = sum_i w_i V_i(a) + lambda(a)                       (B, K),
* allocation (Eq. 1) a*        = argmax_a AW(a)                 (ties: the smallest index),
* payment (Eq. 2)   p_i        = (1/w_i) [ max_a AW_{-i}(a) - AW_{-i}(a*) ],  AW_{-i}(a) = AW(a) - w_i V_i(a),

bidder i's bids zeroed, the boosts kept. DSIC for any w > 0 and boosts (Roberts); IR because the empty allocation
with boost 0 is a candidate: max_a AW_{-i}(a) >= AW_{-i}(a*) and AW_{-i}(a^{-i}) <= AW(a^{-i}) <= AW(a*), so
0 <= p_i <= V_i(a*).

Revenue split for Algorithm 3 (the same identity as the VVCA's Eq. 5):
sum_i p_i = Rev1 + Rev2, Rev1 = sum_i (1/w_i) [max_a AW_{-i}(a) - max_a AW(a)], Rev2 = sum_i V_i(a*);
Rev1 has the Danskin gradient of the affine welfares gathered at the frozen argmaxes (:func:`rev1_surrogate`),
Rev2 is piecewise constant (zeroth-order, :func:`rev2_batched`).

Every VVCA is an AMA (:func:`lift_vvca`): lambda(a) = sum_i lambda_i(A_i(a)) - sum_i lambda_i(empty); the shift by
a constant changes no argmax and no payment.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass

import torch

from pipeline_lib.vvca.bids import BidSource
from pipeline_lib.vvca.evaluate import IR_TOL, RevenueAccumulator
from pipeline_lib.vvca.mechanism import VVCAParams


# ------------------------------------------------------------------------------------------------ outcomes
def outcome_count(n: int, m: int) -> int:
    """K = (n+1)^m deterministic allocations of m items among n bidders (or unsold)."""
    return (n + 1) ** m


def owners(n: int, m: int) -> torch.Tensor:
    """Owner vectors (K, m) in the index order a = sum_j o_j (n+1)^j (o_j = 0 unsold, k = bidder k-1)."""
    rows = [tuple(reversed(p)) for p in itertools.product(range(n + 1), repeat=m)]
    return torch.tensor(rows, dtype=torch.long).reshape(-1, m)


def outcome_bundles(n: int, m: int) -> torch.Tensor:
    """bundles (K, n): bitmask of the items bidder i gets in allocation a."""
    own = owners(n, m)
    bits = 1 << torch.arange(m)
    return torch.stack([((own == i + 1).long() * bits).sum(1) for i in range(n)], dim=1)


@dataclass
class AMAParams:
    """alpha (n,) (w = exp(alpha)) and boosts (K,) with boosts[0] = lambda(empty) = 0."""

    alpha: torch.Tensor
    boosts: torch.Tensor

    @property
    def weights(self) -> torch.Tensor:
        return self.alpha.exp()

    @property
    def n(self) -> int:
        return self.alpha.shape[0]

    @property
    def m(self) -> int:
        return round(math.log(self.boosts.shape[0], self.n + 1))

    def detach(self) -> AMAParams:
        return AMAParams(self.alpha.detach(), self.boosts.detach())

    def to(self, device: torch.device | str | None = None, dtype: torch.dtype | None = None) -> AMAParams:
        return AMAParams(self.alpha.to(device=device, dtype=dtype), self.boosts.to(device=device, dtype=dtype))

    @classmethod
    def vcg(cls, n: int, m: int, *, dtype: torch.dtype = torch.float32) -> AMAParams:
        """VCG: w = 1, every boost 0."""
        return cls(torch.zeros(n, dtype=dtype), torch.zeros(outcome_count(n, m), dtype=dtype))


def lift_vvca(params: VVCAParams) -> AMAParams:
    """The AMA equal to a VVCA: lambda(a) = sum_i lambda_i(A_i(a)) - sum_i lambda_i(empty), same weights."""
    bundles = outcome_bundles(params.n, params.m).to(params.boosts.device)
    per_bidder = params.boosts.gather(1, bundles.T)  # (n, K): lambda_i(A_i(a))
    boosts = (per_bidder - params.boosts[:, :1]).sum(0)
    return AMAParams(params.alpha.clone(), boosts)


def values_at_outcomes(bids: torch.Tensor, bundles: torch.Tensor) -> torch.Tensor:
    """V[b, i, a] = b_i(A_i(a)): (B, n, 2^m) x (K, n) -> (B, n, K)."""
    index = bundles.T.to(bids.device).unsqueeze(0).expand(bids.shape[0], -1, -1)
    return bids.gather(2, index)


# ------------------------------------------------------------------------------------ winner determination
@dataclass
class AMAOutcome:
    """choice (B,) = a*; choice_minus (B, n) = a^{-i}; payments (B, n); rev1, rev2, revenue (B,); won (B, n) =
    V_i(a*)."""

    choice: torch.Tensor
    choice_minus: torch.Tensor
    payments: torch.Tensor
    rev1: torch.Tensor
    rev2: torch.Tensor
    revenue: torch.Tensor
    won: torch.Tensor


def _payments(values: torch.Tensor, params: AMAParams, choice: torch.Tensor, choice_minus: torch.Tensor):
    """p_i = (1/w_i)[sum_{k != i} w_k (V_k(a^-i) - V_k(a*)) + lambda(a^-i) - lambda(a*)] (differences of gathered
    terms, so no large affine welfare cancels against another)."""
    w = params.weights
    n = values.shape[1]
    v_star = values.gather(2, choice[:, None, None].expand(-1, n, 1)).squeeze(2)  # (B, n)
    v_minus = values.gather(2, choice_minus.unsqueeze(1).expand(-1, n, -1))  # (B, k, i): V_k(a^-i)
    eye = torch.eye(n, dtype=torch.bool, device=values.device)
    d_bids = (w[:, None] * (v_minus - v_star.unsqueeze(2))).masked_fill(eye, 0.0).sum(1)  # (B, i)
    d_boosts = params.boosts[choice_minus] - params.boosts[choice].unsqueeze(1)
    payments = (d_bids + d_boosts) / w
    return payments, v_star


@torch.no_grad()
def evaluate_ama(bids: torch.Tensor, params: AMAParams, bundles: torch.Tensor, chunk_size: int = 4096) -> AMAOutcome:
    """a*, every a^{-i}, payments (Eq. 2) and the revenue split for bundle bids (B, n, 2^m), chunked (no grad)."""
    params = params.detach().to(device=bids.device, dtype=bids.dtype)
    w = params.weights
    parts = []
    for start in range(0, bids.shape[0], chunk_size):
        values = values_at_outcomes(bids[start : start + chunk_size], bundles)  # (b, n, K)
        weighted = w[:, None] * values
        aw = weighted.sum(1) + params.boosts  # (b, K)
        choice = aw.argmax(1)
        choice_minus = (aw.unsqueeze(1) - weighted).argmax(2)  # (b, n)
        payments, won = _payments(values, params, choice, choice_minus)
        rev2 = won.sum(1)
        revenue = payments.sum(1)
        parts.append(AMAOutcome(choice, choice_minus, payments, revenue - rev2, rev2, revenue, won))
    if not parts:
        raise ValueError("empty batch")
    return AMAOutcome(*(torch.cat([getattr(p, f) for p in parts]) for f in AMAOutcome.__dataclass_fields__))


def rev1_surrogate(bids: torch.Tensor, params: AMAParams, bundles: torch.Tensor, outcome: AMAOutcome) -> torch.Tensor:
    """Batch-mean Rev1 = mean_b sum_i (1/w_i) [AW_{-i}(a^{-i}) - AW(a*)] at the frozen argmaxes: its autograd
    gradient in (alpha, boosts) is Danskin's gradient of Rev1 (dMAW/dlambda(a) = 1{a* = a}, dMAW/dw_k = V_k(a*))."""
    values = values_at_outcomes(bids, bundles)
    w = params.weights
    n = values.shape[1]
    weighted = w[:, None] * values
    aw_star = weighted.gather(2, outcome.choice[:, None, None].expand(-1, n, 1)).sum((1, 2))
    aw_star = aw_star + params.boosts[outcome.choice]
    at_minus = weighted.gather(2, outcome.choice_minus.unsqueeze(1).expand(-1, n, -1))  # (B, k, i)
    eye = torch.eye(n, dtype=torch.bool, device=bids.device)
    aw_minus = at_minus.masked_fill(eye, 0.0).sum(1) + params.boosts[outcome.choice_minus]  # (B, i)
    return ((aw_minus - aw_star.unsqueeze(1)) / w).sum(1).mean()


@torch.no_grad()
def rev2_batched(
    bids: torch.Tensor, alphas: torch.Tensor, boosts: torch.Tensor, bundles: torch.Tensor, chunk_size: int = 2048
) -> torch.Tensor:
    """Batch-mean Rev2 = mean_b sum_i V_i(a*(theta_j)) of q parameter vectors at once: alphas (q, n), boosts
    (q, K) -> (q,) (the q + 1 evaluations of Eq. 9 share the minibatch)."""
    total = bids.new_zeros(alphas.shape[0], dtype=torch.float64)
    w = alphas.exp().to(bids.dtype)
    for start in range(0, bids.shape[0], chunk_size):
        values = values_at_outcomes(bids[start : start + chunk_size], bundles)  # (b, n, K)
        aw = torch.einsum("qn,bnk->qbk", w, values) + boosts.to(bids.dtype)[:, None, :]
        choice = aw.argmax(2)  # (q, b)
        welfare = values.sum(1)  # (b, K): sum_i V_i(a)
        total += welfare.gather(1, choice.T).sum(0).double()
    return (total / bids.shape[0]).to(bids.dtype)


# ------------------------------------------------------------------------------------------------ evaluation
def evaluate_source(source: BidSource, params: AMAParams, bundles: torch.Tensor, chunk_size: int = 8192) -> dict:
    """Exact revenue, payments, welfare and IR of an AMA on a :class:`BidSource`, in the source's dtype: the one
    summary of :class:`pipeline_lib.vvca.evaluate.RevenueAccumulator` (the same fields as every Table 2 row)."""
    acc = RevenueAccumulator()
    for bids in source.chunks(chunk_size):
        out = evaluate_ama(bids, params, bundles)
        acc.add(out.payments, out.won, IR_TOL[bids.dtype])
    return acc.summary()


@torch.no_grad()
def misreport_check(
    bids: torch.Tensor, params: AMAParams, bundles: torch.Tensor, generator: torch.Generator, trials: int = 8
) -> dict[str, float | int]:
    """DSIC by random misreports: for every profile, bidder i and trial, bidder i reports b'_i instead of its values
    b_i (the others truthful) and its utility b_i(A_i(a*')) - p_i' is compared with the truthful one.

    Half of the trials report another profile's bids of the same bidder (a draw of the same distribution), half the
    true bids times independent factors U[0, 2] per bundle (b'_i(empty) = 0). Returns the number of (profile, bidder,
    trial) triples, the largest utility gain (<= 0 up to rounding for a DSIC mechanism) and the number of gains above
    ``tol`` = IR_TOL of the dtype times max(1, |u|).
    """
    batch, n, _ = bids.shape
    truthful = evaluate_ama(bids, params, bundles)
    u_true = truthful.won - truthful.payments  # (B, n)
    max_gain, violations, count = -math.inf, 0, 0
    tol = IR_TOL[bids.dtype]
    for trial in range(trials):
        for i in range(n):
            report = bids.clone()
            if trial % 2 == 0:
                perm = torch.randperm(batch, generator=generator).to(bids.device)
                report[:, i] = bids[perm, i]
            else:
                factors = 2 * torch.rand(bids[:, i].shape, generator=generator, dtype=bids.dtype).to(bids.device)
                report[:, i] = bids[:, i] * factors
                report[:, i, 0] = 0.0
            out = evaluate_ama(report, params, bundles)
            won_true = values_at_outcomes(bids[:, i : i + 1], bundles[:, i : i + 1]).squeeze(1)  # (B, K)
            u_lie = won_true.gather(1, out.choice[:, None]).squeeze(1) - out.payments[:, i]
            gain = u_lie - u_true[:, i]
            max_gain = max(max_gain, float(gain.max()))
            violations += int((gain > tol * torch.clamp(u_true[:, i].abs(), min=1.0)).sum())
            count += batch
    return {"misreports": count, "max_utility_gain": max_gain, "violations": violations}


@torch.no_grad()
def revenue_batched(
    bids: torch.Tensor, alphas: torch.Tensor, boosts: torch.Tensor, bundles: torch.Tensor, chunk_size: int = 64
) -> torch.Tensor:
    """Exact batch-mean revenue of q parameter vectors at once (alphas (q, n), boosts (q, K)) -> (q,): for each,
    sum_i (1/w_i) [max_a AW_{-i}(a) - AW_{-i}(a*)] averaged over the profiles (the starts' searches)."""
    values = values_at_outcomes(bids, bundles)  # (B, n, K)
    out = []
    for start in range(0, alphas.shape[0], chunk_size):
        w = alphas[start : start + chunk_size].exp().to(bids.dtype)  # (q, n)
        weighted = w[:, None, :, None] * values  # (q, B, n, K)
        aw = weighted.sum(2) + boosts[start : start + chunk_size].to(bids.dtype)[:, None, :]
        choice = aw.argmax(2)  # (q, B)
        aw_minus = aw.unsqueeze(2) - weighted  # (q, B, n, K)
        at_choice = aw_minus.gather(3, choice[:, :, None, None].expand(-1, -1, aw_minus.shape[2], 1)).squeeze(3)
        payments = (aw_minus.amax(3) - at_choice) / w[:, None, :]
        out.append(payments.sum(2).mean(1))
    return torch.cat(out)
