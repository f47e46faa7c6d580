"""The ZFO-VVCA stage in the DAG: one zfo_run per (active setting, method, seed), Table 2 and Figures 1-3 in
every tier, and the smoke tier's part end to end (CPU, seconds)."""

from __future__ import annotations

import json
import shutil

import pandas as pd
import pytest
import yaml
from snakemake_runs import REPO, filled_config, job_counts, run_snakemake

QUICK = REPO / "config" / "quick.yaml"


def _dry_counts(tmp_path, *configfiles, target=()):
    r = run_snakemake(tmp_path, "-n", *target, configfiles=configfiles)
    assert r.returncode == 0, r.stderr
    return job_counts(r.stdout + r.stderr), r.stdout


def test_paper_tier_runs_every_setting_method_and_seed(tmp_path):
    cfg = filled_config()["combinatorial"]
    counts, out = _dry_counts(tmp_path)
    zfo_methods = [m for m in ("zfo_vvca", "fo_vvca", "bbbvvca", "zfo_vvca_plus") if m in cfg["methods"]]
    assert "zfo_vvca_plus" in zfo_methods  # ZFO-VVCA+ beside the paper's methods, by default
    assert counts["zfo_run"] == 12 * len(zfo_methods) * cfg["seeds"]
    assert counts["table2"] == 2 and counts["figure1_zfo"] == counts["figure2_zfo"] == counts["figure3_zfo"] == 1
    assert "results/combinatorial/5x10_C/zfo_vvca/seed4/metrics.json" in out


def test_quick_tier_runs_table_2a_with_three_seeds(tmp_path):
    """Three seeds per learned method, every seed of a (setting, method) in one job (seeds_in_one_job)."""
    counts, out = _dry_counts(tmp_path, QUICK)
    assert counts["zfo_run_seeds"] == 6 * 4 and counts["table2"] == 1 and "zfo_run" not in counts
    assert counts["randomized_run_seeds"] == 5 * 2  # no randomized rows for (D)
    assert counts["ama_run_seeds"] == 6 * 2
    assert all(f"results/combinatorial/5x3_B/zfo_vvca/seed{k}/metrics.json" in out for k in range(3))
    assert counts["combinatorial_baseline"] == 6 * 2 + 5  # VCG and grand-bundle Myerson; Item-Myerson not for (D)
    assert "results/tables/table2a.md" in out and "results/tables/table2b.md" not in out


@pytest.mark.parametrize(("overrides", "jobs"), [({}, 2), ({"zfo_vvca_plus": {"lr": 0.5}}, 1)])
def test_zfo_plus_reads_the_zfo_run_of_its_seed_when_their_configs_agree(tmp_path, overrides, jobs):
    """ZFO-VVCA+'s restart from VCG is the ZFO-VVCA run of the same seed: the DAG makes that run its input (one
    job fewer to train), unless a method override makes the two configs differ."""
    overlay = tmp_path / "overlay.yaml"
    overlay.write_text(yaml.safe_dump({"combinatorial": {"method_overrides": overrides}}))
    target = ["results/combinatorial/2x2_A/zfo_vvca_plus/seed0/metrics.json"]
    counts, out = _dry_counts(tmp_path, QUICK, overlay, target=target)
    assert counts["zfo_run_seeds"] == jobs  # the quick tier trains every seed of a (setting, method) in one job
    assert ("results/combinatorial/2x2_A/zfo_vvca/seed0/metrics.json" in out) == (jobs == 2)


@pytest.mark.slow
def test_smoke_tier_builds_table_2a_and_the_figures(smoke_run, tmp_path):
    """The shared smoke run (`rule all`, tests/config/smoke.yaml) holds this stage's outputs; nothing is stale."""
    targets = ["results/tables/table2a.csv", *(f"results/figures/{f}.{ext}" for f in
               ("fig1_training_curves", "fig2_case_study", "fig3_smoothing") for ext in ("png", "pdf"))]  # fmt: skip
    for target in targets:
        assert (smoke_run / target).stat().st_size > 0
    table = pd.read_csv(smoke_run / "results/tables/table2a.csv")
    assert {"zfo_vvca", "fo_vvca", "bbbvvca", "zfo_vvca_plus", "vcg", "bundle_myerson"} <= set(table["method"])
    plus = json.loads((smoke_run / "results/combinatorial/2x2_A/zfo_vvca_plus/seed0/metrics.json").read_text())
    assert plus["start"] in plus["start_candidates"] and "vcg" in plus["start_candidates"]
    assert plus["start_candidates"][plus["start"]] == max(plus["start_candidates"].values())
    metrics = json.loads((smoke_run / "results/combinatorial/2x2_A/zfo_vvca/seed0/metrics.json").read_text())
    assert metrics["config"]["iterations"] == 4 and metrics["ir"]["violations"] == 0
    assert not any((smoke_run / "results/_ckpt").rglob("state.pt"))  # checkpoints removed after success
    copy = tmp_path / "copy"
    shutil.copytree(smoke_run, copy, symlinks=True)
    again = run_snakemake(copy, "-n", *targets)
    assert "Nothing to be done" in again.stdout + again.stderr
