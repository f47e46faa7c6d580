"""The single-item stages end to end (pipeline_lib.stages, no Snakemake): tiny data, every output written.

Checks the contracts between stages: warm start -> sweep (resumable; exports) -> final training (resumes from
its checkpoint) -> test evaluation -> baselines -> Table 1 -> figures, and the flags of Table 1.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
import torch

from pipeline_lib.report.table1 import FLAG
from pipeline_lib.stages import single_item as st
from pipeline_lib.stages.report import TableFiles, single_item_figures, table1_stage

FAMILY = {"distribution": "uniform", "low": 0.0, "high": 1.0}
TRAIN = {
    "batch_size": 64,
    "phase1_epochs": 1,
    "phase2_epochs": 2,
    "regret_grid": 4,
    "regret_steps": 1,
    "val_monitor_profiles": 32,
}
SWEEP = {"n_trials": 2, "val_grid": 51, "val_profiles": 32, "storage": {"kind": "sqlite"}}
CHECK = {"base_seed": 5, "rows": {"train": 256, "val": 64, "test": 64}}  # the workflow's data_check param
EVAL = {"grid": 101, "refine_steps": 2, "refine_top": 1, "bootstrap": 20, "max_profiles": 48, "hardened": True}


def test_stages_end_to_end(tmp_path, data, monkeypatch):
    monkeypatch.setenv("PIPELINE_DEVICE", "cpu")
    out = tmp_path
    warm = str(out / "warmstart.pt")
    st.single_item_warmstart(
        data["train"], warm, family="uniform", family_cfg=FAMILY, training=TRAIN, base_seed=5, data_check=CHECK
    )
    sweep = st.SweepFiles(
        train=data["train"],
        val=data["val"],
        warm=warm,
        best=str(out / "sweep" / "best_params.json"),
        csv=str(out / "sweep" / "trials.csv"),
        json=str(out / "sweep" / "trials.json"),
    )
    kwargs = {"family": "uniform", "family_cfg": FAMILY, "training": TRAIN, "sweep": SWEEP, "base_seed": 5}
    kwargs["data_check"] = CHECK
    best = st.single_item_sweep_stage(sweep, **kwargs)
    assert best["progress"]["complete"] == 2 and set(best["params"]) == {"lambda_regret", "lambda_mono"}
    assert (out / "sweep" / "study.db").exists()  # the storage: an undeclared file next to the outputs
    # a rerun of the rule (forced with -R, or outputs deleted) recomputes in a fresh study, never re-exports the old
    again = st.single_item_sweep_stage(sweep, **kwargs)
    assert again["progress"]["ran"] == 2 and again["study_name"] == best["study_name"] + "-rerun1"
    assert again["params"] == best["params"]  # seeded: the same sweep
    assert len(pd.read_csv(sweep.csv)) == 2

    final = st.FinalFiles(
        train=data["train"],
        val=data["val"],
        warm=warm,
        best=sweep.best,
        model=str(out / "final" / "model.pt"),
        history=str(out / "final" / "history.parquet"),
        metrics=str(out / "final" / "metrics.json"),
    )
    metrics = st.single_item_train_final(
        final, family="uniform", seed_index=0, training=TRAIN, base_seed=5, data_check=CHECK
    )
    history = pd.read_parquet(final.history)
    assert list(zip(history["phase"], history["epoch"], strict=True)) == [(1, 1), (2, 1), (2, 2)]
    assert metrics["penalties"]["lambda_regret"] == best["params"]["lambda_regret"]
    assert {"versions", "device", "config", "family", "seed"} <= set(json.loads(open(final.metrics).read()))
    assert not any(out.rglob("state.pt"))  # the checkpoint is removed once the outputs exist

    learned = st.single_item_evaluate(
        final.model,
        data["test"],
        str(out / "eval.json"),
        family="uniform",
        family_cfg=FAMILY,
        evaluation=EVAL,
        seed_index=0,
        data_check=CHECK,
    )
    assert learned["n_profiles"] == 48 and learned["optimum"] == pytest.approx(0.6125, abs=1e-6)
    assert learned["metrics"]["ir_violation_rate"]["value"] == 0.0  # IR by construction
    assert learned["method"] == "learned" and learned["hardened"]["method"] == "learned_hard"
    base = {}
    for name in ("myerson", "vickrey", "vickrey_fitted_reserve", "vickrey_r1"):
        base[name] = str(out / f"{name}.json")
        st.single_item_baseline(
            data["train"],
            data["test"],
            base[name],
            family="uniform",
            family_cfg=FAMILY,
            baseline=name,
            evaluation=EVAL,
            data_check=CHECK,
        )
        assert json.loads(open(base[name]).read())["metrics"]["regret_max"]["value"] <= 1e-9

    families = {"uniform": {"distribution": "uniform", "n_bidders": 4}}
    files = TableFiles(str(out / "t1.csv"), str(out / "t1.md"), str(out / "t1.tex"))
    table = table1_stage([str(out / "eval.json"), *base.values()], files, families=families)
    assert list(table["mechanism"]) == [
        "learned",
        "learned_hard",
        "myerson",
        "vickrey_fitted_reserve",
        "vickrey",
        "vickrey_r1",
    ]
    assert table.loc[table.mechanism == "vickrey", "report_revenue"].item() == 0.599
    md = (out / "t1.md").read_text()
    assert "| Vickrey |" in md and "0.6125" in md
    mye = table.loc[table.mechanism == "myerson"].iloc[0]
    assert mye["vs_myerson"] == pytest.approx(1.0) and "vs Myerson, same profiles" in md
    vic = table.loc[table.mechanism == "vickrey"].iloc[0]
    assert vic["vs_myerson"] < 1.0 and vic["vs_myerson_ci_lo"] <= vic["vs_myerson"] <= vic["vs_myerson_ci_hi"]
    assert (out / "t1.tex").read_text().startswith(r"\begin{tabular}")

    figures = {
        k: str(out / f)
        for k, f in (
            ("sweep_png", "s.png"),
            ("sweep_pdf", "s.pdf"),
            ("response_png", "r.png"),
            ("response_pdf", "r.pdf"),
        )
    }
    roles = [["uniform", "trials", "learned"], ["uniform", "model", "learned"], ["uniform", "test", ""]]
    single_item_figures(
        [sweep.json, final.model, data["test"]],
        roles,
        figures,
        families={"uniform": FAMILY},
        data_check=CHECK,
        budget=1e-3,
    )
    assert all((out / f).stat().st_size > 1000 for f in ("s.png", "s.pdf", "r.png", "r.pdf"))


def test_table1_flags_learned_revenue_above_the_optimum(tmp_path):
    def payload(revenue: float, se: float, flag: str) -> dict:
        stat = {"value": 0.01, "ci": [0.0, 0.02]}
        metrics = {
            k: dict(stat)
            for k in (
                "regret_mean",
                "regret_sum",
                "regret_p99",
                "welfare_ratio",
                "ir_violation_rate",
                "winner_accuracy",
                "regret_share",
                "regret_max",
            )
        }
        metrics["revenue"] = {"value": revenue, "ci": [revenue - 2 * se, revenue + 2 * se], "se": se}
        return {
            "setting": "uniform",
            "method": "learned",
            "seed": 0,
            "metrics": metrics,
            "n_profiles": 100,
            "test_revenue": {"mean": revenue, "se": se, "n_profiles": 100},
            "optimum": 0.6125,
            "flag": flag,
        }

    seeds = [payload(0.66, 0.002, FLAG), payload(0.61, 0.002, "")]
    paths = []
    for k, p in enumerate(seeds):
        paths.append(tmp_path / f"s{k}.json")
        paths[-1].write_text(json.dumps(p))
    files = TableFiles(str(tmp_path / "a.csv"), str(tmp_path / "a.md"), str(tmp_path / "a.tex"))
    table = table1_stage(paths, files, families={"uniform": {"distribution": "uniform", "n_bidders": 4}})
    row = table.iloc[0]
    assert row["flag"] == f"{FLAG} (1 of 2 seeds)" and row["n_seeds"] == 2
    assert row["revenue"] == pytest.approx(0.635) and row["share_of_optimum"] == pytest.approx(0.635 / 0.6125)
    assert row["revenue_ci_lo"] < 0.61 and row["revenue_ci_hi"] > 0.66  # t interval over two seeds is wide


@pytest.fixture(scope="module")
def myersonnet_teacher(tmp_path_factory, data):
    """A MyersonNet trained by its own stage on the tiny uniform data: RegretNet's teacher (learned from samples)."""
    from pipeline_lib.stages import single_item_learned as sl

    root = tmp_path_factory.mktemp("teacher")
    outputs = {k: str(root / f"myersonnet_{k}") for k in ("model", "history", "metrics")}
    training = {"iterations": 60, "eval_every": 30, "val_profiles": 64, "softmax_iterations": 0, "batch_size": 64}
    sl.single_item_learned_train(
        data["train"], data["val"], outputs, family="uniform", method="myersonnet", seed_index=1, family_cfg=FAMILY,
        training=training, base_seed=5, data_check=CHECK,
    )  # fmt: skip
    return outputs["model"]


def test_regretnet_start_distils_the_phase1_network_from_the_learned_myersonnet(
    tmp_path, data, monkeypatch, myersonnet_teacher
):
    """Rule regretnet_start: the start is the phase-1 network distilled from the family's MyersonNet (learned from
    samples); the record names the teacher and its seed; each seed draws its own distillation; no teacher: the
    phase-1 network as it is; a known optimum is no teacher."""
    from pipeline_lib.core import io
    from pipeline_lib.single_item.mechanisms.nets import model_from_payload
    from pipeline_lib.stages import single_item_learned as sl

    monkeypatch.setenv("PIPELINE_DEVICE", "cpu")
    warm = str(tmp_path / "warmstart.pt")
    st.single_item_warmstart(
        data["train"], warm, family="uniform", family_cfg=FAMILY, training=TRAIN, base_seed=5, data_check=CHECK
    )
    training = {  # a RegretNet that accepts the phase-1 network as its start
        "val_profiles": 32,
        "val_grid": 51,
        "warm_start": True,
        "hidden": [64, 32, 16],
        "payment_head": "fraction",  # the phase-1 network: report widths, sigmoid head
    }
    kwargs = {"family": "uniform", "training": training, "base_seed": 5, "data_check": CHECK, "warm_path": warm}
    out = str(tmp_path / "start.pt")
    start = {"teacher": "myersonnet", "iterations": 300}
    info = sl.regretnet_start(
        data["train"], data["val"], out, family_cfg=FAMILY, start=start, teacher_path=myersonnet_teacher, **kwargs
    )
    assert info["teacher"] == "myersonnet" and info["teacher_seed"] == 1 and info["from_phase1"]
    assert info["teacher_deployment"] == "hard"  # the critical head imitates the hard auction (docs: regretnet)
    assert len(info["history"]) == 10 and info["misreport_upper"] == 1.0  # U[0, 1]: the support bound
    net, extra = model_from_payload(io.load_torch(out))
    phase1, _ = model_from_payload(io.load_torch(warm))
    assert extra["val_regret"] == info["val_regret"] and net.hidden == phase1.hidden
    assert any(
        not torch.equal(a, b) for a, b in zip(net.state_dict().values(), phase1.state_dict().values(), strict=True)
    )
    other = sl.regretnet_start(
        data["train"], data["val"], str(tmp_path / "seed1.pt"), family_cfg=FAMILY, start=start, seed_index=1,
        teacher_path=myersonnet_teacher, **kwargs,
    )  # fmt: skip
    assert other["seed"] != info["seed"] and other["history"] != info["history"]  # its own minibatches
    plain = sl.regretnet_start(
        data["train"], data["val"], str(tmp_path / "plain.pt"), family_cfg=FAMILY, start={"teacher": "none"}, **kwargs
    )
    assert plain["teacher"] == "none" and plain["history"] == []
    same, _ = model_from_payload(io.load_torch(str(tmp_path / "plain.pt")))
    assert all(torch.equal(a, b) for a, b in zip(same.state_dict().values(), phase1.state_dict().values(), strict=True))
    with pytest.raises(ValueError, match=r"teacher must be one of \('myersonnet', 'none'\), got 'myerson'"):
        sl.regretnet_start(data["train"], data["val"], str(tmp_path / "x.pt"), family_cfg=FAMILY,
                           start={"teacher": "myerson"}, **kwargs)  # fmt: skip
    assert not (tmp_path / "x.pt").exists()


def _sweep_files(tmp_path, data, kwargs, start_iterations, teacher_path):
    """The regretnet_sweep stage's files, with a start distilled from the learned MyersonNet ``teacher_path`` for
    ``start_iterations`` steps."""
    from pipeline_lib.stages import single_item_learned as sl

    start = str(tmp_path / "start.pt")
    teacher = {"teacher": "myersonnet", "iterations": start_iterations}
    sl.regretnet_start(data["train"], data["val"], start, start=teacher, teacher_path=teacher_path, **kwargs)
    return sl.RegretNetSweepFiles(
        train=data["train"], val=data["val"], start=start, best=str(tmp_path / "best_params.json"),
        csv=str(tmp_path / "trials.csv"), json=str(tmp_path / "trials.json"),
    )  # fmt: skip


def test_regretnet_without_a_sweep_trains_the_configured_parameters(tmp_path, data, monkeypatch, myersonnet_teacher):
    """``single_item.regretnet.sweep.n_trials: 0``: no study, no trial; best_params.json holds the configured
    training parameters (feasibility unknown), the trial exports are empty, and the final training uses them."""
    from pipeline_lib.single_item.learning.regretnet import RegretNetConfig
    from pipeline_lib.stages import single_item_learned as sl

    monkeypatch.setenv("PIPELINE_DEVICE", "cpu")
    training = {"val_profiles": 16, "val_grid": 21, "hidden": [16, 16], "iterations": 4, "eval_every": 2, "lr": 7e-4}
    kwargs = {"family": "uniform", "family_cfg": FAMILY, "training": training, "base_seed": 5, "data_check": CHECK}
    files = _sweep_files(tmp_path, data, kwargs, start_iterations=20, teacher_path=myersonnet_teacher)
    start = files.start
    sweep = {"n_trials": 0, "budget": 1e-3, "val_profiles": 16, "val_grid": 21, "max_failed_trials": 2}
    best = sl.regretnet_sweep(files, sweep=sweep, **kwargs)
    defaults = RegretNetConfig()
    assert best["params"] == {"lr": 7e-4, "mu_init": defaults.mu_init, "rho_init": defaults.rho_init}
    assert best["feasible"] is None
    assert json.loads(open(files.json).read())["trials"] == [] and not (tmp_path / "study.sqlite3").exists()
    assert pd.read_csv(files.csv).empty and {"number", "state", "value"} <= set(pd.read_csv(files.csv).columns)
    outputs = {k: str(tmp_path / f"final_{k}") for k in ("model", "history", "metrics")}
    metrics = sl.single_item_learned_train(
        data["train"], data["val"], outputs, method="regretnet", seed_index=0, best_path=files.best,
        start_path=start, **kwargs,
    )  # fmt: skip
    assert metrics["config"]["lr"] == 7e-4 and metrics["config"]["resample_bidders"] is True  # auto: i.i.d. values
    assert metrics["start"]["teacher"] == "myersonnet" and metrics["start"]["teacher_seed"] == 1
    assert metrics["sweep_feasible"] is None


def test_myersonnet_is_evaluated_in_both_deployments_and_tabulated_as_two_dsic_rows(tmp_path, data, monkeypatch):
    """MyersonNet's model holds the hard maps and the softmax deployment's; the evaluation writes the hard record
    with the softmax one under ``softmax``, both with zero regret (exactly DSIC), and Table 1 shows two rows. With
    ``softmax_iterations: 0`` there is no softmax deployment and no second record."""
    from pipeline_lib.stages import single_item_learned as sl

    monkeypatch.setenv("PIPELINE_DEVICE", "cpu")
    records = []
    for softmax_iterations in (4, 0):
        training = {"iterations": 4, "eval_every": 2, "val_profiles": 32, "softmax_iterations": softmax_iterations,
                    "batch_size": 64}  # fmt: skip
        kwargs = {"family": "uniform", "family_cfg": FAMILY, "training": training, "base_seed": 5, "data_check": CHECK}
        outputs = {k: str(tmp_path / f"{softmax_iterations}_{k}") for k in ("model", "history", "metrics")}
        sl.single_item_learned_train(data["train"], data["val"], outputs, method="myersonnet", seed_index=0, **kwargs)
        history = pd.read_parquet(outputs["history"])
        assert set(history["deployment"]) == ({"hard", "softmax"} if softmax_iterations else {"hard"})
        chosen = json.loads(Path(outputs["metrics"]).read_text())  # the learner's own pick: best validation revenue
        best = history.groupby("deployment")["val_revenue"].max().to_dict()
        assert chosen["val_revenue"] == pytest.approx(best) and chosen["chosen_deployment"] == max(best, key=best.get)
        out = str(tmp_path / f"{softmax_iterations}_test.json")
        record = sl.single_item_learned_evaluate(
            outputs["model"], data["test"], out, family="uniform", method="myersonnet", family_cfg=FAMILY,
            evaluation=EVAL, seed_index=0, data_check=CHECK,
        )  # fmt: skip
        records.append(record)
    with_softmax, without = records
    assert with_softmax["softmax"]["method"] == "myersonnet_softmax" and "softmax" not in without
    for record in (with_softmax, with_softmax["softmax"]):
        assert record["metrics"]["regret_max"]["value"] <= 1e-9
        assert record["metrics"]["ir_violation_rate"]["value"] == 0.0
    path = tmp_path / "record.json"
    path.write_text(json.dumps(with_softmax))
    files = TableFiles(str(tmp_path / "t.csv"), str(tmp_path / "t.md"), str(tmp_path / "t.tex"))
    table = table1_stage([path], files, families={"uniform": {"distribution": "uniform", "n_bidders": 4}})
    assert list(table["mechanism"]) == ["myersonnet", "myersonnet_softmax"]
    assert (table["flag"] == "").all()


def _optimum_code_objects():
    """The code of everything that builds or evaluates the optimal auction or its revenue (Myerson's ironed virtual
    values, the i.i.d. and asymmetric auctions, their closed-form and quadrature revenues)."""
    from pipeline_lib.single_item.mechanisms import myerson as my

    funcs = [
        my.ironed_virtual_value, my.myerson, my.myerson_revenue, my.ironed_virtual_values,
        my.AsymmetricMyerson.__init__, my.AsymmetricMyerson.__call__, my.optimal_revenue, my.myerson_for,
        my.optimal_revenue_for,
    ]  # fmt: skip
    return {f.__code__: f.__qualname__ for f in funcs}


def test_no_learning_stage_constructs_or_calls_the_optimal_auction(tmp_path, data, monkeypatch):
    """The optimum is read by evaluation only: MyersonNet's training, RegretNet's start (distilled from that
    MyersonNet), its sweep and its training on a family whose optimum is known (uniform) never enter any function
    that builds or runs Myerson's auction or computes its revenue. Checked by profiling every Python call; the same
    probe on the evaluation stage does see the optimum (so the probe can fail)."""
    import sys

    from pipeline_lib.stages import single_item_learned as sl

    monkeypatch.setenv("PIPELINE_DEVICE", "cpu")
    forbidden, seen = _optimum_code_objects(), set()

    def probe(frame, event, arg):
        if event == "call" and frame.f_code in forbidden:
            seen.add(forbidden[frame.f_code])

    def watched(fn, *args, **kwargs):
        sys.setprofile(probe)
        try:
            return fn(*args, **kwargs)
        finally:
            sys.setprofile(None)

    common = {"family": "uniform", "family_cfg": FAMILY, "base_seed": 5, "data_check": CHECK}
    mnet = {k: str(tmp_path / f"mnet_{k}") for k in ("model", "history", "metrics")}
    mtraining = {"iterations": 20, "eval_every": 10, "val_profiles": 32, "softmax_iterations": 5, "batch_size": 64}
    watched(sl.single_item_learned_train, data["train"], data["val"], mnet, method="myersonnet", seed_index=0,
            training=mtraining, **common)  # fmt: skip
    training = {"val_profiles": 16, "val_grid": 21, "hidden": [16, 16], "iterations": 4, "eval_every": 2}
    start = str(tmp_path / "start.pt")
    watched(sl.regretnet_start, data["train"], data["val"], start, training=training, teacher_path=mnet["model"],
            start={"teacher": "myersonnet", "iterations": 10}, **common)  # fmt: skip
    files = sl.RegretNetSweepFiles(
        train=data["train"], val=data["val"], start=start, best=str(tmp_path / "best.json"),
        csv=str(tmp_path / "trials.csv"), json=str(tmp_path / "trials.json"),
    )  # fmt: skip
    sweep = {"n_trials": 1, "budget": 1e-3, "val_profiles": 16, "val_grid": 21, "max_failed_trials": 2}
    watched(sl.regretnet_sweep, files, training=training, sweep=sweep, **common)
    rnet = {k: str(tmp_path / f"rnet_{k}") for k in ("model", "history", "metrics")}
    watched(sl.single_item_learned_train, data["train"], data["val"], rnet, method="regretnet", seed_index=0,
            training=training, best_path=files.best, start_path=start, **common)  # fmt: skip
    assert seen == set()
    watched(sl.single_item_learned_evaluate, rnet["model"], data["test"], str(tmp_path / "eval.json"),
            family="uniform", method="regretnet", family_cfg=FAMILY, evaluation=EVAL, seed_index=0,
            data_check=CHECK)  # fmt: skip
    assert {"optimal_revenue_for", "myerson"} <= seen  # the evaluation reads the optimum: the probe sees it
