"""`combinatorial.seeds_in_one_job` (issue 30, item 1: the quick tier's runs are short, and each process pays about
3.5 s of imports): one job trains every seed of a (setting, method), and its outputs are the per-seed jobs' outputs,
so Table 2 cannot tell how they were scheduled."""

from __future__ import annotations

import json

import pytest
import torch
from snakemake_runs import SMOKE, job_counts, run_snakemake

METHODS = ("zfo_vvca", "zfo_vvca_plus", "zfo_ama_sym", "lottery_ama")


def targets(seeds: int) -> list[str]:
    return [f"results/combinatorial/2x2_A/{m}/seed{s}/metrics.json" for m in METHODS for s in range(seeds)]


def overlay(tmp_path, together: bool):
    path = tmp_path / f"overlay_{together}.yaml"
    path.write_text(
        f"combinatorial: {{active: [2x2_A], seeds: 2, seeds_in_one_job: {str(together).lower()}, "
        f"methods: [{', '.join(METHODS)}]}}\n"
    )
    return path


def without_times(record):
    """A record without its measured times (they differ between any two runs)."""
    if isinstance(record, dict):
        return {k: without_times(v) for k, v in record.items() if not ("time" in k or "second" in k or k[-2:] == "_s")}
    return record


@pytest.fixture(scope="module")
def both(tmp_path_factory):
    """The same study run with one job per seed and with every seed of a (setting, method) in one job."""
    dirs = {}
    for together in (False, True):
        work = tmp_path_factory.mktemp(f"together_{together}")
        r = run_snakemake(work, *targets(2), configfiles=(SMOKE, overlay(work, together)))
        assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
        dirs[together] = (work, job_counts(r.stdout + r.stderr))
    return dirs


def test_one_job_per_setting_and_method_runs_every_seed(both):
    _, per_seed = both[False]
    _, together = both[True]
    assert per_seed["zfo_run"] == 2 * 2 and per_seed["ama_run"] == 2 and per_seed["randomized_run"] == 2
    assert together["zfo_run_seeds"] == 2 and together["ama_run_seeds"] == 1 and together["randomized_run_seeds"] == 1
    assert not {"zfo_run", "ama_run", "randomized_run"} & set(together)


def test_the_outputs_are_the_per_seed_jobs_outputs(both):
    (a, _), (b, _) = both[False], both[True]
    for target in targets(2):
        left, right = (json.loads((d / target).read_text()) for d in (a, b))
        assert without_times(left) == without_times(right), target
        params = target.replace("metrics.json", "params.pt")
        pa, pb = (torch.load(d / params, weights_only=False) for d in (a, b))
        for key, value in pa.items():
            if isinstance(value, torch.Tensor):
                assert torch.equal(value, pb[key]), (params, key)
    assert (b / "logs/zfo_run/2x2_A/zfo_vvca/seeds.log").exists()
    assert (b / "benchmarks/zfo_run/2x2_A/zfo_vvca/seeds.tsv").exists()


def test_a_single_seed_can_still_be_rebuilt_and_only_its_job_reruns(both):
    work, _ = both[True]
    target = "results/combinatorial/2x2_A/lottery_ama/seed1/metrics.json"
    before = (work / target).read_text()
    (work / target).unlink()
    r = run_snakemake(work, target, configfiles=(SMOKE, overlay(work, True)))
    assert r.returncode == 0, r.stderr[-3000:]
    assert job_counts(r.stdout + r.stderr) == {"randomized_run_seeds": 1}  # the seed's job: both seeds, nothing else
    assert without_times(json.loads((work / target).read_text())) == without_times(json.loads(before))
