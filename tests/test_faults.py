"""Faults, through the real ``optuna-clr`` command: missing or corrupt data, bad study files, bad
storage URLs, a trial out of memory or diverging, and a study interrupted (Ctrl-C) or killed.

Each error is one clear line and exit code 2, raised before any training; an interrupted or
killed study keeps what it finished and resumes when the same command runs again.
"""

from __future__ import annotations

from collections.abc import Callable
from collections.abc import Iterator
import os
from pathlib import Path
import shutil
import signal
import socket
import subprocess
import sys
import time

from conftest import run_cli as run
from conftest import tiny_study
import optuna
from optuna.trial import TrialState
import pytest
import torch

from optuna_clr.study.storage import open_storage
from optuna_clr.training import models


FINISHED = (TrialState.COMPLETE, TrialState.PRUNED)

SMALL = tiny_study("faults", n_trials=3)

NO_RANGE_TEST = (
    SMALL.split("[range_test]")[0].replace("seed = 0", 'seed = 0\nsampler = "tpe"')
    + """
[range_test]
enabled = false
"""
)


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    return tmp_path


def write(folder: Path, text: str, *edits: tuple[str, str], name: str = "study.toml") -> Path:
    for old, new in edits:
        assert old in text, old
        text = text.replace(old, new)
    (folder / name).write_text(text)
    return folder / name


def db(folder: Path) -> str:
    return f"sqlite:///{folder / 'study.db'}"


def trials_in(
    storage: str | optuna.storages.BaseStorage, name: str = "faults"
) -> list[optuna.trial.FrozenTrial]:
    """The study's trials, [] while it does not exist (a reader without heartbeats)."""
    if isinstance(storage, str):
        storage = open_storage(storage)
    try:
        return optuna.load_study(study_name=name, storage=storage).get_trials(deepcopy=True)
    except KeyError:
        return []


# --- data ---


@pytest.mark.parametrize("given", ["missing folder", "no folder"])
def test_missing_data_stops_before_training_and_names_the_layout(
    workdir, capfd, monkeypatch, given
):
    monkeypatch.delenv("OPTUNA_CLR_DATA", raising=False)
    study_file = write(workdir, SMALL, ('name = "digits"', 'name = "mnist"'))
    flags = ["--data-dir", workdir / "nowhere"] if given == "missing folder" else []
    assert run("optimize", study_file, "--storage", db(workdir), "--no-progress", *flags) == 2
    out, err = capfd.readouterr()
    assert "optuna-clr: error:" in err and "Traceback" not in err + out
    assert "<root>/MNIST/raw/train-images-idx3-ubyte.gz" in err  # the layout expected
    assert (
        ("--data-dir" in err and "OPTUNA_CLR_DATA" in err)
        if given == "no folder"
        else "missing:" in err
    )
    assert "range test" not in out and trials_in(db(workdir)) == []


def test_corrupt_data_file_is_named_before_training(workdir, capfd, data_dir):
    copy = workdir / "mnist"
    shutil.copytree(data_dir / "mnist", copy)
    bad = copy / "MNIST" / "raw" / "t10k-labels-idx1-ubyte.gz"
    content = bytearray(bad.read_bytes())
    content[len(content) // 2] ^= 0xFF
    bad.write_bytes(bytes(content))
    study_file = write(workdir, SMALL, ('name = "digits"', 'name = "mnist"'))
    assert (
        run("optimize", study_file, "--storage", db(workdir), "--no-progress", "--data-dir", copy)
        == 2
    )
    out, err = capfd.readouterr()
    assert f"{bad} is corrupt" in err and "Traceback" not in err + out
    assert (
        "train-images-idx3-ubyte.gz" not in err.split("Expected")[0]
    )  # only the bad file is blamed
    assert "range test" not in out and trials_in(db(workdir)) == []


# --- study files (tests/test_cli.py covers unknown family and model, low > high, zero and
# negative training counts, unknown keys and epochs-with-steps) ---


@pytest.mark.parametrize(
    "edit, message",
    [
        (
            ('optimizer = "sgd"', 'optimizer = "adamw2"'),
            "[training] optimizer: unknown optimizer 'adamw2'",
        ),
        (("epochs = 1", "steps = -5"), "[range_test] steps: must be > 1, got -5"),
        (("epochs = 1", "steps = 0"), "[range_test] steps: must be > 1, got 0"),
        (
            ("[range_test]", "[rangetest]\nsteps = 3\n\n[range_test]"),
            "[rangetest]: unknown section",
        ),
        (
            ("step_size_epochs = [1.0, 4.0]", "step_size_epochs = [4.0, 1.0]"),
            "[space] step_size_epochs: low 4.0 > high 1.0",
        ),
        (
            ("step_size_epochs = [1.0, 4.0]", "step_size_epochs = [0.0, 4.0]"),
            "[space] step_size_epochs: must be > 0",
        ),
        (
            ("target_accuracy = 0.95", "target_accuracy = 95"),
            "[training] target_accuracy: must be <= 1",
        ),
        (("target_accuracy = 0.95\n", ""), "[training] target_accuracy: is required"),
        (("seed = 0", 'seed = 0\nsampler = "bayes"'), "[study] sampler: unknown sampler 'bayes'"),
        (
            ("seed = 0", 'seed = 0\npruner = "target+asha"'),
            "[study] pruner: unknown pruner 'target+asha'",
        ),
        (("max_lr = 1.0", "max_lr = 0.0"), "[range_test] max_lr: must be > 0"),
        (("n_trials = 3", "n_trials = three"), "not valid TOML"),
    ],
)
def test_study_file_errors_name_the_field(workdir, capfd, edit, message):
    study_file = write(workdir, SMALL, edit, name="bad.toml")
    assert run("optimize", study_file, "--storage", db(workdir), "--no-progress") == 2
    out, err = capfd.readouterr()
    assert message in err and "bad.toml" in err and "Traceback" not in err + out
    assert not (workdir / "study.db").exists()  # nothing opened before the file was checked


def test_bad_overrides_and_missing_file_are_errors(workdir, capfd):
    study_file = write(workdir, SMALL)
    with pytest.raises(SystemExit) as stopped:  # refused by the parser, before the file is read
        run("optimize", study_file, "--no-progress", "--n-trials", -1)
    assert stopped.value.code == 2
    assert "argument --n-trials: must be >= 0, got -1" in capfd.readouterr().err
    assert run("optimize", workdir / "nope.toml", "--no-progress") == 2
    assert "no study file at" in capfd.readouterr().err


# --- storages ---

PASSWORD = "s3cret-Pa55"
AT_PASSWORD = (
    "s3cret@Pa55"  # an unescaped @: the driver takes "Pa55@host" for the host, and says so
)


def bad_urls(tmp: Path) -> list[tuple[str, str]]:
    urls = [
        (
            f"postgresql://optuna:{PASSWORD}@127.0.0.1:1/optuna_clr",
            "cannot open storage postgresql",
        ),
        (f"postgresql://optuna:{AT_PASSWORD}@127.0.0.1:1/optuna_clr", "write it as %40"),
        (
            f"postgresql://optuna@127.0.0.1:1/optuna_clr?sslmode=disable&password={PASSWORD}",
            "password=***",
        ),
        ("sqlit:///x.db", "cannot open storage sqlit:///x.db"),
        ("not-a-url", "'not-a-url' is not a storage URL"),
        ("sqlite:///" + str(tmp / "no" / "such" / "folder.db"), "does not exist"),
        ("journal:///" + str(tmp / "no" / "such" / "study.log"), "does not exist"),
    ]
    server = os.environ.get("OPTUNA_CLR_TEST_POSTGRES")
    if server:  # a real server, the wrong password
        scheme, rest = server.split("://", 1)
        user = rest.split("@", 1)[0].split(":", 1)[0]
        host = rest.split("@", 1)[1]
        urls.append((f"{scheme}://{user}:{PASSWORD}@{host}", "password authentication failed"))
        urls.append((f"{scheme}://{user}:{AT_PASSWORD}@{host}", "write it as %40"))
        urls.append(
            (f"{scheme}://{user}@{host}?password={PASSWORD}", "password authentication failed")
        )
    return urls


def test_storage_url_errors_are_one_clear_line(workdir, capfd):
    study_file = write(workdir, SMALL)
    for url, message in bad_urls(workdir):
        assert run("optimize", study_file, "--storage", url, "--no-progress") == 2, url
        out, err = capfd.readouterr()
        assert message in err, (url, err)
        assert err.startswith("optuna-clr: error:") and err.count("\n") == 1, err
        assert "Traceback" not in err + out
        for secret in (PASSWORD, *AT_PASSWORD.split("@")):  # no password, nor any piece of one
            assert secret not in err + out, (url, err)
        assert "range test" not in out


def test_a_server_that_never_answers_is_given_up_on(workdir):
    """A server that accepts the connection and then says nothing (a firewall, a hung host)
    is given up on after the storage's connect timeout (10 s), with one line."""
    pytest.importorskip("psycopg")
    with socket.create_server(("127.0.0.1", 0)) as silent:  # listens, never accepts or answers
        url = f"postgresql://optuna:{PASSWORD}@127.0.0.1:{silent.getsockname()[1]}/optuna_clr"
        study_file = write(workdir, SMALL)
        argv = [
            sys.executable,
            "-m",
            "optuna_clr.cli",
            "optimize",
            str(study_file),
            "--no-progress",
        ]
        env = {**os.environ, "OPTUNA_CLR_STORAGE": url}
        # without the timeout the driver waits for the kernel's (minutes): the bound is generous
        done = subprocess.run(
            argv, cwd=workdir, env=env, capture_output=True, text=True, timeout=120
        )
    assert done.returncode == 2, done.stderr
    assert "cannot open storage postgresql" in done.stderr and "timeout" in done.stderr, (
        done.stderr
    )
    assert done.stderr.count("\n") == 1 and PASSWORD not in done.stderr


# --- trials that fail ---


def register_too_big(monkeypatch: pytest.MonkeyPatch, name: str, nth: int) -> None:
    """Register model ``name``, an MLP whose ``nth`` build is a real allocation failure (it
    asks for a ~256 TB weight matrix)."""
    built = []

    def build(image_shape, num_classes):
        built.append(1)
        width = 10**12 if len(built) == nth else 64
        return torch.nn.Sequential(
            torch.nn.Flatten(),
            torch.nn.Linear(64, width),
            torch.nn.ReLU(),
            torch.nn.Linear(width, num_classes),
        )

    monkeypatch.setitem(models._REGISTRY, name, build)


def test_out_of_memory_fails_that_trial_with_the_reason_and_the_study_goes_on(
    workdir, capfd, monkeypatch
):
    register_too_big(monkeypatch, "first_one_too_big", 1)
    study_file = write(workdir, NO_RANGE_TEST, ('model = "mlp"', 'model = "first_one_too_big"'))
    assert run("optimize", study_file, "--storage", db(workdir), "--no-progress") == 0
    trials = trials_in(db(workdir))
    assert [t.state for t in trials][0] == TrialState.FAIL and len(trials) == 3
    reason = trials[0].user_attrs["fail_reason"]
    assert "out of memory" in reason and "Lower batch_size" in reason
    assert all(t.state in FINISHED for t in trials[1:])  # the study went on
    assert "best: trial" in capfd.readouterr().out


def test_out_of_memory_in_a_stack_fails_its_trials_and_the_rest_go_on_fewer_at_a_time(
    workdir, caplog, monkeypatch
):
    # builds: the stack's template, its first trial's model, then the second trial's fails
    register_too_big(monkeypatch, "third_one_too_big", 3)
    study_file = write(workdir, NO_RANGE_TEST, ('model = "mlp"', 'model = "third_one_too_big"'))
    assert (
        run(
            "optimize",
            study_file,
            "--storage",
            db(workdir),
            "--no-progress",
            "--n-trials",
            4,
            "--parallel",
            2,
            "--engine",
            "vmap",
        )
        == 0
    )
    trials = trials_in(db(workdir))
    assert len(trials) == 4
    assert [t.state for t in trials[:2]] == [
        TrialState.FAIL
    ] * 2  # both trials in the stack that ran out
    assert all(
        "out of memory with 2 trials stacked" in t.user_attrs["fail_reason"] for t in trials[:2]
    )
    assert all(t.state in FINISHED for t in trials[2:])  # the study went on, one trial at a time
    assert "Going on with 1 trial at a time" in caplog.text


@pytest.mark.processes
def test_failed_worker_processes_are_one_clear_error(workdir, capfd, monkeypatch):
    # a model registered in this process only: the worker processes --engine processes starts
    # cannot build it, and fail as a user's would on a worker with an older install
    monkeypatch.setitem(models._REGISTRY, "here_only", models._REGISTRY["mlp"])
    study_file = write(workdir, NO_RANGE_TEST, ('model = "mlp"', 'model = "here_only"'))
    assert (
        run(
            "optimize",
            study_file,
            "--storage",
            db(workdir),
            "--no-progress",
            "--n-trials",
            2,
            "--parallel",
            2,
            "--engine",
            "processes",
        )
        == 2
    )
    out, err = capfd.readouterr()
    assert "unknown model 'here_only'" in err  # each worker's own error, above
    assert (
        err.strip()
        .splitlines()[-1]
        .startswith("optuna-clr: error: 2 of 2 worker processes failed")
    )
    assert "Traceback" not in err + out


def test_divergence_prunes_with_the_reason(workdir, capfd):
    study_file = write(
        workdir,
        NO_RANGE_TEST,
        ('families = ["fixed", "triangular2"]', 'families = ["fixed"]'),
        ("lr = [0.005, 1.0]", "lr = [1e5, 1e6]"),
    )
    assert (
        run("optimize", study_file, "--storage", db(workdir), "--no-progress", "--n-trials", 2)
        == 0
    )
    trials = trials_in(db(workdir))
    assert [t.state for t in trials] == [TrialState.PRUNED] * 2
    assert all(
        t.user_attrs["pruned_reason"].startswith("diverged: non-finite training loss")
        for t in trials
    )
    assert "no completed trials yet" in capfd.readouterr().out


# --- interrupted and killed studies ---


# A background job of a non-interactive shell starts with SIGINT ignored; so does this wrapper.
IGNORING_SIGINT = (
    "import runpy, signal; signal.signal(signal.SIGINT, signal.SIG_IGN); "
    "runpy.run_module('optuna_clr.cli', run_name='__main__', alter_sys=True)"
)


STARTED: list[subprocess.Popen] = []


@pytest.fixture(autouse=True)
def _no_process_left() -> Iterator[None]:
    yield
    while STARTED:
        process = STARTED.pop()
        if process.poll() is None:  # the test failed: stop it, and its process group
            os.killpg(process.pid, signal.SIGKILL)
            process.communicate()


def start(
    folder: Path, study_file: Path, url: str, *flags: str, sigint_ignored: bool = False
) -> subprocess.Popen:
    """``optuna-clr optimize`` in a session of its own, so a test can signal its process group."""
    run_cli = ["-c", IGNORING_SIGINT] if sigint_ignored else ["-m", "optuna_clr.cli"]
    command = [
        sys.executable,
        *run_cli,
        "optimize",
        str(study_file),
        "--storage",
        url,
        "--no-progress",
        *flags,
    ]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1"}
    process = subprocess.Popen(
        command,
        cwd=folder,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        start_new_session=True,
    )
    STARTED.append(process)
    return process


def wait_for(
    process: subprocess.Popen,
    reader: optuna.storages.BaseStorage,
    what: str,
    found: Callable[[list[optuna.trial.FrozenTrial]], list[optuna.trial.FrozenTrial]],
    timeout: float = 120,
) -> list[optuna.trial.FrozenTrial]:
    """Poll the storage until ``found(trials)`` is not empty; return it."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        hits = found(trials_in(reader))
        if hits:
            return hits
        if process.poll() is not None:
            pytest.fail(f"optimize exited early ({process.returncode}):\n{process.communicate()}")
        time.sleep(0.05)
    process.kill()
    pytest.fail(f"no {what} after {timeout} s:\n{process.communicate()}")


def mid_trial(
    trials: list[optuna.trial.FrozenTrial], budget: int
) -> list[optuna.trial.FrozenTrial]:
    """The trials that have reported and are in the first half of their ``budget``."""
    return [
        t
        for t in trials
        if t.state == TrialState.RUNNING
        and t.intermediate_values
        and max(t.intermediate_values) <= budget // 2
    ]


def wait_mid_trial(
    process: subprocess.Popen, reader: optuna.storages.BaseStorage, budget: int
) -> optuna.trial.FrozenTrial:
    """Wait until a trial has finished and the next is in its first half; return that one."""

    def found(trials: list[optuna.trial.FrozenTrial]) -> list[optuna.trial.FrozenTrial]:
        return mid_trial(trials, budget) if any(t.state in FINISHED for t in trials) else []

    return wait_for(process, reader, "trial in progress after a finished one", found)[0]


def the_retry_of(
    trial: optuna.trial.FrozenTrial, trials: list[optuna.trial.FrozenTrial]
) -> optuna.trial.FrozenTrial:
    """The one trial queued to run ``trial``'s parameters again."""
    retries = [t for t in trials if t.system_attrs.get("failed_trial") == trial.number]
    assert len(retries) == 1, [(t.number, t.state, t.system_attrs) for t in trials]
    assert retries[0].system_attrs["fixed_params"] == trial.params
    return retries[0]


LONG = (
    ("target_accuracy = 0.95", "target_accuracy = 1.0"),
    ("max_iterations = 300", "max_iterations = 1500"),
    ("eval_every = 10", "eval_every = 100"),
    ("n_trials = 3", "n_trials = 20"),
)
"""Trials that never reach the target: each trains its whole budget; the run outlasts the test."""


@pytest.mark.processes
@pytest.mark.parametrize(
    "signum, sigint_ignored",
    [(signal.SIGINT, False), (signal.SIGINT, True), (signal.SIGTERM, False)],
    ids=["ctrl_c", "ctrl_c-sigint-inherited-ignored", "sigterm"],
)
def test_ctrl_c_or_sigterm_keeps_finished_trials_and_the_rerun_runs_the_interrupted_one(
    workdir, capfd, signum, sigint_ignored
):
    study_file = write(workdir, SMALL, *LONG)
    url = db(workdir)
    reader = open_storage(url)  # creates the tables before the worker starts
    process = start(workdir, study_file, url, sigint_ignored=sigint_ignored)
    mid = wait_mid_trial(process, reader, budget=1500)
    process.send_signal(signum)
    out, err = process.communicate(timeout=60)
    assert process.returncode == 128 + signum, (out, err)
    name = signal.Signals(signum).name
    assert err.strip().startswith(f"interrupted ({name}): finished trials are kept in sqlite"), err
    assert len(err.strip().splitlines()) == 1, err  # one line: no Optuna traceback before it
    trials = trials_in(reader)
    assert TrialState.RUNNING not in {t.state for t in trials}
    assert trials[mid.number].state == TrialState.FAIL  # the interrupted trial, closed as failed
    assert trials[mid.number].user_attrs["fail_reason"].startswith(f"interrupted ({name})")
    retry = the_retry_of(mid, trials)
    assert retry.state == TrialState.WAITING
    done = {t.number: t.value for t in trials if t.state in FINISHED}
    assert done

    assert run("optimize", study_file, "--storage", url, "--no-progress", "--n-trials", 1) == 0
    assert "range test: using the one stored" in capfd.readouterr().out
    after = trials_in(reader)
    assert len(after) == len(trials)  # the rerun's one trial: the interrupted configuration
    assert after[retry.number].state in FINISHED and after[retry.number].params == mid.params
    assert {t.number: t.value for t in after if t.number in done} == done


def workers_of(process: subprocess.Popen) -> list[int]:
    """The pids of ``process``'s children (Linux)."""
    path = Path(f"/proc/{process.pid}/task/{process.pid}/children")
    return [int(pid) for pid in path.read_text().split()]


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


@pytest.mark.processes
@pytest.mark.parametrize(
    "signum, to", [(signal.SIGINT, "parent"), (signal.SIGTERM, "parent"), (signal.SIGINT, "group")]
)
def test_a_signal_to_the_parent_or_its_group_stops_every_worker(workdir, signum, to):
    """``--parallel 2`` on a CPU starts two worker processes; SIGINT or SIGTERM to the parent
    alone (a supervisor's ``kill``) or to its process group (a terminal's Ctrl-C) stops both,
    each failing and re-queuing its trial, and the parent says so in one line."""
    study_file = write(workdir, NO_RANGE_TEST, *LONG)
    url = db(workdir)
    reader = open_storage(url)
    process = start(workdir, study_file, url, "--parallel", "2", "--n-trials", "4")

    def two(trials: list[optuna.trial.FrozenTrial]) -> list[optuna.trial.FrozenTrial]:
        running = [t for t in trials if t.state == TrialState.RUNNING and t.intermediate_values]
        return running if len(running) == 2 else []

    wait_for(process, reader, "two trials in progress", two)
    pids = workers_of(process)
    assert len(pids) == 2
    (os.kill if to == "parent" else os.killpg)(process.pid, signum)
    out, err = process.communicate(timeout=60)
    assert process.returncode == 128 + signum, (out, err)
    assert err.strip().startswith(f"interrupted ({signal.Signals(signum).name})"), err
    assert len(err.strip().splitlines()) == 1, err  # the parent's line, no worker's traceback
    assert not any(alive(pid) for pid in pids)  # stopped and waited for: none trains on
    trials = trials_in(reader)
    assert TrialState.RUNNING not in {t.state for t in trials}
    interrupted = [t for t in trials if t.state == TrialState.FAIL]
    assert 1 <= len(interrupted) <= 2, trials  # both, unless one had just finished its trial
    for trial in interrupted:
        assert trial.user_attrs["fail_reason"].startswith("interrupted (SIGTERM)")  # passed on
        assert the_retry_of(trial, trials).state == TrialState.WAITING


@pytest.mark.processes
def test_killed_run_is_retried_on_rerun_and_loses_nothing(workdir, capfd):
    study_file = write(workdir, SMALL, *LONG)
    url = db(workdir)
    beat = ("--heartbeat", "1", "--grace", "2")
    reader = open_storage(url)  # creates the tables before the worker starts
    process = start(workdir, study_file, url, *beat)
    mid = wait_mid_trial(process, reader, budget=1500)
    process.send_signal(signal.SIGKILL)
    process.communicate(timeout=60)
    trials = trials_in(reader)
    assert trials[mid.number].state == TrialState.RUNNING  # killed mid-trial: nobody closed it
    done = {t.number: t.value for t in trials if t.state in FINISHED}
    assert done

    assert (
        run("optimize", study_file, "--storage", url, "--no-progress", "--n-trials", 1, *beat) == 0
    )
    after = trials_in(reader)
    states = {t.number: t.state for t in after}
    assert states[mid.number] == TrialState.FAIL and TrialState.RUNNING not in states.values(), (
        states
    )
    retries = [t for t in after if t.system_attrs.get("failed_trial") == mid.number]
    assert len(retries) == 1 and retries[0].state in FINISHED and retries[0].params == mid.params
    assert {t.number: t.value for t in after if t.number in done} == done  # no finished trial lost
    # the rerun's one trial was the retry, or a new trial and then the retry while it waited
    assert len(after) - len(trials) in (1, 2)
