"""What to train and how: settings, data, models, and the two engines that step them.

The ground floor of optuna_clr's data path (above :mod:`optuna_clr.schedules` only): it knows
nothing of Optuna. :mod:`~optuna_clr.training.settings` declares every training setting once,
:mod:`~optuna_clr.training.tasks` loads data onto the device, :mod:`~optuna_clr.training.models`
builds networks, :mod:`~optuna_clr.training.engine_core` holds the stop rules both engines share,
:mod:`~optuna_clr.training.engine` steps one model and :mod:`~optuna_clr.training.fused` many
at once, and :class:`~optuna_clr.training.experiment.Experiment` ties a task, a model and the
settings together. The engine's names are re-exported here (``optuna_clr.training.train``).
"""

from __future__ import annotations

from optuna_clr.training.engine import accuracy
from optuna_clr.training.engine import augment_batch
from optuna_clr.training.engine import BatchOrder
from optuna_clr.training.engine import make_optimizer
from optuna_clr.training.engine import resolve_device
from optuna_clr.training.engine import to_device
from optuna_clr.training.engine import train
from optuna_clr.training.engine_core import Evaluation
from optuna_clr.training.engine_core import first_non_finite
from optuna_clr.training.engine_core import STOP_REASONS
from optuna_clr.training.engine_core import TrainResult
from optuna_clr.training.settings import OPTIMIZERS
from optuna_clr.training.settings import TrainConfig


__all__ = [
    "OPTIMIZERS",
    "STOP_REASONS",
    "BatchOrder",
    "Evaluation",
    "TrainConfig",
    "TrainResult",
    "accuracy",
    "augment_batch",
    "first_non_finite",
    "make_optimizer",
    "resolve_device",
    "to_device",
    "train",
]
