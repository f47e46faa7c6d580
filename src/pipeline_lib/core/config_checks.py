"""Checks of the config that the JSON schema cannot express; run by the workflow right after schema validation.

Each raises :class:`ConfigError` naming the config key and what to change, before any job starts:

* a combinatorial setting's name ``{n}x{m}_{D}`` must agree with its ``n``, ``m`` and ``distribution`` (tables and
  figures compare a setting with the paper's setting of that name, e.g. 2x2(A));
* a figure's setting must be active (``fig1_settings`` entries, ``case_study.setting`` -- a 2x2 setting --,
  ``smoothing.setting``), unless the figure is switched off on purpose (``fig1_settings: []``, ``setting: null``)
  or no combinatorial setting is active at all; otherwise the figure would silently drop out of ``rule all``;
* every active setting that a listed randomized method (Lottery AMA, AMenuNet) runs on needs ``menu_size``;
* search ranges and intervals go from low to high (``single_item.sweep.lambda_regret`` / ``lambda_mono``, a uniform
  family's ``low``/``high``, ``figures.smoothing`` ``low``/``high``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from pipeline_lib.core import methods
from pipeline_lib.core.settings import combinatorial_settings

NAME = re.compile(r"^(\d+)x(\d+)_([A-D])$")
RANDOMIZED_RUNNER = "randomized_run"


class ConfigError(ValueError):
    """A config that passes the schema but cannot be meant."""


def check_setting_names(config: Mapping[str, Any]) -> None:
    for name, spec in config.get("combinatorial", {}).get("settings", {}).items():
        match = NAME.match(name)
        if match is None:
            continue  # the schema's pattern reports it
        n, m, dist = int(match[1]), int(match[2]), match[3]
        have = (spec.get("n"), spec.get("m"), spec.get("distribution"))
        if have != (n, m, dist):
            raise ConfigError(
                f"config combinatorial.settings.{name}: the name means n={n}, m={m}, distribution {dist} (the "
                f"paper's {n}x{m}({dist})), but the setting has n={have[0]}, m={have[1]}, distribution {have[2]}; "
                f"tables and figures would compare it with the paper's {n}x{m}({dist}). Rename it "
                f"('{have[0]}x{have[1]}_{have[2]}') or fix its values"
            )


def check_figures(config: Mapping[str, Any]) -> None:
    combi = config.get("combinatorial", {})
    active = combinatorial_settings(config)
    if not active:
        return  # the whole combinatorial part is off: no figure is expected
    figures = combi.get("figures", {})
    hint = f"active settings (combinatorial.active): {sorted(active)}"
    for setting in figures.get("fig1_settings", []):
        if setting not in active:
            raise ConfigError(
                f"config combinatorial.figures.fig1_settings: {setting!r} is not an active setting, so Fig. 1 would "
                f"silently lose its panel; list active settings only (or [] for no Fig. 1). {hint}"
            )
    for key, figure in (("case_study", "Fig. 2"), ("smoothing", "Fig. 3")):
        block = figures.get(key, {})
        setting = block.get("setting")
        if setting is None:
            continue  # switched off on purpose
        if setting not in active:
            raise ConfigError(
                f"config combinatorial.figures.{key}.setting: {setting!r} is not an active setting, so {figure} would "
                f"silently drop out of the run; name an active setting (or null for no {figure}). {hint}"
            )
        if key == "case_study" and (active[setting].n, active[setting].m) != (2, 2):
            raise ConfigError(
                f"config combinatorial.figures.case_study.setting: {setting!r} has n={active[setting].n}, "
                f"m={active[setting].m}; the Fig. 2 case study needs a 2x2 setting"
            )
    smoothing = figures.get("smoothing", {})
    _check_interval("combinatorial.figures.smoothing low/high", smoothing.get("low"), smoothing.get("high"))


def check_menu_sizes(config: Mapping[str, Any]) -> None:
    combi = config.get("combinatorial", {})
    listed = [m for m in combi.get("methods", []) if m in methods.METHODS]
    randomized = [m for m in listed if methods.method(m).runner == RANDOMIZED_RUNNER]
    for name, setting in combinatorial_settings(config).items():
        runs = [m for m in randomized if methods.applies_to(m, setting.distribution)]
        if runs and "menu_size" not in combi["settings"][name]:
            raise ConfigError(
                f"config combinatorial.settings.{name}.menu_size is missing: {', '.join(runs)} run on {name} "
                "(combinatorial.methods) and need their candidate size s"
            )


def _check_interval(key: str, low: Any, high: Any) -> None:
    if low is not None and high is not None and not float(low) < float(high):
        raise ConfigError(f"config {key} = [{low}, {high}]: the lower bound must be below the upper bound")


def check_ranges(config: Mapping[str, Any]) -> None:
    single = config.get("single_item", {})
    sweep = single.get("sweep", {})
    for key in ("lambda_regret", "lambda_mono"):
        if key in sweep:
            _check_interval(f"single_item.sweep.{key}", *sweep[key])
    for name, family in single.get("families", {}).items():
        if family.get("distribution") == "uniform":
            _check_interval(f"single_item.families.{name} low/high", family.get("low", 0.0), family.get("high", 1.0))


def check_config(config: Mapping[str, Any]) -> None:
    """Every check of this module (after the schema, which guarantees the types)."""
    check_setting_names(config)
    check_ranges(config)
    check_menu_sizes(config)
    check_figures(config)
