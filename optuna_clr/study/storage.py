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
(each heartbeat is a trial system attr in the journal). Its writers lock the journal with
:class:`DeadFreeJournalLock`, so a worker killed while it writes stalls no other.

Errors name the problem and the fix: an unreachable server, a wrong URL, a missing driver.
"""

from __future__ import annotations

import inspect
import logging
import os
from pathlib import Path
import re
import threading
import time
from typing import Any
import warnings

import optuna
from optuna.storages import BaseStorage
from optuna.storages._heartbeat import BaseHeartbeat
import optuna.storages.journal
from optuna.trial import TrialState


try:
    import fcntl
except ImportError:  # Windows
    fcntl = None  # type: ignore[assignment]

_logger = logging.getLogger(__name__)

DEFAULT_URL = "sqlite:///optuna_clr.db"
STORAGE_ENV = "OPTUNA_CLR_STORAGE"
"""The environment variable the command line takes its storage URL from when ``--storage`` is
not given: a password in it stays out of ``ps`` and the shell's history."""
HEARTBEAT_ATTR = "optuna_clr:heartbeat"


class StorageError(RuntimeError):
    """A storage URL could not be opened; the message says why and what to do."""


def _retry_callback(max_retry: int) -> Any:
    cls = (
        getattr(optuna.storages, "RetryHeartbeatStaleTrialCallback", None)
        or optuna.storages.RetryFailedTrialCallback
    )
    with warnings.catch_warnings():  # experimental in name only: stable since Optuna 2.8
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        return cls(max_retry=max_retry)


def _userinfo(url: str) -> tuple[str, str, str | None, str]:
    """``(scheme://, user, password or None, rest after the @)`` of a URL. The user info ends
    at the *last* ``@``: a password may hold an unescaped ``@`` (``u:p@ss@host``), where
    SQLAlchemy's ``make_url`` splits at the first one and takes the rest for the host. A stray
    ``@`` later in the URL makes the password look longer, so more is hidden, never less."""
    scheme, sep, rest = url.partition("://")
    userinfo, at, host = rest.rpartition("@")
    user, colon, password = userinfo.partition(":")
    if not (sep and at and colon) or "/" in user:
        return scheme + sep, "", None, rest
    return scheme + sep, user, password, host


def redact(url: str) -> str:
    """The URL with its password hidden, for messages: the one after ``user:`` and any
    ``password=`` in the query string. URLs without a password (journal files, SQLite paths)
    come back unchanged."""
    scheme, user, password, rest = _userinfo(url)
    if password is not None:
        rest = f"{user}:***@{rest}"
    return scheme + re.sub(r"(?i)([?&][a-z_]*password=)[^&#]*", r"\1***", rest)


def _scrub(text: str, url: str) -> str:
    """``text`` (a driver's error) without the URL's password, whole or in the pieces between
    its ``@``: given ``u:p@ss@host``, the driver looks up the host ``ss@host`` and says so."""
    _, _, password, rest = _userinfo(url)
    secrets = re.findall(r"(?i)[?&][a-z_]*password=([^&#]*)", rest)
    if password:
        secrets += [password, *password.split("@")]
    for secret in sorted({s for s in secrets if len(s) >= 3}, key=len, reverse=True):
        text = text.replace(secret, "***")
    return text


def is_journal(url: str) -> bool:
    """Whether ``url`` names a JournalStorage file (``journal:///x.log`` or a bare ``x.log``)."""
    return url.startswith("journal://") or (
        "://" not in url and url.endswith((".log", ".journal"))
    )


def local_path(url: str) -> Path | None:
    """The file behind a SQLite or journal URL (``sqlite:///x.db``, ``journal:///x.log`` or a
    bare ``x.log`` path), None for a server or an in-memory database. optuna-dashboard takes
    a journal as this path (``optuna-dashboard x.log``), not as the URL."""
    if is_journal(url):
        return Path(
            url[len("journal:///") :]
            if url.startswith("journal:///")
            else url.removeprefix("journal://")
        )
    if url.startswith("sqlite"):
        database = _sqlite_database(url)
        return Path(database) if database and database != ":memory:" else None
    return None


def _sqlite_database(url: str) -> str | None:
    """The database part of a SQLite URL ("" for none: in memory); None where it cannot be
    parsed (open_storage says what is wrong with it)."""
    from sqlalchemy.engine import make_url

    try:
        return make_url(url).database or ""
    except Exception:
        return None


class DeadFreeJournalLock(optuna.storages.journal.JournalFileSymlinkLock):
    """Optuna's symlink lock on a journal, taken under an ``flock`` the kernel frees when its
    holder dies.

    A worker killed while it appended left Optuna's lock behind, and every other worker waited
    out its 30 s grace, longer than a heartbeat grace: their live trials were failed as stale.
    Holding the ``flock``, a symlink lock that points at the ``flock`` file can only be a dead
    holder's and is removed at once; one from another Optuna process (optuna-dashboard saving
    a note) is waited for as Optuna waits. Without ``fcntl`` (Windows) it is Optuna's lock.

    Args:
        journal: The journal file's path; the ``flock`` file is this path + ``.flock``.

    Example:

        .. testcode::

            import optuna
            from optuna_clr.study.storage import DeadFreeJournalLock

            backend = optuna.storages.journal.JournalFileBackend(
                "study.log", lock_obj=DeadFreeJournalLock("study.log")
            )
            study = optuna.create_study(storage=optuna.storages.JournalStorage(backend))
            study.optimize(lambda trial: trial.suggest_float("x", -1, 1) ** 2, n_trials=3)
    """

    def __init__(self, journal: str) -> None:
        super().__init__(journal)
        self._flock_path = journal + ".flock"
        if fcntl is not None:  # the symlink lock points at the flock file: it is this class's
            self._lock_target_file = self._flock_path
        self._threads = threading.Lock()  # NFS emulates flock with per-process POSIX locks
        self._fd: int | None = None

    def __getstate__(self) -> dict[str, Any]:  # a storage sent to another process pickles it
        return {k: v for k, v in self.__dict__.items() if k not in ("_threads", "_fd")}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state, _threads=threading.Lock(), _fd=None)

    def acquire(self) -> bool:
        if fcntl is None:
            return super().acquire()
        self._threads.acquire()
        fd = None
        try:
            fd = os.open(self._flock_path, os.O_RDWR | os.O_CREAT, 0o644)
            fcntl.flock(fd, fcntl.LOCK_EX)
            try:
                if os.readlink(self._lock_file) == self._flock_path:
                    os.unlink(self._lock_file)  # a dead holder's: a live one would hold the flock
            except OSError:
                pass  # no symlink lock, or another Optuna process's
            super().acquire()
        except BaseException:
            if fd is not None:
                os.close(fd)  # frees the flock
            self._threads.release()
            raise
        self._fd = fd
        return True

    def release(self) -> None:
        if fcntl is None:
            return super().release()
        fd, self._fd = self._fd, None
        try:
            super().release()
        finally:
            if fd is not None:
                os.close(fd)
            self._threads.release()


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
        self._grace_period = (
            grace_period if grace_period is not None else (heartbeat_interval or 0) * 2
        )
        self._failed_trial_callback = failed_trial_callback

    def record_heartbeat(self, trial_id: int) -> None:
        try:
            self.set_trial_system_attr(trial_id, HEARTBEAT_ATTR, time.time())
        except optuna.exceptions.UpdateFinishedTrialError:
            pass  # the trial finished between two beats
        except (
            Exception
        ) as error:  # Optuna's beating thread would end, and the live trial go stale
            _logger.warning(f"a heartbeat of trial id {trial_id} was not written: {error!r}")

    def _get_stale_trial_ids(self, study_id: int) -> list[int]:
        now = time.time()
        stale = []
        for trial in self.get_all_trials(study_id, deepcopy=False, states=(TrialState.RUNNING,)):
            beat = trial.system_attrs.get(HEARTBEAT_ATTR)
            if (
                beat is not None
                and trial.datetime_start is not None
                and beat < trial.datetime_start.timestamp()
            ):
                continue  # a retry copies its failed predecessor's attrs, its last beat too
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
    url = DEFAULT_URL if url is None else url
    for name, value in (
        ("heartbeat_interval", heartbeat_interval),
        ("grace_period", grace_period),
    ):
        if value is not None and not (isinstance(value, int) and value > 0):
            raise StorageError(
                f"{name} must be a whole number of seconds > 0 (or None: no heartbeats), "
                f"got {value!r}"
            )
    check_url(url)
    retry = _retry_callback(max_retry) if heartbeat_interval else None
    if is_journal(url):
        return _open_journal(url, heartbeat_interval, grace_period, retry)
    if "://" not in url:
        raise StorageError(
            f"{url!r} is not a storage URL: use sqlite:///path.db, "
            "postgresql://user:password@host/db or journal:///path.log"
        )
    url = _with_driver(url)
    kwargs: dict[str, Any] = {
        "heartbeat_interval": heartbeat_interval,
        "grace_period": grace_period,
    }
    if retry is not None:
        name = (
            "heartbeat_stale_trial_callback"
            if "heartbeat_stale_trial_callback"
            in inspect.signature(optuna.storages.RDBStorage).parameters
            else "failed_trial_callback"
        )
        kwargs[name] = retry
    engine_kwargs: dict[str, Any] = {}
    if url.startswith("sqlite"):
        engine_kwargs = {"connect_args": {"timeout": 60}}
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
    except (
        Exception
    ) as error:  # sqlalchemy's OperationalError, ArgumentError, NoSuchModuleError...
        reason = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        password = _userinfo(url)[2]
        hint = (
            " The password holds an '@': write it as %40 in the URL."
            if password and "@" in password
            else ""
        )
        raise StorageError(
            f"cannot open storage {redact(url)}: {_scrub(reason, url)}. Check that the server is "
            "running and reachable, and the URL's scheme, host, port, user, password and database "
            f"name.{hint}"
        ) from error


def check_url(url: str) -> None:
    """Refuse, without creating anything, a storage URL that cannot keep a study.

    Checked: an empty URL, an in-memory SQLite database (nothing would be kept, and no other
    process could share it), and for a SQLite or journal file, its folder (there and
    writable) and the file itself where it exists (a file, readable and writable, and for
    SQLite a database).

    Args:
        url: a storage URL, as :func:`open_storage` takes.

    Raises:
        StorageError: what is wrong, and what to do.

    Example:

        .. testcode::

            from optuna_clr.study.storage import check_url
            from optuna_clr.study.storage import StorageError

            check_url("sqlite:///study.db")   # nothing is created
            try:
                check_url("sqlite://")
            except StorageError as error:
                print(error)  # an in-memory database ...
    """
    if not url.strip():
        raise StorageError(
            f"the storage URL is empty; give one with --storage (default {DEFAULT_URL})"
        )
    path = local_path(url)
    if path is None:
        if url.startswith("sqlite") and _sqlite_database(url) in ("", ":memory:"):
            raise StorageError(
                f"{url!r} is an in-memory database: nothing would be kept, and no worker or "
                f"rerun could share it; give a file, e.g. {DEFAULT_URL} (in a library script, "
                "optuna.storages.InMemoryStorage() keeps a study for one process)"
            )
        return
    what = "journal storage" if is_journal(url) else "SQLite storage"
    if not path.parent.exists():
        raise StorageError(
            f"cannot open {what} {url}: the folder {path.parent} does not exist; create it first "
            "(sqlite:///relative/path.db and journal:///relative/path.log are relative, "
            "four slashes make a path absolute)"
        )
    if not _can_write_in(path.parent):
        raise StorageError(
            f"cannot open {what} {url}: the folder {path.parent} cannot be written, and the "
            "storage writes its file and locks there; pick a folder you can write to"
        )
    if path.exists():
        _check_file(path, what, sqlite=not is_journal(url))


SQLITE_HEADER = b"SQLite format 3\x00"


def _check_file(path: Path, what: str, *, sqlite: bool) -> None:
    """An existing storage file: a file (not a folder), readable and writable, and for SQLite
    a database (an empty file is one SQLite fills)."""
    if not path.is_file():
        raise StorageError(f"{what} {path} is not a file; give the path of a file to keep it in")
    try:
        with open(path, "r+b") as file:
            header = file.read(len(SQLITE_HEADER))
    except OSError as error:
        raise StorageError(
            f"{what} {path} cannot be read and written ({error.strerror or error}); give "
            "yourself write access to it (chmod u+rw), or pick another file"
        ) from None
    if sqlite and header and header != SQLITE_HEADER:
        raise StorageError(
            f"{path} is not an SQLite database (it starts with {header[:8]!r}); give another "
            "file, or move this one away if it is not yours"
        )


def _open_journal(
    url: str, heartbeat_interval: int | None, grace_period: int | None, retry: Any
) -> HeartbeatJournalStorage:
    """A journal file's storage; a file that is not an Optuna journal is named in one line."""
    path = local_path(url)
    assert path is not None
    backend_cls = (
        getattr(optuna.storages.journal, "JournalFileBackend", None)
        or optuna.storages.JournalFileStorage
    )
    try:  # the journal is read whole here
        return HeartbeatJournalStorage(
            backend_cls(str(path), lock_obj=DeadFreeJournalLock(str(path))),
            heartbeat_interval=heartbeat_interval,
            grace_period=grace_period,
            failed_trial_callback=retry,
        )
    except (UnicodeDecodeError, ValueError, KeyError, TypeError, AssertionError) as error:
        raise StorageError(
            f"journal storage {path} is not an Optuna journal, or is damaged "
            f"({type(error).__name__}: {str(error)[:80]}); give another file, or move this one "
            "away if it is not yours"
        ) from None


def _can_write_in(folder: Path) -> bool:
    """Whether a file can be created in ``folder`` (a real try: ``os.access`` says yes to root
    on a read-only file system)."""
    import tempfile

    try:
        with tempfile.NamedTemporaryFile(dir=folder):
            return True
    except OSError:
        return False


def _with_driver(url: str) -> str:
    """``postgresql://`` means psycopg2 to SQLAlchemy; use psycopg 3 (our ``postgres`` extra)
    when psycopg2 is not installed."""
    if url.startswith("postgresql://") or url.startswith("postgres://"):
        try:
            import psycopg2  # noqa: F401
        except ModuleNotFoundError:
            return "postgresql+psycopg://" + url.split("://", 1)[1]
    return url
