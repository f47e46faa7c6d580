"""The SLURM profile on a real (one-node) SLURM cluster started by the test.

``slurm_cluster.sh`` installs Debian's slurm-wlm daemons and munge when missing, and starts munged, slurmctld and
slurmd with all state in a temporary directory. The node is this machine (real CPU count and memory) and is in two
partitions, ``cpu`` and ``gpu``, with stand-in ``gpu`` generic resources (one per CPU), so the profile's partitions
and its ``gpu: 1`` requests (sbatch ``--gpus=1``) are submitted unchanged. For this node the test runs the profile
through :func:`node_overlay`, which changes only what a two-core laptop-sized node cannot give or what makes a
test slow:

* ``mem_mb`` of every rule capped at the node's memory divided by its CPUs (the profile asks for up to 32 GB);
* ``max-threads`` = the node's CPUs (a rule's ``threads`` become ``--cpus-per-task``);
* job status read with ``squeue`` (no accounting database, so no ``sacct``), polled every 2 s, no account
  lookup (``slurm-no-account``), no resubmission (``retries: 0``) so a failure shows at once.

Skipped, with the reason, where the cluster cannot start: not root, apt unavailable, or a daemon failing. Set
``PIPELINE_REQUIRE_INTEGRATION=1`` to turn those skips into failures.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
PROFILE = REPO / "workflow" / "profiles" / "slurm" / "config.yaml"
CLUSTER = Path(__file__).with_name("slurm_cluster.sh")
SMOKE = REPO / "tests" / "config" / "smoke.yaml"
SMOKE_SLURM = Path(__file__).with_name("slurm_smoke.yaml")
# The rules the profile sends to the GPU partition with a GPU.
GPU_RULES = tuple(rule for rule, res in yaml.safe_load(PROFILE.read_text())["set-resources"].items() if res.get("gpu"))


def _skip_or_fail(reason: str):
    if os.environ.get("PIPELINE_REQUIRE_INTEGRATION") == "1":
        pytest.fail(reason)
    pytest.skip(reason)


@pytest.fixture(scope="module")
def slurm(tmp_path_factory):
    """A running one-node cluster; yields the environment (SLURM_CONF set) and the node's CPUs and memory."""
    if os.geteuid() != 0:
        _skip_or_fail("SLURM test needs root (slurmd runs jobs as the submitting user; apt-get installs slurm)")
    if shutil.which("bash") is None:
        _skip_or_fail("bash not found")
    inst = subprocess.run(["bash", str(CLUSTER), "install"], capture_output=True, text=True, timeout=600)
    if inst.returncode != 0:
        _skip_or_fail(f"cannot install slurm-wlm/munge: {inst.stderr.strip() or inst.stdout.strip()}")
    state = tmp_path_factory.mktemp("slurm")
    start = subprocess.run(["bash", str(CLUSTER), "start", str(state)], capture_output=True, text=True, timeout=120)
    try:
        if start.returncode != 0:
            _skip_or_fail(f"one-node SLURM cluster did not start: {start.stderr.strip() or start.stdout.strip()}")
        # As `. STATE/env` would: SLURM_CONF, and the srun wrapper (see slurm_cluster.sh) first on PATH.
        env = dict(os.environ, SLURM_CONF=str(state / "slurm.conf"), PATH=f"{state / 'bin'}:{os.environ['PATH']}")
        info = subprocess.run(
            ["sinfo", "-h", "-p", "cpu", "-o", "%c %m"], env=env, capture_output=True, text=True, check=True
        )
        cpus, mem = (int(x) for x in info.stdout.split()[:2])
        yield {"env": env, "cpus": cpus, "mem_mb": mem, "state": state}
    finally:
        subprocess.run(["bash", str(CLUSTER), "stop", str(state)], capture_output=True, text=True, timeout=60)


def node_overlay(dst: Path, cpus: int, mem_mb: int) -> Path:
    """The repository's SLURM profile with the one-node changes listed in the module docstring; returns its folder."""
    prof = yaml.safe_load(PROFILE.read_text())
    cap = mem_mb // cpus
    for res in (prof["default-resources"], *prof["set-resources"].values()):
        if "mem_mb" in res:
            res["mem_mb"] = min(int(res["mem_mb"]), cap)
    prof.update(
        {
            "max-threads": cpus,
            "slurm-status-command": "squeue",
            "slurm-init-seconds-before-status-checks": 2,
            "slurm-no-account": True,
            "retries": 0,
            "latency-wait": 5,
        }
    )
    dst.mkdir(parents=True, exist_ok=True)
    (dst / "config.yaml").write_text(yaml.safe_dump(prof, sort_keys=False))
    return dst


def slurm_jobs(env: dict) -> list[dict[str, str]]:
    """Every job the controller still knows (MinJobAge is an hour), as `scontrol show job` fields: JobId,
    Partition, JobState, Comment (the plugin's `rule_<name>...`), TresPerJob (what was asked: `gres:gpu:1`)."""
    out = subprocess.run(["scontrol", "show", "job", "-o"], env=env, capture_output=True, text=True, check=True).stdout
    return [dict(re.findall(r"(\S+?)=(\S*)", line)) for line in out.splitlines() if line.startswith("JobId=")]


def run(cmd: list[str], env: dict, cwd: Path, timeout: int) -> subprocess.CompletedProcess:
    r = subprocess.run(cmd, env=env, cwd=cwd, capture_output=True, text=True, timeout=timeout)
    (cwd / "snakemake.out").write_text(r.stdout + r.stderr)
    return r


def _workflow_rules() -> dict[str, bool]:
    """Every rule of workflow/rules/*.smk -> whether it declares the `gpu` resource, and whether it is local."""
    rules: dict[str, bool] = {}
    local: set[str] = set()
    for smk in sorted((REPO / "workflow" / "rules").glob("*.smk")):
        lines = smk.read_text().splitlines()
        for k, line in enumerate(lines):
            m = re.match(r"([ \t]*)rule (\w+):$", line)
            if not m:
                continue
            body = []  # the rule's lines: those indented deeper than `rule` (a rule may sit under an `if`)
            for nxt in lines[k + 1 :]:
                if nxt.strip() and len(nxt) - len(nxt.lstrip()) <= len(m[1]):
                    break
                body.append(nxt)
            text = "\n".join(body)
            rules[m[2]] = bool(re.search(r"^\s+gpu=", text, re.M))
            if re.search(r"^\s+localrule: True", text, re.M):
                local.add(m[2])
    return {name: gpu for name, gpu in rules.items() if name not in local}


def test_profile_covers_exactly_the_workflows_cluster_rules():
    """Cheap (runs in `make test`): every rule named in the profile exists, every GPU rule of the workflow is
    sent to the gpu partition with a GPU, and no CPU rule asks for one. Fails when a rule is renamed or added
    without updating workflow/profiles/slurm/config.yaml."""
    rules = _workflow_rules()
    profile = yaml.safe_load(PROFILE.read_text())["set-resources"]
    assert set(profile) <= set(rules), f"profile names rules the workflow lacks: {sorted(set(profile) - set(rules))}"
    for name, gpu in rules.items():
        res = profile.get(name, {})
        if gpu:
            assert res.get("slurm_partition") == "gpu" and res.get("gpu") == 1, f"GPU rule {name}: {res}"
        else:
            assert not res.get("gpu") and res.get("slurm_partition", "cpu") == "cpu", f"CPU rule {name}: {res}"
        if name in profile:
            assert {"mem_mb", "runtime"} <= set(res), f"{name}: memory and wall time belong in the profile"


@pytest.mark.integration
def test_smoke_config_runs_to_completion_through_the_slurm_profile(slurm, tmp_path):
    """The smoke config, narrowed to one setting per part (tests/integration/slurm_smoke.yaml: every rule still
    runs, half the jobs), through the profile: every non-local job is an sbatch job that completes, GPU rules in
    partition `gpu` with one GPU, the others in `cpu`; a second run has nothing to do."""
    wd = tmp_path / "run"
    (wd / "config").mkdir(parents=True)
    shutil.copy(REPO / "config" / "config.yaml", wd / "config" / "config.yaml")
    prof = node_overlay(tmp_path / "profile", slurm["cpus"], slurm["mem_mb"])
    base = [
        sys.executable,
        "-m",
        "snakemake",
        "-s",
        str(REPO / "workflow" / "Snakefile"),
        "--directory",
        str(wd),
        "--workflow-profile",
        str(prof),
        "--configfile",
        str(SMOKE),
        str(SMOKE_SLURM),
    ]
    plan = run([*base, "-n"], slurm["env"], wd, 120)
    assert plan.returncode == 0, (plan.stdout + plan.stderr)[-4000:]
    table = (plan.stdout + plan.stderr).split("Job stats:", 1)[1]
    planned = {m[1] for m in re.finditer(r"^(\w+)\s+\d+\s*$", table, re.M)} - {"total"}
    before = {j["JobId"] for j in slurm_jobs(slurm["env"])}
    r = run(base, slurm["env"], wd, 1200)  # 6.5 min measured at load average 7 on 2 cores; ~3 min idle (est.)
    assert r.returncode == 0, (r.stdout + r.stderr)[-4000:]
    jobs = [j for j in slurm_jobs(slurm["env"]) if j["JobId"] not in before]
    assert jobs, "no job went through SLURM"
    assert all(j["JobState"] == "COMPLETED" for j in jobs), jobs
    ran = {re.match(r"rule_(.+?)(_wildcards_|$)", j["Comment"])[1] for j in jobs}
    cluster_rules = planned & set(_workflow_rules())  # the planned rules that are not local
    assert ran == cluster_rules, f"submitted {sorted(ran)}, planned {sorted(cluster_rules)}"
    for j in jobs:
        rule = re.match(r"rule_(.+?)(_wildcards_|$)", j["Comment"])[1]
        want = ("gpu", "gres:gpu:1") if rule in GPU_RULES else ("cpu", None)
        assert (j["Partition"], j.get("TresPerJob")) == want, (rule, j)
    again = run([*base, "-n"], slurm["env"], wd, 120)
    assert again.returncode == 0 and "Nothing to be done" in again.stdout + again.stderr, again.stdout[-2000:]
