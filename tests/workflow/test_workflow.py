"""The Snakemake DAG: paper-tier dry run, config validation, single-target rebuilds, resumption by file targets."""

from __future__ import annotations

import subprocess
import sys

import pytest
import yaml
from snakemake_runs import REPO, job_counts, run_snakemake

PAPER_SETTINGS = {
    "uniform",
    "exponential",
    "latent",
    "hetero",
    "2x2_A",
    "2x2_D",
    "2x5_A",
    "2x5_C",
    "5x3_C",
    "5x3_B",
    "3x10_A",
    "3x10_D",
    "5x10_A",
    "3x10_B",
    "5x10_B",
    "5x10_C",
}


def test_paper_tier_config_lists_every_setting_of_both_sources():
    cfg = yaml.safe_load((REPO / "config" / "config.yaml").read_text())
    assert set(cfg["single_item"]["families"]) | set(cfg["combinatorial"]["settings"]) == PAPER_SETTINGS
    assert cfg["combinatorial"]["settings"]["5x10_A"]["zfo"] == {
        "lr": 0.0003,
        "q": 8,
        "sigma": 0.001,
        "iterations": 2000,
        "batch_size": 1024,
    }


def test_paper_tier_dry_run_lists_a_dataset_job_for_all_16_settings(tmp_path):
    r = run_snakemake(tmp_path, "-n", "--quiet", "rules", configfiles=())
    assert r.returncode == 0, r.stderr
    r = run_snakemake(tmp_path, "-n", configfiles=())
    assert r.returncode == 0, r.stderr
    assert job_counts(r.stdout + r.stderr)["sample_dataset"] == 16 * 3
    for setting in PAPER_SETTINGS:
        for split in ("train", "val", "test"):
            assert f"results/data/{setting}/{split}.parquet" in r.stdout


def test_the_single_item_paper_overlay_runs_the_beyond_rows_of_the_four_families_and_nothing_else(tmp_path):
    """config/paper_single_item.yaml: Table 1 of the paper tier for RegretNet (3 seeds, each with its own start) and
    MyersonNet (3 seeds) on the report's four families, against Myerson where the priors are known (not latent):
    4 families x (3 + 3) runs trained and evaluated, one sweep record per family (no trials: the regret budget
    only), no combinatorial job."""
    overlay = REPO / "config" / "paper_single_item.yaml"
    r = run_snakemake(tmp_path, "results/tables/table1.csv", "-n", configfiles=(overlay,))
    assert r.returncode == 0, r.stderr
    counts = job_counts(r.stdout + r.stderr)
    assert counts["sample_dataset"] == 4 * 3 and counts["regretnet_sweep"] == 4 and counts["regretnet_start"] == 4 * 3
    assert counts["single_item_baseline"] == 3  # Myerson for uniform, exponential, hetero
    assert counts["single_item_learned_train"] == counts["single_item_learned_evaluate"] == 4 * (3 + 3)
    assert "results/baselines/uniform/myerson.json" in r.stdout and "baselines/latent/myerson" not in r.stdout
    assert not any(rule.startswith(("zfo", "combinatorial", "randomized", "ama")) for rule in counts)


@pytest.mark.parametrize(
    ("overlay", "named"),
    [
        ("seeed: 3\n", "seeed"),
        ("data: {single_item: {train: -5}}\n", "-5"),
        (
            "combinatorial: {settings: {2x2_A: {n: 2, m: 2, distribution: E, zfo: {lr: 0.1, q: 1, sigma: 0.1, "
            "iterations: 1, batch_size: 1}}}}\n",
            "'E'",
        ),
        ("single_item: {families: {uniform: {distribution: uniform, hgh: 2}}}\n", "hgh"),
    ],
)
def test_a_wrong_config_key_type_or_value_stops_the_run_naming_it(tmp_path, overlay, named):
    bad = tmp_path / "bad.yaml"
    bad.write_text(overlay)
    r = run_snakemake(tmp_path, "-n", configfiles=(bad,))
    assert r.returncode != 0
    out = r.stdout + r.stderr
    assert "ValidationError" in out and named in out


def test_rebuilding_one_target_runs_only_its_upstream_and_a_second_run_has_nothing_to_do(tmp_path):
    target = "results/data/2x2_D/test.parquet"
    r = run_snakemake(tmp_path, target)
    assert r.returncode == 0, r.stderr
    assert job_counts(r.stderr + r.stdout) == {"sample_dataset": 1}
    produced = sorted(p.relative_to(tmp_path).as_posix() for p in (tmp_path / "results").rglob("*.parquet"))
    assert produced == [target]
    again = run_snakemake(tmp_path, "-n", target)
    assert again.returncode == 0 and "Nothing to be done" in again.stdout + again.stderr


def test_lint_and_format_are_clean():
    lint = subprocess.run(
        [sys.executable, "-m", "snakemake", "--lint", "--workflow-profile", "none"],
        cwd=REPO,
        capture_output=True,
        text=True,
    )
    assert lint.returncode == 0, lint.stdout + lint.stderr
