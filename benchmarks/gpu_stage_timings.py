"""Per-stage timings of a pipeline run, from Snakemake's `benchmark:` files. One command:

    .venv/bin/python benchmarks/gpu_stage_timings.py                       # paper tier, whole DAG (GPU machine)
    .venv/bin/python benchmarks/gpu_stage_timings.py --until zfo_run       # stop after a stage (snakemake -U)
    .venv/bin/python benchmarks/gpu_stage_timings.py results/data/2x2_A/test.parquet   # named targets
    .venv/bin/python benchmarks/gpu_stage_timings.py --workdir /tmp/t --configfile tests/config/smoke.yaml \\
        --until sample_dataset                                             # a small part, on a CPU
    .venv/bin/python benchmarks/gpu_stage_timings.py --no-run              # only tabulate existing files

It runs Snakemake on the repository's Snakefile (`--cores all --resources gpu=1`, the default workflow profile
ignored so the command means the same everywhere), then reads every `benchmarks/<rule>/<wildcards>.tsv` that the
run wrote (Snakemake writes one per job of a rule with a `benchmark:` directive: wall seconds, peak RSS,
CPU time, mean load) and prints two tables: one row per job, and per rule (jobs, total, mean and max seconds,
peak RSS). Both go to CSV too (`--csv`, default `results/stage_timings.csv` and `..._by_rule.csv` in the work
directory). Where `nvidia-smi` exists, GPU utilisation and memory are sampled every 2 s during the run and
summarised (Snakemake's files hold no GPU figures). Extra Snakemake flags go after `--`, e.g. `-- -R zfo_run` to
time a stage whose outputs already exist.
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import math
import shutil
import statistics
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SNAKEFILE = REPO / "workflow" / "Snakefile"


@dataclass
class JobTiming:
    rule: str
    job: str  # the wildcard part of the benchmark path, e.g. "2x2_A/test"
    seconds: float
    max_rss_mb: float
    cpu_time_s: float
    mean_load: float
    path: str


@dataclass
class GpuSampler:
    """Polls nvidia-smi in a thread: utilisation % and memory MiB summed over the visible GPUs."""

    interval_s: float = 2.0
    samples: list[tuple[float, float]] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def start(self) -> bool:
        if shutil.which("nvidia-smi") is None:
            return False
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return True

    def _run(self) -> None:
        cmd = ["nvidia-smi", "--query-gpu=utilization.gpu,memory.used", "--format=csv,noheader,nounits"]
        while not self._stop.is_set():
            try:
                out = subprocess.run(cmd, capture_output=True, text=True, timeout=10).stdout
                rows = [[float(x) for x in line.split(",")] for line in out.strip().splitlines() if line.strip()]
                if rows:
                    self.samples.append((statistics.fmean(r[0] for r in rows), sum(r[1] for r in rows)))
            except (OSError, ValueError, subprocess.SubprocessError):
                pass
            self._stop.wait(self.interval_s)

    def stop(self) -> dict[str, float] | None:
        if self._thread is None:
            return None
        self._stop.set()
        self._thread.join(timeout=15)
        if not self.samples:
            return None
        util = [s[0] for s in self.samples]
        return {
            "gpu_util_mean_pct": statistics.fmean(util),
            "gpu_busy_fraction": sum(u > 5 for u in util) / len(util),
            "gpu_mem_peak_mib": max(s[1] for s in self.samples),
            "samples": len(self.samples),
        }


def _float(row: dict[str, str], key: str) -> float:
    value = (row.get(key) or "").strip()
    try:
        return float(value)
    except ValueError:
        return math.nan  # "-" / "NA" when the process was too short to be measured


def read_benchmarks(workdir: Path, since: float | None = None) -> list[JobTiming]:
    """Every row of every benchmarks/<rule>/**/*.tsv under ``workdir`` (modified at or after ``since``)."""
    root = workdir / "benchmarks"
    timings: list[JobTiming] = []
    for tsv in sorted(root.glob("*/**/*.tsv")):
        if since is not None and tsv.stat().st_mtime < since:
            continue
        rel = tsv.relative_to(root)
        rule, job = rel.parts[0], rel.relative_to(rel.parts[0]).with_suffix("").as_posix()
        with tsv.open(newline="") as fh:
            for i, row in enumerate(csv.DictReader(fh, delimiter="\t")):
                timings.append(
                    JobTiming(
                        rule=rule,
                        job=job if i == 0 else f"{job}#{i}",  # `benchmark: repeat(...)` writes several rows
                        seconds=_float(row, "s"),
                        max_rss_mb=_float(row, "max_rss"),
                        cpu_time_s=_float(row, "cpu_time"),
                        mean_load=_float(row, "mean_load"),
                        path=str(tsv.relative_to(workdir)),
                    )
                )
    return timings


def by_rule(timings: list[JobTiming]) -> list[dict[str, object]]:
    rows = []
    for rule in sorted({t.rule for t in timings}):
        secs = [t.seconds for t in timings if t.rule == rule and not math.isnan(t.seconds)]
        rss = [t.max_rss_mb for t in timings if t.rule == rule and not math.isnan(t.max_rss_mb)]
        rows.append(
            {
                "rule": rule,
                "jobs": sum(t.rule == rule for t in timings),
                "total_s": sum(secs),
                "mean_s": statistics.fmean(secs) if secs else math.nan,
                "max_s": max(secs, default=math.nan),
                "peak_rss_mb": max(rss, default=math.nan),
            }
        )
    return rows


def format_table(rows: list[dict[str, object]]) -> str:
    if not rows:
        return "(none)"
    cols = list(rows[0])
    cells = [[_fmt(r[c]) for c in cols] for r in rows]
    widths = [max(len(c), *(len(row[i]) for row in cells)) for i, c in enumerate(cols)]

    def line(vals: list[str]) -> str:
        return "  ".join(v.rjust(w) if i else v.ljust(w) for i, (v, w) in enumerate(zip(vals, widths, strict=True)))

    return "\n".join([line(cols), line(["-" * w for w in widths]), *(line(r) for r in cells)])


def _fmt(v: object) -> str:
    if isinstance(v, float):
        return "-" if math.isnan(v) else f"{v:.2f}"
    return str(v)


def write_csv(path: Path, rows: list[dict[str, object]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="") as fh:
        if not rows:
            return
        w = csv.DictWriter(fh, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)


def device_line() -> str:
    try:
        from pipeline_lib.core.device import describe_device

        return describe_device()
    except Exception as exc:  # noqa: BLE001 - only a label
        return f"unknown ({exc})"


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    extra: list[str] = []
    if "--" in argv:
        cut = argv.index("--")
        argv, extra = argv[:cut], argv[cut + 1 :]
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("targets", nargs="*", help="files to build (default: the whole DAG, `rule all`)")
    ap.add_argument("--until", nargs="+", default=[], metavar="RULE", help="run only up to these rules (-U)")
    ap.add_argument("--configfile", nargs="+", default=[], help="overlays over config/config.yaml")
    ap.add_argument("--workdir", type=Path, default=REPO, help="working directory (default: the repository)")
    ap.add_argument("--cores", default="all")
    ap.add_argument("--gpus", default="1", help="value of --resources gpu= (GPU jobs at once; default 1)")
    ap.add_argument("--no-run", action="store_true", help="only tabulate the benchmark files already there")
    ap.add_argument("--csv", type=Path, default=None, help="per-job CSV (default WORKDIR/results/stage_timings.csv)")
    args = ap.parse_args(argv)

    workdir = args.workdir.resolve()
    workdir.mkdir(parents=True, exist_ok=True)
    base_config = workdir / "config" / "config.yaml"
    if not base_config.exists():  # a fresh work directory: the Snakefile reads config/config.yaml from there
        base_config.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(REPO / "config" / "config.yaml", base_config)

    device = device_line()
    print(f"device: {device}   workdir: {workdir}")
    since = None
    run_info: dict[str, object] = {}
    if not args.no_run:
        cmd = [
            sys.executable,
            "-m",
            "snakemake",
            *args.targets,
            "-s",
            str(SNAKEFILE),
            "--directory",
            str(workdir),
            "--workflow-profile",
            "none",
            "--cores",
            str(args.cores),
            "--resources",
            f"gpu={args.gpus}",
        ]
        if args.until:
            cmd += ["--until", *args.until]
        if args.configfile:
            cmd += ["--configfile", *(str(Path(c).resolve()) for c in args.configfile)]
        cmd += extra
        print("running:", " ".join(cmd), flush=True)
        since = time.time() - 1.0  # benchmark files written from now on belong to this run
        sampler = GpuSampler()
        sampler.start()
        t0 = time.perf_counter()
        rc = subprocess.run(cmd, cwd=workdir).returncode
        wall = time.perf_counter() - t0
        gpu = sampler.stop()
        run_info = {"wall_s": wall, "returncode": rc, **(gpu or {})}
        print(f"\nsnakemake exited {rc} after {wall:.1f} s" + (f"; GPU: {gpu}" if gpu else ""))
        if rc != 0:
            print("the run failed: the tables below hold the jobs that finished", file=sys.stderr)

    timings = read_benchmarks(workdir, since)
    jobs = [
        {
            "rule": t.rule,
            "job": t.job,
            "seconds": t.seconds,
            "max_rss_mb": t.max_rss_mb,
            "cpu_time_s": t.cpu_time_s,
            "mean_load": t.mean_load,
        }
        for t in timings
    ]
    summary = by_rule(timings)
    print("\nper job (benchmarks/<rule>/<job>.tsv):")
    print(format_table(jobs))
    print("\nper rule:")
    print(format_table(summary))
    if run_info:
        busy = sum(t.seconds for t in timings if not math.isnan(t.seconds))
        print(f"\nrun wall time {run_info['wall_s']:.1f} s; sum of job times {busy:.1f} s")

    out = args.csv or workdir / "results" / "stage_timings.csv"
    stamp = dt.datetime.now().isoformat(timespec="seconds")
    write_csv(out, [{**j, "device": device, "measured_at": stamp} for j in jobs])
    write_csv(out.with_name(out.stem + "_by_rule.csv"), [{**s, "device": device, **run_info} for s in summary])
    print(f"\nwrote {out} and {out.with_name(out.stem + '_by_rule.csv')}")
    if not timings:
        print(
            "no benchmark files found"
            + (" written by this run (everything up to date? add -- -R RULE)" if since is not None else ""),
            file=sys.stderr,
        )
    return int(run_info.get("returncode", 0) or 0)


if __name__ == "__main__":
    sys.exit(main())
