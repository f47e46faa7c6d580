"""Figures 1-3 of the ZFO-VVCA paper (spec Part B section 10): computation and plotting (matplotlib, Agg).

* Fig. 1: test-set-free training curves: the revenue on the fixed validation set every K iterations (and the
  minibatch revenue, smoothed) of ZFO-VVCA against BBBVVCA and FO-VVCA, one panel per setting.
* Fig. 2: the 2x2(A) case study. Weights fixed (w = 1) and boosts tied by bundle size into three families,
  lambda_i(empty) = x0, lambda_i({j}) = x1, lambda_i({1,2}) = x2 for both bidders. Adding a constant to every
  boost changes neither allocations nor payments, so the mechanism depends on (x, y) = (x1 - x0, x2 - x0) only;
  Rev(x, y), Rev1(x, y) and Rev2(x, y) (Eq. 5) are drawn over a grid of (x, y) on a fixed dataset, and the
  trajectory of ZFO-VVCA trained on the tied parameters (same code as the full runs, from VCG x = y = 0) is drawn
  on each panel in these coordinates.
* Fig. 3: Rev2 as one boost lambda_i(S) = x varies with all other parameters at VCG, and its Gaussian smoothing
  Rev2_sigma(x) = E_u Rev2(x + sigma u), u ~ N(0, 1) (Eq. 8) for three sigma. On a finite dataset Rev2 is a
  step function; the smoothing is computed exactly for the step function sampled on a fine grid
  (piecewise constant between midpoints): Rev2_sigma(x) = sum_k f_k [Phi((r_k - x)/sigma) - Phi((l_k - x)/sigma)].
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import torch  # noqa: E402
from scipy.special import ndtr  # noqa: E402

from pipeline_lib.core.data import read_valuations  # noqa: E402
from pipeline_lib.core.provenance import atomic_path  # noqa: E402
from pipeline_lib.vvca.mechanism import evaluate_vvca, rev2_batched  # noqa: E402
from pipeline_lib.vvca.zfo import (  # noqa: E402
    BidSource,
    Parametrisation,
    TrainConfig,
    train,
)

METHOD_STYLE = {
    "zfo_vvca": ("ZFO-VVCA", "tab:red"),
    "fo_vvca": ("FO-VVCA", "tab:blue"),
    "bbbvvca": ("BBBVVCA (approx.)", "tab:green"),
}


def save_figure(fig: plt.Figure, out_png: str | os.PathLike, out_pdf: str | os.PathLike) -> None:
    """Write a figure as PNG and PDF, each atomically; close it."""
    for path, fmt in ((out_png, "png"), (out_pdf, "pdf")):
        with atomic_path(path) as tmp:
            fig.savefig(tmp, format=fmt, dpi=150, bbox_inches="tight")
    plt.close(fig)


def write_parquet(frame: pd.DataFrame, path: str | os.PathLike) -> None:
    with atomic_path(path) as tmp:
        frame.to_parquet(tmp, index=False)


# ------------------------------------------------------------------------------------------------- Fig. 1
def figure1(
    histories: Mapping[tuple[str, str], Sequence[pd.DataFrame]],
    settings: Sequence[str],
    out_png: str | os.PathLike,
    out_pdf: str | os.PathLike,
    smooth: int = 50,
) -> None:
    """Revenue during training; ``histories[(setting, method)]`` holds one history frame per seed.

    Solid line with markers: validation revenue (mean over seeds, band = min..max); thin line: minibatch revenue
    (rolling mean over ``smooth`` iterations, mean over seeds).
    """
    fig, axes = plt.subplots(1, len(settings), figsize=(5.2 * len(settings), 3.8), squeeze=False)
    for ax, setting in zip(axes[0], settings, strict=True):
        for method, (label, color) in METHOD_STYLE.items():
            frames = histories.get((setting, method))
            if not frames:
                continue
            val = pd.concat([f.dropna(subset=["val_revenue"]).set_index("iteration")["val_revenue"] for f in frames],
                            axis=1)  # fmt: skip
            ax.plot(val.index, val.mean(axis=1), marker="o", ms=3, color=color, label=f"{label} (validation)")
            if val.shape[1] > 1:
                ax.fill_between(val.index, val.min(axis=1), val.max(axis=1), color=color, alpha=0.15)
            train_rev = pd.concat(
                [f.set_index("iteration")["train_revenue"].rolling(smooth, min_periods=1).mean() for f in frames],
                axis=1,
            ).mean(axis=1)
            ax.plot(train_rev.index, train_rev, color=color, lw=0.8, alpha=0.5)
        ax.set_title(setting.replace("_", "(") + ")")
        ax.set_xlabel("training iteration")
        ax.set_ylabel("revenue")
        ax.grid(alpha=0.3)
    axes[0][0].legend(fontsize=8)
    fig.suptitle("Revenue during training (thin: minibatch, rolling mean)", fontsize=10)
    save_figure(fig, out_png, out_pdf)


# ------------------------------------------------------------------------------------------------- Fig. 2
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


def plot_case_study(
    surface: pd.DataFrame, trajectory: pd.DataFrame, out_png: str, out_pdf: str, setting: str = "2x2_A"
) -> None:
    """Three contour panels (Rev, Rev1, Rev2) with the ZFO trajectory drawn on each."""
    xs, ys = np.sort(surface["x"].unique()), np.sort(surface["y"].unique())
    fig, axes = plt.subplots(1, 3, figsize=(16, 4.6), layout="constrained")
    titles = {"rev": "Rev = Rev1 + Rev2", "rev1": "Rev1 (continuous part)", "rev2": "Rev2 (piecewise constant)"}
    for ax, (key, title) in zip(axes, titles.items(), strict=True):
        z = surface.pivot(index="y", columns="x", values=key).loc[ys, xs].to_numpy()
        cs = ax.contourf(xs, ys, z, levels=30, cmap="viridis")
        fig.colorbar(cs, ax=ax)
        ax.plot(trajectory["x"], trajectory["y"], color="white", lw=1.2, label="ZFO-VVCA trajectory")
        ax.plot(trajectory["x"].iloc[0], trajectory["y"].iloc[0], "o", color="white", mec="k", label="start (VCG)")
        ax.plot(trajectory["x"].iloc[-1], trajectory["y"].iloc[-1], "*", color="red", ms=12, mec="k", label="end")
        ax.set_title(title)
        ax.set_xlabel(r"$x = \lambda(\{j\}) - \lambda(\emptyset)$")
        ax.set_ylabel(r"$y = \lambda(\{1,2\}) - \lambda(\emptyset)$")
    axes[0].legend(fontsize=8, loc="lower right")
    fig.suptitle(f"{setting} case study: w = 1, boosts tied by bundle size", fontsize=10)
    save_figure(fig, out_png, out_pdf)


# ------------------------------------------------------------------------------------------------- Fig. 3
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


def plot_smoothing(curves: pd.DataFrame, label: str, out_png: str, out_pdf: str) -> None:
    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    ax.plot(curves["x"], curves["rev2"], drawstyle="steps-mid", color="k", lw=1.4, label="Rev2", zorder=3)
    for col, color in zip([c for c in curves.columns if c.startswith("rev2_sigma=")],
                          ("tab:orange", "tab:blue", "tab:green", "tab:purple"), strict=False):  # fmt: skip
        ax.plot(
            curves["x"],
            curves[col],
            color=color,
            lw=1.4,
            alpha=0.9,
            label=col.replace("rev2_sigma=", r"Rev2$_\sigma$, σ="),
        )
    ax.set_xlabel(label)
    ax.set_ylabel("Rev2 (welfare of A*)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    save_figure(fig, out_png, out_pdf)


def describe_boost(bidder: int, bundle: int, m: int) -> str:
    items = [str(j + 1) for j in range(m) if bundle >> j & 1]
    return (
        rf"$\lambda_{{{bidder + 1}}}(\{{{','.join(items)}\}})$" if items else rf"$\lambda_{{{bidder + 1}}}(\emptyset)$"
    )


# ------------------------------------------------------------------------------------------ entry points
def make_figure1(
    history_paths: Sequence[str], keys: Sequence[Sequence[str]], settings: Sequence[str], out_png: str, out_pdf: str
) -> None:
    """Fig. 1 from history files; ``keys[k] = (setting, method)`` of ``history_paths[k]``."""
    histories: dict[tuple[str, str], list[pd.DataFrame]] = {}
    for path, (setting, method) in zip(history_paths, keys, strict=True):
        histories.setdefault((setting, method), []).append(pd.read_parquet(path))
    figure1(histories, settings, out_png, out_pdf)


def _load(path: str, setting: str, split: str, device: torch.device, rows: int | None = None) -> BidSource:
    vs = read_valuations(path, setting=setting, split=split)
    if rows is not None:
        vs.values = vs.values[:rows]
    return BidSource.from_valuation_set(vs, device)


def make_figure2(
    *,
    setting: str,
    train_path: str,
    val_path: str,
    cfg: TrainConfig,
    seed_seq: np.random.SeedSequence,
    grid_points: int,
    extent: Sequence[float] | None,
    n_profiles: int,
    device: torch.device,
    out_png: str,
    out_pdf: str,
    out_surface: str,
    out_trajectory: str,
) -> None:
    """Fig. 2: train the tied ZFO-VVCA, then Rev / Rev1 / Rev2 on a grid of the first ``n_profiles`` validation
    profiles covering the trajectory; writes the figure and both data tables."""
    source = _load(train_path, setting, "train", device)
    val = _load(val_path, setting, "val", device, n_profiles)
    if source.values.shape[1] != 2 or val.bids(slice(0, 1)).shape[-1] != 4:
        raise ValueError(f"the Fig. 2 case study needs a 2x2 setting, got {setting}")
    trajectory = case_study_trajectory(source, cfg, seed_seq)
    xs, ys = grid_axes(trajectory, extent, grid_points)
    surface = case_study_surfaces(val.bids(slice(None)), xs, ys)
    write_parquet(trajectory, out_trajectory)
    write_parquet(surface, out_surface)
    plot_case_study(surface, trajectory, out_png, out_pdf, setting)


def make_figure3(
    *,
    setting: str,
    data_path: str,
    split: str,
    bidder: int,
    bundle: int,
    low: float,
    high: float,
    points: int,
    sigmas: Sequence[float],
    n_profiles: int,
    device: torch.device,
    out_png: str,
    out_pdf: str,
    out_curves: str,
) -> None:
    """Fig. 3: Rev2 and Rev2_sigma along one boost on the first ``n_profiles`` profiles of a dataset."""
    source = _load(data_path, setting, split, device, n_profiles)
    bids = source.bids(slice(None))
    m = bids.shape[-1].bit_length() - 1
    if not (0 <= bidder < bids.shape[1] and 0 <= bundle < bids.shape[-1]):
        raise ValueError(f"bidder {bidder} / bundle {bundle} out of range for {setting}")
    curves = smoothing_curves(bids, bidder, bundle, low, high, points, sigmas)
    write_parquet(curves, out_curves)
    plot_smoothing(curves, f"boost {describe_boost(bidder, bundle, m)} ({setting}, {n_profiles} profiles)", out_png,
                   out_pdf)  # fmt: skip
