"""Classic single-item mechanisms against closed forms (docs/methods.md#evaluator-oracles).

Every expected number here is computed independently of the code under test: textbook virtual values, the
revenue table of section 4, Myerson's payment identity by numerical integration, brute-force reserve search.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from pipeline_lib.single_item.mechanisms import baselines as bl
from pipeline_lib.single_item.mechanisms import myerson as my
from pipeline_lib.single_item.mechanisms import priors as pr
from pipeline_lib.single_item.mechanisms import vickrey as vk

HETERO = pr.hetero_prior()


def hetero_phi(v: np.ndarray) -> np.ndarray:
    """Un-ironed virtual value of F = 2/3 U[0,1] + 1/3 Exp(1): v - (1-F)/f (section 2.3)."""
    v = np.asarray(v, float)
    inside = v - (2.0 - 2.0 * v + np.exp(-v)) / (2.0 + np.exp(-v))
    return np.where(v < 1.0, inside, v - 1.0)


def rev_uniform(n: int) -> float:
    return (n - 1) / (n + 1) + 2.0**-n / (n + 1)


def rev_exponential(n: int) -> float:
    return sum(math.comb(n, k) * (-1) ** (k + 1) * math.exp(-k) / k for k in range(1, n + 1))


def t(x) -> torch.Tensor:
    return torch.tensor(x, dtype=torch.float64)


# --- virtual values and ironing ------------------------------------------------------------------------------
def test_regular_priors_are_not_ironed_and_match_textbook_virtual_values():
    v = np.linspace(0.0, 5.0, 101)
    uni = my.ironed_virtual_value(pr.UniformPrior(0.0, 1.0))
    exp2 = my.ironed_virtual_value(pr.ExponentialPrior(2.0))
    assert my.ironed_intervals(uni) == [] and my.ironed_intervals(exp2) == []
    assert np.allclose(uni(t(v[v <= 1])).numpy(), 2 * v[v <= 1] - 1, atol=1e-9)
    assert np.allclose(exp2(t(v)).numpy(), v - 2.0, atol=1e-9)
    assert vk.monopoly_reserve(uni) == pytest.approx(0.5, abs=1e-9)
    assert vk.monopoly_reserve(exp2) == pytest.approx(2.0, abs=1e-9)


def test_hetero_is_ironed_on_the_interval_of_section_2_3():
    phi = my.ironed_virtual_value(HETERO)
    ((lo, hi, level),) = my.ironed_intervals(phi)
    assert lo == pytest.approx(0.85585, abs=2e-3)
    assert hi == pytest.approx(1.56173, abs=2e-3)
    assert level == pytest.approx(0.56173, abs=1e-3)
    assert vk.monopoly_reserve(phi) == pytest.approx(0.56235, abs=1e-3)
    outside = np.concatenate([np.linspace(0.0, 0.84, 50), np.linspace(1.58, 6.0, 50)])
    assert np.allclose(phi(t(outside)).numpy(), hetero_phi(outside), atol=1e-9)


# --- optimal and second-price revenue -----------------------------------------------------------------------
@pytest.mark.parametrize("n", [1, 2, 3, 4, 5])
def test_myerson_revenue_matches_the_closed_forms(n):
    assert my.myerson_revenue(pr.UniformPrior(), n) == pytest.approx(rev_uniform(n), abs=1e-6)
    assert my.myerson_revenue(pr.ExponentialPrior(1.0), n) == pytest.approx(rev_exponential(n), abs=1e-6)
    assert my.myerson_revenue(pr.ExponentialPrior(3.0), n) == pytest.approx(3 * rev_exponential(n), abs=1e-5)
    assert vk.second_price_revenue(pr.UniformPrior(), n) == pytest.approx((n - 1) / (n + 1), abs=1e-6)
    harmonic = sum(1.0 / k for k in range(1, n + 1))
    assert vk.second_price_revenue(pr.ExponentialPrior(1.0), n) == pytest.approx(harmonic - 1, abs=1e-6)


def test_single_bidder_posted_prices():
    # U[a, b]: p* = max(a, b/2), revenue p*(b - p*)/(b - a); hetero marginal: p* = 0.56235, revenue 0.27090
    for a, b in [(0.0, 1.0), (0.2, 1.0), (0.7, 1.0)]:
        p = max(a, b / 2)
        assert my.myerson_revenue(pr.UniformPrior(a, b), 1) == pytest.approx(p * (b - p) / (b - a), abs=1e-6)
    assert my.myerson_revenue(HETERO, 1) == pytest.approx(0.27090, abs=1e-4)


def test_hetero_revenues_of_section_2_3():
    assert my.myerson_revenue(HETERO, 4) == pytest.approx(0.7248, abs=2e-4)
    assert vk.second_price_revenue(HETERO, 4) == pytest.approx(0.7008, abs=2e-4)
    assert vk.second_price_revenue(HETERO, 4, reserve=0.56235) == pytest.approx(0.7166, abs=2e-4)
    assert vk.second_price_revenue(HETERO, 4, reserve=1.0) == pytest.approx(0.4478, abs=2e-4)


# --- the mechanisms themselves ------------------------------------------------------------------------------
def test_vickrey_and_reserve_outcomes_on_hand_made_profiles():
    bids = t([[0.9, 0.5, 0.3, 0.1], [0.2, 0.7, 0.7, 0.1], [0.4, 0.3, 0.2, 0.1]])
    a, p = vk.vickrey()(bids)
    assert torch.equal(a, t([[1, 0, 0, 0], [0, 0.5, 0.5, 0], [1, 0, 0, 0]]))
    assert torch.allclose(p, t([[0.5, 0, 0, 0], [0, 0.35, 0.35, 0], [0.3, 0, 0, 0]]))
    a, p = vk.second_price_reserve(0.6)(bids)
    assert torch.equal(a, t([[1, 0, 0, 0], [0, 0.5, 0.5, 0], [0, 0, 0, 0]]))
    assert torch.allclose(p, t([[0.6, 0, 0, 0], [0, 0.35, 0.35, 0], [0, 0, 0, 0]]))


def test_myerson_sells_only_above_the_monopoly_reserve():
    uni = my.myerson(pr.UniformPrior())
    a, p = uni(t([[0.45, 0.30, 0.10, 0.05], [0.70, 0.45, 0.10, 0.05], [0.90, 0.80, 0.10, 0.05]]))
    assert torch.allclose(a.sum(1), t([0.0, 1.0, 1.0]))
    assert torch.allclose(p.sum(1), t([0.0, 0.5, 0.8]))
    exp1 = my.myerson(pr.ExponentialPrior(1.0))
    a, p = exp1(t([[0.9, 0.2], [1.5, 0.2], [2.5, 1.7]]))
    assert torch.allclose(p.sum(1), t([0.0, 1.0, 1.7]))


def test_myerson_ironed_ties_split_the_item_and_charge_threshold_payments():
    mech = my.myerson(HETERO)
    ((lo, hi, _),) = my.ironed_intervals(mech.phi)
    a, p = mech(t([[1.0, 1.2, 0.1, 0.1], [2.0, 1.2, 0.1, 0.1]]))
    # both bidders inside the ironed interval: equal ranks, each wins with probability 1/2 and pays lo / 2
    assert torch.allclose(a[0], t([0.5, 0.5, 0, 0])) and torch.allclose(p[0], t([lo / 2, lo / 2, 0, 0]))
    # a top bid above the interval against one inside it: a_1(z) = 0 below lo, 1/2 on [lo, hi), 1 above,
    # so the payment identity gives p = 2.0 - int_0^2 a_1(z) dz = hi - (hi - lo) / 2
    assert torch.allclose(a[1], t([1.0, 0, 0, 0]))
    assert p[1, 0].item() == pytest.approx(hi - (hi - lo) / 2, abs=1e-9)


@pytest.mark.parametrize(
    "mech",
    [vk.vickrey(), vk.second_price_reserve(0.8), my.myerson(pr.ExponentialPrior(1.0)), my.myerson(HETERO)],
    ids=lambda m: m.name,
)
def test_payments_follow_myersons_payment_identity(mech):
    """p_i(b) = b_i a_i(b) - int_0^{b_i} a_i(z, b_-i) dz, the integral by a fine Riemann sum over z."""
    rng = np.random.default_rng(3)
    bids = np.concatenate([rng.exponential(1.0, (8, 4)), np.full((1, 4), 1.2)])
    z = np.linspace(0.0, 1.0, 10001)
    a, p = mech(t(bids))
    for i in range(4):
        grid = np.repeat(bids[:, None, :], z.size, 1)  # (profile, z, bidder)
        grid[:, :, i] = z[None, :] * bids[:, i : i + 1]
        a_z, _ = mech(t(grid.reshape(-1, 4)))
        a_z = a_z[:, i].numpy().reshape(len(bids), z.size)
        integral = a_z[:, :-1].mean(1) * bids[:, i]  # left Riemann sum of a step function
        # a_i(., b_-i) is monotone with total variation <= 1, so the Riemann error is at most one step
        step = bids[:, i] / (z.size - 1)
        assert np.all(np.abs(p[:, i].numpy() - (bids[:, i] * a[:, i].numpy() - integral)) <= step + 1e-9)


def test_allocations_are_feasible_and_payments_individually_rational():
    rng = np.random.default_rng(0)
    bids = t(rng.exponential(1.0, (5000, 4)))
    for mech in (vk.vickrey(), my.myerson(HETERO), my.myerson(pr.ExponentialPrior(1.0)), vk.FirstPriceAuction()):
        a, p = mech(bids)
        assert torch.all(a >= 0) and torch.all(a.sum(1) <= 1 + 1e-12)
        assert torch.all(p >= -1e-12) and torch.all(p <= a * bids + 1e-12)


def test_works_for_eight_bidders_and_a_single_bidder():
    a, p = my.myerson(pr.UniformPrior())(t([[0.6], [0.4]]))
    assert torch.allclose(a, t([[1.0], [0.0]])) and torch.allclose(p, t([[0.5], [0.0]]))
    bids = t(np.random.default_rng(1).random((10, 8)))
    a, p = vk.vickrey()(bids)
    srt = np.sort(bids.numpy(), 1)
    assert torch.allclose(p.sum(1), t(srt[:, -2]))


# --- fitted reserve ---------------------------------------------------------------------------------------
def test_fitted_reserve_maximises_empirical_second_price_revenue():
    values = np.random.default_rng(5).exponential(1.0, (300, 3))
    srt = np.sort(values, 1)
    v1, v2 = srt[:, -1], srt[:, -2]

    def emp(r: float) -> float:
        return float(np.sum(np.where(v1 >= r, np.maximum(r, v2), 0.0)))

    best = max(np.concatenate([v1, v2, [0.0]]), key=emp)  # brute force over every candidate
    assert emp(vk.fit_anonymous_reserve(values)) == pytest.approx(emp(best), rel=1e-12)


def test_fitted_reserve_recovers_the_monopoly_price_on_a_large_sample():
    values = np.random.default_rng(6).random((40000, 4))
    assert vk.fit_anonymous_reserve(values) == pytest.approx(0.5, abs=0.06)


def test_baseline_registry_builds_every_baseline_of_part_a_item_6():
    train = np.random.default_rng(0).random((200, 4))
    uniform = {"distribution": "uniform", "low": 0.0, "high": 1.0}
    latent = {"distribution": "latent", "d": 1}
    assert pr.baseline_names(latent, 4, ["vickrey", "myerson", "vickrey_r1"]) == ["vickrey", "vickrey_r1"]
    for name in pr.baseline_names(uniform, 4, ["vickrey", "myerson", "vickrey_r1", "vickrey_fitted_reserve"]):
        a, p = bl.build_baseline(name, uniform, train)(t(train))
        assert a.shape == p.shape == (200, 4)
    with pytest.raises(ValueError):
        bl.build_baseline("myerson", latent, train)


def test_myerson_of_an_asymmetric_family_is_its_own_optimum_and_truthful_baselines_apply():
    """U[0,1] and U[0,2]: the asymmetric Myerson auction, whose quadrature optimum is 31/48 (a closed form)."""
    family = {
        "distribution": "per_bidder",
        "bidders": [{"distribution": "uniform"}, {"distribution": "uniform", "high": 2.0}],
    }
    assert pr.baseline_names(family, 2, ["myerson", "vickrey"]) == ["myerson", "vickrey"]
    assert my.optimal_revenue_for(family, 2) == pytest.approx(31 / 48, abs=1e-7)
    assert pr.support_upper(family, 2) == 2.0
    values = np.random.default_rng(3).random((40000, 2)) * np.array([1.0, 2.0])
    _, pay = bl.build_baseline("myerson", family, values[:10])(t(values))
    revenue = pay.sum(1)
    assert float(revenue.mean()) == pytest.approx(31 / 48, abs=4 * float(revenue.std()) / 200)
