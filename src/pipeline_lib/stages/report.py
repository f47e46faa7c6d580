"""Stages of the report: Tables 1 and 2 and every figure (rules of ``workflow/rules/report.smk``).

They read metrics records, histories and models, call the pure table and figure builders of
:mod:`pipeline_lib.report` (and the computations of :mod:`pipeline_lib.vvca.case_study` for Figs. 2 and 3), and
write the files atomically.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pandas as pd

from pipeline_lib.core import io, methods
from pipeline_lib.core.data import expected_metadata, read_valuations
from pipeline_lib.core.device import get_device
from pipeline_lib.core.records import read_record
from pipeline_lib.core.seeds import vvca_run_seed
from pipeline_lib.report import figures_single_item, figures_zfo, table1, table2
from pipeline_lib.single_item.evaluation.evaluator import misreport_upper
from pipeline_lib.single_item.mechanisms.baselines import correct_baseline
from pipeline_lib.single_item.mechanisms.myerson import optimal_revenue_for
from pipeline_lib.single_item.mechanisms.nets import AsMechanism, model_from_payload
from pipeline_lib.single_item.mechanisms.priors import support_upper
from pipeline_lib.stages.single_item_learned import deployments, load_learned
from pipeline_lib.stages.single_item_models import read_model
from pipeline_lib.vvca import case_study
from pipeline_lib.vvca.bids import BidSource
from pipeline_lib.vvca.config import TrainConfig

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class TableFiles:
    """The three renderings of a table."""

    csv: str
    md: str
    tex: str

    def write(self, csv: str, md: str, tex: str) -> None:
        io.write_text(self.csv, csv)
        io.write_text(self.md, md)
        io.write_text(self.tex, tex)


def table1_stage(records: Sequence[str], out: TableFiles, *, families: Mapping[str, Mapping[str, Any]]) -> pd.DataFrame:
    """Rule ``table1``: every single-item evaluation record, grouped by family (``families``: name ->
    {distribution, n_bidders}, in table order); learned seeds first, then the baselines."""
    grouped = {name: {**spec, "learned": {}, "baselines": []} for name, spec in families.items()}
    for path in records:
        payload = io.read_json(path)
        read_record(payload, str(path))  # names the file of a malformed or non-finite record
        family, method = payload.get("setting"), payload.get("method")
        if family not in grouped:
            raise ValueError(f"{path}: record of family {family!r}, not one of {list(grouped)}")
        if methods.METHODS.get(method) and methods.method(method).category == "Learned":
            grouped[family]["learned"].setdefault(method, []).append(payload)
        else:
            grouped[family]["baselines"].append(payload)
    table = table1.build_table(grouped)
    out.write(*table1.render(table))
    return table


def table2_stage(
    records: Sequence[str],
    out: TableFiles,
    *,
    table: str,
    settings: Sequence[str],
    skipped: Mapping[str, Mapping[str, str]] | None = None,
    table3: Mapping[str, Mapping[str, Any]] | None = None,
) -> pd.DataFrame:
    """Rule ``table2``: Table 2(a) or 2(b) from the run and baseline records of its active settings; ``skipped``
    ({method: {setting: reason}}) are shown as not run, with the reason in a footnote; ``table3`` ({setting:
    {iterations, batch_size}}) marks the Algorithm 3 runs trained below the paper's budget."""
    frame = table2.records_frame(((str(path), io.read_json(path)) for path in records), table3)
    long = table2.summarise(frame, table, settings, skipped)
    out.write(*table2.render(long, table, settings))
    return long


def single_item_figures(
    inputs: Sequence[str], roles: Sequence[Sequence[str]], outputs: Mapping[str, str], *,
    families: Mapping[str, Mapping[str, Any]], data_check: Mapping[str, Any], budget: float | None = None,
) -> None:  # fmt: skip
    """Rule ``single_item_figures``: sweep trials of every learned method (revenue vs measured regret, with the
    regret budget) and every learned mechanism's response curves against Myerson. ``roles[k] = (family, role,
    method)`` of ``inputs[k]``, role one of ``trials``, ``model``, ``history`` (a training run's validation path),
    ``test``."""
    trials: dict[str, dict[str, Any]] = {f: {} for f in families}
    models: dict[str, dict[str, Any]] = {f: {} for f in families}
    paths: dict[str, dict[str, pd.DataFrame]] = {f: {} for f in families}
    tests: dict[str, str] = {}
    for path, (fam, role, method) in zip(inputs, roles, strict=True):
        if role == "trials":
            trials[fam][method] = io.read_json(path)
        elif role == "history":
            paths[fam][method] = io.read_parquet(path)
        elif role == "model":
            models[fam][method] = path
        else:
            tests[fam] = path
    specs, optima = {}, {}
    for fam, family_cfg in families.items():
        values = read_valuations(tests[fam], setting=fam, **expected_metadata(data_check, "test")).values
        ref = correct_baseline(dict(family_cfg), values.shape[1])
        learned = {}
        for method, path in models[fam].items():
            payload = read_model(path, "single_item_net" if method == "learned" else method, family=fam)
            if method == "learned":
                learned["report's net"] = AsMechanism(model_from_payload(payload)[0])
            else:
                mechs = [load_learned(payload, d) for d in deployments(payload)]
                learned.update({mech.name: mech for mech in mechs})
        specs[fam] = {
            "learned": learned, "reference": ref, "reference_name": ref.name, "values": values,
            "upper": misreport_upper(values, support_upper(dict(family_cfg), values.shape[1]), 1.0),
        }  # fmt: skip
        optima[fam] = optimal_revenue_for(dict(family_cfg), values.shape[1])
    sweeps = figures_single_item.plot_sweeps(trials, optima, budget, paths)
    io.save_figure(sweeps, outputs["sweep_png"], outputs["sweep_pdf"])
    io.save_figure(figures_single_item.plot_responses(specs), outputs["response_png"], outputs["response_pdf"])


def figure1_zfo(
    histories: Sequence[str], out_png: str, out_pdf: str, *, runs: Sequence[Sequence[str]], settings: Sequence[str]
) -> None:
    """Rule ``figure1_zfo``: training curves; ``runs[k] = (setting, method)`` of ``histories[k]``."""
    frames: dict[tuple[str, str], list[pd.DataFrame]] = {}
    for path, (setting, method) in zip(histories, runs, strict=True):
        frames.setdefault((setting, method), []).append(io.read_parquet(path))
    io.save_figure(figures_zfo.figure1(frames, settings), out_png, out_pdf)


def _source(path: str, setting: str, split: str, data_check: Mapping[str, Any], rows: int | None = None) -> BidSource:
    vs = read_valuations(path, setting=setting, **expected_metadata(data_check, split))
    if rows is not None:
        vs.values = vs.values[:rows]
    return BidSource.from_valuation_set(vs, get_device())


def figure2_zfo(
    train_path: str, val_path: str, outputs: Mapping[str, str], *, spec: Mapping[str, Any], data_check: Mapping
) -> None:
    """Rule ``figure2_zfo``: train the tied ZFO-VVCA, then Rev / Rev1 / Rev2 on a grid of the first
    ``n_profiles`` validation profiles covering the trajectory; writes the figure and both data tables."""
    setting = spec["setting"]
    source = _source(train_path, setting, "train", data_check)
    val = _source(val_path, setting, "val", data_check, int(spec["n_profiles"]))
    if source.values.shape[1] != 2 or val.bids(slice(0, 1)).shape[-1] != 4:
        raise ValueError(f"the Fig. 2 case study needs a 2x2 setting, got {setting}")
    seed_seq = vvca_run_seed(spec["base_seed"], setting, spec["seed"])
    trajectory = case_study.case_study_trajectory(source, TrainConfig(**spec["config"]), seed_seq)
    xs, ys = case_study.grid_axes(trajectory, spec["extent"], int(spec["grid_points"]))
    surface = case_study.case_study_surfaces(val.bids(slice(None)), xs, ys)
    io.write_parquet(trajectory, outputs["trajectory"])
    io.write_parquet(surface, outputs["surface"])
    io.save_figure(figures_zfo.plot_case_study(surface, trajectory, setting), outputs["png"], outputs["pdf"])


def figure3_zfo(data_path: str, outputs: Mapping[str, str], *, spec: Mapping[str, Any], data_check: Mapping) -> None:
    """Rule ``figure3_zfo``: Rev2 and Rev2_sigma along one boost on the first ``n_profiles`` validation profiles."""
    setting, bidder, bundle = spec["setting"], int(spec["bidder"]), int(spec["bundle"])
    bids = _source(data_path, setting, "val", data_check, int(spec["n_profiles"])).bids(slice(None))
    m = bids.shape[-1].bit_length() - 1
    if not (0 <= bidder < bids.shape[1] and 0 <= bundle < bids.shape[-1]):
        raise ValueError(f"bidder {bidder} / bundle {bundle} out of range for {setting}")
    curves = case_study.smoothing_curves(
        bids, bidder, bundle, float(spec["low"]), float(spec["high"]), int(spec["points"]), spec["sigmas"]
    )
    io.write_parquet(curves, outputs["curves"])
    label = f"boost {figures_zfo.describe_boost(bidder, bundle, m)} ({setting}, {spec['n_profiles']} profiles)"
    io.save_figure(figures_zfo.plot_smoothing(curves, label), outputs["png"], outputs["pdf"])
