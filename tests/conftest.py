"""Fixtures every test may use: one torch thread, the repository root, one finished smoke-tier run per session."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import pytest
from filelock import FileLock
from snakemake_runs import REPO, run_snakemake


@pytest.fixture(autouse=True, scope="session")
def one_torch_thread():
    """Small tensors: one intra-op thread is fastest (OpenMP spinning costs more than it gains on 2 cores). The
    numba kernels' pool is bounded too, as every stage bounds it (pipeline_lib.core.runtime.set_cpu_threads): its
    first parallel call otherwise sets the shared OpenMP runtime, and with it torch, back to every core, and the
    spinning pools of two test workers made torch-heavy tests 10-15x slower (2026-12-07: MyersonNet's ironing
    test 228 s in the suite, 16 s alone)."""
    import numba
    import torch

    from pipeline_lib.core.runtime import set_cpu_threads

    before = torch.get_num_threads(), numba.get_num_threads()
    set_cpu_threads(1)
    yield
    torch.set_num_threads(before[0])
    numba.set_num_threads(before[1])


@pytest.fixture
def repo() -> Path:
    return REPO


def _build_smoke_run(shared: Path) -> dict:
    """Build the smoke run in ``shared``/smoke_run unless a run of this session already did; its outcome (return code
    and the log's tail on failure) is recorded beside it. A file lock makes the first caller of any worker build it and
    every other wait for it."""
    outcome = shared / "smoke_run.json"
    with FileLock(str(shared / "smoke_run.lock")):
        if not outcome.exists():
            workdir = shared / "smoke_run"
            workdir.mkdir(exist_ok=True)
            r = run_snakemake(workdir)
            log = "" if r.returncode == 0 else f"{r.stdout[-3000:]}\n{r.stderr[-5000:]}"
            outcome.write_text(json.dumps({"returncode": r.returncode, "log": log}))
        return json.loads(outcome.read_text())


@pytest.fixture(scope="session")
def smoke_shared_dir(tmp_path_factory: pytest.TempPathFactory, worker_id: str) -> Path:
    """The directory this test session's workers share (pytest-xdist: the parent of each worker's base temp)."""
    base = tmp_path_factory.getbasetemp()
    return base if worker_id == "master" else base.parent


@pytest.fixture(autouse=True, scope="session")
def smoke_run_prefetch(request: pytest.FixtureRequest, smoke_shared_dir: Path):
    """Start building the smoke run in a background thread as soon as a session that needs it starts, so the build
    overlaps the tests that do not need it instead of leaving a worker idle at the end."""
    if not any("smoke_run" in getattr(item, "fixturenames", ()) for item in request.session.items):
        yield None
        return
    thread = threading.Thread(target=_build_smoke_run, args=(smoke_shared_dir,), daemon=True)
    thread.start()
    yield thread
    thread.join()


@pytest.fixture(scope="session")
def smoke_run(smoke_shared_dir: Path) -> Path:
    """Working directory of one complete smoke-tier run (every target of `rule all`), built once per test session.

    Shared by every test that needs finished results: treat it as read-only (copy it with
    ``shutil.copytree(smoke_run, dest, symlinks=True)`` before running anything that writes into it). Snakemake's
    metadata under ``.snakemake/`` comes along, so a copy is as up to date as the original.

    Under pytest-xdist every worker has its own session; the run lives in the directory the workers share, built by
    whichever worker comes first (:func:`smoke_run_prefetch` starts it early); a failed build is recorded there too,
    so every test needing it fails at once with its log instead of building again.
    """
    result = _build_smoke_run(smoke_shared_dir)
    if result["returncode"] != 0:
        pytest.fail(f"smoke-tier run failed in {smoke_shared_dir / 'smoke_run'}:\n{result['log']}")
    return smoke_shared_dir / "smoke_run"
