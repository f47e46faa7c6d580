"""The VVCA engine equals a brute-force enumeration of all (n+1)^m deterministic allocations.

The oracle below shares no code with ``pipeline_lib``: it lists every assignment of the m items to one of the n
bidders or to nobody, scores each by the affine welfare AW(A) = sum_k w_k b_k(A_k) + lambda_k(A_k) (Eq. 1, 3),
and computes Eq. 2 payments literally, p_i = (1/w_i) [max_A AW_{-i}(A) - AW_{-i}(A*)], where AW_{-i} drops
bidder i's bids but keeps its boosts. Everything is float64.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch

from pipeline_lib.vvca import mechanism as vvca

BACKENDS = ["torch", "numba"]
SIZES = [(n, m) for n in (1, 2, 3) for m in (1, 2, 3, 4)]


# ------------------------------------------------------------------------------------------------ the oracle
def all_allocations(n: int, m: int) -> np.ndarray:
    """Every deterministic allocation as bundle bitmasks, shape ((n+1)^m, n); owner n means 'nobody'."""
    rows = []
    for owners in itertools.product(range(n + 1), repeat=m):
        bundles = [0] * n
        for item, owner in enumerate(owners):
            if owner < n:
                bundles[owner] |= 1 << item
        rows.append(bundles)
    return np.array(rows, dtype=np.int64)


def brute_force(bids: np.ndarray, w: np.ndarray, lam: np.ndarray) -> dict[str, np.ndarray]:
    """A*, its affine welfare, the runner-up welfare, payments (Eq. 2) and b_i(A*_i) for every profile."""
    batch, n, _ = bids.shape
    m = int(np.log2(bids.shape[2]))
    allocs = all_allocations(n, m)  # (K, n)
    bid_part = np.stack([w[k] * bids[:, k, allocs[:, k]] for k in range(n)], axis=2)  # (B, K, n)
    boost_part = np.stack([lam[k, allocs[:, k]] for k in range(n)], axis=1)  # (K, n)
    aw = bid_part.sum(2) + boost_part.sum(1)  # (B, K)
    best = aw.argmax(1)
    top2 = np.sort(aw, axis=1)[:, -2:] if aw.shape[1] > 1 else np.concatenate([aw, aw - np.inf], 1)
    payments = np.zeros((batch, n))
    for i in range(n):
        aw_minus = aw - bid_part[:, :, i]
        rows = np.arange(batch)
        payments[:, i] = (aw_minus.max(1) - aw_minus[rows, best]) / w[i]
    alloc = allocs[best]
    value = np.take_along_axis(bids, alloc[:, :, None], axis=2)[:, :, 0]
    return {
        "alloc": alloc,
        "maw": aw.max(1),
        "gap": top2[:, 1] - top2[:, 0],
        "payments": payments,
        "value": value,
        "allocs": allocs,
        "aw": aw,
    }


def additive(items: np.ndarray) -> np.ndarray:
    """Bundle values v(S) = sum_{j in S} v({j}) from item values (..., m)."""
    m = items.shape[-1]
    member = np.array([[(s >> j) & 1 for j in range(m)] for s in range(2**m)], dtype=np.float64)
    return items @ member.T


def combinatorial_d(rng: np.random.Generator, batch: int, n: int, m: int) -> np.ndarray:
    """Setting (D): items U[1, 2]; for |S| >= 2 add c ~ U[-|S|/m, |S|/m] per bidder and bundle."""
    values = additive(rng.uniform(1.0, 2.0, size=(batch, n, m)))
    sizes = np.array([bin(s).count("1") for s in range(2**m)])
    width = np.where(sizes >= 2, sizes / m, 0.0)
    return values + rng.uniform(-1.0, 1.0, size=values.shape) * width


def random_params(rng: np.random.Generator, n: int, m: int, scale: float = 0.5) -> tuple[np.ndarray, ...]:
    return rng.normal(0.0, scale, size=n), rng.normal(0.0, scale, size=(n, 2**m))


def test_oracle_on_a_hand_solved_instance():
    """Two bidders, two items, VCG: bidder 0 wants the pair (3), bidder 1 values each item at 1 (pair 2)."""
    bids = np.array([[[0.0, 0.5, 0.5, 3.0], [0.0, 1.0, 1.0, 2.0]]])
    out = brute_force(bids, np.ones(2), np.zeros((2, 4)))
    assert out["alloc"].tolist() == [[3, 0]]
    assert out["maw"][0] == pytest.approx(3.0)
    # Bidder 0 pays the externality 2 - 0; bidder 1 pays 3 - 3 = 0.
    assert out["payments"][0].tolist() == pytest.approx([2.0, 0.0])
    assert len(out["allocs"]) == 9


# ------------------------------------------------------------------------------------------------ the tests
def _compare(bids: np.ndarray, alpha: np.ndarray, boosts: np.ndarray, backend: str) -> None:
    params = vvca.VVCAParams(torch.tensor(alpha), torch.tensor(boosts))
    outcome = vvca.evaluate_vvca(torch.tensor(bids), params, backend=backend)
    ref = brute_force(bids, np.exp(alpha), boosts)
    alloc = outcome.alloc.numpy()
    # The engine's allocation is feasible and optimal (its affine welfare is the brute-force maximum).
    n = bids.shape[1]
    for i in range(n):
        for k in range(i + 1, n):
            assert not np.any(alloc[:, i] & alloc[:, k])
    engine_aw = (np.exp(alpha) * np.take_along_axis(bids, alloc[:, :, None], 2)[:, :, 0]).sum(1) + boosts[
        np.arange(n), alloc
    ].sum(1)
    np.testing.assert_allclose(engine_aw, ref["maw"], rtol=0, atol=1e-10)
    np.testing.assert_allclose(outcome.maw.numpy(), ref["maw"], rtol=0, atol=1e-10)
    unique = ref["gap"] > 1e-9
    np.testing.assert_array_equal(alloc[unique], ref["alloc"][unique])
    np.testing.assert_allclose(outcome.payments.numpy(), ref["payments"], rtol=0, atol=1e-9)
    np.testing.assert_allclose(outcome.rev2.numpy(), ref["value"].sum(1), rtol=0, atol=1e-10)
    np.testing.assert_allclose(outcome.revenue.numpy(), ref["payments"].sum(1), rtol=0, atol=1e-9)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("n,m", SIZES)
def test_additive_random_parameters_match_brute_force(backend: str, n: int, m: int):
    rng = np.random.default_rng(100 * n + m)
    bids = additive(rng.uniform(0.0, 1.0, size=(40, n, m)))
    alpha, boosts = random_params(rng, n, m)
    _compare(bids, alpha, boosts, backend)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("n,m", SIZES)
def test_setting_d_random_parameters_match_brute_force(backend: str, n: int, m: int):
    rng = np.random.default_rng(7 + 100 * n + m)
    bids = combinatorial_d(rng, 40, n, m)
    alpha, boosts = random_params(rng, n, m, scale=1.0)
    _compare(bids, alpha, boosts, backend)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("n,m", [(2, 2), (3, 4)])
def test_vcg_with_structural_ties_matches_brute_force(backend: str, n: int, m: int):
    """At VCG (w = 1, lambda = 0) a zeroed bidder is indifferent about its items: A^(-i) is not unique but the
    welfare of A*, the payments and the revenue are."""
    rng = np.random.default_rng(3)
    bids = additive(rng.uniform(0.0, 1.0, size=(60, n, m)))
    _compare(bids, np.zeros(n), np.zeros((n, 2**m)), backend)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("n,m", [(1, 3), (2, 3), (3, 4)])
def test_every_exclusion_allocation_is_optimal(backend: str, n: int, m: int):
    """A^(-i) maximises AW_{-i} (bidder i's bids zeroed, its boosts kept), checked against the enumeration."""
    rng = np.random.default_rng(11 * n + m)
    bids = combinatorial_d(rng, 30, n, m)
    alpha, boosts = random_params(rng, n, m)
    params = vvca.VVCAParams(torch.tensor(alpha), torch.tensor(boosts))
    outcome = vvca.evaluate_vvca(torch.tensor(bids), params, backend=backend)
    for i in range(n):
        zeroed = bids.copy()
        zeroed[:, i] = 0.0
        ref = brute_force(zeroed, np.exp(alpha), boosts)
        np.testing.assert_allclose(outcome.maw_minus[:, i].numpy(), ref["maw"], rtol=0, atol=1e-10)
        unique = ref["gap"] > 1e-9
        np.testing.assert_array_equal(outcome.alloc_minus[:, i].numpy()[unique], ref["alloc"][unique])


@pytest.mark.parametrize("backend", BACKENDS)
def test_winner_determination_alone_matches_brute_force(backend: str):
    rng = np.random.default_rng(5)
    n, m = 3, 4
    vt = rng.normal(size=(50, n, 2**m))  # arbitrary virtual values, including vt_i(empty) != 0
    maw, alloc = vvca.winner_determination(torch.tensor(vt), backend=backend)
    ref = brute_force(vt, np.ones(n), np.zeros((n, 2**m)))
    np.testing.assert_allclose(maw.numpy(), ref["maw"], rtol=0, atol=1e-12)
    np.testing.assert_array_equal(alloc.numpy(), ref["alloc"])
