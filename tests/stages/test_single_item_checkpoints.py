"""Checkpoints of RegretNet's training, MyersonNet's training and RegretNet's distilled start (issue 32, item 5): a
run killed by SIGKILL after a checkpoint resumes from it to the result of an uninterrupted run, parameter for
parameter; and the stages refuse a model of another kind in a learned model's place (item 4)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from pipeline_lib.core import io
from pipeline_lib.core.checkpoint import checkpoint_dir_for, checkpoint_file
from pipeline_lib.stages import single_item_learned as sl
from pipeline_lib.stages.single_item_models import ModelFileError

REPO = Path(__file__).resolve().parents[2]
FAMILY = {"distribution": "uniform", "low": 0.0, "high": 1.0}
CHECK = {"base_seed": 5, "rows": {"train": 256, "val": 64, "test": 64}}
COMMON = {"family": "uniform", "family_cfg": FAMILY, "base_seed": 5, "data_check": CHECK}
MYERSONNET = {"iterations": 300, "eval_every": 20, "val_profiles": 32, "softmax_iterations": 300,
              "softmax_restarts": 2, "batch_size": 64}  # fmt: skip
# Small enough to run three times (uninterrupted, killed, resumed), long enough to cross several checkpoints and the
# Lagrangian's updates after the kill (multipliers every 25 iterations, rho at 200 by default).
REGRETNET = {"val_profiles": 16, "val_grid": 21, "hidden": [16, 16], "iterations": 240, "eval_every": 20,
             "batch_size": 32, "grid_misreports": 4, "val_refine_steps": 2}  # fmt: skip
START = {"teacher": "myersonnet", "iterations": 600, "batch_size": 32}  # a checkpoint every 60 iterations
EVAL = {"grid": 21, "refine_steps": 0, "bootstrap": 5}


def _outputs(root: Path) -> dict[str, str]:
    root.mkdir(parents=True, exist_ok=True)
    return {"model": str(root / "model.pt"), "history": str(root / "history.parquet"), "metrics": str(root / "m.json")}


def _killed(call: str, kwargs: dict, output: str, until) -> None:
    """Run ``sl.<call>(**kwargs)`` in a child process and SIGKILL it once its checkpoint satisfies ``until``."""
    script = (
        "import json, sys, os; os.environ['PIPELINE_DEVICE'] = 'cpu'\n"
        "from pipeline_lib.stages import single_item_learned as sl\n"
        f"sl.{call}(**json.loads(sys.argv[1]))\n"
    )
    env = {**os.environ, "PYTHONPATH": str(REPO / "src"), "OMP_NUM_THREADS": "1"}
    proc = subprocess.Popen([sys.executable, "-c", script, json.dumps(kwargs)], env=env, stderr=subprocess.PIPE)
    ckpt = checkpoint_file(checkpoint_dir_for(output))
    deadline = time.monotonic() + 300
    try:
        while True:
            if proc.poll() is not None:
                pytest.fail(f"{call} ended before the kill point: {proc.stderr.read().decode()[-2000:]}")
            if ckpt.exists():
                try:
                    state = torch.load(ckpt, weights_only=True)
                except Exception:  # being replaced right now
                    state = None
                if state is not None and until(state):
                    break
            if time.monotonic() > deadline:
                pytest.fail(f"{call}: no checkpoint reached the kill point")
            time.sleep(0.005)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    assert proc.returncode == -signal.SIGKILL
    assert ckpt.exists() and not Path(output).exists()


def _same_model(a: str, b: str) -> None:
    pa, pb = io.load_torch(a), io.load_torch(b)
    for key in ("state_dict",):
        assert pa[key].keys() == pb[key].keys()
        for name in pa[key]:
            assert torch.equal(pa[key][name], pb[key][name]), name
    if "softmax" in pa:
        for name, value in pa["softmax"]["state_dict"].items():
            assert torch.equal(value, pb["softmax"]["state_dict"][name]), name


def _train(data, outputs, method, training, **extra):
    return sl.single_item_learned_train(data["train"], data["val"], outputs, method=method, seed_index=0,
                                        training=training, **COMMON, **extra)  # fmt: skip


@pytest.mark.slow
def test_killed_myersonnet_resumes_to_the_uninterrupted_result(tmp_path, data, monkeypatch):
    monkeypatch.setenv("PIPELINE_DEVICE", "cpu")
    plain = _outputs(tmp_path / "plain")
    expected = _train(data, plain, "myersonnet", MYERSONNET)
    killed = _outputs(tmp_path / "killed")
    kwargs = {"train_path": data["train"], "val_path": data["val"], "outputs": killed, "method": "myersonnet",
              "seed_index": 0, "training": MYERSONNET, **COMMON}  # fmt: skip
    # killed while the softmax deployment trains: the checkpoint carries the finished hard auction
    _killed("single_item_learned_train", kwargs, killed["model"], lambda s: "softmax_fit" in s)
    resumed = _train(data, killed, "myersonnet", MYERSONNET)
    assert resumed["resumed_from_checkpoint"] and not expected["resumed_from_checkpoint"]
    _same_model(plain["model"], killed["model"])
    assert resumed["selected"]["val_revenue"] == expected["selected"]["val_revenue"]
    assert not checkpoint_file(checkpoint_dir_for(killed["model"])).exists()  # removed once the outputs exist


@pytest.mark.slow
def test_killed_regretnet_start_and_training_resume_to_the_uninterrupted_result(tmp_path, data, monkeypatch):
    monkeypatch.setenv("PIPELINE_DEVICE", "cpu")
    teacher = _outputs(tmp_path / "teacher")
    _train(data, teacher, "myersonnet", {**MYERSONNET, "iterations": 40, "softmax_iterations": 0})
    start_kw = {"train_path": data["train"], "val_path": data["val"], "training": REGRETNET, "start": START,
                "teacher_path": teacher["model"], **COMMON}  # fmt: skip
    plain_start, killed_start = str(tmp_path / "plain_start.pt"), str(tmp_path / "killed_start.pt")
    expected = sl.regretnet_start(out_path=plain_start, **start_kw)
    _killed("regretnet_start", {**start_kw, "out_path": killed_start}, killed_start, lambda s: s["iteration"] >= 180)
    resumed = sl.regretnet_start(out_path=killed_start, **start_kw)
    assert resumed["resumed_from_checkpoint"] and not expected["resumed_from_checkpoint"]
    _same_model(plain_start, killed_start)
    assert [r["loss"] for r in resumed["history"]] == [r["loss"] for r in expected["history"]]

    best = tmp_path / "best.json"
    best.write_text(json.dumps({"params": {}, "budget": 1e-3}))
    extra = {"best_path": str(best), "start_path": plain_start}
    plain = _outputs(tmp_path / "plain")
    expected = _train(data, plain, "regretnet", REGRETNET, **extra)
    killed = _outputs(tmp_path / "killed")
    kwargs = {"train_path": data["train"], "val_path": data["val"], "outputs": killed, "method": "regretnet",
              "seed_index": 0, "training": REGRETNET, **COMMON, **extra}  # fmt: skip
    _killed("single_item_learned_train", kwargs, killed["model"], lambda s: s["iteration"] >= 120)
    resumed = _train(data, killed, "regretnet", REGRETNET, **extra)
    assert resumed["resumed_from_checkpoint"]
    _same_model(plain["model"], killed["model"])
    assert resumed["selected"] == {**expected["selected"], "seconds": resumed["selected"]["seconds"]}


def test_a_regretnet_model_in_the_myersonnets_place_is_refused(tmp_path, data, monkeypatch):
    """As teacher of RegretNet's start and as the model evaluated as MyersonNet: refused naming the file, the
    expected kind and the found one (before: published as "MyersonNet (exactly DSIC)" with regret 0.041)."""
    monkeypatch.setenv("PIPELINE_DEVICE", "cpu")
    start = str(tmp_path / "start.pt")
    sl.regretnet_start(data["train"], data["val"], start, training=REGRETNET, start={"teacher": "none"}, **COMMON)
    best = tmp_path / "best.json"
    best.write_text(json.dumps({"params": {}, "budget": 1e-3}))
    rnet = _outputs(tmp_path / "regretnet")
    _train(data, rnet, "regretnet", {**REGRETNET, "iterations": 2}, best_path=str(best), start_path=start)
    found = "found kind regretnet, method regretnet, family uniform"
    with pytest.raises(ModelFileError, match=rf"{rnet['model']}: expected a myersonnet model, {found}"):
        sl.regretnet_start(data["train"], data["val"], str(tmp_path / "s2.pt"), training=REGRETNET,
                           start={"teacher": "myersonnet"}, teacher_path=rnet["model"], **COMMON)  # fmt: skip
    with pytest.raises(ModelFileError, match=rf"{rnet['model']}: expected a myersonnet model, {found}"):
        sl.single_item_learned_evaluate(rnet["model"], data["test"], str(tmp_path / "e.json"), family="uniform",
                                        method="myersonnet", family_cfg=FAMILY, evaluation=EVAL, seed_index=0,
                                        data_check=CHECK)  # fmt: skip
    with pytest.raises(ModelFileError, match=rf"{start}: expected a regretnet model, found kind single_item_net"):
        sl.single_item_learned_evaluate(start, data["test"], str(tmp_path / "e.json"), family="uniform",
                                        method="regretnet", family_cfg=FAMILY, evaluation=EVAL, seed_index=0,
                                        data_check=CHECK)  # fmt: skip
