"""The public surface: a small top level, errors in one module, moved names still working
for one release with a warning that names their new place."""

from __future__ import annotations

import importlib
import json
import subprocess
import sys

import pytest

import optuna_clr
from optuna_clr import exceptions


def test_the_top_level_is_small_sorted_and_every_name_resolves():
    names = optuna_clr.__all__
    assert len(names) <= 16 and names == sorted(names, key=lambda n: (n[0].islower(), n))
    for name in names:
        assert getattr(optuna_clr, name) is not None
    # what README's library example uses is there
    for name in ("IterationsToTarget", "lr_range_test", "ScheduleSpace", "TargetPruner"):
        assert name in names


@pytest.mark.parametrize("name", sorted(optuna_clr._MOVED))
def test_a_moved_name_still_works_with_a_warning_naming_its_place(name):
    where = optuna_clr._MOVED[name]
    with pytest.warns(FutureWarning, match=rf"optuna_clr\.{name} moved to {where}\.{name}"):
        old = getattr(optuna_clr, name)
    assert old is getattr(importlib.import_module(where), name)


def test_an_unknown_name_is_an_attribute_error():
    with pytest.raises(AttributeError, match="no attribute 'nosuch'"):
        optuna_clr.nosuch  # noqa: B018


def test_every_error_is_caught_from_one_module():
    from optuna_clr.study.studyfile import StudyFile

    with pytest.raises(exceptions.StudyFileError, match=r"x\.toml: \[training\]"):
        StudyFile.parse("[study]\nname = 'x'\n", source="x.toml")
    for name in exceptions.__all__:
        assert issubclass(getattr(exceptions, name), Exception)


def test_an_old_module_path_is_the_module_at_its_new_place_with_a_warning():
    """A fresh interpreter, so every old path is imported for the first time."""
    from optuna_clr import _compat

    code = (
        "import importlib, json, sys, warnings\n"
        "warnings.simplefilter('always')\n"
        "from optuna_clr import _compat\n"
        "out = {}\n"
        "for old, new in _compat.MOVED_MODULES.items():\n"
        "    with warnings.catch_warnings(record=True) as caught:\n"
        "        module = importlib.import_module(old)\n"
        "    out[old] = [module is importlib.import_module(new),\n"
        "                [str(w.message) for w in caught if w.category is FutureWarning]]\n"
        "print(json.dumps(out))\n"
    )
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    seen = json.loads(run.stdout)
    assert set(seen) == set(_compat.MOVED_MODULES)
    for old, (same, messages) in seen.items():
        assert same, old
        if old in ("optuna_clr.tasks", "optuna_clr.models"):  # still offered as attributes
            assert messages == [], old
        else:
            assert messages == [
                f"{old} moved to {_compat.MOVED_MODULES[old]}; the old path "
                "goes in the next release"
            ], old
