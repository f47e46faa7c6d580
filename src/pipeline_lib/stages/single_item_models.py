"""Reading single-item model files: every load names the file and says what it found (issue 32, item 4).

A model file is read with tensors and plain values only (:func:`pipeline_lib.core.io.load_torch`,
``weights_only=True``): a crafted file cannot run code, and a file that holds anything else is refused, never
loaded another way. What it holds is recognised from its contents, not from its name:

* ``regretnet``, ``myersonnet``: a learned model of rule ``single_item_learned_train`` (its ``kind``);
* ``single_item_net``: a network of :class:`~pipeline_lib.single_item.mechanisms.nets.SingleItemNet` (the report's
  phase-1 network ``warmstart.pt``, its phase-2 ``model.pt``, or RegretNet's distilled start ``start.pt``; its role
  read from the record it carries);
* ``vvca_zfo``: the parameters of a one-item VVCA.

A file of another kind than the one expected (e.g. RegretNet's ``model.pt`` where MyersonNet's belongs) or of
another family is refused naming the file, the expected and the found kind, method and family.
"""

from __future__ import annotations

import logging
import os
import pickle
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from pipeline_lib.core import io

log = logging.getLogger(__name__)
KINDS = ("regretnet", "myersonnet", "single_item_net", "vvca_zfo")


class ModelFileError(ValueError):
    """A model file that cannot be used where it was given; the message names the file."""


@dataclass(frozen=True)
class FoundModel:
    """What a model file holds: its kind, the method that made it (role of a network) and its family."""

    kind: str
    method: str | None
    family: str | None

    def __str__(self) -> str:
        return f"kind {self.kind}, method {self.method or 'unknown'}, family {self.family or 'unknown'}"


def describe(payload: Any) -> FoundModel:
    """The kind, method and family of a loaded model file (kind ``unknown`` when it is none of :data:`KINDS`)."""
    if not isinstance(payload, Mapping):
        return FoundModel(f"unknown ({type(payload).__name__})", None, None)
    extra = payload.get("extra") if isinstance(payload.get("extra"), Mapping) else {}
    family = extra.get("family", payload.get("family"))
    family = str(family) if family is not None else None
    kind = payload.get("kind")
    if isinstance(kind, str):
        return FoundModel(kind, str(extra.get("method", kind)), family)
    if "alpha" in payload and "boosts" in payload:
        return FoundModel("vvca_zfo", "vvca_zfo", family)
    config = payload.get("config")
    if isinstance(config, Mapping) and "hidden" in config and "state_dict" in payload:
        if "teacher" in extra:
            role = "regretnet_start"
        elif "target" in extra:
            role = "learned_phase1"
        else:
            role = "learned"
        return FoundModel("single_item_net", role, family)
    return FoundModel("unknown", None, family)


def _reason(exc: BaseException) -> str:
    """A short reason from a loading error, without torch's advice to load the file unsafely."""
    lines = [ln.strip() for ln in str(exc).splitlines() if ln.strip()]
    keep = [ln for ln in lines if ln.startswith("WeightsUnpickler error")] or lines[:1]
    text = " ".join(keep) or type(exc).__name__
    return text if "weights_only" not in text else type(exc).__name__


def read_model(
    path: str | os.PathLike, expected: str | tuple[str, ...], *, family: str | None = None, map_location: Any = "cpu"
) -> dict[str, Any]:
    """The payload of model file ``path``, checked to be of kind ``expected`` (one of :data:`KINDS`, or several)
    and, where the file records one, of ``family``. Logs what it found; refuses (:class:`ModelFileError`, naming the
    file) a file that cannot be read safely, or of another kind or family."""
    wanted = (expected,) if isinstance(expected, str) else tuple(expected)
    try:
        payload = io.load_torch(path, map_location=map_location)
    except FileNotFoundError:
        raise ModelFileError(f"{path}: model file not found") from None
    except pickle.UnpicklingError as exc:
        raise ModelFileError(
            f"{path}: refused: the file holds objects other than tensors and plain values, which are never loaded "
            f"({_reason(exc)}); expected a {' or '.join(wanted)} model"
        ) from None
    except Exception as exc:  # torn or corrupt archive, not a torch file
        raise ModelFileError(
            f"{path}: not a readable model file ({type(exc).__name__}: {_reason(exc)}); expected a "
            f"{' or '.join(wanted)} model"
        ) from None
    found = describe(payload)
    if found.kind not in wanted:
        raise ModelFileError(f"{path}: expected a {' or '.join(wanted)} model, found {found}")
    if family is not None and found.family is not None and found.family != family:
        raise ModelFileError(f"{path}: expected a model of family {family!r}, found {found}")
    log.info("model %s: %s", path, found)
    return payload
