"""The evaluation of one mechanism on one family's test profiles: the search settings of config
``single_item.evaluation``, THE evaluator (:mod:`pipeline_lib.single_item.evaluation.evaluator`) and, where the
optimum is known, the paired check against it (:mod:`pipeline_lib.single_item.evaluation.optimum_check`): the payload
every single-item evaluation record holds (docs/methods.md#single-item-evaluator).
"""

from __future__ import annotations

import math
import time
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import torch

from pipeline_lib.core.config_blocks import from_mapping
from pipeline_lib.core.device import describe_device
from pipeline_lib.core.provenance import package_versions
from pipeline_lib.single_item.evaluation.evaluator import Bootstrap, RegretSearch, evaluate_mechanism, misreport_upper
from pipeline_lib.single_item.evaluation.optimum_check import mark_above, optimum_reference, revenue_flag
from pipeline_lib.single_item.mechanisms.priors import support_upper


def extra_reserve_points(params: dict[str, Any] | None) -> Sequence[float]:
    """Known reserve prices of a mechanism, to be added to the misreport candidates (search step 2)."""
    if not params:
        return ()
    points = [params["reserve"]] if params.get("reserve") is not None else []
    points += [r for r in params.get("reserves", ()) if r is not None and math.isfinite(r)]
    return tuple(float(x) for x in points)


@dataclass(frozen=True)
class EvaluationConfig:
    """Settings of the test-time evaluator (config ``single_item.evaluation``; defaults declared here only).

    ``grid`` misreport points over [0, B] (>= 1001 for reported results), the other bids +- ``eps`` B added,
    B = ``upper_factor`` x the largest test value for unbounded families; Adam refinement (``refine_steps`` steps of
    ``refine_lr`` B) from the ``refine_top`` best grid points and ``refine_random`` uniform starts; ``bootstrap``
    resamples for the 95% CIs; the first ``max_profiles`` test profiles; ``hardened``: also the argmax variant of a
    network; ``seed`` of random starts and bootstrap; ``fast_search``: the refinement shortcuts of
    docs/methods.md#evaluator-shortcuts (False: Adam from every start of every pair, the exhaustive refinement).
    """

    grid: int = 1001
    eps: float = 1e-6
    upper_factor: float = 1.5
    refine_top: int = 4
    refine_random: int = 4
    refine_steps: int = 200
    refine_lr: float = 0.01
    bootstrap: int = 1000
    max_profiles: int | None = None
    hardened: bool = True
    seed: int = 0
    fast_search: bool = True

    @classmethod
    def from_mapping(
        cls, cfg: Mapping[str, Any] | EvaluationConfig | None, key: str = "single_item.evaluation"
    ) -> EvaluationConfig:
        """Strict (:func:`pipeline_lib.core.config_blocks.from_mapping`): an unknown key is an error naming it."""
        return from_mapping(cls, cfg, key)


def search_for(
    values: np.ndarray, family_cfg: Mapping[str, Any], eval_cfg: Mapping[str, Any] | EvaluationConfig,
    extra_points: Sequence[float] = (),
) -> RegretSearch:  # fmt: skip
    """The test-time search of a family: B from the bidders' supports (or ``upper_factor`` x the largest value)."""
    cfg = EvaluationConfig.from_mapping(eval_cfg)
    return RegretSearch(
        upper=misreport_upper(values, support_upper(family_cfg, values.shape[1]), float(cfg.upper_factor)),
        grid=cfg.grid,
        eps=cfg.eps,
        extra_points=tuple(float(x) for x in extra_points),
        refine_top=cfg.refine_top,
        refine_random=cfg.refine_random,
        refine_steps=cfg.refine_steps,
        refine_lr=cfg.refine_lr,
        seed=cfg.seed,
        fast=cfg.fast_search,
    )


def report(
    mech: Any,
    values: np.ndarray,
    family: str,
    family_cfg: dict[str, Any],
    eval_cfg: dict[str, Any],
    device: torch.device,
    extra_points: Sequence[float] = (),
) -> dict[str, Any]:
    """The evaluation payload of one mechanism on test values (N, n): metrics, optimum, share, flag, search."""
    t0 = time.perf_counter()
    cfg = EvaluationConfig.from_mapping(eval_cfg)
    search = search_for(values, family_cfg, cfg, extra_points)
    boot = Bootstrap(n_boot=cfg.bootstrap, seed=cfg.seed)
    optimum, reference = optimum_reference(family_cfg, values.shape[1])
    out = evaluate_mechanism(mech, values, search, boot, device=device, reference=reference)
    m = out.metrics
    if out.reference_revenue is not None:  # the optimum as a check: above it beyond noise?
        mark_above(m, out.result.pay.sum(1), out.reference_revenue)
    return {
        "family": family,
        "mechanism": getattr(mech, "name", type(mech).__name__),
        "params": getattr(mech, "params", {}),
        "metrics": m,
        "test_revenue": {"mean": m["revenue"]["value"], "se": m["revenue"]["se"], "n_profiles": len(values)},
        "optimum": optimum,
        "share_of_optimum": m["revenue"]["value"] / optimum if optimum else None,
        "flag": revenue_flag(m["revenue"]["value"], m["revenue"]["se"], optimum),
        "above_optimum": m["excess_over_optimum"]["above"] if "excess_over_optimum" in m else None,
        "search": asdict(search),
        "bootstrap": asdict(boot),
        "n_profiles": len(values),
        "eval_config": asdict(cfg),
        "wall_time_s": time.perf_counter() - t0,
        "versions": package_versions(),
        "device": describe_device(device),
    }
