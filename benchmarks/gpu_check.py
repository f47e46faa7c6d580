"""Device check of the VVCA dynamic program and the training steps, with one table and a non-zero exit on mismatch.

Run on a machine with a CUDA device through ``benchmarks/gpu_check.sh`` (at most 8 minutes), or directly::

    python benchmarks/gpu_check.py --device cuda              # everything below, deadline 470 s
    python benchmarks/gpu_check.py --device cpu --sizes 2x2 2x3 --no-train --no-smoke    # CPU-side logic only

Sections of the table:

* ``check``: the dense torch DP (:mod:`pipeline_lib.vvca.dp_torch`) on the device against the numba kernel
  on the CPU (:mod:`pipeline_lib.vvca.dp_numba`) for the same virtual values vt = w b + lambda (formed once on
  the CPU, so that exp() of the device cannot move a near-tie): A* and every A^(-i) (Eq. 1, 2) must be identical,
  MAW and MAW^(-i) and the revenue sum_i p_i (Eq. 2, payments formed on each side from its own allocations) equal
  within a float tolerance. Two instances per size: generic random parameters, and quantised bids at VCG (w = 1,
  lambda = 0) with all-zero profiles, where ties decide the allocation.
* ``dp``: profiles/s of the revenue evaluation (``vvca.evaluate_vvca``: A*, all exclusions, payments) on the device
  at the training batch (1024) and an evaluation chunk (8192), and of the CPU numba kernel at 1024 for reference.
* ``train``: ms per step of one ZFO-VVCA iteration (Algorithm 3: ascent direction with q = 8 plus Adam, batch
  1024), one Lottery AMA and one AMenuNet training step (softmax-relaxed revenue, batch 1024, the candidate sizes
  of ``benchmarks/randomized.py``).
* ``smoke``: the smoke tier of the workflow end to end (``snakemake ... --configfile tests/config/smoke.yaml``
  with ``config/config.yaml`` copied into a temporary work directory, as ``tests/conftest.py`` does).

Exit status: 0 when every check passed and the smoke run succeeded, 1 otherwise (2 when the deadline cut a
section short). :func:`run_checks` is the CPU-testable core (``tests/test_gpu_check.py`` runs it with device=cpu).
"""

from __future__ import annotations

import argparse
import math
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numba
import torch

from pipeline_lib.vvca import dp_numba, dp_torch
from pipeline_lib.vvca import mechanism as vvca

REPO = Path(__file__).resolve().parents[1]
SIZES = ("2x2", "2x5", "5x3", "3x10", "5x10")
TRAIN_SIZES = ("3x10", "5x10")
RANDOMIZED_SETTING = {"3x10": "3x10_A", "5x10": "5x10_A"}
REVENUE_RTOL = {torch.float32: 1e-5, torch.float64: 1e-12}


@dataclass
class Row:
    """One line of the table: ``status`` is ``ok``, ``FAIL`` or ``-`` (a timing)."""

    section: str
    item: str
    size: str
    value: str
    status: str = "-"
    detail: str = ""

    @property
    def failed(self) -> bool:
        return self.status == "FAIL"


def parse_size(size: str) -> tuple[int, int]:
    n, m = (int(x) for x in size.split("x"))
    return n, m


def instance(
    n: int, m: int, batch: int, dtype: torch.dtype, *, ties: bool, seed: int = 0
) -> tuple[torch.Tensor, vvca.VVCAParams]:
    """CPU bids (B, n, 2^m) and a VVCA. Generic: additive U[0, 1] bids, alpha and lambda ~ N(0, 0.1). Ties: bids
    on a grid of 1/4 (item values), VCG parameters and every eighth profile all zero."""
    gen = torch.Generator().manual_seed(seed)
    items = torch.rand(batch, n, m, generator=gen, dtype=torch.float64)
    params = vvca.VVCAParams(
        torch.randn(n, generator=gen, dtype=torch.float64) * 0.1,
        torch.randn(n, 2**m, generator=gen, dtype=torch.float64) * 0.1,
    )
    if ties:
        items = (items * 4).floor() / 4
        items[::8] = 0.0
        params = vvca.VVCAParams.vcg(n, m, dtype=torch.float64)
    member = torch.tensor([[(s >> j) & 1 for j in range(m)] for s in range(2**m)], dtype=torch.float64)
    return (items @ member.T).to(dtype), params.to(dtype=dtype)


def check_kernel(
    n: int, m: int, batch: int, device: torch.device, dtype: torch.dtype, *, ties: bool, seed: int = 0
) -> tuple[bool, str]:
    """Device dense torch DP == CPU numba DP on one instance: (passed, detail)."""
    bids, params = instance(n, m, batch, dtype, ties=ties, seed=seed)
    vt = vvca.virtual_values(bids, params)
    ref = dp_numba.allocations_with_exclusions(vt, params.boosts)
    got = [x.cpu() for x in dp_torch.allocations_with_exclusions(vt.to(device), params.boosts.to(device))]
    problems = []
    for name, k in (("A*", 1), ("A^(-i)", 3)):
        bad = (ref[k] != got[k]).flatten(1).any(1)
        if bad.any():
            problems.append(f"{name} differs in {int(bad.sum())}/{batch} profiles")
    rtol = REVENUE_RTOL[dtype]
    for name, k in (("MAW", 0), ("MAW^(-i)", 2)):
        if not torch.allclose(ref[k], got[k], rtol=rtol, atol=rtol):
            problems.append(f"{name} max |diff| {(ref[k] - got[k]).abs().max().item():.1e}")
    _, r1, r2 = vvca.payments_from_allocations(bids, params, ref[1], ref[3])
    dev_params = params.to(device=device)
    _, d1, d2 = vvca.payments_from_allocations(bids.to(device), dev_params, got[1].to(device), got[3].to(device))
    rev_ref, rev_dev = r1 + r2, (d1 + d2).cpu()
    err = (rev_ref - rev_dev).abs().max().item()
    if not torch.allclose(rev_ref, rev_dev, rtol=rtol, atol=rtol * max(1.0, rev_ref.abs().max().item())):
        problems.append(f"revenue max |diff| {err:.1e}")
    detail = "; ".join(problems) if problems else f"allocations identical, revenue max |diff| {err:.1e}"
    return not problems, detail


def run_checks(device: torch.device | str, sizes: list[str], batch: int, dtype: torch.dtype) -> list[Row]:
    """The ``check`` section: every size, generic and tie-heavy instances."""
    device = torch.device(device)
    rows = []
    for size in sizes:
        n, m = parse_size(size)
        for ties in (False, True):
            passed, detail = check_kernel(n, m, batch, device, dtype, ties=ties, seed=n * 100 + m)
            kind = "ties" if ties else "generic"
            rows.append(
                Row(
                    "check",
                    f"torch {device.type} vs numba cpu ({kind})",
                    size,
                    f"B={batch}",
                    "ok" if passed else "FAIL",
                    detail,
                )
            )
    return rows


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def best_time(fn: Callable[[], object], device: torch.device, repeats: int = 3) -> float:
    """Best wall seconds of ``repeats`` calls after one warm-up call."""
    fn()
    _sync(device)
    best = math.inf
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        _sync(device)
        best = min(best, time.perf_counter() - start)
    return best


def dp_rows(device: torch.device, sizes: list[str], batches: tuple[int, ...], dtype: torch.dtype) -> list[Row]:
    """The ``dp`` section: profiles/s of evaluate_vvca with the dense torch backend on ``device`` (and numba)."""
    rows = []
    for size in sizes:
        n, m = parse_size(size)
        for batch in batches:
            bids, params = instance(n, m, batch, dtype, ties=False)
            bids, params = bids.to(device), params.to(device=device)
            secs = best_time(lambda b=bids, p=params: vvca.evaluate_vvca(b, p, backend="torch"), device)
            rows.append(
                Row("dp", f"revenue, torch {device.type}", size, f"{batch / secs:,.0f} profiles/s", detail=f"B={batch}")
            )
        bids, params = instance(n, m, 1024, dtype, ties=False)
        secs = best_time(lambda b=bids, p=params: vvca.evaluate_vvca(b, p, backend="numba"), torch.device("cpu"))
        threads = numba.get_num_threads()
        rows.append(
            Row("dp", f"revenue, numba cpu x{threads}", size, f"{1024 / secs:,.0f} profiles/s", detail="B=1024")
        )
    return rows


def zfo_iteration_seconds(n: int, m: int, device: torch.device, batch: int = 1024, q: int = 8) -> float:
    """One iteration of Algorithm 3 on ``device``: ascent direction (Rev1 gradient + Eq. 9) and an Adam update."""
    from pipeline_lib.vvca.estimators import ascent_direction
    from pipeline_lib.vvca.parametrisation import Parametrisation

    bids, _ = instance(n, m, batch, torch.float32, ties=False, seed=1)
    bids = bids.to(device)
    par = Parametrisation.full(n, m)
    gen = torch.Generator().manual_seed(2)
    phi = (torch.randn(par.dim, generator=gen) * 0.01).to(device).requires_grad_(True)
    directions = torch.randn(q, par.dim, generator=gen).to(device)
    opt = torch.optim.Adam([phi], lr=1e-3, maximize=True)

    def iteration() -> None:
        step = ascent_direction("zfo_vvca", bids, par, phi, directions, sigma=0.01)
        phi.grad = step.direction
        opt.step()

    return best_time(iteration, device)


def randomized_step_seconds(method: str, size: str, device: torch.device, batch: int = 1024) -> float:
    """One softmax-relaxed training step of Lottery AMA / AMenuNet (``benchmarks/randomized.py`` settings)."""
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    import randomized as bench  # the benchmark script next to this one

    per_step, _ = bench.train_rate(method, RANDOMIZED_SETTING[size], device, batch, budget_s=1.0)
    return per_step


def train_rows(device: torch.device, sizes: list[str]) -> list[Row]:
    rows = []
    for size in sizes:
        n, m = parse_size(size)
        secs = zfo_iteration_seconds(n, m, device)
        rows.append(Row("train", "ZFO-VVCA iteration (q=8)", size, f"{1e3 * secs:.1f} ms", detail="B=1024"))
        for method, label in (("lottery_ama", "Lottery AMA step"), ("amenunet", "AMenuNet step")):
            secs = randomized_step_seconds(method, size, device)
            rows.append(Row("train", label, size, f"{1e3 * secs:.1f} ms", detail="B=1024"))
    return rows


def smoke_row(timeout_s: float, cores: str = "all") -> Row:
    """The smoke tier end to end in a temporary work directory (kept on failure, for its logs)."""
    workdir = Path(tempfile.mkdtemp(prefix="gpu_check_smoke_"))
    (workdir / "config").mkdir()
    shutil.copy(REPO / "config" / "config.yaml", workdir / "config" / "config.yaml")
    cmd = [
        sys.executable, "-m", "snakemake", "-s", str(REPO / "workflow" / "Snakefile"), "--directory", str(workdir),
        "--workflow-profile", "none", "--cores", cores, "--resources", "gpu=1",
        "--configfile", str(REPO / "tests" / "config" / "smoke.yaml"),
    ]  # fmt: skip
    start = time.perf_counter()
    try:
        proc = subprocess.run(cmd, cwd=workdir, capture_output=True, text=True, timeout=max(1.0, timeout_s))
    except subprocess.TimeoutExpired:
        return Row("smoke", "snakemake smoke tier", "-", f"> {timeout_s:.0f} s", "FAIL", f"timed out; see {workdir}")
    secs = time.perf_counter() - start
    if proc.returncode != 0:
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-3:]
        return Row("smoke", "snakemake smoke tier", "-", f"{secs:.0f} s", "FAIL", f"{workdir}: {' | '.join(tail)}")
    shutil.rmtree(workdir, ignore_errors=True)
    return Row("smoke", "snakemake smoke tier", "-", f"{secs:.0f} s", "ok", "every target of rule all")


def print_table(rows: list[Row]) -> None:
    header = f"{'section':<7} {'item':<36} {'size':>5} {'value':>22} {'status':>6}  detail"
    print(header + "\n" + "-" * len(header))
    for r in rows:
        print(f"{r.section:<7} {r.item:<36} {r.size:>5} {r.value:>22} {r.status:>6}  {r.detail}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--sizes", nargs="+", default=list(SIZES))
    parser.add_argument("--train-sizes", nargs="*", default=list(TRAIN_SIZES))
    parser.add_argument("--check-batch", type=int, default=512)
    parser.add_argument("--dtype", choices=("float32", "float64"), default="float32")
    parser.add_argument("--no-dp", action="store_true", help="skip the throughput section")
    parser.add_argument("--no-train", action="store_true", help="skip the training-step section")
    parser.add_argument("--no-smoke", action="store_true", help="skip the smoke-tier workflow run")
    parser.add_argument("--deadline", type=float, default=470.0, help="seconds; the smoke run gets what is left")
    args = parser.parse_args(argv)
    start = time.perf_counter()
    device = torch.device(args.device)
    dtype = getattr(torch, args.dtype)
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else f"cpu, {torch.get_num_threads()} threads"
    print(f"device {device} ({name}); torch {torch.__version__}; {args.dtype}; load average {os.getloadavg()[0]:.2f}")

    rows = run_checks(device, args.sizes, args.check_batch, dtype)
    if not args.no_dp:
        rows += dp_rows(device, args.sizes, (1024, 8192), dtype)
    if not args.no_train:
        rows += train_rows(device, args.train_sizes)
    cut = False
    if not args.no_smoke:
        left = args.deadline - (time.perf_counter() - start)
        if left < 30:
            rows.append(Row("smoke", "snakemake smoke tier", "-", "not run", "FAIL", f"only {left:.0f} s left"))
            cut = True
        else:
            rows.append(smoke_row(left - 5))
    print_table(rows)
    failed = [r for r in rows if r.failed]
    print(f"\n{len(failed)} failed of {sum(r.status != '-' for r in rows)} checks; {time.perf_counter() - start:.0f} s")
    if failed:
        return 2 if cut and len(failed) == 1 else 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
