"""Per-bidder and mixture priors, the asymmetric Myerson auction and its optimal revenue
(docs/methods.md#myerson-and-ironing).

Oracles: closed-form virtual values integrated by scipy's dblquad, the i.i.d. revenue formula of ``classic``
(Stieltjes sum over F^n, a different method), the spec's ironed hetero value 0.7248, a brute-force monopoly price,
Kolmogorov-Smirnov tests of the samplers against the prior cdfs, the evaluator's regret (DSIC) and Myerson's
payment identity.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from scipy import integrate, stats

from pipeline_lib.single_item.evaluation import evaluator as ev
from pipeline_lib.single_item.mechanisms import myerson as my
from pipeline_lib.single_item.mechanisms import priors as pr
from pipeline_lib.valuations.single_item import sample_single_item

U01 = {"distribution": "uniform", "low": 0.0, "high": 1.0}
U02 = {"distribution": "uniform", "low": 0.0, "high": 2.0}
EXP1 = {"distribution": "exponential", "mean": 1.0}
HETERO_AS_MIXTURE = {
    "distribution": "mixture",
    "components": [
        {"distribution": "uniform", "low": 0.5, "high": 1.0},
        {"distribution": "uniform", "low": 0.0, "high": 0.5},
        EXP1,
    ],
    "weights": [1 / 3, 1 / 3, 1 / 3],
}
# the density drops at 1 (1.6 -> 1.0), so phi drops there: an irregular prior that needs ironing
BUMP = {
    "distribution": "mixture",
    "weights": [0.6, 0.4],
    "components": [U01, {"distribution": "uniform", "low": 0.8, "high": 1.2}],
}
ASYM = {"distribution": "per_bidder", "bidders": [HETERO_AS_MIXTURE, U02, BUMP]}


def t(x) -> torch.Tensor:
    return torch.tensor(x, dtype=torch.float64)


# --- family specs and samplers ------------------------------------------------------------------------------
def test_bidder_priors_symmetric_asymmetric_and_correlated():
    sym = pr.bidder_priors(EXP1, 3)
    assert sym == [pr.ExponentialPrior(1.0)] * 3 and pr.is_symmetric(sym)
    asym = pr.bidder_priors({"distribution": "per_bidder", "bidders": [U01, U02]}, 2)
    assert asym == [pr.UniformPrior(0.0, 1.0), pr.UniformPrior(0.0, 2.0)] and not pr.is_symmetric(asym)
    assert pr.bidder_priors({"distribution": "latent"}, 4) is None
    assert pr.support_upper({"distribution": "per_bidder", "bidders": [U01, U02]}, 2) == 2.0
    assert pr.support_upper(EXP1, 3) == math.inf and pr.support_upper({"distribution": "latent"}, 4) == math.inf
    with pytest.raises(ValueError, match="3 bidders"):
        pr.bidder_priors({"distribution": "per_bidder", "bidders": [U01, U02]}, 3)
    with pytest.raises(ValueError, match="sum to 1"):
        pr.prior_from_spec({"distribution": "mixture", "components": [U01, U02], "weights": [0.5, 0.6]})


def test_mixture_spec_of_the_hetero_components_is_the_hetero_prior():
    mix = pr.prior_from_spec(HETERO_AS_MIXTURE)
    v = np.linspace(0.0, 8.0, 401)
    assert np.allclose(mix.cdf(v), pr.hetero_prior().cdf(v), atol=1e-15)
    assert np.allclose(mix.pdf(v), pr.hetero_prior().pdf(v), atol=1e-15)


@pytest.mark.parametrize("family", [HETERO_AS_MIXTURE, BUMP], ids=["hetero_mixture", "bump"])
def test_mixture_sampler_draws_from_the_mixture_cdf(family):
    v = sample_single_item(np.random.default_rng(3), 20_000, 2, family)
    prior = pr.prior_from_spec(family)
    assert v.shape == (20_000, 2)
    assert stats.kstest(v.reshape(-1), prior.cdf).pvalue > 1e-3


def test_per_bidder_sampler_draws_each_column_from_its_own_prior():
    v = sample_single_item(np.random.default_rng(4), 20_000, 3, ASYM)
    for i, prior in enumerate(pr.bidder_priors(ASYM, 3)):
        assert stats.kstest(v[:, i], prior.cdf).pvalue > 1e-3
    assert abs(np.corrcoef(v.T)[0, 1]) < 0.03  # independent columns
    with pytest.raises(ValueError, match="2 distributions for 3"):
        sample_single_item(np.random.default_rng(0), 5, 3, {"distribution": "per_bidder", "bidders": [U01, U02]})


def test_new_samplers_are_seed_reproducible():
    a = sample_single_item(np.random.default_rng(9), 100, 3, ASYM)
    b = sample_single_item(np.random.default_rng(9), 100, 3, ASYM)
    assert np.array_equal(a, b)


# --- optimal revenue by quadrature --------------------------------------------------------------------------
def test_two_asymmetric_uniform_bidders_against_a_double_integral():
    # phi_1 = 2 v - 1 on U[0,1], phi_2 = 2 v - 2 on U[0,2]: E max(0, phi_1, phi_2) by dblquad (closed form 31/48)
    expected, _ = integrate.dblquad(lambda v2, v1: max(0.0, 2 * v1 - 1, 2 * v2 - 2) / 2, 0, 1, 0, 2, epsabs=1e-11)
    got = my.optimal_revenue(pr.bidder_priors({"distribution": "per_bidder", "bidders": [U01, U02]}, 2))
    assert got == pytest.approx(expected, abs=1e-7)
    assert got == pytest.approx(31 / 48, abs=1e-7)


@pytest.mark.parametrize("n", [1, 2, 4])
@pytest.mark.parametrize(
    "prior", [pr.UniformPrior(), pr.ExponentialPrior(1.0), pr.UniformPrior(0.2, 1.0)], ids=["u01", "exp1", "u0.2_1"]
)
def test_iid_optimal_revenue_equals_the_classic_formula(prior, n):
    assert my.optimal_revenue([prior] * n) == pytest.approx(my.myerson_revenue(prior, n), abs=2e-6)


def test_bump_mixture_is_irregular():
    (phi,) = my.ironed_virtual_values([pr.prior_from_spec(BUMP)])
    ((lo, hi, _),) = my.ironed_intervals(phi)
    assert lo < 1.0 < hi


def test_ironed_mixture_matches_the_hetero_value_of_the_spec():
    priors = pr.bidder_priors(HETERO_AS_MIXTURE, 4)
    phis = my.ironed_virtual_values(priors)
    phi = phis[0]
    assert all(p is phi for p in phis)  # one shared function: equal ranks tie exactly
    assert len(my.ironed_intervals(phi)) == 1  # the virtual value is not monotone: ironing is needed
    got = my.optimal_revenue(priors)
    assert got == pytest.approx(0.7248, abs=2e-4)
    assert got == pytest.approx(my.myerson_revenue(pr.hetero_prior(), 4), abs=2e-6)


@pytest.mark.parametrize("family", [HETERO_AS_MIXTURE, BUMP, U02, EXP1], ids=["hetero", "bump", "u02", "exp1"])
def test_one_bidder_revenue_is_the_monopoly_posted_price(family):
    prior = pr.prior_from_spec(family)
    grid = np.linspace(0.0, 6.0, 600_001)
    brute = float(np.max(grid * prior.sf(grid)))  # max_r r (1 - F(r))
    assert my.optimal_revenue([prior]) == pytest.approx(brute, abs=1e-7)
    mech = my.asymmetric_myerson([prior])
    (r,) = mech.reserves()
    assert r * float(prior.sf(np.array(r))) == pytest.approx(brute, abs=1e-4)  # r on the 40001-knot grid
    bids = t([[r - 1e-3], [r + 1e-3], [r + 0.5]])
    a, p = mech(bids)
    assert torch.equal(a[:, 0], t([0.0, 1.0, 1.0]))
    assert torch.allclose(p[:, 0], t([0.0, r, r]), atol=1e-12)


# --- the mechanism ------------------------------------------------------------------------------------------
def test_asymmetric_uniform_outcomes_on_hand_made_profiles():
    mech = my.myerson_for({"distribution": "per_bidder", "bidders": [U01, U02]}, 2, tie_rule="lowest_index")
    assert mech.reserves() == pytest.approx([0.5, 1.0], abs=1e-9)
    # ranks 2b1 - 1 and 2b2 - 2: (0.9, 1.2) -> 0.8 vs 0.4: bidder 1 wins, pays (0.4 + 1) / 2 = 0.7
    a, p = mech(t([[0.9, 1.2], [0.6, 1.5], [0.4, 0.9], [0.45, 1.3]]))
    assert torch.equal(a, t([[1, 0], [0, 1], [0, 0], [0, 1]]))
    assert torch.allclose(p, t([[0.7, 0], [0, 1.1], [0, 0], [0, 1.0]]), atol=1e-12)


def test_iid_uniform_coincides_with_classic_myerson():
    values = np.random.default_rng(5).random((2000, 4))
    a1, p1 = my.myerson_for(U01, 4, tie_rule="lowest_index")(t(values))
    a2, p2 = my.myerson(pr.UniformPrior())(t(values))
    assert torch.equal(a1, a2) and torch.allclose(p1, p2, atol=1e-12)


def test_ties_inside_an_ironed_interval_go_to_the_lowest_index_at_the_left_end():
    mech = my.myerson_for(HETERO_AS_MIXTURE, 3, tie_rule="lowest_index")
    ((lo, hi, _),) = mech.params["ironed_intervals"][0]
    a, p = mech(t([[1.0, 1.2, 0.1], [1.2, 1.0, 0.1], [1.0, 2.0, 0.1], [2.0, 1.0, 0.1]]))
    # equal ranks: bidder 0 wins and pays the left end of the interval
    assert torch.equal(a[:2], t([[1, 0, 0], [1, 0, 0]]))
    assert torch.allclose(p[:2, 0], t([lo, lo]), atol=1e-9)
    # bidder 1 above the interval against bidder 0 inside it: it would lose the tie, so its threshold is hi
    assert torch.equal(a[2], t([0, 1, 0])) and p[2, 1].item() == pytest.approx(hi, abs=1e-9)
    # bidder 0 above the interval against bidder 1 inside it: it wins ties, so its threshold is lo
    assert torch.equal(a[3], t([1, 0, 0])) and p[3, 0].item() == pytest.approx(lo, abs=1e-9)


def test_revenue_on_samples_matches_the_quadrature():
    family = {"distribution": "per_bidder", "bidders": [U01, U02, BUMP]}
    values = sample_single_item(np.random.default_rng(6), 40_000, 3, family)
    _, pay = my.myerson_for(family, 3, tie_rule="lowest_index")(t(values))
    rev = pay.sum(1).numpy()
    expected = my.optimal_revenue_for(family, 3)
    assert abs(rev.mean() - expected) < 4 * rev.std() / math.sqrt(rev.size)


def test_asymmetric_ironed_myerson_has_zero_regret_in_the_evaluator():
    mech = my.myerson_for(ASYM, 3, tie_rule="lowest_index")
    values = sample_single_item(np.random.default_rng(7), 150, 3, ASYM)
    upper = ev.misreport_upper(values, pr.support_upper(ASYM, 3))
    search = ev.RegretSearch(upper=upper, extra_points=tuple(mech.reserves()))
    m = ev.evaluate_mechanism(mech, values, search, ev.Bootstrap(n_boot=20)).metrics
    assert m["regret_max"]["value"] <= 1e-9
    assert m["ir_violation_rate"]["value"] == 0.0


def test_payments_follow_myersons_payment_identity():
    """p_i(b) = b_i a_i(b) - int_0^{b_i} a_i(z, b_-i) dz, the integral by a fine Riemann sum over z."""
    mech = my.myerson_for(ASYM, 3, tie_rule="lowest_index")
    values = sample_single_item(np.random.default_rng(8), 40, 3, ASYM)
    _, pay = mech(t(values))
    for i in range(3):
        z = np.linspace(0.0, 1.0, 20_001)
        bids = np.repeat(values[:, None, :], z.size, axis=1)
        bids[:, :, i] = values[:, i : i + 1] * z[None, :]
        a_i = mech(t(bids.reshape(-1, 3)))[0][:, i].numpy().reshape(len(values), z.size)
        integral = values[:, i] * a_i[:, :-1].mean(1)
        expected = values[:, i] * a_i[:, -1] - integral
        assert np.allclose(pay[:, i].numpy(), expected, atol=2e-4 * max(1.0, values[:, i].max()))


def test_column_resampling_is_on_for_independent_bidders_and_refused_for_correlated_values():
    latent = {"distribution": "latent", "d": 1}
    asym = {"distribution": "per_bidder", "bidders": [U01, EXP1]}
    key = "single_item.regretnet.training.resample_bidders"
    assert pr.resample_bidders("auto", U01, 4, key) and pr.resample_bidders("auto", asym, 2, key)
    assert not pr.resample_bidders("auto", latent, 4, key)
    assert not pr.resample_bidders(False, U01, 4, key) and pr.resample_bidders(True, HETERO_AS_MIXTURE, 3, key)
    with pytest.raises(ValueError, match=r"resample_bidders: true needs independent bidders.*'latent'"):
        pr.resample_bidders(True, latent, 4, key)
    with pytest.raises(ValueError, match="resample_bidders must be auto, true or false"):
        pr.resample_bidders("yes", U01, 4, key)


def test_a_shared_myersonnet_map_is_on_for_iid_bidders_only():
    key = "single_item.myersonnet.training.shared_map"
    asym = {"distribution": "per_bidder", "bidders": [U01, EXP1]}
    assert pr.shared_map("auto", EXP1, 4, key) and pr.shared_map(
        "auto", {"distribution": "per_bidder", "bidders": [U01, U01]}, 2, key
    )
    assert not pr.shared_map("auto", asym, 2, key) and not pr.shared_map("auto", {"distribution": "latent"}, 4, key)
    with pytest.raises(
        ValueError, match=r"shared_map: true needs i.i.d. bidders.*'per_bidder' has bidders that differ"
    ):
        pr.shared_map(True, asym, 2, key)
