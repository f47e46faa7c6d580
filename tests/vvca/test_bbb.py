"""BBBVVCA (approximate): per-bidder-bundle class weights and the fixed-allocation ascent direction."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from pipeline_lib.core import methods
from pipeline_lib.valuations.combinatorial import additive_bundle_values
from pipeline_lib.vvca import bbb
from pipeline_lib.vvca.estimators import ascent_direction
from pipeline_lib.vvca.mechanism import evaluate_vvca, payments_from_allocations
from pipeline_lib.vvca.parametrisation import Parametrisation

DT = torch.float64


def test_class_weights_give_every_bidder_bundle_class_total_weight_one():
    alloc = torch.tensor([[1, 2], [1, 0], [3, 0], [1, 2], [0, 3]])
    w = bbb.class_weights(alloc, 4)
    # bidder 0: bundle 1 three times, 3 once, 0 once; bidder 1: 2 twice, 0 twice, 3 once
    expected = torch.tensor([[1 / 3, 1 / 2], [1 / 3, 1 / 2], [1.0, 1 / 2], [1 / 3, 1 / 2], [1.0, 1.0]], dtype=DT)
    assert torch.allclose(w.to(DT), expected)
    for i in range(2):
        for s in alloc[:, i].unique():
            assert w[alloc[:, i] == s, i].sum().item() == pytest.approx(1.0)


def _batch(rows=64, seed=0):
    rng = np.random.default_rng(seed)
    return additive_bundle_values(torch.as_tensor(rng.random((rows, 2, 2)), dtype=DT))


def test_bbb_direction_is_the_sum_over_classes_of_the_class_mean_payment_gradient():
    """Independent oracle: loop over the observed (bidder, bundle) classes, average the payment of the class at
    frozen allocations, sum the classes, differentiate."""
    bids = _batch()
    par = Parametrisation.full(2, 2)
    phi = torch.as_tensor(np.random.default_rng(1).normal(0, 0.3, par.dim), dtype=DT).requires_grad_(True)
    got = ascent_direction("bbbvvca", bids, par, phi).direction

    params = par.params(phi)
    out = evaluate_vvca(bids, params)
    pay, _, _ = payments_from_allocations(bids, params, out.alloc, out.alloc_minus)
    total = 0.0
    for i in range(2):
        for bundle in out.alloc[:, i].unique():
            members = out.alloc[:, i] == bundle
            total = total + pay[members, i].mean()
    (expected,) = torch.autograd.grad(total, phi)
    assert torch.allclose(got, expected)


def test_with_one_profile_bbb_and_fo_directions_coincide():
    """One profile: every class has one member, so J = sum_i p_i = revenue, whose fixed-allocation gradient is
    the gradient of Rev1 (Rev2 is constant when allocations are frozen)."""
    bids = _batch(rows=1, seed=2)
    par = Parametrisation.full(2, 2)
    phi = torch.as_tensor(np.random.default_rng(3).normal(0, 0.3, par.dim), dtype=DT).requires_grad_(True)
    got = ascent_direction("bbbvvca", bids, par, phi).direction
    fo = ascent_direction("fo_vvca", bids, par, phi).direction
    assert torch.allclose(got, fo)


def test_bbb_is_labelled_approximate():
    entry = methods.method("bbbvvca")
    assert entry.approximate is True and "approx" in entry.label
