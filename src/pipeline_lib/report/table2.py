"""Table 2(a)/(b) of the ZFO-VVCA paper from the pipeline's result files: long CSV, wide Markdown and LaTeX.

Inputs are read generically: any ``results/combinatorial/{setting}/{method}/seed{seed}/metrics.json`` (ZFO-,
FO-, BBBVVCA, Lottery AMA, AMenuNet, ... following the metrics contract: ``setting``, ``method``, ``seed``,
``test_revenue.mean``) and the deterministic baselines ``results/baselines/{setting}/{vcg,item_myerson}.json``.
For every (method, setting) the table reports the mean and the sample standard deviation (ddof = 1) of the test
revenue over seeds, the number of seeds, and the paper's value beside it (docs/methods.md#table-2-and-figures).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import pandas as pd

from pipeline_lib.core import methods
from pipeline_lib.core.records import read_record
from pipeline_lib.report.paper_values import (
    APPROXIMATE_FOOTNOTE,
    ITEM_MYERSON_FOOTNOTE,
    paper_value,
)

LONG_COLUMNS = (
    "table", "category", "method", "label", "setting", "revenue_mean", "revenue_std", "n_seeds",
    "paper_value", "diff_vs_paper", "approximate", "reduced_budget", "skip_reason", "budget", "stalled",
)  # fmt: skip
FOOTNOTE_MARKS = {"item_myerson": "a", "approximate": "b", "reduced_budget": "c", "skipped": "d", "stalled": "e"}
STALL_GAP = 0.05  # a seed whose validation revenue is this fraction below its row's best seed's is called stalled
STALLED_FOOTNOTE = (
    f"A seed whose validation revenue is more than {STALL_GAP:.0%} below that of its row's best seed: a run stalled "
    "in a poor local optimum, kept in the mean and std (a method's `restarts` trains several starts per seed and "
    "keeps the best on validation)."
)
REDUCED_FOOTNOTE = (
    "Trained at a reduced budget (fewer steps and/or a smaller candidate menu than the paper; see the run's "
    "config in its metrics.json), so below what the method reaches at the paper's budget."
)


def records_frame(
    payloads: Iterable[tuple[str, Mapping[str, Any]]], table3: Mapping[str, Mapping[str, Any]] | None = None
) -> pd.DataFrame:
    """One row per metrics record (:mod:`pipeline_lib.core.records`): setting, method, seed, revenue, approximate.

    ``payloads`` are (source name, record) pairs; the source names the file in errors. ``table3`` ({setting:
    {iterations, batch_size}}, the paper's Table 3) marks an Algorithm 3 run (VVCA or AMA) trained with fewer
    iterations or smaller batches than the paper as reduced, like a randomized run's own ``reduced_budget``.
    """
    rows = []
    for source, payload in payloads:
        rec = read_record(payload, source)
        reduced = bool(payload.get("reduced_budget", False))
        budget = training_budget(payload)
        below = algorithm3_budget(payload, (table3 or {}).get(rec.setting))
        if below is not None:
            reduced, budget = True, below
        rows.append({
            "setting": rec.setting, "method": rec.method, "seed": rec.seed, "revenue": rec.revenue,
            "approximate": rec.approximate, "reduced_budget": reduced, "budget": budget,
            "val_revenue": deployed_val_revenue(payload),
        })  # fmt: skip
    columns = ["setting", "method", "seed", "revenue", "approximate", "reduced_budget", "budget", "val_revenue"]
    return pd.DataFrame(rows, columns=columns)


def deployed_val_revenue(payload: Mapping[str, Any]) -> float:
    """The validation revenue of the parameters a run deployed: an Algorithm 3 run selected on validation
    (``config.selection`` best_val) records it as ``best_val_revenue`` (its ``val_revenue`` is the last iterate's);
    a randomized run's ``val_revenue`` is its selected menu's. NaN where the record has none."""
    config = payload.get("config")
    selected = isinstance(config, Mapping) and config.get("selection") == "best_val"
    value = payload.get("best_val_revenue") if selected else payload.get("val_revenue")
    return math.nan if value is None else float(value)


def algorithm3_budget(payload: Mapping[str, Any], paper: Mapping[str, Any] | None) -> str | None:
    """ "I of Table 3's I0 iterations" (with the batches where they differ) where an Algorithm 3 run's record (its
    ``config``: iterations, batch_size) is below the paper's Table 3 budget ``paper`` of its setting; None where it
    is not, or where the record is no such run."""
    config = payload.get("config")
    if paper is None or not isinstance(config, Mapping) or "iterations" not in config or "steps" in config:
        return None
    its, batch = int(config["iterations"]), int(config["batch_size"])
    paper_its, paper_batch = int(paper["iterations"]), int(paper["batch_size"])
    if its >= paper_its and batch >= paper_batch:
        return None
    if batch == paper_batch:
        return f"{its:,} of Table 3's {paper_its:,} iterations"
    return f"{its:,} iterations of {batch:,} profiles (Table 3: {paper_its:,} of {paper_batch:,})"


def training_budget(payload: Mapping[str, Any]) -> str | None:
    """'S steps of B profiles, menu K' of a randomized run's record (its ``config``), with ', best of R starts on
    validation' where it trained R > 1 initialisations; None for other records."""
    config = payload.get("config")
    if not isinstance(config, Mapping) or "menu_size" not in config:
        return None
    steps, batch, menu = (int(config[k]) for k in ("steps", "batch_size", "menu_size"))
    budget = f"{steps:,} steps of {batch:,} profiles, menu {menu}"
    restarts = int(config.get("restarts", 1))
    return budget + (f", best of {restarts} starts on validation" if restarts > 1 else "")


def _label(method: str) -> tuple[str, str]:
    entry = methods.METHODS.get(method)
    return (entry.label, entry.category) if entry else (method, "Other")


def summarise(
    records: pd.DataFrame,
    table: str,
    settings: Sequence[str],
    skipped: Mapping[str, Mapping[str, str]] | None = None,
) -> pd.DataFrame:
    """Long table: one row per (method, setting) of ``settings`` with mean, std over seeds, seeds, paper value;
    and one row per (method, setting) of ``skipped`` ({method: {setting: reason}}: not run, the reason shown)."""
    order = methods.order("combinatorial")
    rows = []
    subset = records[records["setting"].isin(settings)]
    for (method, setting), group in subset.groupby(["method", "setting"], sort=False):
        values = group["revenue"].astype(float)
        mean = float(values.mean())
        std = float(values.std(ddof=1)) if len(values) > 1 else math.nan
        paper = paper_value(method, setting)
        label, category = _label(method)
        rows.append({
            "table": table, "category": category, "method": method, "label": label, "setting": setting,
            "revenue_mean": mean, "revenue_std": std, "n_seeds": int(len(values)),
            "paper_value": math.nan if paper is None else paper,
            "diff_vs_paper": math.nan if paper is None else mean - paper,
            "approximate": bool(group["approximate"].any()),
            "reduced_budget": bool(group["reduced_budget"].any()), "skip_reason": None,
            "budget": "; ".join(sorted(set(group["budget"].dropna()))) if "budget" in group else "",
            "stalled": stalled_seeds(group),
        })  # fmt: skip
    for method, reasons in (skipped or {}).items():
        label, category = _label(method)
        for setting, reason in reasons.items():
            if setting in settings:
                rows.append({
                    "table": table, "category": category, "method": method, "label": label, "setting": setting,
                    "revenue_mean": math.nan, "revenue_std": math.nan, "n_seeds": 0, "paper_value": math.nan,
                    "diff_vs_paper": math.nan, "approximate": False, "reduced_budget": False, "skip_reason": reason,
                    "budget": "", "stalled": "",
                })  # fmt: skip
    out = pd.DataFrame(rows, columns=list(LONG_COLUMNS))
    out["_m"] = out["method"].map(lambda m: order.get(m, len(order)))
    out["_s"] = out["setting"].map({s: k for k, s in enumerate(settings)})
    return out.sort_values(["_m", "method", "_s"]).drop(columns=["_m", "_s"]).reset_index(drop=True)


def stalled_seeds(group: pd.DataFrame) -> str:
    """'seed k (v_k against v_best)' for each seed of one (method, setting) whose validation revenue is more than
    STALL_GAP below the best seed's; '' where none is, or fewer than two seeds recorded one (validation only: the
    test split decides nothing here)."""
    if "val_revenue" not in group:
        return ""
    val = group.dropna(subset=["val_revenue"])
    if len(val) < 2:
        return ""
    best = float(val["val_revenue"].max())
    low = val[val["val_revenue"] < (1.0 - STALL_GAP) * best].sort_values("seed")
    return ", ".join(f"seed {int(r.seed)} ({r.val_revenue:.4f} against {best:.4f})" for r in low.itertuples())


def setting_header(setting: str) -> str:
    """'2x2_A' -> '2x2(A)' as in the paper."""
    size, _, dist = setting.partition("_")
    return f"{size}({dist})" if dist else setting


def _fmt(value: float, digits: int = 4) -> str:
    return "-" if value is None or (isinstance(value, float) and math.isnan(value)) else f"{value:.{digits}f}"


def _ours(row: pd.Series) -> str:
    if isinstance(row["skip_reason"], str):
        return f"not run ({FOOTNOTE_MARKS['skipped']})"
    if math.isnan(row["revenue_std"]):
        return _fmt(row["revenue_mean"])
    return f"{_fmt(row['revenue_mean'])} ± {_fmt(row['revenue_std'])}"


def _row_label(label: str, marks: Sequence[str], latex: bool) -> str:
    if not marks:
        return label
    return f"{label}\\textsuperscript{{{','.join(marks)}}}" if latex else f"{label} ({', '.join(marks)})"


def _grid(long: pd.DataFrame, settings: Sequence[str]) -> tuple[list[str], list[tuple[str, str, list[str]]]]:
    """Settings present, and per method (in row order) its label and footnote marks."""
    present = [s for s in settings if s in set(long["setting"])]
    rows = []
    for method in dict.fromkeys(long["method"]):
        sub = long[long["method"] == method]
        marks = [FOOTNOTE_MARKS["item_myerson"]] if method == "item_myerson" else []
        marks += [FOOTNOTE_MARKS[k] for k in ("approximate", "reduced_budget") if bool(sub[k].any())]
        marks += [FOOTNOTE_MARKS["stalled"]] if bool((sub["stalled"].fillna("") != "").any()) else []
        rows.append((method, sub["label"].iloc[0], marks))
    return present, rows


def _cell(long: pd.DataFrame, method: str, setting: str) -> tuple[str, str]:
    hit = long[(long["method"] == method) & (long["setting"] == setting)]
    paper = paper_value(method, setting)
    ours = "-" if hit.empty else _ours(hit.iloc[0])
    return ours, _fmt(paper)


def footnotes(long: pd.DataFrame) -> list[str]:
    notes = ["Mean ± standard deviation of the test revenue over seeds (no ± with one seed); paper = the value "
             "reported in the paper; '-' = not run / not reported."]  # fmt: skip
    if (long["method"] == "item_myerson").any():
        notes.append(f"({FOOTNOTE_MARKS['item_myerson']}) {ITEM_MYERSON_FOOTNOTE}")
    if long["approximate"].any():
        notes.append(f"({FOOTNOTE_MARKS['approximate']}) {APPROXIMATE_FOOTNOTE}")
    if long["reduced_budget"].any():
        reduced = long[long["reduced_budget"] & (long["budget"] != "")]
        groups: dict[tuple[str, str], list[str]] = {}  # (row, budget) -> settings, so each budget is stated once
        for label, setting, budget in zip(reduced["label"], reduced["setting"], reduced["budget"], strict=True):
            groups.setdefault((label, budget), []).append(setting_header(setting))
        budgets = "; ".join(f"{label}: {budget} ({', '.join(where)})" for (label, budget), where in groups.items())
        notes.append(
            f"({FOOTNOTE_MARKS['reduced_budget']}) {REDUCED_FOOTNOTE}" + (f" Budgets: {budgets}." if budgets else "")
        )
    skipped = long[long["skip_reason"].map(lambda r: isinstance(r, str))]
    if not skipped.empty:
        reasons = "; ".join(f"{r.label} on {setting_header(r.setting)}: {r.skip_reason}" for r in skipped.itertuples())
        notes.append(f"({FOOTNOTE_MARKS['skipped']}) Not run: {reasons}.")
    stalled = long[long["stalled"].fillna("") != ""]
    if not stalled.empty:
        where = "; ".join(f"{r.label} on {setting_header(r.setting)}: {r.stalled}" for r in stalled.itertuples())
        notes.append(f"({FOOTNOTE_MARKS['stalled']}) {STALLED_FOOTNOTE} {where}.")
    return notes


def to_markdown(long: pd.DataFrame, settings: Sequence[str], title: str) -> str:
    """Wide Markdown: one row per method, an 'ours' and a 'paper' column per setting."""
    present, methods = _grid(long, settings)
    head = ["Category", "Method"]
    for s in present:
        head += [f"{setting_header(s)} ours", f"{setting_header(s)} paper"]
    lines = [f"**{title}**", "", "| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for method, label, approx in methods:
        cells = [_label(method)[1], _row_label(label, approx, latex=False)]
        for s in present:
            cells += list(_cell(long, method, s))
        lines.append("| " + " | ".join(cells) + " |")
    lines.append("")
    lines += [f"{note}  " for note in footnotes(long)]
    return "\n".join(lines) + "\n"


def _tex_escape(text: str) -> str:
    return text.replace("&", r"\&").replace("%", r"\%").replace("_", r"\_").replace("±", r"$\pm$")


def to_latex(long: pd.DataFrame, settings: Sequence[str], caption: str, label: str) -> str:
    """Wide LaTeX (booktabs): methods by settings, each setting an 'ours' / 'paper' column pair."""
    present, methods = _grid(long, settings)
    cols = "ll" + "rr" * len(present)
    top = " & ".join(["", ""] + [rf"\multicolumn{{2}}{{c}}{{{setting_header(s)}}}" for s in present])
    rules = "".join(rf"\cmidrule(lr){{{3 + 2 * k}-{4 + 2 * k}}}" for k in range(len(present)))
    sub = " & ".join(["Category", "Method"] + ["ours", "paper"] * len(present))
    body = []
    for method, lab, approx in methods:
        cells = [_label(method)[1], _row_label(_tex_escape(lab), approx, latex=True)]
        for s in present:
            cells += [_tex_escape(c) for c in _cell(long, method, s)]
        body.append(" & ".join(cells) + r" \\")
    notes = " ".join(_tex_escape(n) for n in footnotes(long))
    return "\n".join([
        r"\begin{table}[t]", r"\centering", r"\small", rf"\caption{{{_tex_escape(caption)}}}", rf"\label{{{label}}}",
        rf"\begin{{tabular}}{{{cols}}}", r"\toprule", top + r" \\", rules, sub + r" \\", r"\midrule", *body,
        r"\bottomrule", r"\end{tabular}", "", rf"\par\footnotesize {notes}", r"\end{table}", "",
    ])  # fmt: skip


TITLES = {
    "table2a": "Table 2(a): revenue in the smaller settings",
    "table2b": "Table 2(b): revenue in the larger settings",
}


def render(long: pd.DataFrame, table: str, settings: Sequence[str]) -> tuple[str, str, str]:
    """One of Table 2(a)/(b) as CSV (long), Markdown and LaTeX (wide) text."""
    title = TITLES.get(table, table)
    csv = long.to_csv(index=False, float_format="%.6f")
    return csv, to_markdown(long, settings, title), to_latex(long, settings, title, f"tab:{table}")
