"""THE metrics record: what every evaluated mechanism writes and what both tables read.

Every metrics file of a mechanism on a test set (a combinatorial run or baseline, a single-item network or
baseline) is a JSON object holding at least

    setting      the setting or family name               method   the registry key (pipeline_lib.core.methods)
    seed         the seed index (0 for baselines)         label    the registry's display name
    test_revenue {mean, se, n_profiles, ...}              approximate / dsic   the registry's flags

plus study-specific fields (the combinatorial evaluator adds ``welfare`` {mean, se}, ``ir`` {violations,
max_relative_violation} and ``payments_per_bidder``; the single-item evaluator adds its regret statistics under
``metrics``; a single-item network deployed a second way carries that deployment's own record in the field
:data:`SECOND` names, a row of its own in Table 1). :func:`make_record` builds the common part and
:func:`read_record` checks and reads it, naming the file and the missing key when a record is malformed.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from pipeline_lib.core import methods

REQUIRED = ("setting", "method", "seed", "test_revenue")
SECOND = {"hard": "hardened", "softmax": "softmax"}  # a second deployment of one network -> its sub-record's field


class RecordError(ValueError):
    """A metrics file that does not follow the record."""


def make_record(*, setting: str, method: str, seed: int, test_revenue: Mapping[str, Any], **extra: Any) -> dict:
    """The common part of a metrics file, followed by ``extra`` (study-specific fields)."""
    entry = methods.method(method)
    return {
        "setting": setting,
        "method": method,
        "seed": int(seed),
        "label": entry.label,
        "approximate": entry.approximate,
        "dsic": entry.dsic,
        "test_revenue": dict(test_revenue),
        **extra,
    }


@dataclass(frozen=True)
class Record:
    """The fields every table reads."""

    setting: str
    method: str
    seed: int
    revenue: float
    revenue_se: float
    n_profiles: int
    approximate: bool


def nonfinite_key(obj: Any, path: str = "$") -> str | None:
    """Key path (``$.a.b[2]``) of the first NaN or infinity in a JSON document, or ``None``."""
    if isinstance(obj, float):
        return None if math.isfinite(obj) else path
    if isinstance(obj, Mapping):
        return next((hit for k, v in obj.items() if (hit := nonfinite_key(v, f"{path}.{k}"))), None)
    if isinstance(obj, list | tuple):
        return next((hit for k, v in enumerate(obj) if (hit := nonfinite_key(v, f"{path}[{k}]"))), None)
    return None


def read_record(payload: Mapping[str, Any], source: str = "<record>") -> Record:
    """Check ``payload`` against the record and return its common fields (``source`` names the file in errors).

    A record holding NaN or an infinity anywhere is refused (files written by :func:`pipeline_lib.core.io.write_json`
    cannot hold one; an undefined number is ``null``), so a table's "-" always means missing, never a failure."""
    bad = nonfinite_key(payload)
    if bad is not None:
        raise RecordError(f"{source}: metrics record holds a number that is not finite (NaN or infinity) at {bad}")
    missing = [key for key in REQUIRED if key not in payload]
    if missing:
        raise RecordError(f"{source}: metrics record lacks {missing} (has {sorted(payload)})")
    rev = payload["test_revenue"]
    if not isinstance(rev, Mapping) or "mean" not in rev:
        raise RecordError(f"{source}: test_revenue must be an object with 'mean', got {rev!r}")
    mean = float(rev["mean"])
    if not math.isfinite(mean):
        raise RecordError(f"{source}: test_revenue.mean is not finite ({mean})")
    return Record(
        setting=str(payload["setting"]),
        method=str(payload["method"]),
        seed=int(payload["seed"]),
        revenue=mean,
        revenue_se=math.nan if rev.get("se") is None else float(rev["se"]),  # missing (one profile): NaN here
        n_profiles=int(rev.get("n_profiles", 0)),
        approximate=bool(
            payload.get(
                "approximate", methods.METHODS.get(payload["method"]) and methods.method(payload["method"]).approximate
            )
        ),
    )
