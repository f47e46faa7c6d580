"""Checks of the config that the JSON schema cannot express; run by the workflow right after schema validation.

Each raises :class:`ConfigError` naming the config key and what to change, before any job starts:

* a combinatorial setting's name ``{n}x{m}_{D}`` must agree with its ``n``, ``m`` and ``distribution`` (tables and
  figures compare a setting with the paper's setting of that name, e.g. 2x2(A));
* a figure's setting must be active (``fig1_settings`` entries, ``case_study.setting`` -- a 2x2 setting --,
  ``smoothing.setting``), unless the figure is switched off on purpose (``fig1_settings: []``, ``setting: null``)
  or no combinatorial setting is active at all; otherwise the figure would silently drop out of ``rule all``;
* every active setting that a listed randomized method (Lottery AMA, AMenuNet) runs on needs ``menu_size``;
* search ranges and intervals go from low to high (``single_item.sweep.lambda_regret`` / ``lambda_mono``, a uniform
  family's ``low``/``high``, ``figures.smoothing`` ``low``/``high``);
* what a sampler, prior, sweep or network would refuse inside a job: mixture weights (one per component,
  non-negative, summing to 1), per-bidder marginals and their bounds, a lognormal correlation valid for n bidders,
  RegretNet's sweep space (known float fields, low < high), AMenuNet's heads dividing its width;
* seed lists without repeats; override blocks naming only what they override (a defined setting; no method that
  ignores ``method_overrides``);
* no minibatch larger than the training split it is drawn from, no more validation profiles than the validation
  split holds (either would be cut silently while the record keeps the configured number).
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


# --- issue 32, item 2: every constraint a sampler, prior, sweep or network enforces later, checked up front ------
MIXTURE_SUM_TOL = 1e-9  # as pipeline_lib.valuations.single_item.mixture_weights
# RegretNetConfig fields the RegretNet sweep may tune: the float fields of single_item.regretnet.training (the
# sweep suggests floats; tests/core/test_config_checks.py keeps this in step with the schema)
REGRETNET_SWEEPABLE = ("lr", "inner_lr", "mu_init", "rho_init", "rho_increment", "rho_max", "tie_eps")
SEED_LISTS = ("final", "regretnet", "myersonnet")
RANDOMIZED = ("lottery_ama", "amenunet")


def _check_marginal(key: str, spec: Mapping[str, Any]) -> None:
    """One marginal (uniform, exponential, hetero, mixture), recursively: what the sampler and prior would refuse."""
    dist = spec.get("distribution")
    if dist == "uniform":
        _check_interval(f"{key} low/high", spec.get("low", 0.0), spec.get("high", 1.0))
    elif dist == "mixture":
        components, weights = spec.get("components", []), spec.get("weights", [])
        if len(weights) != len(components):
            raise ConfigError(
                f"config {key}.weights: {len(weights)} weights {list(weights)} for {len(components)} components; "
                "give one weight per component"
            )
        total = sum(float(w) for w in weights)
        if any(float(w) < 0 for w in weights) or abs(total - 1.0) > MIXTURE_SUM_TOL:
            raise ConfigError(
                f"config {key}.weights = {list(weights)}: the weights must be non-negative and sum to 1 (they sum "
                f"to {total:g})"
            )
        for k, component in enumerate(components):
            _check_marginal(f"{key}.components[{k}]", component)


def check_families(config: Mapping[str, Any]) -> None:
    """Mixture weights, per-bidder marginals and their bounds, and a lognormal correlation valid for n bidders."""
    single = config.get("single_item", {})
    default_n = int(single.get("n_bidders", 4))
    for name, family in single.get("families", {}).items():
        key = f"single_item.families.{name}"
        dist = family.get("distribution")
        n = int(family.get("n_bidders", default_n))
        if dist == "per_bidder":
            bidders = family.get("bidders", [])
            if "n_bidders" in family and n != len(bidders):
                raise ConfigError(
                    f"config {key}.n_bidders = {n}, but {key}.bidders lists {len(bidders)} distributions (one per "
                    "bidder); drop n_bidders or make them agree"
                )
            for i, spec in enumerate(bidders):
                _check_marginal(f"{key}.bidders[{i}]", spec)
        elif dist == "mixture":
            _check_marginal(key, family)
        elif dist == "lognormal":
            rho = float(family.get("rho", 0.0))
            if n > 1 and not -1.0 / (n - 1) < rho < 1.0:
                raise ConfigError(
                    f"config {key}.rho = {rho}: with n = {n} bidders the equicorrelated normal needs "
                    f"{-1.0 / (n - 1):.6g} < rho < 1 (otherwise its correlation matrix is not positive definite)"
                )


def check_seed_lists(config: Mapping[str, Any]) -> None:
    """A repeated seed index would train one model twice and count it as two seeds."""
    single = config.get("single_item", {})
    for block in SEED_LISTS:
        seeds = list(single.get(block, {}).get("seeds", []))
        repeated = sorted({s for s in seeds if seeds.count(s) > 1})
        if repeated:
            raise ConfigError(
                f"config single_item.{block}.seeds = {seeds}: seed {repeated} listed more than once (one model "
                "would be counted as several seeds); list distinct seeds"
            )


def check_sweep_spaces(config: Mapping[str, Any]) -> None:
    """RegretNet's sweep space: known float fields, low < high, log-uniform ranges positive."""
    space = config.get("single_item", {}).get("regretnet", {}).get("sweep", {}).get("space", {}) or {}
    for name, entry in space.items():
        key = f"single_item.regretnet.sweep.space.{name}"
        if name not in REGRETNET_SWEEPABLE:
            raise ConfigError(
                f"config {key}: {name!r} is not a tunable RegretNet setting; the sweep tunes float fields of "
                f"single_item.regretnet.training: {list(REGRETNET_SWEEPABLE)}"
            )
        entry = list(entry)
        if not all(isinstance(v, int | float) and not isinstance(v, bool) for v in entry[:2]):
            raise ConfigError(f"config {key} = {entry}: expected [low, high] or [low, high, log] with numbers")
        if len(entry) > 2 and not isinstance(entry[2], bool):
            raise ConfigError(f"config {key} = {entry}: the third entry (log) must be true or false")
        _check_interval(key, entry[0], entry[1])
        if len(entry) > 2 and entry[2] and float(entry[0]) <= 0:
            raise ConfigError(f"config {key} = {entry}: a log-uniform range needs low > 0")


def _randomized_blocks(combi: Mapping[str, Any]) -> list[tuple[str, str, str, dict[str, Any]]]:
    """(key, setting or '', method, merged hyperparameters) of every randomized block and every override of one."""
    block = combi.get("randomized", {})
    out = []
    for method in RANDOMIZED:
        if method in block:
            out.append((f"combinatorial.randomized.{method}", "", method, dict(block[method])))
    for setting, per_method in (block.get("overrides") or {}).items():
        for method, hp in (per_method or {}).items():
            merged = {**block.get(method, {}), **(hp or {})}
            out.append((f"combinatorial.randomized.overrides.{setting}.{method}", setting, method, merged))
    return out


def check_overrides(config: Mapping[str, Any]) -> None:
    """Every name in an override block must be something it overrides; an unused override is a silent no-op."""
    combi = config.get("combinatorial", {})
    defined = combi.get("settings", {})
    for setting in combi.get("randomized", {}).get("overrides") or {}:
        if setting not in defined:
            raise ConfigError(
                f"config combinatorial.randomized.overrides.{setting}: {setting!r} is not a setting of "
                f"combinatorial.settings, so the override would be ignored; defined: {sorted(defined)}"
            )
    for method in combi.get("method_overrides") or {}:
        entry = methods.METHODS.get(method)
        if entry is not None and entry.runner == RANDOMIZED_RUNNER:
            raise ConfigError(
                f"config combinatorial.method_overrides.{method}: {method} does not read method_overrides (the ZFO "
                f"loop's options); set its hyperparameters in combinatorial.randomized.{method} or per setting in "
                "combinatorial.randomized.overrides"
            )


def _phase1_hidden(single: Mapping[str, Any]) -> list[int]:
    """The phase-1 network's hidden widths: ``single_item.training.hidden``, else TrainConfig's default (declared
    there only; imported here, loading torch, only for a RegretNet warm-started from the phase-1 network)."""
    hidden = (single.get("training") or {}).get("hidden")
    if hidden is None:
        from pipeline_lib.single_item.learning.report_net import TrainConfig

        hidden = TrainConfig().hidden
    return [int(h) for h in hidden]


def check_networks(config: Mapping[str, Any]) -> None:
    """AMenuNet's attention heads must divide its hidden width (torch's multi-head attention splits it); RegretNet
    started from the phase-1 network (``warm_start``) must have that network's shape: its hidden widths
    (``single_item.training.hidden``) and its payment head (the report's ``fraction``), both set explicitly."""
    single = config.get("single_item", {})
    regretnet = _block(single, "regretnet.training")
    if regretnet.get("warm_start") and "regretnet" in single.get("methods", ("regretnet",)):
        key = "single_item.regretnet.training"
        phase1 = _phase1_hidden(single)
        hidden = regretnet.get("hidden")
        if hidden is None or list(hidden) != phase1:
            raise ConfigError(
                f"config {key}.hidden = {hidden if hidden is not None else 'unset (RegretNetConfig default)'}: with "
                f"{key}.warm_start RegretNet starts from the phase-1 network, whose hidden widths are "
                f"single_item.training.hidden = {phase1}; set {key}.hidden to them (or warm_start: false)"
            )
        if regretnet.get("payment_head") != "fraction":
            raise ConfigError(
                f"config {key}.payment_head = {regretnet.get('payment_head', 'unset (RegretNetConfig default)')}: "
                f"with {key}.warm_start RegretNet starts from the phase-1 network, whose payment head is the report's "
                f"'fraction'; set {key}.payment_head: fraction (or warm_start: false)"
            )
    for key, _setting, method, hp in _randomized_blocks(config.get("combinatorial", {})):
        if method == "amenunet" and "n_head" in hp and "d_hidden" in hp and int(hp["d_hidden"]) % int(hp["n_head"]):
            raise ConfigError(
                f"config {key}: n_head = {hp['n_head']} does not divide d_hidden = {hp['d_hidden']} (AMenuNet's "
                "attention splits the hidden width into n_head equal heads)"
            )


def check_batch_sizes(config: Mapping[str, Any]) -> None:
    """A minibatch larger than the training split it is drawn from would be cut to the split without a word."""
    data = config.get("data", {})
    combi = config.get("combinatorial", {})
    if "combinatorial" in data:
        train = int(data["combinatorial"]["train"])
        where = f"data.combinatorial.train = {train}"
        active = combinatorial_settings(config)
        listed = [m for m in combi.get("methods", []) if m in methods.METHODS]
        cap = combi.get("training", {}).get("max_batch_size")
        for name, setting in active.items():
            for method in listed:
                if methods.method(method).runner != "zfo_run" or not methods.applies_to(method, setting.distribution):
                    continue
                override = (combi.get("method_overrides") or {}).get(method, {}) or {}
                key = (
                    f"combinatorial.method_overrides.{method}.batch_size"
                    if "batch_size" in override
                    else f"combinatorial.settings.{name}.zfo.batch_size"
                )
                batch = int(override.get("batch_size", combi["settings"][name]["zfo"]["batch_size"]))
                if cap is not None:
                    batch = min(batch, int(cap))
                if batch > train:
                    raise ConfigError(
                        f"config {key} = {batch} (after max_batch_size) exceeds {where}: {method} on {name} draws "
                        "its minibatches from the training split; lower the batch size or raise the split"
                    )
        for key, setting, method, hp in _randomized_blocks(combi):
            if method not in listed or (setting and setting not in active):
                continue
            if "batch_size" in hp and int(hp["batch_size"]) > train:
                raise ConfigError(
                    f"config {key}.batch_size = {hp['batch_size']} exceeds {where}: {method} draws its minibatches "
                    "from the training split; lower the batch size or raise the split"
                )
    single = config.get("single_item", {})
    if "single_item" in data and single.get("families") and single.get("active", True) != []:
        train = int(data["single_item"]["train"])
        runs = set(single.get("methods", ("learned", "regretnet", "myersonnet")))
        if "vvca_zfo" in single.get("baselines", ("vvca_zfo",)):
            runs.add("vvca")
        for block, field, runner in (
            ("training", "batch_size", "learned"),
            ("training", "phase1_batch_size", "learned"),
            ("vvca", "batch_size", "vvca"),
            ("regretnet.training", "batch_size", "regretnet"),
            ("myersonnet.training", "batch_size", "myersonnet"),
        ):
            if runner not in runs:
                continue
            spec = single
            for part in block.split("."):
                spec = spec.get(part, {}) or {}
            if field in spec and int(spec[field]) > train:
                raise ConfigError(
                    f"config single_item.{block}.{field} = {spec[field]} exceeds data.single_item.train = {train}: "
                    "the minibatches are drawn from the training split; lower the batch size or raise the split"
                )


SINGLE_ITEM_VALIDATION = (  # (block, field, method that reads it): profiles taken from the front of the val split
    ("training", "val_monitor_profiles", "learned"),
    ("sweep", "val_profiles", "learned"),
    ("regretnet.training", "val_profiles", "regretnet"),
    ("regretnet.sweep", "val_profiles", "regretnet"),
    ("myersonnet.training", "val_profiles", "myersonnet"),
)


def _block(config: Mapping[str, Any], dotted: str) -> Mapping[str, Any]:
    spec: Any = config
    for part in dotted.split("."):
        spec = (spec or {}).get(part, {})
    return spec or {}


def check_validation_profiles(config: Mapping[str, Any]) -> None:
    """Profiles taken from the front of a validation split: more than the split holds would be cut to it while the
    record keeps the configured number."""
    data = config.get("data", {})
    single = config.get("single_item", {})
    if "single_item" in data and single.get("families") and single.get("active", True) != []:
        val = int(data["single_item"]["val"])
        runs = set(single.get("methods", ("learned", "regretnet", "myersonnet")))
        for block, field, method in SINGLE_ITEM_VALIDATION:
            spec = _block(single, block)
            if method in runs and field in spec and int(spec[field]) > val:
                raise ConfigError(
                    f"config single_item.{block}.{field} = {spec[field]} exceeds data.single_item.val = {val}: "
                    "these profiles are taken from the validation split; lower it or raise the split"
                )
    figures = config.get("combinatorial", {}).get("figures", {})
    active = combinatorial_settings(config)
    if "combinatorial" in data and active:
        val = int(data["combinatorial"]["val"])
        for key in ("case_study", "smoothing"):
            block = figures.get(key, {}) or {}
            if block.get("setting") in active and int(block.get("n_profiles", 0)) > val:
                raise ConfigError(
                    f"config combinatorial.figures.{key}.n_profiles = {block['n_profiles']} exceeds "
                    f"data.combinatorial.val = {val}: the figure reads these validation profiles; lower it or raise "
                    "the split"
                )


def check_config(config: Mapping[str, Any]) -> None:
    """Every check of this module (after the schema, which guarantees the types)."""
    check_setting_names(config)
    check_ranges(config)
    check_menu_sizes(config)
    check_figures(config)
    check_families(config)
    check_seed_lists(config)
    check_sweep_spaces(config)
    check_overrides(config)
    check_networks(config)
    check_batch_sizes(config)
    check_validation_profiles(config)
