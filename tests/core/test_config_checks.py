"""pipeline_lib.core.config_checks: configs the schema accepts but that cannot be meant (issue 14, item 7)."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from pipeline_lib.core.config_checks import ConfigError, check_config
from pipeline_lib.core.configfiles import ConfigFileError, deep_merge, load_strict

REPO = Path(__file__).resolve().parents[2]
PAPER = yaml.safe_load((REPO / "config" / "config.yaml").read_text())


def merged(*overlays: dict) -> dict:
    """The paper tier with overlays deep-merged over it (as Snakemake does)."""
    out = deep_merge(PAPER, {})  # a copy: tests may change it
    for overlay in overlays:
        out = deep_merge(out, overlay)
    return out


@pytest.mark.parametrize("tier", [None, "config/quick.yaml", "tests/config/smoke.yaml"])
def test_the_shipped_tiers_pass(tier):
    check_config(merged(*([yaml.safe_load((REPO / tier).read_text())] if tier else [])))


def test_a_paper_setting_name_with_other_sizes_or_distribution_is_refused():
    bad = merged({"combinatorial": {"settings": {"2x2_A": {"n": 3, "distribution": "B"}}}})
    with pytest.raises(
        ConfigError, match=r"combinatorial.settings.2x2_A: the name means n=2, m=2, distribution A .*n=3, m=2, dist"
    ):
        check_config(bad)


@pytest.mark.parametrize(
    ("overlay", "named"),
    [
        ({"figures": {"fig1_settings": ["3x10_A", "5x10_C"]}}, r"fig1_settings: '5x10_C' is not an active setting"),
        ({"figures": {"case_study": {"setting": "5x3_B"}}}, r"case_study.setting: '5x3_B' is not an active"),
        ({"figures": {"smoothing": {"setting": "5x10_A"}}}, r"smoothing.setting: '5x10_A' is not an active"),
        ({"active": ["2x2_A", "2x5_A"], "figures": {"fig1_settings": [], "case_study": {"setting": "2x5_A"}}}, "2x2"),
        ({"figures": {"smoothing": {"low": 1.0, "high": -1.0}}}, r"smoothing low/high = \[1.0, -1.0\]"),
    ],
)
def test_a_figure_setting_that_is_not_active_is_an_error_naming_the_key(overlay, named):
    cfg = merged(
        {"combinatorial": {"active": ["2x2_A", "2x2_D", "3x10_A"], "figures": {"fig1_settings": ["3x10_A"]}}},
        {"combinatorial": overlay},
    )
    with pytest.raises(ConfigError, match=named):
        check_config(cfg)


def test_figures_may_be_switched_off_on_purpose_or_with_the_whole_combinatorial_part():
    check_config(merged({"combinatorial": {"active": []}}))
    off = {"fig1_settings": [], "case_study": {"setting": None}, "smoothing": {"setting": None}}
    check_config(merged({"combinatorial": {"active": ["5x3_B"], "figures": off}}))


def test_menu_size_is_required_where_a_randomized_method_runs():
    cfg = merged()
    del cfg["combinatorial"]["settings"]["5x3_B"]["menu_size"]
    with pytest.raises(ConfigError, match=r"settings.5x3_B.menu_size is missing: lottery_ama, amenunet run on 5x3_B"):
        check_config(cfg)
    cfg["combinatorial"]["methods"] = ["zfo_vvca"]  # no randomized method listed: not needed
    check_config(cfg)
    cfg["combinatorial"]["settings"]["5x3_B"]["menu_size"] = 128
    del cfg["combinatorial"]["settings"]["2x2_D"]["menu_size"]  # (D): the randomized methods skip it
    cfg["combinatorial"]["methods"] = ["zfo_vvca", "lottery_ama"]
    check_config(cfg)


@pytest.mark.parametrize(
    ("overlay", "named"),
    [
        ({"sweep": {"lambda_regret": [5.0, 0.1]}}, r"single_item.sweep.lambda_regret = \[5.0, 0.1\]: the lower bound"),
        ({"sweep": {"lambda_mono": [1.0, 1.0]}}, r"single_item.sweep.lambda_mono = \[1.0, 1.0\]"),
        ({"families": {"uniform": {"low": 2.0}}}, r"single_item.families.uniform low/high = \[2.0, 1.0\]"),
    ],
)
def test_reversed_ranges_are_refused_early(overlay, named):
    with pytest.raises(ConfigError, match=named):
        check_config(merged({"single_item": overlay}))


@pytest.mark.parametrize(
    ("text", "named"),
    [
        ("seed: 1\ndata:\n  row_group_size: 4\nseed: 2\n", r"duplicate key 'seed' at line 4 \(first at line 1\)"),
        ("combinatorial:\n  seeds: 1\n  seeds: 2\n", r"duplicate key 'seeds' at line 3 \(first at line 2\)"),
        ("seed: [1\ndata: {\n", r"is not valid YAML"),
        ("", r"is empty"),
        ("# only a comment\n", r"is empty"),
        ("- a\n- b\n", r"must hold a mapping"),
    ],
)
def test_strict_loading_names_the_file(tmp_path, text, named):
    path = tmp_path / "overlay.yaml"
    path.write_text(text)
    with pytest.raises(ConfigFileError, match=rf"config file {path}.*{named}"):
        load_strict(path)
