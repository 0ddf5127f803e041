"""optuna_clr: search learning-rate schedules with Optuna for the fewest iterations to a target.

Public names are re-exported here; import them as ``optuna_clr.X``.
"""

from __future__ import annotations

from optuna_clr import models
from optuna_clr import schedules
from optuna_clr import tasks
from optuna_clr.experiment import Experiment
from optuna_clr.fingerprint import ensure_fingerprint
from optuna_clr.fingerprint import FingerprintMismatch
from optuna_clr.objective import FinishedElsewhere
from optuna_clr.objective import IterationsToTarget
from optuna_clr.objective import OutOfMemory
from optuna_clr.plots import plot_range_test
from optuna_clr.plots import plot_schedule
from optuna_clr.prior import RangeTestPrior
from optuna_clr.pruners import TargetPruner
from optuna_clr.range_test import lr_range_test
from optuna_clr.range_test import RangeTestResult
from optuna_clr.runner import optimize
from optuna_clr.samplers import RangeTestPriorSampler
from optuna_clr.schedules import BatchSizeIncrease
from optuna_clr.schedules import CosineRestarts
from optuna_clr.schedules import ExponentialDecay
from optuna_clr.schedules import ExpRange
from optuna_clr.schedules import Fixed
from optuna_clr.schedules import InverseTimeDecay
from optuna_clr.schedules import LinearDecay
from optuna_clr.schedules import OneCycle
from optuna_clr.schedules import Schedule
from optuna_clr.schedules import StepDecay
from optuna_clr.schedules import Triangular
from optuna_clr.schedules import Triangular2
from optuna_clr.space import ScheduleSpace
from optuna_clr.storage import open_storage
from optuna_clr.storage import StorageError
from optuna_clr.tracking import TargetTracker
from optuna_clr.training import train
from optuna_clr.training import TrainConfig
from optuna_clr.training import TrainResult


__version__ = "0.1.0"

__all__ = [
    "BatchSizeIncrease",
    "Experiment",
    "FingerprintMismatch",
    "FinishedElsewhere",
    "IterationsToTarget",
    "OutOfMemory",
    "RangeTestPrior",
    "RangeTestPriorSampler",
    "RangeTestResult",
    "ScheduleSpace",
    "StorageError",
    "TargetPruner",
    "TargetTracker",
    "TrainConfig",
    "TrainResult",
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
    "ensure_fingerprint",
    "lr_range_test",
    "models",
    "open_storage",
    "optimize",
    "plot_range_test",
    "plot_schedule",
    "schedules",
    "tasks",
    "train",
]
