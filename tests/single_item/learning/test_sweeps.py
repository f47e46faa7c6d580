"""Optuna sweeps: seeded, resumable after a kill, exported (docs/methods.md#two-phase-net).

A sweep killed midway leaves its running trial RUNNING. Resuming must mark it FAIL, keep every COMPLETE trial
(same numbers, same values), and run only the missing trials, so that the study ends with exactly the configured
number of complete trials.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import optuna
import pytest
from optuna.trial import TrialState

from pipeline_lib.core import optuna_storage as ostore
from pipeline_lib.single_item.learning import report_net_sweep as rs
from pipeline_lib.single_item.learning import studies as tuning

optuna.logging.set_verbosity(optuna.logging.WARNING)
REPO = Path(__file__).resolve().parents[3]


def quadratic(trial: optuna.Trial) -> float:
    """A cheap objective with a known maximiser (lambda_regret = 1, lambda_mono = 0.5)."""
    x = trial.suggest_float("lambda_regret", 0.1, 5.0, log=True)
    y = trial.suggest_float("lambda_mono", 0.1, 2.0, log=True)
    trial.set_user_attr("val_revenue", 1.0)
    return -((x - 1.0) ** 2) - (y - 0.5) ** 2


def states(study: optuna.Study) -> list[str]:
    return [t.state.name for t in study.get_trials(deepcopy=False)]


def test_seeded_sampler_proposes_the_same_weights(tmp_path):
    proposals = []
    for run in range(2):
        study, spec = tuning.open_study("s", None, str(tmp_path / f"run{run}.sqlite3"), seed=7)
        tuning.resume_and_run(study, spec, quadratic, n_trials=12)
        proposals.append([t.params for t in study.trials])
    assert proposals[0] == proposals[1]


def test_resume_marks_stale_running_trials_failed_and_completes_the_budget(tmp_path):
    path = str(tmp_path / "study.sqlite3")
    study, spec = tuning.open_study("s", None, path, seed=1)
    tuning.resume_and_run(study, spec, quadratic, n_trials=3)
    kept = {t.number: t.value for t in study.get_trials(states=(TrialState.COMPLETE,))}
    study.ask()  # a trial that was running when the process died: RUNNING forever
    assert states(study) == ["COMPLETE"] * 3 + ["RUNNING"]

    study, spec = tuning.open_study("s", None, path, seed=1)  # a new process opens the same storage
    progress = tuning.resume_and_run(study, spec, quadratic, n_trials=6)
    assert progress == {"stale_failed": 1, "complete_before": 3, "ran": 3, "complete": 6, "stop_rule_met": False}
    assert states(study).count("COMPLETE") == 6 and states(study).count("FAIL") == 1
    assert "RUNNING" not in states(study)
    assert {t.number: t.value for t in study.get_trials(states=(TrialState.COMPLETE,)) if t.number in kept} == kept

    again = tuning.resume_and_run(*tuning.open_study("s", None, path, seed=1), quadratic, n_trials=6)
    assert again["ran"] == 0 and again["complete"] == 6  # nothing left to do


KILLED_WORKER = textwrap.dedent(
    """
    import sys, time
    import optuna
    from pipeline_lib.single_item.learning import studies as tuning

    def objective(trial):
        x = trial.suggest_float("lambda_regret", 0.1, 5.0, log=True)
        trial.suggest_float("lambda_mono", 0.1, 2.0, log=True)
        if trial.number == 2:
            print("SLOW", flush=True)
            time.sleep(60)  # killed here
        return -x

    study, spec = tuning.open_study("s", None, sys.argv[1], seed=3)
    tuning.resume_and_run(study, spec, objective, n_trials=5)
    """
)


def test_a_sweep_killed_midway_resumes_to_the_configured_total(tmp_path):
    path = str(tmp_path / "study.sqlite3")
    script = tmp_path / "worker.py"
    script.write_text(KILLED_WORKER)
    env = {**os.environ, "PYTHONPATH": str(REPO / "src")}
    proc = subprocess.Popen([sys.executable, str(script), path], stdout=subprocess.PIPE, text=True, env=env)
    try:
        deadline = time.time() + 60
        while proc.stdout.readline().strip() != "SLOW":
            assert time.time() < deadline and proc.poll() is None
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.wait(timeout=30)
    study = optuna.load_study(study_name="s", storage=f"sqlite:///{Path(path).with_suffix('.db')}")
    assert states(study) == ["COMPLETE", "COMPLETE", "RUNNING"]

    def objective(trial):
        return -trial.suggest_float("lambda_regret", 0.1, 5.0, log=True) + 0 * trial.suggest_float(
            "lambda_mono", 0.1, 2.0, log=True
        )

    study, spec = tuning.open_study("s", None, path, seed=3)
    tuning.resume_and_run(study, spec, objective, n_trials=5)
    assert states(study) == ["COMPLETE", "COMPLETE", "FAIL", "COMPLETE", "COMPLETE", "COMPLETE"]


def test_exports_hold_every_trial_and_the_best_complete_one(tmp_path):
    study, spec = tuning.open_study("s", None, str(tmp_path / "study.sqlite3"), seed=2)
    tuning.resume_and_run(study, spec, quadratic, n_trials=4)
    study.ask()  # one unfinished trial must appear in the exports too
    frame, blob = tuning.trial_exports(study, {"family": "uniform"})
    blob = json.loads(json.dumps(blob))
    assert len(frame) == len(blob["trials"]) == 5
    assert set(frame["family"]) == {"uniform"} and blob["family"] == "uniform"
    assert {"params_lambda_regret", "params_lambda_mono", "user_attrs_val_revenue", "value", "state"} <= set(frame)
    best = tuning.best_complete(study)
    assert best.value == max(t.value for t in study.trials if t.state == TrialState.COMPLETE)


def test_enqueued_report_weights_are_the_first_trial(tmp_path):
    study, spec = tuning.open_study("s", None, str(tmp_path / "study.sqlite3"), seed=2)
    tuning.resume_and_run(study, spec, quadratic, n_trials=2, enqueue=rs.REPORT_LAMBDAS["uniform"])
    assert study.trials[0].params == pytest.approx(rs.REPORT_LAMBDAS["uniform"])


def test_journal_storage_can_be_plugged_in_through_config(tmp_path):
    study, spec = tuning.open_study("s", {"kind": "journal"}, str(tmp_path / "study.sqlite3"), seed=2)
    tuning.resume_and_run(study, spec, quadratic, n_trials=2)
    assert (tmp_path / "study.journal").exists() and states(study) == ["COMPLETE", "COMPLETE"]


def test_a_diverging_sweep_stops_after_max_failed_trials(tmp_path):
    """Issue 14 item 3: every trial returns NaN; the sweep stops after the configured failures with the reason."""
    seen = []

    def diverging(trial):
        seen.append(trial.number)
        if len(seen) > 30:
            raise KeyboardInterrupt("the sweep never ends")
        trial.suggest_float("lambda_regret", 0.1, 5.0, log=True)
        trial.set_user_attr("pipeline_fail_reason", "training diverged: phase 2 loss is not finite")
        return float("nan")

    study, spec = tuning.open_study("s", None, str(tmp_path / "study.sqlite3"), seed=1)
    with pytest.raises(ostore.TooManyFailedTrials, match="training diverged: phase 2 loss is not finite"):
        tuning.resume_and_run(study, spec, diverging, n_trials=4, max_failed=4)
    assert states(study) == ["FAIL"] * 4


SWEEP_WORKER = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    import optuna
    from pipeline_lib.single_item.learning import studies as tuning

    path, name, flag = sys.argv[1], sys.argv[2], Path(sys.argv[3])
    optuna.logging.set_verbosity(optuna.logging.WARNING)

    def objective(trial):
        x = trial.suggest_float("lambda_regret", 0.1, 5.0, log=True)
        trial.suggest_float("lambda_mono", 0.1, 2.0, log=True)
        if name == "first":
            flag.with_suffix(".running").write_text(str(trial.number))
            deadline = time.time() + 120
            while not flag.with_suffix(".release").exists() and time.time() < deadline:
                time.sleep(0.05)  # a long trial, still running when the second worker starts
        return -x

    study, spec = tuning.open_study("s", {"kind": "journal"}, path, seed=4 if name == "first" else 5)
    progress = tuning.resume_and_run(study, spec, objective, n_trials=4, enqueue=None)
    print(name, progress, flush=True)
    """
)


def test_a_second_sweep_worker_leaves_the_live_trial_of_the_first_alone(tmp_path):
    """Issue 14 item 4: two sweep workers on one journal study, started as a user would (same command, same
    owner label). Starting the second used to mark the first worker's running trial FAIL; the first then crashed
    when it reported its result."""
    path = str(tmp_path / "study.sqlite3")  # the journal file is study.journal next to it
    script = tmp_path / "worker.py"
    script.write_text(SWEEP_WORKER)
    env = {**os.environ, "PYTHONPATH": str(REPO / "src")}
    flag = tmp_path / "flag"

    def start(name):
        cmd = [sys.executable, str(script), path, name, str(flag)]
        return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)

    first = start("first")
    deadline = time.time() + 120
    while not flag.with_suffix(".running").exists():
        assert first.poll() is None and time.time() < deadline, first.communicate()
        time.sleep(0.05)
    second = start("second")
    out2, err2 = second.communicate(timeout=120)
    assert second.returncode == 0, err2
    assert "'stale_failed': 0" in out2
    flag.with_suffix(".release").touch()
    out1, err1 = first.communicate(timeout=120)
    assert first.returncode == 0, err1
    study = optuna.load_study(study_name="s", storage=tuning.ostore.create_storage(
        tuning.ostore.StorageSpec(kind="journal"), path))  # fmt: skip
    trials = study.get_trials(deepcopy=False)
    assert trials[0].state == TrialState.COMPLETE  # the first worker's long trial counted
    assert sum(t.state == TrialState.COMPLETE for t in trials) == 4
    refused = [t for t in trials if t.state == TrialState.FAIL]
    assert all(t.user_attrs.get(ostore.OVERFLOW_ATTR) for t in refused), [t.number for t in refused]
    pids = {t.user_attrs[ostore.WORKER_ATTR]["pid"] for t in trials}
    assert pids == {first.pid, second.pid}


def test_a_lowered_budget_reports_the_best_of_the_first_n_complete_trials(tmp_path):
    """Issue 14 item 5: 6 complete trials in the study, n_trials lowered to 3: the best of trials 0-2."""
    study, spec = tuning.open_study("s", None, str(tmp_path / "study.sqlite3"), seed=2)
    tuning.resume_and_run(study, spec, quadratic, n_trials=6)
    values = [t.value for t in study.trials]
    assert tuning.best_complete(study, 3).value == max(values[:3])
    assert tuning.best_complete(study).value == max(values)


def test_an_exported_study_is_not_resumed_by_a_later_run(tmp_path):
    """Issue 14 item 5: once a sweep's outputs were written, the next run of the rule starts a fresh study."""
    path = str(tmp_path / "study.sqlite3")
    study, spec = tuning.open_study("s", None, path, seed=2, fresh_after_export=True)
    tuning.resume_and_run(study, spec, quadratic, n_trials=2)
    same, _ = tuning.open_study("s", None, path, seed=2, fresh_after_export=True)  # killed before export: resume
    assert same.study_name == "s" and len(same.trials) == 2
    tuning.mark_exported(study)
    fresh, _ = tuning.open_study("s", None, path, seed=2, fresh_after_export=True)
    assert fresh.study_name == "s-rerun1" and fresh.trials == []


def test_a_journal_corrupted_midway_is_an_error_naming_the_file(tmp_path):
    """Issue 14 item 8: Optuna tolerates a torn last line of a journal, then fails on the next read naming no
    file; opening the sweep's study names it."""
    path = tmp_path / "study.journal"
    study, spec = tuning.open_study("s", {"kind": "journal"}, str(tmp_path / "study.sqlite3"), seed=2)
    tuning.resume_and_run(study, spec, quadratic, n_trials=1)
    lines = path.read_bytes().splitlines(keepends=True)
    path.write_bytes(lines[0] + b'{"op_code": 4, "worker_id": \n' + b"".join(lines[1:]))
    with pytest.raises(ostore.StorageConfigError, match=rf"storage .*{path}.*move it away"):
        tuning.open_study("s", {"kind": "journal"}, str(tmp_path / "study.sqlite3"), seed=2)
