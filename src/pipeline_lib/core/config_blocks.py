"""Config blocks as frozen dataclasses: the one strict ``from_mapping`` every settings dataclass uses.

A block of the config (e.g. ``single_item.regretnet.training``) fills the fields of its dataclass; a key that is
not a field is an error naming the block, the keys and the known fields, never silently dropped (a misspelt
setting would otherwise run with its default). Defaults stay declared once, in the dataclass.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import fields
from typing import Any, TypeVar

T = TypeVar("T")


def from_mapping(
    cls: type[T], block: Mapping[str, Any] | T | None, key: str, *, tuples: Iterable[str] = (),
    handled: Iterable[str] = (),
) -> T:  # fmt: skip
    """An instance of dataclass ``cls`` from config block ``block`` (an instance is returned as it is; None is the
    empty block). ``tuples``: list-valued fields stored as tuples of ints; ``handled``: keys of the block its caller
    reads itself (not fields, not errors). Unknown keys raise ValueError naming ``key``, the keys and the fields."""
    if isinstance(block, cls):
        return block
    block = dict(block or {})
    known = [f.name for f in fields(cls)]  # type: ignore[arg-type]
    unknown = sorted(set(block) - set(known) - set(handled))
    if unknown:
        raise ValueError(f"{key}: unknown key(s) {unknown}; known: {sorted(known)}")
    values = {k: v for k, v in block.items() if k in known}
    for name in tuples:
        if name in values:
            values[name] = tuple(int(h) for h in values[name])
    return cls(**values)
