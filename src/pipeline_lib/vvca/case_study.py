"""The computations behind Figures 2 and 3 of the ZFO-VVCA paper (plots: :mod:`pipeline_lib.report.figures_zfo`).

* Fig. 2, the 2x2(A) case study: weights fixed (w = 1) and boosts tied by bundle size, lambda_i(empty) = x0,
  lambda_i({j}) = x1, lambda_i({1,2}) = x2 for both bidders; the mechanism depends on (x, y) = (x1 - x0, x2 - x0)
  only. Rev, Rev1 and Rev2 (Eq. 5) over a grid of (x, y), and the trajectory of ZFO-VVCA trained on the tied
  parameters (same loop as the full runs, from VCG x = y = 0).
* Fig. 3: Rev2 as one boost lambda_i(S) = x varies with all other parameters at VCG, and its Gaussian smoothing
  Rev2_sigma(x) = E_u Rev2(x + sigma u) (Eq. 8), computed exactly for the step function sampled on a fine grid:
  Rev2_sigma(x) = sum_k f_k [Phi((r_k - x)/sigma) - Phi((l_k - x)/sigma)].
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
import torch
from scipy.special import ndtr

from pipeline_lib.vvca.bids import BidSource
from pipeline_lib.vvca.config import TrainConfig
from pipeline_lib.vvca.mechanism import evaluate_vvca, rev2_batched
from pipeline_lib.vvca.parametrisation import Parametrisation
from pipeline_lib.vvca.zfo import train


def tied_phi(x: float, y: float) -> torch.Tensor:
    """phi = (x0, x1, x2) = (0, x, y) of the bundle-size tying (m = 2)."""
    return torch.tensor([0.0, x, y])


@torch.no_grad()
def case_study_surfaces(bids: torch.Tensor, xs: np.ndarray, ys: np.ndarray) -> pd.DataFrame:
    """Rev, Rev1, Rev2 (batch means, exact DP) at every (x, y) of the grid, w = 1, boosts tied by bundle size."""
    n, size = bids.shape[1], bids.shape[2]
    tying = Parametrisation.by_bundle_size(n, size.bit_length() - 1)
    rows = []
    for y in ys:
        for x in xs:
            out = evaluate_vvca(bids, tying.params(tied_phi(float(x), float(y)).to(bids)))
            rows.append({
                "x": float(x), "y": float(y), "rev": float(out.revenue.mean()),
                "rev1": float(out.rev1.mean()), "rev2": float(out.rev2.mean()),
            })  # fmt: skip
    return pd.DataFrame(rows)


def case_study_trajectory(
    source: BidSource, cfg: TrainConfig, seed_seq: np.random.SeedSequence, val: BidSource | None = None
) -> pd.DataFrame:
    """Train ZFO-VVCA on the tied parameters phi = (x0, x1, x2) from VCG and return its trajectory in the
    invariant coordinates (x, y) = (x1 - x0, x2 - x0), one row per iteration (row 0 = VCG)."""
    n = source.values.shape[1]
    m = source.values.shape[2] if source.additive else source.values.shape[2].bit_length() - 1
    tying = Parametrisation.by_bundle_size(n, m)
    points = [np.zeros(tying.dim)]

    def record(t: int, phi: torch.Tensor) -> None:
        points.append(phi.detach().cpu().double().numpy().copy())

    train(source, tying, cfg, seed_seq, val_source=val, ckpt_dir=None, progress=True, on_iteration=record)
    phis = np.stack(points)
    return pd.DataFrame({
        "iteration": np.arange(len(phis)), "x": phis[:, 1] - phis[:, 0], "y": phis[:, 2] - phis[:, 0],
        "phi0": phis[:, 0], "phi1": phis[:, 1], "phi2": phis[:, 2],
    })  # fmt: skip


def grid_axes(trajectory: pd.DataFrame, extent: Sequence[float] | None, points: int, margin: float = 0.25):
    """Grid coordinates: the configured extent [xlo, xhi, ylo, yhi], or the trajectory's box (with VCG) plus a
    margin."""
    if extent is None:
        xlo, xhi = min(trajectory["x"].min(), 0.0), max(trajectory["x"].max(), 0.0)
        ylo, yhi = min(trajectory["y"].min(), 0.0), max(trajectory["y"].max(), 0.0)
        pad_x, pad_y = max(margin, margin * (xhi - xlo)), max(margin, margin * (yhi - ylo))
        extent = (xlo - pad_x, xhi + pad_x, ylo - pad_y, yhi + pad_y)
    return np.linspace(extent[0], extent[1], points), np.linspace(extent[2], extent[3], points)


@torch.no_grad()
def rev2_along_boost(bids: torch.Tensor, bidder: int, bundle: int, xs: np.ndarray) -> np.ndarray:
    """Rev2 (batch mean of sum_i b_i(A*_i)) with lambda_bidder(bundle) = x and all else at VCG, for each x."""
    q = len(xs)
    n, size = bids.shape[1], bids.shape[2]
    alphas = bids.new_zeros(q, n)
    boosts = bids.new_zeros(q, n, size)
    boosts[:, bidder, bundle] = torch.as_tensor(xs, dtype=bids.dtype, device=bids.device)
    return rev2_batched(bids, alphas, boosts).double().cpu().numpy()


def gaussian_smoothing(grid: np.ndarray, values: np.ndarray, xs: np.ndarray, sigma: float) -> np.ndarray:
    """E_u f(x + sigma u), u ~ N(0, 1), exactly, for the step function f equal to values[k] between the midpoints
    of grid[k] and its neighbours (the end values extend to +-infinity)."""
    mids = (grid[1:] + grid[:-1]) / 2
    left = np.concatenate([[-np.inf], mids])
    right = np.concatenate([mids, [np.inf]])
    z_r = ndtr((right[None, :] - xs[:, None]) / sigma)
    z_l = ndtr((left[None, :] - xs[:, None]) / sigma)
    return (z_r - z_l) @ values


def smoothing_curves(
    bids: torch.Tensor, bidder: int, bundle: int, low: float, high: float, points: int, sigmas: Sequence[float]
) -> pd.DataFrame:
    """Rev2 on a fine grid over [low - 5 max sigma, high + 5 max sigma] and Rev2_sigma on [low, high]."""
    pad = 5 * max(sigmas)
    step = (high - low) / (points - 1)
    fine = np.arange(low - pad, high + pad + step / 2, step)
    values = rev2_along_boost(bids, bidder, bundle, fine)
    xs = np.linspace(low, high, points)
    out = {"x": xs, "rev2": rev2_along_boost(bids, bidder, bundle, xs)}
    for sigma in sigmas:
        out[f"rev2_sigma={sigma:g}"] = gaussian_smoothing(fine, values, xs, sigma)
    return pd.DataFrame(out)
