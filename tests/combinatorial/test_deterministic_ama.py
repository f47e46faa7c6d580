"""The AMA over every allocation against independent oracles: a pure-numpy enumeration of allocations (loops over
items and bidders, nothing shared with the torch code), random misreports (DSIC), IR, and the VVCA it lifts."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch

from pipeline_lib.combinatorial import deterministic_ama as ama
from pipeline_lib.combinatorial.ama_family import AMAFamily
from pipeline_lib.vvca.bids import BidSource
from pipeline_lib.vvca.mechanism import VVCAParams, evaluate_vvca


def brute_force(bids: np.ndarray, weights: np.ndarray, boost_of) -> tuple[list, np.ndarray]:
    """Per profile: the welfare-maximising owner vector and the AMA payments, by enumerating owner vectors."""
    n, size = bids.shape[1], bids.shape[2]
    m = size.bit_length() - 1
    allocations = list(itertools.product(range(n + 1), repeat=m))

    def bundle(owner: tuple[int, ...], i: int) -> int:
        return sum(1 << j for j in range(m) if owner[j] == i + 1)

    chosen, payments = [], np.zeros(bids.shape[:2])
    for b, profile in enumerate(bids):
        terms = np.array([[weights[i] * profile[i, bundle(o, i)] for i in range(n)] for o in allocations])
        boosts = np.array([boost_of(o) for o in allocations])
        welfare = terms.sum(1) + boosts
        star = int(np.argmax(welfare))
        chosen.append(allocations[star])
        for i in range(n):
            without = welfare - terms[:, i]
            payments[b, i] = (without.max() - without[star]) / weights[i]
    return chosen, payments


def _owner_index(owner: tuple[int, ...], n: int) -> int:
    return sum(o * (n + 1) ** j for j, o in enumerate(owner))


@pytest.mark.parametrize(("n", "m"), [(2, 2), (3, 2), (2, 3)])
def test_matches_brute_force(n: int, m: int) -> None:
    rng = np.random.default_rng(n * 10 + m)
    bids = rng.random((60, n, 2**m))
    bids[:, :, 0] = 0.0
    k = ama.outcome_count(n, m)
    boosts = np.concatenate([[0.0], rng.normal(0, 0.5, k - 1)])
    weights = np.exp(rng.normal(0, 0.3, n))
    chosen, expected = brute_force(bids, weights, lambda o: boosts[_owner_index(o, n)])
    params = ama.AMAParams(torch.tensor(np.log(weights)), torch.tensor(boosts))
    bundles = ama.outcome_bundles(n, m)
    out = ama.evaluate_ama(torch.tensor(bids), params, bundles)
    assert out.choice.tolist() == [_owner_index(o, n) for o in chosen]
    np.testing.assert_allclose(out.payments.numpy(), expected, atol=1e-10)
    np.testing.assert_allclose(out.revenue.numpy(), out.rev1.numpy() + out.rev2.numpy(), atol=1e-12)


def test_outcome_bundles_are_disjoint_and_cover_every_assignment() -> None:
    bundles = ama.outcome_bundles(3, 2)
    assert bundles.shape == (16, 3) and bundles[0].tolist() == [0, 0, 0]
    seen = {tuple(row) for row in bundles.tolist()}
    assert len(seen) == 16  # every allocation once
    for row in bundles.tolist():
        assert all(a & b == 0 for a, b in itertools.combinations(row, 2))


def test_dsic_and_ir_by_random_misreports() -> None:
    rng = np.random.default_rng(3)
    n, m = 2, 3
    bids = torch.tensor(rng.random((400, n, 2**m)))
    bids[:, :, 0] = 0.0
    params = ama.AMAParams(torch.tensor([0.3, -0.2], dtype=torch.float64), torch.tensor(rng.normal(0, 0.4, 27)))
    params.boosts[0] = 0.0
    bundles = ama.outcome_bundles(n, m)
    check = ama.misreport_check(bids, params, bundles, torch.Generator().manual_seed(0), trials=6)
    assert check["misreports"] == 400 * n * 6
    assert check["violations"] == 0 and check["max_utility_gain"] <= 1e-9
    out = ama.evaluate_ama(bids, params, bundles)
    assert (out.payments >= -1e-12).all() and (out.payments <= out.won + 1e-12).all()


def test_misreport_check_catches_a_non_truthful_rule() -> None:
    """The check can fail: a first-price-like rule (pay your bid for the chosen allocation) is not DSIC."""
    rng = np.random.default_rng(4)
    bids = torch.tensor(rng.random((300, 2, 4)))
    bids[:, :, 0] = 0.0
    bundles = ama.outcome_bundles(2, 2)
    original = ama._payments

    def pay_bid(values, params, choice, choice_minus):
        _, won = original(values, params, choice, choice_minus)
        return won, won

    params = ama.AMAParams(torch.zeros(2, dtype=torch.float64), torch.zeros(9, dtype=torch.float64))
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(ama, "_payments", pay_bid)
        check = ama.misreport_check(bids, params, bundles, torch.Generator().manual_seed(0), trials=4)
    assert check["violations"] > 0 and check["max_utility_gain"] > 0.05


@pytest.mark.parametrize(("n", "m"), [(2, 2), (2, 4), (4, 2)])
def test_vvca_lift_equals_the_vvca_profile_by_profile(n: int, m: int) -> None:
    rng = np.random.default_rng(7 + n + m)
    bids = torch.tensor(rng.random((300, n, 2**m)))
    bids[:, :, 0] = 0.0
    vvca = VVCAParams(torch.tensor(rng.normal(0, 0.3, n)), torch.tensor(rng.normal(0, 0.4, (n, 2**m))))
    lifted = ama.lift_vvca(vvca)
    assert float(lifted.boosts[0]) == 0.0
    bundles = ama.outcome_bundles(n, m)
    out = ama.evaluate_ama(bids, lifted, bundles)
    ref = evaluate_vvca(bids, vvca, backend="torch")
    assert torch.equal(bundles[out.choice], ref.alloc)
    torch.testing.assert_close(out.payments, ref.payments, atol=1e-10, rtol=0)


def test_rev2_batched_and_rev1_gradient_agree_with_the_outcome() -> None:
    rng = np.random.default_rng(5)
    n, m = 2, 2
    bids = torch.tensor(rng.random((200, n, 4)))
    bids[:, :, 0] = 0.0
    family = AMAFamily.full(n, m)
    phi = torch.tensor(rng.normal(0, 0.3, family.dim), requires_grad=True)
    bundles = family.bundles
    out = ama.evaluate_ama(bids, family.params(phi.detach()), bundles)
    rev2 = ama.rev2_batched(bids, *family.batched(torch.stack([phi.detach(), phi.detach()])), bundles)
    torch.testing.assert_close(rev2, out.rev2.mean().expand(2))
    # Rev1 is piecewise linear in the boosts: a small step along the Danskin gradient changes it by g.h
    surrogate = ama.rev1_surrogate(bids, family.params(phi), bundles, out)
    (grad,) = torch.autograd.grad(surrogate, phi)
    h = 1e-6 * torch.tensor(rng.normal(size=family.dim))
    moved = ama.evaluate_ama(bids, family.params(phi.detach() + h), bundles)
    assert float(moved.rev1.mean() - out.rev1.mean()) == pytest.approx(float(grad @ h), rel=1e-3, abs=1e-12)


def test_symmetric_family_shapes_and_exact_lift() -> None:
    sym = AMAFamily.symmetric(2, 2, "A")
    assert sym.dim == 4  # one weight + three boosts: one item sold, both to one bidder, one each
    full = AMAFamily.full(2, 2)
    phi = torch.tensor([0.1, -0.3, 0.2, 0.5])
    params = sym.params(phi)
    assert params.boosts[0] == 0 and torch.equal(full.params(full.phi_of(params)).boosts, params.boosts)
    assert AMAFamily.symmetric(5, 3, "B").dim == 5 + 55  # items permuted only: multisets of 3 owners from 6, less 1
    assert AMAFamily.symmetric(2, 5, "A").dim == 1 + 11


def test_full_family_evaluates_like_the_mechanism() -> None:
    rng = np.random.default_rng(6)
    source = BidSource(rng.random((500, 2, 2)), additive=True)
    family = AMAFamily.full(2, 2)
    phi = torch.zeros(family.dim)
    vcg = evaluate_vvca(source.bids(slice(None)), VVCAParams.vcg(2, 2), backend="torch").revenue.mean()
    assert family.revenue(source, phi) == pytest.approx(float(vcg), rel=1e-6)


def test_symmetric_search_beats_every_vvca_start_on_2x2_uniform() -> None:
    """On 2x2(A) the bundle-symmetric search leaves the VVCA family (one-each boost != 2 x one-item boost) and earns
    more than per-item Myerson (0.8333 in expectation) and the VCG start on the same profiles."""
    from pipeline_lib.combinatorial.ama_starts import SearchConfig, symmetric_candidates
    from pipeline_lib.combinatorial.starts import myerson_shaped_vvca
    from pipeline_lib.valuations.combinatorial import additive_bundle_values, sample_combinatorial

    family = AMAFamily.symmetric(2, 2, "A")
    bids = additive_bundle_values(torch.from_numpy(sample_combinatorial(np.random.default_rng(0), 4000, 2, 2, "A")))
    myerson = family.phi_of(ama.lift_vvca(myerson_shaped_vvca(2, 2, "A")))
    search = SearchConfig(grid_points=9, steps=(0.1, 0.02), rounds=2)
    found = symmetric_candidates(family, {"vcg": torch.zeros(family.dim), "myerson": myerson}, bids, search)
    source = BidSource(bids, additive=False)
    revenues = {name: family.revenue(source, phi) for name, phi in found.items()}
    assert revenues["myerson"] == pytest.approx(0.8333, abs=0.01)
    assert revenues["symmetric_search"] > revenues["myerson"] + 0.02
    x, y, z = found["symmetric_search"][1:].tolist()  # one item sold, both to one bidder, one each
    assert abs(z - 2 * x) > 0.05  # not a VVCA's boosts


def test_the_symmetric_search_budget_comes_from_config_and_unknown_keys_are_named():
    """combinatorial.ama.search overrides SearchConfig's fields (steps as a tuple); a misspelt key names the block."""
    from pipeline_lib.combinatorial.ama_starts import SearchConfig

    cfg = SearchConfig.from_mapping({"cells": 1_000_000, "steps": [0.1, 0.02], "max_moves": 60})
    assert cfg.cells == 1_000_000 and cfg.steps == (0.1, 0.02) and cfg.max_moves == 60
    assert SearchConfig.from_mapping(None) == SearchConfig()
    assert cfg.profiles(2, 5) == 1_000_000 // (2 * 243) and cfg.rounds_for(12) == 2  # 60 // (12 x 2 steps)
    with pytest.raises(ValueError, match=r"combinatorial\.ama\.search: unknown key\(s\) \['cels'\]"):
        SearchConfig.from_mapping({"cels": 10})
