"""RegretNet's start: distillation of the report's network from a DSIC teacher
(pipeline_lib.single_item.learning.distilled_start).

Oracles: Myerson's optimum 5/12 for two U[0,1] bidders (closed form), Myerson's own allocation, the honest
evaluator's regret, and the construction of the deviation batch.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from pipeline_lib.single_item.evaluation import evaluator as ev
from pipeline_lib.single_item.learning.distilled_start import DistillConfig, distill, distillation_loss, with_misreports
from pipeline_lib.single_item.mechanisms.myerson import myerson
from pipeline_lib.single_item.mechanisms.nets import AsMechanism, SingleItemNet
from pipeline_lib.single_item.mechanisms.priors import UniformPrior


def test_the_deviation_copy_changes_exactly_one_bid_per_profile_within_the_range():
    gen = torch.Generator().manual_seed(0)
    values = torch.rand(500, 3) * 0.5
    both = with_misreports(values, upper=2.0, gen=gen)
    assert both.shape == (1000, 3)
    assert torch.equal(both[:500], values)
    changed = both[500:] != values
    assert (changed.sum(dim=1) <= 1).all() and changed.sum() >= 495  # a redraw equal to the value is (a.s.) never
    assert both.min() >= 0.0 and both.max() <= 2.0 and both[500:].max() > 0.5  # misreports reach above the values


def test_the_loss_asks_a_loser_for_its_whole_bid_and_a_winner_for_the_critical_bid():
    """A network that already allocates like the teacher: the payment part of the loss vanishes exactly when rho is
    1 for the losers and t / b for the winner (here a posted price 0.3 to bidder 0)."""

    def posted(bids):
        alloc = torch.zeros_like(bids)
        alloc[:, 0] = 1.0
        return alloc, alloc * 0.3

    net = SingleItemNet(2, (4,)).double()
    with torch.no_grad():
        for p in net.parameters():
            p.zero_()
        net.alloc_head.bias.copy_(torch.tensor([50.0, -50.0, -50.0]))  # bidder 0 wins with probability ~1
    bids = torch.tensor([[0.6, 0.2]], dtype=torch.float64)
    cfg = DistillConfig(payment_weight=1.0, loser_weight=1.0)
    # rho = sigmoid(0) = 1/2 for both: winner error (0.5 - 0.3 / 0.6) * 0.6 / s = 0, loser error (0.5 - 1)^2 / 2
    assert distillation_loss(net, bids, posted, cfg).item() == pytest.approx(0.25 / 2, abs=1e-12)
    with torch.no_grad():
        net.pay_head.bias.copy_(torch.tensor([0.0, 40.0]))  # loser's rho -> 1
    assert distillation_loss(net, bids, posted, cfg).item() == pytest.approx(0.0, abs=1e-12)


def test_a_price_head_winner_is_fitted_on_its_price_level_even_when_that_overshoots_its_bid():
    """Price head: the winner's term is ((q - t) / s)^2. Its price level q = 2 is above its bid 0.6, where the
    payment min(b, q) is flat in q; the loss still sees the error (2 - 0.3)^2 and pulls q down."""

    def posted(bids):
        alloc = torch.zeros_like(bids)
        alloc[:, 0] = 1.0
        return alloc, alloc * 0.3

    net = SingleItemNet(2, (4,), payment_head="price").double()
    with torch.no_grad():
        for p in net.parameters():
            p.zero_()
        net.alloc_head.bias.copy_(torch.tensor([50.0, -50.0, -50.0]))
        q0 = 2.0  # softplus(z) = q0 (input scale 1)
        levels = torch.tensor([q0, 40.0], dtype=torch.float64)  # the loser's q = 40: rho ~ 1
        net.pay_head.bias.copy_(torch.log(torch.expm1(levels)))
    bids = torch.tensor([[0.6, 0.2]], dtype=torch.float64)
    cfg = DistillConfig(payment_weight=1.0, loser_weight=1.0)
    loss = distillation_loss(net, bids, posted, cfg)
    assert loss.item() == pytest.approx((q0 - 0.3) ** 2 / 2, rel=1e-9)
    loss.backward()
    assert net.pay_head.bias.grad[0] > 0.1  # gradient descent lowers q; via the fraction it would be 0
    with torch.no_grad():
        net.pay_head.bias[0] = torch.log(torch.expm1(torch.tensor(0.3, dtype=torch.float64)))  # q = t
    assert distillation_loss(net, bids, posted, cfg).item() == pytest.approx(0.0, abs=1e-12)


def test_distilling_myerson_gives_a_near_optimal_network_of_small_honest_regret():
    rng = np.random.default_rng(0)
    train = rng.random((4000, 2))
    teacher = myerson(UniformPrior(0.0, 1.0))
    torch.manual_seed(0)
    net = SingleItemNet(2, input_scale=0.5)
    test = np.random.default_rng(1).random((1000, 2))
    search = ev.RegretSearch(upper=1.0, grid=501)
    before = ev.evaluate_mechanism(AsMechanism(net), test, search, ev.Bootstrap(n_boot=1)).metrics
    net, history = distill(net, train, teacher, DistillConfig(iterations=1500, batch_size=256), upper=1.0, seed=0)
    after = ev.evaluate_mechanism(AsMechanism(net), test, search, ev.Bootstrap(n_boot=1)).metrics
    assert len(history) == 10 and history[-1]["loss"] < history[0]["loss"]
    x = torch.as_tensor(test)
    a_t, _ = teacher(x)
    a, _ = net(x.float(), hard=True)
    assert (a.double().argmax(1) == a_t.argmax(1))[a_t.sum(1) > 0].float().mean() >= 0.95  # who wins, when sold
    assert after["revenue"]["value"] == pytest.approx(5 / 12, rel=0.05)  # Myerson: 5/12
    # the fresh network is manipulable (regret ~0.08); the imitation of a DSIC auction much less so (~0.005)
    assert after["regret_mean"]["value"] <= 0.01 and after["regret_mean"]["value"] < before["regret_mean"]["value"] / 5
    assert after["ir_violation_rate"]["value"] == 0.0
