"""The single-item sweep figure: sweep trials and, for a method run without a sweep, its training path."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from pipeline_lib.report.figures_single_item import plot_sweeps


def test_a_training_path_is_drawn_with_its_deployed_iterate_starred():
    history = pd.DataFrame(
        {"val_revenue": [0.60, 0.61, 0.605], "val_regret": [2e-3, 1.2e-3, 9e-4], "selected": [False, False, True]}
    )
    no_sweep = {"trials": [], "selected_trial": None}
    fig = plot_sweeps(
        {"uniform": {"regretnet": no_sweep}}, {"uniform": 0.6125}, 1e-3, {"uniform": {"regretnet": history}}
    )
    ax = fig.axes[0]
    (path,) = [ln for ln in ax.lines if ln.get_label() == "regretnet training path"]
    assert np.allclose(path.get_xdata(), history["val_regret"]) and np.allclose(
        path.get_ydata(), history["val_revenue"]
    )
    (star,) = [c for c in ax.collections if c.get_label() == "regretnet deployed"]
    assert np.allclose(star.get_offsets(), [[9e-4, 0.605]])
    assert {ln.get_label() for ln in ax.lines} >= {"Myerson optimum 0.6125", "regret budget 0.001"}
    assert "regretnet trials" not in {c.get_label() for c in ax.collections}  # no sweep, no trial marker
    plt.close(fig)
