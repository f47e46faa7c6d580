"""The numba kernels of the VVCA dynamic program (values-only sweeps, argmax by recomputation, last-bidder shortcut,
fused virtual values, allocation-only batched kernel) against the dense torch backend, bit for bit.

The torch backend stores an argmax table at every step and breaks ties towards the smallest bitmask; the numba
kernels recompute the argmax during the backtrack. Identical allocations on tie-heavy inputs (quantised bids, VCG
parameters, all-zero profiles) check that both break ties the same way, also at m = 10 and across block edges.
"""

from __future__ import annotations

import pytest
import torch

from pipeline_lib.vvca import dp_numba, dp_torch
from pipeline_lib.vvca import mechanism as vvca


def instance(n: int, m: int, batch: int, dtype: torch.dtype, *, ties: bool, seed: int):
    gen = torch.Generator().manual_seed(seed)
    bids = torch.rand(batch, n, 2**m, generator=gen, dtype=torch.float64)
    alpha = torch.randn(n, generator=gen, dtype=torch.float64) * 0.3
    boosts = torch.randn(n, 2**m, generator=gen, dtype=torch.float64) * 0.3
    if ties:
        bids = (bids * 4).floor() / 4
        bids[::5] = 0.0
        alpha = torch.zeros(n, dtype=torch.float64)
        boosts = (boosts * 2).round() / 4
    bids[..., 0] = 0.0
    return bids.to(dtype), vvca.VVCAParams(alpha, boosts).to(dtype=dtype)


def assert_same(a: tuple[torch.Tensor, ...], b: tuple[torch.Tensor, ...]) -> None:
    for x, y in zip(a, b, strict=True):
        assert torch.equal(x, y)


CASES = [(n, m) for n in (1, 2, 3, 5) for m in (1, 3, 5)]


@pytest.mark.parametrize("ties", [False, True])
@pytest.mark.parametrize("n,m", CASES)
def test_exclusions_and_allocation_only_kernels_equal_torch(n: int, m: int, ties: bool):
    bids, params = instance(n, m, 70, torch.float32, ties=ties, seed=10 * n + m)
    vt = vvca.virtual_values(bids, params)
    ref = dp_torch.allocations_with_exclusions(vt, params.boosts)
    assert_same(dp_numba.allocations_with_exclusions(vt, params.boosts), ref)
    fused = dp_numba.allocations_with_exclusions_from_bids(bids, params.weights, params.boosts)
    assert_same(fused, ref)  # vt formed in the kernel: the same two roundings as torch
    maw, alloc = dp_numba.winner_determination(vt)
    assert torch.equal(alloc, ref[1]) and torch.equal(maw, ref[0])  # allocation-only kernel == full kernel


@pytest.mark.parametrize("ties", [False, True])
@pytest.mark.parametrize("batch", [1, dp_numba.BLOCK + 1])
def test_m10_against_torch_across_block_edges(batch: int, ties: bool):
    """m = 10 (the largest Table 2 size): 3 bidders, partial and full blocks, generic and tied inputs."""
    bids, params = instance(3, 10, batch, torch.float32, ties=ties, seed=batch)
    vt = vvca.virtual_values(bids, params)
    ref = dp_torch.allocations_with_exclusions(vt, params.boosts)
    assert_same(dp_numba.allocations_with_exclusions_from_bids(bids, params.weights, params.boosts), ref)
    assert torch.equal(dp_numba.winner_determination(vt)[1], ref[1])


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("n,m", [(1, 2), (2, 4), (4, 5)])
def test_batched_allocation_kernel_equals_one_vector_at_a_time(n: int, m: int, dtype: torch.dtype):
    """winner_determination_batched (q parameter vectors, vt formed in the kernel) == torch on the stacked vt."""
    q, batch = 5, 150
    bids, _ = instance(n, m, batch, dtype, ties=True, seed=n + m)
    gen = torch.Generator().manual_seed(3)
    alphas = (torch.randn(q, n, generator=gen) * 0.2).to(dtype)
    boosts = ((torch.randn(q, n, 2**m, generator=gen) * 2).round() / 8).to(dtype)
    alphas[0] = 0.0
    maw, alloc = dp_numba.winner_determination_batched(bids, alphas.exp(), boosts)
    vt = alphas.exp()[:, None, :, None] * bids.unsqueeze(0) + boosts[:, None]
    ref_maw, ref_alloc = dp_torch.winner_determination(vt.reshape(q * batch, n, 2**m))
    assert torch.equal(alloc, ref_alloc.view(q, batch, n))
    assert torch.equal(maw, ref_maw.view(q, batch))


def test_batched_allocations_follow_torch_type_promotion():
    """float64 directions on float32 bids: both backends evaluate vt in float64, as the expression promotes."""
    n, m, q = 3, 4, 4
    bids, _ = instance(n, m, 90, torch.float32, ties=False, seed=5)
    gen = torch.Generator().manual_seed(6)
    alphas = torch.randn(q, n, generator=gen, dtype=torch.float64) * 0.2
    boosts = torch.randn(q, n, 2**m, generator=gen, dtype=torch.float64) * 0.2
    got = vvca.batched_allocations(bids, alphas, boosts, backend="numba")
    ref = vvca.batched_allocations(bids, alphas, boosts, backend="torch")
    assert torch.equal(got, ref)
    assert torch.equal(vvca.batched_allocations(bids, alphas, boosts, backend="numba", chunk_size=37), ref)
    torch.testing.assert_close(
        vvca.rev2_batched(bids, alphas, boosts, backend="numba"),
        vvca.rev2_batched(bids, alphas, boosts, backend="torch"),
        rtol=0,
        atol=0,
    )


def test_all_ties_give_every_bidder_the_empty_bundle():
    """All-zero virtual values: every allocation and exclusion ties; the smallest bitmask (empty) wins."""
    vt = torch.zeros(3, 4, 2**5)
    maw, alloc, maw_minus, alloc_minus = dp_numba.allocations_with_exclusions(vt, torch.zeros(4, 2**5))
    assert not alloc.any() and not alloc_minus.any() and not maw.any() and not maw_minus.any()
