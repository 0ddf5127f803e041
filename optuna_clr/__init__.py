"""optuna_clr: search learning-rate schedules with Optuna for the fewest iterations to a target.

The names here are what a study needs: the objective and its search space, the LR range test
and the sampler it steers, the pruner, and the runner. Schedules live in
:mod:`optuna_clr.schedules`, data in :mod:`optuna_clr.tasks`, models in
:mod:`optuna_clr.models`, errors in :mod:`optuna_clr.exceptions`, everything else in its
module. Names that were here before (the schedule classes, ``train``, ``open_storage``,
``ensure_fingerprint``, the plots and the errors) still work, with a ``FutureWarning`` naming
their new place; they go in the next release.
"""

from __future__ import annotations

import importlib
from typing import Any
import warnings

from optuna_clr import exceptions
from optuna_clr import models
from optuna_clr import schedules
from optuna_clr import tasks
from optuna_clr.experiment import Experiment
from optuna_clr.objective import IterationsToTarget
from optuna_clr.prior import RangeTestPrior
from optuna_clr.pruners import TargetPruner
from optuna_clr.range_test import lr_range_test
from optuna_clr.range_test import RangeTestResult
from optuna_clr.runner import optimize
from optuna_clr.samplers import RangeTestPriorSampler
from optuna_clr.settings import TrainConfig
from optuna_clr.space import ScheduleSpace
from optuna_clr.tracking import TargetTracker
from optuna_clr.training import TrainResult


__version__ = "0.1.0"

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
    "train": "optuna_clr.training",
    "open_storage": "optuna_clr.storage",
    "ensure_fingerprint": "optuna_clr.fingerprint",
    "plot_range_test": "optuna_clr.plots",
    "plot_schedule": "optuna_clr.plots",
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
