"""Old module paths (``optuna_clr.objective``, ``optuna_clr.tasks``, ...) for one release.

The flat modules moved into subpackages that follow the data path. An import of an old path
gets the module at its new place, the same object, with a ``FutureWarning`` naming it; for
``tasks`` and ``models``, which the top-level package still offers as attributes, silently.
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.machinery
import importlib.util
import sys
from types import ModuleType
import warnings


MOVED_MODULES = {
    "optuna_clr.settings": "optuna_clr.training.settings",
    "optuna_clr.tasks": "optuna_clr.training.tasks",
    "optuna_clr.models": "optuna_clr.training.models",
    "optuna_clr.user_code": "optuna_clr.training.user_code",
    "optuna_clr.engine_core": "optuna_clr.training.engine_core",
    "optuna_clr.fused": "optuna_clr.training.fused",
    "optuna_clr.experiment": "optuna_clr.training.experiment",
    "optuna_clr.range_test": "optuna_clr.search.range_test",
    "optuna_clr.prior": "optuna_clr.search.prior",
    "optuna_clr.space": "optuna_clr.search.space",
    "optuna_clr.samplers": "optuna_clr.search.samplers",
    "optuna_clr.pruners": "optuna_clr.search.pruners",
    "optuna_clr.objective": "optuna_clr.study.objective",
    "optuna_clr.tracking": "optuna_clr.study.tracking",
    "optuna_clr.runner": "optuna_clr.study.runner",
    "optuna_clr.storage": "optuna_clr.study.storage",
    "optuna_clr.fingerprint": "optuna_clr.study.fingerprint",
    "optuna_clr.studyfile": "optuna_clr.study.studyfile",
    "optuna_clr.compare": "optuna_clr.results.compare",
    "optuna_clr.statistics": "optuna_clr.results.statistics",
    "optuna_clr.report": "optuna_clr.results.report",
    "optuna_clr.dashboard": "optuna_clr.results.dashboard",
    "optuna_clr.plots": "optuna_clr.results.plots",
    "optuna_clr.figures": "optuna_clr.results.figures",
}
_SILENT = {"optuna_clr.tasks", "optuna_clr.models"}


class MovedModuleFinder(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Finds an old module path and loads it as the module at its new place."""

    def find_spec(
        self, fullname: str, path: object = None, target: object = None
    ) -> importlib.machinery.ModuleSpec | None:
        if fullname not in MOVED_MODULES:
            return None
        return importlib.util.spec_from_loader(fullname, self)

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> ModuleType:
        where = MOVED_MODULES[spec.name]
        if spec.name not in _SILENT:
            warnings.warn(
                f"{spec.name} moved to {where}; the old path goes in the next release",
                FutureWarning,
                stacklevel=2,
            )
        return importlib.import_module(where)

    def exec_module(self, module: ModuleType) -> None:
        """Nothing to run: the module was loaded at its new place."""


def install() -> None:
    """Put the finder on ``sys.meta_path`` once."""
    if not any(isinstance(f, MovedModuleFinder) for f in sys.meta_path):
        sys.meta_path.insert(0, MovedModuleFinder())
