"""Stage ama_run on small stored splits: the run starts from the lifted VVCA and never ends below it on validation,
its record carries the DSIC and IR checks, and the stored AMA reproduces the recorded test revenue."""

from __future__ import annotations

from dataclasses import asdict

import pytest
import torch

from pipeline_lib.combinatorial import deterministic_ama as ama
from pipeline_lib.combinatorial.starts import myerson_shaped_vvca
from pipeline_lib.core import io
from pipeline_lib.core.data import read_valuations, write_valuations
from pipeline_lib.core.settings import Setting
from pipeline_lib.stages.ama import AmaFiles, ama_run
from pipeline_lib.vvca.bids import BidSource
from pipeline_lib.vvca.config import TrainConfig
from pipeline_lib.vvca.evaluate import evaluate_on

ROWS = {"train": 2000, "val": 500, "test": 1000}


@pytest.mark.parametrize("method", ["zfo_ama_sym", "zfo_ama"])
def test_ama_run_starts_at_the_lifted_vvca_and_records_its_checks(tmp_path, method: str) -> None:
    setting = Setting("2x2_A", "combinatorial", 2, 2, "A", {"distribution": "A"})
    paths = {}
    for split, rows in ROWS.items():
        paths[split] = str(tmp_path / f"{split}.parquet")
        write_valuations(paths[split], setting, split, base_seed=3, num_rows=rows, row_group_size=256)
    vvca = myerson_shaped_vvca(2, 2, "A")  # stands in for ZFO-VVCA+'s run: per-item Myerson
    io.save_torch({"alpha": vvca.alpha, "boosts": vvca.boosts}, str(tmp_path / "plus.pt"))
    out = tmp_path / "results" / "combinatorial" / "2x2_A" / method / "seed0"
    files = AmaFiles(
        **paths, vvca_plus=str(tmp_path / "plus.pt"), params=str(out / "params.pt"),
        history=str(out / "history.parquet"), metrics=str(out / "metrics.json"),
    )  # fmt: skip
    cfg = TrainConfig(lr=0.01, q=4, sigma=0.01, iterations=20, batch_size=128, method=method, eval_every=10)
    record = ama_run(
        files, setting="2x2_A", method=method, seed_index=0, n=2, m=2, base_seed=3, config=asdict(cfg),
        data_check={"base_seed": 3, "rows": ROWS}, distribution="A", restarts=1,
        search={"grid_points": 5, "grid_profiles": 500, "steps": [0.1], "rounds": 1},  # combinatorial.ama.search
    )  # fmt: skip
    val = BidSource.from_valuation_set(read_valuations(paths["val"]))
    lifted_val = evaluate_on(val, vvca)["revenue"]["mean"]  # the VVCA's own dynamic program
    assert record["start_candidates"]["vvca_plus"] == pytest.approx(lifted_val, abs=1e-5)
    assert record["best_val_revenue"] >= lifted_val - 1e-6
    assert record["dsic_check"]["violations"] == 0 and record["dsic_check"]["misreports"] == 1000 * 2 * 8
    assert record["ir"]["violations"] == 0
    stored = io.load_torch(files.params)
    assert float(stored["boosts"][0]) == 0.0 and stored["boosts"].shape == (9,)
    test = BidSource.from_valuation_set(read_valuations(paths["test"]))
    params = ama.AMAParams(stored["alpha"], stored["boosts"])
    again = ama.evaluate_source(test, params, ama.outcome_bundles(2, 2))["revenue"]["mean"]
    assert again == pytest.approx(record["test_revenue"]["mean"], abs=1e-6)
    assert torch.isfinite(stored["phi"]).all()
