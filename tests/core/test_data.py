"""Parquet datasets: round trip, bit-for-bit determinism, clear errors on mismatch, truncation and corruption."""

from __future__ import annotations

import hashlib
import json

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from pipeline_lib.core.data import (
    DataError,
    dataset_identity,
    expected_metadata,
    iter_valuations,
    read_metadata,
    read_valuations,
    write_valuations,
)
from pipeline_lib.core.settings import Setting

COMBI_D = Setting("2x3_D", "combinatorial", 2, 3, "D", {"distribution": "D", "width_rule": "size_over_m"})
COMBI_B = Setting("3x4_B", "combinatorial", 3, 4, "B", {"distribution": "B"})
LATENT = Setting(
    "latent",
    "single_item",
    4,
    1,
    "latent",
    {"distribution": "latent", "d": 2, "sigma_z": 1.0, "sigma_eps": 0.05, "w_mode": "fixed"},
)


def digest(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.mark.parametrize("setting", [COMBI_D, COMBI_B, LATENT], ids=lambda s: s.name)
def test_round_trip_preserves_values_shape_and_metadata(tmp_path, setting):
    path = tmp_path / "train.parquet"
    meta = write_valuations(path, setting, "train", base_seed=7, num_rows=1000, row_group_size=128)
    ds = read_valuations(path, setting=setting.name, split="train", n=setting.n, m=setting.m)
    assert ds.values.shape == (1000, *setting.value_shape)
    assert ds.values.dtype == np.float32
    assert ds.meta == meta
    assert pq.ParquetFile(path).num_row_groups == 8  # chunked by row group
    assert ds.meta["seed"]["entropy"] == 7


def test_same_config_gives_identical_bytes_and_other_seed_or_split_does_not(tmp_path):
    a, b, c, d = (tmp_path / f"{k}.parquet" for k in "abcd")
    write_valuations(a, COMBI_B, "train", 7, 500, 100)
    write_valuations(b, COMBI_B, "train", 7, 500, 100)
    write_valuations(c, COMBI_B, "train", 8, 500, 100)
    write_valuations(d, COMBI_B, "test", 7, 500, 100)
    assert digest(a) == digest(b)
    va, vc, vd = (read_valuations(p).values for p in (a, c, d))
    assert not np.array_equal(va, vc) and not np.array_equal(va, vd)


def test_latent_tastes_are_recorded_and_shared_by_all_splits(tmp_path):
    write_valuations(tmp_path / "train.parquet", LATENT, "train", 3, 100, 50)
    write_valuations(tmp_path / "test.parquet", LATENT, "test", 3, 100, 50)
    t_train = read_metadata(tmp_path / "train.parquet")["params"]["tastes"]
    t_test = read_metadata(tmp_path / "test.parquet")["params"]["tastes"]
    assert np.asarray(t_train).shape == (4, 2) and t_train == t_test


def test_bundle_values_of_additive_set_are_item_sums(tmp_path):
    path = tmp_path / "x.parquet"
    write_valuations(path, COMBI_B, "val", 1, 10, 10)
    ds = read_valuations(path)
    bundles = ds.bundle_values()
    assert bundles.shape == (10, 3, 16)
    assert np.allclose(bundles[..., 0b0101], ds.values[..., 0] + ds.values[..., 2])


@pytest.mark.parametrize(
    ("key", "value"),
    [("setting", "2x2_A"), ("split", "test"), ("n", 5), ("m", 10), ("valuation", "additive"), ("num_rows", 3)],
)
def test_each_metadata_mismatch_raises_an_error_naming_the_key(tmp_path, key, value):
    path = tmp_path / "train.parquet"
    write_valuations(path, COMBI_D, "train", 1, 64, 32)
    with pytest.raises(DataError, match=f"'{key}'"):
        read_valuations(path, **{key: value})


def test_truncated_file_raises_a_clear_error(tmp_path):
    path = tmp_path / "train.parquet"
    write_valuations(path, COMBI_D, "train", 1, 512, 64)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(DataError, match="truncated or corrupted"):
        read_valuations(path)


def test_corrupted_row_group_raises_a_clear_error(tmp_path):
    path = tmp_path / "train.parquet"
    write_valuations(path, COMBI_D, "train", 1, 512, 64)
    data = bytearray(path.read_bytes())
    for k in range(200, 2000):  # overwrite part of the first data pages, keep the footer intact
        data[k] = 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(DataError, match="truncated or corrupted"):
        read_valuations(path)


def test_missing_file_and_foreign_parquet_are_rejected(tmp_path):
    with pytest.raises(DataError, match="does not exist"):
        read_valuations(tmp_path / "nope.parquet")
    foreign = tmp_path / "foreign.parquet"
    pq.write_table(pa.table({"values": [1.0, 2.0]}), foreign)
    with pytest.raises(DataError, match="metadata"):
        read_valuations(foreign)


def test_row_count_disagreeing_with_metadata_is_rejected(tmp_path):
    path = tmp_path / "train.parquet"
    meta = write_valuations(path, COMBI_B, "train", 1, 100, 50)
    table = pq.read_table(path).slice(0, 60)
    pq.write_table(table.replace_schema_metadata({b"pipeline_lib": json.dumps(meta)}), path)
    with pytest.raises(DataError, match="holds 60 profiles"):
        read_valuations(path)


def test_failed_write_leaves_no_output_behind(tmp_path):
    path = tmp_path / "train.parquet"
    bad = Setting("bad", "combinatorial", 2, 2, "Z", {"distribution": "Z"})
    with pytest.raises(ValueError, match="'Z'"):
        write_valuations(path, bad, "train", 1, 10, 5)
    assert list(tmp_path.iterdir()) == []


# --- values checked against the distribution's support (issue 14, item 1) --------------------------------------

COMBI_A = Setting("2x2_A", "combinatorial", 2, 2, "A", {"distribution": "A"})
UNIFORM = Setting("uniform", "single_item", 3, 1, "uniform", {"distribution": "uniform", "low": 0.0, "high": 1.0})
EXPONENTIAL = Setting("exponential", "single_item", 3, 1, "exponential", {"distribution": "exponential", "mean": 1.0})


def tamper(path, row: int, index: tuple[int, ...], value: float) -> None:
    """Rewrite a dataset file with one value replaced, keeping its metadata (what a buggy sampler would write)."""
    table = pq.read_table(path)
    meta = read_metadata(path)
    values = read_valuations(path).values.copy()
    values[(row, *index)] = value
    width = int(np.prod(meta["value_shape"]))
    column = pa.FixedSizeListArray.from_arrays(pa.array(values.reshape(-1), type=pa.float32()), width)
    pq.write_table(pa.Table.from_arrays([column], schema=table.schema), path, row_group_size=16)


@pytest.mark.parametrize(
    ("setting", "index", "value", "match"),
    [
        (COMBI_B, (1, 2), float("nan"), r"row 37 holds a non-finite value nan"),
        (COMBI_B, (0, 0), float("inf"), r"row 37 holds a non-finite value inf"),
        (COMBI_B, (0, 1), -0.25, r"row 37 holds value -0.25 at bidder 0, column 1, outside the support \[0, 1\]"),
        (COMBI_B, (1, 3), 2.5, r"row 37 holds value 2.5 at bidder 1, column 3, outside the support \[0, 2\]"),
        (COMBI_A, (1, 0), 1.5, r"row 37 holds value 1.5 at bidder 1, column 0, outside the support \[0, 1\]"),
        (COMBI_D, (0, 5), -1.0, r"row 37 holds value -1 at bidder 0, column 5, outside the support \[0, inf\]"),
        (UNIFORM, (2,), 1.01, r"row 37 holds value 1.01 at bidder 2, outside the support \[0, 1\]"),
        (EXPONENTIAL, (0,), -0.5, r"row 37 holds value -0.5 at bidder 0, outside the support \[0, inf\]"),
        (LATENT, (0,), float("-inf"), r"row 37 holds a non-finite value -inf"),
    ],
)
def test_values_outside_the_support_or_not_finite_are_rejected_naming_file_split_and_row(
    tmp_path, setting, index, value, match
):
    path = tmp_path / "val.parquet"
    write_valuations(path, setting, "val", 3, 64, 16)
    tamper(path, 37, index, value)
    with pytest.raises(DataError, match=rf"{path}.*split 'val'.*{match}"):
        read_valuations(path)
    with pytest.raises(DataError, match=match):
        for _ in iter_valuations(path, 10):
            pass


def test_bidder_b_may_reach_its_own_upper_bound(tmp_path):
    """(B): bidder i (1-based) is U[0, i]: 1.9 is fine for bidder 2, not for bidder 1."""
    path = tmp_path / "train.parquet"
    write_valuations(path, COMBI_B, "train", 3, 64, 16)
    tamper(path, 5, (2, 0), 2.9)
    read_valuations(path)
    tamper(path, 5, (0, 0), 1.9)
    with pytest.raises(DataError, match=r"row 5 holds value 1.9.* bidder 0"):
        read_valuations(path)


# --- issue 32, item 1: a dataset is matched to the config by the values that define it, not by its name ----------
UNIFORM_01 = Setting("uniform", "single_item", 4, 1, "uniform", {"distribution": "uniform", "low": 0.0, "high": 1.0})
UNIFORM_02 = Setting("uniform", "single_item", 4, 1, "uniform", {"distribution": "uniform", "low": 0.0, "high": 2.0})


def data_check(*settings: Setting, rows: int = 200, row_group_size: int = 64, base_seed: int = 7) -> dict:
    """The workflow's ``data_check`` param (workflow/rules/common.smk) for ``settings``."""
    return {
        "base_seed": base_seed,
        "rows": {"train": rows, "val": rows, "test": rows},
        "row_group_size": row_group_size,
        "settings": {s.name: dataset_identity(s) for s in settings},
    }


def test_a_split_of_other_distribution_parameters_is_refused_naming_file_field_expected_and_found(tmp_path):
    path = tmp_path / "test.parquet"
    write_valuations(path, UNIFORM_02, "test", base_seed=7, num_rows=200, row_group_size=64)  # values doubled
    with pytest.raises(DataError, match=rf"dataset file {path}: metadata 'params.high' is 2.0, expected 1.0 \(the"):
        read_valuations(path, setting="uniform", **expected_metadata(data_check(UNIFORM_01), "test"))
    read_valuations(path, setting="uniform", **expected_metadata(data_check(UNIFORM_02), "test"))  # as configured


@pytest.mark.parametrize(
    ("written", "configured", "named"),
    [
        (
            COMBI_D,
            Setting("2x3_D", "combinatorial", 2, 3, "D", {"distribution": "D", "width_rule": "size_minus_one"}),
            r"'params.width_rule' is 'size_over_m', expected 'size_minus_one'",
        ),
        (
            LATENT,
            Setting("latent", "single_item", 4, 1, "latent", {**LATENT.params, "sigma_eps": 0.1}),
            r"'params.sigma_eps' is 0.05, expected 0.1",
        ),
        (
            LATENT,
            Setting("latent", "single_item", 4, 1, "latent", {**LATENT.params, "w_mode": "per_auction"}),
            r"'params.w_mode' is 'fixed', expected 'per_auction'",
        ),
        (
            UNIFORM_01,
            Setting("uniform", "single_item", 3, 1, "uniform", dict(UNIFORM_01.params)),
            r"'n' is 4, expected 3",
        ),
    ],
    ids=["width_rule", "sigma_eps", "w_mode", "n"],
)
def test_every_defining_value_is_checked(tmp_path, written, configured, named):
    path = tmp_path / "train.parquet"
    write_valuations(path, written, "train", base_seed=7, num_rows=200, row_group_size=64)
    with pytest.raises(DataError, match=named):
        read_valuations(path, setting=written.name, **expected_metadata(data_check(configured), "train"))


def test_row_group_size_and_the_seeds_spawn_key_are_checked(tmp_path):
    path = tmp_path / "val.parquet"
    write_valuations(path, UNIFORM_01, "val", base_seed=7, num_rows=200, row_group_size=64)
    with pytest.raises(DataError, match=r"metadata 'row_group_size' is 64, expected 32"):
        read_valuations(path, **expected_metadata(data_check(UNIFORM_01, row_group_size=32), "val"))
    # a file whose metadata was edited to another split keeps its seed: the spawn key gives it away
    meta = read_metadata(path)
    table = pq.read_table(path)
    forged = {**meta, "split": "test"}
    pq.write_table(table.replace_schema_metadata({b"pipeline_lib": json.dumps(forged)}), path)
    with pytest.raises(DataError, match=r"metadata 'seed.spawn_key' is .* \(the seed of setting 'uniform', split 'te"):
        read_valuations(path, **expected_metadata(data_check(UNIFORM_01), "test"))
