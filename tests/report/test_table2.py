"""Table 2(a)/(b): aggregation over seeds, the paper's values beside ours, footnotes, and the three file formats."""

from __future__ import annotations

import json
import math
import statistics

import pandas as pd
import pytest

from pipeline_lib.core.records import RecordError
from pipeline_lib.report import paper_values, table2
from pipeline_lib.stages.report import TableFiles, table2_stage

RUNS = {  # (setting, method) -> revenues of seeds 0, 1, 2
    ("2x2_A", "zfo_vvca"): [0.80, 0.85, 0.83],
    ("2x2_A", "fo_vvca"): [0.78, 0.77, 0.79],
    ("2x2_A", "bbbvvca"): [0.70, 0.75, 0.72],
    ("2x2_D", "zfo_vvca"): [2.70, 2.66, 2.68],
    ("2x2_A", "lottery_ama"): [0.86, 0.87, 0.865],
}
BASELINES = {("2x2_A", "vcg"): 0.6667, ("2x2_A", "item_myerson"): 0.8333, ("2x2_D", "vcg"): 2.45}


def write_files(tmp_path):
    runs, baselines = [], []
    for (setting, method), values in RUNS.items():
        for seed, value in enumerate(values):
            path = tmp_path / "combinatorial" / setting / method / f"seed{seed}" / "metrics.json"
            path.parent.mkdir(parents=True)
            record = {
                "setting": setting, "method": method, "seed": seed, "approximate": method == "bbbvvca",
                "test_revenue": {"mean": value, "se": 0.01, "n_profiles": 100},
            }  # fmt: skip
            path.write_text(json.dumps(record))
            runs.append(path)
    for (setting, baseline), value in BASELINES.items():
        path = tmp_path / "baselines" / setting / f"{baseline}.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        record = {"setting": setting, "method": baseline, "seed": 0, "test_revenue": {"mean": value}}
        path.write_text(json.dumps(record))
        baselines.append(path)
    return runs, baselines


@pytest.fixture
def built(tmp_path):
    runs, baselines = write_files(tmp_path)
    out = {ext: tmp_path / f"table2a.{ext}" for ext in ("csv", "md", "tex")}
    long = table2_stage([*runs, *baselines], TableFiles(**out), table="table2a", settings=["2x2_A", "2x2_D"])
    return long, out


def test_paper_values_are_the_published_table():
    assert paper_values.paper_value("zfo_vvca", "2x2_A") == 0.8284
    assert paper_values.paper_value("zfo_vvca", "5x10_B") == 24.3465
    assert paper_values.paper_value("amenunet", "3x10_A") == 5.5986
    assert paper_values.paper_value("lottery_ama", "2x2_D") is None
    assert paper_values.paper_value("item_myerson", "3x10_D") is None
    assert len(paper_values.PAPER_REVENUE) == 7 * 12
    assert paper_values.table_of("5x3_B") == "table2a" and paper_values.table_of("3x10_B") == "table2b"


def test_long_csv_has_mean_sample_std_seeds_and_paper_value_per_method_and_setting(built):
    long, out = built
    on_disk = pd.read_csv(out["csv"])
    assert len(on_disk) == len(long) == len(RUNS) + len(BASELINES)
    for (setting, method), values in RUNS.items():
        row = on_disk[(on_disk.setting == setting) & (on_disk.method == method)].iloc[0]
        assert row.revenue_mean == pytest.approx(statistics.mean(values), abs=1e-6)
        assert row.revenue_std == pytest.approx(statistics.stdev(values), abs=1e-6)
        assert row.n_seeds == 3
        paper = paper_values.paper_value(method, setting)
        assert (pd.isna(row.paper_value) and paper is None) or row.paper_value == pytest.approx(paper)
    vcg = on_disk[(on_disk.setting == "2x2_A") & (on_disk.method == "vcg")].iloc[0]
    assert vcg.revenue_mean == pytest.approx(0.6667) and vcg.n_seeds == 1 and pd.isna(vcg.revenue_std)
    bbb = on_disk[on_disk.method == "bbbvvca"].iloc[0]
    assert bool(bbb.approximate) and bbb.category == "Deterministic"
    assert on_disk[on_disk.method == "lottery_ama"].iloc[0].category == "Randomized"


def test_rows_follow_the_papers_method_order(built):
    long, _ = built
    order = list(dict.fromkeys(long["method"]))
    assert order == ["lottery_ama", "vcg", "item_myerson", "bbbvvca", "fo_vvca", "zfo_vvca"]


def test_markdown_is_methods_by_settings_with_paper_values_and_footnotes(built):
    _, out = built
    md = out["md"].read_text()
    lines = [line for line in md.splitlines() if line.startswith("|")]
    header = [c.strip() for c in lines[0].strip("|").split("|")]
    assert header == ["Category", "Method", "2x2(A) ours", "2x2(A) paper", "2x2(D) ours", "2x2(D) paper"]
    zfo = next(line for line in lines if "ZFO-VVCA" in line)
    cells = [c.strip() for c in zfo.strip("|").split("|")]
    mean, std = statistics.mean(RUNS[("2x2_A", "zfo_vvca")]), statistics.stdev(RUNS[("2x2_A", "zfo_vvca")])
    assert cells[2] == f"{mean:.4f} ± {std:.4f}" and cells[3] == "0.8284"
    lottery = [c.strip() for c in next(line for line in lines if "Lottery" in line).strip("|").split("|")]
    assert lottery[4:] == ["-", "-"]  # (D): not run, not reported
    assert "Item-Myerson (a)" in md and "BBBVVCA (approx.) (b)" in md
    assert "below VCG" in md and "approximate re-implementation" in md


def test_latex_is_a_complete_booktabs_table_with_two_columns_per_setting(built):
    _, out = built
    tex = out["tex"].read_text()
    assert tex.count(r"\begin{tabular}{llrrrr}") == 1 and r"\end{table}" in tex
    body = tex.split(r"\midrule", 1)[1].split(r"\bottomrule", 1)[0].strip().splitlines()
    assert len(body) == 6 and all(row.count("&") == 5 and row.endswith(r"\\") for row in body)
    assert r"$\pm$" in tex and r"Item-Myerson\textsuperscript{a}" in tex and "_" not in tex.replace(r"\_", "")


def test_settings_outside_the_table_are_left_out(tmp_path):
    runs, baselines = write_files(tmp_path)
    frame = table2.records_frame((str(p), json.loads(p.read_text())) for p in [*runs, *baselines])
    long = table2.summarise(frame, "table2a", ["2x2_D"])
    assert set(long["setting"]) == {"2x2_D"} and set(long["method"]) == {"zfo_vvca", "vcg"}


def test_a_record_without_revenue_is_an_error_naming_the_file():
    with pytest.raises(RecordError, match=r"run\.json.*test_revenue"):
        table2.records_frame([("run.json", {"setting": "2x2_A", "method": "vcg", "seed": 0})])
    with pytest.raises(RecordError, match="not finite"):
        table2.records_frame(
            [("run.json", {"setting": "2x2_A", "method": "vcg", "seed": 0, "test_revenue": {"mean": float("nan")}})]
        )


def test_a_method_skipped_for_its_size_shows_the_reason(tmp_path):
    """A method that lists every allocation and is not run on a large setting is a 'not run (d)' cell with the
    reason of the registry in the footnote, never a silent gap."""
    from pipeline_lib.core import methods

    runs, baselines = write_files(tmp_path)
    reason = methods.skip_reason("zfo_ama", "A", 3, 10, 4096)
    assert reason is not None and "1,048,576" in reason
    assert methods.skip_reason("zfo_ama", "A", 2, 5, 4096) is None
    out = {ext: tmp_path / f"table2b.{ext}" for ext in ("csv", "md", "tex")}
    table2_stage(
        [*runs, *baselines], TableFiles(**out), table="table2a", settings=["2x2_A", "2x2_D"],
        skipped={"zfo_ama": {"2x2_D": reason}},
    )  # fmt: skip
    md = out["md"].read_text()
    row = next(line for line in md.splitlines() if line.startswith("| Deterministic (ours) | Deterministic AMA, every"))
    assert "not run (d)" in row
    assert f"(d) Not run: Deterministic AMA, every allocation (ZFO) on 2x2(D): {reason}." in md


def test_a_reduced_budget_row_gives_its_budget_in_the_footnote(tmp_path):
    """Rows trained below the paper's budget are marked (c) and the footnote states each one's steps, batch and
    menu size, read from the runs' own records."""
    runs, _ = write_files(tmp_path)
    for path in runs:
        record = json.loads(path.read_text())
        if record["method"] == "lottery_ama":
            record.update(reduced_budget=True, config={"steps": 2000, "batch_size": 1024, "menu_size": 32})
            path.write_text(json.dumps(record))
    long = table2.summarise(
        table2.records_frame((str(p), json.loads(p.read_text())) for p in runs), "table2a", ["2x2_A"]
    )
    md = table2.to_markdown(long, ["2x2_A"], "t")
    assert "| Lottery AMA (c) |" in md
    assert "Budgets: Lottery AMA: 2,000 steps of 1,024 profiles, menu 32 (2x2(A))." in md


@pytest.mark.parametrize(
    ("val", "stalled"),
    [
        ((0.861, 0.7613, 0.8597), "seed 1 (0.7613 against 0.8610)"),  # quick tier's AMenuNet on 2x2(A)
        ((0.861, 0.83, 0.8597), ""),  # 3.6% below the best: not a stall
        ((0.861, None, 0.70), "seed 2 (0.7000 against 0.8610)"),  # a record without one is left out
        ((0.861, None, None), ""),  # one seed with a validation revenue: nothing to compare
    ],
)
def test_a_seed_far_below_its_row_on_validation_is_reported_as_stalled(tmp_path, val, stalled):
    """A seed whose validation revenue is more than 5% below its row's best seed's is named in footnote (e), with
    both revenues, and the row is marked; it stays in the mean (reported, not silently averaged or dropped)."""
    runs, _ = write_files(tmp_path)
    lottery = sorted((p for p in runs if "/lottery_ama/" in str(p) and "/2x2_A/" in str(p)), key=str)
    for path, v in zip(lottery, val, strict=True):
        record = json.loads(path.read_text())
        path.write_text(json.dumps({**record, **({} if v is None else {"val_revenue": v})}))
    long = table2.summarise(
        table2.records_frame((str(p), json.loads(p.read_text())) for p in runs), "table2a", ["2x2_A"]
    )
    row = long[(long["method"] == "lottery_ama") & (long["setting"] == "2x2_A")].iloc[0]
    assert row["stalled"] == stalled and row["n_seeds"] == len(val)
    md = table2.to_markdown(long, ["2x2_A"], "t")
    marked = any(line.startswith("| ") and "Lottery AMA (e)" in line for line in md.splitlines())
    assert marked == bool(stalled)
    assert (f"Lottery AMA on 2x2(A): {stalled}." in md) == bool(stalled)
    assert ("(e) A seed whose validation revenue is more than 5% below" in md) == bool(stalled)


def test_the_stall_check_reads_the_validation_revenue_of_the_deployed_parameters():
    """An Algorithm 3 run selected on validation deployed its best iterate (``best_val_revenue``; ``val_revenue`` is
    its last one's, lower where the method declines late, as BBBVVCA does); a randomized run records its selected
    menu's as ``val_revenue``."""
    algorithm3 = {"val_revenue": 0.93, "best_val_revenue": 2.59, "config": {"selection": "best_val"}}
    assert table2.deployed_val_revenue(algorithm3) == 2.59
    assert table2.deployed_val_revenue({**algorithm3, "config": {"selection": "last"}}) == 0.93
    assert table2.deployed_val_revenue({"val_revenue": 0.86, "config": {"steps": 500}}) == 0.86
    assert math.isnan(table2.deployed_val_revenue({"config": {}}))


def test_a_randomized_budget_says_how_many_starts_each_seed_took():
    """A run of several initialisations per seed (the best on validation kept) says so in its budget."""
    config = {"steps": 2000, "batch_size": 1024, "menu_size": 32}
    assert table2.training_budget({"config": config}) == "2,000 steps of 1,024 profiles, menu 32"
    assert table2.training_budget({"config": {**config, "restarts": 1}}) == "2,000 steps of 1,024 profiles, menu 32"
    assert (
        table2.training_budget({"config": {**config, "restarts": 3}})
        == "2,000 steps of 1,024 profiles, menu 32, best of 3 starts on validation"
    )


def test_an_algorithm3_run_below_table3_is_marked_reduced_with_its_budget(tmp_path):
    """A VVCA or AMA run whose record says fewer iterations (or smaller batches) than the paper's Table 3 for its
    setting is marked (c) with 'I iterations of B profiles (Table 3: ...)'; at Table 3's budget it is not."""
    runs, _ = write_files(tmp_path)
    for path in runs:
        record = json.loads(path.read_text())
        if record["method"] == "zfo_vvca":
            record["config"] = {"iterations": 1000, "batch_size": 1024, "method": "zfo_vvca"}
            path.write_text(json.dumps(record))
    payloads = [(str(p), json.loads(p.read_text())) for p in runs]
    paper = {"2x2_A": {"iterations": 2000, "batch_size": 1024}}
    md = table2.to_markdown(
        table2.summarise(table2.records_frame(payloads, paper), "table2a", ["2x2_A"]), ["2x2_A"], "t"
    )
    assert "| ZFO-VVCA (c) |" in md
    assert "ZFO-VVCA: 1,000 of Table 3's 2,000 iterations (2x2(A))" in md
    at_paper = {"2x2_A": {"iterations": 1000, "batch_size": 1024}}
    md = table2.to_markdown(
        table2.summarise(table2.records_frame(payloads, at_paper), "table2a", ["2x2_A"]), ["2x2_A"], "t"
    )
    assert "| ZFO-VVCA |" in md and "(c)" not in md.split("ZFO-VVCA", 1)[1].split("|", 1)[0]
