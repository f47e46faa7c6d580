"""Lottery AMA: a valid menu, gradients for every parameter, training that raises revenue, DSIC and IR of the
trained mechanism at test time, and one end-to-end run writing the Table 2 metrics contract."""

from __future__ import annotations

import dataclasses
import itertools
import json

import numpy as np
import pandas as pd
import pytest
import torch
from menu_properties import assert_ir_and_dsic
from snakemake_runs import SMOKE, job_counts, run_snakemake

from pipeline_lib.combinatorial.affine_maximizer import soft_revenue
from pipeline_lib.combinatorial.lottery_ama import LotteryAMA
from pipeline_lib.combinatorial.menus import (
    RandomizedSpec,
    TrainConfig,
    hard_revenue,
    learning_rate,
    menu_from_payload,
    train_menu,
)
from pipeline_lib.core.data import write_valuations
from pipeline_lib.core.settings import Setting
from pipeline_lib.stages.combinatorial import RunFiles, randomized_run

CONTRACT_KEYS = {
    "setting",
    "method",
    "seed",
    "label",
    "run_seed",
    "test_revenue",
    "welfare",
    "ir",
    "wall_time_s",
    "device",
    "config",
    "versions",
}


def test_menu_is_a_set_of_lotteries_plus_the_empty_allocation():
    torch.manual_seed(0)
    menu = LotteryAMA(3, 4, 16, init_scale=2.0).menu()
    assert menu.allocs.shape == (17, 3, 4) and menu.boosts.shape == (17,) and menu.weights.shape == (3,)
    assert (menu.allocs >= 0).all() and (menu.allocs.sum(1) <= 1 + 1e-6).all()
    assert (menu.allocs.sum(1) < 1).all()  # "nobody" keeps some probability of every item
    assert menu.allocs[-1].abs().sum() == 0 and menu.boosts[-1] == 0
    assert torch.equal(menu.weights, torch.ones(3))  # w = exp(0) at initialisation


def test_every_parameter_gets_a_gradient_from_the_relaxed_revenue():
    torch.manual_seed(1)
    model = LotteryAMA(2, 2, 8)
    with torch.no_grad():
        model.boosts.normal_(0.0, 0.1)
    soft_revenue(torch.rand(256, 2, 2), model.menu(), 20.0).backward()
    for name, p in model.named_parameters():
        assert p.grad is not None and p.grad.abs().sum() > 0, name


def test_learning_rate_schedule_warms_up_then_follows_milestones():
    cfg = TrainConfig(
        steps=100, batch_size=8, lr=1e-3, temperature=1.0, warmup_steps=10, lr_milestones=((50, 1e-4), (80, 1e-5))
    )
    assert learning_rate(0, cfg) == pytest.approx(1e-4)
    assert learning_rate(9, cfg) == pytest.approx(1e-3)
    assert [learning_rate(s, cfg) for s in (49, 50, 79, 80)] == pytest.approx([1e-3, 1e-4, 1e-4, 1e-5])


@pytest.fixture(scope="module")
def trained() -> LotteryAMA:
    """A 2x2 U[0,1] Lottery AMA after 300 steps (about a second)."""
    torch.manual_seed(2)
    gen = torch.Generator().manual_seed(3)
    train, val = torch.rand(4096, 2, 2, generator=gen), torch.rand(2048, 2, 2, generator=gen)
    model = LotteryAMA(2, 2, 16)
    cfg = TrainConfig(steps=300, batch_size=512, lr=0.02, temperature=200.0, eval_every=100, select_best=False)
    result = train_menu(model, train, val, cfg, generator=torch.Generator().manual_seed(4))
    model.load_state_dict(result.state_dict)
    model.history = result.history
    return model


def test_training_raises_the_hard_argmax_revenue_above_vcg(trained):
    history = trained.history
    assert list(history["step"]) == [0, 100, 200, 300]
    vals = list(history["val_revenue"])
    assert vals[-1] > vals[0] + 0.2
    # VCG in 2x2 U[0,1] earns 2 E[min(U1, U2)] = 2/3; a trained lottery AMA should beat it
    test = torch.rand(20000, 2, 2, generator=torch.Generator().manual_seed(5))
    assert hard_revenue(trained.menu(), test) > 0.70


def test_trained_mechanism_is_ir_and_dsic_at_test_time(trained):
    menu = trained.menu().detach().to(dtype=torch.float64)
    assert_ir_and_dsic(menu, np.random.default_rng(6), lies=100)


def test_run_randomized_writes_params_history_and_the_metrics_contract(tmp_path):
    setting = Setting("2x2_A", "combinatorial", 2, 2, "A", {"distribution": "A"})
    paths = {}
    for split, rows in (("train", 512), ("val", 256), ("test", 300)):
        paths[split] = tmp_path / f"{split}.parquet"
        write_valuations(paths[split], setting, split, base_seed=7, num_rows=rows, row_group_size=128)
    out = tmp_path / "run"
    hp = {"steps": 20, "batch_size": 64, "lr": 0.01, "temperature": 100.0, "init_scale": 1.0}
    spec = RandomizedSpec(
        method="lottery_ama",
        setting="2x2_A",
        n=2,
        m=2,
        menu_size=8,
        hyperparameters=hp,
        eval_every=10,
        select_best=True,
        base_seed=7,
        seed_index=1,
    )
    files = RunFiles(
        train=paths["train"],
        val=paths["val"],
        test=paths["test"],
        params=out / "params.pt",
        history=out / "history.parquet",
        metrics=out / "metrics.json",
    )
    check = {"base_seed": 7, "rows": {"train": 512, "val": 256, "test": 300}}  # the workflow's data_check param
    metrics = randomized_run(files, spec, data_check=check)
    on_disk = json.loads((out / "metrics.json").read_text())
    assert CONTRACT_KEYS <= set(on_disk) and on_disk == json.loads(json.dumps(metrics))
    assert on_disk["test_revenue"]["n_profiles"] == 300 and on_disk["ir"]["violations"] == 0
    assert on_disk["seed"] == 1 and on_disk["run_seed"]["spawn_key"][-1] == 1
    assert on_disk["config"]["steps"] == 20 and on_disk["menu_size"] == 8
    history = pd.read_parquet(out / "history.parquet")
    assert list(history["step"]) == [0, 10, 20]
    assert on_disk["val_revenue"] == pytest.approx(history["val_revenue"].max())
    menu = menu_from_payload(torch.load(out / "params.pt", weights_only=True))
    test = torch.as_tensor(np.stack(pd.read_parquet(paths["test"])["values"])).reshape(-1, 2, 2)
    assert hard_revenue(menu, test) == pytest.approx(on_disk["test_revenue"]["mean"], rel=1e-6)
    with pytest.raises(ValueError, match="unknown hyperparameters"):
        randomized_run(files, dataclasses.replace(spec, hyperparameters={**hp, "d_emb": 3}), data_check=check)

    # Two initialisations per seed: the record names the kept one and every one's validation revenue, restart 0
    # is the run above, and no checkpoint of either restart is left behind.
    again = randomized_run(files, dataclasses.replace(spec, restarts=2, checkpoint_every=5), data_check=check)
    assert again["restart_val_revenues"][0] == metrics["val_revenue"] and len(again["restart_val_revenues"]) == 2
    assert again["val_revenue"] == max(again["restart_val_revenues"]) and again["config"]["restarts"] == 2
    assert again["restart"] == again["restart_val_revenues"].index(again["val_revenue"])
    assert not list(tmp_path.rglob("state.pt"))


def test_workflow_schedules_randomized_runs_for_additive_settings_only(tmp_path):
    """Dry run: one randomized_run per (additive setting, method, seed); none for the (D) settings."""
    overlay = tmp_path / "overlay.yaml"
    overlay.write_text(
        "combinatorial: {active: [2x2_A, 2x2_D, 2x5_C], seeds: 2, randomized: {lottery_ama: {restarts: 2}}}\n"
    )
    r = run_snakemake(tmp_path, "-n", configfiles=(SMOKE, overlay))
    out = r.stdout + r.stderr
    assert r.returncode == 0, out
    assert job_counts(out)["randomized_run"] == 2 * 2 * 2
    for setting, method, seed in itertools.product(("2x2_A", "2x5_C"), ("lottery_ama", "amenunet"), (0, 1)):
        assert f"results/combinatorial/{setting}/{method}/seed{seed}/params.pt" in out
    assert "2x2_D/lottery_ama" not in out and "2x2_D/amenunet" not in out
