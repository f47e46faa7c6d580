"""Running the workflow CLI in a subprocess with a pinned profile and config: the helpers the workflow tests share.

A module of its own (not ``conftest``): pytest imports every ``conftest.py`` under the name ``conftest``, so helpers
imported ``from conftest`` break as soon as a sub-directory has fixtures of its own.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SMOKE = REPO / "tests" / "config" / "smoke.yaml"
SNAKEMAKE = [sys.executable, "-m", "snakemake"]


def snakemake_command(workdir: Path, *args: str, configfiles: tuple[Path, ...] = (SMOKE,)) -> list[str]:
    """The command line of :func:`run_snakemake`: the repository's Snakefile in ``workdir``, no workflow profile,
    2 cores, one gpu slot, ``configfiles`` as overlays."""
    cmd = [
        *SNAKEMAKE,
        *args,  # targets first: --resources and --configfile take several values
        "-s",
        str(REPO / "workflow" / "Snakefile"),
        "--directory",
        str(workdir),
        "--workflow-profile",
        "none",
        "--cores",
        "2",
        "--resources",
        "gpu=1",
    ]
    if configfiles:
        cmd += ["--configfile", *map(str, configfiles)]
    return cmd


def run_snakemake(
    workdir: Path, *args: str, configfiles: tuple[Path, ...] = (SMOKE,), base_config: str | None = None
) -> subprocess.CompletedProcess:
    """Run snakemake on the repository's Snakefile with ``workdir`` as working directory.

    The paper-tier config/config.yaml is always the base (copied into workdir so the Snakefile finds it; or the text
    ``base_config``); overlays in ``configfiles`` are deep-merged over it, exactly as a user's ``--configfile`` would
    be.
    """
    cfg_dir = workdir / "config"
    cfg_dir.mkdir(parents=True, exist_ok=True)
    base = (REPO / "config" / "config.yaml").read_text() if base_config is None else base_config
    # Atomically: a test copying this directory meanwhile (another worker) never sees a truncated file.
    staged = cfg_dir / f".config.yaml.{os.getpid()}"
    staged.write_text(base)
    os.replace(staged, cfg_dir / "config.yaml")
    cmd = snakemake_command(workdir, *args, configfiles=configfiles)
    return subprocess.run(cmd, capture_output=True, text=True, cwd=workdir)


def filled_config(*overlays: dict) -> dict:
    """config/config.yaml with ``overlays`` deep-merged over it and the schema's defaults filled in: the config the
    workflow's rules see (``validate`` in workflow/rules/common.smk); neither the file nor an overlay is changed."""
    import yaml
    from snakemake.utils import validate

    from pipeline_lib.core.configfiles import deep_merge

    config = yaml.safe_load((REPO / "config" / "config.yaml").read_text())
    for overlay in overlays:
        config = deep_merge(config, overlay)
    validate(config, schema=str(REPO / "workflow" / "schemas" / "config.schema.yaml"))
    return config


def job_counts(output: str) -> dict[str, int]:
    """Parse the 'Job stats' table snakemake prints into {rule: count}."""
    if "Job stats:" not in output:
        return {}
    table = output.split("Job stats:", 1)[1]
    return {m[1]: int(m[2]) for m in re.finditer(r"^(\w+)\s+(\d+)\s*$", table, re.M) if m[1] != "total"}
