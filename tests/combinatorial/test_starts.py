"""Myerson-shaped VVCAs and the ZFO-VVCA+ start selection.

Oracles: the exact per-item Myerson auction (item_myerson.py, which ranks by virtual values and inverts them, a
different computation from the VVCA dynamic program), plain per-item loops, the grand-bundle auction of
bundle_myerson.py, the defining equation phi_i(r_i) = 0, and the DSIC property under random misreports.
"""

from __future__ import annotations

from dataclasses import asdict

import numpy as np
import pytest
import torch

from pipeline_lib.combinatorial import starts
from pipeline_lib.combinatorial.bundle_myerson import bundle_myerson, empirical_myerson_reserve, grand_bundle_values
from pipeline_lib.combinatorial.item_myerson import LogNormalPrior, item_myerson, item_priors
from pipeline_lib.core.checkpoint import checkpoint_file, fingerprint
from pipeline_lib.core.seeds import seed_record, vvca_run_seed
from pipeline_lib.valuations.combinatorial import additive_bundle_values, sample_combinatorial
from pipeline_lib.vvca import zfo
from pipeline_lib.vvca.bids import BidSource
from pipeline_lib.vvca.config import TrainConfig
from pipeline_lib.vvca.evaluate import evaluate_on
from pipeline_lib.vvca.mechanism import bundle_values_at, evaluate_vvca
from pipeline_lib.vvca.parametrisation import Parametrisation

DT = torch.float64
BACKENDS = ["numba", "torch"]


def items(distribution: str, batch: int, n: int, m: int, seed: int) -> torch.Tensor:
    return torch.tensor(sample_combinatorial(np.random.default_rng(seed), batch, n, m, distribution))


# ------------------------------------------------------------------------------------------------ builders
def test_reserve_vvca_boosts_are_minus_the_reserves_of_the_bundle_items() -> None:
    params = starts.item_reserve_vvca(torch.tensor([[0.1, 0.2], [1.0, 3.0]]), 2, dtype=DT)
    assert torch.equal(params.alpha, torch.zeros(2, dtype=DT))
    torch.testing.assert_close(params.boosts, -torch.tensor([[0.0, 0.1, 0.2, 0.3], [0.0, 1.0, 3.0, 4.0]], dtype=DT))
    shaped = starts.myerson_shaped_vvca(3, 2, "B", dtype=DT)
    torch.testing.assert_close(
        shaped.boosts, -torch.tensor([[0, 1, 1, 2]] * 3, dtype=DT) * torch.tensor([[0.5], [1.0], [1.5]], dtype=DT)
    )
    with pytest.raises(ValueError):
        starts.myerson_shaped_vvca(2, 2, "D")


def test_lognormal_reserves_are_roots_of_the_virtual_value() -> None:
    reserves = starts.myerson_reserves("C", 4)
    for i, r in enumerate(reserves, start=1):
        phi = LogNormalPrior(1.0 / i).virtual_value(torch.tensor([r * (1 - 1e-6), r * (1 + 1e-6)], dtype=DT))
        assert phi[0] < 0 < phi[1]


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("distribution", ["A", "B"])
@pytest.mark.parametrize(("n", "m"), [(1, 3), (2, 2), (3, 4), (5, 3)])
def test_myerson_shaped_vvca_is_item_myerson_profile_by_profile(
    distribution: str, n: int, m: int, backend: str
) -> None:
    x = items(distribution, 400, n, m, seed=n * 10 + m)
    ref = item_myerson(x, item_priors(distribution, n))
    out = evaluate_vvca(
        additive_bundle_values(x), starts.myerson_shaped_vvca(n, m, distribution, dtype=DT), backend=backend
    )
    assert torch.equal(out.alloc, ref.alloc)
    torch.testing.assert_close(out.payments, ref.payments, atol=1e-10, rtol=0)


@pytest.mark.parametrize(("n", "m"), [(2, 3), (5, 2)])
def test_lognormal_reserve_vvca_sells_each_item_to_the_best_shifted_bid(n: int, m: int) -> None:
    x = items("C", 300, n, m, seed=5)
    r = np.array(starts.myerson_reserves("C", n))
    out = evaluate_vvca(additive_bundle_values(x), starts.myerson_shaped_vvca(n, m, "C", dtype=DT))
    xs = x.numpy()
    for b in range(x.shape[0]):
        pay = np.zeros(n)
        alloc = np.zeros(n, dtype=np.int64)
        for j in range(m):
            shifted = xs[b, :, j] - r
            w = int(np.argmax(shifted))
            if shifted[w] >= 0:
                alloc[w] |= 1 << j
                pay[w] += r[w] + max([0.0] + [shifted[k] for k in range(n) if k != w])
        assert out.alloc[b].tolist() == alloc.tolist()
        np.testing.assert_allclose(out.payments[b].numpy(), pay, atol=1e-10)


def test_one_bidder_lognormal_reserve_vvca_is_item_myerson() -> None:
    """With one bidder Myerson is a posted price at the reserve, for any regular prior."""
    x = items("C", 500, 1, 3, seed=2)
    ref = item_myerson(x, item_priors("C", 1))
    out = evaluate_vvca(additive_bundle_values(x), starts.myerson_shaped_vvca(1, 3, "C", dtype=DT))
    assert torch.equal(out.alloc, ref.alloc)
    torch.testing.assert_close(out.payments, ref.payments, atol=1e-10, rtol=0)


@pytest.mark.parametrize(("distribution", "n", "m"), [("A", 2, 2), ("A", 3, 3), ("C", 2, 2), ("D", 3, 2), ("D", 2, 3)])
def test_grand_bundle_vvca_is_the_shifted_grand_bundle_auction(distribution: str, n: int, m: int) -> None:
    train = sample_combinatorial(np.random.default_rng(0), 3000, n, m, distribution)
    test = torch.tensor(sample_combinatorial(np.random.default_rng(1), 500, n, m, distribution))
    additive = distribution != "D"
    params = starts.fitted_grand_bundle_vvca(train, additive, dtype=DT)
    reserves = empirical_myerson_reserve(grand_bundle_values(torch.tensor(train), additive))
    torch.testing.assert_close(-params.boosts[:, -1], reserves)
    bids = additive_bundle_values(test) if additive else test
    out = evaluate_vvca(bids, params)
    ref = bundle_myerson(grand_bundle_values(test, additive), reserves, "shifted")
    full = 2**m - 1
    expected_alloc = torch.where(ref.winner.unsqueeze(1) == torch.arange(n)[None, :], full, 0)
    assert torch.equal(out.alloc, expected_alloc)
    torch.testing.assert_close(out.payments, ref.payments, atol=1e-9, rtol=0)


def test_fitted_reserve_vvcas_use_per_bundle_empirical_reserves() -> None:
    train = sample_combinatorial(np.random.default_rng(0), 2000, 2, 3, "D")
    params = starts.fitted_bundle_reserve_vvca(train, False, dtype=DT)
    expected = empirical_myerson_reserve(torch.tensor(train[:, 1, 5]))
    assert float(-params.boosts[1, 5]) == float(expected) and not params.boosts[:, 0].any()
    items_params = starts.fitted_item_reserve_vvca(train, False, dtype=DT)
    single = empirical_myerson_reserve(torch.tensor(train[:, 0, 4]))  # bundle 4 = {item 3}
    assert float(-items_params.boosts[0, 4]) == float(single)
    additive = starts.fitted_bundle_reserve_vvca(sample_combinatorial(np.random.default_rng(1), 2000, 2, 2, "A"), True)
    assert additive.boosts.shape == (2, 4) and (additive.boosts[:, 1:] < 0).all()


@pytest.mark.parametrize("name", ["grand_bundle", "myerson_shaped", "bundle_reserve_fitted"])
def test_starts_are_dsic_and_ir_under_random_misreports(name: str) -> None:
    n, m, distribution = 2, 3, "C"
    train = sample_combinatorial(np.random.default_rng(0), 3000, n, m, distribution)
    params = starts.candidate_starts(n, m, distribution, train)[name].to(dtype=DT)
    rng = np.random.default_rng(1)
    true = torch.tensor(sample_combinatorial(rng, 200, n, m, distribution))
    bids = additive_bundle_values(true)
    out = evaluate_vvca(bids, params)
    value = bundle_values_at(bids, out.alloc)
    assert (out.payments >= -1e-9).all() and (out.payments <= value + 1e-9).all()
    utility = value - out.payments
    for i in range(n):
        for _ in range(25):
            lie = true.clone()
            lie[:, i] = torch.tensor(rng.lognormal(0.0, 1.0, size=(200, m)))
            o = evaluate_vvca(additive_bundle_values(lie), params)
            gain = bundle_values_at(bids, o.alloc)[:, i] - o.payments[:, i]
            assert (gain <= utility[:, i] + 1e-9).all()


# ------------------------------------------------------------------------------------------ start selection
def test_params_to_phi_is_the_full_parametrisation_layout() -> None:
    params = starts.myerson_shaped_vvca(3, 2, "B")
    params.alpha.uniform_(-1, 1)
    par = Parametrisation.full(3, 2)
    back = par.params(starts.params_to_phi(params, par))
    assert torch.equal(back.alpha, params.alpha) and torch.equal(back.boosts, params.boosts)
    with pytest.raises(ValueError):
        starts.params_to_phi(params, Parametrisation.by_bundle_size(3, 2))


def test_select_start_ranks_every_candidate_by_exact_validation_revenue() -> None:
    n, m = 2, 2
    train = sample_combinatorial(np.random.default_rng(0), 4000, n, m, "A")
    val = BidSource(sample_combinatorial(np.random.default_rng(1), 4000, n, m, "A"), additive=True)
    ranked = starts.select_start(n, m, "A", train, val)
    names = [s.name for s in ranked]
    assert sorted(names) == sorted(
        ["vcg", "myerson_shaped", "item_reserve_fitted", "grand_bundle", "bundle_reserve_fitted"]
    )
    revenues = [s.val_revenue for s in ranked]
    assert revenues == sorted(revenues, reverse=True)
    for s in ranked:
        assert s.val_revenue == pytest.approx(evaluate_on(val, s.params)["revenue"]["mean"], abs=1e-6)
    by_name = {s.name: s.val_revenue for s in ranked}
    # VCG 2/3, Item-Myerson 5/6, grand bundle ~0.839 (2x2 (A))
    assert by_name["vcg"] == pytest.approx(2 / 3, abs=0.02)
    assert by_name["myerson_shaped"] == pytest.approx(5 / 6, abs=0.02)
    assert by_name["grand_bundle"] > by_name["vcg"] + 0.1
    assert ranked[0].name != "vcg" and ranked[0].phi.shape == (n + n * 2**m,)


def test_candidate_starts_for_d_have_no_prior_based_start() -> None:
    train = sample_combinatorial(np.random.default_rng(0), 500, 2, 2, "D")
    names = set(starts.candidate_starts(2, 2, "D", train))
    assert names == {"vcg", "item_reserve_fitted", "grand_bundle", "bundle_reserve_fitted"}
    with pytest.raises(ValueError):
        starts.candidate_starts(2, 3, "D", train)


# ------------------------------------------------------------------------------------- training from a start
def _tiny_run(tmp_path, init_phi=None, kill_at=None, ckpt="ckpt"):
    n, m = 2, 2
    train = BidSource(sample_combinatorial(np.random.default_rng(0), 500, n, m, "A"), additive=True)
    val = BidSource(sample_combinatorial(np.random.default_rng(1), 300, n, m, "A"), additive=True)
    cfg = TrainConfig(lr=0.01, q=2, sigma=0.01, iterations=6, batch_size=64, eval_every=2, checkpoint_every=2)
    seq = vvca_run_seed(1, "2x2_A", 0)

    def killer(t, phi):
        if kill_at is not None and t == kill_at:
            raise KeyboardInterrupt

    result = zfo.train(
        train, Parametrisation.full(n, m), cfg, seq, val, str(tmp_path / ckpt), False, killer, init_phi=init_phi
    )
    return result, cfg, seq, train, val


def test_train_from_init_phi_starts_there_and_zero_init_phi_is_vcg(tmp_path) -> None:
    phi0 = starts.params_to_phi(starts.myerson_shaped_vvca(2, 2, "A"))
    result, _, _, _, val = _tiny_run(tmp_path, init_phi=phi0, ckpt="a")
    start_val = evaluate_on(val, starts.myerson_shaped_vvca(2, 2, "A"))["revenue"]["mean"]
    assert result.history[0]["val_revenue"] == pytest.approx(start_val)
    plain, *_ = _tiny_run(tmp_path, ckpt="b")
    zero, *_ = _tiny_run(tmp_path, init_phi=torch.zeros(10), ckpt="c")
    assert torch.equal(plain.phi, zero.phi)
    with pytest.raises(ValueError):
        _tiny_run(tmp_path, init_phi=torch.zeros(3), ckpt="d")


def test_fingerprint_without_init_phi_leaves_out_the_start_and_init_phi_runs_do_not_resume_vcg_runs(
    tmp_path,
) -> None:
    with pytest.raises(KeyboardInterrupt):
        _tiny_run(tmp_path, kill_at=4)
    _, cfg, seq, train, val = _tiny_run(tmp_path / "x")
    state = torch.load(checkpoint_file(tmp_path / "ckpt"), weights_only=True)
    without_start = {
        "cfg": asdict(cfg),
        "seed": seed_record(seq),
        "parametrisation": "full",
        "n": 2,
        "m": 2,
        "n_train": len(train),
        "n_val": len(val),
        "run_key": "",
    }
    assert state["fingerprint"] == fingerprint(without_start)
    phi0 = starts.params_to_phi(starts.myerson_shaped_vvca(2, 2, "A"))
    from_start, *_ = _tiny_run(tmp_path, init_phi=phi0)
    assert from_start.resumed_from == 0
