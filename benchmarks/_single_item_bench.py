"""What the single-item benchmarks (``distill_budget.py``, ``regretnet_search.py``) share: their command line, the
tier's config and a family's splits, and the printed table."""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from pipeline_lib.core.configfiles import deep_merge, load_strict
from pipeline_lib.core.data import read_valuations


def parser(doc: str, variants: Sequence[str], default: Sequence[str]) -> argparse.ArgumentParser:
    """--family, --configfile (overlay over config/config.yaml), --variants, --seed, --root."""
    ap = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--family", required=True)
    ap.add_argument("--configfile", default="config/quick.yaml", help="overlay over config/config.yaml")
    ap.add_argument("--variants", nargs="+", default=list(default), choices=list(variants))
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--root", default="results")
    return ap


def family_inputs(args: argparse.Namespace, splits: Sequence[str]) -> tuple[dict[str, Any], dict, list[np.ndarray]]:
    """The tier's ``single_item`` block (overlay deep-merged as Snakemake does), the family's config and its
    ``splits`` from ``<root>/data/<family>``; one torch thread, as a pipeline job on a CPU."""
    torch.set_num_threads(1)
    config = deep_merge(load_strict("config/config.yaml"), load_strict(args.configfile) if args.configfile else {})
    si = config["single_item"]
    data = Path(args.root) / "data" / args.family
    return si, si["families"][args.family], [read_valuations(data / f"{s}.parquet").values for s in splits]


def print_table(caption: str, header: str, rows: Sequence[str]) -> None:
    """The rows again under their header, after the per-variant progress lines."""
    print(f"\n{caption}")
    print(header)
    print("\n".join(rows))
