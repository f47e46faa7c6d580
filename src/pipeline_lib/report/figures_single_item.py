"""Figures of the single-item study.

* Sweep figure: validation revenue against measured validation regret for every Optuna trial, one panel per
  family, with the selected trial marked and the known optimum (Myerson) as a dashed line: trials above the line
  are revenue bought with manipulability.
* Response figure: allocation a_1 and payment p_1 of one bidder as its bid varies over [0, B] with the other bids
  fixed (at the 0.5, 0.6, ... quantiles of the pooled test values), learned mechanism against the family's correct
  truthful baseline (Myerson, or Vickrey for latent). A truthful mechanism has a monotone a_1 and the threshold
  payment; departures show where the learned mechanism can be manipulated.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402


def _panels(k: int, rows: int = 1) -> tuple[Any, np.ndarray]:
    fig, axes = plt.subplots(rows, k, figsize=(4.0 * k, 3.4 * rows), squeeze=False)
    return fig, axes


SWEEP_STYLE = {"learned": ("o", "tab:blue"), "regretnet": ("s", "tab:orange")}


def plot_sweeps(
    trials: Mapping[str, Mapping[str, Mapping[str, Any]]],
    optima: Mapping[str, float | None],
    budget: float | None = None,
    paths: Mapping[str, Mapping[str, Any]] | None = None,
) -> plt.Figure:
    """Validation revenue against honestly measured mean per-bidder regret of every complete sweep trial, per
    family and learned method (``trials``: family -> method -> trials document); the selected trial circled, the
    optimum and the regret budget as lines (log-scaled regret axis). ``paths``: family -> method -> a training
    history (columns val_revenue, val_regret, selected), drawn as the path of its validation scores with the
    deployed iterate starred (the only points of a method run without a sweep)."""
    fams = list(trials)
    cols = min(2, len(fams))
    rows = math.ceil(len(fams) / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(5.6 * cols, 4.2 * rows), squeeze=False, layout="constrained")
    for ax in axes.flat[len(fams) :]:
        ax.set_visible(False)
    for ax, fam in zip(axes.flat, fams, strict=False):
        for method, blob in trials[fam].items():
            marker, color = SWEEP_STYLE.get(method, ("^", "tab:green"))
            done = [t for t in blob["trials"] if t["state"] == "COMPLETE"]
            if not done:  # a method run without a sweep: its training path only
                continue
            key = "val_regret_mean" if any("val_regret_mean" in t["user_attrs"] for t in done) else "val_regret"
            x = [max(t["user_attrs"].get(key, math.nan), 1e-7) for t in done]
            y = [t["user_attrs"].get("val_revenue", math.nan) for t in done]
            ax.scatter(x, y, marker=marker, color=color, s=22, alpha=0.8, label=f"{method} trials")
            chosen = blob.get("selected_trial")
            pick = [t for t in done if t["number"] == chosen] if chosen is not None else []
            if not pick and done and method == "learned":
                pick = [max(done, key=lambda t: t["value"])]
            for t in pick:
                ax.scatter([max(t["user_attrs"].get(key, math.nan), 1e-7)], [t["user_attrs"].get("val_revenue")],
                           s=140, facecolors="none", edgecolors="red", linewidths=1.5)  # fmt: skip
        for method, hist in (paths or {}).get(fam, {}).items():
            color = SWEEP_STYLE.get(method, ("^", "tab:green"))[1]
            x, y = np.maximum(hist["val_regret"].to_numpy(float), 1e-7), hist["val_revenue"].to_numpy(float)
            ax.plot(x, y, "-", marker=".", color=color, lw=0.8, alpha=0.6, label=f"{method} training path")
            chosen = hist["selected"].to_numpy(bool)
            ax.scatter(x[chosen], y[chosen], marker="*", s=120, color=color, edgecolors="k", label=f"{method} deployed")
        opt = optima.get(fam)
        if opt is not None:
            ax.axhline(opt, ls="--", c="k", lw=1, label=f"Myerson optimum {opt:.4f}")
        if budget is not None:
            ax.axvline(budget, ls=":", c="red", lw=1, label=f"regret budget {budget:g}")
        ax.set_xscale("log")
        ax.set_title(fam)
        ax.set_xlabel("validation mean per-bidder regret (measured)")
        ax.set_ylabel("validation revenue")
        ax.legend(fontsize=7, loc="lower right")
    fig.suptitle("Sweep trials and training paths: revenue against honestly measured regret (selected circled)")
    return fig


def response_curves(mech: Any, others: np.ndarray, grid: np.ndarray, bidder: int = 0) -> tuple[np.ndarray, ...]:
    """a_i(b, v_-i) and p_i(b, v_-i) for bids b on ``grid``, the other bids fixed at ``others`` (n - 1,)."""
    n = len(others) + 1
    bids = np.repeat(np.insert(others, bidder, 0.0)[None, :], len(grid), 0)
    bids[:, bidder] = grid
    with torch.no_grad():
        a, p = mech(torch.as_tensor(bids, dtype=torch.float64))
    assert a.shape[1] == n
    return a[:, bidder].numpy(), p[:, bidder].numpy()


def plot_responses(families: Mapping[str, Mapping[str, Any]], points: int = 501) -> plt.Figure:
    """``families``: name -> {"learned": {name: mechanism}, "reference": mechanism, "reference_name", "values"}:
    every learned mechanism against the reference (Myerson where known), one bidder's allocation and payment."""
    fams = list(families)
    fig, axes = _panels(len(fams), rows=2)
    for j, fam in enumerate(fams):
        spec = families[fam]
        values = np.asarray(spec["values"], np.float64)
        n = values.shape[1]
        others = np.quantile(values.reshape(-1), np.linspace(0.5, 0.8, n - 1)) if n > 1 else np.zeros(0)
        upper = float(spec.get("upper", np.quantile(values, 0.999)))
        grid = np.linspace(0.0, upper, points)
        curves = [*((mech, name, "-") for name, mech in spec["learned"].items())]
        curves.append((spec["reference"], spec["reference_name"], "k--"))
        for mech, name, style in curves:
            a, p = response_curves(mech, others, grid)
            axes[0, j].plot(grid, a, style, label=name)
            axes[1, j].plot(grid, p, style, label=name)
        for i in range(2):
            for o in others:
                axes[i, j].axvline(o, c="grey", lw=0.5, alpha=0.5)
        axes[0, j].set_title(f"{fam}: others bid {np.array2string(others, precision=2)}", fontsize=8)
        axes[0, j].set_ylabel("allocation a_1")
        axes[1, j].set_ylabel("payment p_1")
        axes[1, j].set_xlabel("bid b_1")
        axes[0, j].legend(fontsize=7)
    fig.suptitle("One bidder's allocation and payment as its bid varies, others fixed")
    return fig
