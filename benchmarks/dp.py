"""Benchmark of the VVCA revenue evaluation (Algorithm 2): allocation A* plus all n payments per profile.

Usage (one command, prints a table)::

    python benchmarks/dp.py                       # all sizes, batch 1024, CPU backends (+ CUDA when present)
    python benchmarks/dp.py --sizes 5x10 --repeats 5 --dtype float64

Rows: ``numba`` (compiled CPU kernel), ``torch`` (dense grouped gather + amax, on every available device) and
``brute`` (enumeration of all (n+1)^m allocations, an independent check, only where its (B, (n+1)^m) table fits).
Every row is checked against the first one: equal revenue per profile. Timings are the best of ``--repeats``
after one warm-up call (which includes numba compilation). A random VVCA (alpha, boosts ~ N(0, 0.1)) on
additive U[0, 1] bids is used, so no argmax is degenerate.
"""

from __future__ import annotations

import argparse
import itertools
import math
import os
import time

import torch

from pipeline_lib.vvca import mechanism as vvca

SIZES = ("2x2", "2x5", "5x3", "3x10", "5x10")
BRUTE_LIMIT = 2**27  # batch x (n+1)^m entries of the brute-force welfare table


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


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _time(fn, device: torch.device, repeats: int) -> tuple[float, torch.Tensor]:
    out = fn()  # warm-up (compilation, index tables, allocator)
    _sync(device)
    best = math.inf
    for _ in range(repeats):
        start = time.perf_counter()
        out = fn()
        _sync(device)
        best = min(best, time.perf_counter() - start)
    return best, out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", nargs="+", default=list(SIZES), help="n x m auction sizes, e.g. 5x10")
    parser.add_argument("--batch", type=int, default=1024)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--dtype", choices=("float32", "float64"), default="float32")
    parser.add_argument("--no-torch-cpu", action="store_true", help="skip the dense torch version on the CPU")
    args = parser.parse_args()
    dtype = getattr(torch, args.dtype)
    devices = [torch.device("cpu")] + ([torch.device("cuda")] if torch.cuda.is_available() else [])
    gpu = f", {torch.cuda.get_device_name()}" if len(devices) > 1 else ""
    print(
        f"batch {args.batch}, {args.dtype}, best of {args.repeats}; torch {torch.__version__}, "
        f"{torch.get_num_threads()} CPU threads{gpu}; load average {os.getloadavg()[0]:.1f} (other processes slow "
        "every row down)"
    )
    header = f"{'size':>5}  {'method':<6} {'device':<6} {'profiles/s':>12} {'ms/batch':>10}  check"
    print(header)
    print("-" * len(header))
    for size in args.sizes:
        n, m = (int(x) for x in size.split("x"))
        gen = torch.Generator().manual_seed(0)
        items = torch.rand(args.batch, n, m, generator=gen, dtype=torch.float64)
        member = torch.tensor([[(s >> j) & 1 for j in range(m)] for s in range(2**m)], dtype=torch.float64)
        bids64 = items @ member.T
        params64 = vvca.VVCAParams(
            torch.randn(n, generator=gen, dtype=torch.float64) * 0.1,
            torch.randn(n, 2**m, generator=gen, dtype=torch.float64) * 0.1,
        )
        runs = [("numba", torch.device("cpu"))]
        runs += [("torch", d) for d in devices if not (d.type == "cpu" and args.no_torch_cpu)]
        if args.batch * (n + 1) ** m <= BRUTE_LIMIT:
            runs += [("brute", d) for d in devices]
        reference = None
        for method, device in runs:
            bids = bids64.to(device=device, dtype=dtype)
            params = params64.to(device=device, dtype=dtype)
            if method == "brute":

                def fn(bids=bids, params=params):
                    return brute_force_revenue(bids, params)
            else:

                def fn(bids=bids, params=params, method=method):
                    return vvca.evaluate_vvca(bids, params, backend=method).revenue

            seconds, revenue = _time(fn, device, args.repeats)
            revenue = revenue.cpu().double()
            if reference is None:
                reference, check = revenue, "reference"
            else:
                err = (revenue - reference).abs().max().item()
                check = f"max |diff| {err:.1e}"
            rate = args.batch / seconds
            print(f"{size:>5}  {method:<6} {device.type:<6} {rate:>12,.0f} {1e3 * seconds:>10.1f}  {check}")


if __name__ == "__main__":
    main()
