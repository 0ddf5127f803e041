"""Optuna storages by URL, with heartbeats so a dead worker's trial is retried.

=====================================  =================================================
URL                                    storage
=====================================  =================================================
``sqlite:///optuna_clr.db``            SQLite file (the default; one process at a time)
``postgresql://user:pw@host/db``       PostgreSQL through psycopg 3 (many machines)
``journal:///path/study.log``          Optuna's JournalStorage on a file (many processes
                                       on one machine, no server)
any other SQLAlchemy URL               RDBStorage (MySQL...)
=====================================  =================================================

With ``heartbeat_interval`` set, each running trial records a heartbeat; a trial whose
heartbeat is older than ``grace_period`` is marked FAIL by the next worker that starts a trial
and re-queued (``RetryFailedTrialCallback``), so a worker killed mid-trial loses nothing.
Optuna's JournalStorage has no heartbeat of its own: :class:`HeartbeatJournalStorage` adds one
(each heartbeat is a trial system attr in the journal).

Errors name the problem and the fix: an unreachable server, a wrong URL, a missing driver.
"""

from __future__ import annotations

import inspect
from pathlib import Path
import re
import time
from typing import Any
import warnings

import optuna
from optuna.storages import BaseStorage
from optuna.storages._heartbeat import BaseHeartbeat
from optuna.trial import TrialState


DEFAULT_URL = "sqlite:///optuna_clr.db"
HEARTBEAT_ATTR = "optuna_clr:heartbeat"


class StorageError(RuntimeError):
    """A storage URL could not be opened; the message says why and what to do."""


def _retry_callback(max_retry: int) -> Any:
    cls = getattr(optuna.storages, "RetryHeartbeatStaleTrialCallback", None) or optuna.storages.RetryFailedTrialCallback
    with warnings.catch_warnings():  # experimental in name only: stable since Optuna 2.8
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        return cls(max_retry=max_retry)


def redact(url: str) -> str:
    """The URL with its password hidden, for messages."""
    return re.sub(r"(://[^:/@]+:)[^@]*@", r"\1***@", url)


class HeartbeatJournalStorage(optuna.storages.JournalStorage, BaseHeartbeat):
    """JournalStorage with Optuna's heartbeat protocol, so stale trials are failed and retried."""

    def __init__(
        self,
        backend: Any,
        *,
        heartbeat_interval: int | None = None,
        grace_period: int | None = None,
        failed_trial_callback: Any = None,
    ) -> None:
        super().__init__(backend)
        self._heartbeat_interval = heartbeat_interval
        self._grace_period = grace_period if grace_period is not None else (heartbeat_interval or 0) * 2
        self._failed_trial_callback = failed_trial_callback

    def record_heartbeat(self, trial_id: int) -> None:
        try:
            self.set_trial_system_attr(trial_id, HEARTBEAT_ATTR, time.time())
        except optuna.exceptions.UpdateFinishedTrialError:
            pass  # the trial finished between two beats

    def _get_stale_trial_ids(self, study_id: int) -> list[int]:
        now = time.time()
        stale = []
        for trial in self.get_all_trials(study_id, deepcopy=False, states=(TrialState.RUNNING,)):
            beat = trial.system_attrs.get(HEARTBEAT_ATTR)
            if beat is not None and trial.datetime_start is not None and beat < trial.datetime_start.timestamp():
                continue  # a retry copies its failed predecessor's attrs, that trial's last beat too
            if beat is not None and now - beat > self._grace_period:
                stale.append(trial._trial_id)
        return stale

    def get_heartbeat_interval(self) -> int | None:
        return self._heartbeat_interval

    def get_heartbeat_stale_trial_callback(self) -> Any:
        return self._failed_trial_callback

    def get_failed_trial_callback(self) -> Any:  # optuna < 4.9 asks for this name
        return self._failed_trial_callback


def open_storage(
    url: str | None = None,
    *,
    heartbeat_interval: int | None = None,
    grace_period: int | None = None,
    max_retry: int = 3,
) -> BaseStorage:
    """Open the storage at ``url`` (default :data:`DEFAULT_URL`); see the module docstring."""
    url = url or DEFAULT_URL
    retry = _retry_callback(max_retry) if heartbeat_interval else None
    if url.startswith("journal://") or url.endswith((".log", ".journal")):
        path = Path(url[len("journal:///"):] if url.startswith("journal:///") else url.removeprefix("journal://"))
        if not path.parent.exists():
            raise StorageError(
                f"cannot open journal storage {url}: the folder {path.parent} does not exist; create it first "
                "(as with sqlite URLs, journal:///relative/path.log is relative, journal:////absolute/path.log absolute)"
            )
        backend_cls = getattr(optuna.storages.journal, "JournalFileBackend", None) or optuna.storages.JournalFileStorage
        return HeartbeatJournalStorage(
            backend_cls(str(path)), heartbeat_interval=heartbeat_interval, grace_period=grace_period,
            failed_trial_callback=retry,
        )
    if "://" not in url:
        raise StorageError(
            f"{url!r} is not a storage URL: use sqlite:///path.db, postgresql://user:password@host/db "
            "or journal:///path.log"
        )
    url = _with_driver(url)
    kwargs: dict[str, Any] = {"heartbeat_interval": heartbeat_interval, "grace_period": grace_period}
    if retry is not None:
        name = "heartbeat_stale_trial_callback" if "heartbeat_stale_trial_callback" in inspect.signature(
            optuna.storages.RDBStorage).parameters else "failed_trial_callback"
        kwargs[name] = retry
    engine_kwargs: dict[str, Any] = {}
    if url.startswith("sqlite"):
        engine_kwargs = {"connect_args": {"timeout": 60}}
        folder = Path(url.split(":///", 1)[-1]).parent
        if url.count("/") >= 3 and not folder.exists():
            raise StorageError(f"cannot open {url}: the folder {folder} does not exist; create it or pick another path")
    elif url.startswith("postgresql"):
        engine_kwargs = {"pool_pre_ping": True, "connect_args": {"connect_timeout": 10}}
    try:
        with warnings.catch_warnings():  # heartbeat_interval is "experimental" since Optuna 2.9
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            return optuna.storages.RDBStorage(url, engine_kwargs=engine_kwargs, **kwargs)
    except ModuleNotFoundError as error:
        raise StorageError(
            f"the database driver for {redact(url)} is not installed ({error}); for PostgreSQL: "
            "pip install 'optuna-clr[postgres]'"
        ) from error
    except Exception as error:  # sqlalchemy's OperationalError, ArgumentError, NoSuchModuleError...
        reason = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise StorageError(
            f"cannot open storage {redact(url)}: {reason}. Check that the server is running and reachable, "
            "and the URL's scheme, host, port, user, password and database name."
        ) from error


def _with_driver(url: str) -> str:
    """``postgresql://`` means psycopg2 to SQLAlchemy; use psycopg 3 (our ``postgres`` extra)
    when psycopg2 is not installed."""
    if url.startswith("postgresql://") or url.startswith("postgres://"):
        try:
            import psycopg2  # noqa: F401
        except ModuleNotFoundError:
            return "postgresql+psycopg://" + url.split("://", 1)[1]
    return url
