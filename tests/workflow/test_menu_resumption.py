"""Lottery AMA and AMenuNet killed midway (SIGKILL to Snakemake's whole process group) resume from their
checkpoints to the result of an uninterrupted run (issue 32, item 5), as the ZFO run does (test_resumption.py).

Self-contained: each directory samples the one setting's datasets, then trains both methods side by side
(``--resources gpu=2``); the kill comes once both have checkpointed."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path

import pandas as pd
import pytest
import torch
from snakemake_runs import REPO, SMOKE, SNAKEMAKE, job_counts, run_snakemake

OVERLAY = """\
combinatorial:
  randomized:
    checkpoint_every: 100
    eval_every: 500
    lottery_ama: {steps: 6000}
    amenunet: {steps: 1200}
"""
METHODS = ("lottery_ama", "amenunet")
RUN = "results/combinatorial/2x2_A/{method}/seed0"
CKPT = "results/_ckpt/combinatorial/2x2_A/{method}/seed0/state.pt"
TARGETS = [f"{RUN.format(method=m)}/metrics.json" for m in METHODS]


def _start(workdir: Path) -> subprocess.Popen:
    workdir.mkdir(parents=True)
    (workdir / "config").mkdir()
    (workdir / "config" / "config.yaml").write_text((REPO / "config" / "config.yaml").read_text())
    (workdir / "overlay.yaml").write_text(OVERLAY)
    cmd = [
        *SNAKEMAKE, *TARGETS, "-s", str(REPO / "workflow" / "Snakefile"), "--directory", str(workdir),
        "--workflow-profile", "none", "--cores", "2", "--resources", "gpu=2",
        "--configfile", str(SMOKE), str(workdir / "overlay.yaml"),
    ]  # fmt: skip
    with open(workdir / "snakemake.out", "w") as out:
        return subprocess.Popen(cmd, cwd=workdir, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)


@pytest.mark.slow
def test_killed_lottery_ama_and_amenunet_runs_resume_to_the_uninterrupted_result(tmp_path):
    killed, plain = tmp_path / "killed", tmp_path / "plain"
    reference = _start(plain)
    try:
        proc = _start(killed)
        ckpts = [killed / CKPT.format(method=m) for m in METHODS]
        deadline = time.monotonic() + 400
        while not all(c.exists() for c in ckpts):
            if proc.poll() is not None or time.monotonic() > deadline:
                os.killpg(proc.pid, signal.SIGKILL)
                pytest.fail("the kill point was not reached: " + (killed / "snakemake.out").read_text()[-3000:])
            time.sleep(0.02)
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        for target in TARGETS:
            assert not (killed / target).exists(), "a run finished before the kill: raise its steps"
        saved = {
            m: torch.load(c, map_location="cpu", weights_only=True)["step"] for m, c in zip(METHODS, ckpts, strict=True)
        }
        assert all(step > 0 for step in saved.values())

        files = (SMOKE, killed / "overlay.yaml")
        unlock = run_snakemake(killed, "--unlock", *TARGETS, configfiles=files)
        assert unlock.returncode == 0, unlock.stderr[-3000:]
        r = run_snakemake(killed, *TARGETS, "--rerun-incomplete", configfiles=files)
        assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-5000:]
        assert job_counts(r.stdout + r.stderr) == {"randomized_run": 2}  # the data were not sampled again
    finally:
        reference.wait(timeout=600)
    assert reference.returncode == 0, (plain / "snakemake.out").read_text()[-5000:]

    for method in METHODS:
        run = RUN.format(method=method)
        log = (killed / f"logs/randomized_run/2x2_A/{method}/seed0.log").read_text()
        assert "from checkpoint at step" in log, log[-2000:]
        metrics = {
            name: json.loads((d / run / "metrics.json").read_text()) for name, d in (("k", killed), ("p", plain))
        }
        assert metrics["k"]["resumed_from_step"] >= saved[method] and metrics["p"]["resumed_from_step"] == 0
        for key in ("test_revenue", "val_revenue", "best_step", "config", "welfare"):
            assert metrics["k"][key] == metrics["p"][key], (method, key)
        params = {
            name: torch.load(d / run / "params.pt", weights_only=True) for name, d in (("k", killed), ("p", plain))
        }
        for group in ("state_dict", "menu"):
            for key, tensor in params["p"][group].items():
                assert torch.equal(params["k"][group][key], tensor), (method, group, key)  # bit for bit: CPU
        history = {name: pd.read_parquet(d / run / "history.parquet") for name, d in (("k", killed), ("p", plain))}
        pd.testing.assert_frame_equal(history["k"].drop(columns="elapsed_s"), history["p"].drop(columns="elapsed_s"))
        assert not (killed / CKPT.format(method=method)).exists(), "the checkpoint is removed once the outputs exist"
