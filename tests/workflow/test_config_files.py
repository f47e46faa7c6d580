"""Config mistakes stop `snakemake -n` before any job, naming the file or key (issue 14, item 7)."""

from __future__ import annotations

import pytest
from snakemake_runs import REPO, run_snakemake


def dry_run(tmp_path, overlay_text: str | None = None, base_config: str | None = None):
    files = ()
    if overlay_text is not None:
        overlay = tmp_path / "overlay.yaml"
        overlay.write_text(overlay_text)
        files = (overlay,)
    r = run_snakemake(tmp_path, "-n", configfiles=files, base_config=base_config)
    return r.returncode, r.stdout + r.stderr


def test_a_key_repeated_in_an_overlay_is_an_error_naming_the_file_and_lines(tmp_path):
    code, out = dry_run(tmp_path, "single_item:\n  sweep:\n    n_trials: 3\n  sweep:\n    kappa: 1.0\n")
    assert code != 0
    assert f"config file {tmp_path / 'overlay.yaml'}: duplicate key 'sweep' at line 4 (first at line 2)" in out


def test_a_syntax_error_or_duplicate_in_the_base_config_names_it(tmp_path):
    text = (REPO / "config" / "config.yaml").read_text()
    code, out = dry_run(tmp_path, base_config=text + "seed: 7\n")
    assert code != 0 and "config file config/config.yaml: duplicate key 'seed'" in out
    code, out = dry_run(tmp_path, base_config=text.replace("seed: 20240217", "seed: [20240217"))
    assert code != 0 and "config file config/config.yaml is not valid YAML" in out


@pytest.mark.parametrize(
    ("overlay", "named"),
    [
        (
            "combinatorial: {settings: {2x2_A: {n: 3, distribution: B}}}\n",
            "combinatorial.settings.2x2_A: the name means n=2, m=2, distribution A",
        ),
        ("single_item: {sweep: {lambda_regret: [5.0, 0.1]}}\n", "single_item.sweep.lambda_regret = [5.0, 0.1]"),
        ("combinatorial: {active: [2x2_A, 2x2_D]}\n", "fig1_settings: '3x10_A' is not an active setting"),
        ("single_item: {sweep: {storage: {kind: journal, pth: x.journal}}}\n", "'pth' was unexpected"),
    ],
)
def test_a_config_that_cannot_be_meant_stops_the_dry_run_naming_the_key(tmp_path, overlay, named):
    code, out = dry_run(tmp_path, overlay)
    assert code != 0 and named in out, out[-3000:]
