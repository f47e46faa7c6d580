"""Shared fixtures of the stage tests."""

from __future__ import annotations

import pytest

from pipeline_lib.core.data import write_valuations
from pipeline_lib.core.settings import Setting

UNIFORM = {"distribution": "uniform", "low": 0.0, "high": 1.0}


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    """Four U[0,1] bidders, 256 / 64 / 64 profiles (base seed 5): the single-item stages' tiny splits."""
    root = tmp_path_factory.mktemp("data")
    setting = Setting("uniform", "single_item", 4, 1, "uniform", UNIFORM)
    paths = {}
    for split, rows in (("train", 256), ("val", 64), ("test", 64)):
        paths[split] = str(root / f"{split}.parquet")
        write_valuations(paths[split], setting, split, base_seed=5, num_rows=rows, row_group_size=64)
    return paths
