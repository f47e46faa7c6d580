"""Settings parsed from config: what a dataset is, independent of Snakemake.

A :class:`Setting` names one valuation distribution at one auction size. The single-item families
(``uniform``, ``exponential``, ...) have ``m = 1`` and value shape ``(n,)``; the combinatorial settings
(``2x2_A`` ... ``5x10_C``) have value shape ``(n, m)`` (additive A/B/C: item values) or ``(n, 2^m)`` (D: bundle
values). Seeds for every (setting, split) are derived from the config's base seed in :mod:`pipeline_lib.core.seeds`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from pipeline_lib.core.seeds import SPLITS

__all__ = ["SPLITS", "Setting", "all_settings", "combinatorial_settings", "single_item_settings", "split_size"]


@dataclass(frozen=True)
class Setting:
    """One valuation setting: name, n bidders, m items, distribution and its parameters."""

    name: str
    kind: str  # "single_item" or "combinatorial"
    n: int
    m: int
    distribution: str
    params: Mapping[str, Any] = field(default_factory=dict)

    @property
    def valuation(self) -> str:
        """Storage layout: ``single_item``, ``additive`` (item values) or ``bundle`` (bundle values)."""
        if self.kind == "single_item":
            return "single_item"
        return "bundle" if self.distribution == "D" else "additive"

    @property
    def value_shape(self) -> tuple[int, ...]:
        """Shape of one profile's stored values."""
        if self.valuation == "single_item":
            return (self.n,)
        if self.valuation == "additive":
            return (self.n, self.m)
        return (self.n, 2**self.m)


def _active(block: Mapping[str, Any], defined: Mapping[str, Any], key: str) -> list[str]:
    """Names listed in ``block["active"]`` (default: all defined ones); unknown names are an error."""
    active = block.get("active")
    if active is None:
        return list(defined)
    unknown = [name for name in active if name not in defined]
    if unknown:
        raise ValueError(f"config '{key}.active' names undefined settings {unknown}; defined: {sorted(defined)}")
    return list(active)


def family_bidders(name: str, family: Mapping[str, Any], default: int) -> int:
    """Bidders of a single-item family: its own ``n_bidders``, else the default; a ``per_bidder`` family has one per
    listed distribution (a contradicting ``n_bidders`` is an error naming the family)."""
    n = int(family.get("n_bidders", default))
    if family["distribution"] == "per_bidder":
        listed = len(family["bidders"])
        if "n_bidders" in family and n != listed:
            raise ValueError(f"single_item.families.{name}: n_bidders = {n} but bidders lists {listed} distributions")
        n = listed
    return n


def single_item_settings(config: Mapping[str, Any]) -> dict[str, Setting]:
    """Active single-item families from ``config["single_item"]``."""
    block = config.get("single_item", {})
    n = int(block.get("n_bidders", 4))
    families = block.get("families", {})
    out = {}
    for name in _active(block, families, "single_item"):
        params = families[name]
        out[name] = Setting(
            name, "single_item", family_bidders(name, params, n), 1, params["distribution"], dict(params)
        )
    return out


def combinatorial_settings(config: Mapping[str, Any]) -> dict[str, Setting]:
    """Active combinatorial settings from ``config["combinatorial"]``."""
    block = config.get("combinatorial", {})
    width_rule = block.get("d_width_rule", "size_over_m")
    defined = block.get("settings", {})
    out = {}
    for name in _active(block, defined, "combinatorial"):
        spec = defined[name]
        params: dict[str, Any] = {"distribution": spec["distribution"]}
        if spec["distribution"] == "D":
            params["width_rule"] = width_rule
        out[name] = Setting(name, "combinatorial", int(spec["n"]), int(spec["m"]), spec["distribution"], params)
    return out


def all_settings(config: Mapping[str, Any]) -> dict[str, Setting]:
    """Every setting of the config; names must be unique across the two kinds."""
    single, combi = single_item_settings(config), combinatorial_settings(config)
    clash = set(single) & set(combi)
    if clash:
        raise ValueError(f"setting names used twice (single_item.families and combinatorial.settings): {clash}")
    return {**single, **combi}


def split_size(config: Mapping[str, Any], setting: Setting, split: str) -> int:
    """Number of profiles of a split, from ``config["data"][kind][split]``."""
    return int(config["data"][setting.kind][split])
