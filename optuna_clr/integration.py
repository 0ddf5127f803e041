"""PyTorch Lightning: a trial's schedule in your LightningModule's training loop.

:class:`ScheduleCallback` applies the trial's schedule to every optimizer of the trainer before
each update, reads the validation accuracy your module logs under ``monitor`` at each
validation, reports it through :class:`~optuna_clr.TargetTracker` (so the study's pruner can
stop the trial), and ends training once the target is reached. The objective returns
:meth:`ScheduleCallback.value`, the iterations to target (censored when not reached). Needs
the optional extra: ``pip install "optuna-clr[lightning]"``.

Example:

    .. code-block:: python

        import lightning
        import optuna
        import optuna_clr
        from optuna_clr.integration import ScheduleCallback

        space = optuna_clr.ScheduleSpace(families=["fixed", "triangular2"], lr=(0.01, 0.5),
                                         iterations_per_epoch=len(train_loader))

        def objective(trial):
            callback = ScheduleCallback(trial, space.suggest(trial), monitor="val_acc",
                                        target_accuracy=0.97, max_iterations=2000)
            trainer = lightning.Trainer(max_steps=2000, val_check_interval=20,
                                        callbacks=[callback], enable_progress_bar=False)
            trainer.fit(MyModule(), train_loader, val_loader)  # logs self.log("val_acc", ...)
            return callback.value()

        study = optuna.create_study(direction="minimize", pruner=optuna_clr.TargetPruner())
        study.optimize(objective, n_trials=20)
"""

from __future__ import annotations

from typing import Any

import lightning
import optuna

from optuna_clr.schedules import Schedule
from optuna_clr.study.tracking import TargetTracker


class ScheduleCallback(lightning.pytorch.Callback):
    """Train a trial's schedule with a ``lightning.Trainer``: apply, report, prune, stop.

    Args:
        trial: the Optuna trial.
        schedule: the trial's schedule, e.g. ``space.suggest(trial)``; its steps are the
            trainer's optimizer steps (``trainer.global_step``).
        monitor: the logged validation-accuracy metric (``self.log("val_acc", acc)`` in your
            ``validation_step`` or ``on_validation_epoch_end``).
        target_accuracy: validation accuracy that ends training.
        max_iterations: the budget in optimizer steps (set the trainer's ``max_steps`` to it).

    Raises:
        optuna.TrialPruned: from ``trainer.fit`` when the study's pruner stops the trial.
        KeyError: at a validation that did not log ``monitor``; the message lists what was logged.
    """

    def __init__(
        self,
        trial: optuna.Trial,
        schedule: Schedule,
        *,
        monitor: str,
        target_accuracy: float,
        max_iterations: int,
    ) -> None:
        self.schedule = schedule
        self.monitor = monitor
        self.tracker = TargetTracker(
            trial, target_accuracy=target_accuracy, max_iterations=max_iterations
        )

    def on_train_batch_start(
        self, trainer: lightning.Trainer, pl_module: Any, batch: Any, batch_idx: int
    ) -> None:
        for optimizer in trainer.optimizers:
            self.schedule.apply(optimizer, trainer.global_step)

    def on_validation_end(self, trainer: lightning.Trainer, pl_module: Any) -> None:
        if trainer.sanity_checking:
            return
        metrics = trainer.callback_metrics
        if self.monitor not in metrics:
            raise KeyError(
                f"ScheduleCallback: no {self.monitor!r} was logged at validation "
                f"(logged: {sorted(metrics)}); log the validation accuracy under it"
            )
        if self.tracker.report(trainer.global_step, float(metrics[self.monitor])):
            trainer.should_stop = True

    def value(self) -> float:
        """The trial's value: iterations to target, or the censored value."""
        return self.tracker.value()
