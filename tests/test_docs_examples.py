"""The worked examples of docs/extending.md run as written: each overlay through the real config checks and a
Snakemake dry run (smoke tier below it), the new method's registry entry through a dry run with the entry added,
and its stage branch on a few profiles."""

from __future__ import annotations

import re
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import torch
import yaml
from snakemake_runs import REPO, SMOKE, run_snakemake

from pipeline_lib.core import configfiles

DOC = REPO / "docs" / "extending.md"


def example(name: str) -> str:
    """The fenced block that follows ``<!-- example: name -->`` in docs/extending.md."""
    m = re.search(rf"<!-- example: {re.escape(name)} -->\s*```\w*\n(.*?)```", DOC.read_text(encoding="utf-8"), re.S)
    assert m, f"docs/extending.md has no example {name!r}"
    return m[1]


def dry_run_with(tmp_path, name: str, *targets: str) -> str:
    overlay = tmp_path / f"{name}.yaml"
    overlay.write_text(example(name))
    assert configfiles.main([str(REPO / "config" / "config.yaml"), str(overlay)]) == 0
    r = run_snakemake(tmp_path, "-n", *targets, configfiles=(SMOKE, overlay))
    out = r.stdout + r.stderr
    assert r.returncode == 0, out[-3000:]
    return out


def test_new_family_example(tmp_path):
    assert "asym_uniform" in yaml.safe_load(example("new-family"))["single_item"]["families"]
    out = dry_run_with(tmp_path, "new-family")
    assert "results/data/asym_uniform/test.parquet" in out
    assert "results/baselines/asym_uniform/myerson.json" in out  # independent prior: Myerson follows
    assert "results/single_item/asym_uniform/" in out


def test_new_setting_example(tmp_path):
    out = dry_run_with(tmp_path, "new-setting")
    assert "results/combinatorial/3x2_B/zfo_vvca/seed0/metrics.json" in out
    assert "results/baselines/3x2_B/item_myerson.json" in out


def test_new_method_registry_example_schedules_the_baseline(tmp_path):
    entry = example("new-method-registry")
    script = textwrap.dedent(
        f"""
        import sys
        from pipeline_lib.core import methods
        entry = eval({entry.strip().rstrip(",")!r}, vars(methods))
        methods._METHODS = (*methods._METHODS, entry)
        methods.METHODS[entry.key] = entry
        from snakemake.cli import main
        sys.argv = ["snakemake", *sys.argv[1:]]
        main()
        """
    )
    (tmp_path / "config").mkdir()
    (tmp_path / "config" / "config.yaml").write_text((REPO / "config" / "config.yaml").read_text())
    cmd = [sys.executable, "-c", script, "-n", "-s", str(REPO / "workflow" / "Snakefile"), "--directory", str(tmp_path)]
    cmd += ["--workflow-profile", "none", "--cores", "1", "--configfile", str(SMOKE)]
    r = subprocess.run(cmd, capture_output=True, text=True, cwd=tmp_path)
    out = r.stdout + r.stderr
    assert r.returncode == 0, out[-3000:]
    assert "results/baselines/2x2_A/reserve_vvca.json" in out
    assert "results/baselines/2x2_D/reserve_vvca.json" not in out  # skip_distributions=("D",)


def test_new_method_stage_example_is_item_myerson_on_setting_A():
    from pipeline_lib.combinatorial.item_myerson import item_myerson_block_fn
    from pipeline_lib.combinatorial.starts import myerson_shaped_vvca
    from pipeline_lib.vvca.evaluate import evaluate_blocks, vvca_block_fn

    branch = textwrap.dedent(example("new-method-stage")).replace("elif", "if", 1)
    n, m, distribution, layout = 2, 2, "A", "additive"
    dtype, device = torch.float64, torch.device("cpu")
    scope = {"myerson_shaped_vvca": myerson_shaped_vvca, "vvca_block_fn": vvca_block_fn, "baseline": "reserve_vvca"}
    scope |= {"n": n, "m": m, "distribution": distribution, "layout": layout, "dtype": dtype, "device": device}
    exec(branch, scope)  # noqa: S102 - the documented example, run as written
    values = np.random.default_rng(0).uniform(size=(256, n, m))
    ours = evaluate_blocks([values], scope["block_fn"], dtype)["revenue"]["mean"]
    exact = evaluate_blocks([values], item_myerson_block_fn(distribution, n, device, dtype), dtype)["revenue"]["mean"]
    assert ours == pytest.approx(exact, rel=1e-9)
