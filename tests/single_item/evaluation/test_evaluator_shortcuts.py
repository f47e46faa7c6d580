"""The fast misreport search (docs/methods.md#evaluator-shortcuts) finds the same maximal deviation as the
exhaustive one (``fast=False``: Adam from every start of every pair) on mechanisms with known regret:

* first price, n U[0, 1] bidders: the winner's best response is to bid just above the runner-up, regret
  v_(1) - v_(2); the losers' regret is 0;
* a smooth DSIC mechanism, a(b) = sigmoid((b - r) / tau) with Myerson's payment p(b) = b a(b) - int_0^b a:
  regret 0;
* the same mechanism with a planted narrow exploitable dip in the payment (width 3 grid spacings, depth delta):
  the fast search reaches at least a dense search of 200,001 points (the supremum to 1e-7) and never less than
  the exhaustive one;
* the one-bidder pricing u(b) = b v - b^2 (regret v^2 / 4, its peak between grid points).
And the network's own deviation map equals the generic one (the same a_i, p_i as the mechanism's forward pass).
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from pipeline_lib.single_item.evaluation import evaluator as ev
from pipeline_lib.single_item.mechanisms import vickrey as vk
from pipeline_lib.single_item.mechanisms.nets import AsMechanism, SingleItemNet

N = 4


def _search(fast: bool, **kw) -> ev.RegretSearch:
    """The paper tier's search (EvaluationConfig's defaults) on [0, 1]."""
    base = dict(upper=1.0, grid=1001, refine_top=4, refine_random=4, refine_steps=200, refine_lr=0.01, fast=fast)
    return ev.RegretSearch(**{**base, **kw})


class SmoothThreshold:
    """Each bidder i: a_i = sigmoid((b_i - r) / tau) of its own bid (others ignored), Myerson's payment
    p(b) = b a(b) - tau (softplus((b - r) / tau) - softplus(-r / tau)), so DSIC; ``dip`` = (centre, width, depth)
    lowers the payment by depth exp(-((b - c) / w)^2) a(b): a narrow exploitable dip."""

    def __init__(self, r: float = 0.4, tau: float = 0.05, dip: tuple[float, float, float] | None = None) -> None:
        self.r, self.tau, self.dip = r, tau, dip

    def __call__(self, bids: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        a = torch.sigmoid((bids - self.r) / self.tau)
        sp = torch.nn.functional.softplus
        pay = bids * a - self.tau * (sp((bids - self.r) / self.tau) - sp(torch.tensor(-self.r / self.tau)))
        if self.dip is not None:
            c, w, depth = self.dip
            pay = pay - depth * torch.exp(-(((bids - c) / w) ** 2)) * a
        return a, pay


def _regret(mech, values: np.ndarray, search: ev.RegretSearch) -> np.ndarray:
    return ev.ex_post_regret(mech, torch.as_tensor(values, dtype=torch.float64), search).regret.numpy()


def test_first_price_best_response_is_the_runner_up_bid():
    values = np.random.default_rng(0).random((300, N))
    fast, slow = (
        _regret(vk.FirstPriceAuction(), values, _search(True)),
        _regret(vk.FirstPriceAuction(), values, _search(False)),
    )
    top2 = np.sort(values, axis=1)[:, -2:]
    np.testing.assert_array_equal(fast, slow)
    np.testing.assert_allclose(fast.sum(1), top2[:, 1] - top2[:, 0], atol=2e-6)


def test_a_smooth_dsic_mechanism_has_no_regret_under_either_search():
    values = np.random.default_rng(1).random((100, N))
    for fast in (True, False):
        assert _regret(SmoothThreshold(), values, _search(fast)).max() < 1e-10


def _dense_sup(mech, values: np.ndarray, points: int = 200001) -> np.ndarray:
    """sup_b' u_i(b'; v) - u_i(v_i; v) by brute force over ``points`` misreports (bidders are independent here)."""
    v = torch.as_tensor(values, dtype=torch.float64)
    xs = torch.linspace(0.0, 1.0, points, dtype=torch.float64)
    a, p = mech(xs[:, None])
    a, p = a[:, 0], p[:, 0]
    out = np.empty(values.shape)
    for i in range(values.shape[1]):
        u = a[None, :] * v[:, i : i + 1] - p[None, :]
        at, pt = mech(v[:, i : i + 1])
        out[:, i] = (u.amax(1) - (at[:, 0] * v[:, i] - pt[:, 0])).clamp_min(0.0).numpy()
    return out


@pytest.mark.parametrize("centre", [0.6123, 0.8001])
def test_a_planted_narrow_dip_is_found_as_by_the_exhaustive_search(centre):
    mech = SmoothThreshold(dip=(centre, 0.003, 0.02))
    values = np.random.default_rng(2).random((60, N))
    truth = _dense_sup(mech, values)
    fast, slow = _regret(mech, values, _search(True)), _regret(mech, values, _search(False))
    assert truth.max() > 0.01  # the dip is exploitable
    assert np.all(fast >= truth - 1e-12)  # at least the dense grid's value: the true supremum ...
    np.testing.assert_allclose(fast, truth, atol=1e-7)  # ... which the dense grid (spacing 5e-6) misses by ~1e-8
    assert np.all(fast >= slow - 1e-9)


def test_an_interior_optimum_between_grid_points_is_found():
    class Pricing:  # one bidder, u(b) = b v - b^2, peak v / 2
        def __call__(self, bids):
            return bids, bids**2

    values = np.random.default_rng(3).random((64, 1))
    for grid in (11, 1001):
        fast = _regret(Pricing(), values, _search(True, grid=grid, eps=0.0))
        np.testing.assert_allclose(fast[:, 0], values[:, 0] ** 2 / 4, atol=1e-12)


@pytest.mark.parametrize("head", ["critical", "price", "fraction"])
@pytest.mark.parametrize("hard", [False, True])
def test_the_networks_deviation_map_equals_its_forward_pass(head, hard):
    torch.manual_seed(0)
    mech = AsMechanism(SingleItemNet(N, hidden=(16, 8), payment_head=head, price_hidden=(8,)), hard=hard)
    values = torch.rand(7, N, dtype=torch.float64)
    bidder = torch.tensor([0, 1, 2, 3, 0, 1, 2])
    mis = torch.rand(7, 5, dtype=torch.float64)
    a, p = mech.deviation_outcomes(values, bidder, mis)
    for r in range(7):
        bids = values[r].repeat(5, 1)
        bids[:, bidder[r]] = mis[r]
        at, pt = mech(bids)
        torch.testing.assert_close(a[r], at[:, bidder[r]], rtol=1e-12, atol=1e-12)
        torch.testing.assert_close(p[r], pt[:, bidder[r]], rtol=1e-12, atol=1e-12)
    assert math.isfinite(float(p.sum()))


class ScreenedThreshold(SmoothThreshold):
    """:class:`SmoothThreshold` with a float32 copy (its arithmetic follows the bids' dtype), so the fast search
    screens its grid in float32; ``copies`` counts the copies made."""

    copies = 0

    def with_dtype(self, dtype: torch.dtype) -> ScreenedThreshold:
        ScreenedThreshold.copies += 1
        return self


@pytest.mark.parametrize("centre", [0.6123, 0.8001])
def test_a_float32_screened_grid_still_finds_the_planted_dip(centre):
    mech = ScreenedThreshold(dip=(centre, 0.003, 0.02))
    values = np.random.default_rng(2).random((60, N))
    before = ScreenedThreshold.copies
    screened = _regret(mech, values, _search(True))
    assert ScreenedThreshold.copies == before + 1  # the screen was used
    np.testing.assert_allclose(screened, _dense_sup(mech, values), atol=1e-7)


def test_a_float32_screened_grid_gives_the_float64_regret_of_a_network_pair_by_pair():
    torch.manual_seed(4)
    net = SingleItemNet(N, hidden=(32, 32), payment_head="critical", price_hidden=(16,))
    with torch.no_grad():  # sharpen the allocation: steep softmax, regrets far from zero
        net.alloc_head.weight.mul_(20.0)
    mech = AsMechanism(net)
    values = np.random.default_rng(5).random((200, N))
    screened = _regret(mech, values, _search(True, refine_top=2, refine_random=0, refine_steps=20))
    full = _regret(mech, values, _search(True, refine_top=2, refine_random=0, refine_steps=20, screen_keep=0))
    assert full.max() > 1e-3
    np.testing.assert_allclose(screened, full, atol=1e-12, rtol=0)  # float32 maxima alone: off by ~2e-7
