"""One Optuna worker process for the storage concurrency tests (tests/test_optuna_storage.py and
tests/integration/test_postgres_storage.py): loads an existing study, waits for the start signal so that all
workers overlap, runs :func:`pipeline_lib.core.optuna_storage.run_worker` on a cheap objective, and appends one line
per objective evaluation to a shared record file (O_APPEND, one write per line: lines of concurrent writers do
not interleave).

    python optuna_worker.py --kind journal --path study.journal --study s --n-total 40 --owner w0 \
        --record evals.txt --ready ready.w0 --go go [--sleep 0.02] [--hang-at K]

``--hang-at K``: when this worker is handed trial number K it writes ``<ready>.hung`` and sleeps forever (the
test kills it, leaving trial K RUNNING, as a killed SLURM job would).

The tests import :func:`start_workers` and :func:`check_exact` from this file (by path).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import optuna

from pipeline_lib.core.optuna_storage import StorageSpec, create_storage, run_worker


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--kind", required=True)
    ap.add_argument("--path")
    ap.add_argument("--url-env", default="OPTUNA_STORAGE_URL")
    ap.add_argument("--study", required=True)
    ap.add_argument("--n-total", type=int, required=True)
    ap.add_argument("--owner", required=True)
    ap.add_argument("--record", required=True)
    ap.add_argument("--ready", required=True)
    ap.add_argument("--go", required=True)
    ap.add_argument("--sleep", type=float, default=0.02)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--hang-at", type=int, default=None)
    args = ap.parse_args()

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    spec = StorageSpec(kind=args.kind, path=args.path, url_env=args.url_env)
    storage = create_storage(spec, args.path or "unused")
    study = optuna.load_study(
        study_name=args.study, storage=storage, sampler=optuna.samplers.RandomSampler(seed=args.seed)
    )
    Path(args.ready).touch()
    deadline = time.monotonic() + 60
    while not Path(args.go).exists():
        if time.monotonic() > deadline:
            raise SystemExit("no start signal")
        time.sleep(0.01)

    fd = os.open(args.record, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)

    def objective(trial: optuna.Trial) -> float:
        if args.hang_at is not None and trial.number >= args.hang_at:
            Path(args.ready + ".hung").write_text(str(trial.number))
            time.sleep(3600)
        x = trial.suggest_float("x", -10.0, 10.0)
        time.sleep(args.sleep)
        value = (x - 2.0) ** 2
        os.write(fd, f"{args.owner} {trial.number} {x!r} {value!r}\n".encode())
        return value

    n = run_worker(study, objective, args.n_total, owner=args.owner)
    print(f"{args.owner} finished {n} trials")


def start_workers(
    tmp: Path,
    storage_args: list[str],
    study: str,
    n_total: int,
    owners: list[str],
    *,
    env: dict | None = None,
    extra: dict[str, list[str]] | None = None,
    sleep: float = 0.02,
) -> list[subprocess.Popen]:
    """Start one worker process per owner, wait until all have loaded the study, then let them go together."""
    go = tmp / f"go.{study}"
    procs = []
    for i, owner in enumerate(owners):
        cmd = [
            sys.executable,
            __file__,
            *storage_args,
            "--study",
            study,
            "--n-total",
            str(n_total),
            "--owner",
            owner,
            "--record",
            str(tmp / f"evals.{study}"),
            "--ready",
            str(tmp / f"ready.{owner}"),
            "--go",
            str(go),
            "--sleep",
            str(sleep),
            "--seed",
            str(i),
            *(extra or {}).get(owner, []),
        ]
        procs.append(subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True))
    deadline = time.monotonic() + 120
    while not all((tmp / f"ready.{o}").exists() for o in owners):
        dead = [p for p in procs if p.poll() is not None]
        if dead:
            raise RuntimeError(f"a worker died before starting: {dead[0].communicate()}")
        if time.monotonic() > deadline:
            raise TimeoutError("workers did not load the study")
        time.sleep(0.05)
    go.touch()
    return procs


def check_exact(study: optuna.Study, record: Path, n_total: int) -> dict[str, int]:
    """Assert the study holds exactly ``n_total`` COMPLETE trials, none lost or duplicated: every objective
    evaluation recorded by a worker is one COMPLETE trial with the same number, parameter and value, trial
    numbers are unique, and no trial is left RUNNING. Returns completed trials per worker."""
    trials = study.get_trials(deepcopy=False)
    numbers = [t.number for t in trials]
    assert len(numbers) == len(set(numbers)) and sorted(numbers) == list(range(len(numbers))), numbers
    complete = {t.number: t for t in trials if t.state == optuna.trial.TrialState.COMPLETE}
    assert len(complete) == n_total, (len(complete), Counter(t.state.name for t in trials))
    assert not [t.number for t in trials if t.state == optuna.trial.TrialState.RUNNING]
    evals = [line.split() for line in record.read_text().splitlines()]
    by_number = Counter(int(e[1]) for e in evals)
    assert all(c == 1 for c in by_number.values()), "a trial number was evaluated twice"
    assert set(by_number) == set(complete), "an evaluation is missing from the storage, or the reverse"
    for _owner, number, x, value in evals:
        t = complete[int(number)]
        assert t.params["x"] == float(x) and t.value == float(value), (t, x, value)
    return dict(Counter(e[0] for e in evals))


if __name__ == "__main__":
    main()
