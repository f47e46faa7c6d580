"""Baseline evaluation on a stored test set: VCG with additive values is the per-item second-price auction, the
summary statistics are the textbook ones, and the stage writes a complete JSON record."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch

from pipeline_lib.core.data import DataError, read_valuations, write_valuations
from pipeline_lib.core.settings import Setting
from pipeline_lib.vvca.evaluate import evaluate_baseline_file, run_baseline


def _dataset(tmp_path, name: str, n: int, m: int, distribution: str, rows: int = 300):
    params = {"distribution": distribution, **({"width_rule": "size_over_m"} if distribution == "D" else {})}
    setting = Setting(name, "combinatorial", n, m, distribution, params)
    path = tmp_path / name / "test.parquet"
    write_valuations(path, setting, "test", base_seed=5, num_rows=rows, row_group_size=128)
    return path


def test_vcg_on_additive_values_is_the_per_item_second_price_auction(tmp_path):
    path = _dataset(tmp_path, "3x4_B", 3, 4, "B")
    record = evaluate_baseline_file(path, "vcg", setting="3x4_B", block_rows=100)
    items = read_valuations(path).values.astype(np.float64)  # (N, n, m)
    second = np.sort(items, axis=1)[:, -2, :].sum(1)
    rev = record["test_revenue"]
    assert rev["n_profiles"] == 300
    assert rev["mean"] == pytest.approx(second.mean(), abs=1e-9)
    assert rev["std"] == pytest.approx(second.std(ddof=1), abs=1e-9)
    assert rev["se"] == pytest.approx(second.std(ddof=1) / math.sqrt(300), abs=1e-12)
    assert record["welfare"]["mean"] == pytest.approx(items.max(axis=1).sum(1).mean(), abs=1e-9)
    winner = items.argmax(axis=1)  # (N, m)
    second_per_item = np.sort(items, axis=1)[:, -2]
    per_bidder = [(second_per_item * (winner == i)).sum(1).mean() for i in range(3)]
    assert record["payments_per_bidder"] == pytest.approx(per_bidder, abs=1e-9)
    assert record["ir"]["violations"] == 0
    assert (record["setting"], record["baseline"], record["n"], record["m"]) == ("3x4_B", "vcg", 3, 4)


def test_item_myerson_beats_vcg_and_rejects_bundle_values(tmp_path):
    path = _dataset(tmp_path, "2x3_A", 2, 3, "A", rows=2000)
    vcg = evaluate_baseline_file(path, "vcg")
    myerson = evaluate_baseline_file(path, "item_myerson")
    assert myerson["ir"]["violations"] == 0
    assert myerson["test_revenue"]["mean"] > vcg["test_revenue"]["mean"]
    d_path = _dataset(tmp_path, "2x2_D", 2, 2, "D")
    with pytest.raises(ValueError):
        evaluate_baseline_file(d_path, "item_myerson")
    assert evaluate_baseline_file(d_path, "vcg")["ir"]["violations"] == 0


def test_stage_writes_the_record_with_provenance(tmp_path):
    path = _dataset(tmp_path, "2x2_D", 2, 2, "D")
    out = tmp_path / "results" / "baselines" / "2x2_D" / "vcg.json"
    run_baseline(path, out, "vcg", setting="2x2_D", device=torch.device("cpu"), threads=1)
    record = json.loads(out.read_text())
    for key in ("setting", "baseline", "seed", "test_revenue", "payments_per_bidder", "welfare", "versions", "device"):
        assert key in record
    assert record["ir"]["violations"] == 0
    with pytest.raises(DataError):
        evaluate_baseline_file(path, "vcg", setting="another_setting")
