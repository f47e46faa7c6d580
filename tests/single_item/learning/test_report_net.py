"""The neural mechanism and its losses (docs/methods.md#two-phase-net).

* IR by construction: p_i = rho_i b_i a_i <= a_i b_i, allocations feasible, with a "no sale" share.
* The monotonicity penalty is own-bid monotonicity with the right sign: zero for Vickrey, positive for a
  mechanism whose allocation falls in one's own bid (the report's term had the sign inverted).
* The training regret is the deviator's own gain: zero for truthful mechanisms, a lower bound of the true
  first-price regret v_(1) - v_(2), and exactly that bound when the runner-up's bid is on the grid.
* Both phases decrease their losses on a tiny data set.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from pipeline_lib.core.seeds import stage_seed
from pipeline_lib.single_item.learning import report_net as tr
from pipeline_lib.single_item.mechanisms import myerson as my
from pipeline_lib.single_item.mechanisms import priors as pr
from pipeline_lib.single_item.mechanisms import vickrey as vk
from pipeline_lib.single_item.mechanisms.nets import (
    PAYMENT_HEADS,
    AsMechanism,
    SingleItemNet,
    model_from_payload,
    model_payload,
)


class LowestBidWins:
    """Allocation decreasing in one's own bid (violates Myerson monotonicity)."""

    def __call__(self, bids):
        alloc = torch.nn.functional.one_hot(bids.argmin(1), bids.shape[1]).to(bids.dtype)
        return alloc, torch.zeros_like(bids)


def stats_for(values: np.ndarray, k: int = 16) -> tr.ValueStats:
    return tr.ValueStats.from_train(values, k)


# --- the network -------------------------------------------------------------------------------------------
@pytest.mark.parametrize("head", PAYMENT_HEADS)
@pytest.mark.parametrize("n", [1, 4, 8])
def test_network_is_individually_rational_by_construction(n, head):
    torch.manual_seed(0)
    net = SingleItemNet(n, input_scale=1.0, payment_head=head)
    bids = torch.cat([torch.rand(500, n), 10 * torch.rand(500, n), 1e-9 * torch.rand(10, n), torch.zeros(10, n)])
    for hard in (False, True):
        a, p = net(bids, hard=hard)
        assert a.shape == p.shape == bids.shape
        assert torch.all(a >= 0) and torch.all(a.sum(1) <= 1 + 1e-6)
        assert torch.all(p >= 0) and torch.all(p <= a * bids + 1e-7)


@pytest.mark.parametrize("head", PAYMENT_HEADS)
def test_payment_gradients_are_finite_at_zero_and_tiny_bids(head):
    """The evaluator's refinement ascends u_i along the own bid from grid points that include 0."""
    torch.manual_seed(4)
    net = SingleItemNet(3, (16,), input_scale=1.0, payment_head=head).double()
    bids = torch.tensor([[0.0, 0.5, 0.2], [1e-300, 0.4, 0.9], [3.0, 0.0, 0.0]], dtype=torch.float64, requires_grad=True)
    a, p = net(bids)
    (a.sum() + p.sum()).backward()
    assert torch.isfinite(p).all() and torch.isfinite(bids.grad).all()


@pytest.mark.parametrize("head", ["price", "critical"])
def test_price_heads_charge_the_smaller_of_bid_and_price_level(head):
    """rho = min(1, q / b) with q = s softplus(.): p / a = min(b, q) exactly (no smoothing: a smoothed cap charges
    less than q at b = q, and every winner would gain by underbidding to its price level)."""
    torch.manual_seed(1)
    net = SingleItemNet(3, (16,), input_scale=2.0, payment_head=head).double()
    bids = 4 * torch.rand(2000, 3, dtype=torch.float64)
    with torch.no_grad():
        a, p = net(bids)
        q = net.prices(net.trunk(bids / 2.0), bids)
    assert torch.allclose(p / a, torch.minimum(bids, q), rtol=1e-12, atol=0)
    assert bool((q < bids).any()) and bool((q > bids).any())  # both sides of the cap are exercised


def test_price_head_payment_is_flat_in_the_own_bid_when_the_price_level_is():
    """A critical-bid payment: if the trunk ignores bidder 0's bid, its payment is the same at every bid well above
    the price level (the sigmoid head pays a fixed fraction of the bid instead)."""
    torch.manual_seed(2)
    for head, flat in (("price", True), ("fraction", False)):
        net = SingleItemNet(2, (16,), payment_head=head).double()
        with torch.no_grad():
            net.trunk[0].weight[:, 0] = 0.0  # features independent of b_0
            net.pay_head.bias.fill_(-1.0)  # q = softplus(-1 + ...) well below 2
        bids = torch.tensor([[2.0, 0.3], [5.0, 0.3], [9.0, 0.3]], dtype=torch.float64)
        with torch.no_grad():
            a, p = net(bids)
        price = p[:, 0] / a[:, 0]
        assert bool(torch.allclose(price, price[0].expand(3), rtol=1e-12)) is flat


def test_critical_head_price_depends_on_the_other_bids_only():
    """payment_head critical: q_i = g_i(b_{-i}), for any weights. Changing bidder 0's bid leaves its price level
    (and the others' levels move only through b_0) unchanged; well above that level its payment per unit is q_0."""
    torch.manual_seed(3)
    net = SingleItemNet(3, (16, 8), input_scale=1.5, payment_head="critical").double()
    base = 2 * torch.rand(50, 3, dtype=torch.float64)
    moved = base.clone()
    moved[:, 0] = 3 * torch.rand(50, dtype=torch.float64)
    with torch.no_grad():
        q_base, q_moved = net.prices(None, base), net.prices(None, moved)
        a, p = net(torch.cat([base[:, :1] * 0 + 1e3, base[:, 1:]], dim=1))
    assert torch.equal(q_base[:, 0], q_moved[:, 0])
    assert not torch.allclose(q_base[:, 1:], q_moved[:, 1:])  # the others' price levels do see b_0
    assert torch.allclose(p[:, 0] / a[:, 0], q_base[:, 0], rtol=1e-9)  # smin(b, q) = q for b >> q
    with pytest.raises(ValueError, match="price or critical"):
        SingleItemNet(3).prices(torch.zeros(1, 16), base)


def test_no_sale_output_lets_the_network_keep_the_item():
    net = SingleItemNet(4)
    with torch.no_grad():
        net.alloc_head.bias.copy_(torch.tensor([0.0, 0.0, 0.0, 0.0, 10.0]))  # strong "no sale" logit
    a, _ = net(torch.rand(100, 4))
    assert torch.all(a.sum(1) < 0.01)


@pytest.mark.parametrize("head", PAYMENT_HEADS)
def test_save_and_load_round_trip(tmp_path, head):
    net = SingleItemNet(4, input_scale=2.5, payment_head=head)
    torch.save(model_payload(net, extra={"family": "uniform"}), tmp_path / "m.pt")
    loaded, extra = model_from_payload(torch.load(tmp_path / "m.pt", weights_only=True))
    bids = torch.rand(20, 4)
    assert extra == {"family": "uniform"} and float(loaded.input_scale) == 2.5 and loaded.payment_head == head
    assert all(torch.equal(x, y) for x, y in zip(net(bids), loaded(bids), strict=True))


def test_evaluator_wrapper_leaves_the_training_network_untouched():
    net = SingleItemNet(4)
    mech = AsMechanism(net)
    assert next(net.parameters()).dtype == torch.float32 and next(net.parameters()).requires_grad
    a, _ = mech(torch.rand(3, 4, dtype=torch.float64))
    assert a.dtype == torch.float64


# --- losses --------------------------------------------------------------------------------------------------
def test_monotonicity_penalty_has_the_right_sign():
    values = torch.rand(400, 4, dtype=torch.float64)
    assert float(tr.monotonicity_penalty(vk.vickrey(), values, 0.05).sum()) == 0.0
    assert float(tr.monotonicity_penalty(my.myerson(pr.UniformPrior()), values, 0.05).sum()) == 0.0
    bad = tr.monotonicity_penalty(LowestBidWins(), values, 0.05)
    # the lowest bidder keeps the item when it lowers its bid; a bidder 0.05 above the lowest gains it
    assert float(bad.mean()) > 0.0
    assert torch.all(bad.max(1).values <= 1.0)


def test_training_regret_is_zero_for_truthful_mechanisms():
    values = np.random.default_rng(0).random((300, 4))
    v = torch.tensor(values)
    for mech in (vk.vickrey(), my.myerson(pr.UniformPrior())):
        assert float(tr.training_regret(mech, v, stats_for(values), steps=0, lr=0.1).max()) <= 1e-12


def test_training_regret_lower_bounds_the_first_price_oracle():
    values = np.random.default_rng(1).random((300, 4))
    v = torch.tensor(values)
    srt = np.sort(values, 1)
    oracle = srt[:, -1] - srt[:, -2]  # the winner's true regret; losers have none
    r = tr.training_regret(vk.FirstPriceAuction(), v, stats_for(values, 64), steps=0, lr=0.1).numpy()
    assert np.all(r.sum(1) <= oracle + 1e-9)
    winner = r[np.arange(len(values)), values.argmax(1)]
    assert np.mean(oracle - winner) < 1.0 / 64  # grid of 64 quantiles: within one grid step on average


def test_training_regret_is_differentiable_in_the_network_parameters():
    net = SingleItemNet(4)
    values = torch.rand(64, 4)
    regret = tr.training_regret(net, values, stats_for(values.numpy()), steps=3, lr=0.1).mean()
    regret.backward()
    assert any(p.grad is not None and torch.any(p.grad != 0) for p in net.parameters())


# --- both phases learn -----------------------------------------------------------------------------------------
def test_phase1_imitation_loss_decreases():
    values = np.random.default_rng(2).random((512, 4)).astype(np.float32)
    cfg = tr.TrainConfig(phase1_batch_size=64, phase1_lr=3e-3)
    stats = stats_for(values)
    gen = tr.seed_everything(0)
    net = tr.build_net(4, cfg, stats, torch.device("cpu"))
    state = tr.RunState(net, torch.optim.Adam(net.parameters(), lr=cfg.phase1_lr), gen)
    x = torch.as_tensor(values)
    target = my.myerson(pr.UniformPrior())
    with torch.no_grad():
        before = float(tr.imitation_loss(net, x, target))
    tr.run_phase1(state, x, target, cfg, epochs=6)
    with torch.no_grad():
        assert float(tr.imitation_loss(net, x, target)) < 0.6 * before
    assert [h["epoch"] for h in state.history] == [1, 2, 3, 4, 5, 6]


def test_phase2_loss_decreases_on_a_tiny_set():
    values = np.random.default_rng(3).random((256, 4)).astype(np.float32)
    cfg = tr.TrainConfig(batch_size=256, lr=3e-3, regret_grid=8, regret_steps=2)
    stats = stats_for(values, cfg.regret_grid)
    gen = tr.seed_everything(1)
    net = tr.build_net(4, cfg, stats, torch.device("cpu"))
    state = tr.RunState(net, torch.optim.Adam(net.parameters(), lr=cfg.lr), gen)
    x = torch.as_tensor(values)
    pen = tr.Penalties(lambda_regret=2.0, lambda_mono=0.5)
    first = float(tr.phase2_loss(net, x, stats, cfg, pen)["loss"].detach())
    for _ in range(25):
        row = tr.run_phase2_epoch(state, x, x, stats, cfg, pen)
    assert float(tr.phase2_loss(net, x, stats, cfg, pen)["loss"].detach()) < first - 0.05
    assert set(row) >= {"loss", "revenue", "regret", "mono", "val_revenue", "val_regret"}


def test_run_seeds_are_distinct_and_reproducible():
    a = stage_seed(1, "uniform", "final", 0)
    assert a == stage_seed(1, "uniform", "final", 0)
    assert (
        len(
            {
                a,
                stage_seed(1, "uniform", "final", 1),
                stage_seed(1, "hetero", "final", 0),
                stage_seed(2, "uniform", "final", 0),
                stage_seed(1, "uniform", "sweep", 0),
            }
        )
        == 5
    )
