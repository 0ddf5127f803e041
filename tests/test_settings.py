"""The training settings are declared once (:mod:`optuna_clr.training.settings`) and every consumer
reads that declaration: the library objective, the range test, the study file's defaults and
checks, and the fingerprint."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from conftest import tiny_study
import optuna
import pytest

import optuna_clr
from optuna_clr.schedules import Fixed
from optuna_clr.study.fingerprint import ensure_fingerprint
from optuna_clr.study.fingerprint import fingerprint_changes
from optuna_clr.study.fingerprint import FingerprintMismatch
from optuna_clr.study.studyfile import DEFAULTS
from optuna_clr.study.studyfile import StudyFile
from optuna_clr.study.studyfile import StudyFileError
from optuna_clr.training import settings
from optuna_clr.training.engine import train
from optuna_clr.training.fused import FusedJob
from optuna_clr.training.fused import train_fused
from optuna_clr.training.settings import TrainConfig


def test_each_consumer_takes_its_settings_from_the_one_declaration(digits):
    assert set(settings.names("file")) <= set(DEFAULTS["training"])
    for name in settings.names("file"):
        assert DEFAULTS["training"][name] == settings.default(name)
    sf = StudyFile.parse(tiny_study("s", n_trials=1), source="s.toml")
    assert set(settings.names("range_test")) <= set(sf.range_test_kwargs())
    objective = optuna_clr.IterationsToTarget(
        task=digits, target_accuracy=0.9, max_iterations=20, eval_every=10, device="cpu"
    )
    assert set(settings.names("fingerprint")) <= set(objective.fingerprint())
    # no setting outside the declaration is taken
    with pytest.raises(TypeError, match="unexpected keyword argument 'batchsize'"):
        optuna_clr.IterationsToTarget(target_accuracy=0.9, max_iterations=20, batchsize=32)
    with pytest.raises(TypeError, match="unexpected keyword argument 'batchsize'"):
        optuna_clr.lr_range_test(task=digits, min_lr=0, max_lr=1, steps=10, batchsize=32)


@pytest.mark.parametrize("name", settings.names())
def test_a_setting_out_of_range_is_refused_by_the_config_naming_it(name):
    check = settings.check(name)
    bad = {"flag": "yes", "choice": "nosuch", "text": 3}.get(check.kind, float("nan"))
    with pytest.raises(ValueError, match=name):
        TrainConfig(**{"max_iterations": 10, name: bad})


def test_a_study_made_before_a_setting_existed_matches_it_when_it_is_off():
    stored = {"batch_size": 32, "optimizer": "sgd"}
    assert fingerprint_changes(stored, {**stored, "new_setting": 0.0}) == []
    assert fingerprint_changes(stored, {**stored, "new_setting": 0.1}) == [
        "new_setting 'unset' -> 0.1"
    ]
    assert fingerprint_changes(stored, {"batch_size": 32}) == ["optimizer 'sgd' -> 'unset'"]


def test_the_study_file_checks_each_setting_as_the_config_does(tmp_path):
    for field in settings.settings("file"):
        check = field.metadata["check"]
        if check.kind not in ("number", "integer"):
            continue
        text = _with_training(tiny_study("s", n_trials=1), field.name, "-1")
        with pytest.raises(StudyFileError, match=rf"s.toml: \[training\] {field.name}: must"):
            StudyFile.parse(text, source="s.toml")
        with pytest.raises(ValueError, match=field.name):
            TrainConfig(**{"max_iterations": 10, field.name: -1})


def _with_training(text: str, key: str, value: str) -> str:
    """``text`` with ``[training] key = value``, replacing the key's line if it has one."""
    head, rest = text.split("[training]\n", 1)
    section, sep, tail = rest.partition("\n[")
    lines = [line for line in section.splitlines() if not line.startswith(f"{key} =")]
    return head + "[training]\n" + "\n".join([f"{key} = {value}", *lines]) + sep + tail


def test_the_config_is_a_plain_frozen_dataclass():
    config = TrainConfig(max_iterations=10)
    with pytest.raises(dataclasses.FrozenInstanceError):
        config.batch_size = 3  # type: ignore[misc]
    assert dataclasses.replace(config, batch_size=3).batch_size == 3


def test_label_smoothing_declared_once_works_in_the_library_the_file_and_the_fingerprint(digits):
    config = TrainConfig(
        max_iterations=200, eval_every=50, batch_size=32, device="cpu", label_smoothing=0.2
    )
    # the loss both engines train on: smoothed cross-entropy never falls below the entropy of
    # its target, 0.867 nats for 10 classes at 0.2, where plain cross-entropy goes on down
    smooth = train(digits, "mlp", Fixed(0.1), config)
    plain = train(digits, "mlp", Fixed(0.1), dataclasses.replace(config, label_smoothing=0.0))
    assert min(e.loss for e in smooth.curve) > 0.86 > 0.6 > plain.curve[-1].loss
    exact = dataclasses.replace(config, dtype="float64")
    (fused,) = train_fused(digits, "mlp", exact, [FusedJob(Fixed(0.1))], capacity=1)
    alone = train(digits, "mlp", Fixed(0.1), exact)
    assert [e.loss for e in fused.curve] == pytest.approx([e.loss for e in alone.curve], 1e-9)

    # the study file: read, checked on load, handed to the objective and the range test
    text = _with_training(tiny_study("s", n_trials=1), "label_smoothing", "0.2")
    sf = StudyFile.parse(text, source="s.toml")
    assert sf.range_test_kwargs()["label_smoothing"] == 0.2
    objective = optuna_clr.IterationsToTarget(**{**sf.objective_kwargs(), "task": digits})
    assert objective.experiment.config.label_smoothing == 0.2
    with pytest.raises(StudyFileError, match=r"\[training\] label_smoothing: must be < 1"):
        StudyFile.parse(_with_training(text, "label_smoothing", "1.0"), source="s.toml")
    result = optuna_clr.lr_range_test(
        task=digits, min_lr=0.0, max_lr=1.0, steps=20, batch_size=32, label_smoothing=0.2
    )
    assert len(result.lrs) > 0

    # the fingerprint: a study measured without it refuses a run with it, and one stored
    # before the setting existed resumes when it is off
    study = optuna.create_study(direction="minimize")
    fingerprint = objective.fingerprint()
    assert fingerprint["label_smoothing"] == 0.2
    ensure_fingerprint(study, {**fingerprint, "label_smoothing": 0.0})
    with pytest.raises(FingerprintMismatch, match=r"label_smoothing 0\.0 -> 0\.2"):
        ensure_fingerprint(study, fingerprint)
    older = {k: v for k, v in fingerprint.items() if k != "label_smoothing"}
    assert fingerprint_changes(older, {**fingerprint, "label_smoothing": 0.0}) == []


def test_the_study_file_reference_shows_every_setting_as_declared():
    page = Path(__file__).resolve().parents[1] / "docs" / "study-files.md"
    assert settings.reference() in page.read_text(), (
        "docs/study-files.md's [training] table differs from the declaration: paste the "
        "output of python -c "
        "'from optuna_clr.training.settings import reference; print(reference())'"
    )
