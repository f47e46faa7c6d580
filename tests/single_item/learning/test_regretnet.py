"""RegretNet training of the single-item network (docs/methods.md#regretnet) and its constrained Optuna sweep.

Oracles: the evaluator's own deviation utilities (an independent implementation), the augmented Lagrangian by
hand, the Myerson optimum 5/12 for two U[0,1] bidders, the honest evaluator's regret, and a synthetic sweep whose
best feasible trial is known in closed form.
"""

from __future__ import annotations

import json
import math
from dataclasses import replace

import numpy as np
import optuna
import pytest
import torch

from pipeline_lib.single_item.evaluation import evaluator as ev
from pipeline_lib.single_item.evaluation import family_report as fr
from pipeline_lib.single_item.learning import misreport_search as ms
from pipeline_lib.single_item.learning import regretnet as rn
from pipeline_lib.single_item.learning import regretnet_sweep as sw
from pipeline_lib.single_item.learning.distilled_start import DistillConfig, distill
from pipeline_lib.single_item.mechanisms.myerson import myerson
from pipeline_lib.single_item.mechanisms.nets import AsMechanism, SingleItemNet
from pipeline_lib.single_item.mechanisms.priors import UniformPrior
from pipeline_lib.single_item.mechanisms.utility import deviation_utilities


def test_deviation_utilities_agree_with_the_evaluator():
    torch.manual_seed(0)
    net = SingleItemNet(3).double()
    values = torch.rand(20, 3, dtype=torch.float64)
    mis = torch.rand(20, 3, 5, dtype=torch.float64)
    got = deviation_utilities(net, values, mis)
    for i in range(3):
        expected = ev.deviation_utility(net, values, i, mis[:, i, :])
        assert torch.allclose(got[:, i, :], expected, atol=1e-12)


def test_regret_is_the_best_misreport_gain_and_the_loss_is_the_augmented_lagrangian():
    torch.manual_seed(1)
    net = SingleItemNet(2).double()
    values = torch.rand(50, 2, dtype=torch.float64)
    mis = torch.rand(50, 2, 3, dtype=torch.float64)
    rgt, rev = ms.regret_per_bidder(net, values, mis)
    a, p = net(values)
    u = a * values - p
    best = torch.stack([ev.deviation_utility(net, values, i, mis[:, i]).amax(1) for i in range(2)], dim=1)
    assert torch.allclose(rgt, (best - u).clamp_min(0).mean(0), atol=1e-12)
    assert rev.item() == pytest.approx(p.sum(1).mean().item())
    lag = rn.LagrangeState(torch.tensor([2.0, 3.0], dtype=torch.float64), rho=4.0)
    r = torch.tensor([0.1, 0.2], dtype=torch.float64)
    assert lag.loss(torch.tensor(0.5, dtype=torch.float64), r).item() == pytest.approx(
        -0.5 + 2 * 0.1 + 3 * 0.2 + 0.5 * 4.0 * (0.01 + 0.04)
    )


def test_inner_search_stays_in_the_domain_and_does_not_lose_utility_on_average():
    torch.manual_seed(2)
    net = SingleItemNet(2).double()
    values = torch.rand(200, 2, dtype=torch.float64)
    start = torch.rand(200, 2, 4, dtype=torch.float64)
    found = ms.inner_search(net, values, start, steps=20, step_size=0.01, upper=1.0)
    assert found.min() >= 0.0 and found.max() <= 1.0 and not found.requires_grad
    gain = deviation_utilities(net, values, found) - deviation_utilities(net, values, start)
    assert gain.mean() > 0


def test_inner_search_keeps_the_best_point_of_its_path_when_a_step_overshoots():
    """u_i(b) = v_i - (b - 0.7)^2 peaks at 0.7; from 0.69 a step of size 10 jumps to 0.89 (utility lower): the
    search returns 0.69, never a misreport worse than its start."""
    values = torch.full((1, 2), 0.5, dtype=torch.float64)
    start = torch.full((1, 2, 1), 0.69, dtype=torch.float64)
    found = ms.inner_search(_PostedDeviation(), values, start, steps=3, step_size=10.0, upper=1.0)
    assert torch.allclose(found, start)
    small = ms.inner_search(_PostedDeviation(), values, start, steps=50, step_size=0.1, upper=1.0)
    assert torch.allclose(small, torch.full_like(start, 0.7), atol=1e-4)  # small steps converge to the peak


class _PostedDeviation:
    """Fake mechanism: bidder i always wins and pays (b - 0.7)^2, so u_i(b) = v_i - (b - 0.7)^2 peaks at b = 0.7."""

    def __call__(self, bids):
        return torch.ones_like(bids), (bids - 0.7) ** 2


def test_the_screen_finds_a_global_deviation_that_the_warm_starts_miss():
    values = torch.rand(64, 3, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    bank = torch.zeros(64, 3, 2, dtype=torch.float64)  # warm starts far from the best misreport
    cfg = rn.RegretNetConfig(n_misreports=2, grid_misreports=16, tie_misreports=False)
    starts = ms.screened_starts(_PostedDeviation(), values, bank, cfg, 1.0, torch.Generator().manual_seed(1))
    assert starts.shape == bank.shape and starts.min() >= 0.0 and starts.max() <= 1.0
    assert ((starts[..., 0] - 0.7).abs() <= 1 / 16).all()  # one stratified point lies in 0.7's cell of width 1/16
    off = ms.screened_starts(_PostedDeviation(), values, bank, rn.RegretNetConfig(n_misreports=2, grid_misreports=0,
                             tie_misreports=False), 1.0, torch.Generator())  # fmt: skip
    assert torch.equal(off, bank)  # without the screen only the warm starts remain


def test_the_screen_keeps_the_tie_points_of_a_second_price_auction():
    """Second-price auction, bidder 0 values 0.5 against a rival at 0.3: every bid above 0.3 is a best reply.
    Bidder 1 (value 0.3, rival 0.5): nothing beats losing, and the tie points 0.5 +- eps are candidates."""
    values = torch.tensor([[0.5, 0.3]], dtype=torch.float64)
    bank = torch.zeros(1, 2, 1, dtype=torch.float64)
    cfg = rn.RegretNetConfig(n_misreports=1, grid_misreports=0, tie_misreports=True, tie_eps=1e-3)

    def second_price(bids):
        win = torch.nn.functional.one_hot(bids.argmax(1), 2).to(bids.dtype)
        return win, win * bids.flip(1)

    starts = ms.screened_starts(second_price, values, bank, cfg, 1.0, torch.Generator())
    assert starts[0, 0, 0].item() == pytest.approx(0.3 + 1e-3)  # bid just over the rival: win at price 0.3
    assert starts[0, 1, 0].item() in (0.0, pytest.approx(0.5 - 1e-3))  # ties at utility 0


def test_selection_keeps_the_best_feasible_validation_iterate_and_deploys_it():
    rng = np.random.default_rng(4)
    train, val = rng.random((2000, 2)), rng.random((200, 2))
    cfg = rn.RegretNetConfig(iterations=120, batch_size=64, eval_every=20, val_profiles=200, val_grid=51,
                             regret_budget=0.02, warm_start=False)  # fmt: skip
    net, history = rn.train_regretnet(train, val, cfg, seed=3)
    chosen = rn.selected_row(history)
    assert sum(r["selected"] for r in history) == 1
    feasible = [r for r in history if r["val_regret"] <= cfg.regret_budget]
    if feasible:
        assert chosen["val_revenue"] == max(r["val_revenue"] for r in feasible)
    else:
        assert chosen["val_regret"] == min(r["val_regret"] for r in history)
    again = rn.validation_metrics(net, val, ev.RegretSearch(upper=1.0, grid=51))
    assert again["revenue"] == pytest.approx(chosen["val_revenue"], rel=1e-6)  # the returned net IS that iterate
    last = rn.train_regretnet(train, val, replace(cfg, select="last"), seed=3)[1]
    assert rn.selected_row(last)["iteration"] == cfg.iterations


def test_the_start_competes_and_is_deployed_when_training_only_loses_revenue(monkeypatch):
    """Validation revenue falling with every evaluation (a Lagrangian that trades revenue for nothing): the start,
    scored as iteration 0, is the best feasible iterate and the returned network has the start's weights."""
    rng = np.random.default_rng(5)
    train, val = rng.random((400, 2)), rng.random((20, 2))
    scores = iter([0.5, 0.4, 0.3, 0.2])
    monkeypatch.setattr(rn, "validation_metrics", lambda *a, **k: dict.fromkeys(KEYS, 0.0) | {"revenue": next(scores)})
    cfg = rn.RegretNetConfig(hidden=(8,), iterations=30, batch_size=32, eval_every=10, val_profiles=20, val_grid=11)
    torch.manual_seed(0)
    start = SingleItemNet(2, (8,), input_scale=0.5, payment_head=cfg.payment_head)
    net, history = rn.train_regretnet(train, val, cfg, seed=0, init_net=start)
    assert [h["iteration"] for h in history] == [0, 10, 20, 30] and rn.selected_row(history)["iteration"] == 0
    assert history[0]["train_revenue"] is None  # no training step before the start's score
    json.dumps(rn.selected_row(history), allow_nan=False)  # the deployed start's row goes into metrics.json
    assert all(torch.equal(a, b) for a, b in zip(net.state_dict().values(), start.state_dict().values(), strict=True))


def test_iterates_are_scored_with_the_refined_validation_search(monkeypatch):
    """Selection sees what the evaluator sees: grid points, then gradient refinement of the best ones (a grid alone
    under-states a sharp network's regret and best_feasible deploys it); ``val_refine_steps: 0`` is the grid only."""
    seen = []
    monkeypatch.setattr(
        rn, "validation_metrics", lambda net, val, search, **k: seen.append(search) or dict.fromkeys(KEYS, 0.0)
    )
    rng = np.random.default_rng(6)
    cfg = rn.RegretNetConfig(hidden=(8,), iterations=4, batch_size=16, eval_every=2, val_profiles=10, val_grid=11)
    rn.train_regretnet(rng.random((64, 2)), rng.random((10, 2)), cfg, seed=0)
    assert len(seen) == 2 and all(s.grid == 11 and s.refine_steps == cfg.val_refine_steps > 0 for s in seen)
    assert seen[0].refine_top == cfg.val_refine_top > 0 and seen[0].upper == pytest.approx(1.0, abs=0.05)
    assert rn.validation_search(replace(cfg, val_refine_steps=0), 2.0).refine_steps == 0
    assert rn.RegretNetConfig().val_grid == fr.EvaluationConfig().grid  # the test-time grid, not a coarser one


KEYS = ("revenue", "regret_mean", "regret_max", "ir_violation_rate")


def test_selection_score_orders_feasible_by_revenue_before_infeasible_by_regret():
    scores = {
        "feasible_low": rn.selection_score(0.5, 1e-4, 1e-3),
        "feasible_high": rn.selection_score(0.6, 9e-4, 1e-3),
        "infeasible_rich": rn.selection_score(0.9, 2e-3, 1e-3),
        "infeasible_clean": rn.selection_score(0.1, 1.1e-3, 1e-3),
    }
    assert sorted(scores, key=scores.get) == ["infeasible_rich", "infeasible_clean", "feasible_low", "feasible_high"]


def test_a_warm_start_of_another_architecture_is_refused_naming_the_keys():
    rng = np.random.default_rng(0)
    with pytest.raises(ValueError, match=r"hidden layers \[8\].*single_item.regretnet.training.hidden"):
        rn.train_regretnet(rng.random((300, 2)), rng.random((10, 2)), rn.RegretNetConfig(iterations=1),
                           init_net=SingleItemNet(2, (8,)))  # fmt: skip
    with pytest.raises(ValueError, match=r"payment head is 'price'.*training.payment_head: price"):
        rn.train_regretnet(rng.random((300, 2)), rng.random((10, 2)), rn.RegretNetConfig(hidden=(8,), iterations=1),
                           init_net=SingleItemNet(2, (8,), payment_head="price"))  # fmt: skip
    with pytest.raises(ValueError, match=r"price MLPs have widths \[4\].*training.price_hidden"):
        rn.train_regretnet(rng.random((300, 2)), rng.random((10, 2)), rn.RegretNetConfig(hidden=(8,), iterations=1),
                           init_net=SingleItemNet(2, (8,), payment_head="critical", price_hidden=(4,)))  # fmt: skip
    with pytest.raises(ValueError, match="payment_head must be one of"):
        rn.RegretNetConfig(payment_head="bid")
    with pytest.raises(ValueError, match="select"):
        rn.RegretNetConfig(select="best")
    with pytest.raises(ValueError, match="lr_schedule must be one of"):
        rn.RegretNetConfig(lr_schedule="linear")


@pytest.fixture(scope="module")
def two_uniform():
    """The pipeline's path on two U[0,1] bidders, small: a network distilled from Myerson, then the Lagrangian."""
    rng = np.random.default_rng(0)
    train, val = rng.random((8000, 2)), rng.random((300, 2))
    cfg = rn.RegretNetConfig(
        hidden=(64, 64), iterations=500, batch_size=128, eval_every=250, val_profiles=300, val_grid=101
    )
    torch.manual_seed(0)
    start, _ = distill(
        rn.fresh_net(train, cfg), train, myerson(UniformPrior(0.0, 1.0)),
        DistillConfig(iterations=1500, batch_size=256), upper=1.0, seed=0,
    )  # fmt: skip
    net, history = rn.train_regretnet(train, val, cfg, seed=1, init_net=start)
    return net, history


def test_short_training_is_near_optimal_with_small_honest_regret(two_uniform):
    net, history = two_uniform
    optimum = 5 / 12  # Myerson, two U[0,1] bidders
    test = np.random.default_rng(1).random((500, 2))
    search = ev.RegretSearch(upper=1.0, grid=1001)
    soft = ev.evaluate_mechanism(AsMechanism(net), test, search, ev.Bootstrap(n_boot=50)).metrics
    assert soft["revenue"]["value"] >= 0.95 * optimum
    assert soft["regret_mean"]["value"] <= 0.005
    assert soft["ir_violation_rate"]["value"] == 0.0  # p_i = rho_i b_i a_i <= b_i a_i
    hard = ev.evaluate_mechanism(AsMechanism(net, hard=True), test, search, ev.Bootstrap(n_boot=50)).metrics
    assert hard["ir_violation_rate"]["value"] == 0.0 and math.isfinite(hard["regret_mean"]["value"])
    assert [h["iteration"] for h in history] == [0, 250, 500]  # the distilled start is scored too
    defaults = rn.RegretNetConfig()
    assert history[-1]["mu"][0] > defaults.mu_init  # multipliers and rho grew on schedule (500 // 200 = 2 steps)
    assert history[-1]["rho"] == defaults.rho_init + 2 * defaults.rho_increment


def test_training_is_seed_reproducible():
    rng = np.random.default_rng(3)
    train, val = rng.random((500, 2)), rng.random((50, 2))
    cfg = rn.RegretNetConfig(iterations=8, batch_size=64, eval_every=4, val_profiles=50, val_grid=11)
    a, ha = rn.train_regretnet(train, val, cfg, seed=5)
    b, hb = rn.train_regretnet(train, val, cfg, seed=5)
    assert all(torch.equal(x, y) for x, y in zip(a.state_dict().values(), b.state_dict().values(), strict=True))
    assert [h["val_revenue"] for h in ha] == [h["val_revenue"] for h in hb]


# --- constrained sweeps ---------------------------------------------------------------------------------------
def test_constrained_study_picks_the_best_feasible_trial():
    """Revenue x, regret x^2 / 100, budget 0.0025: feasible iff x <= 0.5, so the best feasible x is the largest
    sampled x <= 0.5, while the unconstrained best is infeasible."""
    study = optuna.create_study(direction="maximize", sampler=sw.constrained_sampler(seed=4))

    def objective(trial: optuna.Trial) -> float:
        x = trial.suggest_float("x", 0.0, 1.0)
        sw.record_trial(trial, revenue=x, regret=x * x / 100, budget=0.0025)
        return x

    study.optimize(objective, n_trials=25)
    best = sw.best_feasible_trial(study)
    xs = [t.params["x"] for t in study.trials]
    assert best.params["x"] == max(x for x in xs if x <= 0.5)
    assert max(xs) > 0.5  # the sampler did try infeasible points; they are not selected
    assert sw.constraints_func(best)[0] == pytest.approx(best.params["x"] ** 2 / 100 - 0.0025)
    assert list(study.trials[0].constraints.values()) == list(sw.constraints_func(study.trials[0]))  # what TPE sees
    late = xs[15:]
    assert sum(x <= 0.5 for x in late) >= len(late) // 2  # TPE with constraints concentrates on the feasible side


def test_a_real_regretnet_trial_records_revenue_regret_and_constraint(tmp_path):
    rng = np.random.default_rng(6)
    train, val = rng.random((400, 2)), rng.random((40, 2))
    base = rn.RegretNetConfig(iterations=6, batch_size=64, eval_every=6, val_profiles=40, val_grid=11)
    study, _ = sw.open_constrained_study("rn", None, str(tmp_path / "s.sqlite3"), seed=2, user_attrs={"k": 1})
    study.optimize(sw.make_objective(train, val, base, seed=0, search=ev.RegretSearch(upper=1.0, grid=51)), 2)
    for t in study.trials:
        assert t.value == pytest.approx(t.user_attrs["val_revenue"])
        assert t.user_attrs["constraint"] == [pytest.approx(t.user_attrs["val_regret"] - sw.REGRET_BUDGET)]
        assert set(sw.DEFAULT_SPACE) <= set(t.params)
    again, _ = sw.open_constrained_study("rn", None, str(tmp_path / "s.sqlite3"), seed=2)
    assert len(again.trials) == 2 and again.user_attrs["k"] == 1
