"""Baseline evaluation on a stored test set: VCG with additive values is the per-item second-price auction, the
summary statistics are the textbook ones, and the stage writes a complete JSON record."""

from __future__ import annotations

import json
import math
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import torch

from pipeline_lib.core.data import DataError, read_valuations, write_valuations
from pipeline_lib.core.settings import Setting
from pipeline_lib.stages.combinatorial import RunFiles, combinatorial_baseline, zfo_run
from pipeline_lib.vvca.zfo import HISTORY_COLUMNS


def _dataset(tmp_path, name: str, n: int, m: int, distribution: str, rows: int = 300):
    params = {"distribution": distribution, **({"width_rule": "size_over_m"} if distribution == "D" else {})}
    setting = Setting(name, "combinatorial", n, m, distribution, params)
    path = tmp_path / name / "test.parquet"
    write_valuations(path, setting, "test", base_seed=5, num_rows=rows, row_group_size=128)
    return path


def check(test_rows: int = 300, base_seed: int = 5, train: int = 256, val: int = 64) -> dict:
    """The workflow's data_check param: the config's base seed and split sizes."""
    return {"base_seed": base_seed, "rows": {"train": train, "val": val, "test": test_rows}}


def evaluate_baseline_file(path, baseline: str, setting: str | None = None, rows: int = 300, **kwargs) -> dict:
    """Run the stage into a scratch file next to the dataset and return the record."""
    setting = setting or path.parent.name
    return combinatorial_baseline(
        str(path), str(path.with_name(f"{baseline}.json")), baseline=baseline, setting=setting,
        data_check=check(rows), **kwargs,
    )  # fmt: skip


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
    vcg = evaluate_baseline_file(path, "vcg", rows=2000)
    myerson = evaluate_baseline_file(path, "item_myerson", rows=2000)
    assert myerson["ir"]["violations"] == 0
    assert myerson["test_revenue"]["mean"] > vcg["test_revenue"]["mean"]
    d_path = _dataset(tmp_path, "2x2_D", 2, 2, "D")
    with pytest.raises(ValueError):
        evaluate_baseline_file(d_path, "item_myerson")
    assert evaluate_baseline_file(d_path, "vcg")["ir"]["violations"] == 0


def test_stage_writes_the_record_with_provenance(tmp_path):
    path = _dataset(tmp_path, "2x2_D", 2, 2, "D")
    out = tmp_path / "results" / "baselines" / "2x2_D" / "vcg.json"
    combinatorial_baseline(str(path), str(out), baseline="vcg", setting="2x2_D", data_check=check())
    record = json.loads(out.read_text())
    for key in (
        "setting",
        "method",
        "baseline",
        "seed",
        "data_seed",
        "test_revenue",
        "payments_per_bidder",
        "welfare",
        "versions",
        "device",
    ):
        assert key in record
    assert record["ir"]["violations"] == 0
    with pytest.raises(DataError):
        evaluate_baseline_file(path, "vcg", setting="another_setting")


def test_zfo_run_writes_the_three_outputs_of_the_record(tmp_path, monkeypatch):
    monkeypatch.setenv("PIPELINE_DEVICE", "cpu")
    setting = Setting("2x2_D", "combinatorial", 2, 2, "D", {"distribution": "D", "width_rule": "size_over_m"})
    paths = {}
    for split, rows in (("train", 256), ("val", 64), ("test", 128)):
        paths[split] = str(tmp_path / "results" / f"{split}.parquet")
        write_valuations(paths[split], setting, split, base_seed=3, num_rows=rows)
    out = tmp_path / "results" / "run"
    files = RunFiles(
        **paths, params=str(out / "params.pt"), history=str(out / "history.parquet"), metrics=str(out / "metrics.json")
    )
    cfg = {
        "lr": 0.05,
        "q": 4,
        "sigma": 0.01,
        "iterations": 6,
        "batch_size": 64,
        "method": "fo_vvca",
        "eval_every": 2,
        "checkpoint_every": 2,
    }
    metrics = zfo_run(
        files, setting="2x2_D", method="fo_vvca", seed_index=0, n=2, m=2, base_seed=3, config=cfg,
        data_check=check(128, base_seed=3),
    )  # fmt: skip
    on_disk = json.loads((out / "metrics.json").read_text())
    assert on_disk == json.loads(json.dumps(metrics))
    for key in ("setting", "method", "seed", "label", "run_seed", "test_revenue", "welfare", "ir",
                "wall_time_s", "device", "config", "versions"):  # fmt: skip
        assert key in on_disk
    assert on_disk["test_revenue"]["n_profiles"] == 128 and {"mean", "se", "ci95"} <= set(on_disk["test_revenue"])
    assert on_disk["ir"]["violations"] == 0 and on_disk["config"]["iterations"] == 6
    history = pd.read_parquet(out / "history.parquet")
    assert list(history.columns) == list(HISTORY_COLUMNS)
    assert history["iteration"].tolist() == list(range(7))
    assert history["val_revenue"].notna().tolist() == [True, False, True, False, True, False, True]
    assert not any((tmp_path / "results" / "_ckpt").rglob("state.pt"))  # removed on completion


# --- every consumer checks setting, split, seed and size against the config (issue 14, item 2) ---------------


def test_the_validation_file_copied_over_the_test_file_is_rejected(tmp_path):
    setting = Setting("2x2_A", "combinatorial", 2, 2, "A", {"distribution": "A"})
    test = tmp_path / "2x2_A" / "test.parquet"
    val = tmp_path / "2x2_A" / "val.parquet"
    write_valuations(val, setting, "val", base_seed=5, num_rows=300, row_group_size=128)
    shutil.copy(val, test)  # a user "fixing" a missing file
    with pytest.raises(DataError, match=rf"{test}: metadata 'split' is 'val', expected 'test'"):
        evaluate_baseline_file(test, "vcg")


@pytest.mark.parametrize(
    ("written", "match"),
    [
        ({"base_seed": 6, "num_rows": 300}, r"metadata 'seed' has entropy 6, expected the config's base seed 5"),
        ({"base_seed": 5, "num_rows": 10}, r"metadata 'num_rows' is 10, expected 300"),
    ],
)
def test_a_dataset_of_another_base_seed_or_size_is_rejected_naming_the_key(tmp_path, written, match):
    setting = Setting("2x2_A", "combinatorial", 2, 2, "A", {"distribution": "A"})
    test = tmp_path / "2x2_A" / "test.parquet"
    write_valuations(test, setting, "test", row_group_size=128, **written)
    with pytest.raises(DataError, match=match):
        evaluate_baseline_file(test, "vcg")
    assert not test.with_name("vcg.json").exists()


def test_a_checkpoint_of_other_inputs_is_not_resumed(tmp_path, monkeypatch):
    """Issue 14 item 5: a run that failed after training leaves its last checkpoint; rerun on regenerated data of
    the same config, it must start from scratch (the checkpoint is keyed by the inputs' contents and the code)."""
    import pipeline_lib.stages.combinatorial as stage

    monkeypatch.setenv("PIPELINE_DEVICE", "cpu")
    monkeypatch.chdir(tmp_path)  # relative paths, as in the workflow
    tmp_path = Path(".")
    setting = Setting("2x2_A", "combinatorial", 2, 2, "A", {"distribution": "A"})
    paths = {}
    for split, rows in (("train", 128), ("val", 64), ("test", 64)):
        paths[split] = str(tmp_path / "results" / f"{split}.parquet")
        write_valuations(paths[split], setting, split, base_seed=3, num_rows=rows)
    out = tmp_path / "results" / "run"
    files = RunFiles(
        **paths, params=str(out / "params.pt"), history=str(out / "history.parquet"), metrics=str(out / "metrics.json")
    )
    cfg = {"lr": 0.05, "q": 2, "sigma": 0.01, "iterations": 6, "batch_size": 32, "method": "zfo_vvca",
           "eval_every": 2, "checkpoint_every": 2}  # fmt: skip
    kwargs = {"setting": "2x2_A", "method": "zfo_vvca", "seed_index": 0, "n": 2, "m": 2, "base_seed": 3}
    kwargs.update(config=cfg, data_check=check(64, base_seed=3, train=128, val=64))

    def crash(*args, **kw):
        raise RuntimeError("killed after training")

    with monkeypatch.context() as patch:
        patch.setattr(stage, "evaluate_on", crash)
        with pytest.raises(RuntimeError, match="killed after training"):
            zfo_run(files, **kwargs)
    assert any((tmp_path / "results" / "_ckpt").rglob("state.pt"))
    assert zfo_run(files, **kwargs)["resumed_from_iteration"] == 4  # same inputs: resumes, as after a kill

    with monkeypatch.context() as patch:
        patch.setattr(stage, "evaluate_on", crash)
        with pytest.raises(RuntimeError):
            zfo_run(files, **kwargs)
    values = read_valuations(paths["train"]).values
    values[0, 0, 0] = 0.5 if values[0, 0, 0] != 0.5 else 0.25  # regenerated data (e.g. a changed sampler)
    meta = json.loads(pq.read_schema(paths["train"]).metadata[b"pipeline_lib"])
    column = pa.FixedSizeListArray.from_arrays(pa.array(values.reshape(-1), type=pa.float32()), 4)
    pq.write_table(pa.Table.from_arrays([column], names=["values"]).replace_schema_metadata(
        {b"pipeline_lib": json.dumps(meta)}), paths["train"])  # fmt: skip
    assert zfo_run(files, **kwargs)["resumed_from_iteration"] == 0
    assert not any((tmp_path / "results" / "_ckpt").rglob("state.pt"))


# --- ZFO-VVCA+ reads the ZFO-VVCA run of its seed as its restart from VCG (issue 13) ------------------------------


def _zfo_plus_case(tmp_path):
    """Splits of a 2x2(A) setting, the ZFO-VVCA run of seed 0 on them, and the arguments of a ZFO-VVCA+ run."""
    setting = Setting("2x2_A", "combinatorial", 2, 2, "A", {"distribution": "A"})
    paths = {}
    for split, rows in (("train", 256), ("val", 64), ("test", 128)):
        paths[split] = str(tmp_path / "data" / f"{split}.parquet")
        write_valuations(paths[split], setting, split, base_seed=3, num_rows=rows)

    def files(method: str, **extra) -> RunFiles:
        out = tmp_path / method
        return RunFiles(**paths, params=str(out / "params.pt"), history=str(out / "history.parquet"),
                        metrics=str(out / "metrics.json"), **extra)  # fmt: skip

    cfg = {"lr": 0.05, "q": 4, "sigma": 0.05, "iterations": 8, "batch_size": 64, "eval_every": 2,
           "checkpoint_every": 4}  # fmt: skip
    kwargs = {"setting": "2x2_A", "seed_index": 0, "n": 2, "m": 2, "base_seed": 3, "distribution": "A"}
    kwargs["data_check"] = check(128, base_seed=3, train=256, val=64)
    zfo_run(files("zfo_vvca"), method="zfo_vvca", config={**cfg, "method": "zfo_vvca"}, **kwargs)
    zfo = tmp_path / "zfo_vvca"
    reuse = {"zfo_params": str(zfo / "params.pt"), "zfo_history": str(zfo / "history.parquet"),
             "zfo_metrics": str(zfo / "metrics.json")}  # fmt: skip
    return files, reuse, cfg, kwargs


def _count_training(monkeypatch) -> list:
    import pipeline_lib.stages.combinatorial as stage

    starts = []
    real = stage.train

    def counted(*args, **kw):
        starts.append(kw.get("init_phi"))
        return real(*args, **kw)

    monkeypatch.setattr(stage, "train", counted)
    return starts


@pytest.mark.parametrize("restarts", [1, 2])
def test_zfo_plus_reusing_the_zfo_run_equals_training_its_vcg_restart(tmp_path, monkeypatch, restarts):
    """Reading the ZFO-VVCA run instead of training from VCG changes nothing in ZFO-VVCA+'s outputs (the restart is
    the same computation: same start, hyperparameters, minibatches and directions) and saves that training run."""
    monkeypatch.setenv("PIPELINE_DEVICE", "cpu")
    files, reuse, cfg, kwargs = _zfo_plus_case(tmp_path)
    plus = {**cfg, "method": "zfo_vvca_plus"}
    starts = _count_training(monkeypatch)
    trained = zfo_run(files("trained"), method="zfo_vvca_plus", config=plus, restarts=restarts, **kwargs)
    assert len(starts) == restarts
    starts.clear()
    reused = zfo_run(files("reused", **reuse), method="zfo_vvca_plus", config=plus, restarts=restarts, **kwargs)
    assert len(starts) == restarts - 1  # the restart from VCG was read, not trained
    assert reused["reused_zfo_vvca_run"] and not trained["reused_zfo_vvca_run"]
    for key in ("test_revenue", "test_revenue_last_iterate", "welfare", "best_val_revenue", "start", "restarts"):
        assert reused[key] == trained[key], key
    a, b = (torch.load(tmp_path / name / "params.pt") for name in ("trained", "reused"))
    assert torch.equal(a["alpha"], b["alpha"]) and torch.equal(a["boosts"], b["boosts"])
    history = [pd.read_parquet(tmp_path / name / "history.parquet") for name in ("trained", "reused")]
    pd.testing.assert_frame_equal(*history)


def test_zfo_plus_trains_its_vcg_restart_when_the_zfo_run_has_another_config(tmp_path, monkeypatch, caplog):
    monkeypatch.setenv("PIPELINE_DEVICE", "cpu")
    files, reuse, cfg, kwargs = _zfo_plus_case(tmp_path)
    starts = _count_training(monkeypatch)
    other = {**cfg, "lr": 0.01, "method": "zfo_vvca_plus"}
    record = zfo_run(files("plus", **reuse), method="zfo_vvca_plus", config=other, restarts=1, **kwargs)
    assert len(starts) == 1 and not record["reused_zfo_vvca_run"]
    assert "keys ['config'] differ" in caplog.text
