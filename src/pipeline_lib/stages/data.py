"""Stage of the data rule: sample one (setting, split) to Parquet (rule ``sample_dataset``)."""

from __future__ import annotations

import logging
from typing import Any

from pipeline_lib.core.data import write_valuations
from pipeline_lib.core.settings import Setting

log = logging.getLogger(__name__)


def sample_dataset(
    out_path: str, *, setting: Setting, split: str, base_seed: int, num_rows: int, row_group_size: int
) -> dict[str, Any]:
    """Rule ``sample_dataset``: sample ``num_rows`` profiles of ``setting`` from the seed of (setting, split) and
    write them to ``out_path`` (one row group per chunk, metadata with the seed; atomic)."""
    meta = write_valuations(
        out_path, setting, split, base_seed=base_seed, num_rows=num_rows, row_group_size=row_group_size
    )
    log.info("wrote %s: %d profiles of %s (seed %s)", out_path, meta["num_rows"], meta["setting"], meta["seed"])
    return meta
