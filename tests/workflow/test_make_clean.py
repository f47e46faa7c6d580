"""`make clean` removes every output of a run and nothing else (issue 14, item 8)."""

from __future__ import annotations

import os
import shutil
import subprocess

import pytest
from snakemake_runs import REPO


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


@pytest.mark.skipif(shutil.which("make") is None, reason="needs make")
def test_gpu_slots_are_one_per_core_without_a_cuda_device_and_can_be_overridden(tmp_path):
    """Every CPU stage is one-threaded, so without a GPU the `gpu` resource must not serialise them."""
    shutil.copy(REPO / "Makefile", tmp_path / "Makefile")
    (tmp_path / "pyproject.toml").write_text("")
    os.utime(tmp_path / "pyproject.toml", (0, 0))
    (tmp_path / ".venv").mkdir()
    (tmp_path / ".venv" / ".installed").write_text("")  # newer than pyproject.toml: nothing to install
    bin_dir = tmp_path / "bin"  # the only PATH entry: the tools the Makefile's recipe for GPUS needs, no nvidia-smi
    bin_dir.mkdir()
    for tool in ("grep", "nproc", "sh", "bash"):
        (bin_dir / tool).symlink_to(shutil.which(tool))
    env = {"PATH": str(bin_dir)}
    make = shutil.which("make")

    def dry(*args: str) -> str:
        cmd = [make, "-n", "-C", str(tmp_path), *args]
        return subprocess.run(cmd, capture_output=True, text=True, env=env, check=True).stdout

    cores = subprocess.run(["nproc"], capture_output=True, text=True, check=True).stdout.strip()
    assert f"--resources gpu={cores} --configfile config/quick.yaml" in dry("run")
    assert "--resources gpu=1 --configfile config/cpu.yaml" in dry("run-cpu", "GPUS=1")
    smi = bin_dir / "nvidia-smi"
    smi.write_text("#!/bin/sh\necho 'GPU 0: H200 (UUID: x)'\necho 'GPU 1: H200 (UUID: y)'\n")
    smi.chmod(0o755)
    assert "--resources gpu=2 --configfile config/quick.yaml" in dry("run")
