"""AMenuNet: menu shapes and ranges, permutation equivariance of the transformer (bidders and items), gradients
for every weight, training that raises revenue, and DSIC / IR of its menu at test time."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from menu_properties import assert_ir_and_dsic

from pipeline_lib.combinatorial.affine_maximizer import soft_revenue
from pipeline_lib.combinatorial.amenunet import AMenuNet
from pipeline_lib.combinatorial.menus import TrainConfig, train_menu


def small_net(n: int = 3, m: int = 4, s: int = 6, **kw) -> AMenuNet:
    torch.manual_seed(0)
    return AMenuNet(n, m, s, d_emb=4, n_layer=2, n_head=2, d_hidden=8, **kw).double()


def test_menu_shapes_and_ranges():
    menu = small_net().menu()
    assert menu.allocs.shape == (7, 3, 4) and menu.boosts.shape == (7,) and menu.weights.shape == (3,)
    assert (menu.allocs >= 0).all() and (menu.allocs.sum(1) < 1).all()  # the dummy bidder keeps a share
    assert ((menu.weights > 0) & (menu.weights < 1)).all()  # sigmoid weights
    assert menu.allocs[-1].abs().sum() == 0 and menu.boosts[-1] == 0


@pytest.mark.parametrize("axis", ["bidders", "items"])
def test_permuting_the_embeddings_permutes_the_menu(axis):
    """No positional encoding: the row/column transformers and the mean pooling are permutation-equivariant."""
    net = small_net()
    base = net.menu()
    perm = torch.tensor([2, 0, 1]) if axis == "bidders" else torch.tensor([3, 1, 0, 2])
    with torch.no_grad():
        if axis == "bidders":  # the dummy bidder (last row) stays in place
            net.bidder_embedding.weight[:3] = net.bidder_embedding.weight[:3][perm].clone()
        else:
            net.item_embedding.weight.copy_(net.item_embedding.weight[perm].clone())
    moved = net.menu()
    dim = 1 if axis == "bidders" else 2
    torch.testing.assert_close(moved.allocs, base.allocs.index_select(dim, perm))
    torch.testing.assert_close(moved.boosts, base.boosts)
    want_w = base.weights[perm] if axis == "bidders" else base.weights
    torch.testing.assert_close(moved.weights, want_w)


def test_every_weight_gets_a_gradient():
    net = small_net(n=2, m=2, s=4, alloc_temperature=1.0)
    soft_revenue(torch.rand(128, 2, 2, dtype=torch.float64), net.menu(), 10.0).backward()
    for name, p in net.named_parameters():
        assert p.grad is not None and p.grad.abs().sum() > 0, name


def test_training_raises_revenue_and_the_trained_menu_is_dsic_and_ir():
    torch.manual_seed(1)
    gen = torch.Generator().manual_seed(2)
    train, val = torch.rand(4096, 2, 2, generator=gen), torch.rand(2048, 2, 2, generator=gen)
    net = AMenuNet(2, 2, 8, d_emb=4, n_layer=1, n_head=2, d_hidden=16, alloc_temperature=5.0)
    cfg = TrainConfig(steps=150, batch_size=512, lr=3e-3, temperature=200.0, warmup_steps=10, eval_every=75)
    result = train_menu(net, train, val, cfg, generator=torch.Generator().manual_seed(3))
    vals = list(result.history["val_revenue"])
    assert result.val_revenue == max(vals) and vals[-1] > vals[0] + 0.1
    net.load_state_dict(result.state_dict)
    menu = net.menu().detach().to(dtype=torch.float64)
    assert_ir_and_dsic(menu, np.random.default_rng(4), lies=60)
