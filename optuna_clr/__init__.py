"""optuna_clr: search learning-rate schedules with Optuna for the fewest iterations to a target.

The names here are what a study needs: the objective and its search space, the LR range test
and the sampler it steers, the pruner, and the runner. Schedules live in
:mod:`optuna_clr.schedules`, data in :mod:`optuna_clr.training.tasks`, models in
:mod:`optuna_clr.training.models`, errors in :mod:`optuna_clr.exceptions`, everything else in its
module. Names that were here before (the schedule classes, ``train``, ``open_storage``,
``ensure_fingerprint``, the plots and the errors) still work, with a ``FutureWarning`` naming
their new place; they go in the next release.
"""

from __future__ import annotations

import importlib
from typing import Any
import warnings

from optuna_clr import _compat
from optuna_clr import exceptions
from optuna_clr import schedules
from optuna_clr.search.prior import RangeTestPrior
from optuna_clr.search.pruners import TargetPruner
from optuna_clr.search.range_test import lr_range_test
from optuna_clr.search.range_test import RangeTestResult
from optuna_clr.search.samplers import RangeTestPriorSampler
from optuna_clr.search.space import ScheduleSpace
from optuna_clr.study.objective import IterationsToTarget
from optuna_clr.study.runner import optimize
from optuna_clr.study.tracking import TargetTracker
from optuna_clr.training import models
from optuna_clr.training import tasks
from optuna_clr.training.engine import TrainResult
from optuna_clr.training.experiment import Experiment
from optuna_clr.training.settings import TrainConfig


__version__ = "0.1.0"

_compat.install()  # old module paths (optuna_clr.objective, ...) for one release

__all__ = [
    "Experiment",
    "IterationsToTarget",
    "RangeTestPrior",
    "RangeTestPriorSampler",
    "RangeTestResult",
    "ScheduleSpace",
    "TargetPruner",
    "TargetTracker",
    "TrainConfig",
    "TrainResult",
    "exceptions",
    "lr_range_test",
    "models",
    "optimize",
    "schedules",
    "tasks",
]

# name -> the module it lives in now; reached through __getattr__ with a FutureWarning
_MOVED = {
    **{
        name: "optuna_clr.schedules"
        for name in (
            "BatchSizeIncrease",
            "CosineRestarts",
            "ExpRange",
            "ExponentialDecay",
            "Fixed",
            "InverseTimeDecay",
            "LinearDecay",
            "OneCycle",
            "Schedule",
            "StepDecay",
            "Triangular",
            "Triangular2",
        )
    },  # fmt: skip
    "train": "optuna_clr.training.engine",
    "open_storage": "optuna_clr.study.storage",
    "ensure_fingerprint": "optuna_clr.study.fingerprint",
    "plot_range_test": "optuna_clr.results.plots",
    "plot_schedule": "optuna_clr.results.plots",
    **{
        name: "optuna_clr.exceptions"
        for name in ("FingerprintMismatch", "FinishedElsewhere", "OutOfMemory", "StorageError")
    },
}


def __getattr__(name: str) -> Any:
    """A name that moved: still there for one release, with a warning naming its place."""
    if name not in _MOVED:
        raise AttributeError(f"module 'optuna_clr' has no attribute {name!r}")
    where = _MOVED[name]
    warnings.warn(
        f"optuna_clr.{name} moved to {where}.{name}; the old name goes in the next release",
        FutureWarning,
        stacklevel=2,
    )
    return getattr(importlib.import_module(where), name)
