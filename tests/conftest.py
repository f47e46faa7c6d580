"""Fixtures every test may use: one torch thread, the repository root, one finished smoke-tier run per session."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from filelock import FileLock
from snakemake_runs import REPO, run_snakemake


@pytest.fixture(autouse=True, scope="session")
def one_torch_thread():
    """Small tensors: one intra-op thread is fastest (OpenMP spinning costs more than it gains on 2 cores)."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture
def repo() -> Path:
    return REPO


@pytest.fixture(scope="session")
def smoke_run(tmp_path_factory: pytest.TempPathFactory, worker_id: str) -> Path:
    """Working directory of one complete smoke-tier run (every target of `rule all`), built once per test session.

    Shared by every test that needs finished results: treat it as read-only (copy it with
    ``shutil.copytree(smoke_run, dest, symlinks=True)`` before running anything that writes into it). Snakemake's
    metadata under ``.snakemake/`` comes along, so a copy is as up to date as the original.

    Under pytest-xdist every worker has its own session; the run lives in the directory the workers share (the parent
    of each worker's base temp), and a file lock lets the first worker build it while the others wait and reuse it.
    A failed build is recorded there too, so the other workers fail at once with its log instead of building again.
    """
    shared = tmp_path_factory.getbasetemp()
    if worker_id != "master":
        shared = shared.parent
    workdir = shared / "smoke_run"
    outcome = shared / "smoke_run.json"
    with FileLock(str(shared / "smoke_run.lock")):
        if not outcome.exists():
            workdir.mkdir(exist_ok=True)
            r = run_snakemake(workdir)
            log = "" if r.returncode == 0 else f"{r.stdout[-3000:]}\n{r.stderr[-5000:]}"
            outcome.write_text(json.dumps({"returncode": r.returncode, "log": log}))
        result = json.loads(outcome.read_text())
    if result["returncode"] != 0:
        pytest.fail(f"smoke-tier run failed in {workdir}:\n{result['log']}")
    return workdir
