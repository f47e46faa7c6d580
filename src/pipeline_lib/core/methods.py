"""THE registry of mechanisms: every method, baseline and learned mechanism of both studies, by key.

Adding a mechanism is one entry here plus its code: the workflow takes the rule that produces it (``runner``), the
settings it applies to (``skip_distributions``) and its wildcard values from here, and the tables take its label,
row order, category and flags from here. Torch-free: the workflow reads it while it parses the DAG.

Rows are in table order (Table 2 of the ZFO-VVCA paper first, then Table 1 of the single-item report).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Method:
    """One mechanism.

    ``study``: ``combinatorial`` (Table 2) or ``single_item`` (Table 1). ``runner``: the rule whose output holds
    its metrics. ``category``: its block in the table. ``dsic``: truthful by construction (or by theorem);
    ``approximate``: a re-implementation whose internals the source does not give. ``skip_distributions``: valuation
    distributions it does not apply to (the paper reports "-" there). ``enumerates_allocations``: it lists all
    (n+1)^m deterministic allocations, so it runs only where that count is at most ``combinatorial.ama.max_outcomes``
    (:func:`skip_reason`).
    """

    key: str
    label: str
    study: str
    runner: str
    category: str
    dsic: bool = True
    approximate: bool = False
    skip_distributions: tuple[str, ...] = ()
    enumerates_allocations: bool = False


_METHODS = (
    # Table 2 (combinatorial), in the paper's row order
    Method("lottery_ama", "Lottery AMA", "combinatorial", "randomized_run", "Randomized", skip_distributions=("D",)),
    Method("amenunet", "AMenuNet", "combinatorial", "randomized_run", "Randomized", skip_distributions=("D",)),
    Method("vcg", "VCG", "combinatorial", "combinatorial_baseline", "Deterministic"),
    Method(
        "item_myerson",
        "Item-Myerson",
        "combinatorial",
        "combinatorial_baseline",
        "Deterministic",
        skip_distributions=("D",),
    ),  # fmt: skip
    Method("bbbvvca", "BBBVVCA (approx.)", "combinatorial", "zfo_run", "Deterministic", approximate=True),
    Method("fo_vvca", "FO-VVCA", "combinatorial", "zfo_run", "Deterministic"),
    Method("zfo_vvca", "ZFO-VVCA", "combinatorial", "zfo_run", "Deterministic"),
    # beyond the paper (docs/methods.md#zfo-vvca-plus): rows of our own, the paper's rows unchanged
    Method("bundle_myerson", "Grand-bundle Myerson", "combinatorial", "combinatorial_baseline", "Deterministic (ours)"),
    Method("zfo_vvca_plus", "ZFO-VVCA+ (best start)", "combinatorial", "zfo_run", "Deterministic (ours)"),
    # beyond VVCA (issue 31; docs/methods.md "Deterministic AMA over every allocation")
    Method(
        "zfo_ama_sym",
        "Deterministic AMA, bundle-symmetric (ZFO)",
        "combinatorial",
        "ama_run",
        "Deterministic (ours)",
        enumerates_allocations=True,
    ),  # fmt: skip
    Method(
        "zfo_ama",
        "Deterministic AMA, every allocation (ZFO)",
        "combinatorial",
        "ama_run",
        "Deterministic (ours)",
        enumerates_allocations=True,
    ),  # fmt: skip
    # Table 1 (single item), in row order
    Method("learned", "Report's net (soft, as trained)", "single_item", "single_item_evaluate", "Learned", dsic=False),
    Method(
        "learned_hard",
        "Report's net (argmax allocation)",
        "single_item",
        "single_item_evaluate",
        "Learned",
        dsic=False,
    ),  # fmt: skip
    Method(
        "regretnet",
        "RegretNet (soft, as trained)",
        "single_item",
        "single_item_learned_evaluate",
        "Learned",
        dsic=False,
    ),  # fmt: skip
    Method(
        "regretnet_hard",
        "RegretNet (argmax allocation)",
        "single_item",
        "single_item_learned_evaluate",
        "Learned",
        dsic=False,
    ),  # fmt: skip
    Method("myersonnet", "MyersonNet (exactly DSIC)", "single_item", "single_item_learned_evaluate", "Learned"),
    Method(
        "myersonnet_softmax",
        "MyersonNet, softmax + envelope payments (exactly DSIC, irons)",
        "single_item",
        "single_item_learned_evaluate",
        "Learned",
    ),  # fmt: skip
    Method("myerson", "Myerson (correct, ironed where needed)", "single_item", "single_item_baseline", "Baseline"),
    Method("vvca_zfo", "VVCA, one item (ZFO)", "single_item", "single_item_baseline", "Baseline"),
    Method(
        "vickrey_fitted_reserve",
        "Vickrey + fitted anonymous reserve",
        "single_item",
        "single_item_baseline",
        "Baseline",
    ),
    Method("vickrey", "Vickrey", "single_item", "single_item_baseline", "Baseline"),
    Method("vickrey_r1", "Vickrey + reserve r = 1 (report's)", "single_item", "single_item_baseline", "Baseline"),
)
METHODS: dict[str, Method] = {m.key: m for m in _METHODS}


def method(key: str) -> Method:
    """The registry entry of ``key`` (a clear error listing the known keys otherwise)."""
    try:
        return METHODS[key]
    except KeyError:
        raise KeyError(
            f"unknown method {key!r}; the registry (pipeline_lib.core.methods) knows {list(METHODS)}"
        ) from None


def keys(*, study: str | None = None, runner: str | None = None) -> tuple[str, ...]:
    """Method keys in table order, optionally of one study and/or one runner (rule)."""
    return tuple(
        m.key for m in _METHODS if (study is None or m.study == study) and (runner is None or m.runner == runner)
    )


def label(key: str) -> str:
    """Display name (unknown keys are shown as they are)."""
    return METHODS[key].label if key in METHODS else key


def applies_to(key: str, distribution: str) -> bool:
    """Whether method ``key`` is run on a setting with valuation ``distribution``."""
    return distribution not in method(key).skip_distributions


def skip_reason(key: str, distribution: str, n: int, m: int, max_outcomes: int) -> str | None:
    """Why method ``key`` is not run on an n x m setting with valuation ``distribution`` (None: it is run): a
    distribution it does not apply to, or more than ``max_outcomes`` allocations for a method that lists them all."""
    if not applies_to(key, distribution):
        return f"not defined for ({distribution})"
    if method(key).enumerates_allocations and (n + 1) ** m > max_outcomes:
        return f"(n+1)^m = {(n + 1) ** m:,} allocations > combinatorial.ama.max_outcomes = {max_outcomes:,}"
    return None


def order(study: str) -> dict[str, int]:
    """Row rank of every method of ``study`` (for sorting table rows)."""
    return {key: i for i, key in enumerate(keys(study=study))}
