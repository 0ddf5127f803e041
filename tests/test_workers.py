"""Real ``optuna-clr optimize`` worker processes sharing a storage: PostgreSQL, JournalStorage.

Several workers run at once on one study; then one is killed (SIGKILL) in the middle of a trial
and every trial must still be accounted for: the dead worker's trial goes stale, is marked FAIL
and retried by a survivor, and nothing that finished is lost.

The PostgreSQL tests need a server: ``.ci/run`` starts one and sets ``OPTUNA_CLR_TEST_POSTGRES``
(``postgresql://user:password@host:port/db``); without it they are skipped.
"""

from __future__ import annotations

from collections.abc import Callable
from collections.abc import Iterator
import contextlib
import io
import json
import os
from pathlib import Path
import pickle
import shlex
import signal
import subprocess
import sys
import threading
import time
from urllib.parse import urlsplit
import uuid
import warnings
from wsgiref.util import setup_testing_defaults

from conftest import tiny_study
import optuna
from optuna.trial import TrialState
import pytest

from optuna_clr import cli
from optuna_clr.study.runner import BEATING_ATTR
from optuna_clr.study.runner import fail_stale_trials
from optuna_clr.study.storage import DeadFreeJournalLock
from optuna_clr.study.storage import HEARTBEAT_ATTR
from optuna_clr.study.storage import open_storage


POSTGRES_ENV = "OPTUNA_CLR_TEST_POSTGRES"
FINISHED = (TrialState.COMPLETE, TrialState.PRUNED)


@pytest.fixture(params=["postgresql", "journal"])
def url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """The storage URL: a fresh journal file, or the test server (study names keep tests apart)."""
    if request.param == "journal":
        yield "journal:///" + str(tmp_path / "study.log")  # journal:/// + /abs/path
        return
    value = os.environ.get(POSTGRES_ENV)
    if not value:
        pytest.skip(
            f"no PostgreSQL server: set {POSTGRES_ENV}=postgresql://user:password@host:port/db "
            "(.ci/run starts one and sets it)"
        )
    yield value


@pytest.fixture
def study_name(url: str) -> Iterator[str]:
    """A fresh study name, deleted afterwards (a PostgreSQL database outlives the tests)."""
    name = f"workers-{uuid.uuid4().hex[:12]}"
    yield name
    try:
        optuna.delete_study(study_name=name, storage=open_storage(url))
    except KeyError:
        pass


def write_study(
    folder: Path,
    file_name: str,
    *,
    target: float = 0.95,
    max_iterations: int = 300,
    eval_every: int = 10,
) -> Path:
    path = folder / file_name
    path.write_text(
        tiny_study(
            "workers",
            n_trials=2,
            target=target,
            max_iterations=max_iterations,
            eval_every=eval_every,
        )
    )
    return path


class Worker:
    """One ``optuna-clr optimize`` process; its output goes to a file shown when a test fails."""

    def __init__(
        self,
        folder: Path,
        tag: str,
        study_file: Path,
        url: str,
        study_name: str,
        n_trials: int,
        *flags: str,
    ) -> None:
        self.tag = tag
        self.out = folder / f"{tag}.out"
        command = [
            sys.executable,
            "-m",
            "optuna_clr.cli",
            "optimize",
            str(study_file),
            "--storage",
            url,
            "--study-name",
            study_name,
            "--n-trials",
            str(n_trials),
            "--no-progress",
            "--artifact-dir",
            str(folder / "artifacts"),
            "--out",
            str(folder / "reports"),
            *flags,
        ]
        # one thread each: the workers share the machine's cores
        env = {
            **os.environ,
            "OMP_NUM_THREADS": "1",
            "MKL_NUM_THREADS": "1",
            "PYTHONUNBUFFERED": "1",
        }
        with open(self.out, "w") as out:
            self.process = subprocess.Popen(
                command, cwd=folder, stdout=out, stderr=subprocess.STDOUT, env=env
            )

    def output(self) -> str:
        tail = self.out.read_text()[-3000:]
        return f"--- worker {self.tag} (exit {self.process.poll()}) ---\n{tail}"

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()


@pytest.fixture
def workers() -> Iterator[list[Worker]]:
    started: list[Worker] = []
    yield started
    for worker in started:
        worker.stop()


def wait_all(workers: list[Worker], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    for worker in workers:
        try:
            worker.process.wait(timeout=max(1.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            pytest.fail(
                f"worker {worker.tag} still running after {timeout} s\n"
                + "\n".join(w.output() for w in workers)
            )
    failed = [w for w in workers if w.process.returncode != 0]
    assert not failed, "\n".join(w.output() for w in failed)


def poll_until(
    condition: Callable[[], object], workers: list[Worker], timeout: float, what: str
) -> object:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        dead = [w for w in workers if w.process.poll() is not None]
        if dead:
            pytest.fail(
                f"a worker exited while waiting for {what}\n"
                + "\n".join(w.output() for w in workers)
            )
        time.sleep(0.05)
    pytest.fail(
        f"timed out after {timeout} s waiting for {what}\n"
        + "\n".join(w.output() for w in workers)
    )


def range_test_once(folder: Path, study_file: Path, url: str, study_name: str) -> optuna.Study:
    """Store the study's range test first, so the workers reuse it instead of racing to run it."""
    assert (
        cli.main(
            [
                "range-test",
                str(study_file),
                "--storage",
                url,
                "--study-name",
                study_name,
                "--out",
                str(folder / "reports"),
                "--artifact-dir",
                str(folder / "artifacts"),
            ]
        )
        == 0
    )
    # a reader without heartbeats: it never fails a trial itself
    return optuna.load_study(study_name=study_name, storage=open_storage(url))


@pytest.mark.processes
def test_workers_share_one_study(url, study_name, workers, tmp_path):
    n = 4
    study_file = write_study(tmp_path, "study.toml")
    study = range_test_once(tmp_path, study_file, url, study_name)
    # heartbeats on (a worker done with its trials waits for the others'), beating often so it
    # polls often; no worker dies here, so a long grace costs nothing, and a live trial is
    # never failed for beats that an overloaded machine delays
    workers += [
        Worker(
            tmp_path, f"w{i}", study_file, url, study_name, n, "--heartbeat", "1", "--grace", "60"
        )
        for i in range(3)
    ]
    wait_all(workers, timeout=120)

    trials = study.get_trials(deepcopy=False)
    assert len(trials) == 3 * n, "\n".join(w.output() for w in workers)
    assert sorted(t.number for t in trials) == list(range(3 * n))  # unique numbers, none skipped
    assert {t.state for t in trials} <= set(FINISHED), [(t.number, t.state) for t in trials]
    assert all("schedule" in t.user_attrs for t in trials)
    password = url.split("://", 1)[1].split("@", 1)[0].partition(":")[2] if "@" in url else None
    for worker in workers:  # each reused the stored range test and ran its share
        text = worker.out.read_text()
        assert "using the one stored" in text and f"running {n} more" in text
        assert (
            not password or f":{password}@" not in text
        )  # the URL is printed with its password hidden


@contextlib.contextmanager
def worker_command_lines() -> Iterator[set[str]]:
    """The command lines of this process's ``optuna_clr.cli`` children while the block runs, as
    ``ps`` shows them to any user (read from ``/proc/<pid>/cmdline`` every 50 ms)."""
    seen: set[str] = set()
    done = threading.Event()

    def watch() -> None:
        while not done.wait(0.05):
            for entry in Path("/proc").iterdir():
                if not entry.name.isdigit():
                    continue
                try:
                    line = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
                    parent = (entry / "stat").read_text().rsplit(")", 1)[1].split()[1]
                except OSError:
                    continue  # it ended meanwhile
                if "optuna_clr.cli" in line and int(parent) == os.getpid():
                    seen.add(line)

    thread = threading.Thread(target=watch, daemon=True)
    thread.start()
    try:
        yield seen
    finally:
        done.set()
        thread.join()


@pytest.mark.processes
def test_processes_engine_workers_propose_different_trials_and_the_parent_reports(
    url, study_name, tmp_path, monkeypatch
):
    """``optimize --parallel 2 --engine processes``: each worker process samples with its own
    seed (with one seed, two random samplers propose the very same values), and only the
    process that started them writes and attaches the report."""
    monkeypatch.chdir(tmp_path)
    text = (
        tiny_study("workers", n_trials=6).split("[range_test]")[0]
        + "[range_test]\nenabled = false\n"
    )
    (tmp_path / "study.toml").write_text(text.replace("seed = 0", 'seed = 0\nsampler = "random"'))
    out = io.StringIO()
    with contextlib.redirect_stdout(out), worker_command_lines() as seen:
        code = cli.main(
            [
                "optimize",
                "study.toml",
                "--storage",
                url,
                "--study-name",
                study_name,
                "--no-progress",
                "--parallel",
                "2",
                "--engine",
                "processes",
                "--heartbeat",
                "1",
                "--grace",
                "10",
                "--artifact-dir",
                str(tmp_path / "artifacts"),
            ]
        )
    assert code == 0, out.getvalue()
    # any local user reads a process's argv in `ps`: the URL (and its password) is not there
    assert seen, "no worker process was seen"
    secret = urlsplit(url).password or "no password"  # as it stands in a URL, ":secret@"
    assert not [line for line in seen if url in line or f":{secret}@" in line], seen
    study = optuna.load_study(study_name=study_name, storage=open_storage(url))
    trials = study.get_trials(deepcopy=False)
    assert len(trials) == 6 and {t.state for t in trials} <= set(FINISHED)
    proposals = [tuple(sorted(t.params.items())) for t in trials]
    assert len(set(proposals)) == len(proposals), proposals  # no worker repeated another's values
    assert (
        study._storage.get_study_system_attrs(study._study_id).get("dashboard:note_ver") == 1
    )  # one report attached: the parent's
    assert (tmp_path / "reports" / study_name / "report.md").is_file()
    # the dashboard command printed opens this very storage (a journal as its file path)
    line = next(
        line
        for line in out.getvalue().splitlines()
        if line.startswith("see it: optuna-dashboard ")
    )
    storage_arg = shlex.split(line)[3]
    if url.startswith("journal:"):
        optuna_dashboard = pytest.importorskip("optuna_dashboard")
        assert Path(storage_arg).is_file()
        environ = {"PATH_INFO": "/api/studies", "REQUEST_METHOD": "GET"}
        setup_testing_defaults(environ)
        status: list[str] = []
        body = b"".join(
            optuna_dashboard.wsgi(storage_arg)(environ, lambda s, h, exc=None: status.append(s))
        )
        assert status[0].startswith("200"), body[:300]
        assert study_name in {s["study_name"] for s in json.loads(body)["study_summaries"]}


@pytest.mark.processes
def test_a_worker_killed_mid_trial_loses_nothing(url, study_name, workers, tmp_path):
    # Trials never reach accuracy 1.0, so each runs its whole budget and none is pruned. The
    # victim's space has low LRs only, the survivors' high ones (the space is no part of a
    # study's fingerprint): a trial's LR tells whose it is, and a retry keeps its predecessor's.
    n, budget = 2, 1500
    victim_file = no_range_test(tmp_path, "victim.toml", lr="[0.005, 0.05]", **LONG)
    survivor_file = no_range_test(tmp_path, "survivor.toml", lr="[0.06, 1.0]", **LONG)
    trials_now = reader(url, study_name)
    # grace: 20 missed beats. A live trial whose beats come later than the grace is failed by
    # another worker and retried, one failure more than this test counts; on a 2-core machine
    # with the suite, two `yes` and 3 workers on a journal, 6 s was not enough
    beat = ("--heartbeat", "1", "--grace", "20")
    victim = Worker(tmp_path, "victim", victim_file, url, study_name, 4, *beat)
    workers += [victim] + [
        Worker(tmp_path, f"survivor{i}", survivor_file, url, study_name, n, *beat)
        for i in range(2)
    ]

    def victims(trial: optuna.trial.FrozenTrial) -> bool:
        return trial.params.get("lr", trial.params.get("max_lr", 1.0)) < 0.055

    def victim_mid_trial() -> optuna.trial.FrozenTrial | None:
        # the victim has finished a trial and is early in its next one
        trials = trials_now()
        if not any(t.state in FINISHED and victims(t) for t in trials):
            return None
        running = [
            t
            for t in trials
            if t.state == TrialState.RUNNING
            and t.intermediate_values
            and victims(t)
            and max(t.intermediate_values) <= budget // 2
        ]
        return running[0] if running else None

    mid = poll_until(
        victim_mid_trial, workers, timeout=90, what="the victim to be in the middle of a trial"
    )
    victim.process.send_signal(signal.SIGKILL)
    victim.process.wait()
    at_kill = {t.number: t for t in trials_now()}
    assert at_kill[mid.number].state == TrialState.RUNNING  # the kill landed mid-trial
    wait_all(workers[1:], timeout=120)

    trials = trials_now()
    numbers = [t.number for t in trials]
    assert sorted(numbers) == list(range(len(trials)))
    states = {t.number: t.state for t in trials}
    assert (
        TrialState.RUNNING not in states.values() and TrialState.WAITING not in states.values()
    ), states
    # the killed trial is the only failure, and its retry finished
    failed = [t.number for t in trials if t.state == TrialState.FAIL]
    assert failed == [mid.number], f"killed {mid.number}\n" + describe(trials, workers)
    retries = [t for t in trials if "failed_trial" in t.system_attrs]
    assert len(retries) == 1, states
    retry = retries[0]
    assert retry.system_attrs["failed_trial"] == mid.number and retry.system_attrs[
        "retry_history"
    ] == [mid.number]
    assert retry.state in FINISHED and retry.params == mid.params
    # nothing that had finished when the victim died was lost or changed
    for number, before in at_kill.items():
        if before.state in FINISHED:
            assert (
                states[number] == before.state
                and trials[numbers.index(number)].value == before.value
            )
    # every other finished trial is the victim's (finished before it died) or a survivor's
    finished = [t for t in trials if t.state in FINISHED and t is not retry]
    by_victim = [t for t in finished if victims(t)]
    assert {t.number for t in by_victim} == {
        k for k, t in at_kill.items() if t.state in FINISHED and victims(t)
    }
    assert len(by_victim) >= 1
    # each survivor ran its n trials: the retry among them, or after them while it waited
    assert len(finished) - len(by_victim) in (2 * n - 1, 2 * n)
    assert len(finished) == len(trials) - 2


HOLD_THE_LOCK = """
import sys, time
from optuna_clr.study.storage import DeadFreeJournalLock
DeadFreeJournalLock(sys.argv[1]).acquire()
print("holding", flush=True)
time.sleep(600)
"""


class Waited(Exception):
    """Raised by ``time.sleep`` where a test forbids waiting: Optuna's lock waits by sleeping."""


def forbid_waiting(seconds: float) -> None:
    raise Waited(f"a journal writer waited ({seconds} s) for the lock")


def test_a_journal_writer_killed_holding_the_lock_stalls_no_other(tmp_path, monkeypatch):
    # Optuna's symlink lock, left by a worker killed mid-append, made every other writer wait 30 s
    # (longer than a heartbeat grace: their live trials were failed as stale meanwhile).
    journal = tmp_path / "study.log"
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD_THE_LOCK, str(journal)], stdout=subprocess.PIPE, text=True
    )
    assert holder.stdout is not None and holder.stdout.readline() == "holding\n"
    holder.send_signal(signal.SIGKILL)
    holder.wait()
    assert os.path.islink(f"{journal}.lock")  # the dead holder's lock is left behind
    monkeypatch.setattr(time, "sleep", forbid_waiting)
    study = optuna.create_study(storage=open_storage(f"journal:///{journal}"), study_name="after")
    study.enqueue_trial({"lr": 0.1})
    monkeypatch.undo()
    queued = reader(f"journal:///{journal}", "after")()
    assert [t.system_attrs["fixed_params"] for t in queued] == [{"lr": 0.1}]
    assert not os.path.lexists(f"{journal}.lock")


def test_the_journal_lock_still_waits_for_another_optuna_process(tmp_path, monkeypatch):
    # optuna-dashboard saving a note takes Optuna's own lock: its lock is waited for, not removed
    path = str(tmp_path / "study.log")
    open(path, "ab").close()  # as JournalFileBackend does: Optuna's lock links to the journal
    dashboards = optuna.storages.journal.JournalFileSymlinkLock(path)
    assert dashboards.acquire()
    monkeypatch.setattr(time, "sleep", forbid_waiting)
    with pytest.raises(Waited):
        DeadFreeJournalLock(path).acquire()
    monkeypatch.undo()
    assert os.readlink(f"{path}.lock") == path  # still the dashboard's
    dashboards.release()
    ours = DeadFreeJournalLock(path)
    assert ours.acquire()  # the failed attempt freed its flock and thread lock
    assert os.readlink(f"{path}.lock") == f"{path}.flock"  # an Optuna process waits for it
    ours.release()
    assert not os.path.lexists(f"{path}.lock")
    copy = pickle.loads(pickle.dumps(ours))  # as in a storage sent to another process
    assert copy.acquire() and os.readlink(f"{path}.lock") == f"{path}.flock"
    copy.release()


def describe(trials: list[optuna.trial.FrozenTrial], workers: list[Worker]) -> str:
    """Each trial's state, parameters and attrs, then every worker's output: why a count is off."""
    lines = [
        f"{t.number} {t.state.name} {t.params} "
        f"{ {k: v for k, v in t.system_attrs.items() if k != HEARTBEAT_ATTR} }"
        for t in trials
    ]
    return "\n".join(lines + [w.output() for w in workers])


def no_range_test(
    folder: Path, file_name: str, *, lr: str = "[0.005, 1.0]", **kwargs: object
) -> Path:
    """A study file whose workers train at once (no range test), its space's LRs in ``lr``."""
    path = folder / file_name
    text = tiny_study("workers", n_trials=2, **kwargs)  # type: ignore[arg-type]
    text = text.replace("lr = [0.005, 1.0]", f"lr = {lr}")
    text = text.split("[range_test]")[0].replace("seed = 0", 'seed = 0\nsampler = "tpe"')
    path.write_text(text + "[range_test]\nenabled = false\n")
    return path


def reader(url: str, study_name: str) -> Callable[[], list[optuna.trial.FrozenTrial]]:
    """The study's trials as they are now, [] before a worker created it (no heartbeats: it never
    fails a trial itself)."""
    storage = open_storage(url)

    def trials() -> list[optuna.trial.FrozenTrial]:
        try:
            study = optuna.load_study(study_name=study_name, storage=storage)
        except KeyError:
            return []
        return study.get_trials(deepcopy=True)

    return trials


LONG = {"target": 1.0, "max_iterations": 1500, "eval_every": 100}  # never reached: runs the budget
BEAT = ("--heartbeat", "1", "--grace", "2")


@pytest.mark.processes
def test_a_fused_worker_killed_right_after_marking_its_trial_is_not_waited_for(
    url, study_name, workers, tmp_path
):
    """``--parallel 2`` (fused) marks a trial as running with heartbeats at once; its heartbeat
    thread beats for it up to ``--heartbeat`` seconds later (30 here). Killed in between, the
    worker must leave a trial that goes stale, not one the next worker waits for forever."""
    study_file = no_range_test(tmp_path, "study.toml", **LONG)
    trials = reader(url, study_name)
    victim = Worker(
        tmp_path,
        "victim",
        study_file,
        url,
        study_name,
        1,
        "--parallel",
        "2",
        "--engine",
        "vmap",
        "--heartbeat",
        "30",
        "--grace",
        "60",
    )
    workers.append(victim)

    def marked_trials() -> list[optuna.trial.FrozenTrial]:
        running = [t for t in trials() if t.state == TrialState.RUNNING]
        return [t for t in running if BEATING_ATTR in t.system_attrs]

    marked = poll_until(marked_trials, workers, 90, "a marked trial")[0]
    victim.process.send_signal(signal.SIGKILL)
    victim.process.wait()
    # the next worker: no trial of its own, it waits for the marked one, fails it and retries it
    rerun = Worker(tmp_path, "rerun", study_file, url, study_name, 0, *BEAT)
    workers.append(rerun)
    wait_all([rerun], timeout=120)
    after = {t.number: t for t in trials()}
    failed = after[marked.number]
    assert failed.state == TrialState.FAIL, after
    retry = [t for t in after.values() if t.system_attrs.get("failed_trial") == marked.number]
    assert len(retry) == 1 and retry[0].state in FINISHED
    assert failed.params.items() <= retry[0].params.items()  # what it had drawn when killed
    assert {t.state for t in after.values()} <= {TrialState.FAIL, *FINISHED}


@pytest.mark.processes
def test_a_retry_run_without_heartbeats_and_killed_is_not_waited_for(
    url, study_name, workers, tmp_path
):
    """A retry copies its predecessor's system attrs, its mark "running with heartbeats" too.
    Taken by a worker without heartbeats that is killed, the retry can never go stale; the
    next worker must not wait for it because of the inherited mark."""
    study_file = no_range_test(tmp_path, "study.toml", **LONG)
    trials = reader(url, study_name)

    def in_progress() -> list[optuna.trial.FrozenTrial]:
        return [t for t in trials() if t.state == TrialState.RUNNING and t.intermediate_values]

    # a worker with heartbeats is killed mid-trial; its trial goes stale and is queued again
    first = Worker(
        tmp_path, "first", study_file, url, study_name, 1, "--heartbeat", "1", "--grace", "60"
    )
    workers.append(first)
    killed = poll_until(in_progress, [first], 90, "a trial in progress")[0]
    first.process.send_signal(signal.SIGKILL)
    first.process.wait()
    storage = open_storage(url, heartbeat_interval=1, grace_period=1)
    study = optuna.load_study(study_name=study_name, storage=storage)

    def gone_stale() -> bool:
        fail_stale_trials(study)
        return trials()[killed.number].state == TrialState.FAIL

    poll_until(gone_stale, [], 30, "the killed trial to go stale")
    # a worker without heartbeats takes the retry, and is killed too
    second = Worker(tmp_path, "second", study_file, url, study_name, 1, "--heartbeat", "0")
    workers.append(second)
    retry = poll_until(in_progress, [second], 90, "the retry in progress")[0]
    assert retry.system_attrs["failed_trial"] == killed.number
    assert BEATING_ATTR in retry.system_attrs  # its predecessor's mark
    second.process.send_signal(signal.SIGKILL)
    second.process.wait()
    # the next worker returns: nothing it could ever retry is running
    last = Worker(tmp_path, "last", study_file, url, study_name, 0, *BEAT)
    workers.append(last)
    wait_all([last], timeout=60)
    # without heartbeats, no one can tell it died: it stays, as docs/scale-and-failures.md says
    assert trials()[retry.number].state == TrialState.RUNNING


def until_failed(study: optuna.Study, number: int, timeout: float = 30) -> None:
    """Fail stale trials until trial ``number`` is one (its last heartbeat outlived the grace)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        fail_stale_trials(study)
        if study.get_trials(deepcopy=False)[number].state == TrialState.FAIL:
            return
        time.sleep(0.05)
    pytest.fail(f"trial {number} not failed as stale after {timeout} s")


def test_journal_retry_is_not_failed_for_its_predecessors_heartbeat(tmp_path):
    """A retry copies the failed trial's system attrs, its last heartbeat included; that old beat
    must not make the retry look stale the moment a worker picks it up (before its own first
    beat), while a retry whose own heartbeat stops is failed and retried again."""
    storage = open_storage(
        "journal:///" + str(tmp_path / "study.log"), heartbeat_interval=1, grace_period=1
    )
    study = optuna.create_study(storage=storage, direction="minimize")
    with (
        warnings.catch_warnings()
    ):  # heartbeats without Study.optimize: the trials are told by hand here
        warnings.simplefilter("ignore", UserWarning)
        trial = study.ask()
        storage.record_heartbeat(trial._trial_id)
        until_failed(study, trial.number)  # its worker died
        assert [t.state for t in study.get_trials(deepcopy=False)] == [
            TrialState.FAIL,
            TrialState.WAITING,
        ]
        retry = study.ask()  # a worker picks the retry up, before its first heartbeat
        assert (
            retry.number == 1
            and HEARTBEAT_ATTR in study.get_trials(deepcopy=False)[1].system_attrs
        )
        fail_stale_trials(study)
        assert study.get_trials(deepcopy=False)[1].state == TrialState.RUNNING
        storage.record_heartbeat(retry._trial_id)
        until_failed(study, retry.number)  # and that worker died too
    trials = study.get_trials(deepcopy=False)
    assert [t.state for t in trials] == [TrialState.FAIL, TrialState.FAIL, TrialState.WAITING]
    assert trials[2].system_attrs["retry_history"] == [0, 1]


@pytest.mark.processes
def test_a_worker_whose_trial_another_failed_goes_on_and_exits_0(
    url, study_name, workers, tmp_path
):
    """On an overloaded machine a live trial's beats can come later than the grace, and another
    worker fails it and queues its retry. Its own worker must not end in "Cannot tell a FAIL
    trial": it stops that trial, says so in one line, runs the retry and exits 0."""
    study_file = no_range_test(tmp_path, "study.toml", **LONG)
    trials = reader(url, study_name)
    worker = Worker(
        tmp_path, "w", study_file, url, study_name, 2, "--heartbeat", "60", "--grace", "120"
    )
    workers.append(worker)

    def early_in_its_trial() -> optuna.trial.FrozenTrial | None:
        running = [t for t in trials() if t.state == TrialState.RUNNING and t.intermediate_values]
        return next((t for t in running if max(t.intermediate_values) <= 500), None)

    taken = poll_until(early_in_its_trial, workers, 90, "the trial to be early in its run")
    # what another worker's fail_stale_trials does to it: FAIL, then Optuna's retry callback
    other = open_storage(url, heartbeat_interval=1, grace_period=1)
    assert other.set_trial_state_values(taken._trial_id, TrialState.FAIL)
    study = optuna.load_study(study_name=study_name, storage=other)
    other.get_heartbeat_stale_trial_callback()(study, other.get_trial(taken._trial_id))
    wait_all(workers, timeout=120)

    after = trials()
    assert after[0].state == TrialState.FAIL
    assert max(after[0].intermediate_values) < LONG["max_iterations"]  # stopped, not run out
    (retry,) = [t for t in after if t.system_attrs.get("failed_trial") == 0]
    assert retry.state in FINISHED and retry.params == after[0].params
    # its second trial is the retry, or a new trial when it asked before the retry was queued
    # (then it runs the retry in its wait): one of the two, whichever won the race
    others = [t for t in after[1:] if t.number != retry.number]
    assert len(others) <= 1 and all(t.state in FINISHED for t in others), after
    text = worker.out.read_text()
    assert text.count("trial 0 was finished by another worker") == 1, text
    assert "Traceback" not in text and "Cannot tell" not in text, text
