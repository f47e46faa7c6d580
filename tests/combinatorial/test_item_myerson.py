"""Item-Myerson against closed forms, quadrature of the expected virtual surplus, and the critical-value
characterisation of its payments. The oracles use scipy and share no code with ``pipeline_lib``."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from scipy import integrate, optimize

from pipeline_lib.combinatorial.item_myerson import (
    LogNormalPrior,
    UniformPrior,
    check_regular,
    item_myerson,
    item_priors,
)


def sample(distribution: str, batch: int, n: int, m: int, seed: int) -> torch.Tensor:
    rng = np.random.default_rng(seed)
    if distribution == "A":
        x = rng.uniform(0.0, 1.0, size=(batch, n, m))
    elif distribution == "B":
        x = rng.uniform(0.0, 1.0, size=(batch, n, m)) * np.arange(1, n + 1)[None, :, None]
    else:
        x = np.exp(rng.normal(size=(batch, n, m)) / np.arange(1, n + 1)[None, :, None])
    return torch.tensor(x)


def _lognormal_cdf_sf_pdf(v: float, sigma: float) -> tuple[float, float, float]:
    z = math.log(v) / sigma
    pdf = math.exp(-0.5 * z * z) / (v * sigma * math.sqrt(2.0 * math.pi))
    return 0.5 * math.erfc(-z / math.sqrt(2.0)), 0.5 * math.erfc(z / math.sqrt(2.0)), pdf


def oracle_cdf(distribution: str, i: int):
    """CDF of bidder i's item value (1-indexed), plain Python floats."""
    if distribution == "A":
        return lambda v: min(max(v, 0.0), 1.0)
    if distribution == "B":
        return lambda v: min(max(v / i, 0.0), 1.0)
    return lambda v: _lognormal_cdf_sf_pdf(v, 1.0 / i)[0]


def oracle_phi(distribution: str, i: int):
    """Virtual value of bidder i (1-indexed) from the textbook definition v - (1 - F(v)) / f(v)."""
    if distribution == "A":
        return np.vectorize(lambda v: v - (1.0 - v) / 1.0)
    if distribution == "B":
        return np.vectorize(lambda v: v - (1.0 - v / i) / (1.0 / i))

    def phi(v: float) -> float:
        _, sf, pdf = _lognormal_cdf_sf_pdf(v, 1.0 / i)
        return v - sf / pdf

    return np.vectorize(phi)


def expected_revenue_by_quadrature(distribution: str, n: int) -> float:
    """E[max(0, max_i phi_i(V_i))] = int_0^inf 1 - prod_i F_i(phi_i^{-1}(t)) dt (Myerson's lemma)."""
    phis = [oracle_phi(distribution, i).pyfunc for i in range(1, n + 1)]
    cdfs = [oracle_cdf(distribution, i) for i in range(1, n + 1)]

    def inverse(phi, t):
        hi = 1.0
        while phi(hi) < t:
            hi *= 2.0
        return optimize.brentq(lambda v: phi(v) - t, 0.05, hi, xtol=1e-13)

    def tail(t):
        return 1.0 - math.prod(cdf(inverse(phi, t)) for phi, cdf in zip(phis, cdfs, strict=True))

    top = 1.0
    while tail(top) > 1e-13:
        top += 1.0
    value, _ = integrate.quad(tail, 0.0, top, limit=200, epsabs=1e-10)
    return value


def test_lognormal_reserves_match_the_spec_table():
    """docs/methods.md#item-myerson: sigma = 1 -> 1.3534; 1/2 -> 0.7719; 1/3 -> 0.7453; 1/4 -> 0.7584; 1/5 -> 0.7766."""
    expected = [1.3534, 0.7719, 0.7453, 0.7584, 0.7766]
    got = [LogNormalPrior(1.0 / i).reserve for i in range(1, 6)]
    assert got == pytest.approx(expected, abs=1e-4)
    for i in range(1, 6):
        assert oracle_phi("C", i)(got[i - 1]) == pytest.approx(0.0, abs=1e-9)


@pytest.mark.parametrize("distribution", ["A", "B", "C"])
def test_virtual_values_follow_the_definition_and_are_increasing(distribution: str):
    priors = item_priors(distribution, 5)
    for i, prior in enumerate(priors, start=1):
        grid = np.linspace(0.1, 3.0 * i if distribution != "A" else 1.0, 200)
        got = prior.virtual_value(torch.tensor(grid)).numpy()
        np.testing.assert_allclose(got, oracle_phi(distribution, i)(grid), rtol=1e-9, atol=1e-9)
        assert check_regular(prior, upper=50.0)


@pytest.mark.parametrize("n", [1, 2, 3, 5])
def test_uniform_closed_form_revenue_per_item(n: int):
    """U[0,1]: revenue per item (n - 1)/(n + 1) + 2^-n/(n + 1) (docs/methods.md#item-myerson)."""
    items = sample("A", 200_000, n, 2, seed=n)
    revenue = item_myerson(items, item_priors("A", n)).revenue
    closed = 2 * ((n - 1) / (n + 1) + 2.0**-n / (n + 1))
    se = revenue.std().item() / math.sqrt(len(revenue))
    assert abs(revenue.mean().item() - closed) < 4 * se


@pytest.mark.parametrize("distribution,n", [("B", 3), ("B", 5), ("C", 2), ("C", 5)])
def test_asymmetric_revenue_equals_expected_virtual_surplus(distribution: str, n: int):
    items = sample(distribution, 100_000, n, 1, seed=10 + n)
    revenue = item_myerson(items, item_priors(distribution, n)).revenue
    se = revenue.std().item() / math.sqrt(len(revenue))
    assert abs(revenue.mean().item() - expected_revenue_by_quadrature(distribution, n)) < 4 * se


@pytest.mark.parametrize("distribution,n", [("A", 3), ("B", 4), ("C", 3)])
def test_payment_is_the_critical_bid(distribution: str, n: int):
    """The winner pays inf{b : it still wins at bid b} (found here by bisection on the allocation alone)."""
    items = sample(distribution, 64, n, 1, seed=3)
    priors = item_priors(distribution, n)
    out = item_myerson(items, priors)
    sold = out.winners[:, 0] >= 0
    rows = torch.nonzero(sold).squeeze(1)
    winner = out.winners[rows, 0]
    lo = torch.zeros(len(rows), dtype=torch.float64)
    hi = items[rows, winner, 0].clone()
    for _ in range(60):
        mid = 0.5 * (lo + hi)
        trial = items[rows].clone()
        trial[torch.arange(len(rows)), winner, 0] = mid
        wins = item_myerson(trial, priors).winners[:, 0] == winner
        hi = torch.where(wins, mid, hi)
        lo = torch.where(wins, lo, mid)
    torch.testing.assert_close(out.payments[rows, winner], hi, rtol=0, atol=1e-9)
    assert torch.all(out.payments[~sold] == 0)


@pytest.mark.parametrize("distribution,n", [("A", 2), ("B", 3), ("B", 5), ("C", 2), ("C", 5)])
def test_never_below_the_second_price_auction(distribution: str, n: int):
    """Exact Myerson maximises expected revenue per item, so it beats VCG (= per-item second price here)."""
    items = sample(distribution, 50_000, n, 2, seed=20 + n)
    myerson = item_myerson(items, item_priors(distribution, n)).revenue
    second_price = items.sort(dim=1).values[:, -2].sum(1)
    diff = myerson - second_price
    assert diff.mean().item() > 3 * diff.std().item() / math.sqrt(len(diff))


def test_individual_rationality_and_bundles():
    items = sample("C", 2000, 3, 4, seed=1)
    out = item_myerson(items, item_priors("C", 3))
    won_value = torch.stack(
        [(items[:, i] * ((out.alloc[:, i : i + 1] >> torch.arange(4)) & 1)).sum(1) for i in range(3)], 1
    )
    assert torch.all(out.payments >= 0)
    assert torch.all(out.payments <= won_value + 1e-9)
    assert torch.all((out.alloc[:, 0] & out.alloc[:, 1]) == 0)
    torch.testing.assert_close(out.welfare, won_value.sum(1))


def test_setting_d_is_rejected():
    with pytest.raises(ValueError):
        item_priors("D", 2)
    assert UniformPrior(2.0).reserve == 1.0
