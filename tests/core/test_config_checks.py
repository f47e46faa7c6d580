"""pipeline_lib.core.config_checks: configs the schema accepts but that cannot be meant (issue 14, item 7)."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from snakemake_runs import filled_config

from pipeline_lib.core.config_checks import ConfigError, check_config
from pipeline_lib.core.configfiles import ConfigFileError, load_strict

REPO = Path(__file__).resolve().parents[2]


def merged(*overlays: dict) -> dict:
    """The paper tier with overlays deep-merged over it (as Snakemake does) and the schema's defaults filled in (as
    the workflow's ``validate`` does before it runs these checks)."""
    return filled_config(*overlays)


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


# --- issue 32, item 2: constraints of samplers, priors, sweeps and networks, refused before any job ---------------
MIX = {"distribution": "mixture", "components": [{"distribution": "uniform"}, {"distribution": "exponential"}]}


@pytest.mark.parametrize(
    ("overlay", "named"),
    [
        (
            {"single_item": {"families": {"mix": {**MIX, "weights": [0.5]}}}},
            r"single_item.families.mix.weights: 1 weights \[0.5\] for 2 components",
        ),
        (
            {"single_item": {"families": {"mix": {**MIX, "weights": [0.5, 0.6]}}}},
            r"single_item.families.mix.weights = \[0.5, 0.6\]: .* sum to 1 \(they sum to 1.1\)",
        ),
        (
            {
                "single_item": {
                    "families": {
                        "pb": {
                            "distribution": "per_bidder",
                            "bidders": [
                                {"distribution": "uniform"},
                                {"distribution": "uniform", "low": 1.0, "high": 0.5},
                            ],
                        }
                    }
                }
            },
            r"single_item.families.pb.bidders\[1\] low/high = \[1.0, 0.5\]",
        ),
        (
            {
                "single_item": {
                    "families": {
                        "pb": {
                            "distribution": "per_bidder",
                            "n_bidders": 3,
                            "bidders": [{"distribution": "uniform"}, {"distribution": "exponential"}],
                        }
                    }
                }
            },
            r"single_item.families.pb.n_bidders = 3, but single_item.families.pb.bidders lists 2",
        ),
        (
            {
                "single_item": {
                    "families": {"pb": {"distribution": "per_bidder", "bidders": [{**MIX, "weights": [1.0, 1.0]}]}}
                }
            },
            r"single_item.families.pb.bidders\[0\].weights = \[1.0, 1.0\]",
        ),
        (
            {"single_item": {"families": {"ln": {"distribution": "lognormal", "rho": -0.5}}}},
            r"single_item.families.ln.rho = -0.5: with n = 4 bidders .* -0.333333 < rho < 1",
        ),
        ({"single_item": {"final": {"seeds": [0, 0]}}}, r"single_item.final.seeds = \[0, 0\]: seed \[0\] listed"),
        ({"single_item": {"regretnet": {"seeds": [1, 2, 1]}}}, r"single_item.regretnet.seeds = \[1, 2, 1\]"),
        ({"single_item": {"myersonnet": {"seeds": [3, 3]}}}, r"single_item.myersonnet.seeds = \[3, 3\]"),
        (
            {"single_item": {"regretnet": {"sweep": {"space": {"lr": [1e-2, 1e-4, True]}}}}},
            r"single_item.regretnet.sweep.space.lr = \[0.01, 0.0001\]: the lower bound",
        ),
        (
            {"single_item": {"regretnet": {"sweep": {"space": {"mu_init": [0.0, 1.0, True]}}}}},
            r"space.mu_init = \[0.0, 1.0, True\]: a log-uniform range needs low > 0",
        ),
        (
            {"single_item": {"regretnet": {"sweep": {"space": {"iterations": [10, 100]}}}}},
            r"space.iterations: 'iterations' is not a tunable RegretNet setting",
        ),
        (
            {"combinatorial": {"randomized": {"overrides": {"9x9_A": {"amenunet": {"lr": 0.1}}}}}},
            r"combinatorial.randomized.overrides.9x9_A: '9x9_A' is not a setting of combinatorial.settings",
        ),
        (
            {"combinatorial": {"method_overrides": {"lottery_ama": {"lr": 0.1}}}},
            r"combinatorial.method_overrides.lottery_ama: lottery_ama does not read method_overrides",
        ),
        (
            {"single_item": {"regretnet": {"training": {"warm_start": True, "payment_head": "fraction"}}}},
            r"single_item.regretnet.training.hidden = unset .* single_item.training.hidden = \[64, 32, 16\]",
        ),
        (
            {
                "single_item": {
                    "regretnet": {"training": {"warm_start": True, "hidden": [64, 32], "payment_head": "fraction"}}
                }
            },
            r"single_item.regretnet.training.hidden = \[64, 32\]: with single_item.regretnet.training.warm_start",
        ),
        (
            {"single_item": {"regretnet": {"training": {"warm_start": True, "hidden": [64, 32, 16]}}}},
            r"single_item.regretnet.training.payment_head = unset .* set single_item.regretnet.training.payment_head",
        ),
        (
            {"combinatorial": {"randomized": {"amenunet": {"n_head": 3}}}},
            r"combinatorial.randomized.amenunet: n_head = 3 does not divide d_hidden = 64",
        ),
        (
            {"combinatorial": {"randomized": {"overrides": {"2x2_A": {"amenunet": {"d_hidden": 30}}}}}},
            r"overrides.2x2_A.amenunet: n_head = 4 does not divide d_hidden = 30",
        ),
    ],
)
def test_what_a_sampler_prior_sweep_or_network_would_refuse_is_refused_naming_the_key(overlay, named):
    with pytest.raises(ConfigError, match=named):
        check_config(merged(overlay))


@pytest.mark.parametrize(
    ("overlay", "named"),
    [
        (
            {"data": {"combinatorial": {"train": 500}}},
            r"combinatorial.settings.2x2_A.zfo.batch_size = 1024 .* exceeds data.combinatorial.train = 500",
        ),
        (
            {"data": {"combinatorial": {"train": 1500}}, "combinatorial": {"methods": ["lottery_ama"]}},
            r"combinatorial.randomized.lottery_ama.batch_size = 2048 exceeds data.combinatorial.train = 1500",
        ),
        (
            {
                "combinatorial": {
                    "methods": ["amenunet"],
                    "randomized": {"overrides": {"2x2_A": {"amenunet": {"batch_size": 200000}}}},
                }
            },
            r"overrides.2x2_A.amenunet.batch_size = 200000 exceeds data.combinatorial.train = 100000",
        ),
        (
            {"combinatorial": {"method_overrides": {"fo_vvca": {"batch_size": 200000}}}},
            r"combinatorial.method_overrides.fo_vvca.batch_size = 200000 .* exceeds data.combinatorial.train",
        ),
        ({"single_item": {"training": {"batch_size": 60000}}}, r"single_item.training.batch_size = 60000 exceeds"),
        ({"data": {"single_item": {"train": 1000}}}, r"single_item.vvca.batch_size = 1024 exceeds .*train = 1000"),
        (
            {"single_item": {"myersonnet": {"training": {"batch_size": 50001}}}},
            r"single_item.myersonnet.training.batch_size = 50001 exceeds data.single_item.train = 50000",
        ),
    ],
)
def test_a_batch_larger_than_its_training_split_is_refused_naming_both(overlay, named):
    with pytest.raises(ConfigError, match=named):
        check_config(merged(overlay))


def test_batch_checks_follow_what_runs_and_the_tier_caps():
    # the ZFO loop's batch is capped by max_batch_size (smoke tier), and a baseline that does not run is not checked
    check_config(
        merged(
            {
                "data": {"combinatorial": {"train": 500}},
                "combinatorial": {"training": {"max_batch_size": 64}, "methods": ["zfo_vvca"]},
            }
        )
    )
    check_config(
        merged(
            {
                "data": {"single_item": {"train": 1000}},
                "single_item": {"baselines": ["myerson"], "training": {"batch_size": 256}},
            }
        )
    )


def test_valid_families_overrides_and_spaces_pass():
    check_config(
        merged(
            {
                "single_item": {
                    "families": {
                        "mix": {**MIX, "weights": [0.25, 0.75]},
                        "pb": {
                            "distribution": "per_bidder",
                            "bidders": [{"distribution": "uniform", "high": 2.0}, MIX | {"weights": [0.5, 0.5]}],
                        },
                        "ln": {"distribution": "lognormal", "rho": -0.3},
                    },
                    "regretnet": {
                        "sweep": {"space": {"lr": [1e-4, 1e-2, True], "mu_init": [0.0, 5.0]}},
                        "training": {"warm_start": True, "hidden": [64, 32, 16], "payment_head": "fraction"},
                    },
                },
                "combinatorial": {"randomized": {"overrides": {"2x2_A": {"amenunet": {"n_head": 2, "d_hidden": 32}}}}},
            }
        )
    )


def test_the_sweepable_regretnet_fields_are_the_schemas_float_fields():
    schema = yaml.safe_load((REPO / "workflow" / "schemas" / "config.schema.yaml").read_text())
    training = schema["properties"]["single_item"]["properties"]["regretnet"]["properties"]["training"]["properties"]
    floats = {
        name
        for name, prop in training.items()
        if prop.get("type") == "number" or prop.get("$ref") == "#/$defs/positive_number"
    }
    from pipeline_lib.core.config_checks import REGRETNET_SWEEPABLE

    assert set(REGRETNET_SWEEPABLE) == floats


@pytest.mark.parametrize(
    ("overlay", "named"),
    [
        (
            {"data": {"single_item": {"val": 1500}}},
            r"single_item.sweep.val_profiles = 2000 exceeds data.single_item.val = 1500",
        ),
        (
            {"single_item": {"myersonnet": {"training": {"val_profiles": 20000}}}},
            r"single_item.myersonnet.training.val_profiles = 20000 exceeds data.single_item.val = 10000",
        ),
        (
            {"single_item": {"regretnet": {"training": {"val_profiles": 10001}}}},
            r"single_item.regretnet.training.val_profiles = 10001 exceeds",
        ),
        (
            {
                "data": {"combinatorial": {"val": 1000}},
                "combinatorial": {"figures": {"case_study": {"n_profiles": 2000}}},
            },
            r"combinatorial.figures.case_study.n_profiles = 2000 exceeds data.combinatorial.val = 1000",
        ),
    ],
)
def test_more_validation_profiles_than_the_split_holds_are_refused_naming_both(overlay, named):
    with pytest.raises(ConfigError, match=named):
        check_config(merged(overlay))
