"""optuna_clr: search learning-rate schedules with Optuna for the fewest iterations to a target.

Public names are re-exported here; import them as ``optuna_clr.X``.
"""

from __future__ import annotations

from optuna_clr import schedules
from optuna_clr.plots import plot_schedule
from optuna_clr.schedules import BatchSizeIncrease
from optuna_clr.schedules import CosineRestarts
from optuna_clr.schedules import ExpRange
from optuna_clr.schedules import ExponentialDecay
from optuna_clr.schedules import Fixed
from optuna_clr.schedules import InverseTimeDecay
from optuna_clr.schedules import LinearDecay
from optuna_clr.schedules import OneCycle
from optuna_clr.schedules import Schedule
from optuna_clr.schedules import StepDecay
from optuna_clr.schedules import Triangular
from optuna_clr.schedules import Triangular2


__version__ = "0.1.0"

__all__ = [
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
    "plot_schedule",
    "schedules",
]
