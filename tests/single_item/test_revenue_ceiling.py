"""The optimum as a ceiling on validation revenue (pipeline_lib.single_item.revenue_ceiling).

Oracles: Myerson's theorem in closed form for two U[0,1] bidders (optimal revenue 5/12, second price without reserve
1/3, and a first-price auction read at truthful bids E[max] = 2/3, which no truthful mechanism can earn) and the
paired difference computed by hand.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from pipeline_lib.single_item.auctions import myerson
from pipeline_lib.single_item.distributions import UniformPrior
from pipeline_lib.single_item.revenue_ceiling import CEILING_Z, RevenueCeiling, profile_revenues


def second_price(bids: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Vickrey without reserve: DSIC, revenue E[min] = 1/3 for two U[0,1] bidders."""
    top = bids.argmax(dim=1)
    alloc = torch.nn.functional.one_hot(top, bids.shape[1]).to(bids.dtype)
    second = bids.topk(2, dim=1).values[:, 1:]
    return alloc, alloc * second


def first_price(bids: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The highest bidder pays its bid: not truthful, and at truthful bids it earns E[max] = 2/3 > 5/12."""
    alloc, _ = second_price(bids)
    return alloc, alloc * bids


@pytest.fixture(scope="module")
def ceiling() -> RevenueCeiling:
    values = np.random.default_rng(0).random((4000, 2))
    return RevenueCeiling.of(myerson(UniformPrior(0.0, 1.0)), values)


def test_the_ceiling_is_the_optimal_revenue_on_the_validation_profiles(ceiling):
    v = ceiling.values
    hi, lo = v.max(axis=1), v.min(axis=1)
    by_hand = np.where(hi >= 0.5, np.maximum(lo, 0.5), 0.0)  # Myerson: reserve 1/2, winner pays max(second, 1/2)
    assert ceiling.reference == pytest.approx(by_hand, abs=1e-12)
    assert ceiling.revenue == pytest.approx(5 / 12, abs=4 * by_hand.std() / math.sqrt(len(v)))
    assert ceiling.z == CEILING_Z


def test_the_optimum_itself_and_a_weaker_dsic_auction_are_admitted(ceiling):
    itself = ceiling.check(myerson(UniformPrior(0.0, 1.0)))
    assert itself.excess == 0.0 and itself.se == 0.0 and itself.violation <= 0.0
    vickrey = ceiling.check(second_price)
    d = profile_revenues(second_price, ceiling.values) - ceiling.reference  # the paired difference by hand
    assert vickrey.excess == pytest.approx(d.mean()) and vickrey.se == pytest.approx(d.std(ddof=1) / math.sqrt(len(d)))
    assert vickrey.excess == pytest.approx(1 / 3 - 5 / 12, abs=4 * vickrey.se)
    assert vickrey.violation < 0


def test_revenue_that_only_manipulation_can_earn_is_refused(ceiling):
    """First price read at truthful bids earns 2/3, above every DSIC mechanism's 5/12: the excess is 1/4 and the
    violation positive by many standard errors."""
    chk = ceiling.check(first_price)
    assert chk.excess == pytest.approx(2 / 3 - 5 / 12, abs=4 * chk.se)
    assert chk.violation > 10 * chk.se > 0


def test_revenue_above_the_optimum_within_noise_is_admitted_beyond_it_refused():
    """A mechanism paying the optimum's prices plus a small noise-like surcharge: admitted while the surcharge is
    within z paired standard errors, refused past it."""
    values = np.random.default_rng(1).random((400, 2))
    opt = myerson(UniformPrior(0.0, 1.0))
    wiggle = torch.as_tensor(np.random.default_rng(2).normal(0.0, 0.01, 400))

    def surcharged(shift: float):
        def mech(bids: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
            alloc, pay = opt(bids)
            return alloc, pay + (wiggle + shift)[:, None] / bids.shape[1]

        return mech

    ceiling = RevenueCeiling.of(opt, values, z=2.0)
    se = float(wiggle.std()) / math.sqrt(400)
    assert ceiling.check(surcharged(0.0)).violation <= 0  # pure noise around the optimum
    assert ceiling.check(surcharged(5 * se)).violation > 0  # five standard errors above it


def test_a_negative_or_infinite_tolerance_is_refused():
    with pytest.raises(ValueError, match="z must be a finite number >= 0"):
        RevenueCeiling.of(second_price, np.zeros((3, 2)), z=-1.0)
    with pytest.raises(ValueError, match="z must be a finite number >= 0"):
        RevenueCeiling.of(second_price, np.zeros((3, 2)), z=math.inf)
