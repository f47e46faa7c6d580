"""Every constraint a sampler, prior, sweep space, network or minibatch would enforce inside a job stops
`snakemake -n` before any job, naming the key (issue 32, items 2-3). One dry run per constraint, two at a time."""

from __future__ import annotations

import subprocess
from concurrent.futures import ThreadPoolExecutor

from snakemake_runs import run_snakemake

MIXTURE = "{distribution: mixture, components: [{distribution: uniform}, {distribution: exponential}]"
CASES = [
    (
        "single_item: {final: {seeds: [0, 0]}}",
        "config single_item.final.seeds = [0, 0]: seed [0] listed more than once",
    ),
    (
        "combinatorial: {randomized: {overrides: {9x9_A: {amenunet: {lr: 0.1}}}}}",
        "config combinatorial.randomized.overrides.9x9_A: '9x9_A' is not a setting of combinatorial.settings",
    ),
    (
        "combinatorial: {method_overrides: {amenunet: {lr: 0.1}}}",
        "config combinatorial.method_overrides.amenunet: amenunet does not read method_overrides",
    ),
    (
        f"single_item: {{families: {{mix: {MIXTURE}, weights: [0.5, 0.6]}}}}}}",
        "config single_item.families.mix.weights = [0.5, 0.6]: the weights must be non-negative and sum to 1",
    ),
    (
        "single_item: {families: {pb: {distribution: per_bidder, bidders: [{distribution: uniform, low: 2.0}]}}}",
        "config single_item.families.pb.bidders[0] low/high = [2.0, 1.0]: the lower bound must be below",
    ),
    (
        "single_item: {families: {ln: {distribution: lognormal, rho: -0.5}}}",
        "config single_item.families.ln.rho = -0.5: with n = 4 bidders",
    ),
    (
        "single_item: {regretnet: {sweep: {space: {lr: [0.01, 0.0001, true]}}}}",
        "config single_item.regretnet.sweep.space.lr = [0.01, 0.0001]: the lower bound must be below",
    ),
    (
        "combinatorial: {randomized: {amenunet: {n_head: 3}}}",
        "config combinatorial.randomized.amenunet: n_head = 3 does not divide d_hidden = 64",
    ),
    (
        "data: {combinatorial: {train: 1000}}",
        "config combinatorial.settings.2x2_A.zfo.batch_size = 1024 (after max_batch_size) exceeds "
        "data.combinatorial.train = 1000",
    ),
]


def _dry_run(args: tuple[int, str], tmp_path) -> tuple[int, str]:
    k, overlay_text = args
    workdir = tmp_path / f"case{k}"
    workdir.mkdir()
    overlay = workdir / "overlay.yaml"
    overlay.write_text(overlay_text + "\n")
    r: subprocess.CompletedProcess = run_snakemake(workdir, "-n", configfiles=(overlay,))
    return r.returncode, r.stdout + r.stderr


def test_each_constraint_stops_the_dry_run_naming_the_key(tmp_path):
    with ThreadPoolExecutor(max_workers=2) as pool:
        results = list(pool.map(lambda a: _dry_run(a, tmp_path), enumerate(text for text, _ in CASES)))
    failures = [
        f"{overlay}: rc {code}, expected {named!r} in\n{out[-1500:]}"
        for (overlay, named), (code, out) in zip(CASES, results, strict=True)
        if code == 0 or named not in out
    ]
    assert not failures, "\n\n".join(failures)
