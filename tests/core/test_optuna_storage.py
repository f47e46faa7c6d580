"""pipeline_lib.core.optuna_storage: storage chosen by config, exact trial budgets with several workers, stale trials.

The journal-file cases run real worker processes (tests/integration/optuna_worker.py) against one study; the
PostgreSQL case is tests/integration/test_postgres_storage.py (needs a server, marked `integration`).
"""

from __future__ import annotations

import importlib.util
import os
import signal
import time
from pathlib import Path

import optuna
import pytest
from optuna.storages import JournalStorage, RDBStorage
from optuna.study import MaxTrialsCallback
from optuna.trial import TrialState

from pipeline_lib.core.optuna_storage import (
    OVERFLOW_ATTR,
    OWNER_ATTR,
    StorageConfigError,
    StorageSpec,
    TooManyFailedTrials,
    budget_guard,
    count_trials,
    create_storage,
    mark_stale_running_as_failed,
    run_worker,
)

_spec = importlib.util.spec_from_file_location(
    "optuna_worker", Path(__file__).parents[1] / "integration" / "optuna_worker.py"
)
workers = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(workers)

optuna.logging.set_verbosity(optuna.logging.WARNING)


def quadratic(trial: optuna.Trial) -> float:
    return (trial.suggest_float("x", -10, 10) - 2.0) ** 2


# --- choosing the storage ------------------------------------------------------------------------------------


def test_default_is_one_sqlite_file_per_study(tmp_path):
    spec = StorageSpec.from_config(None)
    assert spec == StorageSpec() and spec.kind == "sqlite" and not spec.multi_worker
    storage = create_storage(spec, tmp_path / "sweeps" / "uniform" / "study")
    assert isinstance(storage, RDBStorage)
    optuna.create_study(study_name="s", storage=storage).optimize(quadratic, n_trials=3)
    assert (tmp_path / "sweeps" / "uniform" / "study.db").is_file()
    assert spec.describe(tmp_path / "x" / "study") == {"kind": "sqlite", "path": str(tmp_path / "x" / "study.db")}


def test_journal_file_storage_and_an_explicit_path(tmp_path):
    spec = StorageSpec.from_config({"kind": "journal", "path": str(tmp_path / "all.journal"), "lock": "open"})
    assert spec.multi_worker
    storage = create_storage(spec, tmp_path / "ignored")
    assert isinstance(storage, JournalStorage)
    optuna.create_study(study_name="a", storage=storage).optimize(quadratic, n_trials=2)
    # a second storage object on the same file sees the trials (what another process would see)
    again = optuna.load_study(study_name="a", storage=create_storage(spec, tmp_path / "ignored"))
    assert count_trials(again) == 2
    assert create_storage(StorageSpec(kind="journal"), tmp_path / "d" / "study") is not None
    assert (tmp_path / "d" / "study.journal").is_file()


def test_rdb_url_comes_from_the_named_environment_variable_and_is_never_described(tmp_path, monkeypatch):
    spec = StorageSpec.from_config({"kind": "rdb", "url_env": "SWEEP_DB"})
    monkeypatch.delenv("SWEEP_DB", raising=False)
    with pytest.raises(StorageConfigError, match=r"\$SWEEP_DB"):
        create_storage(spec, tmp_path / "study")
    url = f"sqlite:///{tmp_path / 'via_env.db'}"  # any SQLAlchemy URL; PostgreSQL in the integration test
    monkeypatch.setenv("SWEEP_DB", url)
    storage = create_storage(spec, tmp_path / "study")
    assert isinstance(storage, RDBStorage)
    optuna.create_study(study_name="r", storage=storage).optimize(quadratic, n_trials=1)
    assert (tmp_path / "via_env.db").is_file()
    assert spec.describe(tmp_path / "study") == {"kind": "rdb", "url_env": "SWEEP_DB"}
    assert url not in str(spec.describe(tmp_path / "study"))


@pytest.mark.parametrize(
    ("section", "named"),
    [
        ({"kind": "redis"}, "redis"),
        ({"kind": "journal", "pth": "x"}, "pth"),
        ({"kind": "journal", "lock": "flock"}, "flock"),
        ({"kind": "sqlite", "heartbeat_interval": 60}, "heartbeat"),
        ({"kind": "rdb", "url_env": ""}, "url_env"),
    ],
)
def test_a_wrong_storage_section_is_an_error_naming_it(section, named):
    with pytest.raises(StorageConfigError, match=named):
        StorageSpec.from_config(section)


@pytest.mark.parametrize("kind", ["sqlite", "journal"])
def test_a_corrupt_storage_file_is_an_error_naming_the_file(tmp_path, kind):
    """Issue 14 item 8: a corrupt study file used to give a bare SQLAlchemy / JSON error naming no file."""
    path = tmp_path / f"study{'.db' if kind == 'sqlite' else '.journal'}"
    path.write_bytes(b"\x00garbage, not a database {\n" * 100)
    spec = StorageSpec(kind=kind, path=str(path))
    with pytest.raises(StorageConfigError, match=rf"cannot open the Optuna {kind} storage {path}: .*move it away"):
        study = optuna.create_study(study_name="s", storage=create_storage(spec, path), load_if_exists=True)
        study.optimize(quadratic, n_trials=1)


# --- exact budgets -------------------------------------------------------------------------------------------


def test_budget_guard_refuses_the_trial_that_plain_max_trials_callback_would_run_twice(tmp_path):
    """Deterministic replay of the race: two workers each hold a started trial when one place is left."""
    study = optuna.create_study(storage=create_storage(StorageSpec(kind="journal"), tmp_path / "s"))
    study.optimize(quadratic, n_trials=2)
    first, second = study.ask(), study.ask()  # both RUNNING, numbers 2 and 3; budget 3
    guarded = budget_guard(quadratic, 3, owner="w")
    study.tell(second, guarded(second))  # admitted? no: trials 0, 1 finished and 2 running = 3 taken
    study.tell(first, guarded(first))  # trial 2: two taken below it, runs
    assert count_trials(study) == 3
    refused = study.trials[3]
    assert refused.state == TrialState.FAIL and refused.user_attrs[OVERFLOW_ATTR] is True
    assert study.trials[2].state == TrialState.COMPLETE and study.trials[2].user_attrs[OWNER_ATTR] == "w"
    # without the guard both would have completed (4 > 3): MaxTrialsCallback only looks after a trial, when
    # both have already run; it stops the workers but cannot take the extra trial back
    plain = optuna.create_study()
    plain.optimize(quadratic, n_trials=2)
    a, b = plain.ask(), plain.ask()
    assert len(plain.get_trials(states=MaxTrialsCallback(3)._states)) < 3  # nothing stops either trial
    plain.tell(a, quadratic(a))
    plain.tell(b, quadratic(b))
    assert count_trials(plain) == 4


def test_run_worker_tops_up_to_the_budget_and_a_second_call_does_nothing(tmp_path):
    study = optuna.create_study(storage=create_storage(StorageSpec(), tmp_path / "s"))
    assert run_worker(study, quadratic, 5, owner="w0") == 5
    assert run_worker(study, quadratic, 5, owner="w1") == 0
    assert run_worker(study, quadratic, 7, owner="w1") == 2
    assert count_trials(study) == 7 and len(study.trials) == 7


def test_a_stop_rule_ends_the_worker_after_the_trial_that_meets_it_and_a_resumed_worker_runs_none(tmp_path):
    """``stop_when`` holds once some trial scored >= 0.9 (x itself is the value): the worker stops right after that
    trial, well short of the budget, and a second worker on the same study starts no trial at all."""

    def identity(trial):
        return trial.suggest_float("x", 0.0, 1.0)

    def high(st):
        return any(t.value is not None and t.value >= 0.9 for t in st.get_trials(states=(TrialState.COMPLETE,)))

    study = optuna.create_study(storage=create_storage(StorageSpec(), tmp_path / "s"))
    ran = run_worker(study, identity, 500, stop_when=high)
    values = [t.value for t in study.trials]
    assert ran == len(values) < 500 and values[-1] >= 0.9 and all(v < 0.9 for v in values[:-1])
    assert run_worker(study, identity, 500, stop_when=high) == 0 and len(study.trials) == ran
    assert run_worker(study, identity, ran + 2) == 2  # without the rule the budget counts again


def test_a_failed_trial_frees_its_place(tmp_path):
    calls = iter(range(100))

    def flaky(trial):
        if next(calls) == 1:
            raise RuntimeError("boom")
        return quadratic(trial)

    study = optuna.create_study(storage=create_storage(StorageSpec(), tmp_path / "s"))
    assert run_worker(study, flaky, 4, catch=(RuntimeError,)) == 4
    states = [t.state for t in study.trials]
    assert states.count(TrialState.COMPLETE) == 4 and states.count(TrialState.FAIL) == 1


def test_a_worker_whose_trials_all_fail_stops_naming_the_last_failure(tmp_path):
    """Issue 14 item 3: NaN objectives are FAIL, which never count towards the budget: the worker used to loop."""
    calls = []

    def diverging(trial):
        calls.append(trial.number)
        if len(calls) > 50:
            raise KeyboardInterrupt("looping forever")  # what a user ends up doing
        trial.suggest_float("x", 0, 1)
        return float("nan")

    study = optuna.create_study(study_name="nan", storage=create_storage(StorageSpec(), tmp_path / "s"))
    with pytest.raises(
        TooManyFailedTrials,
        match=r"3 trials of study 'nan' failed .*max_failed_trials = 3; 0 finished\); last failure: trial 2 with "
        r"params \{'x': .*\}: the objective returned nan",
    ):
        run_worker(study, diverging, 5, max_failed=3)
    assert len(calls) == 3

    def boom(trial):
        raise FloatingPointError("loss is not finite")

    with pytest.raises(TooManyFailedTrials, match="FloatingPointError: loss is not finite"):
        run_worker(study, boom, 5, max_failed=2, catch=(FloatingPointError,))


# --- stale trials --------------------------------------------------------------------------------------------


def test_mark_stale_running_as_failed_by_owner_and_age(tmp_path):
    study = optuna.create_study(storage=create_storage(StorageSpec(kind="journal"), tmp_path / "s"))
    mine, theirs = study.ask(), study.ask()
    mine.set_user_attr(OWNER_ATTR, "w0")
    theirs.set_user_attr(OWNER_ATTR, "w1")
    done = study.ask()
    study.tell(done, 1.0)
    assert mark_stale_running_as_failed(study, owner="w0") == [mine.number]
    assert study.trials[theirs.number].state == TrialState.RUNNING
    import datetime as dt

    assert mark_stale_running_as_failed(study, older_than=dt.timedelta(hours=1)) == []
    assert mark_stale_running_as_failed(study) == [theirs.number]
    assert [t.state for t in study.trials] == [TrialState.FAIL, TrialState.FAIL, TrialState.COMPLETE]


def test_only_trials_of_dead_workers_on_this_host_are_failed(tmp_path):
    """Issue 14 item 4: a trial is failed only when its worker process is gone (same host, pid not alive or reused
    by another process); live workers and workers on other hosts keep their trials."""
    import datetime as dt
    import socket
    import subprocess
    import sys

    from pipeline_lib.core.optuna_storage import WORKER_ATTR, fail_trials_of_dead_workers, worker_identity

    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    me = worker_identity()
    tags = {
        "dead": {**me, "pid": gone.pid, "started": None},
        "alive": me,
        "reused_pid": {**me, "started": (me["started"] or 0) + 12345},
        "other_host": {**me, "host": socket.gethostname() + "-elsewhere", "pid": gone.pid},
    }
    study = optuna.create_study(storage=create_storage(StorageSpec(kind="journal"), tmp_path / "s"))
    numbers = {}
    for name, tag in tags.items():
        trial = study.ask()
        trial.set_user_attr(WORKER_ATTR, tag)
        numbers[name] = trial.number
    untagged = study.ask().number
    assert fail_trials_of_dead_workers(study) == [numbers["dead"], numbers["reused_pid"]]
    assert fail_trials_of_dead_workers(study, untagged_after=dt.timedelta(0)) == [untagged]
    running = {t.number for t in study.trials if t.state == TrialState.RUNNING}
    assert running == {numbers["alive"], numbers["other_host"]}


# --- several processes on one journal file -------------------------------------------------------------------


def _journal_study(tmp_path, name):
    path = tmp_path / "study.journal"
    storage = create_storage(StorageSpec(kind="journal", path=str(path)), path)
    study = optuna.create_study(study_name=name, storage=storage)  # once, as the sweep's init rule does
    return study, ["--kind", "journal", "--path", str(path)]


@pytest.mark.slow
def test_two_worker_processes_on_one_journal_file_reach_exactly_the_budget(tmp_path):
    study, args = _journal_study(tmp_path, "concurrent")
    n_total = 40
    procs = workers.start_workers(tmp_path, args, "concurrent", n_total, ["w0", "w1"])
    for p in procs:
        out, err = p.communicate(timeout=120)
        assert p.returncode == 0, err
    per_worker = workers.check_exact(study, tmp_path / "evals.concurrent", n_total)
    assert set(per_worker) == {"w0", "w1"} and sum(per_worker.values()) == n_total, per_worker


@pytest.mark.slow
def test_a_killed_worker_rerun_fails_its_stale_trial_and_the_study_still_ends_exact(tmp_path):
    study, args = _journal_study(tmp_path, "killed")
    n_total = 12
    (hung,) = workers.start_workers(tmp_path, args, "killed", n_total, ["w0"], extra={"w0": ["--hang-at", "3"]})
    deadline = time.monotonic() + 60
    while not (tmp_path / "ready.w0.hung").exists():
        assert hung.poll() is None and time.monotonic() < deadline, hung.communicate()
        time.sleep(0.05)
    os.kill(hung.pid, signal.SIGKILL)  # what SLURM does to a job past its wall time
    hung.wait()
    assert [t.number for t in study.trials if t.state == TrialState.RUNNING] == [3]
    (tmp_path / "ready.w0").unlink()
    (tmp_path / "go.killed").unlink()
    procs = workers.start_workers(tmp_path, args, "killed", n_total, ["w0", "w1"])  # the rerun, and a second one
    for p in procs:
        out, err = p.communicate(timeout=120)
        assert p.returncode == 0, err
    workers.check_exact(study, tmp_path / "evals.killed", n_total)
    assert study.trials[3].state == TrialState.FAIL
