"""Figures 1-3 of the ZFO-VVCA paper (docs/methods.md#table-2-and-figures): plotting (matplotlib, Agg); the
computations of Figs. 2 and 3 are in :mod:`pipeline_lib.vvca.case_study`.

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

from collections.abc import Mapping, Sequence

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from pipeline_lib.core import methods  # noqa: E402

METHOD_COLORS = {
    "zfo_vvca": "tab:red",
    "fo_vvca": "tab:blue",
    "bbbvvca": "tab:green",
    "zfo_vvca_plus": "tab:purple",
    "zfo_ama_sym": "tab:olive",
    "zfo_ama": "tab:brown",
}


def figure1(
    histories: Mapping[tuple[str, str], Sequence[pd.DataFrame]],
    settings: Sequence[str],
    smooth: int = 50,
) -> plt.Figure:
    """Revenue during training; ``histories[(setting, method)]`` holds one history frame per seed.

    Solid line with markers: validation revenue (mean over seeds, band = min..max); thin line: minibatch revenue
    (rolling mean over ``smooth`` iterations, mean over seeds).
    """
    fig, axes = plt.subplots(1, len(settings), figsize=(5.2 * len(settings), 3.8), squeeze=False)
    for ax, setting in zip(axes[0], settings, strict=True):
        for method, color in METHOD_COLORS.items():
            label = methods.label(method)
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
    return fig


# ------------------------------------------------------------------------------------------------- Fig. 2
def plot_case_study(surface: pd.DataFrame, trajectory: pd.DataFrame, setting: str = "2x2_A") -> plt.Figure:
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
    return fig


# ------------------------------------------------------------------------------------------------- Fig. 3
def plot_smoothing(curves: pd.DataFrame, label: str) -> plt.Figure:
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
    return fig


def describe_boost(bidder: int, bundle: int, m: int) -> str:
    items = [str(j + 1) for j in range(m) if bundle >> j & 1]
    return (
        rf"$\lambda_{{{bidder + 1}}}(\{{{','.join(items)}\}})$" if items else rf"$\lambda_{{{bidder + 1}}}(\emptyset)$"
    )
