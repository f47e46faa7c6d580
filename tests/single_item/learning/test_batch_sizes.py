"""A minibatch larger than the training split is refused, naming the key and both sizes, by every learned
single-item method (before, MyersonNet cut it silently and the report's net took the whole split as one batch while
the record kept the configured size)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from pipeline_lib.single_item.learning import myersonnet as mn
from pipeline_lib.single_item.learning import regretnet as rn
from pipeline_lib.single_item.learning import report_net as tr
from pipeline_lib.single_item.learning.minibatches import check_batch_size


def test_check_batch_size_names_the_key_and_both_sizes():
    check_batch_size(64, 64, "k")  # equal: fine
    with pytest.raises(ValueError, match=r"^k = 65 is larger than the training split \(64 profiles\)$"):
        check_batch_size(65, 64, "k")


@pytest.fixture
def small():
    rng = np.random.default_rng(0)
    return rng.random((40, 2)), rng.random((10, 2))


def test_myersonnet_refuses_a_batch_above_its_split(small):
    train, val = small
    cfg = mn.MyersonNetConfig(iterations=2, batch_size=41, eval_every=1, val_profiles=10, softmax_iterations=0)
    with pytest.raises(ValueError, match=r"single_item.myersonnet.training.batch_size = 41 .*\(40 profiles\)"):
        mn.train_myersonnet(train, val, cfg, seed=0)


def test_regretnet_refuses_a_batch_above_its_split(small):
    train, val = small
    cfg = rn.RegretNetConfig(hidden=(4,), iterations=1, batch_size=41, eval_every=1, val_profiles=10, val_grid=5)
    with pytest.raises(ValueError, match=r"single_item.regretnet.training.batch_size = 41 .*\(40 profiles\)"):
        rn.train_regretnet(train, val, cfg, seed=0)


def test_the_reports_net_refuses_a_batch_above_its_split(small):
    train, _ = small
    cfg = tr.TrainConfig(phase1_batch_size=41, phase1_epochs=1)
    target = lambda b: (torch.zeros_like(b), torch.zeros_like(b))  # noqa: E731
    with pytest.raises(ValueError, match=r"single_item.training.phase1_batch_size = 41 .*\(40 profiles\)"):
        tr.warm_start(train, target, cfg, seed=0, device=torch.device("cpu"))
