"""Minibatches of the learned single-item mechanisms: rows, or columns resampled independently.

Oracles: set membership of every drawn value in its own training column; the correlation of two identical columns
(1 in the rows, about 0 after resampling); a chi-square test that every training value of a column is drawn
uniformly often.
"""

from __future__ import annotations

import numpy as np
import torch
from scipy import stats

from pipeline_lib.single_item.learning.minibatches import minibatch, resampled_profiles


def _columns_copy(n_rows: int = 200) -> torch.Tensor:
    x = torch.arange(n_rows, dtype=torch.float32)
    return torch.stack([x, x + 1000.0, x], dim=1)  # column 2 equals column 0: perfectly correlated


def test_each_resampled_column_draws_from_its_own_training_column():
    values = _columns_copy()
    batch = resampled_profiles(values, 5000, torch.Generator().manual_seed(0))
    assert batch.shape == (5000, 3)
    for j in range(3):
        assert set(batch[:, j].tolist()) <= set(values[:, j].tolist())


def test_resampling_breaks_the_dependence_between_columns():
    values = _columns_copy()
    batch = resampled_profiles(values, 20000, torch.Generator().manual_seed(1)).numpy()
    assert np.corrcoef(values.numpy()[:, 0], values.numpy()[:, 2])[0, 1] == 1.0
    assert abs(np.corrcoef(batch[:, 0], batch[:, 2])[0, 1]) < 0.03  # independent: |r| ~ 1/sqrt(20000) = 0.007


def test_every_training_value_is_drawn_equally_often():
    values = _columns_copy(50)
    batch = resampled_profiles(values, 50000, torch.Generator().manual_seed(2)).numpy()
    counts = np.bincount(batch[:, 1].astype(int) - 1000, minlength=50)
    assert stats.chisquare(counts).pvalue > 1e-3


def test_without_resampling_a_minibatch_is_the_indexed_rows():
    values = _columns_copy()
    idx = torch.tensor([5, 17, 3])
    assert torch.equal(minibatch(values, idx, torch.Generator(), False), values[idx])
    assert minibatch(values, idx, torch.Generator(), True).shape == (3, 3)
