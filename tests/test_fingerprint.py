"""A study refuses a run whose trials would not be comparable with the ones it holds."""

from __future__ import annotations

from pathlib import Path

from conftest import run_cli as run
from conftest import tiny_study
import optuna
import pytest

from optuna_clr.study.fingerprint import ensure_fingerprint
from optuna_clr.study.fingerprint import FINGERPRINT_ATTR
from optuna_clr.study.fingerprint import FingerprintMismatch
from optuna_clr.study.objective import IterationsToTarget


STORAGE = "sqlite:///optuna_clr.db"
NO_RANGE_TEST = (
    tiny_study("fp", n_trials=2, max_iterations=200)
    .split("[range_test]")[0]
    .replace("seed = 0", 'seed = 0\nsampler = "tpe"')
    + "\n[range_test]\nenabled = false\n"
)


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "fp.toml").write_text(NO_RANGE_TEST)
    return tmp_path


def n_trials() -> int:
    return len(optuna.load_study(study_name="fp", storage=STORAGE).trials)


@pytest.mark.parametrize(
    ("old", "new", "key"),
    [
        ("target_accuracy = 0.95", "target_accuracy = 0.97", "target_accuracy 0.95 -> 0.97"),
        ('device = "cpu"', 'device = "cpu"\nunit = "examples"', "unit 'iterations' -> 'examples'"),
        ("batch_size = 32", "batch_size = 64", "batch_size 32 -> 64"),
        ("eval_every = 10", "eval_every = 20", "eval_every 10 -> 20"),
    ],
)
def test_a_changed_setting_stops_the_run_before_training(workdir, capsys, old, new, key):
    assert run("optimize", "fp.toml", "--no-progress") == 0
    assert n_trials() == 2
    capsys.readouterr()
    (workdir / "fp.toml").write_text(NO_RANGE_TEST.replace(old, new))
    assert run("optimize", "fp.toml", "--no-progress") == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1
    assert key in err and "--study-name fp-2" in err
    assert n_trials() == 2  # nothing trained
    # another study name measures with the new settings, in the same storage
    assert (
        run("optimize", "fp.toml", "--no-progress", "--study-name", "fp-2", "--n-trials", 1) == 0
    )


def test_another_seed_is_another_split(workdir, capsys):
    assert run("optimize", "fp.toml", "--no-progress", "--n-trials", 1) == 0
    capsys.readouterr()
    assert run("optimize", "fp.toml", "--no-progress", "--seed", 3) == 2
    assert "split_seed 0 -> 3" in capsys.readouterr().err


def test_the_space_may_change(workdir, capsys):
    assert run("optimize", "fp.toml", "--no-progress", "--n-trials", 1) == 0
    (workdir / "fp.toml").write_text(
        NO_RANGE_TEST.replace("lr = [0.005, 1.0]", "lr = [0.01, 0.5]").replace(
            "step_size_epochs = [1.0, 4.0]", "step_size_epochs = [2.0, 3.0]"
        )
    )
    assert run("optimize", "fp.toml", "--no-progress", "--n-trials", 1) == 0
    assert n_trials() == 2


def test_other_families_are_one_line_before_training(workdir, capsys):
    # Optuna itself would fail every new trial: a categorical's choices are fixed per study
    assert run("optimize", "fp.toml", "--no-progress", "--n-trials", 1) == 0
    capsys.readouterr()
    (workdir / "fp.toml").write_text(
        NO_RANGE_TEST.replace(
            'families = ["fixed", "triangular2"]', 'families = ["fixed", "exp_range"]'
        )
    )
    assert run("optimize", "fp.toml", "--no-progress", "--n-trials", 1) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1
    assert (
        "['fixed', 'triangular2']" in err
        and "['fixed', 'exp_range']" in err
        and "--study-name" in err
    )
    assert n_trials() == 1


def test_a_study_from_before_fingerprints_resumes_with_a_note(workdir, capsys):
    assert run("optimize", "fp.toml", "--no-progress", "--n-trials", 1) == 0
    study = optuna.load_study(study_name="fp", storage=STORAGE)
    study._storage.set_study_user_attr(study._study_id, FINGERPRINT_ATTR, None)  # as main wrote it
    capsys.readouterr()
    assert run("optimize", "fp.toml", "--no-progress", "--n-trials", 1) == 0
    out = capsys.readouterr().out
    assert "has trials from before fingerprints were stored" in out
    assert n_trials() == 2
    stored = optuna.load_study(study_name="fp", storage=STORAGE).user_attrs[FINGERPRINT_ATTR]
    assert stored["target_accuracy"] == 0.95 and stored["split_seed"] == 0


def test_library_check_names_every_changed_key():
    objective = IterationsToTarget(
        task="digits",
        model="mlp",
        batch_size=32,
        target_accuracy=0.9,
        max_iterations=100,
        eval_every=10,
        device="cpu",
    )
    study = optuna.create_study(direction="minimize")
    assert ensure_fingerprint(study, objective.fingerprint()) is None
    assert ensure_fingerprint(study, objective.fingerprint()) is None
    other = IterationsToTarget(
        task="digits",
        model="mlp",
        batch_size=32,
        target_accuracy=0.9,
        max_iterations=200,
        eval_every=10,
        device="cpu",
        precision="fp32",
        optimizer="adam",
    )
    with pytest.raises(FingerprintMismatch) as info:
        ensure_fingerprint(study, other.fingerprint(), fix="pick another study")
    message = str(info.value)
    assert "max_iterations 100 -> 200" in message and "optimizer 'sgd' -> 'adam'" in message
    assert message.endswith("pick another study")
    assert ensure_fingerprint(study, objective.fingerprint(seed=0)) is None
    with pytest.raises(FingerprintMismatch, match="split_seed 0 -> 1"):
        ensure_fingerprint(study, objective.fingerprint(seed=1))


def test_compare_refuses_changed_settings_before_training(workdir, capsys):
    (workdir / "fp.toml").write_text(NO_RANGE_TEST + "\n[compare]\nn_trials = 2\nseeds = 1\n")
    assert run("compare", "fp.toml", "--no-progress") == 0
    storage = optuna.storages.RDBStorage(STORAGE)
    counts = {s.study_name: s.n_trials for s in optuna.get_all_study_summaries(storage)}
    assert counts["fp-retrain"] >= 2 and counts["fp-fixed"] == 2
    capsys.readouterr()
    (workdir / "fp.toml").write_text(
        (NO_RANGE_TEST + "\n[compare]\nn_trials = 3\nseeds = 2\n").replace(
            "target_accuracy = 0.95", "target_accuracy = 0.9"
        )
    )
    assert run("compare", "fp.toml", "--no-progress") == 2
    err = capsys.readouterr().err.strip()
    assert (
        len(err.splitlines()) == 1
        and "target_accuracy 0.95 -> 0.9" in err
        and "--study-name fp-2" in err
    )
    assert {s.study_name: s.n_trials for s in optuna.get_all_study_summaries(storage)} == counts
    # an arm measured with other settings is refused too, though the home study would pass
    optuna.delete_study(study_name="fp", storage=STORAGE)
    assert run("compare", "fp.toml", "--no-progress") == 2
    assert "study 'fp-retrain' was measured with other settings" in capsys.readouterr().err
