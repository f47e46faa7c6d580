"""Benchmark of the numba VVCA dynamic program, before and after issue 13, in one run.

Usage (one command, prints two tables)::

    python benchmarks/dp.py                 # sizes 2x2 2x5 5x3 3x10 5x10, batch 1024, ZFO iteration at 3x10, 5x10
    python benchmarks/dp.py --quick         # one repeat, batch 256 for the revenue table
    python benchmarks/dp.py --sizes 5x10 --repeats 5 --dtype float64

Table 1, revenue (Algorithm 2: A*, all n exclusions A^(-i), payments; ``vvca.evaluate_vvca``): profiles per
second with the kernel before issue 13 (``benchmarks/_dp_numba_before.py``: virtual values formed by torch, an
argmax table per step, 3n - 4 steps) and after (:mod:`pipeline_lib.vvca.dp_numba`: values-only sweeps,
argmax by recomputation, 3n - 6 steps, virtual values formed in the kernel). Every row checks that A*, every
A^(-i) and the payments are identical (``torch.equal``) between the two, and, where the (B, (n+1)^m) table fits,
the revenue against a brute-force enumeration of all allocations.

Table 2, one ZFO-VVCA iteration (Algorithm 3: ``training.ascent_direction`` = Algorithm 2 on the minibatch,
the Danskin gradient of Rev1, and Rev2 at q perturbed parameter vectors (Eq. 9), batch 1024, q = 8) plus the Adam
update, before and after; the ascent directions must be identical.

Timings are the best of ``--repeats`` (more for cheap sizes) after one warm-up call (which includes numba
compilation), with the before/after calls interleaved so that both see the same machine load; the load average is
printed beside them. Both wall time and the process CPU time (summed over threads) are shown: on a shared machine
the CPU time is the steadier figure, and on an idle one wall ~ CPU / threads.
A random VVCA (alpha, boosts ~ N(0, 0.1)) on additive U[0, 1] bids is used.
"""

from __future__ import annotations

import argparse
import itertools
import math
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numba
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _dp_numba_before as before  # noqa: E402

from pipeline_lib.vvca import mechanism as vvca  # noqa: E402
from pipeline_lib.vvca.estimators import ascent_direction  # noqa: E402
from pipeline_lib.vvca.parametrisation import Parametrisation  # noqa: E402

SIZES = ("2x2", "2x5", "5x3", "3x10", "5x10")
ZFO_SIZES = ("3x10", "5x10")
BRUTE_LIMIT = 2**26  # batch x (n+1)^m entries of the brute-force welfare table


def brute_force_revenue(bids: torch.Tensor, params: vvca.VVCAParams) -> torch.Tensor:
    """Eq. 2 by enumerating every deterministic allocation (independent of the dynamic program)."""
    batch, n, size = bids.shape
    m = size.bit_length() - 1
    rows = []
    for owners in itertools.product(range(n + 1), repeat=m):
        bundles = [0] * n
        for item, owner in enumerate(owners):
            if owner < n:
                bundles[owner] |= 1 << item
        rows.append(bundles)
    allocs = torch.tensor(rows, device=bids.device)  # (K, n)
    w = params.weights
    bid_part = torch.stack([w[k] * bids[:, k, allocs[:, k]] for k in range(n)], dim=2)  # (B, K, n)
    aw = bid_part.sum(2) + params.boosts[torch.arange(n, device=bids.device), allocs].sum(1)
    best = aw.argmax(1)
    rows_b = torch.arange(batch, device=bids.device)
    revenue = torch.zeros(batch, dtype=bids.dtype, device=bids.device)
    for i in range(n):
        aw_minus = aw - bid_part[:, :, i]
        revenue += (aw_minus.max(1).values - aw_minus[rows_b, best]) / w[i]
    return revenue


def random_instance(n: int, m: int, batch: int, dtype: torch.dtype, seed: int = 0):
    """Additive U[0, 1] bids (B, n, 2^m) and a random VVCA (alpha, boosts ~ N(0, 0.1)), in ``dtype``."""
    gen = torch.Generator().manual_seed(seed)
    items = torch.rand(batch, n, m, generator=gen, dtype=torch.float64)
    member = torch.tensor([[(s >> j) & 1 for j in range(m)] for s in range(2**m)], dtype=torch.float64)
    params = vvca.VVCAParams(
        torch.randn(n, generator=gen, dtype=torch.float64) * 0.1,
        torch.randn(n, 2**m, generator=gen, dtype=torch.float64) * 0.1,
    )
    return (items @ member.T).to(dtype), params.to(dtype=dtype)


def interleaved(
    fns: dict[str, Callable[[], object]], repeats: int, min_seconds: float = 0.5
) -> tuple[dict[str, tuple[float, float]], dict[str, object]]:
    """(best wall seconds, best CPU seconds of the process, all threads) of each function, and its last output.

    One warm-up call each, then rounds of one call per function (interleaved, so that all see the same load):
    at least ``repeats`` rounds, more while the first function has run for less than ``min_seconds`` (cheap
    sizes get enough calls to ride out scheduler noise), at most 200.
    """
    outs = {name: fn() for name, fn in fns.items()}
    best = {name: (math.inf, math.inf) for name in fns}
    first = next(iter(fns))
    spent, rounds = 0.0, 0
    while rounds < repeats or (spent < min_seconds and rounds < 200):
        for name, fn in fns.items():
            wall, cpu = time.perf_counter(), time.process_time()
            outs[name] = fn()
            wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
            best[name] = (min(best[name][0], wall), min(best[name][1], cpu))
            spent += wall if name == first else 0.0
        rounds += 1
    return best, outs


def revenue_row(size: str, batch: int, repeats: int, dtype: torch.dtype) -> tuple[str, bool]:
    n, m = (int(x) for x in size.split("x"))
    bids, params = random_instance(n, m, batch, dtype)

    def run() -> vvca.VVCAOutcome:
        return vvca.evaluate_vvca(bids, params, backend="numba")

    def run_before() -> vvca.VVCAOutcome:
        with before.installed():
            return run()

    secs, outs = interleaved({"before": run_before, "after": run}, repeats)
    old, new = outs["before"], outs["after"]
    same = all(torch.equal(getattr(old, f), getattr(new, f)) for f in ("alloc", "alloc_minus", "payments", "revenue"))
    check = "identical" if same else "MISMATCH"
    if batch * (n + 1) ** m <= BRUTE_LIMIT:
        err = (brute_force_revenue(bids.double(), params.to(dtype=torch.float64)) - new.revenue.double()).abs().max()
        check += f", brute |diff| {err.item():.1e}"
    (w_old, c_old), (w_new, c_new) = secs["before"], secs["after"]
    line = (
        f"{size:>5} {batch / w_old:>12,.0f} {batch / w_new:>12,.0f} {w_old / w_new:>7.2f}x "
        f"{batch / c_old:>12,.0f} {batch / c_new:>12,.0f} {c_old / c_new:>7.2f}x  {check}"
    )
    return line, same


def zfo_row(size: str, batch: int, q: int, repeats: int, dtype: torch.dtype) -> tuple[str, bool]:
    """One iteration of Algorithm 3: ascent direction (Rev1 gradient + Eq. 9 with q directions) and Adam."""
    n, m = (int(x) for x in size.split("x"))
    bids, _ = random_instance(n, m, batch, dtype, seed=1)
    par = Parametrisation.full(n, m)
    gen = torch.Generator().manual_seed(2)
    phi0 = (torch.randn(par.dim, generator=gen) * 0.01).to(dtype)
    directions = torch.randn(q, par.dim, generator=gen).to(dtype)

    def iteration() -> torch.Tensor:
        phi = phi0.clone().requires_grad_(True)
        opt = torch.optim.Adam([phi], lr=1e-3, maximize=True)
        step = ascent_direction("zfo_vvca", bids, par, phi, directions, sigma=0.01)
        phi.grad = step.direction
        opt.step()
        return step.direction

    def iteration_before() -> torch.Tensor:
        with before.installed():
            return iteration()

    secs, outs = interleaved({"before": iteration_before, "after": iteration}, repeats)
    same = torch.equal(outs["before"], outs["after"])
    check = "identical direction" if same else "MISMATCH"
    (w_old, c_old), (w_new, c_new) = secs["before"], secs["after"]
    line = (
        f"{size:>5} {1e3 * w_old:>12.1f} {1e3 * w_new:>12.1f} {w_old / w_new:>7.2f}x "
        f"{1e3 * c_old:>12.1f} {1e3 * c_new:>12.1f} {c_old / c_new:>7.2f}x  {check}"
    )
    return line, same


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", nargs="+", default=list(SIZES), help="n x m auction sizes, e.g. 5x10")
    parser.add_argument("--zfo-sizes", nargs="*", default=list(ZFO_SIZES))
    parser.add_argument("--batch", type=int, default=1024)
    parser.add_argument("--q", type=int, default=8, help="random directions of the ZFO iteration")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--dtype", choices=("float32", "float64"), default="float32")
    parser.add_argument("--quick", action="store_true", help="one repeat, batch 256 for the revenue table")
    args = parser.parse_args()
    dtype = getattr(torch, args.dtype)
    repeats = 1 if args.quick else args.repeats
    batch = min(args.batch, 256) if args.quick else args.batch
    ok = True
    print(
        f"{args.dtype}, best of {repeats}; torch {torch.__version__} ({torch.get_num_threads()} threads), numba "
        f"{numba.__version__} ({numba.get_num_threads()} threads); load average {os.getloadavg()[0]:.2f} at start"
    )
    print(f"\nRevenue (A*, all A^(-i), payments), batch {batch}: profiles per wall second | per CPU second")
    header = (
        f"{'size':>5} {'wall before':>12} {'wall after':>12} {'speedup':>8} {'CPU before':>12} {'CPU after':>12} "
        f"{'speedup':>8}  check (before == after)"
    )
    print(header + "\n" + "-" * len(header))
    for size in args.sizes:
        line, same = revenue_row(size, batch, repeats, dtype)
        ok &= same
        print(line, flush=True)
    if args.zfo_sizes:
        print(f"\nOne ZFO-VVCA iteration (batch {args.batch}, q = {args.q}, Adam): wall ms | CPU ms (all threads)")
        header = (
            f"{'size':>5} {'wall before':>12} {'wall after':>12} {'speedup':>8} {'CPU before':>12} {'CPU after':>12} "
            f"{'speedup':>8}  check"
        )
        print(header + "\n" + "-" * len(header))
        for size in args.zfo_sizes:
            line, same = zfo_row(size, args.batch, args.q, repeats, dtype)
            ok &= same
            print(line, flush=True)
    print(f"\nload average {os.getloadavg()[0]:.2f} at end; {'all checks passed' if ok else 'MISMATCH'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
