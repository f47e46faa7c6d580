"""Softmax allocation with exact envelope payments (Myerson's payment identity on linear pieces).

Oracles: adaptive quadrature (scipy.integrate.quad) of the allocation along the own bid; the softmax written out
term by term; the payment identity's consequence that a truthful bidder's utility is the integral of its
allocation, hence >= 0.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from scipy import integrate

from pipeline_lib.single_item.mechanisms import envelope as env


def piecewise(seed: int, n: int, pieces: int, upper: float):
    """Random increasing piecewise-linear scores g_i on [0, upper], some pieces nearly flat, as (knots, slopes,
    intercepts) and as a plain function."""
    rng = np.random.default_rng(seed)
    knots = np.sort(rng.uniform(0, upper, (n, pieces - 1)), axis=1)
    knots = np.concatenate([np.zeros((n, 1)), knots, np.full((n, 1), upper)], axis=1)
    slopes = rng.exponential(1.0, (n, pieces)) * (rng.random((n, pieces)) > 0.3) + 1e-9  # flat-ish pieces too
    start = rng.normal(-0.5, 0.3, (n, 1))
    heights = np.concatenate([start, start + np.cumsum(slopes * np.diff(knots, axis=1), axis=1)], axis=1)
    intercepts = heights[:, :-1] - slopes * knots[:, :-1]

    def g(i: int, z: float) -> float:
        return float(np.interp(z, knots[i], heights[i]))

    as_t = (torch.as_tensor(knots), torch.as_tensor(slopes), torch.as_tensor(intercepts))
    return as_t, g


def test_softmax_allocation_is_the_softmax_with_a_zero_dummy_and_names_each_bidders_rest():
    scores = torch.as_tensor(np.random.default_rng(0).normal(size=(20, 3)))
    alloc, others = env.softmax_allocation(scores, 0.3)
    e = np.exp(scores.numpy() / 0.3)
    assert np.allclose(alloc.numpy(), e / (1 + e.sum(1, keepdims=True)), atol=1e-14)
    rest = np.log(1 + e.sum(1, keepdims=True) - e)
    assert np.allclose(others.numpy(), rest, atol=1e-12)


def test_softmax_allocation_keeps_the_losers_denominator_when_one_score_dominates():
    """With one score far above the rest, 1 - x_w underflows; each bidder's own log-denominator must not."""
    scores = torch.tensor([[50.0, 0.1, -0.2]], dtype=torch.float64)
    _, others = env.softmax_allocation(scores, 0.02)
    expected = math.log1p(math.exp(0.1 / 0.02) + math.exp(-0.2 / 0.02))
    assert others[0, 0].item() == pytest.approx(expected, rel=1e-12)


@pytest.mark.parametrize("temperature", [0.02, 0.3])
def test_integrals_match_adaptive_quadrature(temperature):
    (knots, slopes, icpt), g = piecewise(1, 3, 6, 2.0)
    rng = np.random.default_rng(2)
    bids = torch.as_tensor(rng.uniform(0, 2.0, (8, 3)))
    others = torch.as_tensor(rng.normal(0, 3.0, (8, 3)))
    got = env.segment_integrals(bids, others, knots, slopes, icpt, temperature).numpy()
    for r in range(8):
        for i in range(3):

            def x(z, i=i, r=r):
                return 1.0 / (1.0 + math.exp(-(g(i, z) / temperature - float(others[r, i]))))

            points = [float(k) for k in knots[i] if 0 < k < float(bids[r, i])]
            want, _ = integrate.quad(x, 0.0, float(bids[r, i]), points=points or None, limit=200, epsabs=1e-13)
            assert got[r, i] == pytest.approx(want, abs=1e-10)


def test_payments_follow_the_identity_and_are_individually_rational():
    (knots, slopes, icpt), g = piecewise(3, 4, 5, 1.5)
    bids = torch.as_tensor(np.random.default_rng(4).uniform(0, 1.5, (200, 4)))
    scores = torch.tensor([[g(i, float(b)) for i, b in enumerate(row)] for row in bids], dtype=torch.float64)
    alloc, pay = env.envelope_mechanism(bids, scores, knots, slopes, icpt, 0.05)
    utility = bids * alloc - pay
    assert torch.all(utility >= -1e-14)  # u_i(v_i) = int_0^{v_i} x_i >= 0
    assert torch.all(pay >= -1e-14) and torch.all(pay <= bids * alloc + 1e-14)
    zero = bids.clone()
    zero[:, 0] = 0.0
    _, pay0 = env.envelope_mechanism(zero, scores * 1.0, knots, slopes, icpt, 0.05)
    assert torch.all(pay0[:, 0].abs() <= 1e-14)  # a zero bid pays nothing


def test_padding_pieces_of_zero_length_change_nothing():
    (knots, slopes, icpt), _ = piecewise(5, 2, 4, 1.0)
    padded = torch.cat([knots, torch.ones(2, 3)], dim=1)
    slopes2, icpt2 = torch.cat([slopes, torch.ones(2, 3)], 1), torch.cat([icpt, torch.zeros(2, 3)], 1)
    bids = torch.as_tensor(np.random.default_rng(6).uniform(0, 1.0, (30, 2)))
    others = torch.zeros(30, 2, dtype=torch.float64)
    a = env.segment_integrals(bids, others, knots, slopes, icpt, 0.1)
    b = env.segment_integrals(bids, others, padded, slopes2, icpt2, 0.1)
    assert torch.allclose(a, b, atol=1e-15)
