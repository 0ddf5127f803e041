"""Every number of a study file is checked when the file is loaded: NaN, infinities, zero,
negatives and huge values are refused in one line naming the file, the section and the key,
unless the value is a legitimate one (an explicit allow-list below).

The cases come from :data:`optuna_clr.study.studyfile.DEFAULTS`, so a new numeric key is covered
without editing this file (a new key whose default is None has to be classified here first).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from conftest import tiny_study
import pytest

from optuna_clr import cli
from optuna_clr.study.studyfile import DEFAULTS
from optuna_clr.study.studyfile import StudyFile
from optuna_clr.study.studyfile import StudyFileError


try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib  # type: ignore[no-redef]


SOURCE = "values.toml"
BASE = tomllib.loads(tiny_study("values", n_trials=2))

# Keys whose default is None, by what they hold: "number", "pair" or None (not a number).
NONE_DEFAULT_KINDS: dict[tuple[str, str], str | None] = {
    ("study", "name"): None,
    ("task", "validation"): "number",
    ("task", "data_dir"): None,
    ("task", "image_size"): "number",
    ("training", "momentum"): "number",
    ("training", "target_accuracy"): "number",
    ("training", "max_iterations"): "number",
    ("training", "max_examples"): "number",
    ("training", "max_seconds"): "number",
    ("space", "max_lr"): "pair",
    ("space", "max_batch_size"): "number",
    ("range_test", "max_lr"): "number",
    ("range_test", "epochs"): "number",
    ("range_test", "steps"): "number",
    ("range_test", "mode"): None,
    ("range_test", "eval_every"): "number",
    ("compare", "n_trials"): "number",
    ("compare", "max_seeds"): "number",
    ("compare", "max_compute"): "number",
    ("compare", "fixed_lr"): "pair",
}
# A valid pair for the pair keys whose default is None, to put the bad value in.
NONE_DEFAULT_PAIRS = {("space", "max_lr"): [0.01, 0.5], ("compare", "fixed_lr"): [0.01, 0.5]}

# The values fed to every numeric key (TOML text). "huge" is a float for float keys; TOML
# integers are unbounded in Python's reader, so 2**64 and 10**400 reach the checks as given.
VALUES = {
    "nan": "nan",
    "inf": "inf",
    "-inf": "-inf",
    "zero": "0",
    "negative": "-1",
    "huge": "1e30",
    "huge-int": str(2**64),
    "overflow": str(10**400),
}

# The values that are legitimately accepted; every other case must be refused. Pair keys get
# the value at the pair's low end ("@low") and its high end ("@high").
ACCEPTED: set[tuple[str, str, str]] = {
    ("study", "n_trials", "zero"),  # a run that only reports (or only runs the range test)
    ("study", "seed", "zero"),
    ("compare", "n_trials", "zero"),  # baselines only
    ("compare", "margin", "zero"),  # no practical-difference decision
    ("training", "momentum", "zero"),  # plain SGD
    ("training", "weight_decay", "zero"),  # no decay, the default
    ("training", "label_smoothing", "zero"),  # plain cross-entropy, the default
    ("range_test", "min_lr", "zero"),  # the CLR paper's linear test starts at 0
    # No upper bound but finiteness: an LR as high as a range test may diverge at, any decay,
    # any time budget, a batch growth capped by max_batch_size, a narrowing margin that stays
    # inside the tested range and the file's ranges.
    *(
        (section, key, label)
        for section, key in (
            ("range_test", "max_lr"),
            ("training", "weight_decay"),
            ("training", "max_seconds"),
            ("space", "growth_factor"),
            ("range_test", "margin"),
        )
        for label in ("huge", "huge-int")
    ),
    *(
        (section, key, label)
        for section, key in (("space", "lr"), ("space", "max_lr"), ("compare", "fixed_lr"))
        for label in ("huge@high", "huge-int@high")
    ),
}


def _kind(section: str, key: str) -> str | None:
    default = DEFAULTS[section][key]
    if default is None:
        return NONE_DEFAULT_KINDS[(section, key)]
    if isinstance(default, bool) or isinstance(default, str):
        return None
    if isinstance(default, (int, float)):
        return "number"
    if isinstance(default, list) and all(isinstance(v, str) for v in default):
        return None  # families: see test_families_are_each_listed_once
    assert len(default) == 2, (section, key, default)
    return "pair"


def _cases() -> list[tuple[str, str, str, str]]:
    """(section, key, label, TOML value) for every numeric key of every section."""
    cases = []
    for section, defaults in DEFAULTS.items():
        for key in defaults:
            kind = _kind(section, key)
            if kind == "number":
                cases += [(section, key, label, text) for label, text in VALUES.items()]
            elif kind == "pair":
                low, high = _pair(section, key)
                for label, text in VALUES.items():
                    cases.append((section, key, f"{label}@low", f"[{text}, {high!r}]"))
                    cases.append((section, key, f"{label}@high", f"[{low!r}, {text}]"))
    return cases


def _pair(section: str, key: str) -> list[float]:
    return (
        BASE.get(section, {}).get(key)
        or DEFAULTS[section][key]
        or NONE_DEFAULT_PAIRS[(section, key)]
    )


class _Raw(str):
    """TOML text written as is."""


def _toml(value: Any) -> str:
    if isinstance(value, _Raw):
        return str(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, list):
        return "[" + ", ".join(_toml(v) for v in value) + "]"
    return repr(value)


def _text(data: dict[str, dict[str, Any]]) -> str:
    return "".join(
        f"[{section}]\n" + "".join(f"{k} = {_toml(v)}\n" for k, v in values.items()) + "\n"
        for section, values in data.items()
    )


def _study(section: str, key: str, value: str, *, range_test_enabled: bool = True) -> str:
    """The small valid study with ``[section] key = value``, and what that key needs around
    it to be accepted when its value is valid."""
    data = json.loads(json.dumps(BASE))
    data.setdefault(section, {})[key] = _Raw(value)
    if (section, key) == ("range_test", "steps"):
        del data["range_test"]["epochs"]  # exactly one of the two
    if (section, key) == ("task", "image_size"):
        data["task"]["name"] = "imagefolder"  # the only task it applies to
    if not range_test_enabled:
        data["range_test"]["enabled"] = False
        data["study"]["sampler"] = "tpe"  # prior needs the range test
    return _text(data)


def test_the_base_study_loads_and_every_case_is_classified():
    sf = StudyFile.parse(_text(BASE), source=SOURCE)
    assert sf.study["name"] == "values"
    for section, defaults in DEFAULTS.items():
        for key in defaults:
            _kind(section, key)  # a new None-default key must be classified above
    # every accepted value is one of the cases (the allow-list does not outlive its keys)
    assert ACCEPTED <= {(s, k, label) for s, k, label, _ in _cases()}
    # and each valid default-built value is accepted as it is
    for (section, key), kind in NONE_DEFAULT_KINDS.items():
        if kind == "pair":
            StudyFile.parse(_study(section, key, repr(_pair(section, key))), source=SOURCE)


@pytest.mark.parametrize(
    "section, key, label, value", _cases(), ids=[f"{s}.{k}={v}" for s, k, v, _ in _cases()]
)
def test_every_numeric_value_is_checked_at_load(section, key, label, value):
    enabled = (True, False) if section == "range_test" else (True,)
    for range_test_enabled in enabled:  # range_test's keys are checked even where it is off
        text = _study(section, key, value, range_test_enabled=range_test_enabled)
        if (section, key, label) in ACCEPTED:
            StudyFile.parse(text, source=SOURCE)
            continue
        with pytest.raises(StudyFileError) as info:
            StudyFile.parse(text, source=SOURCE)
        message = str(info.value)
        assert "\n" not in message
        assert message.startswith(f"{SOURCE}: [{section}]"), message
        assert key in message, message


@pytest.mark.parametrize(
    "section, key",
    [
        (s, k)
        for s, defaults in DEFAULTS.items()
        for k, v in defaults.items()
        if isinstance(v, list) and v and all(isinstance(x, str) for x in v)
    ],
)
def test_families_are_each_listed_once(section, key):
    family = DEFAULTS[section][key][-1]
    with pytest.raises(StudyFileError) as info:
        StudyFile.parse(_study(section, key, json.dumps([family, family])), source=SOURCE)
    assert str(info.value).startswith(
        f"{SOURCE}: [{section}] {key}[1]: '{family}' is listed twice"
    )


@pytest.mark.parametrize(
    "key, value",
    [
        ("base_lr", "nan"),
        ("max_lr", "inf"),
        ("step_size", str(2**64)),
        ("momentum", "nan"),
        ("weight_decay", "inf"),
    ],
)
def test_a_baselines_numbers_are_checked_at_load(key, value):
    spec = {"family": "triangular", "base_lr": 0.01, "max_lr": 0.1, "step_size": 70}
    spec[key] = _Raw(value)
    text = (
        _text(BASE)
        + "[baselines.smith]\n"
        + "".join(f"{k} = {_toml(v)}\n" for k, v in spec.items())
    )
    with pytest.raises(StudyFileError) as info:
        StudyFile.parse(text, source=SOURCE)
    assert str(info.value).startswith(f"{SOURCE}: [baselines.smith] {key}: "), info.value


def test_seeds_fit_numpy():
    largest = 2**32 - 1
    with pytest.raises(StudyFileError, match=r"\[study\] seed: must be <= 4294967295"):
        StudyFile.parse(_study("study", "seed", str(largest + 1)), source=SOURCE)
    # the retraining seeds and the range test's repeats come after [study] seed
    text = _study("study", "seed", str(largest - 2))  # [compare] seeds = 5 by default
    with pytest.raises(StudyFileError, match=r"\[compare\] seeds: retrains with seeds"):
        StudyFile.parse(text, source=SOURCE)
    sf = StudyFile.parse(text + "[compare]\nseeds = 2\n", source=SOURCE)
    with pytest.raises(StudyFileError, match=r"\[range_test\] repeats: runs seeds"):
        sf.with_overrides(range_test__repeats=4)


def test_a_bad_value_stops_optimize_before_any_file_is_created(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    Path("bad.toml").write_text(_study("range_test", "epochs", "inf"))
    assert cli.main(["optimize", "bad.toml", "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert "bad.toml: [range_test] epochs: must be a finite number, got inf" in err
    assert "Traceback" not in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.toml"]  # no database, no folder
