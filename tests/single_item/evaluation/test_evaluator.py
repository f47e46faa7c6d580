"""The evaluator against the oracles of docs/methods.md#evaluator-oracles (it must pass these before it scores
anything).

* Vickrey, second price with reserve and the correct Myerson auction are DSIC: regret 0 to numerical tolerance.
* First price, n uniform bidders: only the winner regrets, by exactly v_(1) - v_(2) (bid just above the runner-up),
  so the summed regret is E[v_(1) - v_(2)] = 1/(n+1) = 0.2 at n = 4.
* Argmax allocation with payment rho * bid: the winner gains rho (v_(1) - v_(2)), each loser j gains
  (v_j - rho v_(1))^+; at n = 4, U[0,1], rho = 0.8 the summed regret is 0.2080.
* Myerson revenue 0.6125 (uniform), 1.1273 (exponential), 0.7248 (hetero, ironed); welfare ratio of Myerson on
  U[0,1]: E[v_(1) 1{v_(1) >= 1/2}] / E[v_(1)] = 1 - 2^-(n+1).
Population checks use tolerances of 4 standard errors computed from the sample itself.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from pipeline_lib.single_item.evaluation import evaluator as ev
from pipeline_lib.single_item.evaluation import family_report as fr
from pipeline_lib.single_item.evaluation import optimum_check as oc
from pipeline_lib.single_item.mechanisms import myerson as my
from pipeline_lib.single_item.mechanisms import priors as pr
from pipeline_lib.single_item.mechanisms import vickrey as vk
from pipeline_lib.single_item.mechanisms.priors import prior_from_family

CPU = torch.device("cpu")

N_BIDDERS = 4


def uniform(size: int, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).random((size, N_BIDDERS))


def exponential(size: int, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).exponential(1.0, (size, N_BIDDERS))


def hetero(size: int, seed: int) -> np.ndarray:
    """Each bidder's type uniform on {U[0.5,1], U[0,0.5], Exp(1)} (an independent re-implementation)."""
    rng = np.random.default_rng(seed)
    kind = rng.integers(0, 3, (size, N_BIDDERS))
    return np.choose(
        kind, [rng.uniform(0.5, 1.0, kind.shape), rng.uniform(0.0, 0.5, kind.shape), rng.exponential(1.0, kind.shape)]
    )


class ArgmaxFraction:
    """Highest bid wins and pays rho times its bid (manipulable for every rho > 0)."""

    differentiable = False

    def __init__(self, rho: float) -> None:
        self.rho = rho

    def __call__(self, bids):
        alloc = torch.nn.functional.one_hot(bids.argmax(1), bids.shape[1]).to(bids.dtype)
        return alloc, self.rho * alloc * bids


class SmoothPricing:
    """One bidder, a(b) = b, p(b) = k b^2: u(b) = b v - k b^2 peaks at b* = v / (2k) between grid points.
    With k = 1 the regret is v^2/4 - (v^2 - v^2) = v^2 / 4 (truthful utility v^2 - v^2 = 0)."""

    def __call__(self, bids):
        return bids, bids**2


def summed_regret(evaluation: ev.Evaluation) -> np.ndarray:
    return evaluation.result.regret.sum(1).numpy()


def within_4_se(sample: np.ndarray, expected: float) -> bool:
    se = sample.std(ddof=1) / math.sqrt(sample.size)
    return abs(sample.mean() - expected) <= 4 * se


# --- DSIC mechanisms: zero regret ------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("mech", "sample"),
    [
        (vk.vickrey(), uniform),
        (vk.second_price_reserve(0.3), uniform),
        (my.myerson(pr.UniformPrior()), uniform),
        (my.myerson(pr.ExponentialPrior(1.0)), exponential),
        (my.myerson(pr.hetero_prior()), hetero),
        (vk.vickrey(), hetero),
    ],
    ids=["vickrey", "spa_reserve", "myerson_uniform", "myerson_exponential", "myerson_hetero", "vickrey_hetero"],
)
def test_truthful_mechanisms_have_zero_regret(mech, sample):
    values = sample(150, seed=11)
    search = ev.RegretSearch(
        upper=ev.misreport_upper(values, 1.0 if sample is uniform else math.inf),
        extra_points=fr.extra_reserve_points(mech.params),
    )
    out = ev.evaluate_mechanism(mech, values, search, ev.Bootstrap(n_boot=50))
    assert out.metrics["regret_max"]["value"] <= 1e-9
    assert out.metrics["ir_violation_rate"]["value"] == 0.0


# --- first price: exact per-profile oracle and the population value 0.2 -----------------------------------
def test_first_price_regret_is_the_top_spacing_profile_by_profile():
    values = uniform(200, seed=2)
    search = ev.RegretSearch(upper=1.0)
    out = ev.evaluate_mechanism(vk.FirstPriceAuction(), values, search, ev.Bootstrap(n_boot=50))
    srt = np.sort(values, 1)
    winner = values.argmax(1)
    expected = np.zeros_like(values)
    expected[np.arange(len(values)), winner] = srt[:, -1] - srt[:, -2]
    # the best misreport is the runner-up's bid + eps*B; the grid cannot beat that by more than eps
    assert np.allclose(out.result.regret.numpy(), expected, atol=2e-6)


def test_first_price_summed_regret_is_one_fifth_for_four_uniform_bidders():
    values = uniform(800, seed=3)
    out = ev.evaluate_mechanism(vk.FirstPriceAuction(), values, ev.RegretSearch(upper=1.0), ev.Bootstrap(200))
    assert within_4_se(summed_regret(out), 1.0 / (N_BIDDERS + 1))
    assert out.metrics["regret_mean"]["value"] == pytest.approx(out.metrics["regret_sum"]["value"] / N_BIDDERS)
    lo, hi = out.metrics["regret_sum"]["ci"]
    assert lo < out.metrics["regret_sum"]["value"] < hi


def test_argmax_rho_bid_regret_matches_the_closed_form_for_winners_and_losers():
    rho = 0.8
    values = uniform(300, seed=4)
    out = ev.evaluate_mechanism(ArgmaxFraction(rho), values, ev.RegretSearch(upper=1.0), ev.Bootstrap(50))
    srt = np.sort(values, 1)
    v1, v2 = srt[:, -1:], srt[:, -2:-1]
    expected = np.maximum(values - rho * v1, 0.0)  # a loser outbids the winner and pays rho * (v1 + eps)
    expected[np.arange(len(values)), values.argmax(1)] = rho * (v1 - v2)[:, 0]
    assert np.allclose(out.result.regret.numpy(), expected, atol=2e-6)


def test_argmax_rho_summed_regret_population_value():
    values = uniform(1500, seed=5)
    out = ev.evaluate_mechanism(ArgmaxFraction(0.8), values, ev.RegretSearch(upper=1.0), ev.Bootstrap(50))
    assert within_4_se(summed_regret(out), 0.2080)


# --- refinement finds optima between grid points ------------------------------------------------------------
def test_gradient_refinement_reaches_an_interior_optimum_the_coarse_grid_misses():
    values = np.random.default_rng(7).random((64, 1))
    coarse = ev.RegretSearch(upper=1.0, grid=11, eps=0.0)
    refined = ev.RegretSearch(upper=1.0, grid=11, eps=0.0, refine_steps=300, refine_lr=0.01)
    truth = values[:, 0] ** 2 / 4
    r_coarse = ev.evaluate_mechanism(SmoothPricing(), values, coarse, ev.Bootstrap(20)).result.regret[:, 0].numpy()
    r_fine = ev.evaluate_mechanism(SmoothPricing(), values, refined, ev.Bootstrap(20)).result.regret[:, 0].numpy()
    assert np.all(r_coarse <= truth + 1e-12) and np.max(truth - r_coarse) > 1e-3
    assert np.allclose(r_fine, truth, atol=1e-6)


# --- revenue, welfare and IR ------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("mech", "sample", "optimum"),
    [
        (my.myerson(pr.UniformPrior()), uniform, 0.6125),
        (my.myerson(pr.ExponentialPrior(1.0)), exponential, 1.127316),
        (my.myerson(pr.hetero_prior()), hetero, 0.7248),
        (vk.vickrey(), uniform, 0.6),
    ],
    ids=["myerson_uniform", "myerson_exponential", "myerson_hetero", "vickrey_uniform"],
)
def test_revenue_estimates_the_known_optimum(mech, sample, optimum):
    values = sample(10000, seed=8)
    cheap = ev.RegretSearch(upper=ev.misreport_upper(values), grid=2, eps=0.0)  # revenue needs no search
    m = ev.evaluate_mechanism(mech, values, cheap, ev.Bootstrap(200)).metrics["revenue"]
    assert abs(m["value"] - optimum) <= 4 * m["se"]
    lo, hi = m["ci"]
    assert hi - lo == pytest.approx(2 * 1.96 * m["se"], rel=0.25)  # bootstrap CI ~ normal CI for a mean


def test_welfare_ratio_of_myerson_on_uniform_values():
    values = uniform(10000, seed=9)
    cheap = ev.RegretSearch(upper=1.0, grid=2, eps=0.0)
    m = ev.evaluate_mechanism(my.myerson(pr.UniformPrior()), values, cheap, ev.Bootstrap(200)).metrics
    lo, hi = m["welfare_ratio"]["ci"]
    expected = 1.0 - 2.0 ** -(N_BIDDERS + 1)
    assert lo - 0.002 <= expected <= hi + 0.002
    assert m["first_best"]["value"] == pytest.approx(N_BIDDERS / (N_BIDDERS + 1), abs=0.01)


def test_ir_violations_are_counted_per_bidder():
    class Overcharge:
        differentiable = False

        def __call__(self, bids):
            alloc = torch.nn.functional.one_hot(bids.argmax(1), bids.shape[1]).to(bids.dtype)
            return alloc, 1.5 * alloc * bids  # the winner pays more than its bid

    values = uniform(100, seed=10)
    m = ev.evaluate_mechanism(Overcharge(), values, ev.RegretSearch(upper=1.0, grid=2), ev.Bootstrap(20)).metrics
    assert m["ir_violation_rate"]["value"] == pytest.approx(1.0 / N_BIDDERS)
    assert m["ir_violation_max"]["value"] == pytest.approx(0.5 * values.max(1).max())


def test_the_revenue_ceiling_flag():
    assert oc.revenue_flag(0.628, 0.002, 0.6125) == "not incentive compatible"
    assert oc.revenue_flag(0.615, 0.002, 0.6125) == ""
    assert oc.revenue_flag(0.9, 0.002, None) == ""


def test_misreport_domain_covers_the_whole_support():
    values = exponential(100, seed=1)
    assert ev.misreport_upper(values, 1.0) == 1.0
    assert ev.misreport_upper(values) == pytest.approx(1.5 * values.max())


def test_one_profile_has_no_standard_error_and_its_report_is_valid_json(tmp_path):
    """Issue 14 item 1: se of a single profile is null (JSON), not NaN; the record can be written and read."""
    from pipeline_lib.core import io
    from pipeline_lib.core.records import make_record, read_record

    family_cfg = {"distribution": "uniform", "low": 0.0, "high": 1.0}
    cfg = {"grid": 51, "refine_steps": 0, "bootstrap": 5}
    payload = fr.report(vk.vickrey(), uniform(1, 0), "uniform", family_cfg, cfg, torch.device("cpu"))
    assert payload["test_revenue"]["se"] is None and payload["flag"] == ""
    record = make_record(setting="uniform", method="vickrey", seed=0, **payload)
    io.write_json(tmp_path / "r.json", record)
    read_record(io.read_json(tmp_path / "r.json"))


def test_revenue_against_myerson_on_the_same_profiles_is_the_paired_ratio_of_means():
    """Vickrey vs Myerson (reserve 1/2) on U[0,1]^4, both revenues recomputed here in numpy: Vickrey earns v_(2),
    Myerson max(v_(2), 1/2) when v_(1) >= 1/2. The paired CI is far narrower than the revenue's own CI."""
    family_cfg = {"distribution": "uniform", "low": 0.0, "high": 1.0}
    values = uniform(3000, 11)
    cfg = {"grid": 51, "refine_steps": 0, "bootstrap": 200}
    payload = fr.report(vk.vickrey(), values, "uniform", family_cfg, cfg, torch.device("cpu"))
    top2 = np.sort(values, axis=1)[:, -2:]
    vickrey_rev = top2[:, 0]
    myerson_rev = np.where(top2[:, 1] >= 0.5, np.maximum(top2[:, 0], 0.5), 0.0)
    paired = payload["metrics"]["revenue_vs_myerson"]
    assert paired["value"] == pytest.approx(vickrey_rev.mean() / myerson_rev.mean(), rel=1e-9)
    lo, hi = paired["ci"]
    assert lo < paired["value"] < hi < 1.0  # Vickrey is strictly worse, and the paired CI says so
    rev_lo, rev_hi = payload["metrics"]["revenue"]["ci"]
    assert (hi - lo) * myerson_rev.mean() < 0.5 * (rev_hi - rev_lo)
    myerson = my.myerson(prior_from_family(family_cfg))
    itself = fr.report(myerson, values, "uniform", family_cfg, cfg, torch.device("cpu"))
    assert itself["metrics"]["revenue_vs_myerson"]["value"] == pytest.approx(1.0, abs=1e-12)


def test_no_myerson_comparison_without_a_known_optimum():
    family_cfg = {"distribution": "latent", "d": 1, "sigma_z": 1.0, "sigma_eps": 0.05}
    payload = fr.report(vk.vickrey(), uniform(50, 2), "latent", family_cfg, {"grid": 11, "bootstrap": 5}, CPU)
    assert payload["optimum"] is None and "revenue_vs_myerson" not in payload["metrics"]
