"""The one-item VVCA baseline: a DSIC, IR mechanism whose ZFO training beats Vickrey on uniform bidders."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from pipeline_lib.core.data import read_valuations, write_valuations
from pipeline_lib.core.device import get_device
from pipeline_lib.core.settings import Setting
from pipeline_lib.single_item.evaluation.evaluator import RegretSearch, evaluate_mechanism
from pipeline_lib.single_item.mechanisms.one_item_vvca import (
    OneItemVVCA,
    one_item_bids,
    one_item_vvca_from_payload,
    train_one_item_vvca,
    vvca_from_reserve,
)


def test_bids_become_bundle_values_of_the_empty_bundle_and_the_item():
    b = torch.tensor([[0.3, 0.7]])
    assert torch.equal(one_item_bids(b), torch.tensor([[[0.0, 0.3], [0.0, 0.7]]]))


def test_reserve_vvca_is_the_second_price_auction_with_that_reserve():
    """Closed form: the highest bidder wins iff its bid >= r and pays max(r, second-highest bid)."""
    rng = np.random.default_rng(0)
    bids = torch.as_tensor(rng.random((2000, 4)))
    alloc, pay = OneItemVVCA(vvca_from_reserve(4, 0.5))(bids)
    top, second = bids.topk(2, dim=1).values.unbind(1)
    sold = top >= 0.5
    assert torch.equal(alloc.sum(1) > 0, sold)
    assert torch.equal(alloc.argmax(1)[sold], bids.argmax(1)[sold])
    assert torch.allclose(pay.sum(1)[sold], torch.maximum(second, torch.tensor(0.5))[sold])
    assert torch.all(pay.sum(1)[~sold] == 0)


def test_random_vvca_has_zero_regret_and_no_ir_violation_under_the_shared_evaluator():
    gen = torch.Generator().manual_seed(1)
    from pipeline_lib.vvca.mechanism import VVCAParams

    params = VVCAParams(
        0.3 * torch.randn(3, generator=gen, dtype=torch.float64),
        0.2 * torch.randn(3, 2, generator=gen, dtype=torch.float64),
    )
    values = np.random.default_rng(2).random((300, 3))
    ev = evaluate_mechanism(OneItemVVCA(params), values, RegretSearch(upper=1.0, grid=201, refine_steps=0))
    assert ev.metrics["regret_max"]["value"] < 1e-9
    assert ev.metrics["ir_violation_rate"]["value"] == 0


def test_zfo_training_raises_revenue_above_vickrey_on_uniform_bidders(tmp_path):
    """4 U[0,1] bidders: Vickrey earns 0.6, the optimum (reserve 1/2) 0.6125; a trained VVCA must beat 0.6."""
    setting = Setting("uniform", "single_item", 4, 1, "uniform", {"distribution": "uniform", "low": 0.0, "high": 1.0})
    for split, rows in (("train", 20_000), ("val", 20_000)):
        write_valuations(tmp_path / f"{split}.parquet", setting, split, base_seed=3, num_rows=rows, row_group_size=8192)
    payload, _ = train_one_item_vvca(
        family="uniform",
        train_values=read_valuations(tmp_path / "train.parquet").values,
        val_values=read_valuations(tmp_path / "val.parquet").values,
        zfo_cfg={"lr": 0.05, "q": 8, "sigma": 0.01, "iterations": 300, "batch_size": 1024, "eval_every": 25},
        base_seed=3,
        ckpt_dir=None,
        device=get_device(),
        progress=False,
    )
    assert payload["val_revenue"] > 0.603
    mech = one_item_vvca_from_payload(payload)
    values = np.random.default_rng(4).random((20_000, 4))
    _, pay = mech(torch.as_tensor(values))
    revenue = float(pay.sum(1).mean())
    assert 0.6 < revenue <= 0.6125 + 3 * float(pay.sum(1).std()) / np.sqrt(20_000)


@pytest.mark.parametrize("m", [2])
def test_a_multi_item_vvca_is_refused(m):
    from pipeline_lib.vvca.mechanism import VVCAParams

    with pytest.raises(ValueError, match="m = 1"):
        OneItemVVCA(VVCAParams.vcg(2, m))
