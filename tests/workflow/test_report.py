"""`snakemake --report` of the smoke tier: every final table and figure is in the report, with its caption.

The report is built from the session's shared smoke run (fixture ``smoke_run``) into a temporary zip: the archive
holds ``report/report.html`` plus one file per result under ``report/data/raw/``, so the test can check both the
embedded files (byte for byte) and the captions, categories and the workflow description the HTML carries.
"""

from __future__ import annotations

import html
import json
import re
import shutil
import zipfile
from pathlib import Path

import pytest
from snakemake_runs import run_snakemake

# Opening words of every caption, rendered (Jinja placeholders filled in from the wildcards and the config).
CAPTIONS = {
    "results/tables/table1.csv": ("Single-item auctions", "Table 1 (single-item auctions, 4 bidders): per valuation"),
    "results/tables/table2a.csv": ("Combinatorial auctions", "Table 2 (table2a) of the ZFO-VVCA paper"),
    "results/figures/single_item_sweeps.png": ("Single-item auctions", "Single-item sweeps: validation revenue"),
    "results/figures/single_item_response.png": ("Single-item auctions", "Single-item response curves:"),
    "results/figures/fig1_training_curves.png": ("Combinatorial auctions", "Figure 1: revenue during training"),
    "results/figures/fig2_case_study.png": ("Combinatorial auctions", "Figure 2: the 2x2(A) case study"),
    "results/figures/fig3_smoothing.png": ("Combinatorial auctions", "Figure 3: Rev2, the welfare"),
}


def _script_var(page: str, script_id: str, name: str):
    """The JSON value of ``var <name> = ...;`` in the report's ``<script id="<script_id>">`` block."""
    match = re.search(rf'<script id="{script_id}">\s*var {name} = (.*?);?\s*</script>', page, re.S)
    assert match, f"no `var {name}` in report.html"
    return json.loads(match.group(1))


def _text(fragment: str) -> str:
    """Plain text of an HTML fragment, whitespace collapsed."""
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", fragment)).split())


@pytest.mark.slow
def test_report_holds_every_table_and_figure_with_its_caption(smoke_run, tmp_path):
    finals = sorted(
        p.relative_to(smoke_run).as_posix()
        for pattern in ("results/tables/*.csv", "results/figures/*.png")
        for p in smoke_run.glob(pattern)
    )
    assert finals == sorted(CAPTIONS), "a final table or figure without an expected caption (or vice versa)"

    report = tmp_path / "report.zip"
    copy = tmp_path / "run"  # the shared smoke run stays read-only: other workers copy it meanwhile
    shutil.copytree(smoke_run, copy, symlinks=True)
    r = run_snakemake(copy, "--report", str(report))
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]

    with zipfile.ZipFile(report) as archive:
        page = archive.read("report/report.html").decode("utf-8")
        results = _script_var(page, "results", "results")
        categories = _script_var(page, "categories", "categories")
        assert sorted(results) == finals
        for path, (category, opening) in CAPTIONS.items():
            entry = results[path]
            caption = _text(entry["caption"])
            assert caption.startswith(opening), (path, caption[:200])
            assert "{{" not in caption and len(caption) > 150, (path, caption)
            assert entry["labels"], path
            assert any(path in files for files in categories[category].values()), (path, categories)
            # the file itself is in the archive, byte for byte
            assert archive.read(f"report/{entry['data_uri']}") == (smoke_run / path).read_bytes(), path

    description = _text(_script_var(page, "workflow-desc", "workflow_desc"))
    assert description.startswith("Learning revenue-optimal auctions: one Snakemake DAG of file targets")
    assert "base seed" in description and "{{" not in description


def test_every_caption_named_in_the_rules_exists_and_the_workflow_has_a_description(repo: Path):
    """Static check (no run): each ``caption=`` names an existing file and the workflow description is declared."""
    rules = repo / "workflow" / "rules"
    captions = [
        (smk.name, c) for smk in sorted(rules.glob("*.smk")) for c in re.findall(r'caption="([^"]+)"', smk.read_text())
    ]
    assert {Path(c).name for _, c in captions} >= {
        "table1.rst",
        "table2.rst",
        "single_item_sweeps.rst",
        "single_item_response.rst",
        "fig1.rst",
        "fig2.rst",
        "fig3.rst",
    }
    for smk, caption in captions:
        assert (rules / caption).resolve().is_file(), f"{smk}: caption {caption} missing"
    assert 'report: "report/workflow.rst"' in (repo / "workflow" / "Snakefile").read_text()
    assert (repo / "workflow" / "report" / "workflow.rst").is_file()
