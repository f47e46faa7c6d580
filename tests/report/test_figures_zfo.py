"""Figures 1-3: the quantities behind them against closed forms, and the files they write."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch
from scipy.stats import norm

from pipeline_lib.core.io import save_figure
from pipeline_lib.core.seeds import vvca_run_seed
from pipeline_lib.report import figures_zfo as fz
from pipeline_lib.valuations.combinatorial import additive_bundle_values
from pipeline_lib.vvca import case_study as cs
from pipeline_lib.vvca.bids import BidSource
from pipeline_lib.vvca.config import TrainConfig
from pipeline_lib.vvca.mechanism import evaluate_vvca
from pipeline_lib.vvca.parametrisation import Parametrisation

DT = torch.float64


def uniform_bids(rows: int, n: int = 2, m: int = 2, seed: int = 0) -> torch.Tensor:
    items = torch.as_tensor(np.random.default_rng(seed).random((rows, n, m)), dtype=DT)
    return additive_bundle_values(items)


# ------------------------------------------------------------------------------------------------- Fig. 3
def test_smoothing_of_a_single_step_is_the_normal_cdf():
    """f = 1{x > c}: E f(x + sigma u) = Phi((x - c) / sigma); c is a midpoint of the grid."""
    grid = np.linspace(-1, 1, 2001)
    c = (grid[1200] + grid[1201]) / 2
    values = (grid > c).astype(float)
    xs = np.linspace(-0.5, 0.8, 27)
    for sigma in (0.01, 0.1, 0.3):
        assert np.allclose(cs.gaussian_smoothing(grid, values, xs, sigma), norm.cdf((xs - c) / sigma), atol=1e-12)


def test_rev2_along_one_boost_matches_the_single_item_welfare_formula():
    """One item, two bidders, lambda_1({1}) = x, all else VCG: bidder 1 wins iff v_1 + x > v_2 (ties go to the
    allocation found first, measure zero here), so Rev2(x) = mean(v_1 if v_1 + x > v_2 else v_2)."""
    v = np.random.default_rng(1).random((50, 2))
    bids = additive_bundle_values(torch.as_tensor(v[:, :, None], dtype=DT))
    xs = np.linspace(-0.7, 0.7, 57)
    got = cs.rev2_along_boost(bids, bidder=0, bundle=1, xs=xs)
    expected = np.array([np.where(v[:, 0] + x > v[:, 1], v[:, 0], v[:, 1]).mean() for x in xs])
    assert np.allclose(got, expected, atol=1e-12)


def test_rev2_is_a_step_function_maximal_at_vcg_and_smoothing_flattens_it():
    bids = uniform_bids(40)
    curves = cs.smoothing_curves(bids, 0, 3, -1.0, 1.0, 201, [0.01, 0.3])
    rev2 = curves["rev2"].to_numpy()
    assert rev2.max() == pytest.approx(rev2[100])  # x = 0 is VCG: the efficient allocation maximises welfare
    assert len(np.unique(np.round(rev2, 12))) < 60  # piecewise constant: few distinct levels
    small, large = curves["rev2_sigma=0.01"].to_numpy(), curves["rev2_sigma=0.3"].to_numpy()
    assert np.abs(small - rev2).mean() < np.abs(large - rev2).mean()
    assert np.abs(np.diff(large)).max() < np.abs(np.diff(rev2)).max()


# ------------------------------------------------------------------------------------------------- Fig. 2
def test_case_study_surfaces_split_revenue_and_start_at_vcg():
    bids = uniform_bids(300)
    surface = cs.case_study_surfaces(bids, np.array([-0.2, 0.0, 0.3]), np.array([0.0, 0.4]))
    assert np.allclose(surface["rev"], surface["rev1"] + surface["rev2"])
    at_vcg = surface[(surface.x == 0.0) & (surface.y == 0.0)].iloc[0]
    items = bids[:, :, [1, 2]].numpy()
    assert at_vcg.rev == pytest.approx(items.min(axis=1).sum(-1).mean(), abs=1e-12)  # per-item second price


def test_shifting_all_tied_boosts_by_a_constant_changes_nothing():
    """The reason Fig. 2 can use (x1 - x0, x2 - x0): adding c to every boost leaves allocations and payments."""
    bids = uniform_bids(200)
    tying = Parametrisation.by_bundle_size(2, 2)
    a = evaluate_vvca(bids, tying.params(torch.tensor([0.0, 0.2, 0.5], dtype=DT)))
    b = evaluate_vvca(bids, tying.params(torch.tensor([0.7, 0.9, 1.2], dtype=DT)))
    assert torch.allclose(a.payments, b.payments) and torch.equal(a.alloc, b.alloc)


def test_case_study_trajectory_starts_at_vcg_and_has_one_point_per_iteration():
    src = BidSource(np.random.default_rng(0).random((256, 2, 2)), additive=True)
    cfg = TrainConfig(lr=0.05, q=4, sigma=0.01, iterations=6, batch_size=64)
    traj = cs.case_study_trajectory(src, cfg, vvca_run_seed(0, "2x2_A", 0))
    assert list(traj["iteration"]) == list(range(7))
    assert traj.loc[0, ["x", "y"]].tolist() == [0.0, 0.0]
    assert np.allclose(traj["x"], traj["phi1"] - traj["phi0"]) and traj["y"].abs().max() > 0


def test_grid_covers_the_trajectory_and_vcg():
    traj = pd.DataFrame({"x": [0.0, 0.5, 1.5], "y": [0.0, -0.4, -1.0]})
    xs, ys = cs.grid_axes(traj, None, 11)
    assert xs.min() < 0 < 1.5 < xs.max() and ys.min() < -1.0 < 0 < ys.max()
    xs, ys = cs.grid_axes(traj, [-1, 1, -2, 2], 5)
    assert xs.tolist() == [-1, -0.5, 0, 0.5, 1] and ys[0] == -2


# ------------------------------------------------------------------------------------------------- files
def test_figures_are_written_as_png_and_pdf(tmp_path):
    hist = pd.DataFrame({
        "iteration": range(5), "train_revenue": [np.nan, 0.7, 0.72, 0.74, 0.75], "rev1": np.nan, "rev2": np.nan,
        "val_revenue": [0.66, np.nan, 0.71, np.nan, 0.76],
    })  # fmt: skip
    histories = {("2x2_A", "zfo_vvca"): [hist, hist], ("2x2_A", "bbbvvca"): [hist]}
    save_figure(fz.figure1(histories, ["2x2_A"]), tmp_path / "f1.png", tmp_path / "f1.pdf")
    bids = uniform_bids(60)
    curves = cs.smoothing_curves(bids, 0, 3, -0.5, 0.5, 21, [0.05])
    save_figure(fz.plot_smoothing(curves, "boost"), tmp_path / "f3.png", tmp_path / "f3.pdf")
    surface = cs.case_study_surfaces(bids, np.linspace(-0.5, 0.5, 4), np.linspace(-0.5, 0.5, 3))
    traj = pd.DataFrame({"x": [0.0, 0.1], "y": [0.0, 0.2]})
    save_figure(fz.plot_case_study(surface, traj), tmp_path / "f2.png", tmp_path / "f2.pdf")
    for name in ("f1", "f2", "f3"):
        assert (tmp_path / f"{name}.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        assert (tmp_path / f"{name}.pdf").read_bytes()[:5] == b"%PDF-"
