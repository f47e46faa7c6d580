"""Where an Optuna study lives, chosen by config, and how several workers share it.

Three kinds of storage (conventions/snakemake.md section 6, Optuna FAQ):

``sqlite`` (default)
    ``RDBStorage("sqlite:///<path>")``: one worker process at a time. SQLite has no ``SELECT ... FOR UPDATE``, so
    concurrent writers get "database is locked" and may be handed the same trial number; never on NFS.
``journal``
    ``JournalStorage(JournalFileBackend(<path>))``: several worker processes **on one host** (file locks; a
    symlink lock by default, ``lock: open`` for file systems without symlinks). Not across hosts over NFS.
``rdb``
    ``RDBStorage(<url>)`` with the URL read from an environment variable (``url_env``, default
    ``OPTUNA_STORAGE_URL``), e.g. ``postgresql+psycopg2://user:pw@host/db``: several workers on several hosts.
    The URL never enters the config, the DAG or a result file (it may hold a password). Only this kind supports
    heartbeats (``heartbeat_interval`` / ``grace_period``), which fail the trials of a killed worker by themselves.

The storage file is never a declared Snakemake input or output (workers keep appending to it); a small JSON token
written by the rule that creates the study stands for it in the DAG. :meth:`StorageSpec.describe` gives that
token's storage part without secrets.

Workers: :func:`run_worker` runs one worker of a shared study until the study holds exactly ``n_total`` finished
trials (see :func:`budget_guard` for why plain ``MaxTrialsCallback`` can overshoot with several workers), and
:func:`fail_trials_of_dead_workers` cleans up after a killed worker: every trial records the worker process that
runs it (host, pid, start time), and only RUNNING trials whose process is gone are failed, so workers started
concurrently on one study never fail each other's live trials. On other hosts a worker's liveness is unknown: there
rely on an RDB storage with heartbeats (``heartbeat_interval``, ``grace_period``).
"""

from __future__ import annotations

import datetime as dt
import math
import os
import socket
from collections.abc import Callable, Container, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import optuna
from optuna.storages import BaseStorage, JournalStorage, RDBStorage
from optuna.storages.journal import JournalFileBackend, JournalFileOpenLock, JournalFileSymlinkLock
from optuna.study import MaxTrialsCallback
from optuna.trial import FrozenTrial, Trial, TrialState

Kind = Literal["sqlite", "journal", "rdb"]
KINDS: tuple[str, ...] = ("sqlite", "journal", "rdb")
DEFAULT_URL_ENV = "OPTUNA_STORAGE_URL"
SUFFIX = {"sqlite": ".db", "journal": ".journal"}
OWNER_ATTR = "pipeline_worker"  # user attr: label of the worker that ran a trial (see mark_stale_running_as_failed)
WORKER_ATTR = "pipeline_worker_id"  # user attr: {host, pid, started} of the process that ran a trial
UNTAGGED_GRACE = dt.timedelta(seconds=120)  # a RUNNING trial not tagged by then lost its worker between ask and tag
OVERFLOW_ATTR = "pipeline_budget_overflow"  # user attr: trial refused because the budget was already taken
FAIL_REASON_ATTR = "pipeline_fail_reason"  # user attr: why a trial failed (exception, or a NaN objective)
DEFAULT_MAX_FAILED = 10
FINISHED_STATES: tuple[TrialState, ...] = (TrialState.COMPLETE, TrialState.PRUNED)


class StorageConfigError(ValueError):
    """The storage section of the config is wrong, or the environment lacks what it names."""


class TooManyFailedTrials(RuntimeError):
    """A worker saw ``max_failed`` trials fail (diverging objective, NaN, caught exceptions): it stops instead of
    proposing trials forever."""


@dataclass(frozen=True)
class StorageSpec:
    """Which storage a study uses; built from config with :meth:`from_config`.

    ``path`` (sqlite, journal): the storage file, relative to the working directory; ``None`` means the caller's
    ``default_path`` with the kind's suffix (``.db`` or ``.journal``), i.e. one file per study.
    ``url_env`` (rdb): name of the environment variable holding the database URL.
    ``lock`` (journal): ``symlink`` (default) or ``open`` (``JournalFileOpenLock``).
    ``heartbeat_interval``/``grace_period`` (rdb, seconds): trials of a worker that stops beating are failed.
    """

    kind: Kind = "sqlite"
    path: str | None = None
    url_env: str = DEFAULT_URL_ENV
    lock: Literal["symlink", "open"] = "symlink"
    heartbeat_interval: int | None = None
    grace_period: int | None = None

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise StorageConfigError(f"optuna storage kind {self.kind!r} is not one of {', '.join(KINDS)}")
        if self.lock not in ("symlink", "open"):
            raise StorageConfigError(f"optuna journal lock {self.lock!r} is not 'symlink' or 'open'")
        if self.kind == "rdb" and not self.url_env:
            raise StorageConfigError("optuna storage kind 'rdb' needs url_env (an environment variable name)")
        if self.kind != "rdb" and (self.heartbeat_interval or self.grace_period):
            raise StorageConfigError("heartbeat_interval/grace_period need optuna storage kind 'rdb'")

    @classmethod
    def from_config(cls, section: Mapping[str, Any] | None) -> StorageSpec:
        """From a config mapping such as ``{"kind": "journal"}``; ``None`` or ``{}`` gives the SQLite default.
        Unknown keys are an error naming the key."""
        section = dict(section or {})
        known = set(cls.__dataclass_fields__)
        unknown = sorted(set(section) - known)
        if unknown:
            raise StorageConfigError(f"unknown optuna storage key(s) {unknown}; known: {sorted(known)}")
        return cls(**section)

    @property
    def multi_worker(self) -> bool:
        """Whether several worker processes may share one study on this storage."""
        return self.kind != "sqlite"

    def resolve_path(self, default_path: str | os.PathLike[str]) -> Path:
        """The storage file of a sqlite or journal storage (``path``, else ``default_path`` with the suffix)."""
        if self.kind == "rdb":
            raise StorageConfigError("an 'rdb' optuna storage has no file")
        if self.path:
            return Path(self.path)
        return Path(default_path).with_suffix(SUFFIX[self.kind])

    def url(self, default_path: str | os.PathLike[str]) -> str:
        """The storage URL for sqlite/rdb (rdb: read from the environment now)."""
        if self.kind == "journal":
            raise StorageConfigError("a 'journal' optuna storage has no URL")
        if self.kind == "sqlite":
            return f"sqlite:///{self.resolve_path(default_path)}"
        url = os.environ.get(self.url_env, "").strip()
        if not url:
            raise StorageConfigError(
                f"optuna storage kind 'rdb' reads its URL from the environment variable ${self.url_env}, "
                "which is not set (e.g. postgresql+psycopg2://user:password@host:5432/db)"
            )
        return url

    def describe(self, default_path: str | os.PathLike[str]) -> dict[str, Any]:
        """JSON-safe description for a DAG token or a metrics file: never the RDB URL (it may hold a password)."""
        if self.kind == "rdb":
            return {"kind": "rdb", "url_env": self.url_env}
        return {"kind": self.kind, "path": str(self.resolve_path(default_path))}


def create_storage(spec: StorageSpec, default_path: str | os.PathLike[str]) -> BaseStorage:
    """The Optuna storage ``spec`` names. ``default_path`` is the per-study file used when ``spec.path`` is
    unset (its suffix is replaced by ``.db`` / ``.journal``); its folder is created. RDB: the URL comes from
    ``$url_env``; SQLite gets a 60 s busy timeout (a second process, e.g. a report reading trials, waits instead
    of failing with "database is locked"). A storage that cannot be opened (e.g. a corrupt file) raises
    :class:`StorageConfigError` naming the file (or the environment variable of an RDB URL)."""
    where = f"${spec.url_env} ({spec.kind})" if spec.kind == "rdb" else str(spec.resolve_path(default_path))
    try:
        storage = _create_storage(spec, default_path)
        storage.get_all_studies()  # read it now (a journal is read lazily), so a corrupt file fails here
        return storage
    except StorageConfigError:
        raise
    except Exception as exc:
        hint = "" if spec.kind == "rdb" else "; if the file is corrupt, move it away and the sweep starts afresh"
        raise StorageConfigError(
            f"cannot open the Optuna {spec.kind} storage {where}: {type(exc).__name__}: {str(exc).splitlines()[0]}"
            f"{hint}"
        ) from exc


def _create_storage(spec: StorageSpec, default_path: str | os.PathLike[str]) -> BaseStorage:
    if spec.kind == "journal":
        path = spec.resolve_path(default_path)
        path.parent.mkdir(parents=True, exist_ok=True)
        lock = JournalFileOpenLock(str(path)) if spec.lock == "open" else JournalFileSymlinkLock(str(path))
        return JournalStorage(JournalFileBackend(str(path), lock_obj=lock))
    if spec.kind == "sqlite":
        spec.resolve_path(default_path).parent.mkdir(parents=True, exist_ok=True)
        return RDBStorage(spec.url(default_path), engine_kwargs={"connect_args": {"timeout": 60}})
    return RDBStorage(
        spec.url(default_path),
        engine_kwargs={"pool_pre_ping": True},
        heartbeat_interval=spec.heartbeat_interval,
        grace_period=spec.grace_period,
    )


# --------------------------------------------------------------------------------------------------------------
# Worker identity: which process runs a trial, and whether it is still alive
# --------------------------------------------------------------------------------------------------------------
def _process_start(pid: int) -> int | None:
    """Start time of process ``pid`` in clock ticks since boot (Linux ``/proc``), ``None`` where unknown: with the
    pid it identifies a process even after the pid is reused."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    try:
        return int(stat.rsplit(")", 1)[1].split()[19])  # field 22 of proc(5), counted after "(comm)"
    except (IndexError, ValueError):
        return None


def worker_identity() -> dict[str, Any]:
    """This process as a worker: ``{"host", "pid", "started"}`` (``started``: process start time, so a reused pid
    is not taken for the original worker). Recorded on every trial it runs (user attr ``pipeline_worker_id``)."""
    pid = os.getpid()
    return {"host": socket.gethostname(), "pid": pid, "started": _process_start(pid)}


def worker_alive(identity: Mapping[str, Any]) -> bool | None:
    """Whether the worker ``identity`` still runs: ``True``/``False`` on this host, ``None`` (unknown) for another
    host. A worker on another host is never declared dead here: multi-host studies use an RDB storage, whose
    heartbeats (``heartbeat_interval``/``grace_period``) fail the trials of a dead worker (Optuna does it when any
    worker starts a trial)."""
    if identity.get("host") != socket.gethostname():
        return None
    pid = int(identity["pid"])
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, another user's process
        pass
    started = identity.get("started")
    return started is None or _process_start(pid) in (None, started)


def fail_trials_of_dead_workers(study: optuna.Study, untagged_after: dt.timedelta = UNTAGGED_GRACE) -> list[int]:
    """Mark FAIL the RUNNING trials whose worker is gone; returns their numbers.

    A trial's worker (user attr ``pipeline_worker_id``, set when the trial starts) is gone when it ran on this host
    and its process no longer exists (or the pid now belongs to another process). Trials of live workers, and of
    workers on other hosts (see :func:`worker_alive`), are left alone, so any number of workers can start and stop
    on one study. A RUNNING trial without the tag (its worker died between creating and tagging it, or an older
    version ran it) is failed once older than ``untagged_after``.
    """
    now = dt.datetime.now()

    def stale(t: FrozenTrial) -> bool:
        ident = t.user_attrs.get(WORKER_ATTR)
        if ident is None:
            return t.datetime_start is None or now - t.datetime_start >= untagged_after
        return worker_alive(ident) is False

    return _fail_running(study, stale)


def count_trials(study: optuna.Study, states: Iterable[TrialState] = FINISHED_STATES) -> int:
    """Trials of ``study`` in ``states``, read fresh from the storage."""
    return len(study.get_trials(deepcopy=False, states=tuple(states)))


def budget_guard(
    objective: Callable[[Trial], Any],
    n_total: int,
    *,
    states: Container[TrialState] = FINISHED_STATES,
    owner: str | None = None,
) -> Callable[[Trial], Any]:
    """Wrap ``objective`` so that a study shared by any number of workers ends with at most ``n_total`` trials
    in ``states``.

    ``MaxTrialsCallback`` alone checks *after* a trial: two workers that both start a trial when one is left
    both finish it (n_total + 1). Here each trial is admitted at its start by its trial number, which the
    storage hands out atomically (journal: log order; RDB: the study row is locked with ``FOR UPDATE``): trial
    k runs only if fewer than ``n_total`` trials numbered below k are finished in ``states`` or still running.
    Of the trials that finish, the one with the largest number saw all the others as finished-or-running when
    it was admitted, so at most ``n_total`` finish. A refused trial returns NaN, which Optuna records as FAIL
    (tagged with the user attr ``pipeline_budget_overflow``; no exception, so nothing is lost), and stops this
    worker. A running trial that later fails frees its place for a worker that is still running.
    """
    if n_total < 0:
        raise ValueError(f"n_total must be >= 0, got {n_total}")

    identity = worker_identity()

    def guarded(trial: Trial) -> Any:
        trial.set_user_attr(WORKER_ATTR, identity)
        if owner is not None:
            trial.set_user_attr(OWNER_ATTR, owner)
        taken = 0
        for t in trial.study.get_trials(deepcopy=False):
            if t.number >= trial.number:
                continue
            if t.state in (TrialState.RUNNING, TrialState.WAITING) or t.state in states:
                taken += 1
        if taken >= n_total:
            trial.set_user_attr(OVERFLOW_ATTR, True)
            try:
                trial.study.stop()
            except RuntimeError:  # called outside Study.optimize (ask/tell): nothing to stop
                pass
            return math.nan
        try:
            value = objective(trial)
        except Exception as exc:
            trial.set_user_attr(FAIL_REASON_ATTR, f"{type(exc).__name__}: {exc}")
            raise
        if isinstance(value, float) and not math.isfinite(value) and FAIL_REASON_ATTR not in trial.user_attrs:
            trial.set_user_attr(FAIL_REASON_ATTR, f"the objective returned {value}")
        return value

    return guarded


def run_worker(
    study: optuna.Study,
    objective: Callable[[Trial], Any],
    n_total: int,
    *,
    owner: str | None = None,
    states: tuple[TrialState, ...] = FINISHED_STATES,
    catch: tuple[type[Exception], ...] = (),
    timeout: float | None = None,
    max_failed: int | None = DEFAULT_MAX_FAILED,
    stop_when: Callable[[optuna.Study], bool] | None = None,
) -> int:
    """Run one worker of ``study`` until the study holds ``n_total`` trials in ``states`` (together with all
    other workers; every worker can be started with the same arguments). Returns how many trials this worker
    finished in ``states``.

    First, RUNNING trials whose worker process is gone are marked FAIL (:func:`fail_trials_of_dead_workers`); the
    trials of live workers are left alone, so a second worker started on the same study never fails the trial a
    first one is running. Every trial is tagged with this process's identity (host, pid, start time) and, with
    ``owner`` (e.g. ``"worker3"``), with that label. ``catch``: exceptions of the objective that fail one trial but
    not the worker.

    ``max_failed``: after that many FAIL trials of this worker (budget refusals aside) it stops and raises
    :class:`TooManyFailedTrials` naming the last failure's reason (the objective's exception, or the NaN it
    returned): a diverging objective would otherwise propose trials forever, since only COMPLETE (and PRUNED)
    trials count towards ``n_total``. ``None``: no cap.

    ``stop_when(study)``: a stopping rule checked before the first trial and after every finished one; once it
    holds, the worker starts no further trial (e.g. the best trial already reaches a known upper bound). Being a
    property of the study, it stops every worker and a resumed sweep alike.
    """
    if max_failed is not None and max_failed < 1:
        raise ValueError(f"max_failed must be >= 1 or None, got {max_failed}")
    fail_trials_of_dead_workers(study)
    if count_trials(study, states) >= n_total or (stop_when is not None and stop_when(study)):
        return 0
    mine: list[int] = []
    failed: list[FrozenTrial] = []

    def record(st: optuna.Study, trial: FrozenTrial) -> None:
        if trial.state in states:
            mine.append(trial.number)
        elif trial.state == TrialState.FAIL and not trial.user_attrs.get(OVERFLOW_ATTR):
            failed.append(trial)
            if max_failed is not None and len(failed) >= max_failed:
                st.stop()
        if stop_when is not None and trial.state in states and stop_when(st):
            st.stop()

    study.optimize(
        budget_guard(objective, n_total, states=states, owner=owner),
        n_trials=None,
        timeout=timeout,
        catch=catch,
        callbacks=[record, MaxTrialsCallback(n_total, states=states)],
    )
    if max_failed is not None and len(failed) >= max_failed:
        last = failed[-1]
        reason = last.user_attrs.get(FAIL_REASON_ATTR, "unknown (see the log)")
        raise TooManyFailedTrials(
            f"{len(failed)} trials of study {study.study_name!r} failed in this worker (max_failed_trials = "
            f"{max_failed}; {len(mine)} finished); last failure: trial {last.number} with params {last.params}: "
            f"{reason}"
        )
    return len(mine)


def mark_stale_running_as_failed(
    study: optuna.Study,
    *,
    owner: str | None = None,
    older_than: dt.timedelta | None = None,
) -> list[int]:
    """Mark RUNNING trials that no live worker will finish as FAIL; returns their numbers.

    A killed worker leaves its trial RUNNING forever (the Optuna FAQ's recipe). Workers that may run concurrently
    use :func:`fail_trials_of_dead_workers` instead, which checks that the worker is gone. Which trials are stale:
    ``owner=None`` and ``older_than=None``: every RUNNING trial (right only when a single worker uses the study,
    e.g. SQLite); ``owner``: those tagged by that worker (see :func:`run_worker`); ``older_than``: those started
    longer ago than that. Both filters together select trials matching both. A trial finished meanwhile by
    its worker is left alone.
    """
    now = dt.datetime.now()

    def stale(t: FrozenTrial) -> bool:
        if owner is not None and t.user_attrs.get(OWNER_ATTR) != owner:
            return False
        return older_than is None or t.datetime_start is None or now - t.datetime_start >= older_than

    return _fail_running(study, stale)


def _fail_running(study: optuna.Study, stale: Callable[[FrozenTrial], bool]) -> list[int]:
    """Mark every RUNNING trial for which ``stale(trial)`` holds FAIL; the numbers of those marked."""
    failed: list[int] = []
    for t in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        if not stale(t):
            continue
        try:
            study._storage.set_trial_state_values(t._trial_id, state=TrialState.FAIL)
        except RuntimeError:  # UpdateFinishedTrialError: its worker finished it after all
            continue
        failed.append(t.number)
    return failed
