"""Grand-bundle Myerson: the vectorised rules against plain-loop oracles, the empirical reserve against a brute-force
argmax and the closed form of setting (A) with m = 2, the revenue against quadrature, and DSIC / IR under a random
misreport search."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from scipy import integrate

from pipeline_lib.combinatorial.bundle_myerson import (
    RULES,
    bundle_myerson,
    empirical_myerson_reserve,
    grand_bundle_values,
)

DT = torch.float64


# ------------------------------------------------------------------------------------------------ the oracles
def loop_auction(v: np.ndarray, r: np.ndarray, rule: str) -> tuple[int, float]:
    """(winner or -1, price) of one profile, by plain loops over the bidders."""
    n = len(v)
    if rule == "shifted":
        winner, best = -1, 0.0
        for i in range(n):
            if v[i] - r[i] >= best and (winner < 0 or v[i] - r[i] > best):
                winner, best = i, v[i] - r[i]
        if winner < 0:
            return -1, 0.0
        second = max([0.0] + [v[k] - r[k] for k in range(n) if k != winner])
        return winner, r[winner] + second
    pool = [i for i in range(n) if rule == "lazy" or v[i] >= r[i]]
    if not pool:
        return -1, 0.0
    winner = pool[0]
    for i in pool:
        if v[i] > v[winner]:
            winner = i
    if v[winner] < r[winner]:
        return -1, 0.0
    others = [v[k] for k in pool if k != winner]
    return winner, max([r[winner]] + others)


def triangular_cdf(v: float) -> float:
    """CDF of X1 + X2 with X1, X2 ~ U[0, 1] independent."""
    v = min(max(v, 0.0), 2.0)
    return v * v / 2 if v <= 1 else 1 - (2 - v) ** 2 / 2


def triangular_pdf(v: float) -> float:
    return v if 0 <= v <= 1 else (2 - v if 1 < v <= 2 else 0.0)


def second_price_revenue_quadrature(reserve: float, n: int = 2) -> float:
    """Expected revenue of a second-price auction with reserve r, n i.i.d. triangular bidders, by Myerson's
    lemma: E[phi(V_(1)) 1{V_(1) >= r}] = n int_r^2 (v f(v) - (1 - F(v))) F(v)^(n-1) dv."""

    def integrand(v: float) -> float:
        return (v * triangular_pdf(v) - (1 - triangular_cdf(v))) * triangular_cdf(v) ** (n - 1)

    value, _ = integrate.quad(integrand, reserve, 2.0, points=[1.0], epsabs=1e-12)
    return n * value


# ------------------------------------------------------------------------------------------------------ tests
@pytest.mark.parametrize("rule", RULES)
@pytest.mark.parametrize("n", [1, 2, 3, 5])
def test_rules_equal_plain_loops(rule: str, n: int) -> None:
    rng = np.random.default_rng(10 + n)
    v = rng.uniform(0, 3, size=(300, n))
    r = rng.uniform(0, 2, size=n)
    out = bundle_myerson(torch.tensor(v), torch.tensor(r), rule)
    for b in range(v.shape[0]):
        winner, price = loop_auction(v[b], r, rule)
        assert int(out.winner[b]) == winner
        expected = np.zeros(n)
        if winner >= 0:
            expected[winner] = price
        np.testing.assert_allclose(out.payments[b].numpy(), expected, atol=1e-12)
        assert float(out.welfare[b]) == pytest.approx(v[b, winner] if winner >= 0 else 0.0)


def test_symmetric_reserves_make_the_rules_coincide() -> None:
    v = torch.rand(2000, 3, dtype=DT)
    r = torch.full((3,), 0.4, dtype=DT)
    outs = [bundle_myerson(v, r, rule) for rule in RULES]
    for out in outs[1:]:
        assert torch.equal(out.winner, outs[0].winner)
        torch.testing.assert_close(out.payments, outs[0].payments)


def test_grand_bundle_values_are_item_sums_or_the_last_bundle_column() -> None:
    items = torch.rand(5, 2, 3, dtype=DT)
    torch.testing.assert_close(grand_bundle_values(items, True), items[..., 0] + items[..., 1] + items[..., 2])
    bundles = torch.rand(5, 2, 8, dtype=DT)
    assert torch.equal(grand_bundle_values(bundles, False), bundles[:, :, 7])


def test_empirical_reserve_is_the_brute_force_best_posted_price() -> None:
    rng = np.random.default_rng(3)
    x = rng.exponential(2.0, size=(301, 2))
    got = empirical_myerson_reserve(torch.tensor(x))
    for k in range(2):
        revenue = [p * np.mean(x[:, k] >= p) for p in x[:, k]]
        assert float(got[k]) == x[int(np.argmax(revenue)), k]
    assert empirical_myerson_reserve(torch.tensor(x[:, 0])).dim() == 0


def test_empirical_reserve_converges_to_the_uniform_and_triangular_reserves() -> None:
    gen = torch.Generator().manual_seed(0)
    assert float(empirical_myerson_reserve(torch.rand(200_000, generator=gen, dtype=DT))) == pytest.approx(
        0.5, abs=0.03
    )
    bundle = torch.rand(200_000, 2, generator=gen, dtype=DT).sum(1)
    # phi(r) = r - (1 - r^2/2)/r = 0 on [0, 1]  =>  r = sqrt(2/3)
    assert float(empirical_myerson_reserve(bundle)) == pytest.approx(math.sqrt(2 / 3), abs=0.04)


def test_two_by_two_uniform_matches_the_quadrature_of_the_optimal_bundle_auction() -> None:
    reserve = math.sqrt(2 / 3)
    expected = second_price_revenue_quadrature(reserve)
    # the reserve maximises the quadrature revenue (Myerson's optimum for the grand bundle)
    assert expected > second_price_revenue_quadrature(reserve - 0.05)
    assert expected > second_price_revenue_quadrature(reserve + 0.05)
    gen = torch.Generator().manual_seed(1)
    test = grand_bundle_values(torch.rand(400_000, 2, 2, generator=gen, dtype=DT), True)
    out = bundle_myerson(test, torch.full((2,), reserve, dtype=DT))
    se = float(out.revenue.std()) / math.sqrt(test.shape[0])
    assert abs(float(out.revenue.mean()) - expected) < 4 * se
    # reserves fitted on a separate training sample lose almost nothing
    train = grand_bundle_values(torch.rand(100_000, 2, 2, generator=gen, dtype=DT), True)
    fitted = bundle_myerson(test, empirical_myerson_reserve(train))
    assert float(fitted.revenue.mean()) > expected - 4 * se - 2e-3


@pytest.mark.parametrize("rule", RULES)
def test_dsic_and_ir_under_random_misreports(rule: str) -> None:
    rng = np.random.default_rng(7)
    n, profiles = 3, 400
    v = torch.tensor(rng.uniform(0, 2, size=(profiles, n)))
    r = torch.tensor([0.3, 0.8, 1.1])
    out = bundle_myerson(v, r, rule)
    won = out.winner.unsqueeze(1) == torch.arange(n)[None, :]
    value = torch.where(won, v, torch.zeros_like(v))
    assert (out.payments >= 0).all() and (out.payments <= value + 1e-12).all()
    utility = value - out.payments
    for i in range(n):
        for _ in range(50):
            lie = v.clone()
            lie[:, i] = torch.tensor(rng.uniform(0, 2.5, size=profiles))
            o = bundle_myerson(lie, r, rule)
            gain = torch.where(o.winner == i, v[:, i], torch.zeros_like(v[:, i])) - o.payments[:, i]
            assert (gain <= utility[:, i] + 1e-12).all()
