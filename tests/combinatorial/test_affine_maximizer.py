"""The AMA over an explicit menu against independent oracles: a loop-by-loop brute force of Eq. 1 and Eq. 2,
per-item second-price auctions (VCG with the full deterministic menu), DSIC by random misreport search, IR, and
the softmax relaxation's limit."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch

from pipeline_lib.combinatorial.affine_maximizer import (
    Menu,
    hard_outcome,
    menu_values,
    soft_payments,
    with_empty_allocation,
)


def random_lottery_menu(rng: np.random.Generator, k: int, n: int, m: int, *, boost_scale: float = 0.5) -> Menu:
    """k random lotteries (Dirichlet over n bidders + nobody per item), random weights and boosts, plus empty."""
    probs = rng.dirichlet(np.ones(n + 1), size=(k, m)).transpose(0, 2, 1)[:, :n, :]  # (k, n, m)
    allocs, boosts = with_empty_allocation(torch.tensor(probs), torch.tensor(rng.normal(0.0, boost_scale, size=k)))
    return Menu(allocs, torch.tensor(rng.uniform(0.3, 2.0, size=n)), boosts)


def brute_force(bids: np.ndarray, menu: Menu) -> tuple[list[int], np.ndarray]:
    """Eq. 1 and Eq. 2 written out with plain Python loops over profiles, entries and bidders."""
    allocs, w, lam = menu.allocs.numpy(), menu.weights.numpy(), menu.boosts.numpy()
    k_total, n, m = allocs.shape
    choices, payments = [], np.zeros((len(bids), n))
    for b, profile in enumerate(bids):
        value = [[sum(allocs[k, i, j] * profile[i, j] for j in range(m)) for i in range(n)] for k in range(k_total)]
        aw = [sum(w[i] * value[k][i] for i in range(n)) + lam[k] for k in range(k_total)]
        best = max(range(k_total), key=lambda k: (aw[k], -k))  # ties to the lowest index
        choices.append(best)
        for i in range(n):
            others = [aw[k] - w[i] * value[k][i] for k in range(k_total)]
            payments[b, i] = (max(others) - others[best]) / w[i]
    return choices, payments


def test_menu_values_is_the_expected_value_of_each_lottery():
    rng = np.random.default_rng(0)
    menu = random_lottery_menu(rng, 3, 2, 3)
    bids = torch.tensor(rng.uniform(size=(4, 2, 3)))
    got = menu_values(bids, menu.allocs)  # (n, B, K)
    for b, k, i in itertools.product(range(4), range(menu.size), range(2)):
        want = float((menu.allocs[k, i] * bids[b, i]).sum())
        assert got[i, b, k].item() == pytest.approx(want, abs=1e-12)


def test_argmax_and_payments_match_brute_force_on_a_tiny_menu():
    rng = np.random.default_rng(1)
    for n, m, k in [(2, 2, 4), (3, 2, 5), (1, 3, 3)]:
        menu = random_lottery_menu(rng, k, n, m)
        bids = rng.uniform(size=(60, n, m))
        choices, payments = brute_force(bids, menu)
        out = hard_outcome(torch.tensor(bids), menu, chunk_size=7)  # several chunks
        assert out.choice.tolist() == choices
        np.testing.assert_allclose(out.payments.numpy(), payments, atol=1e-12)
        np.testing.assert_allclose(out.allocation.numpy(), menu.allocs.numpy()[choices])


def test_full_deterministic_menu_with_unit_weights_is_per_item_second_price():
    """VCG for additive bidders = one second-price auction per item (independent closed form)."""
    n, m = 3, 2
    entries = list(itertools.product(range(n + 1), repeat=m))  # owner of each item, n = nobody
    allocs = torch.zeros(len(entries), n, m, dtype=torch.float64)
    for k, owners in enumerate(entries):
        for j, owner in enumerate(owners):
            if owner < n:
                allocs[k, owner, j] = 1.0
    menu = Menu(allocs, torch.ones(n, dtype=torch.float64), torch.zeros(len(entries), dtype=torch.float64))
    bids = torch.rand(200, n, m, dtype=torch.float64, generator=torch.Generator().manual_seed(2))
    out = hard_outcome(bids, menu)
    top2 = bids.topk(2, dim=1).values  # (B, 2, m)
    winner = bids.argmax(1)  # (B, m)
    want = torch.zeros(200, n, dtype=torch.float64)
    want.scatter_add_(1, winner, top2[:, 1, :])
    torch.testing.assert_close(out.payments, want)
    torch.testing.assert_close(out.revenue, top2[:, 1, :].sum(-1))


def test_ir_payments_between_zero_and_the_expected_value():
    rng = np.random.default_rng(3)
    for boost_scale in (0.1, 1.0, 5.0):
        menu = random_lottery_menu(rng, 16, 3, 4, boost_scale=boost_scale)
        out = hard_outcome(torch.tensor(rng.uniform(size=(500, 3, 4))), menu)
        assert (out.payments >= -1e-12).all()
        assert (out.payments <= out.values + 1e-12).all()


def test_dsic_no_misreport_raises_utility():
    """Random search over a bidder's misreports (scaled, permuted, zeroed, fresh draws) never gains."""
    rng = np.random.default_rng(4)
    n, m = 3, 3
    menu = random_lottery_menu(rng, 24, n, m, boost_scale=0.3)
    true = torch.tensor(rng.uniform(size=(40, n, m)))
    truthful = hard_outcome(true, menu)
    u_true = truthful.values - truthful.payments  # (B, n)
    for i in range(n):
        for _ in range(60):
            lie = true.clone()
            kind = rng.integers(4)
            if kind == 0:
                lie[:, i] = torch.tensor(rng.uniform(0, 2, size=(40, m)))
            elif kind == 1:
                lie[:, i] *= torch.tensor(rng.uniform(0, 3, size=(40, 1)))
            elif kind == 2:
                lie[:, i] = lie[:, i, torch.tensor(rng.permutation(m))]
            else:
                lie[:, i, rng.integers(m)] = 0.0
            out = hard_outcome(lie, menu)
            gain = (out.allocation[:, i] * true[:, i]).sum(-1) - out.payments[:, i]  # true value of the lottery
            assert (gain <= u_true[:, i] + 1e-12).all()


def test_soft_payments_tend_to_the_exact_ones_as_the_temperature_grows():
    rng = np.random.default_rng(5)
    menu = random_lottery_menu(rng, 10, 2, 3)
    bids = torch.tensor(rng.uniform(size=(100, 2, 3)))
    exact = hard_outcome(bids, menu).payments
    errors = [float((soft_payments(bids, menu, t) - exact).abs().max()) for t in (10.0, 1e3, 1e6)]
    assert errors[0] > errors[2] and errors[2] < 1e-6


def test_soft_payments_have_gradients_for_every_menu_part():
    rng = np.random.default_rng(6)
    base = random_lottery_menu(rng, 6, 2, 2)
    menu = Menu(*(t.clone().requires_grad_(True) for t in (base.allocs, base.weights, base.boosts)))
    soft_payments(torch.tensor(rng.uniform(size=(50, 2, 2))), menu, 20.0).sum().backward()
    for t in (menu.allocs, menu.weights, menu.boosts):
        assert t.grad is not None and t.grad.abs().sum() > 0


def test_menu_shape_errors_name_the_shapes():
    with pytest.raises(ValueError, match="weights"):
        Menu(torch.zeros(3, 2, 2), torch.ones(3), torch.zeros(3))
    with pytest.raises(ValueError, match="do not match"):
        menu_values(torch.zeros(4, 3, 2), torch.zeros(5, 2, 2))
