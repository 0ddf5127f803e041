"""Every argument and output folder is checked before the range test: one line, exit 2."""

from __future__ import annotations

import os
from pathlib import Path

from conftest import tiny_study
import pytest

from optuna_clr import cli
from optuna_clr.storage import open_storage
from optuna_clr.storage import StorageError


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
