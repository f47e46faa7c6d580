"""Table 1 of the single-item report, computed honestly (docs/methods.md#table-1).

Per family and mechanism: test revenue with its 95% CI, Myerson's optimum where it is known (i.i.d. families) and
the share of it reached, per-bidder ex-post regret (mean with CI, p99 and max of the per-profile summed regret),
IR violations, welfare ratio E[sum a_i v_i] / E[max v] with CI, and the report's own figures beside ours (n = 4
only). A learned mechanism whose revenue beats the IC optimum by more than 3 standard errors is labelled
"not incentive compatible": an ex-post IR mechanism can only do that by being manipulable
(docs/methods.md#above-the-optimum).

Learned rows aggregate the final seeds: values are means over seeds (regret max: the max); with two or more seeds
the CI is the wider of a Student-t interval over seeds (training variance) and the mean per-seed bootstrap interval
over test profiles (sampling variance of the test set); with one seed it is the bootstrap interval.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from pipeline_lib.core import methods
from pipeline_lib.core.records import SECOND, read_record

# The report's Table 1 (n = 4, 10,000 samples): revenue, its regret metric (defective, docs/methods.md#report-defects),
# and its "efficiency" (winner accuracy, not a welfare ratio). Keyed by distribution, then by our mechanism name.
REPORT_TABLE1: dict[str, dict[str, tuple[float, float, float | None]]] = {
    "uniform": {"learned": (0.628, 0.021, 96.5), "vickrey": (0.599, 0.198, 92.1), "myerson": (0.643, 0.000, None)},
    "exponential": {"learned": (1.527, 0.032, 88.1), "vickrey": (1.084, 0.502, 73.4), "myerson": (1.286, 0.000, None)},
    "latent": {"learned": (0.521, 0.011, 54.8), "vickrey": (0.106, 0.085, 17.1), "vickrey_r1": (0.293, 0.000, None)},
    "hetero": {"learned": (0.855, 0.014, 96.4), "vickrey": (0.696, 0.264, 78.2), "vickrey_r1": (0.445, 0.000, None)},
}
REPORT_N_BIDDERS = 4
# The report's settings, by the values that define them (n = REPORT_N_BIDDERS): a family is shown beside the
# report's figures only when its distribution and every parameter equal these (a missing parameter takes the
# schema's default, which is the report's value); its name does not matter.
REPORT_SETTINGS: dict[str, dict[str, Any]] = {
    "uniform": {"low": 0.0, "high": 1.0},
    "exponential": {"mean": 1.0},
    "latent": {"d": 1, "sigma_z": 1.0, "sigma_eps": 0.05, "w_mode": "fixed"},
    "hetero": {},
}
LAYOUT_KEYS = ("distribution", "n_bidders", "learned", "baselines")


def report_figures(distribution: str, n_bidders: int, params: Mapping[str, Any] | None) -> dict[str, tuple]:
    """The report's Table 1 figures of a family whose setting is exactly one of the report's (by distribution, n
    and every parameter, :data:`REPORT_SETTINGS`), else {} (nothing is shown beside it)."""
    setting = REPORT_SETTINGS.get(distribution)
    if setting is None or params is None or int(n_bidders) != REPORT_N_BIDDERS:
        return {}
    for key, value in params.items():
        if key in LAYOUT_KEYS:
            continue
        if key not in setting or value != setting[key]:
            return {}
    return REPORT_TABLE1.get(distribution, {})


FLAG = "not incentive compatible"


CI_KEYS = ("revenue", "regret_mean", "welfare_ratio", "regret_p99")  # metrics with a bootstrap CI
PAIRED_KEY = "vs_myerson"  # revenue / Myerson's on the same profiles (metric ``revenue_vs_myerson``)


def _value(m: Mapping[str, Any], key: str) -> float:
    return float(m[key]["value"])


def _ci(m: Mapping[str, Any], key: str) -> tuple[float, float]:
    ci = m[key].get("ci")
    return (float(ci[0]), float(ci[1])) if ci else (math.nan, math.nan)


def row_from_report(payload: Mapping[str, Any], mechanism: str) -> dict[str, Any]:
    """One table row from one evaluation payload (pipeline_lib.single_item.evaluation.family_report.report)."""
    record = read_record(payload, f"evaluation of {mechanism}")
    m = payload["metrics"]
    row: dict[str, Any] = {"mechanism": mechanism, "n_seeds": 1, "ci_method": "bootstrap over test profiles"}
    for key in (
        "regret_mean",
        "regret_sum",
        "regret_p99",
        "welfare_ratio",
        "ir_violation_rate",
        "winner_accuracy",
        "regret_share",
    ):
        row[key] = _value(m, key)
    for key in CI_KEYS:
        row[f"{key}_ci_lo"], row[f"{key}_ci_hi"] = _ci(m, key)
    if "revenue_vs_myerson" in m:  # paired with Myerson on the same profiles (independent families)
        row[PAIRED_KEY] = _value(m, "revenue_vs_myerson")
        row[f"{PAIRED_KEY}_ci_lo"], row[f"{PAIRED_KEY}_ci_hi"] = _ci(m, "revenue_vs_myerson")
    else:
        row[PAIRED_KEY] = row[f"{PAIRED_KEY}_ci_lo"] = row[f"{PAIRED_KEY}_ci_hi"] = math.nan
    row["revenue"] = record.revenue
    row["regret_max"] = _value(m, "regret_max")
    row["revenue_se"] = record.revenue_se
    row["n_profiles"] = record.n_profiles
    row["flag"] = payload.get("flag", "")
    row["above_optimum"] = payload.get("above_optimum")  # paired test on the test profiles (optimum_check)
    row["obtained"] = obtained(payload.get("training") or {}, mechanism)
    return row


def obtained(training: Mapping[str, Any], mechanism: str) -> str:
    """How a learned row was started and selected, from its model's training record ("" for baselines)."""
    cfg = training.get("config") or {}
    if mechanism.startswith("regretnet"):
        start = training.get("start") or {}
        teacher = start.get("teacher")
        origin = "distilled from the MyersonNet of its seed (learned" if teacher == "myersonnet" else "fresh net"
        if teacher == "myersonnet":
            deployment = start.get("teacher_deployment")
            origin += f"; its {deployment} deployment)" if deployment else ")"
        budget, it = cfg.get("regret_budget"), training.get("deployed_iteration")
        deployed = "" if it is None else f" (iteration {it}{', the start' if it == 0 else ''})"
        if not budget:
            return origin
        return f"start: {origin}; deployed: best val. revenue at val. regret <= {budget:g}{deployed}"
    if mechanism.startswith("myersonnet"):
        return "trained on samples; deployed: best val. revenue"
    if mechanism.startswith("learned"):
        return (
            "the report's method: phase 1 imitates Myerson's auction where known (reads the optimum), "
            "phase 2 and its sweep on val."
        )
    return ""


def aggregate_seeds(rows: Sequence[dict[str, Any]], mechanism: str) -> dict[str, Any]:
    """Mean over seeds; t-interval over seeds when there are at least two; flagged if any seed is flagged."""
    if len(rows) == 1:
        return {**rows[0], "mechanism": mechanism}
    k = len(rows)
    method = f"wider of Student t over {k} seeds and the mean per-seed bootstrap interval"
    out: dict[str, Any] = {"mechanism": mechanism, "n_seeds": k, "ci_method": method}
    t = float(stats.t.ppf(0.975, k - 1))
    for key in rows[0]:
        if key in ("mechanism", "n_seeds", "ci_method", "flag", "above_optimum", "obtained") or key.endswith(
            ("_ci_lo", "_ci_hi")
        ):
            continue
        vals = np.array([r[key] for r in rows], float)
        out[key] = float(vals.max()) if key == "regret_max" else float(vals.mean())
        if key in (*CI_KEYS, PAIRED_KEY):
            half = t * float(vals.std(ddof=1)) / math.sqrt(k)
            boot_lo = float(np.mean([r[f"{key}_ci_lo"] for r in rows]))
            boot_hi = float(np.mean([r[f"{key}_ci_hi"] for r in rows]))
            out[f"{key}_ci_lo"] = min(out[key] - half, boot_lo)
            out[f"{key}_ci_hi"] = max(out[key] + half, boot_hi)
    verdicts = [r.get("above_optimum") for r in rows]
    out["above_optimum"] = None if any(v is None for v in verdicts) else sum(bool(v) for v in verdicts)
    out["obtained"] = rows[0].get("obtained", "")
    flagged = sum(bool(r.get("flag")) for r in rows)
    out["flag"] = f"{FLAG} ({flagged} of {k} seeds)" if flagged else ""
    return out


def family_rows(
    family: str,
    distribution: str,
    n_bidders: int,
    learned: Mapping[str, Sequence[Mapping[str, Any]]],
    baselines: Sequence[Mapping[str, Any]],
    params: Mapping[str, Any] | None = None,
) -> list[dict[str, Any]]:
    """All rows of one family, in table order, with the optimum (or the DSIC reference), its share and the
    report's figures where ``params`` (the family's distribution parameters) are the report's setting
    (:func:`report_figures`). ``learned`` maps a learned method's key to its per-seed records (a record's ``hardened``
    sub-record is the argmax deployment of the same network, its ``softmax`` one MyersonNet's softmax deployment:
    rows of their own, see :data:`SECOND`)."""
    rows: list[dict[str, Any]] = []
    for method, payloads in learned.items():
        if not payloads:
            continue
        parent = aggregate_seeds([row_from_report(p, method) for p in payloads], method)
        rows.append(parent)
        for deployment, field in SECOND.items():
            subs = [p[field] for p in payloads if field in p]
            if subs:
                key = subs[0].get("method", f"{method}_{deployment}")
                # a second deployment of the same networks: obtained as they were
                rows.append(
                    {**aggregate_seeds([row_from_report(p, key) for p in subs], key), "obtained": parent["obtained"]}
                )
    rows += [row_from_report(p, p.get("method", p.get("baseline", "?"))) for p in baselines]
    payloads = [p for group in learned.values() for p in group] + list(baselines)
    optimum = next((p["optimum"] for p in payloads if p.get("optimum") is not None), None)
    reference, source = optimum, "Myerson optimum"
    if optimum is None:  # no known optimum (correlated values): the best DSIC mechanism we have is the reference
        dsic = [r for r in rows if methods.METHODS.get(r["mechanism"]) and methods.method(r["mechanism"]).dsic]
        if dsic:
            top = max(dsic, key=lambda r: r["revenue"])
            reference, source = top["revenue"], f"best DSIC: {methods.label(top['mechanism'])}"
    report = report_figures(distribution, n_bidders, params)
    for row in rows:
        row["family"] = family
        row["label"] = methods.label(row["mechanism"])
        row["optimum"] = reference
        row["optimum_source"] = source if reference is not None else ""
        row["share_of_optimum"] = row["revenue"] / reference if reference else None
        rep = report.get(row["mechanism"])
        row["report_revenue"], row["report_regret"], row["report_efficiency"] = rep if rep else (None, None, None)
        entry = methods.METHODS.get(row["mechanism"])
        if entry is None or entry.category != "Learned":
            row["flag"] = ""  # truthful baselines: the ceiling check is for learned mechanisms
    rank = methods.order("single_item")
    return sorted(rows, key=lambda r: rank.get(r["mechanism"], len(rank)))


COLUMNS = [
    "family",
    "mechanism",
    "label",
    "n_seeds",
    "n_profiles",
    "revenue",
    "revenue_ci_lo",
    "revenue_ci_hi",
    "revenue_se",
    "optimum",
    "optimum_source",
    "share_of_optimum",
    "vs_myerson",
    "vs_myerson_ci_lo",
    "vs_myerson_ci_hi",
    "regret_mean",
    "regret_mean_ci_lo",
    "regret_mean_ci_hi",
    "regret_sum",
    "regret_p99",
    "regret_p99_ci_lo",
    "regret_p99_ci_hi",
    "regret_max",
    "regret_share",
    "ir_violation_rate",
    "welfare_ratio",
    "welfare_ratio_ci_lo",
    "welfare_ratio_ci_hi",
    "winner_accuracy",
    "above_optimum",
    "obtained",
    "flag",
    "ci_method",
    "report_revenue",
    "report_regret",
    "report_efficiency",
]


def build_table(families: Mapping[str, Mapping[str, Any]]) -> pd.DataFrame:
    """``families``: name -> {"distribution", "n_bidders", "learned": {method: [records]}, "baselines": [records],
    and the family's distribution parameters (low, high, mean, ...)}."""
    rows: list[dict[str, Any]] = []
    for family, spec in families.items():
        learned, baselines = spec.get("learned", []), spec.get("baselines", [])
        params = {k: v for k, v in spec.items() if k not in LAYOUT_KEYS}
        rows += family_rows(family, spec["distribution"], int(spec["n_bidders"]), learned, baselines, params)
    return pd.DataFrame(rows, columns=COLUMNS)


# --------------------------------------------------------------------------------------------------------------
# Rendering
# --------------------------------------------------------------------------------------------------------------
def _f(x: Any, digits: int = 4) -> str:
    if x is None or (isinstance(x, float) and not math.isfinite(x)):
        return "-"
    return f"{x:.{digits}f}"


def _with_ci(r: pd.Series, key: str, digits: int = 4, fmt: Callable[[Any], str] | None = None) -> str:
    """``value [lo, hi]`` in ``fmt`` (default: ``digits`` decimals); the value alone where the CI is missing."""
    fmt = fmt or (lambda x: _f(x, digits))
    lo, hi = r.get(f"{key}_ci_lo"), r.get(f"{key}_ci_hi")
    if lo is None or hi is None or not (math.isfinite(float(lo)) and math.isfinite(float(hi))):
        return fmt(r[key])
    return f"{fmt(r[key])} [{fmt(lo)}, {fmt(hi)}]"


def _pct(x: Any) -> str:
    return "-" if x is None or not math.isfinite(float(x)) else f"{100 * float(x):.1f}%"


def _above_cell(r: pd.Series) -> str:
    """ "no", "yes" (one seed) or "yes (k of K seeds)"; "-" where no optimum is known."""
    v = r.get("above_optimum")
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "-"
    k, seeds = int(v), int(r["n_seeds"])
    if k == 0:
        return "no"
    return "yes" if seeds == 1 else f"yes ({k} of {seeds} seeds)"


def _report_cell(r: pd.Series) -> str:
    if r["report_revenue"] is None or (isinstance(r["report_revenue"], float) and math.isnan(r["report_revenue"])):
        return "-"
    eff = r["report_efficiency"]
    eff_s = "-" if eff is None or (isinstance(eff, float) and math.isnan(eff)) else f"{eff:.1f}%"
    return f"{r['report_revenue']:.3f} / {r['report_regret']:.3f} / {eff_s}"


HEADERS = [
    "Mechanism",
    "Revenue [95% CI]",
    "Optimum",
    "Share of opt.",
    "vs Myerson, same profiles [95% CI]",
    "Above opt. beyond noise",
    "Regret mean [95% CI]",
    "Regret p99",
    "Regret max",
    "IR viol.",
    "Welfare ratio [95% CI]",
    "Report: rev / regret / eff.",
    "Note",
]


def _cells(r: pd.Series) -> list[str]:
    return [
        str(r["label"]) + (f" ({int(r['n_seeds'])} seeds)" if int(r["n_seeds"]) > 1 else ""),
        _with_ci(r, "revenue"),
        _f(r["optimum"]),
        _pct(r["share_of_optimum"]),
        _with_ci(r, PAIRED_KEY, fmt=_pct),
        _above_cell(r),
        _with_ci(r, "regret_mean", 5),
        _f(r["regret_p99"], 5),
        _f(r["regret_max"], 5),
        _pct(r["ir_violation_rate"]),
        _with_ci(r, "welfare_ratio"),
        _report_cell(r),
        str(r["flag"] or ""),
    ]


NOTES = (
    "Regret: per-bidder ex-post regret max(0, sup_b' u_i(b') - u_i(v_i)), u_i = a_i v_i - p_i, searched on a grid "
    "over the whole misreport support plus the other bids +- eps (and gradient refinement for learned "
    "mechanisms); mean = per bidder, p99/max = of the per-profile sum over bidders. Welfare ratio = "
    "E[sum a_i v_i] / E[max v]. vs Myerson: mean revenue / mean revenue of Myerson's auction on the same test "
    "profiles, with a paired bootstrap CI (free of the test set's sampling noise, which the share of the "
    "closed-form optimum carries; independent families only). Above opt. beyond noise: the paired test on the "
    "test profiles, mean revenue excess over Myerson's auction > 2 paired standard errors (no truthful mechanism "
    "can beat the optimum, so 'yes' means regret bought revenue; '-': no known optimum). The optimum is read by "
    "this evaluation only: no learned row's start, training, selection, sweep or stopping uses it. Report columns: "
    "the report's Table 1 (its regret metric and 'efficiency' are defective, docs/methods.md#the-reports-defects; "
    "its 'Myerson' always sells, 0.643/1.286)."
)


def obtained_lines(table: pd.DataFrame) -> list[str]:
    """One line per learned mechanism: how its rows were started and selected (from the models' records)."""
    seen: dict[str, str] = {}
    for _, r in table.iterrows():
        if r.get("obtained") and r["label"] not in seen:
            seen[str(r["label"])] = str(r["obtained"])
    return [f"- {label}: {how}" for label, how in seen.items()]


def to_markdown(table: pd.DataFrame, title: str = "Table 1: single-item mechanisms on the held-out test set") -> str:
    lines = [f"# {title}", ""]
    for family, block in table.groupby("family", sort=False):
        n_prof = int(block["n_profiles"].max())
        lines += [
            f"## {family} ({n_prof} test profiles)"
            + (f"; reference = {block['optimum_source'].iloc[0]}" if block["optimum_source"].iloc[0] else ""),
            "",
            "| " + " | ".join(HEADERS) + " |",
            "|" + "|".join(["---"] * len(HEADERS)) + "|",
        ]
        lines += ["| " + " | ".join(_cells(r)) + " |" for _, r in block.iterrows()]
        lines.append("")
    how = obtained_lines(table)
    if how:
        lines += ["How the learned rows were obtained (every choice on the training and validation splits):", *how, ""]
    lines += [NOTES, ""]
    return "\n".join(lines)


def _tex(s: str) -> str:
    for a, b in (("\\", r"\textbackslash{}"), ("&", r"\&"), ("%", r"\%"), ("_", r"\_"), ("#", r"\#")):
        s = s.replace(a, b)
    return s


def to_latex(table: pd.DataFrame) -> str:
    cols = [
        "Mechanism",
        "Revenue",
        "95\\% CI",
        "Share",
        "vs Myerson",
        "Above opt.",
        "Regret",
        "p99",
        "max",
        "Welfare",
        "Report rev.",
        "Note",
    ]
    out = [r"\begin{tabular}{l" + "r" * (len(cols) - 2) + "l}", r"\toprule", " & ".join(cols) + r" \\", r"\midrule"]
    for family, block in table.groupby("family", sort=False):
        opt = block["optimum"].iloc[0]
        src = block["optimum_source"].iloc[0] or "optimum"
        head = f"{_tex(str(family))}" + (f" ({_tex(src)} {opt:.4f})" if opt is not None and math.isfinite(opt) else "")
        out.append(r"\multicolumn{" + str(len(cols)) + r"}{l}{\textit{" + head + r"}} \\")
        for _, r in block.iterrows():
            ci = f"[{_f(r['revenue_ci_lo'])}, {_f(r['revenue_ci_hi'])}]"
            rep = "-" if r["report_revenue"] is None or pd.isna(r["report_revenue"]) else f"{r['report_revenue']:.3f}"
            out.append(
                " & ".join(
                    [
                        _tex(str(r["label"])),
                        _f(r["revenue"]),
                        ci,
                        _tex(_pct(r["share_of_optimum"])),
                        _tex(_pct(r[PAIRED_KEY])),
                        _above_cell(r),
                        _f(r["regret_mean"], 5),
                        _f(r["regret_p99"], 5),
                        _f(r["regret_max"], 5),
                        _f(r["welfare_ratio"]),
                        rep,
                        _tex(str(r["flag"] or "")),
                    ]
                )
                + r" \\"
            )
        out.append(r"\midrule")
    out[-1] = r"\bottomrule"
    out.append(r"\end{tabular}")
    return "\n".join(out) + "\n"


def render(table: pd.DataFrame) -> tuple[str, str, str]:
    """Table 1 as CSV, Markdown and LaTeX text."""
    return table.to_csv(index=False), to_markdown(table), to_latex(table)
