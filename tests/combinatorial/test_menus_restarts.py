"""Randomized baselines with several initialisations per seed (issue 31, item 4: a seed that stalls is restarted):
restart 0 is the single run bit for bit, the restart kept is the best on validation, and a job killed in a later
restart resumes without retraining the finished ones."""

from __future__ import annotations

import pytest
import torch
from test_menus_checkpoint import Killed, spec, values

from pipeline_lib.combinatorial.menus import Checkpointing, train_randomized
from pipeline_lib.core.checkpoint import checkpoint_file


def same_parameters(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


@pytest.mark.parametrize("method", ["lottery_ama", "amenunet"])
def test_restart_zero_is_the_single_run_and_the_best_validation_restart_is_kept(method):
    train, val = values(100, 0), values(40, 1)
    single = train_randomized(spec(method), train, val)
    multi = train_randomized(spec(method, restarts=3), train, val)
    assert len(multi.restart_val_revenues) == 3 and single.restart_val_revenues == (single.result.val_revenue,)
    assert multi.restart_val_revenues[0] == single.result.val_revenue
    best = max(range(3), key=lambda r: (multi.restart_val_revenues[r], -r))  # the earliest of equal ones
    assert multi.restart == best and multi.result.val_revenue == multi.restart_val_revenues[best]
    if best == 0:
        assert same_parameters(multi.result.state_dict, single.result.state_dict)
    assert len(set(multi.restart_val_revenues)) > 1  # each restart its own initialisation and batch order
    assert multi.config["restarts"] == 3 and single.config["restarts"] == 1


def test_the_kept_restart_is_the_one_whose_parameters_are_returned():
    train, val = values(100, 0), values(40, 1)
    multi = train_randomized(spec("lottery_ama", restarts=3), train, val)
    alone = [
        train_randomized(spec("lottery_ama", restarts=r + 1), train, val).restart_val_revenues[r] for r in range(3)
    ]
    assert list(multi.restart_val_revenues) == alone  # restart r computes the same whatever the number of restarts
    rebuilt = train_randomized(spec("lottery_ama", restarts=multi.restart + 1), train, val)
    if rebuilt.restart == multi.restart:
        assert same_parameters(rebuilt.result.state_dict, multi.result.state_dict)


def test_a_job_killed_in_a_later_restart_resumes_with_the_finished_restarts_kept(tmp_path):
    train, val = values(100, 0), values(40, 1)
    clean = train_randomized(spec("lottery_ama", restarts=2), train, val, Checkpointing(str(tmp_path / "clean"), "k"))
    ckpt = Checkpointing(str(tmp_path / "killed"), "k")
    calls = []

    def kill_in_restart_one(done: int) -> None:
        calls.append(done)
        if len(calls) == 13 + 5:  # 13 steps of restart 0, then 5 of restart 1
            raise Killed

    with pytest.raises(Killed):
        train_randomized(spec("lottery_ama", restarts=2), train, val, ckpt, on_step=kill_in_restart_one)
    finished = torch.load(checkpoint_file(f"{ckpt.ckpt_dir}/restart0"), weights_only=True)
    assert finished["step"] == 13  # the finished restart is kept whole
    assert torch.load(checkpoint_file(f"{ckpt.ckpt_dir}/restart1"), weights_only=True)["step"] == 4
    steps_run = []
    resumed = train_randomized(spec("lottery_ama", restarts=2), train, val, ckpt, on_step=steps_run.append)
    assert steps_run == list(range(5, 14))  # restart 0 not retrained, restart 1 from its step-4 checkpoint
    assert resumed.restart_val_revenues == clean.restart_val_revenues and resumed.restart == clean.restart
    assert same_parameters(resumed.result.state_dict, clean.result.state_dict)


def test_fewer_than_one_restart_is_refused():
    with pytest.raises(ValueError, match="restarts must be at least 1, got 0"):
        train_randomized(spec("lottery_ama", restarts=0), values(100, 0), values(40, 1))
