"""Several Optuna workers on one study in a real PostgreSQL server (the multi-host storage, kind `rdb`).

The test starts its own server: initdb into a temporary directory, pg_ctl start on a free port on loopback (and
a Unix socket in that directory), trust authentication for the local superuser. PostgreSQL refuses to run as
root, so as root the server runs as the `postgres` system user (created by Debian's package) via `runuser`.
When the binaries are missing, root installs Debian's `postgresql` with apt-get. Skipped, with the reason, where
no server can start; PIPELINE_REQUIRE_INTEGRATION=1 turns that into a failure.
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path

import optuna
import pytest

from pipeline_lib.core.optuna_storage import StorageSpec, create_storage

pytestmark = pytest.mark.integration

HERE = Path(__file__).parent
URL_ENV = "PIPELINE_TEST_OPTUNA_URL"


def _skip_or_fail(reason: str):
    if os.environ.get("PIPELINE_REQUIRE_INTEGRATION") == "1":
        pytest.fail(reason)
    pytest.skip(reason)


def _pg_bindir() -> Path | None:
    for d in sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True):
        if (Path(d) / "initdb").exists():
            return Path(d)
    initdb = shutil.which("initdb")
    return Path(initdb).resolve().parent if initdb else None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def postgres_url():
    pytest.importorskip("psycopg2", reason="psycopg2-binary not installed (pip install -e '.[postgres]')")
    bindir = _pg_bindir()
    if bindir is None and os.geteuid() == 0 and shutil.which("apt-get"):
        env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
        subprocess.run(["apt-get", "update", "-qq"], env=env, capture_output=True, timeout=300)
        subprocess.run(
            ["apt-get", "install", "-y", "-qq", "--no-install-recommends", "postgresql"],
            env=env,
            capture_output=True,
            timeout=600,
        )
        bindir = _pg_bindir()
    if bindir is None:
        _skip_or_fail("PostgreSQL server binaries (initdb, pg_ctl) not found and could not be installed")

    as_user: list[str] = []
    if os.geteuid() == 0:
        try:
            import pwd

            pwd.getpwnam("postgres")
        except KeyError:
            _skip_or_fail("running as root and no 'postgres' user to run the server as")
        as_user = ["runuser", "-u", "postgres", "--"]
    # Not under pytest's tmp_path: its parents are private to root, and the server runs as `postgres`.
    data_root = Path(tempfile.mkdtemp(prefix="pipeline-pg-"))
    data, log = data_root / "data", data_root / "server.log"
    if as_user:
        shutil.chown(data_root, "postgres")
    port = _free_port()
    started = False
    try:
        init = subprocess.run(
            [
                *as_user,
                str(bindir / "initdb"),
                "-D",
                str(data),
                "-U",
                "postgres",
                "--auth=trust",
                "-E",
                "UTF8",
                "--no-sync",
            ],
            capture_output=True,
            text=True,
            timeout=120,
        )
        if init.returncode != 0:
            _skip_or_fail(f"initdb failed: {init.stderr.strip()[-500:]}")
        opts = f"-p {port} -k {data_root} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=50"
        start = subprocess.run(
            [*as_user, str(bindir / "pg_ctl"), "-D", str(data), "-l", str(log), "-o", opts, "-w", "-t", "60", "start"],
            capture_output=True,
            text=True,
            timeout=90,
        )
        if start.returncode != 0:
            _skip_or_fail(f"PostgreSQL did not start: {start.stderr.strip()} {log.read_text()[-500:]}")
        started = True
        yield f"postgresql+psycopg2://postgres@127.0.0.1:{port}/postgres"
    finally:
        if started:
            subprocess.run(
                [*as_user, str(bindir / "pg_ctl"), "-D", str(data), "-m", "immediate", "-w", "stop"],
                capture_output=True,
                timeout=60,
            )
        shutil.rmtree(data_root, ignore_errors=True)


def _load_worker_helpers():
    import importlib.util

    spec = importlib.util.spec_from_file_location("optuna_worker", HERE / "optuna_worker.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_two_worker_processes_on_one_postgresql_study_reach_exactly_the_budget(postgres_url, tmp_path, monkeypatch):
    workers = _load_worker_helpers()
    env = dict(os.environ, **{URL_ENV: postgres_url})
    spec = StorageSpec.from_config({"kind": "rdb", "url_env": URL_ENV})
    monkeypatch.setenv(URL_ENV, postgres_url)
    storage = create_storage(spec, tmp_path / "unused")
    study = optuna.create_study(study_name="pg_concurrent", storage=storage)  # once, as the init rule does
    n_total = 40
    procs = workers.start_workers(
        tmp_path, ["--kind", "rdb", "--url-env", URL_ENV], "pg_concurrent", n_total, ["h0", "h1"], env=env
    )
    for p in procs:
        out, err = p.communicate(timeout=180)
        assert p.returncode == 0, err
    per_worker = workers.check_exact(study, tmp_path / "evals.pg_concurrent", n_total)
    assert set(per_worker) == {"h0", "h1"} and sum(per_worker.values()) == n_total, per_worker
