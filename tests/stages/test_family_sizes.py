"""Families added through config alone: every single-item distribution with its own ``n_bidders`` samples, trains
both learned methods (MyersonNet, RegretNet from it) and evaluates them, with no code change (stages in process,
tiny budgets); the workflow's dry run of the same families builds every job."""

from __future__ import annotations

import json

import pytest

from pipeline_lib.core.data import write_valuations
from pipeline_lib.core.settings import single_item_settings

U01 = {"distribution": "uniform", "low": 0.0, "high": 1.0}
FAMILIES = {  # each of the schema's single-item distributions, with three bidders where n is not implied
    "uni3": {**U01, "n_bidders": 3},
    "exp3": {"distribution": "exponential", "mean": 3.0, "n_bidders": 3},
    "lat3": {"distribution": "latent", "d": 1, "sigma_z": 1.0, "sigma_eps": 0.05, "w_mode": "fixed", "n_bidders": 3},
    "het3": {"distribution": "hetero", "n_bidders": 3},
    "logn3": {"distribution": "lognormal", "mu": 0.0, "sigma": 0.5, "rho": 0.3, "n_bidders": 3},
    "mix3": {
        "distribution": "mixture",
        "components": [U01, {"distribution": "exponential", "mean": 0.5}],
        "weights": [0.5, 0.5],
        "n_bidders": 3,
    },
    "asym3": {"distribution": "per_bidder", "bidders": [U01, {**U01, "high": 2.0}, {"distribution": "exponential"}]},
}
ROWS = {"train": 192, "val": 48, "test": 32}
CHECK = {"base_seed": 3, "rows": ROWS}
EVAL = {"grid": 51, "refine_steps": 0, "bootstrap": 10, "hardened": False}


@pytest.mark.parametrize("name", sorted(FAMILIES))
def test_a_family_with_its_own_bidder_count_samples_trains_and_evaluates_both_learned_methods(
    name, tmp_path, monkeypatch
):
    from pipeline_lib.stages import single_item_learned as sl

    monkeypatch.setenv("PIPELINE_DEVICE", "cpu")
    setting = single_item_settings({"single_item": {"families": {name: FAMILIES[name]}}})[name]
    assert setting.n == 3
    data = {}
    for split, rows in ROWS.items():
        data[split] = str(tmp_path / f"{split}.parquet")
        write_valuations(data[split], setting, split, base_seed=3, num_rows=rows, row_group_size=64)
    common = {"family": name, "family_cfg": FAMILIES[name], "base_seed": 3, "data_check": CHECK}
    out = {m: {k: str(tmp_path / f"{m}_{k}") for k in ("model", "history", "metrics")} for m in ("mnet", "rnet")}
    sl.single_item_learned_train(data["train"], data["val"], out["mnet"], method="myersonnet", seed_index=0,
                                 training={"iterations": 4, "eval_every": 2, "val_profiles": 48, "batch_size": 64,
                                           "softmax_iterations": 2}, **common)  # fmt: skip
    training = {"iterations": 2, "eval_every": 2, "val_profiles": 16, "val_grid": 11, "batch_size": 32,
                "hidden": [8, 8]}  # fmt: skip
    start = str(tmp_path / "start.pt")
    sl.regretnet_start(data["train"], data["val"], start, training=training, teacher_path=out["mnet"]["model"],
                       start={"teacher": "myersonnet", "iterations": 4, "batch_size": 32}, **common)  # fmt: skip
    files = sl.RegretNetSweepFiles(
        train=data["train"], val=data["val"], start=start, best=str(tmp_path / "best.json"),
        csv=str(tmp_path / "trials.csv"), json=str(tmp_path / "trials.json"),
    )  # fmt: skip
    sweep = {"n_trials": 0, "budget": 1e-3, "val_profiles": 16, "val_grid": 11, "max_failed_trials": 1}
    sl.regretnet_sweep(files, training=training, sweep=sweep, **common)
    sl.single_item_learned_train(data["train"], data["val"], out["rnet"], method="regretnet", seed_index=0,
                                 training=training, best_path=files.best, start_path=start, **common)  # fmt: skip
    for key, method in (("mnet", "myersonnet"), ("rnet", "regretnet")):
        path = str(tmp_path / f"{key}_eval.json")
        sl.single_item_learned_evaluate(out[key]["model"], data["test"], path, family=name, method=method,
                                        family_cfg=FAMILIES[name], evaluation=EVAL, seed_index=0,
                                        data_check=CHECK)  # fmt: skip
        record = json.loads(open(path).read())
        assert record["n_profiles"] == ROWS["test"] and record["metrics"]["regret_mean"]["value"] >= 0.0
    assert record["metrics"]["ir_violation_rate"]["value"] == 0.0  # RegretNet: p_i <= b_i a_i by construction
