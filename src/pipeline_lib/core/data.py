"""Parquet storage of valuation datasets (pyarrow), with schema metadata and validation on read.

Layout of ``results/data/{setting}/{split}.parquet``:

* one column ``values``: ``fixed_size_list<float32>[prod(value_shape)]``, one row per valuation profile
  (single item: ``(n,)``; additive combinatorial: item values ``(n, m)``; (D): bundle values ``(n, 2^m)``);
* CRC page checksums, verified on read, so silent corruption of a data page is detected;
* schema metadata key ``pipeline_lib`` holding JSON: setting, kind, n, m, distribution, params (the latent
  tastes included), valuation layout, value_shape, seed (entropy and spawn key), split, num_rows,
  row_group_size and package version.

Writes are atomic (temporary file in the destination folder, then rename) and chunked by row group: each row group
is sampled from its own child seed (``SeedSequence.spawn``), so memory stays bounded by one row group and the
bytes depend only on the config (base seed, sizes, row-group size), never on the machine.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from pipeline_lib import __version__
from pipeline_lib.core.io import atomic_path
from pipeline_lib.core.seeds import split_seed, tastes_seed
from pipeline_lib.core.settings import Setting
from pipeline_lib.valuations.combinatorial import additive_bundle_values, sample_combinatorial
from pipeline_lib.valuations.single_item import draw_latent_tastes, sample_single_item

META_KEY = b"pipeline_lib"
COLUMN = "values"
FORMAT_VERSION = 1


class DataError(ValueError):
    """A dataset file is missing, truncated, corrupted, or not the dataset the caller expects."""


@dataclass
class ValuationSet:
    """Valuation profiles read from Parquet: ``values`` has shape ``(N, *value_shape)``, float32."""

    values: np.ndarray
    meta: dict[str, Any]
    path: Path

    def __len__(self) -> int:
        return self.values.shape[0]

    def bundle_values(self) -> np.ndarray:
        """Bundle values ``(N, n, 2^m)`` of a combinatorial set (expanded from item values when additive)."""
        layout = self.meta["valuation"]
        if layout == "bundle":
            return self.values
        if layout == "additive":
            return additive_bundle_values(self.values)
        raise DataError(f"{self.path}: single-item data has no bundle values")


def dataset_metadata(setting: Setting, split: str, base_seed: int, num_rows: int, row_group_size: int) -> dict:
    """Everything needed to know what a dataset file holds and to reproduce it."""
    ss = split_seed(base_seed, setting.name, split)
    params = dict(setting.params)
    if setting.distribution == "latent" and params.get("w_mode", "fixed") == "fixed":
        tss = tastes_seed(base_seed, setting.name)
        tastes = draw_latent_tastes(np.random.default_rng(tss), setting.n, int(params.get("d", 1)))
        params["tastes"] = tastes.tolist()
        params["tastes_seed"] = {"entropy": tss.entropy, "spawn_key": list(tss.spawn_key)}
    return {
        "format_version": FORMAT_VERSION,
        "setting": setting.name,
        "kind": setting.kind,
        "n": setting.n,
        "m": setting.m,
        "distribution": setting.distribution,
        "params": params,
        "valuation": setting.valuation,
        "value_shape": list(setting.value_shape),
        "seed": {"entropy": ss.entropy, "spawn_key": list(ss.spawn_key)},
        "split": split,
        "num_rows": int(num_rows),
        "row_group_size": int(row_group_size),
        "dtype": "float32",
        "pipeline_lib_version": __version__,
    }


def _sample_chunk(setting: Setting, meta: Mapping[str, Any], rng: np.random.Generator, size: int) -> np.ndarray:
    params = meta["params"]
    if setting.kind == "single_item":
        tastes = np.asarray(params["tastes"]) if "tastes" in params else None
        sampler_params = {k: v for k, v in params.items() if k not in ("tastes", "tastes_seed")}
        return sample_single_item(rng, size, setting.n, sampler_params, tastes)
    return sample_combinatorial(
        rng, size, setting.n, setting.m, setting.distribution, params.get("width_rule", "size_over_m")
    )


def write_valuations(
    path: str | os.PathLike, setting: Setting, split: str, base_seed: int, num_rows: int, row_group_size: int = 8192
) -> dict[str, Any]:
    """Sample ``num_rows`` profiles of ``setting`` and write them atomically to ``path``; returns the metadata."""
    if num_rows <= 0 or row_group_size <= 0:
        raise ValueError(f"num_rows and row_group_size must be positive, got {num_rows}, {row_group_size}")
    meta = dataset_metadata(setting, split, base_seed, num_rows, row_group_size)
    width = int(np.prod(setting.value_shape))
    schema = pa.schema([pa.field(COLUMN, pa.list_(pa.float32(), width))], metadata={META_KEY: json.dumps(meta)})
    n_chunks = math.ceil(num_rows / row_group_size)
    children = split_seed(base_seed, setting.name, split).spawn(n_chunks)
    with (
        atomic_path(path) as tmp,
        pq.ParquetWriter(tmp, schema, compression="zstd", write_page_checksum=True) as writer,
    ):
        for k, child in enumerate(children):
            size = min(row_group_size, num_rows - k * row_group_size)
            chunk = _sample_chunk(setting, meta, np.random.default_rng(child), size).astype(np.float32)
            flat = pa.array(chunk.reshape(-1), type=pa.float32())
            column = pa.FixedSizeListArray.from_arrays(flat, width)
            writer.write_table(pa.Table.from_arrays([column], schema=schema), row_group_size=row_group_size)
    return meta


def read_metadata(path: str | os.PathLike) -> dict[str, Any]:
    """The dataset metadata of a Parquet file, with a clear :class:`DataError` when it cannot be read."""
    path = Path(path)
    if not path.exists():
        raise DataError(f"dataset file {path} does not exist")
    try:
        schema = pq.read_schema(path)
    except (pa.ArrowException, OSError) as exc:
        raise DataError(f"dataset file {path} is truncated or corrupted and cannot be read: {exc}") from exc
    raw = (schema.metadata or {}).get(META_KEY)
    if raw is None:
        raise DataError(
            f"dataset file {path} has no '{META_KEY.decode()}' schema metadata; not written by this pipeline"
        )
    try:
        return json.loads(raw)
    except json.JSONDecodeError as exc:
        raise DataError(f"dataset file {path}: metadata is not valid JSON ({exc})") from exc


IDENTITY_KEYS = ("kind", "n", "m", "distribution", "valuation", "value_shape", "params")
DERIVED_PARAMS = ("tastes", "tastes_seed")  # drawn from the base seed (checked through it), not configured


def dataset_identity(setting: Setting) -> dict[str, Any]:
    """The values that define a setting's datasets besides seed and size, as its metadata records them: kind, n, m,
    distribution, layout and every distribution parameter (JSON values, comparable with a file's metadata)."""
    return json.loads(
        json.dumps(
            {
                "kind": setting.kind,
                "n": setting.n,
                "m": setting.m,
                "distribution": setting.distribution,
                "valuation": setting.valuation,
                "value_shape": list(setting.value_shape),
                "params": dict(setting.params),
            }
        )
    )


def expected_metadata(data_check: Mapping[str, Any], split: str) -> dict[str, Any]:
    """What a consumer expects of the ``split`` dataset, from the workflow's ``data_check`` param
    ``{"base_seed": int, "rows": {"train": int, "val": int, "test": int}, "row_group_size": int,
    "settings": {name: dataset_identity}}`` (the config's base seed, split sizes and row-group size of the setting's
    kind, and what defines each setting the job may read; the last two optional): keyword arguments of
    :func:`read_valuations` / :func:`iter_valuations`."""
    try:
        out = {"split": split, "base_seed": int(data_check["base_seed"]), "num_rows": int(data_check["rows"][split])}
    except (KeyError, TypeError) as exc:
        raise ValueError(f"data_check must be {{base_seed, rows: {{train, val, test}}}}, got {data_check!r}") from exc
    if data_check.get("row_group_size") is not None:
        out["row_group_size"] = int(data_check["row_group_size"])
    if data_check.get("settings") is not None:
        out["settings"] = data_check["settings"]
    return out


def _first_difference(have: Any, want: Any, key: str) -> tuple[str, Any, Any] | None:
    """The first (dotted key, found, expected) where ``have`` differs from ``want`` (numbers compared by value)."""
    if isinstance(want, Mapping) and isinstance(have, Mapping):
        for k in sorted(set(want) | set(have), key=str):
            diff = _first_difference(have.get(k), want.get(k), f"{key}.{k}")
            if diff:
                return diff
        return None
    if isinstance(want, list | tuple) and isinstance(have, list | tuple) and len(want) == len(have):
        for k, (h, w) in enumerate(zip(have, want, strict=True)):
            diff = _first_difference(h, w, f"{key}[{k}]")
            if diff:
                return diff
        return None
    return None if have == want else (key, have, want)


def check_identity(path: Path, meta: Mapping[str, Any], settings: Mapping[str, Any]) -> None:
    """Raise :class:`DataError` naming the first field (distribution parameters included) where the dataset differs
    from what the config defines for its setting (``settings``: name -> :func:`dataset_identity`)."""
    name = meta.get("setting")
    want = settings.get(name)
    if want is None:
        raise DataError(
            f"dataset file {path}: metadata 'setting' is {name!r}, which the config does not define; expected one of "
            f"{sorted(settings)}"
        )
    have = {k: meta.get(k) for k in IDENTITY_KEYS}
    have["params"] = {k: v for k, v in (meta.get("params") or {}).items() if k not in DERIVED_PARAMS}
    diff = _first_difference(have, {k: want.get(k) for k in IDENTITY_KEYS}, "")
    if diff:
        field, found, expected = diff
        raise DataError(
            f"dataset file {path}: metadata '{field.lstrip('.')}' is {found!r}, expected {expected!r} (the config's "
            f"setting {name!r}); the file holds other data than the config defines: delete it or rerun its rule"
        )


def check_metadata(path: Path, meta: Mapping[str, Any], expected: Mapping[str, Any]) -> None:
    """Raise :class:`DataError` naming the first metadata key whose value differs from ``expected``.

    ``base_seed`` is checked against the recorded seed (key ``seed``: entropy and the spawn key of the file's
    setting and split): a dataset sampled under another base seed is refused. ``settings`` (name ->
    :func:`dataset_identity`) is checked by :func:`check_identity`: every value that defines the data."""
    for key, want in expected.items():
        if want is None:
            continue
        if key == "settings":
            check_identity(path, meta, want)
            continue
        if key == "base_seed":
            have = (meta.get("seed") or {}).get("entropy")
            if have != int(want):
                raise DataError(
                    f"dataset file {path}: metadata 'seed' has entropy {have!r}, expected the config's base seed "
                    f"{int(want)!r} (sampled under another seed; delete it or rerun its rule)"
                )
            seq = split_seed(int(want), str(meta.get("setting")), str(meta.get("split")))
            spawn = (meta.get("seed") or {}).get("spawn_key")
            if spawn != list(seq.spawn_key):
                raise DataError(
                    f"dataset file {path}: metadata 'seed.spawn_key' is {spawn!r}, expected {list(seq.spawn_key)!r} "
                    f"(the seed of setting {meta.get('setting')!r}, split {meta.get('split')!r}; delete it or rerun "
                    "its rule)"
                )
            continue
        have = meta.get(key)
        if isinstance(want, tuple):
            want = list(want)
        if have != want:
            raise DataError(f"dataset file {path}: metadata '{key}' is {have!r}, expected {want!r}")


def support_bounds(meta: Mapping[str, Any]) -> tuple[np.ndarray, np.ndarray]:
    """Lower and upper bounds of the values of a dataset, from its metadata; arrays broadcasting against one
    profile's ``value_shape`` (``inf`` where the support is unbounded).

    Every family and setting is non-negative; bounded above are the uniform families: single-item ``uniform``
    U[low, high], (A) U[0, 1] and (B) U[0, i] for bidder i = 1..n. (C), (D), exponential, latent, hetero and
    lognormal are unbounded above (checked for ``>= 0`` and finiteness only)."""
    shape = tuple(meta["value_shape"])
    lo, hi = np.zeros(shape), np.full(shape, np.inf)
    params = meta.get("params") or {}
    dist = meta.get("distribution")
    if meta.get("kind") == "single_item" and dist == "uniform":
        lo[...], hi[...] = float(params.get("low", 0.0)), float(params.get("high", 1.0))
    elif meta.get("kind") == "combinatorial" and dist == "A":
        hi[...] = 1.0
    elif meta.get("kind") == "combinatorial" and dist == "B":
        hi[...] = np.arange(1, shape[0] + 1, dtype=np.float64).reshape(-1, *([1] * (len(shape) - 1)))
    # float32 rounding is monotone: x in [lo, hi] gives fl(x) in [fl(lo), fl(hi)], so compare in float32
    return lo.astype(np.float32), hi.astype(np.float32)


def check_values(path: Path, meta: Mapping[str, Any], block: np.ndarray, first_row: int) -> None:
    """Raise :class:`DataError` naming the file, split and row of the first non-finite value or value outside the
    support of the dataset's distribution (:func:`support_bounds`); ``first_row`` is the block's first row."""
    where = f"dataset file {path} (split {meta.get('split')!r}, setting {meta.get('setting')!r})"
    finite = np.isfinite(block)
    if not finite.all():
        idx = np.argwhere(~finite)[0]
        raise DataError(
            f"{where}: row {first_row + int(idx[0])} holds a non-finite value {float(block[tuple(idx)])} "
            f"(at index {tuple(int(i) for i in idx[1:])})"
        )
    lo, hi = support_bounds(meta)
    bad = (block < lo) | (block > hi)
    if bad.any():
        idx = tuple(np.argwhere(bad)[0])
        low, high = (
            float(np.broadcast_to(lo, block.shape[1:])[idx[1:]]),
            float(np.broadcast_to(hi, block.shape[1:])[idx[1:]]),
        )
        raise DataError(
            f"{where}: row {first_row + int(idx[0])} holds value {float(block[idx]):.7g} at bidder {int(idx[1])}"
            f"{f', column {int(idx[2])}' if len(idx) > 2 else ''}, outside the support [{low:g}, {high:g}] of "
            f"distribution {meta.get('distribution')!r}"
        )


def _check_column(path: Path, schema: pa.Schema, meta: Mapping[str, Any]) -> int:
    if COLUMN not in schema.names:
        raise DataError(f"dataset file {path} has no column '{COLUMN}' (columns: {schema.names})")
    width = int(np.prod(meta["value_shape"]))
    ftype = schema.field(COLUMN).type
    if not (pa.types.is_fixed_size_list(ftype) and ftype.list_size == width):
        raise DataError(f"dataset file {path}: column '{COLUMN}' is {ftype}, expected fixed_size_list[{width}]")
    return width


def iter_valuations(path: str | os.PathLike, batch_rows: int = 8192, **expected: Any) -> Iterator[np.ndarray]:
    """Yield float32 blocks of at most ``batch_rows`` profiles, shaped ``(rows, *value_shape)``; memory-bounded."""
    path = Path(path)
    meta = read_metadata(path)
    check_metadata(path, meta, expected)
    shape = tuple(meta["value_shape"])
    try:
        pf = pq.ParquetFile(path, page_checksum_verification=True)
        _check_column(path, pf.schema_arrow, meta)
        seen = 0
        for batch in pf.iter_batches(batch_size=batch_rows, columns=[COLUMN]):
            flat = batch.column(0).flatten().to_numpy(zero_copy_only=False)
            block = flat.reshape((len(batch), *shape))
            check_values(path, meta, block, seen)
            seen += len(batch)
            yield block
    except (pa.ArrowException, OSError) as exc:
        raise DataError(f"dataset file {path} is truncated or corrupted: {exc}") from exc
    if seen != meta["num_rows"]:
        raise DataError(f"dataset file {path} holds {seen} profiles, its metadata says {meta['num_rows']}")


def read_valuations(path: str | os.PathLike, **expected: Any) -> ValuationSet:
    """Read a whole dataset; keyword arguments (setting, split, n, m, valuation, num_rows, ...) must match its
    metadata, else :class:`DataError` names the key. Truncated or corrupted files raise :class:`DataError` too."""
    path = Path(path)
    meta = read_metadata(path)
    blocks = list(iter_valuations(path, **expected))
    values = np.concatenate(blocks) if blocks else np.zeros((0, *meta["value_shape"]), np.float32)
    return ValuationSet(values=values, meta=meta, path=path)
