"""A fixed set of valuation profiles as the VVCA engine consumes them: bundle bids (B, n, 2^m) on demand."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np
import torch

from pipeline_lib.valuations.combinatorial import additive_bundle_values


class BidSource:
    """A fixed set of valuation profiles held compactly (item values when additive) and expanded to bundle bids
    (B, n, 2^m) on demand, so that large settings never materialise the whole 2^m table."""

    def __init__(self, values: np.ndarray | torch.Tensor, additive: bool, device: torch.device | str = "cpu"):
        self.values = torch.as_tensor(np.asarray(values, dtype=np.float32)).to(device)
        self.additive = additive
        self.device = torch.device(device)

    @classmethod
    def from_valuation_set(cls, vs: Any, device: torch.device | str = "cpu") -> BidSource:
        return cls(vs.values, vs.meta["valuation"] == "additive", device)

    def __len__(self) -> int:
        return self.values.shape[0]

    def bids(self, index: torch.Tensor | slice) -> torch.Tensor:
        block = self.values[index]
        return additive_bundle_values(block) if self.additive else block

    def chunks(self, chunk_size: int) -> Iterator[torch.Tensor]:
        for start in range(0, len(self), chunk_size):
            yield self.bids(slice(start, start + chunk_size))
