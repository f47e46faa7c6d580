"""Reported numbers of the ZFO-VVCA paper (Duan et al. 2024, arXiv 2402.11904 v1), Table 2(a) and 2(b).

Copied verbatim from the paper's Table 2 (arXiv 2402.11904 v1); ``None`` where the paper reports "-" (the (D)
columns have no randomized or Item-Myerson numbers). These are the source's numbers, not ground truth: its
asymmetric Item-Myerson values lie below VCG, which exact per-item Myerson cannot (docs/methods.md#paper-defects).
"""

from __future__ import annotations

TABLE2A_SETTINGS = ("2x2_A", "2x2_D", "2x5_A", "2x5_C", "5x3_C", "5x3_B")
TABLE2B_SETTINGS = ("3x10_A", "3x10_D", "5x10_A", "3x10_B", "5x10_B", "5x10_C")
TABLES = {"table2a": TABLE2A_SETTINGS, "table2b": TABLE2B_SETTINGS}

BASELINES = ("vcg", "item_myerson")

_ROWS_A = {  # 2x2_A, 2x2_D, 2x5_A, 2x5_C, 5x3_C, 5x3_B
    "lottery_ama": (0.8680, None, 2.2354, 5.7001, 4.0195, 6.5904),
    "amenunet": (0.8618, None, 2.2768, 5.6512, 4.1919, 6.7743),
    "vcg": (0.6678, 2.4576, 1.6691, 3.8711, 3.7249, 6.0470),
    "item_myerson": (0.8330, None, 2.0755, 4.4380, 3.6918, 5.3909),
    "bbbvvca": (0.7781, 2.6111, 2.2576, 4.8174, 4.1879, 6.6118),
    "fo_vvca": (0.7836, 2.6205, 2.2638, 5.5536, 4.1906, 6.8783),
    "zfo_vvca": (0.8284, 2.6802, 2.2632, 5.6682, 4.3289, 7.0344),
}
_ROWS_B = {  # 3x10_A, 3x10_D, 5x10_A, 3x10_B, 5x10_B, 5x10_C
    "lottery_ama": (5.3450, None, 5.5435, 11.9814, 21.4092, 13.0961),
    "amenunet": (5.5986, None, 6.5210, 12.3419, 21.7912, 13.6266),
    "vcg": (5.0032, 15.6305, 6.6690, 8.9098, 20.1567, 12.4163),
    "item_myerson": (5.3141, None, 6.7132, 8.9110, 17.9697, 12.3060),
    "bbbvvca": (5.7647, 16.3504, 6.9765, 10.4955, 22.4459, 14.4585),
    "fo_vvca": (5.7876, 16.3786, 6.9880, 11.8093, 23.1346, 14.7078),
    "zfo_vvca": (5.8230, 16.3675, 6.9884, 12.5497, 24.3465, 14.8356),
}

PAPER_REVENUE: dict[tuple[str, str], float | None] = {
    (method, setting): value
    for rows, settings in ((_ROWS_A, TABLE2A_SETTINGS), (_ROWS_B, TABLE2B_SETTINGS))
    for method, values in rows.items()
    for setting, value in zip(settings, values, strict=True)
}

ITEM_MYERSON_FOOTNOTE = (
    "Item-Myerson is the exact per-item Myerson auction under the stated priors. The paper's Item-Myerson values "
    "in the asymmetric settings lie below VCG, which exact Myerson cannot (per item it is the revenue-optimal "
    "auction, and VCG sells each additive item by a second-price auction); so the paper's and our values differ "
    "there."
)
APPROXIMATE_FOOTNOTE = (
    "BBBVVCA is an approximate re-implementation (fixed-allocation gradient steps per bidder-bundle; the original "
    "update rule is not available)."
)


def paper_value(method: str, setting: str) -> float | None:
    """The paper's Table 2 revenue of ``method`` in ``setting`` (None where it reports '-' or is unknown)."""
    return PAPER_REVENUE.get((method, setting))


def table_of(setting: str) -> str | None:
    """'table2a' or 'table2b' for a setting of the paper, None for any other setting."""
    for name, settings in TABLES.items():
        if setting in settings:
            return name
    return None
