"""The single-item part of the DAG under Snakemake: shape of the paper tier, n = 8 through config alone, and the
smoke tier end to end (Table 1 and figures from nothing), with a second run that has nothing to do."""

from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd
import pytest
from snakemake_runs import job_counts, run_snakemake

TARGETS = (
    "results/tables/table1.md",
    "results/figures/single_item_sweeps.png",
    "results/figures/single_item_response.png",
)


def test_paper_tier_dag_has_one_sweep_per_family_and_three_final_seeds(tmp_path):
    r = run_snakemake(tmp_path, "-n", *TARGETS, configfiles=())
    assert r.returncode == 0, r.stderr
    counts = job_counts(r.stdout + r.stderr)
    assert counts["single_item_warmstart"] == counts["single_item_sweep"] == 4
    assert counts["single_item_train_final"] == counts["single_item_evaluate"] == 4 * 3
    assert counts["single_item_baseline"] == 4 * 4 + 3  # Myerson only for the three i.i.d. families
    assert counts["single_item_vvca"] == 4  # the one-item VVCA baseline is trained once per family
    assert counts["regretnet_sweep"] == 4
    assert counts["regretnet_start"] == 4 * 3  # one start per seed, each distilled from its own MyersonNet
    assert counts["single_item_learned_train"] == 4 * (3 + 3)


def test_eight_bidders_work_through_config_alone(tmp_path):
    overlay = tmp_path / "n8.yaml"
    overlay.write_text("single_item: {n_bidders: 8}\n")
    r = run_snakemake(tmp_path, "-n", *TARGETS, configfiles=(overlay,))
    assert r.returncode == 0, r.stderr


@pytest.mark.slow
def test_smoke_tier_builds_table1_and_figures_and_then_has_nothing_to_do(smoke_run, tmp_path):
    """The shared smoke run (`rule all`, tests/config/smoke.yaml) holds this stage's outputs; nothing is stale."""
    table = pd.read_csv(smoke_run / "results/tables/table1.csv")
    assert set(table["family"]) == {"uniform", "latent"}
    learned = {"learned", "regretnet", "regretnet_hard", "myersonnet", "myersonnet_softmax"}
    assert set(table["mechanism"]) == learned | {"myerson", "vickrey"}
    baselines = table[table["mechanism"].isin(["myerson", "vickrey", "myersonnet", "myersonnet_softmax"])]
    assert (baselines["regret_max"] <= 1e-9).all() and (table["ir_violation_rate"] == 0).all()
    sweep = Path(smoke_run / "results/single_item/uniform/sweep")
    assert {p.name for p in sweep.iterdir()} >= {"best_params.json", "trials.csv", "trials.json", "study.db"}
    copy = tmp_path / "copy"
    shutil.copytree(smoke_run, copy, symlinks=True)
    again = run_snakemake(copy, "-n", *TARGETS)
    assert again.returncode == 0 and "Nothing to be done" in again.stdout + again.stderr
