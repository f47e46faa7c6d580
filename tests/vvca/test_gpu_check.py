"""The CPU side of benchmarks/gpu_check.py: its device-vs-numba check runs with device=cpu (dense torch on the CPU
against the numba kernel), passes on agreeing kernels and fails, with exit status 1, on a disagreeing one."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))

import gpu_check  # noqa: E402


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_cpu_torch_and_numba_agree_on_tiny_sizes(dtype: torch.dtype):
    rows = gpu_check.run_checks("cpu", ["2x2", "2x3", "3x3", "4x2"], 96, dtype)
    assert len(rows) == 8
    assert all(r.status == "ok" for r in rows), [r.detail for r in rows if r.failed]


def test_main_cpu_exit_status_and_table(capsys: pytest.CaptureFixture[str]):
    assert gpu_check.main(["--device", "cpu", "--sizes", "2x2", "--no-train", "--no-smoke"]) == 0
    out = capsys.readouterr().out
    assert "profiles/s" in out and "0 failed of 2 checks" in out


def test_a_disagreeing_device_kernel_fails_the_check(monkeypatch: pytest.MonkeyPatch):
    real = gpu_check.dp_torch.allocations_with_exclusions

    def broken(vt, boosts):
        maw, alloc, maw_minus, alloc_minus = real(vt, boosts)
        return maw, alloc ^ 1, maw_minus, alloc_minus  # flip item 0 of every bundle

    monkeypatch.setattr(gpu_check.dp_torch, "allocations_with_exclusions", broken)
    passed, detail = gpu_check.check_kernel(2, 2, 32, torch.device("cpu"), torch.float32, ties=False)
    assert not passed and "A* differs" in detail
    assert gpu_check.main(["--device", "cpu", "--sizes", "2x2", "--no-dp", "--no-train", "--no-smoke"]) == 1
