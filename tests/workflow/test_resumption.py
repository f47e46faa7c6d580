"""Resumption at the workflow level, with real processes: a training stage or a sweep killed midway (SIGKILL to
Snakemake's whole process group) is resumed by running the same command again, and a corrupted input stops its
consumer with a clear message and no output.

Each test starts from a copy of the session's smoke run (fixture ``smoke_run``): datasets, warm starts and
baselines already exist there, so only the stage under test runs. The overlay below changes nothing upstream of
it (data, warm start), which the job counts of every run confirm.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import sqlite3
import subprocess
import time
from pathlib import Path

import pandas as pd
import pytest
import torch
from snakemake_runs import SMOKE, job_counts, run_snakemake, snakemake_command

# Only stage-local keys: zfo_run's resolved TrainConfig and the sweep's budget / validation grid.
OVERLAY = """\
combinatorial:
  training: {max_iterations: 400, checkpoint_every: 25, eval_every: 25}
single_item:
  sweep: {n_trials: 4, val_grid: 1001, val_profiles: 128}
"""
ZFO = "results/combinatorial/2x2_A/zfo_vvca/seed0"
ZFO_CKPT = "results/_ckpt/combinatorial/2x2_A/zfo_vvca/seed0/state.pt"
SWEEP = "results/single_item/uniform/sweep"
N_TRIALS = 4


def _workdir(smoke_run: Path, dest: Path, *remove: str) -> tuple[Path, Path]:
    """A private copy of the smoke run (metadata included) without ``remove``, and the overlay written beside it."""
    shutil.copytree(smoke_run, dest, symlinks=True)
    for rel in remove:
        path = dest / rel
        if path.is_dir():
            shutil.rmtree(path)
        else:
            path.unlink(missing_ok=True)
    overlay = dest / "overlay.yaml"
    overlay.write_text(OVERLAY)
    return dest, overlay


def _run(workdir: Path, *args: str) -> subprocess.CompletedProcess:
    return run_snakemake(workdir, *args, configfiles=(SMOKE, workdir / "overlay.yaml"))


def _start(workdir: Path, *targets: str) -> subprocess.Popen:
    """Snakemake in its own session (process group = its pid), output to ``workdir/snakemake.out``; the command is
    the one :func:`snakemake_runs.run_snakemake` runs."""
    cmd = snakemake_command(workdir, *targets, configfiles=(SMOKE, workdir / "overlay.yaml"))
    with open(workdir / "snakemake.out", "w") as out:  # the child keeps its own copy of the descriptor
        return subprocess.Popen(cmd, cwd=workdir, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)


def _kill_when(proc: subprocess.Popen, ready, timeout: float = 240.0) -> None:
    """Poll ``ready()`` every 20 ms; once true, SIGKILL the process group of ``proc`` (Snakemake and its jobs)."""
    deadline = time.monotonic() + timeout
    while not ready():
        if proc.poll() is not None:
            pytest.fail(f"snakemake ended (rc {proc.returncode}) before the kill point")
        if time.monotonic() > deadline:
            os.killpg(proc.pid, signal.SIGKILL)
            pytest.fail("kill point not reached in time")
        time.sleep(0.02)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()


def _resume(workdir: Path, *targets: str) -> subprocess.CompletedProcess:
    """What a user does after a kill: remove the stale lock, then the same command with --rerun-incomplete (the
    default workflow profile sets rerun-incomplete; the tests run without it)."""
    unlock = _run(workdir, "--unlock", *targets)
    assert unlock.returncode == 0, unlock.stderr[-3000:]
    r = _run(workdir, *targets, "--rerun-incomplete")
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-5000:]
    return r


@pytest.mark.slow
def test_a_killed_zfo_run_resumes_from_its_checkpoint_to_the_uninterrupted_result(smoke_run, tmp_path):
    target = f"{ZFO}/metrics.json"
    killed, _ = _workdir(smoke_run, tmp_path / "killed", ZFO, ZFO_CKPT)
    plain, _ = _workdir(smoke_run, tmp_path / "plain", ZFO, ZFO_CKPT)
    reference = _start(plain, target)  # the uninterrupted run, concurrently in its own directory
    try:
        proc = _start(killed, target)
        ckpt = killed / ZFO_CKPT
        _kill_when(proc, ckpt.exists)
        assert not (killed / target).exists(), "the run finished before the kill: raise max_iterations"
        saved = torch.load(ckpt, map_location="cpu", weights_only=False)["iteration"]
        assert saved > 0
        started = (killed / "snakemake.out").read_text()
        assert job_counts(started) == {"zfo_run": 1}, started[-2000:]

        r = _resume(killed, target)
        assert job_counts(r.stdout + r.stderr) == {"zfo_run": 1}
    finally:
        reference.wait(timeout=600)
    assert reference.returncode == 0, (plain / "snakemake.out").read_text()[-5000:]

    log = (killed / "logs/zfo_run/2x2_A/zfo_vvca/seed0.log").read_text()
    resumed = re.search(r"resumed zfo_vvca from checkpoint at iteration (\d+)", log)
    assert resumed and int(resumed[1]) == saved, log[-2000:]
    metrics = {name: json.loads((d / target).read_text()) for name, d in (("killed", killed), ("plain", plain))}
    assert metrics["killed"]["resumed_from_iteration"] == saved and metrics["plain"]["resumed_from_iteration"] == 0
    assert metrics["killed"]["config"]["iterations"] == 400
    assert metrics["killed"]["test_revenue"] == metrics["plain"]["test_revenue"]
    assert metrics["killed"]["val_revenue"] == metrics["plain"]["val_revenue"]
    params = {name: torch.load(d / ZFO / "params.pt", weights_only=False) for name, d in (("k", killed), ("p", plain))}
    for key in ("alpha", "boosts"):
        assert torch.equal(params["k"][key], params["p"][key]), key  # bit for bit: same seed, CPU
    pd.testing.assert_frame_equal(
        pd.read_parquet(killed / ZFO / "history.parquet"), pd.read_parquet(plain / ZFO / "history.parquet")
    )
    assert not (killed / ZFO_CKPT).exists(), "the checkpoint is removed once the outputs exist"


def _trial_states(db: Path) -> dict[int, str]:
    """{trial number: state} of every trial in the sweep's SQLite storage ({} while it is busy). A read-write
    connection, so that after the kill SQLite can roll back a transaction the killed sweep left open."""
    if not db.exists():
        return {}
    con = sqlite3.connect(db, timeout=0.5)
    try:
        return dict(con.execute("SELECT number, state FROM trials").fetchall())
    except sqlite3.Error:
        return {}
    finally:
        con.close()


@pytest.mark.slow
def test_a_killed_sweep_resumes_keeps_its_finished_trials_and_fails_the_stale_one(smoke_run, tmp_path):
    target = f"{SWEEP}/best_params.json"
    workdir, _ = _workdir(smoke_run, tmp_path / "sweep", SWEEP)
    db = workdir / SWEEP / "study.db"

    def one_done_one_running() -> bool:
        states = list(_trial_states(db).values())
        return "COMPLETE" in states and "RUNNING" in states

    proc = _start(workdir, target)
    _kill_when(proc, one_done_one_running)
    before = _trial_states(db)
    stale = sorted(n for n, s in before.items() if s == "RUNNING")
    complete_before = sum(s == "COMPLETE" for s in before.values())
    assert stale and 1 <= complete_before < N_TRIALS, before
    assert not (workdir / target).exists()
    started = (workdir / "snakemake.out").read_text()
    assert job_counts(started) == {"single_item_sweep": 1}, started[-2000:]

    r = _resume(workdir, target)
    assert job_counts(r.stdout + r.stderr) == {"single_item_sweep": 1}

    after = _trial_states(db)
    assert sum(s == "COMPLETE" for s in after.values()) == N_TRIALS, after
    assert all(after[n] == "FAIL" for n in stale), after
    assert all(after[n] == "COMPLETE" for n, s in before.items() if s == "COMPLETE"), "finished trials are kept"
    for name in ("best_params.json", "trials.csv", "trials.json"):
        assert (workdir / SWEEP / name).stat().st_size > 0, name
    best = json.loads((workdir / target).read_text())
    assert best["n_trials"] == N_TRIALS
    assert best["progress"]["stale_failed"] == len(stale)
    assert best["progress"]["complete_before"] == complete_before
    trials = pd.read_csv(workdir / SWEEP / "trials.csv")
    assert (trials["state"] == "COMPLETE").sum() == N_TRIALS
    log = (workdir / "logs/single_item_sweep/uniform.log").read_text()
    assert f"marked {len(stale)} trial(s) left RUNNING by a killed sweep as FAIL" in log


@pytest.mark.slow
def test_a_truncated_dataset_stops_its_consumer_with_a_clear_message_and_no_output(smoke_run, tmp_path):
    """The smoke run built ``test.parquet`` of 2x2_A and its consumer ``vcg.json``. Truncating the dataset changes its
    mtime and checksum: its consumer is out of date (input newer than output, checksum differs), while its producer
    ``sample_dataset`` has no input files and unchanged params/code, so Snakemake does not re-sample it. No
    ``--rerun-triggers``/``--allowed-rules`` is needed: the plain command re-runs the consumer alone (asserted from
    the job counts), which must fail naming the file, and Snakemake deletes the consumer's stale output."""
    data, consumer = "results/data/2x2_A/test.parquet", "results/baselines/2x2_A/vcg.json"
    workdir, _ = _workdir(smoke_run, tmp_path / "corrupt")
    assert (workdir / consumer).exists()
    path = workdir / data
    size = path.stat().st_size
    with open(path, "r+b") as fh:
        fh.truncate(size // 2)

    r = _run(workdir, consumer)
    out = r.stdout + r.stderr
    assert r.returncode != 0
    assert job_counts(out) == {"combinatorial_baseline": 1}, out[-3000:]
    log = (workdir / "logs/combinatorial_baseline/2x2_A/vcg.log").read_text()
    message = re.search(r"DataError: (.*)", out + log)
    assert message, out[-3000:]
    assert data in message[1] and "truncated or corrupted" in message[1], message[1]
    assert not (workdir / consumer).exists()
    assert path.stat().st_size == size // 2, "the dataset was not re-sampled"
