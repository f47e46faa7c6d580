"""Lottery AMA and AMenuNet training resumes from its checkpoint to the uninterrupted result (issue 32, item 5),
and refuses a batch larger than its training split (item 3)."""

from __future__ import annotations

import pandas as pd
import pytest
import torch

from pipeline_lib.combinatorial.menus import Checkpointing, RandomizedSpec, train_randomized
from pipeline_lib.core.checkpoint import checkpoint_file

HP = {
    "lottery_ama": {"steps": 13, "batch_size": 32, "lr": 0.01, "temperature": 50.0, "lr_milestones": [[7, 0.005]]},
    "amenunet": {
        "steps": 13, "batch_size": 32, "lr": 1e-3, "temperature": 50.0, "warmup_steps": 3,
        "d_emb": 4, "n_layer": 1, "n_head": 2, "d_hidden": 8,
    },
}  # fmt: skip


class Killed(Exception):
    pass


def spec(method: str, **changes) -> RandomizedSpec:
    base = dict(
        method=method, setting="2x2_A", n=2, m=2, menu_size=4, hyperparameters=HP[method], eval_every=3,
        select_best=True, base_seed=5, seed_index=0, checkpoint_every=2,
    )  # fmt: skip
    return RandomizedSpec(**{**base, **changes})


def values(rows: int, seed: int) -> torch.Tensor:
    return torch.rand(rows, 2, 2, generator=torch.Generator().manual_seed(seed))


def kill_at(step: int):
    def on_step(done: int) -> None:
        if done == step:
            raise Killed

    return on_step


@pytest.mark.parametrize("method", ["lottery_ama", "amenunet"])
def test_a_run_killed_midway_resumes_to_the_uninterrupted_result(tmp_path, method):
    train, val = values(100, 0), values(40, 1)  # 100 / 32: a new epoch's order at steps 3, 6, 9, 12
    clean = train_randomized(spec(method), train, val, Checkpointing(str(tmp_path / "clean"), "k"))
    ckpt = Checkpointing(str(tmp_path / "killed"), "k")
    with pytest.raises(Killed):
        train_randomized(spec(method), train, val, ckpt, on_step=kill_at(5))
    saved = torch.load(checkpoint_file(ckpt.ckpt_dir), weights_only=True)
    assert saved["step"] == 4  # checkpoint_every = 2: in mid-epoch (its order and cursor matter), after Adam steps
    resumed = train_randomized(spec(method), train, val, ckpt)
    assert resumed.result.resumed_from_step == 4 and clean.result.resumed_from_step == 0
    for key, tensor in clean.result.state_dict.items():
        assert torch.equal(tensor, resumed.result.state_dict[key]), key  # bit for bit on the CPU
    for key in ("allocs", "weights", "boosts"):
        assert torch.equal(getattr(clean.menu, key), getattr(resumed.menu, key)), key
    assert (resumed.result.best_step, resumed.result.val_revenue) == (clean.result.best_step, clean.result.val_revenue)
    drop = ["elapsed_s"]
    pd.testing.assert_frame_equal(clean.result.history.drop(columns=drop), resumed.result.history.drop(columns=drop))
    assert resumed.config == clean.config


def test_a_checkpoint_of_another_run_or_input_is_not_resumed(tmp_path):
    train, val = values(100, 0), values(40, 1)
    ckpt = Checkpointing(str(tmp_path / "c"), "k")
    with pytest.raises(Killed):
        train_randomized(spec("lottery_ama"), train, val, ckpt, on_step=kill_at(7))
    other_seed = train_randomized(spec("lottery_ama", seed_index=1), train, val, ckpt)
    assert other_seed.result.resumed_from_step == 0
    with pytest.raises(Killed):
        train_randomized(spec("lottery_ama"), train, val, ckpt, on_step=kill_at(7))
    other_inputs = train_randomized(spec("lottery_ama"), train, val, Checkpointing(ckpt.ckpt_dir, "other data"))
    assert other_inputs.result.resumed_from_step == 0


def test_a_batch_larger_than_the_training_split_is_refused_naming_both():
    with pytest.raises(ValueError, match=r"batch_size 32 exceeds the training split's 20 profiles"):
        train_randomized(spec("lottery_ama"), values(20, 0), values(10, 1))


@pytest.mark.parametrize("content", [b"not a checkpoint", b"\x80\x04\x95"], ids=["garbage", "truncated pickle"])
def test_an_unreadable_checkpoint_restarts_from_scratch_to_the_same_result(tmp_path, content):
    train, val = values(100, 0), values(40, 1)
    clean = train_randomized(spec("lottery_ama"), train, val)
    ckpt = Checkpointing(str(tmp_path / "c"), "k")
    checkpoint_file(ckpt.ckpt_dir).parent.mkdir(parents=True)
    checkpoint_file(ckpt.ckpt_dir).write_bytes(content)
    again = train_randomized(spec("lottery_ama"), train, val, ckpt)
    assert again.result.resumed_from_step == 0
    for key, tensor in clean.result.state_dict.items():
        assert torch.equal(tensor, again.result.state_dict[key]), key
