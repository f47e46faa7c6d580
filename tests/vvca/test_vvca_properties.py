"""Economic and analytic properties of the VVCA engine: IR, DSIC, VCG = second price, the Rev1/Rev2 split
(Eq. 5), the Danskin gradient of Rev1 against finite differences, and backend/chunking invariance."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from pipeline_lib.vvca import dp_torch, subsets
from pipeline_lib.vvca import mechanism as vvca

BACKENDS = ["torch", "numba"]


def additive(items: torch.Tensor) -> torch.Tensor:
    m = items.shape[-1]
    member = torch.tensor([[(s >> j) & 1 for j in range(m)] for s in range(2**m)], dtype=items.dtype)
    return items @ member.T


def random_params(gen: torch.Generator, n: int, m: int, scale: float = 0.5) -> vvca.VVCAParams:
    alpha = torch.randn(n, generator=gen, dtype=torch.float64) * scale
    boosts = torch.randn(n, 2**m, generator=gen, dtype=torch.float64) * scale
    return vvca.VVCAParams(alpha, boosts)


def random_bundle_bids(gen: torch.Generator, shape: tuple[int, ...], m: int) -> torch.Tensor:
    """Arbitrary (non-additive) bundle bids with b(empty) = 0."""
    bids = torch.rand(*shape, 2**m, generator=gen, dtype=torch.float64) * 2.0
    bids[..., 0] = 0.0
    return bids


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_individual_rationality(backend: str, seed: int):
    """0 <= p_i <= b_i(A*_i) for any w > 0 and lambda (docs/methods.md#vvca)."""
    gen = torch.Generator().manual_seed(seed)
    n, m = 3, 4
    bids = random_bundle_bids(gen, (300, n), m)
    params = random_params(gen, n, m, scale=1.0)
    out = vvca.evaluate_vvca(bids, params, backend=backend)
    value = vvca.bundle_values_at(bids, out.alloc)
    assert torch.all(out.payments >= -1e-9)
    assert torch.all(out.payments <= value + 1e-9)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("bidder", [0, 1, 2])
def test_no_bundle_misreport_raises_utility(backend: str, bidder: int):
    """DSIC by random search: for each profile, 64 misreports of one bidder (random bundle bids, scaled and
    perturbed truthful bids) never beat truthful bidding: v_i(A_i(b')) - p_i(b') <= v_i(A_i(v)) - p_i(v)."""
    gen = torch.Generator().manual_seed(10 + bidder)
    n, m, profiles, tries = 3, 3, 40, 64
    values = random_bundle_bids(gen, (profiles, n), m)
    params = random_params(gen, n, m)
    truthful = vvca.evaluate_vvca(values, params, backend=backend)
    u_truth = vvca.bundle_values_at(values, truthful.alloc)[:, bidder] - truthful.payments[:, bidder]

    own = values[:, bidder].unsqueeze(1).expand(profiles, tries, 2**m)
    scale = torch.rand(profiles, tries, 1, generator=gen, dtype=torch.float64) * 2.0
    noise = torch.randn(profiles, tries, 2**m, generator=gen, dtype=torch.float64) * 0.3
    reports = torch.where(
        torch.arange(tries)[None, :, None] < tries // 2,
        random_bundle_bids(gen, (profiles, tries), m),
        (own * scale + noise).clamp_min(0.0),
    )
    reports[..., 0] = 0.0
    bids = values.unsqueeze(1).repeat(1, tries, 1, 1)
    bids[:, :, bidder] = reports
    lied = vvca.evaluate_vvca(bids.reshape(-1, n, 2**m), params, backend=backend)
    got = lied.alloc.view(profiles, tries, n)[:, :, bidder]
    u_lie = values[:, bidder].gather(1, got) - lied.payments.view(profiles, tries, n)[:, :, bidder]
    assert torch.all(u_lie <= u_truth.unsqueeze(1) + 1e-9)


@pytest.mark.parametrize("backend", BACKENDS)
def test_vcg_on_one_item_is_the_second_price_auction(backend: str):
    gen = torch.Generator().manual_seed(4)
    bids = additive(torch.rand(500, 4, 1, generator=gen, dtype=torch.float64))
    out = vvca.evaluate_vvca(bids, vvca.VVCAParams.vcg(4, 1, dtype=torch.float64), backend=backend)
    top2 = bids[:, :, 1].topk(2, dim=1).values
    torch.testing.assert_close(out.revenue, top2[:, 1], rtol=0, atol=1e-12)
    winner = bids[:, :, 1].argmax(1)
    assert torch.equal(out.alloc.argmax(1), winner)


@pytest.mark.parametrize("backend", BACKENDS)
def test_revenue_splits_into_rev1_plus_rev2(backend: str):
    """Eq. 5: sum_i p_i = sum_i (1/w_i)[MAW^(-i) - MAW] + sum_i b_i(A*_i)."""
    gen = torch.Generator().manual_seed(8)
    n, m = 3, 3
    bids = random_bundle_bids(gen, (200, n), m)
    params = random_params(gen, n, m)
    out = vvca.evaluate_vvca(bids, params, backend=backend)
    rev1 = ((out.maw_minus - out.maw[:, None]) / params.weights).sum(1)
    torch.testing.assert_close(out.rev1, rev1, rtol=0, atol=1e-10)
    torch.testing.assert_close(out.rev2, vvca.bundle_values_at(bids, out.alloc).sum(1), rtol=0, atol=0)
    torch.testing.assert_close(out.revenue, out.payments.sum(1), rtol=0, atol=1e-10)
    torch.testing.assert_close(vvca.rev2(bids, params, backend=backend), out.rev2.mean(), rtol=0, atol=0)
    torch.testing.assert_close(vvca.rev1_surrogate(bids, params, out), out.rev1.mean(), rtol=0, atol=1e-10)


@pytest.mark.parametrize("n,m", [(2, 2), (3, 3)])
def test_rev1_gradient_matches_central_finite_differences(n: int, m: int):
    """Autograd through gathered welfares at fixed argmax allocations (Danskin) equals d Rev1 / d theta.

    Rev1 is piecewise smooth in theta; with random continuous data no argmax switches within +-1e-6, so the
    central difference of the exact (recomputed) Rev1 is the gradient to ~1e-8.
    """
    gen = torch.Generator().manual_seed(n * 10 + m)
    bids = random_bundle_bids(gen, (25, n), m)
    base = random_params(gen, n, m)
    theta = base.as_vector().clone().requires_grad_(True)
    params = vvca.VVCAParams.from_vector(theta, n, m)
    outcome = vvca.evaluate_vvca(bids, params)
    vvca.rev1_surrogate(bids, params, outcome).backward()

    eps = 1e-6
    fd = torch.zeros_like(theta)
    for j in range(theta.numel()):
        shift = torch.zeros_like(theta)
        shift[j] = eps
        hi = vvca.evaluate_vvca(bids, vvca.VVCAParams.from_vector(theta.detach() + shift, n, m)).rev1.mean()
        lo = vvca.evaluate_vvca(bids, vvca.VVCAParams.from_vector(theta.detach() - shift, n, m)).rev1.mean()
        fd[j] = (hi - lo) / (2 * eps)
    torch.testing.assert_close(theta.grad, fd, rtol=1e-5, atol=1e-6)
    assert theta.grad.abs().sum() > 0


def test_rev2_batched_equals_one_parameter_vector_at_a_time():
    gen = torch.Generator().manual_seed(12)
    n, m, q = 3, 3, 4
    bids = random_bundle_bids(gen, (50, n), m)
    alphas = torch.randn(q, n, generator=gen, dtype=torch.float64) * 0.3
    boosts = torch.randn(q, n, 2**m, generator=gen, dtype=torch.float64) * 0.3
    many = vvca.rev2_batched(bids, alphas, boosts)
    single = torch.stack([vvca.rev2(bids, vvca.VVCAParams(alphas[j], boosts[j])) for j in range(q)])
    torch.testing.assert_close(many, single, rtol=0, atol=1e-12)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_backends_and_chunking_agree_exactly(dtype: torch.dtype):
    """numba and torch perform the same additions and the same tie-break: identical allocations, bit for bit."""
    gen = torch.Generator().manual_seed(21)
    n, m = 4, 6
    bids = random_bundle_bids(gen, (150, n), m).to(dtype)
    params = random_params(gen, n, m).to(dtype=dtype)
    ref = vvca.evaluate_vvca(bids, params, backend="torch")
    for backend, chunk in [("numba", None), ("numba", 17), ("torch", 33)]:
        out = vvca.evaluate_vvca(bids, params, backend=backend, chunk_size=chunk)
        assert torch.equal(out.alloc, ref.alloc)
        assert torch.equal(out.alloc_minus, ref.alloc_minus)
        assert torch.equal(out.maw, ref.maw)
        assert torch.equal(out.payments, ref.payments)


@pytest.mark.parametrize("max_padding", [1.5, 2.0, 100.0])
def test_padded_dense_blocks_give_identical_allocations(max_padding: float):
    """Merging bundle sizes into padded blocks (the GPU layout) changes no allocation, even under ties."""
    gen = torch.Generator().manual_seed(31)
    n, m = 3, 5
    bids = random_bundle_bids(gen, (80, n), m)
    bids[:10] = 0.0  # all-tie profiles
    params = random_params(gen, n, m)
    vt = vvca.virtual_values(bids, params)
    ref = dp_torch.allocations_with_exclusions(vt, params.boosts, max_padding=1.0)
    got = dp_torch.allocations_with_exclusions(vt, params.boosts, max_padding=max_padding)
    for a, b in zip(ref, got, strict=True):
        assert torch.equal(a, b)
    assert torch.equal(dp_torch.winner_determination(vt, max_padding=max_padding)[1], ref[1])
    assert len(subsets.size_groups(m, max_padding)) < m + 1


def test_structural_ties_resolve_to_the_smallest_bundle():
    """All-zero virtual values: every allocation ties, and the DP gives every bidder the empty bundle."""
    for backend in BACKENDS:
        maw, alloc = vvca.winner_determination(torch.zeros(3, 2, 8, dtype=torch.float64), backend=backend)
        assert torch.equal(alloc, torch.zeros(3, 2, dtype=torch.long))
        assert torch.equal(maw, torch.zeros(3, dtype=torch.float64))


def test_params_vector_round_trip_and_vcg():
    p = vvca.VVCAParams.vcg(3, 2)
    assert p.n == 3 and p.m == 2 and p.as_vector().shape == (3 + 3 * 4,)
    assert torch.equal(p.weights, torch.ones(3))
    q = vvca.VVCAParams.from_vector(torch.arange(15.0), 3, 2)
    assert torch.equal(q.as_vector(), torch.arange(15.0))
    with pytest.raises(ValueError):
        vvca.VVCAParams(torch.zeros(2), torch.zeros(2, 3))
    assert np.isclose(float(p.weights.sum()), 3.0)
