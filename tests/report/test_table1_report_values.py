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


def test_a_learned_row_says_how_it_was_started_and_deployed():
    """The 'how obtained' line of a learned row comes from its model's training record: RegretNet names its teacher
    (a learned MyersonNet and the deployment validation chose, or none), its regret budget and deployed iteration;
    the report's net says its phase 1 reads Myerson's auction; baselines have none."""
    from pipeline_lib.report.table1 import obtained

    start = {"teacher": "myersonnet", "teacher_deployment": "softmax"}
    line = obtained({"start": start, "config": {"regret_budget": 2e-4}, "deployed_iteration": 0}, "regretnet")
    assert "MyersonNet of its seed (learned; its softmax deployment)" in line
    assert "regret <= 0.0002" in line and "(iteration 0, the start)" in line
    assert obtained({"start": {"teacher": "none"}}, "regretnet") == "fresh net"
    assert "reads the optimum" in obtained({}, "learned") and obtained({}, "myerson") == ""
