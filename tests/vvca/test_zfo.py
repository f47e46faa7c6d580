"""ZFO-VVCA / FO-VVCA training loop (Algorithm 3): parametrisation, the zeroth-order estimator of Eq. 9 against
the closed-form gradient of a smoothed step function, the first-order direction against finite differences of
Rev1, configuration precedence, reproducibility and resumption after a kill."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
import torch
from scipy.stats import norm

from pipeline_lib.core.checkpoint import checkpoint_file
from pipeline_lib.core.seeds import vvca_run_seed
from pipeline_lib.valuations.combinatorial import additive_bundle_values
from pipeline_lib.vvca import zfo
from pipeline_lib.vvca.bids import BidSource
from pipeline_lib.vvca.config import TrainConfig, resolve_config
from pipeline_lib.vvca.estimators import ascent_direction, zeroth_order_rev2_gradient
from pipeline_lib.vvca.evaluate import evaluate_on
from pipeline_lib.vvca.mechanism import VVCAParams, evaluate_vvca
from pipeline_lib.vvca.parametrisation import Parametrisation

DT = torch.float64


def single_item_bids(values: np.ndarray) -> torch.Tensor:
    """Bids (B, n, 2) of a one-item auction: b_i(empty) = 0, b_i({1}) = values[:, i]."""
    v = torch.as_tensor(values, dtype=DT)
    return torch.stack([torch.zeros_like(v), v], dim=-1)


def boosts_only(n: int, m: int) -> Parametrisation:
    """w = 1 fixed, phi = the boosts (n 2^m)."""
    size = 2**m
    return Parametrisation(n, m, torch.full((n,), -1), torch.arange(n * size).reshape(n, size), n * size, "boosts")


# ---------------------------------------------------------------------------------------------- parametrisation
def test_full_parametrisation_is_the_vector_layout_and_zero_is_vcg():
    n, m = 3, 2
    par = Parametrisation.full(n, m)
    assert par.dim == n + n * 2**m
    phi = torch.randn(par.dim)
    params = par.params(phi)
    ref = VVCAParams.from_vector(phi, n, m)
    assert torch.equal(params.alpha, ref.alpha) and torch.equal(params.boosts, ref.boosts)
    vcg = par.params(torch.zeros(par.dim))
    assert torch.equal(vcg.weights, torch.ones(n)) and not vcg.boosts.any()


def test_bundle_size_tying_shares_one_boost_per_bundle_size_and_fixes_w_to_one():
    par = Parametrisation.by_bundle_size(2, 2)
    params = par.params(torch.tensor([0.5, -1.0, 2.0]))
    assert torch.equal(params.alpha, torch.zeros(2))
    # bundles 0 = empty, 1 = {1}, 2 = {2}, 3 = {1, 2}
    assert torch.equal(params.boosts, torch.tensor([[0.5, -1.0, -1.0, 2.0]] * 2))
    alphas, boosts = par.batched(torch.tensor([[0.0, 1.0, 2.0], [3.0, 4.0, 5.0]]))
    assert alphas.shape == (2, 2) and torch.equal(boosts[1, 0], torch.tensor([3.0, 4.0, 4.0, 5.0]))


def test_parametrisation_is_differentiable():
    par = Parametrisation.full(2, 1)
    phi = torch.zeros(par.dim, requires_grad=True)
    params = par.params(phi)
    (params.weights.sum() + 2 * params.boosts[1, 1]).backward()
    assert torch.equal(phi.grad, torch.tensor([1.0, 1.0, 0.0, 0.0, 0.0, 2.0]))


# ---------------------------------------------------------------------------------------------- estimator (Eq. 9)
def smoothed_step_gradient(values: np.ndarray, phi: np.ndarray, sigma: float) -> np.ndarray:
    """Closed form for one bidder, one item, w = 1, phi = (lambda(empty), lambda({1})):
    Rev2(phi) = mean_b v_b 1{v_b + phi1 - phi0 > 0}, u ~ N(0, I_2), so
    Rev2_sigma(phi) = mean_b v_b Phi((v_b + phi1 - phi0) / (sigma sqrt 2)) and
    grad Rev2_sigma = mean_b v_b pdf(z_b) / (sigma sqrt 2) * (-1, +1)."""
    s = sigma * math.sqrt(2.0)
    z = (values + phi[1] - phi[0]) / s
    g = float(np.mean(values * norm.pdf(z) / s))
    return np.array([-g, g])


@pytest.mark.parametrize("estimator", ["forward", "central"])
def test_zeroth_order_estimate_is_unbiased_for_the_smoothed_gradient(estimator):
    values = np.array([[0.05], [0.1], [0.3], [0.2]])
    phi = torch.tensor([0.15, 0.0], dtype=DT)  # the steps sit at v = 0.15: within a few sigma of every profile
    sigma, q = 0.1, 200_000
    gen = torch.Generator().manual_seed(0)
    directions = torch.randn(q, 2, generator=gen, dtype=DT)
    est = zeroth_order_rev2_gradient(
        single_item_bids(values), boosts_only(1, 1), phi, directions, sigma, estimator=estimator
    )
    exact = smoothed_step_gradient(values[:, 0], phi.numpy(), sigma)
    assert np.allclose(est.numpy(), exact, atol=0.01 * np.abs(exact).max() + 2e-3), (est, exact)


def test_forward_estimate_uses_the_shared_base_point():
    """With base = Rev2(phi) given, a direction that changes no allocation contributes exactly 0."""
    values = np.array([[0.5], [0.7]])
    phi = torch.zeros(2, dtype=DT)
    directions = torch.tensor([[1.0, 1.0], [-2.0, -2.0]], dtype=DT)  # equal shifts of both boosts: no effect
    est = zeroth_order_rev2_gradient(single_item_bids(values), boosts_only(1, 1), phi, directions, 0.01)
    assert torch.equal(est, torch.zeros(2, dtype=DT))


# ---------------------------------------------------------------------------------------------- first-order part
def test_fo_direction_is_the_gradient_of_rev1_by_finite_differences():
    """Rev1 = sum_i (1/w_i)[MAW^(-i) - MAW] is piecewise smooth; away from kinks central differences of the
    exactly evaluated Rev1 (Algorithm 2) match the autograd/Danskin direction of FO-VVCA."""
    rng = np.random.default_rng(3)
    n, m = 2, 2
    bids = additive_bundle_values(torch.as_tensor(rng.random((16, n, m)), dtype=DT))
    par = Parametrisation.full(n, m)
    phi = torch.as_tensor(rng.normal(0, 0.2, par.dim), dtype=DT).requires_grad_(True)
    step = ascent_direction("fo_vvca", bids, par, phi)

    def rev1(x: torch.Tensor) -> float:
        return float(evaluate_vvca(bids, par.params(x)).rev1.mean())

    h = 1e-6
    x = phi.detach()
    fd = torch.tensor([(rev1(x + h * e) - rev1(x - h * e)) / (2 * h) for e in torch.eye(par.dim, dtype=DT)])
    assert torch.allclose(step.direction, fd.to(DT), atol=1e-5), (step.direction, fd)
    out = evaluate_vvca(bids, par.params(phi.detach()))
    assert step.revenue == pytest.approx(float(out.revenue.mean()))
    assert step.rev1 + step.rev2 == pytest.approx(step.revenue)


def test_zfo_direction_is_fo_direction_plus_the_zeroth_order_term():
    rng = np.random.default_rng(4)
    bids = additive_bundle_values(torch.as_tensor(rng.random((32, 2, 2)), dtype=DT))
    par = Parametrisation.full(2, 2)
    phi = torch.zeros(par.dim, dtype=DT, requires_grad=True)
    dirs = torch.randn(4, par.dim, dtype=DT, generator=torch.Generator().manual_seed(1))
    fo = ascent_direction("fo_vvca", bids, par, phi).direction
    zo = zeroth_order_rev2_gradient(bids, par, phi, dirs, 0.05)
    both = ascent_direction("zfo_vvca", bids, par, phi, dirs, 0.05).direction
    assert torch.allclose(both, fo + zo)


# ---------------------------------------------------------------------------------------------- configuration
def test_resolve_config_precedence_and_caps():
    table3 = {"lr": 0.01, "q": 8, "sigma": 0.01, "iterations": 2000, "batch_size": 1024}
    cfg = resolve_config(
        "bbbvvca", table3, {"optimizer": "sgd", "eval_every": 50, "max_iterations": None}, {"lr": 0.1},
        max_iterations=30, max_batch_size=64,
    )  # fmt: skip
    assert (cfg.lr, cfg.q, cfg.optimizer, cfg.eval_every, cfg.iterations, cfg.batch_size) == (0.1, 8, "sgd", 50, 30, 64)
    assert resolve_config("zfo_vvca", table3).iterations == 2000
    with pytest.raises(ValueError, match="unknown override"):
        resolve_config("zfo_vvca", table3, overrides={"learning_rate": 1})
    with pytest.raises(ValueError, match="estimator"):
        TrainConfig(lr=0.1, q=1, sigma=0.1, iterations=1, batch_size=1, estimator="backward")


def test_run_seeds_depend_on_setting_and_seed_index_only():
    a = vvca_run_seed(1, "2x2_A", 0)
    assert a.spawn_key == vvca_run_seed(1, "2x2_A", 0).spawn_key
    assert a.spawn_key != vvca_run_seed(1, "2x2_A", 1).spawn_key
    assert a.spawn_key != vvca_run_seed(1, "2x2_D", 0).spawn_key


# ---------------------------------------------------------------------------------------------- the loop
def _source(n=2, m=2, rows=512, seed=0) -> BidSource:
    return BidSource(np.random.default_rng(seed).random((rows, n, m)), additive=True)


def _cfg(**kw) -> TrainConfig:
    base = dict(lr=0.02, q=4, sigma=0.01, iterations=10, batch_size=64, eval_every=5, checkpoint_every=3)
    return TrainConfig(**{**base, **kw})


@pytest.mark.parametrize("method", ["zfo_vvca", "bbbvvca"])
def test_same_seed_same_result_and_another_seed_differs(method):
    src, val, par = _source(), _source(rows=64, seed=1), Parametrisation.full(2, 2)
    cfg = _cfg(method=method)
    a = zfo.train(src, par, cfg, vvca_run_seed(5, "2x2_A", 0), val, progress=False)
    b = zfo.train(src, par, cfg, vvca_run_seed(5, "2x2_A", 0), val, progress=False)
    c = zfo.train(src, par, cfg, vvca_run_seed(5, "2x2_A", 1), val, progress=False)
    assert torch.equal(a.phi, b.phi)
    pd.testing.assert_frame_equal(zfo.history_frame(a.history), zfo.history_frame(b.history))
    assert not torch.equal(a.phi, c.phi)


class Killed(Exception):
    pass


@pytest.mark.parametrize(
    ("method", "optimizer", "selection"), [("zfo_vvca", "adam", "last"), ("fo_vvca", "sgd", "best_val")]
)
def test_a_run_killed_midway_resumes_to_identical_final_parameters(tmp_path, method, optimizer, selection):
    src, val, par = _source(), _source(rows=64, seed=1), Parametrisation.full(2, 2)
    cfg = _cfg(method=method, optimizer=optimizer, selection=selection, iterations=11)
    seq = vvca_run_seed(5, "2x2_A", 0)
    clean = zfo.train(src, par, cfg, seq, val, ckpt_dir=str(tmp_path / "clean"), progress=False)

    def kill_after_8(t, phi):
        if t == 8:
            raise Killed

    ckpt = tmp_path / "killed"
    with pytest.raises(Killed):
        zfo.train(src, par, cfg, seq, val, ckpt_dir=str(ckpt), progress=False, on_iteration=kill_after_8)
    assert checkpoint_file(ckpt).exists()  # written at iteration 6 (checkpoint_every = 3)
    resumed = zfo.train(src, par, cfg, seq, val, ckpt_dir=str(ckpt), progress=False)
    assert resumed.resumed_from == 6
    assert torch.equal(clean.phi, resumed.phi)
    pd.testing.assert_frame_equal(zfo.history_frame(clean.history), zfo.history_frame(resumed.history))


def test_a_checkpoint_of_another_configuration_is_ignored(tmp_path):
    src, par = _source(), Parametrisation.full(2, 2)
    seq = vvca_run_seed(5, "2x2_A", 0)

    def kill(t, phi):
        if t == 4:
            raise Killed

    with pytest.raises(Killed):
        zfo.train(src, par, _cfg(lr=0.5), seq, ckpt_dir=str(tmp_path), progress=False, on_iteration=kill)
    fresh = zfo.train(src, par, _cfg(), seq, ckpt_dir=str(tmp_path), progress=False)
    assert fresh.resumed_from == 0
    assert torch.equal(fresh.phi, zfo.train(src, par, _cfg(), seq, progress=False).phi)


def test_zfo_raises_revenue_above_vcg_in_2x2_uniform():
    """A short ZFO-VVCA run on 2x2(A) ends above VCG on held-out profiles (VCG = sum_j min(v_1j, v_2j))."""
    src, val = _source(rows=4096, seed=0), _source(rows=4096, seed=1)
    par = Parametrisation.full(2, 2)
    cfg = _cfg(lr=0.02, q=8, iterations=150, batch_size=512, eval_every=150, selection="last")
    res = zfo.train(src, par, cfg, vvca_run_seed(0, "2x2_A", 0), progress=False)
    items = val.values.numpy()
    vcg = float(np.minimum(items[:, 0], items[:, 1]).sum(-1).mean())
    learned = evaluate_on(val, par.params(res.phi))["revenue"]["mean"]
    assert learned > vcg + 0.03, (learned, vcg)


# ---------------------------------------------------------------------------------------------- evaluation, files
def test_evaluation_at_vcg_is_the_per_item_second_price_revenue():
    src = _source(n=3, m=2, rows=1000, seed=7)
    res = evaluate_on(src, Parametrisation.full(3, 2).params(torch.zeros(3 + 12)), chunk_size=300)
    v = src.values.numpy().astype(np.float64)
    per_profile = np.sort(v, axis=1)[:, -2, :].sum(-1)  # second-highest value of every item
    rev = res["revenue"]
    assert rev["mean"] == pytest.approx(per_profile.mean(), abs=1e-5)
    assert rev["se"] == pytest.approx(per_profile.std(ddof=1) / math.sqrt(1000), rel=1e-3)
    assert res["welfare"]["mean"] == pytest.approx(v.max(axis=1).sum(-1).mean(), abs=1e-5)
    assert rev["n_profiles"] == 1000 and res["ir"]["violations"] == 0
