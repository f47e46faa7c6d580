"""Training throughput of the randomized affine maximizers (Lottery AMA, AMenuNet): profiles per second of the
softmax-relaxed training step (menu forward, AMA payments, backward, fused Adam), on the CPU and, where one is
visible, on the GPU; plus the hard-argmax evaluation rate (Eq. 1 and Eq. 2 in float64).

    .venv/bin/python benchmarks/randomized.py                # default settings, batch 1024
    .venv/bin/python benchmarks/randomized.py --settings 2x2_A 5x10_A --batch 2048 --threads 1 2

Candidate sizes are the spec's (2x2: 32, 2x5 / 5x3: 128, 3x10: 1024, 5x10: 4096); architecture and temperatures
are the paper-tier defaults of config/config.yaml.
"""

from __future__ import annotations

import argparse
import time

import torch

from pipeline_lib.combinatorial.menus import build_model, evaluate_menu, make_optimizer, train_step

SIZES = {
    "2x2_A": (2, 2, 32),
    "2x5_A": (2, 5, 128),
    "5x3_B": (5, 3, 128),
    "3x10_A": (3, 10, 1024),
    "5x10_A": (5, 10, 4096),
}
MODEL_KWARGS = {
    "lottery_ama": {"init_scale": 1.0},
    "amenunet": {"d_emb": 10, "n_layer": 3, "n_head": 4, "d_hidden": 64, "alloc_temperature": 10.0},
}


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def train_rate(method: str, setting: str, device: torch.device, batch: int, budget_s: float) -> tuple[float, int]:
    """(seconds per step, steps timed): warm-up steps, then as many steps as fit in ``budget_s`` (at least 3)."""
    n, m, s = SIZES[setting]
    torch.manual_seed(0)
    model = build_model(method, n, m, s, MODEL_KWARGS[method]).to(device)
    optimizer = make_optimizer(model, 1e-4)
    bids = torch.rand(batch, n, m, device=device)
    for _ in range(2):
        train_step(model, optimizer, bids, 500.0)
    _sync(device)
    steps, start = 0, time.perf_counter()
    while steps < 3 or time.perf_counter() - start < budget_s:
        train_step(model, optimizer, bids, 500.0)
        steps += 1
        if steps % 5 == 0:
            _sync(device)
    _sync(device)
    return (time.perf_counter() - start) / steps, steps


def eval_rate(method: str, setting: str, device: torch.device, profiles: int) -> float:
    """Profiles per second of the exact hard-argmax evaluation (float64, chunked)."""
    n, m, s = SIZES[setting]
    torch.manual_seed(0)
    model = build_model(method, n, m, s, MODEL_KWARGS[method]).to(device)
    with torch.no_grad():
        menu = model.menu()
    values = torch.rand(profiles, n, m, device=device)
    evaluate_menu(menu, values[:16])
    _sync(device)
    start = time.perf_counter()
    evaluate_menu(menu, values)
    _sync(device)
    return profiles / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--settings", nargs="+", default=["2x2_A", "5x3_B", "3x10_A", "5x10_A"], choices=SIZES)
    parser.add_argument("--methods", nargs="+", default=["lottery_ama", "amenunet"])
    parser.add_argument("--batch", type=int, default=1024)
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2], help="CPU intra-op thread counts")
    parser.add_argument("--budget", type=float, default=2.0, help="seconds of timed training steps per row")
    parser.add_argument("--eval-profiles", type=int, default=10000)
    args = parser.parse_args()

    targets = [(torch.device("cpu"), t) for t in args.threads]
    if torch.cuda.is_available():
        targets.append((torch.device("cuda"), None))
    header = (
        f"{'method':<12} {'setting':<7} {'s':>5} {'device':<12} {'batch':>5} {'ms/step':>9} "
        f"{'train profiles/s':>17} {'eval profiles/s':>16}"
    )
    print(header)
    print("-" * len(header))
    for device, threads in targets:
        if threads is not None:
            torch.set_num_threads(threads)
        label = f"cpu x{threads}" if threads is not None else torch.cuda.get_device_name(device)[:12]
        for setting in args.settings:
            for method in args.methods:
                per_step, _ = train_rate(method, setting, device, args.batch, args.budget)
                rate = eval_rate(method, setting, device, args.eval_profiles)
                print(
                    f"{method:<12} {setting:<7} {SIZES[setting][2]:>5} {label:<12} {args.batch:>5} "
                    f"{1000 * per_step:>9.1f} {args.batch / per_step:>17,.0f} {rate:>16,.0f}",
                    flush=True,
                )


if __name__ == "__main__":
    main()
