"""Virtual valuations combinatorial auctions (VVCA): parameters, exact winner determination, payments and
revenue.

Math (docs/methods.md#vvca, #winner-determination). Bundles are bitmasks 0..2^m - 1 and bids are a tensor
``b[B, n, 2^m]`` with ``b[:, :, 0] = 0``. Parameters theta = (alpha, lambda): weights w_i = exp(alpha_i) and
boosts lambda_i(S) for every bundle S, the empty one included (n + n 2^m numbers). With the virtual values
vt_i(S) = w_i b_i(S) + lambda_i(S):

* Allocation (Eq. 1, 3): A* = argmax_A AW(A) with AW(A) = sum_k vt_k(A_k), found by the dynamic program of
  Algorithm 1 (Eq. 6) over all 3^m pairs (T, S subset T); exact and batched.
* Payment (Eq. 2): p_i = (1/w_i) [AW_{-i}(A^(-i)) - AW_{-i}(A*)] with AW_{-i}(A) = AW(A) - w_i b_i(A_i) and
  A^(-i) = argmax_A AW_{-i}(A) (bidder i's bids zeroed, its boosts kept; Algorithm 2).
* Revenue split (Eq. 5): sum_i p_i = Rev1 + Rev2 with Rev1 = sum_i (1/w_i) [MAW^(-i) - MAW] and
  Rev2 = sum_i b_i(A*_i), the true welfare of A*.
* Danskin: the gradient of Rev1 is that of the affine welfares gathered at the fixed argmax allocations, so
  :func:`rev1_surrogate` recomputes AW(A*) and AW_{-i}(A^(-i)) by ``gather`` with autograd on.

Public API (stable; used by the ZFO/FO/BBB optimisers and the Lottery-AMA code):

* :class:`VVCAParams`: ``alpha`` (n,), ``boosts`` (n, 2^m), ``weights`` = exp(alpha), ``VVCAParams.vcg(n,
  m)``;
  ``as_vector()`` and ``VVCAParams.from_vector(theta, n, m)`` with theta = [alpha, boosts.flatten()].
* :func:`virtual_values` (bids, params) -> vt (B, n, 2^m).
* :func:`winner_determination` (vt) -> (maw (B,), alloc LongTensor (B, n)); alloc[b, i] = bundle of bidder i.
* :func:`allocate` (bids, params) -> (maw, alloc): A* only, the cheap path (n - 1 DP steps).
* :func:`evaluate_vvca` (bids, params) -> :class:`VVCAOutcome` (no grad, chunked): alloc, alloc_minus
  (B, n, n) with alloc_minus[b, i, k] = bundle of bidder k in A^(-i), payments (B, n), and revenue, rev1,
  rev2, welfare (B,).
* :func:`rev1_surrogate` (bids, params, outcome) -> scalar batch-mean Rev1 with the Danskin gradient.
* :func:`rev2` (bids, params) -> scalar batch-mean Rev2 (no grad, A* only).
* :func:`rev2_batched` (bids, alphas (q, n), boosts (q, n, 2^m)) -> (q,) batch-mean Rev2 of q parameter
  vectors in one stacked DP call (the zeroth-order estimator of Eq. 9), through
  :func:`batched_allocations` -> (q, B, n), the allocation-only path (no exclusions, no payments).
* :func:`bundle_values_at` (table, alloc) -> table_i(A_i) of shape alloc.shape, e.g. b_i(A*_i).

Backends: ``"numba"`` (compiled CPU kernel, :mod:`.dp_numba`, the default for CPU tensors; it forms the virtual
values inside the kernel) and ``"torch"``
(dense grouped gather + amax, :mod:`.dp_torch`, the default on a GPU). Both break ties towards the smallest
bitmask and return identical allocations. Everything runs on the device of ``bids``.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import torch

from . import dp_torch

BACKENDS = ("auto", "numba", "torch")


# ------------------------------------------------------------ paramete
@dataclass
class VVCAParams:
    """VVCA parameters theta = (alpha, lambda): w_i = exp(alpha_i) (docs/methods.md#vvca) and boosts lambda_i(S)."""

    alpha: torch.Tensor  # (n,)
    boosts: torch.Tensor  # (n, 2^m), boosts[:, 0] = lambda_i(empty)

    def __post_init__(self) -> None:
        if self.alpha.dim() != 1 or self.boosts.dim() != 2 or self.boosts.shape[0] != self.alpha.shape[0]:
            raise ValueError(f"alpha (n,) and boosts (n, 2^m) expected, got {self.alpha.shape}, {self.boosts.shape}")
        size = self.boosts.shape[1]
        if size & (size - 1):
            raise ValueError(f"boosts need 2^m columns, got {size}")

    @classmethod
    def vcg(
        cls, n: int, m: int, *, dtype: torch.dtype = torch.float32, device: torch.device | str | None = None
    ) -> VVCAParams:
        """VCG as a VVCA: w = 1 (alpha = 0), lambda = 0 (also the ZFO initialisation, Algorithm 3)."""
        return cls(torch.zeros(n, dtype=dtype, device=device), torch.zeros(n, 2**m, dtype=dtype, device=device))

    @property
    def n(self) -> int:
        return self.alpha.shape[0]

    @property
    def m(self) -> int:
        return self.boosts.shape[1].bit_length() - 1

    @property
    def weights(self) -> torch.Tensor:
        """w = exp(alpha) (positivity by construction, the paper's section 3)."""
        return self.alpha.exp()

    def parameters(self) -> list[torch.Tensor]:
        return [self.alpha, self.boosts]

    def detach(self) -> VVCAParams:
        return VVCAParams(self.alpha.detach(), self.boosts.detach())

    def to(self, device: torch.device | str | None = None, dtype: torch.dtype | None = None) -> VVCAParams:
        return VVCAParams(self.alpha.to(device=device, dtype=dtype), self.boosts.to(device=device, dtype=dtype))

    def as_vector(self) -> torch.Tensor:
        """theta = [alpha, boosts.flatten()] of dimension d = n + n 2^m (the space of the Gaussian
        smoothing, Eq. 8)."""
        return torch.cat([self.alpha, self.boosts.reshape(-1)])

    @classmethod
    def from_vector(cls, theta: torch.Tensor, n: int, m: int) -> VVCAParams:
        """Inverse of :meth:`as_vector`; ``theta`` may carry leading batch dimensions only via
        :func:`rev2_batched`."""
        return cls(theta[:n], theta[n:].reshape(n, 2**m))


def virtual_values(bids: torch.Tensor, params: VVCAParams) -> torch.Tensor:
    """vt_i(S) = w_i b_i(S) + lambda_i(S) for every profile, bidder and bundle (B, n, 2^m)."""
    return params.weights[:, None] * bids + params.boosts


def bundle_values_at(table: torch.Tensor, alloc: torch.Tensor) -> torch.Tensor:
    """Gather table[b, k, alloc[b, ..., k]]: (B, n, 2^m) x (B, n) -> (B, n), or x (B, r, n) -> (B, r, n)."""
    if alloc.dim() == 2:
        return table.gather(2, alloc.unsqueeze(2)).squeeze(2)
    batch, rows, n = alloc.shape
    idx = alloc.transpose(1, 2)  # (B, n, r): for bidder k the bundles it gets in each row
    return table.gather(2, idx).transpose(1, 2)


# ------------------------------------------------------------ backends
def _resolve_backend(backend: str, device: torch.device) -> str:
    if backend not in BACKENDS:
        raise ValueError(f"backend must be one of {BACKENDS}, got {backend!r}")
    if backend == "auto":
        if device.type != "cpu":
            return "torch"
        try:
            from . import dp_numba  # noqa: F401
        except ImportError:  # pragma: no cover - numba is a declared dependency
            return "torch"
        return "numba"
    if backend == "numba" and device.type != "cpu":
        raise ValueError("the numba backend runs on CPU tensors only")
    return backend


def default_chunk_size(n: int, m: int, device: torch.device, *, exclusions: bool = True, backend: str = "torch") -> int:
    """Profiles per chunk so that the working memory stays within a fixed budget.

    torch backend: per profile about (3n + 4) tables of 2^m entries (values and int64 argmax) plus the largest
    dense candidate block; the budget is 2 GiB on a GPU and 256 MiB on the CPU. numba backend: the kernel's
    tables are bounded per block of profiles, so a chunk only bounds the virtual values and the outcome
    tensors (about 4 n 2^m float64 per profile, 256 MiB), rounded to whole blocks of every thread.
    """
    size = 2**m
    if backend == "numba":
        from .dp_numba import DEFAULT_BLOCK

        step = DEFAULT_BLOCK * max(1, torch.get_num_threads())
        return max(step, (256 << 20) // (4 * n * size * 8) // step * step)
    tables = (3 * n + 4 if exclusions else n + 2) * size * 16
    largest_block = max(math.comb(m, c) * 2**c for c in range(m + 1)) * 8 * 3
    per_profile = tables + largest_block
    budget = (2 << 30) if device.type == "cuda" else (256 << 20)
    return max(1, min(1 << 16, budget // per_profile))


def _chunks(batch: int, chunk_size: int) -> list[slice]:
    return [slice(s, min(s + chunk_size, batch)) for s in range(0, batch, chunk_size)]


def _wd_backend(backend: str) -> Callable[[torch.Tensor], tuple[torch.Tensor, torch.Tensor]]:
    if backend == "numba":
        from . import dp_numba

        return dp_numba.winner_determination
    return dp_torch.winner_determination


ExclusionsFn = Callable[[torch.Tensor, VVCAParams], tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]]


def _numba_exclusions(
    bids: torch.Tensor, params: VVCAParams
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """Kernel that forms vt = w b + lambda itself (the same two roundings as :func:`virtual_values`)."""
    from . import dp_numba

    return dp_numba.allocations_with_exclusions_from_bids(bids, params.weights, params.boosts)


def _torch_exclusions(
    bids: torch.Tensor, params: VVCAParams
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    return dp_torch.allocations_with_exclusions(virtual_values(bids, params), params.boosts)


def _excl_backend(backend: str) -> ExclusionsFn:
    """(bids, params) -> (maw, alloc, maw_minus, alloc_minus) of one chunk."""
    return _numba_exclusions if backend == "numba" else _torch_exclusions


# ------------------------------------------------------------ allocati
@torch.no_grad()
def winner_determination(
    vtilde: torch.Tensor, *, backend: str = "auto", chunk_size: int | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """Exact argmax of Eq. 1 with the VVCA decomposition (Algorithm 1).

    Args:
        vtilde: virtual values vt (B, n, 2^m).

    Returns:
        maw (B,) = max_A sum_k vt_k(A_k), and alloc (B, n) int64 bundle masks (pairwise disjoint). Ties go
        to the smallest bundle bitmask at every step of the dynamic program (deterministic).
    """
    batch, n, size = vtilde.shape
    backend = _resolve_backend(backend, vtilde.device)
    chunk = chunk_size or default_chunk_size(n, size.bit_length() - 1, vtilde.device, exclusions=False, backend=backend)
    run = _wd_backend(backend)
    parts = [run(vtilde[sl]) for sl in _chunks(batch, chunk)]
    if not parts:
        return vtilde.new_zeros(0), torch.zeros((0, n), dtype=torch.long, device=vtilde.device)
    return torch.cat([p[0] for p in parts]), torch.cat([p[1] for p in parts])


def allocate(
    bids: torch.Tensor, params: VVCAParams, *, backend: str = "auto", chunk_size: int | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """A* of the VVCA with parameters ``params`` (no exclusions): returns (MAW, alloc)."""
    with torch.no_grad():
        vt = virtual_values(bids, params.detach())
    return winner_determination(vt, backend=backend, chunk_size=chunk_size)


# ------------------------------------------------------------ payments
@dataclass
class VVCAOutcome:
    """Result of the VVCA on a batch of bid profiles (all tensors on the bids' device, leading dim B).

    alloc (B, n): A*; alloc_minus (B, n, n): alloc_minus[:, i, k] = bundle of bidder k in A^(-i);
    maw (B,): AW(A*); maw_minus (B, n): AW_{-i}(A^(-i)); payments (B, n) (Eq. 2); rev1, rev2 and revenue
    (B,) with revenue = rev1 + rev2 = sum_i payments (Eq. 5); welfare (B,) = sum_i b_i(A*_i) (= rev2).
    """

    alloc: torch.Tensor
    alloc_minus: torch.Tensor
    maw: torch.Tensor
    maw_minus: torch.Tensor
    payments: torch.Tensor
    rev1: torch.Tensor
    rev2: torch.Tensor
    revenue: torch.Tensor

    @property
    def welfare(self) -> torch.Tensor:
        return self.rev2


def affine_welfares(
    bids: torch.Tensor, params: VVCAParams, alloc: torch.Tensor, alloc_minus: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """Gathered welfares (differentiable in params): AW(A*) (B,), AW_{-i}(A^(-i)) (B, n), AW_{-i}(A*) (B, n),
    and b_i(A*_i) (B, n).

    AW_{-i}(A^(-i)) = sum_{k != i} w_k b_k(A^(-i)_k) + sum_k lambda_k(A^(-i)_k)  (bidder i's bids zeroed,
    Eq. 2).
    """
    w = params.weights
    batch, n = alloc.shape
    lam = params.boosts.expand(batch, *params.boosts.shape)
    b_star = bundle_values_at(bids, alloc)  # (B, n)
    lam_star = bundle_values_at(lam, alloc)  # (B, n)
    wb_star = w * b_star
    aw_star = wb_star.sum(1) + lam_star.sum(1)
    b_minus = bundle_values_at(bids, alloc_minus)  # (B, n, n): [b, i, k] = b_k(A^(-i)_k)
    lam_minus = bundle_values_at(lam, alloc_minus)
    eye = torch.eye(n, dtype=torch.bool, device=bids.device)
    wb_minus = (w * b_minus).masked_fill(eye, 0.0)
    aw_minus = wb_minus.sum(2) + lam_minus.sum(2)
    aw_minus_at_star = (wb_star.sum(1, keepdim=True) - wb_star) + lam_star.sum(1, keepdim=True)
    return aw_star, aw_minus, aw_minus_at_star, b_star


def payments_from_allocations(
    bids: torch.Tensor, params: VVCAParams, alloc: torch.Tensor, alloc_minus: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Eq. 2 and Eq. 5 from the allocations: (payments (B, n), rev1 (B,), rev2 (B,)).

    p_i = (1/w_i) [ sum_{k != i} w_k (b_k(A^(-i)_k) - b_k(A*_k)) + sum_k (lambda_k(A^(-i)_k) -
    lambda_k(A*_k)) ],
    written as differences of gathered terms so that no large affine welfare cancels against another.
    """
    w = params.weights
    batch, n = alloc.shape
    lam = params.boosts.expand(batch, *params.boosts.shape)
    b_star = bundle_values_at(bids, alloc)
    lam_star = bundle_values_at(lam, alloc)
    b_minus = bundle_values_at(bids, alloc_minus)
    lam_minus = bundle_values_at(lam, alloc_minus)
    eye = torch.eye(n, dtype=torch.bool, device=bids.device)
    d_bids = (w * (b_minus - b_star.unsqueeze(1))).masked_fill(eye, 0.0).sum(2)
    d_boosts = (lam_minus - lam_star.unsqueeze(1)).sum(2)
    payments = (d_bids + d_boosts) / w
    rev2_ = b_star.sum(1)
    rev1_ = payments.sum(1) - rev2_
    return payments, rev1_, rev2_


@torch.no_grad()
def evaluate_vvca(
    bids: torch.Tensor, params: VVCAParams, *, chunk_size: int | None = None, backend: str = "auto"
) -> VVCAOutcome:
    """Algorithm 2: A*, all A^(-i), payments (Eq. 2) and the revenue split (Eq. 5) for every profile (no
    grad)."""
    params = params.detach().to(device=bids.device, dtype=bids.dtype)
    batch, n, size = bids.shape
    backend = _resolve_backend(backend, bids.device)
    chunk = chunk_size or default_chunk_size(n, size.bit_length() - 1, bids.device, backend=backend)
    run = _excl_backend(backend)
    outs = []
    for sl in _chunks(batch, chunk):
        b = bids[sl]
        maw, alloc, maw_minus, alloc_minus = run(b, params)
        payments, r1, r2 = payments_from_allocations(b, params, alloc, alloc_minus)
        outs.append(VVCAOutcome(alloc, alloc_minus, maw, maw_minus, payments, r1, r2, r1 + r2))
    if not outs:
        raise ValueError("empty batch")
    fields = VVCAOutcome.__dataclass_fields__
    return VVCAOutcome(**{f: torch.cat([getattr(o, f) for o in outs]) for f in fields})


# ------------------------------------------------------------ objectiv
def rev1_surrogate(bids: torch.Tensor, params: VVCAParams, outcome: VVCAOutcome) -> torch.Tensor:
    """Batch-mean Rev1 = mean_b sum_i (1/w_i)[AW_{-i}(A^(-i)) - AW(A*)] with allocations fixed (Eq. 5).

    Its autograd gradient with respect to (alpha, boosts) is the Danskin gradient of Rev1: dMAW/dlambda_k(S) =
    1{A*_k = S}, dMAW/dw_k = b_k(A*_k), and likewise for each MAW^(-i); the 1/w_i factor is differentiated
    too.
    """
    aw_star, aw_minus, _, _ = affine_welfares(bids, params, outcome.alloc, outcome.alloc_minus)
    per_profile = ((aw_minus - aw_star.unsqueeze(1)) / params.weights).sum(1)
    return per_profile.mean()


@torch.no_grad()
def rev2(
    bids: torch.Tensor, params: VVCAParams, *, backend: str = "auto", chunk_size: int | None = None
) -> torch.Tensor:
    """Batch-mean Rev2 = mean_b sum_i b_i(A*_i) (true welfare of A*, piecewise constant in theta; Eq. 5)."""
    _, alloc = allocate(bids, params, backend=backend, chunk_size=chunk_size)
    return bundle_values_at(bids, alloc).sum(1).mean()


@torch.no_grad()
def batched_allocations(
    bids: torch.Tensor,
    alphas: torch.Tensor,
    boosts: torch.Tensor,
    *,
    backend: str = "auto",
    chunk_size: int | None = None,
) -> torch.Tensor:
    """A* of every profile under q parameter vectors at once: (q, B, n) bundle masks, no payments.

    Row j uses vt_j = exp(alphas_j)[:, None] * bids + boosts_j, in the dtype torch's type promotion gives that
    expression. The numba backend forms vt inside its allocation-only kernel (never stored); the torch backend
    stacks the q virtual-value tables along the batch axis.
    """
    backend = _resolve_backend(backend, bids.device)
    return _batched_backend(backend)(bids, alphas, boosts, chunk_size)


def _numba_batched(
    bids: torch.Tensor, alphas: torch.Tensor, boosts: torch.Tensor, chunk_size: int | None
) -> torch.Tensor:
    from . import dp_numba

    dtype = torch.promote_types(torch.promote_types(alphas.dtype, bids.dtype), boosts.dtype)
    weights, lam, b = alphas.exp().to(dtype), boosts.to(dtype), bids.to(dtype)
    if not len(b):
        return torch.zeros((alphas.shape[0], 0, bids.shape[1]), dtype=torch.long)
    chunks = _chunks(len(b), chunk_size or len(b))
    return torch.cat([dp_numba.winner_determination_batched(b[sl], weights, lam)[1] for sl in chunks], dim=1)


def _torch_batched(
    bids: torch.Tensor, alphas: torch.Tensor, boosts: torch.Tensor, chunk_size: int | None
) -> torch.Tensor:
    q, batch = alphas.shape[0], bids.shape[0]
    vt = alphas.exp()[:, None, :, None] * bids.unsqueeze(0) + boosts[:, None]  # (q, B, n, 2^m)
    _, alloc = winner_determination(vt.reshape(q * batch, *bids.shape[1:]), backend="torch", chunk_size=chunk_size)
    return alloc.view(q, batch, -1)


def _batched_backend(backend: str) -> Callable[..., torch.Tensor]:
    return _numba_batched if backend == "numba" else _torch_batched


@torch.no_grad()
def rev2_batched(
    bids: torch.Tensor,
    alphas: torch.Tensor,
    boosts: torch.Tensor,
    *,
    backend: str = "auto",
    chunk_size: int | None = None,
) -> torch.Tensor:
    """Batch-mean Rev2 for q parameter vectors at once (the q + 1 evaluations of Eq. 9 share the minibatch).

    Args:
        bids: (B, n, 2^m); alphas: (q, n); boosts: (q, n, 2^m).

    Returns:
        (q,) tensor: entry j is mean_b sum_i b_i(A*_i(theta_j)).
    """
    alloc = batched_allocations(bids, alphas, boosts, backend=backend, chunk_size=chunk_size)
    welfare = bundle_values_at(bids, alloc.transpose(0, 1)).sum(2)  # (B, q)
    return welfare.mean(0)
