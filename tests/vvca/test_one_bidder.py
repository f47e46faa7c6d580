"""Settings with one bidder (n = 1, m <= 10): a one-bidder VVCA is a menu of bundle prices.

With n = 1, Eq. 1 picks S* = argmax_S w b(S) + lambda(S), and Eq. 2 excludes the only bidder: A^(-1) maximises
lambda(S) alone (its boosts stay), the other bidders' welfare is empty, so

    p = (1/w) [max_S lambda(S) - lambda(S*)],

the price of bundle S* in the menu {S : (max lambda - lambda(S)) / w}. The oracle below enumerates the 2^m bundles
in numpy (ties to the smallest bitmask, as the engine). Item-Myerson with one bidder is a posted price r per item.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from pipeline_lib.combinatorial import starts
from pipeline_lib.combinatorial.item_myerson import item_myerson, item_priors
from pipeline_lib.core.seeds import vvca_run_seed
from pipeline_lib.valuations.combinatorial import additive_bundle_values, sample_combinatorial
from pipeline_lib.vvca import mechanism as vvca
from pipeline_lib.vvca import zfo
from pipeline_lib.vvca.bids import BidSource
from pipeline_lib.vvca.config import TrainConfig
from pipeline_lib.vvca.evaluate import evaluate_on
from pipeline_lib.vvca.parametrisation import Parametrisation

DT = torch.float64


def menu_oracle(bids: np.ndarray, w: float, lam: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(S*, payment) per profile of a one-bidder VVCA by enumeration of all bundles."""
    score = w * bids + lam[None, :]
    chosen = score.argmax(1)
    return chosen, (lam.max() - lam[chosen]) / w


@pytest.mark.parametrize("backend", ["numba", "torch"])
@pytest.mark.parametrize("m", [1, 4, 7, 10])
def test_one_bidder_vvca_is_a_menu_of_bundle_prices(m: int, backend: str) -> None:
    rng = np.random.default_rng(m)
    bids = additive_bundle_values(rng.uniform(size=(64, 1, m)))
    bids[:, :, 5 % 2**m] += rng.uniform(0, 0.5, size=(64, 1))  # a non-additive bundle value
    bids[:, :, 0] = 0.0
    lam = rng.uniform(-2, 0.5, size=2**m)
    w = float(np.exp(rng.uniform(-0.5, 0.5)))
    params = vvca.VVCAParams(torch.tensor([np.log(w)], dtype=DT), torch.tensor(lam[None, :], dtype=DT))
    out = vvca.evaluate_vvca(torch.tensor(bids), params, backend=backend)
    chosen, pay = menu_oracle(bids[:, 0], w, lam)
    assert out.alloc[:, 0].tolist() == chosen.tolist()
    assert out.alloc_minus[:, 0, 0].tolist() == [int(lam.argmax())] * 64
    np.testing.assert_allclose(out.payments[:, 0].numpy(), pay, atol=1e-10)
    np.testing.assert_allclose(out.revenue.numpy(), pay, atol=1e-10)
    value = bids[np.arange(64), 0, chosen]
    assert (pay <= value + 1e-10).all() and (pay >= 0).all()  # IR; p >= 0 since lambda(S*) <= max lambda
    maw, alloc = vvca.winner_determination(vvca.virtual_values(torch.tensor(bids), params), backend=backend)
    assert alloc[:, 0].tolist() == chosen.tolist()
    np.testing.assert_allclose(maw.numpy(), (w * bids[:, 0] + lam).max(1), atol=1e-10)


@pytest.mark.parametrize("distribution", ["A", "B", "C"])
def test_one_bidder_item_myerson_is_a_posted_price_per_item(distribution: str) -> None:
    x = torch.tensor(sample_combinatorial(np.random.default_rng(0), 1000, 1, 4, distribution))
    (prior,) = item_priors(distribution, 1)
    r = float(prior.reserve)
    out = item_myerson(x, [prior])
    sold = x[:, 0] >= r
    bits = (sold.long() * (1 << torch.arange(4))).sum(1)
    assert torch.equal(out.alloc[:, 0], bits)
    torch.testing.assert_close(out.payments[:, 0], sold.to(DT).sum(1) * r, atol=1e-9, rtol=0)
    vvca_out = vvca.evaluate_vvca(additive_bundle_values(x), starts.myerson_shaped_vvca(1, 4, distribution, dtype=DT))
    torch.testing.assert_close(vvca_out.payments, out.payments, atol=1e-9, rtol=0)


@pytest.mark.parametrize("m", [3, 10])
def test_zfo_training_runs_with_one_bidder(m: int) -> None:
    n = 1
    train = BidSource(sample_combinatorial(np.random.default_rng(0), 256, n, m, "A"), additive=True)
    val = BidSource(sample_combinatorial(np.random.default_rng(1), 256, n, m, "A"), additive=True)
    cfg = TrainConfig(lr=0.01, q=2, sigma=0.01, iterations=4, batch_size=64, eval_every=2, selection="best_val")
    par = Parametrisation.full(n, m)
    phi0 = starts.params_to_phi(starts.myerson_shaped_vvca(n, m, "A"), par)
    for init in (None, phi0):
        result = zfo.train(train, par, cfg, vvca_run_seed(0, f"1x{m}_A", 0), val, None, False, init_phi=init)
        assert torch.isfinite(result.phi).all()
        ev = evaluate_on(val, par.params(result.phi))
        assert ev["ir"]["violations"] == 0 and np.isfinite(ev["revenue"]["mean"])
    # VCG with one bidder sells everything for free; the posted price 1/2 per item earns m/4 in expectation
    assert evaluate_on(val, vvca.VVCAParams.vcg(n, m))["revenue"]["mean"] == 0.0
    assert evaluate_on(val, starts.myerson_shaped_vvca(n, m, "A"))["revenue"]["mean"] == pytest.approx(m / 4, rel=0.1)
