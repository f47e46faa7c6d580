"""Table 1 shows the report's figures beside a family only when the family IS the report's setting (issue 32,
item 1): matched by distribution, n and every parameter, never by the family's name."""

from __future__ import annotations

import pytest

from pipeline_lib.report.table1 import REPORT_TABLE1, build_table, report_figures


def record(family: str, method: str, revenue: float) -> dict:
    metric = {"value": 0.0, "ci": [0.0, 0.0]}
    return {
        "setting": family,
        "method": method,
        "seed": 0,
        "test_revenue": {"mean": revenue, "se": 0.01, "n_profiles": 100},
        "metrics": {
            **{
                k: metric for k in ("revenue", "regret_mean", "regret_sum", "regret_p99", "regret_max", "welfare_ratio")
            },
            **{k: metric for k in ("ir_violation_rate", "winner_accuracy", "regret_share")},
        },
    }


def report_column(family: str, spec: dict) -> object:
    table = build_table({family: {**spec, "learned": {}, "baselines": [record(family, "vickrey", 1.2)]}})
    return table.loc[table.mechanism == "vickrey", "report_revenue"].item()


@pytest.mark.parametrize(
    ("name", "spec", "shown"),
    [
        ("uniform", {"distribution": "uniform", "n_bidders": 4, "low": 0.0, "high": 1.0}, True),
        ("uniform", {"distribution": "uniform", "n_bidders": 4, "low": 0.0, "high": 2.0}, False),  # U[0,2]
        ("uniform", {"distribution": "uniform", "n_bidders": 4, "low": 0.5, "high": 1.0}, False),
        ("u01", {"distribution": "uniform", "n_bidders": 4, "low": 0.0, "high": 1.0}, True),  # any name
        ("uniform", {"distribution": "uniform", "n_bidders": 8, "low": 0.0, "high": 1.0}, False),
        ("exponential", {"distribution": "exponential", "n_bidders": 4, "mean": 2.0}, False),
        ("latent", {"distribution": "latent", "n_bidders": 4, "d": 2, "sigma_z": 1.0}, False),
        ("latent", {"distribution": "latent", "n_bidders": 4, "w_mode": "per_auction"}, False),
        ("hetero", {"distribution": "hetero", "n_bidders": 4}, True),
    ],
)
def test_the_reports_figures_follow_the_exact_setting_not_the_name(name, spec, shown):
    value = report_column(name, spec)
    if shown:
        assert value == REPORT_TABLE1[spec["distribution"]]["vickrey"][0]
    else:
        assert value is None or value != value, f"report figures shown beside {spec}"


def test_no_parameters_no_figures():
    assert report_figures("uniform", 4, None) == {}
    assert report_figures("uniform", 4, {"low": 0.0, "high": 1.0}) == REPORT_TABLE1["uniform"]
