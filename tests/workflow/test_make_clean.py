"""`make clean` removes every output of a run and nothing else (issue 14, item 8)."""

from __future__ import annotations

import shutil
import subprocess

import pytest
from conftest import REPO


@pytest.mark.skipif(shutil.which("make") is None, reason="needs make")
def test_make_clean_removes_outputs_logs_benchmark_runs_and_metadata_only(tmp_path):
    shutil.copy(REPO / "Makefile", tmp_path / "Makefile")
    keep = ["benchmarks/dp.py", "benchmarks/randomized.py", ".snakemake/conda/env.yaml", "config/config.yaml"]
    gone = [
        "results/data/2x2_A/train.parquet",
        "results/_ckpt/combinatorial/2x2_A/zfo_vvca/seed0/state.pt",
        "results/single_item/uniform/sweep/study.db",
        "logs/zfo_run/2x2_A/zfo_vvca/seed0.log",
        "benchmarks/zfo_run/2x2_A/zfo_vvca/seed0.tsv",
        "benchmarks/sample_dataset/2x2_A/train.tsv",
        ".snakemake/metadata/abc",
        ".snakemake/locks/0.input.lock",
        ".snakemake/incomplete/xyz",
        ".snakemake/log/2024.snakemake.log",
    ]
    for rel in keep + gone:
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text("x")
    r = subprocess.run(["make", "clean"], cwd=tmp_path, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert [p for p in gone if (tmp_path / p).exists()] == []
    assert [p for p in keep if not (tmp_path / p).exists()] == []
    assert sorted(p.name for p in (tmp_path / "benchmarks").iterdir()) == ["dp.py", "randomized.py"]
