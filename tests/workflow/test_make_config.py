"""A user's overlays through the make targets (`make run CONFIG=my.yaml`): every config file is checked before
Snakemake starts, and a syntax error or an empty overlay names its file (and line).
See docs/operations.md#config-errors.

The make targets run the repository's real Makefile in a scratch directory whose virtual environment is a stand-in:
`python` is this interpreter (the real config check runs), `snakemake` only prints its arguments, so no test
starts a workflow.
"""

from __future__ import annotations

import shutil
import subprocess
import sys

import pytest
from snakemake_runs import REPO

from pipeline_lib.core import configfiles

TIER_FILES = {"run": "config/quick.yaml", "run-cpu": "config/cpu.yaml", "report": "config/quick.yaml"}
TARGETS = ("run", "run-cpu", "run-paper", "dry-run", "report")
BAD_SYNTAX = "single_item:\n  sweep: {n_trials: 3\n  final: {seeds: [0]}\n"


@pytest.fixture
def make_dir(tmp_path):
    """A scratch copy of what the make targets read: the Makefile, config/, a stand-in virtual environment."""
    if shutil.which("make") is None:
        pytest.skip("make is not installed")
    shutil.copy(REPO / "Makefile", tmp_path / "Makefile")
    shutil.copytree(REPO / "config", tmp_path / "config")
    (tmp_path / "pyproject.toml").write_text("")
    bin_dir = tmp_path / "venv" / "bin"
    bin_dir.mkdir(parents=True)
    (bin_dir / "python").write_text(f'#!/bin/sh\nexec "{sys.executable}" "$@"\n')
    (bin_dir / "snakemake").write_text('#!/bin/sh\necho "SNAKEMAKE $*"\n')
    for exe in bin_dir.iterdir():
        exe.chmod(0o755)
    (tmp_path / "venv" / ".installed").write_text("")  # newer than pyproject.toml: make installs nothing
    return tmp_path


def make(directory, target, *overlays):
    args = ["make", "-s", "-C", str(directory), target, "VENV=venv", "GPUS=1", "CORES=1"]
    if overlays:
        args.append("CONFIG=" + " ".join(map(str, overlays)))
    return subprocess.run(args, capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize("target", TARGETS)
def test_a_syntax_error_in_an_overlay_stops_the_target_naming_file_and_line(make_dir, target):
    overlay = make_dir / "my.yaml"
    overlay.write_text(BAD_SYNTAX)
    r = make(make_dir, target, overlay)
    assert r.returncode != 0
    assert f"config file {overlay} is not valid YAML at line 3" in r.stderr, r.stderr
    assert "SNAKEMAKE" not in r.stdout  # stopped before Snakemake


@pytest.mark.parametrize("target", ["run", "dry-run"])
def test_an_empty_overlay_stops_the_target_naming_it(make_dir, target):
    empty = make_dir / "empty.yaml"
    empty.write_text("# nothing yet\n")
    r = make(make_dir, target, empty)
    assert r.returncode != 0 and f"config file {empty} is empty" in r.stderr, r.stderr
    assert "SNAKEMAKE" not in r.stdout


@pytest.mark.parametrize("target", TARGETS)
def test_overlays_reach_snakemake_after_the_tier_file_in_order(make_dir, target):
    first, second = make_dir / "a.yaml", make_dir / "b.yaml"
    first.write_text("seed: 1\n")
    second.write_text("combinatorial: {seeds: 1}\n")
    r = make(make_dir, target, first, second)
    assert r.returncode == 0, r.stderr
    assert "ok: " in r.stdout
    tier = TIER_FILES.get(target)
    expected = f"--configfile {tier} {first} {second}" if tier else f"--configfile {first} {second}"
    assert expected in r.stdout, r.stdout


def test_without_overlays_the_paper_tier_gets_no_configfile(make_dir):
    r = make(make_dir, "dry-run")
    assert r.returncode == 0, r.stderr
    assert "SNAKEMAKE -n --cores 1" in r.stdout and "--configfile" not in r.stdout


def test_a_repeated_key_in_the_tier_file_is_named_too(make_dir):
    quick = make_dir / "config" / "quick.yaml"
    quick.write_text(quick.read_text() + "seed: 3\nseed: 4\n")
    r = make(make_dir, "run")
    assert r.returncode != 0 and "config file config/quick.yaml: duplicate key 'seed'" in r.stderr, r.stderr


def test_the_cli_reports_every_bad_file_with_its_line(tmp_path, capsys):
    bad, empty, good = tmp_path / "bad.yaml", tmp_path / "empty.yaml", tmp_path / "good.yaml"
    bad.write_text(BAD_SYNTAX)
    empty.write_text("")
    good.write_text("seed: 1\n")
    assert configfiles.main([str(good), str(bad), str(empty)]) == 1
    err = capsys.readouterr().err
    assert f"config file {bad} is not valid YAML at line 3" in err
    assert f'in "{bad}", line 2' in err  # PyYAML's own marks name the file as well
    assert f"config file {empty} is empty" in err
    assert str(good) not in err
    assert configfiles.main([str(good)]) == 0
    assert configfiles.main([]) == 2


def test_the_cli_as_a_module(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text(BAD_SYNTAX)
    r = subprocess.run(
        [sys.executable, "-m", "pipeline_lib.core.configfiles", str(REPO / "config" / "config.yaml"), str(bad)],
        capture_output=True,
        text=True,
    )
    assert r.returncode == 1 and f"config file {bad} is not valid YAML at line 3" in r.stderr
