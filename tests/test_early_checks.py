"""Every argument and output folder is checked before the range test: one line, exit 2."""

from __future__ import annotations

import os
from pathlib import Path
import shutil
import subprocess
import sys

from conftest import tiny_study
from conftest import unprivileged
import optuna
import pytest

from optuna_clr import cli
from optuna_clr.study.storage import open_storage
from optuna_clr.study.storage import STORAGE_ENV
from optuna_clr.study.storage import StorageError


TEXT = tiny_study("early", n_trials=2)


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "early.toml").write_text(TEXT)
    return tmp_path


@pytest.fixture
def read_only(tmp_path: Path) -> Path:
    """A folder no file can be created in: /sys refuses even root, for whom chmod does nothing."""
    if os.geteuid() != 0:
        folder = tmp_path / "ro"
        folder.mkdir()
        folder.chmod(0o555)
        return folder
    if not Path("/sys/kernel").is_dir():
        pytest.skip("running as root without /sys: no folder here refuses root's writes")
    return Path("/sys")


def error_line(capsys: pytest.CaptureFixture[str]) -> str:
    captured = capsys.readouterr()
    assert "range test:" not in captured.out  # nothing trained
    lines = captured.err.strip().splitlines()
    assert lines, captured
    return lines[-1]


def fails(*argv: object) -> None:
    assert cli.main([str(a) for a in argv]) == 2


@pytest.mark.parametrize(
    ("flag", "value", "expected"),
    [
        ("--parallel", "0", "must be >= 1, got 0"),
        ("--parallel", "-1", "must be >= 1, got -1"),
        ("--heartbeat", "-5", "must be >= 0, got -5"),
        ("--grace", "0", "must be >= 1, got 0"),
        ("--n-trials", "-2", "must be >= 0"),
        ("--parallel", "two", "must be an integer"),
    ],
)
def test_bad_counts_are_refused_by_the_parser(workdir, capsys, flag, value, expected):
    with pytest.raises(SystemExit) as info:
        cli.main(["optimize", "early.toml", flag, value])
    assert info.value.code == 2
    line = error_line(capsys)
    assert f"argument {flag}" in line and expected in line
    assert not (workdir / "optuna_clr.db").exists()


@pytest.mark.parametrize(
    ("old", "new", "where"),
    [
        (
            "batch_size = 32",
            "batch_size = 5000",
            "[training] batch_size: 5000 is more than the 1150 training images",
        ),
        (
            "[space]",
            "[space]\nmax_batch_size = 2000",
            "[space] max_batch_size: 2000 is more than the 1150",
        ),
    ],
)
def test_batches_larger_than_the_training_split(workdir, capsys, old, new, where):
    (workdir / "early.toml").write_text(TEXT.replace(old, new))
    fails("optimize", "early.toml", "--no-progress")
    line = error_line(capsys)
    assert where in line and "lower it" in line


def test_evaluations_further_apart_than_the_budget(workdir, capsys):
    (workdir / "early.toml").write_text(TEXT.replace("eval_every = 10", "eval_every = 500"))
    fails("optimize", "early.toml")
    line = error_line(capsys)
    assert "early.toml: [training] eval_every: 500 updates" in line and "all would tie" in line


def test_a_binary_study_file_is_named(workdir, capsys):
    (workdir / "early.toml").write_bytes(bytes(range(256)) * 4)
    fails("optimize", "early.toml")
    assert "early.toml: not a text file" in error_line(capsys)


@pytest.mark.parametrize("flag", ["--out", "--artifact-dir"])
def test_output_folders_that_cannot_be_written(workdir, capsys, read_only, flag):
    fails("optimize", "early.toml", "--no-progress", flag, read_only / "reports")
    line = error_line(capsys)
    assert line.startswith(
        f"optuna-clr: error: {flag} {read_only / 'reports'}: cannot write there"
    )


def test_an_output_path_that_is_a_file(workdir, capsys):
    (workdir / "taken").write_text("")
    fails("range-test", "early.toml", "--out", "taken")
    assert "--out taken: cannot write there" in error_line(capsys)


def test_a_sqlite_folder_that_cannot_be_written(workdir, capsys, read_only):
    fails("optimize", "early.toml", "--storage", f"sqlite:///{read_only}/study.db")
    line = error_line(capsys)
    assert f"the folder {read_only} cannot be written" in line and "server is running" not in line


def test_report_on_a_storage_that_does_not_exist_creates_none(workdir, capsys):
    fails("report", "early.toml", "--storage", "sqlite:///missing.db")
    assert "no storage at missing.db" in error_line(capsys)
    assert not (workdir / "missing.db").exists()


def test_bad_heartbeat_settings_through_the_library(tmp_path):
    with pytest.raises(
        StorageError, match="heartbeat_interval must be a whole number of seconds > 0"
    ):
        open_storage(f"sqlite:///{tmp_path}/x.db", heartbeat_interval=-5)
    with pytest.raises(StorageError, match="grace_period must be"):
        open_storage(f"sqlite:///{tmp_path}/x.db", heartbeat_interval=5, grace_period=0)


def cli_process(workdir: Path, *argv: object) -> subprocess.CompletedProcess[str]:
    """The command in its own process, where file permissions hold (see ``unprivileged``)."""
    command = [sys.executable, "-m", "optuna_clr.cli", *(str(a) for a in argv)]
    return subprocess.run(
        unprivileged(command), cwd=workdir, capture_output=True, text=True, timeout=300
    )


@pytest.mark.parametrize("url", ["sqlite:///", "sqlite://", "sqlite:///:memory:"])
def test_an_in_memory_database_is_refused(workdir, capsys, url):
    fails("optimize", "early.toml", "--storage", url)
    line = error_line(capsys)
    assert "is an in-memory database: nothing would be kept" in line
    assert "sqlite:///optuna_clr.db" in line
    assert sorted(p.name for p in workdir.iterdir()) == ["early.toml"]  # nothing created


def test_an_empty_storage_url_is_refused_by_the_parser(workdir, capsys):
    with pytest.raises(SystemExit) as info:
        cli.main(["optimize", "early.toml", "--storage", ""])
    assert info.value.code == 2
    assert "argument --storage: must be a storage URL, got an empty one" in error_line(capsys)
    assert sorted(p.name for p in workdir.iterdir()) == ["early.toml"]


def test_the_storage_url_can_come_from_the_environment(workdir, capsys, monkeypatch):
    monkeypatch.setenv(STORAGE_ENV, "sqlite:///from_env.db")
    assert cli.main(["optimize", "early.toml", "--no-progress", "--n-trials", "1"]) == 0
    assert "in sqlite:///from_env.db:" in capsys.readouterr().out
    assert (workdir / "from_env.db").is_file() and not (workdir / "optuna_clr.db").exists()


def test_a_file_that_is_not_a_sqlite_database_is_named(workdir, capsys):
    (workdir / "study.db").write_bytes(b"not a database at all" * 100)
    fails("optimize", "early.toml", "--storage", "sqlite:///study.db")
    line = error_line(capsys)
    assert "study.db is not an SQLite database" in line and "server is running" not in line


@pytest.mark.parametrize("content", ["folder", "random bytes", "text"])
def test_a_journal_that_is_a_folder_or_not_a_journal_is_named(workdir, capsys, content):
    path = workdir / "study.log"
    if content == "folder":
        path.mkdir()
    else:
        path.write_bytes(os.urandom(4096) if content == "random bytes" else b"hello\nworld\n")
    fails("optimize", "early.toml", "--storage", "journal:///study.log")
    line = error_line(capsys)
    expected = "is not a file" if content == "folder" else "is not an Optuna journal"
    assert line.startswith("optuna-clr: error: journal storage study.log ") and expected in line


def test_a_read_only_sqlite_file_is_named(workdir):
    optuna.create_study(study_name="other", storage="sqlite:///study.db")
    (workdir / "study.db").chmod(0o444)
    done = cli_process(workdir, "optimize", "early.toml", "--storage", "sqlite:///study.db")
    assert done.returncode == 2, done.stderr
    line = done.stderr.strip().splitlines()[-1]
    assert "SQLite storage study.db cannot be read and written (Permission denied)" in line
    assert "chmod u+rw" in line


def test_a_data_folder_that_cannot_be_read_is_named(workdir, data_dir):
    raw = workdir / "data" / "MNIST" / "raw"
    shutil.copytree(data_dir / "mnist" / "MNIST" / "raw", raw)
    raw.chmod(0)
    try:
        (workdir / "early.toml").write_text(TEXT.replace('name = "digits"', 'name = "mnist"'))
        done = cli_process(workdir, "optimize", "early.toml", "--data-dir", "data")
    finally:
        raw.chmod(0o755)
    assert done.returncode == 2, done.stderr
    line = done.stderr.strip().splitlines()[-1]
    assert "Traceback" not in done.stderr
    assert f"{Path('data/MNIST/raw/train-images-idx3-ubyte')} cannot be read (permission" in line
    assert not (workdir / "optuna_clr.db").exists()


def test_nothing_is_created_before_the_data_checks_pass(workdir, capsys):
    (workdir / "early.toml").write_text(TEXT.replace("batch_size = 32", "batch_size = 5000"))
    fails("optimize", "early.toml", "--no-progress")
    assert "[training] batch_size" in error_line(capsys)
    assert sorted(p.name for p in workdir.iterdir()) == ["early.toml"]  # no storage, no folders
