"""Iterations to target in your own training loop: report, prune, censor.

:class:`TargetTracker` is what :class:`~optuna_clr.IterationsToTarget` uses inside, offered for
users who keep their own model and loop. Three lines join a loop to the search:

    .. testcode::

        import optuna

        import torch
        import optuna_clr

        task = optuna_clr.training.tasks.load("digits")
        space = optuna_clr.ScheduleSpace(
            families=["fixed", "triangular2"], lr=(0.01, 0.5),
            iterations_per_epoch=task.iterations_per_epoch(32),
        )

        def objective(trial):
            torch.manual_seed(0)
            model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(64, 10))
            optimizer = torch.optim.SGD(model.parameters(), lr=0.0, momentum=0.9)
            schedule = space.suggest(trial)                                     # 1
            tracker = optuna_clr.TargetTracker(trial, target_accuracy=0.9, max_iterations=400)
            for step in range(400):
                schedule.apply(optimizer, step)                                 # 2
                i = torch.randint(len(task.train), (32,))
                loss = torch.nn.functional.cross_entropy(model(task.train.x[i]), task.train.y[i])
                optimizer.zero_grad(); loss.backward(); optimizer.step()
                if (step + 1) % 20 == 0:
                    acc = (model(task.valid.x).argmax(1) == task.valid.y).float().mean().item()
                    if tracker.report(step + 1, acc):                           # 3
                        break
            return tracker.value()

        study = optuna.create_study(direction="minimize", pruner=optuna_clr.TargetPruner())
        study.optimize(objective, n_trials=5)

The value of a trial is the iterations to target; a trial that never reaches it gets a
*censored* value, :func:`censored_value`, always above the budget and smaller the closer the
trial came, so every trial that reached the target ranks first and the rest still order.

Each evaluation is reported in the same unit (:func:`reported_value`, the censored estimate
``budget * (1 + target - accuracy)``): a pruned trial, whose stored value is its last report,
ranks below every trial that reached the target, and since the map is affine and increasing
in the validation error, Optuna's Median, Percentile and Hyperband pruners decide exactly as
they would on the error. :func:`accuracy_curve` reads the accuracies back from a trial.
"""

from __future__ import annotations

from typing import Any

import optuna

from optuna_clr.training.engine_core import censored_value
from optuna_clr.training.engine_core import reported_accuracy
from optuna_clr.training.engine_core import reported_value


def accuracy_curve(trial: optuna.trial.FrozenTrial) -> list[tuple[int, float]]:
    """``(step, validation accuracy)`` at each evaluation of a trial that
    :class:`TargetTracker` reported (it records the ``budget`` and ``target_accuracy`` user
    attrs this reads); empty for a trial without them."""
    budget, target = trial.user_attrs.get("budget"), trial.user_attrs.get("target_accuracy")
    if budget is None or target is None:
        return []
    return [
        (step, reported_accuracy(budget, target, value))
        for step, value in sorted(trial.intermediate_values.items())
    ]


class TargetTracker:
    """Counts a trial's iterations to a target accuracy, reports to the trial and prunes.

    Args:
        trial: the Optuna trial.
        target_accuracy: validation accuracy that ends the trial.
        max_iterations: the budget, in the same unit as the steps you report (iterations by
            default; examples seen if you report those).
        budget: the budget in the unit of the objective's value, where that is not the unit
            of the steps (seconds, say); censored values and reports are measured against it.
            Default: ``max_iterations``.

    At each evaluation call :meth:`report` with the step count and the validation accuracy.
    It reports :func:`reported_value` to the trial, in the objective's unit, so Optuna's
    pruners work with ``direction="minimize"`` and a pruned trial ranks below every completed
    one; it returns True when the target is reached (stop training) and raises
    ``optuna.TrialPruned`` when the study's pruner says so. Return :meth:`value` from the
    objective.
    """

    def __init__(
        self,
        trial: optuna.Trial,
        *,
        target_accuracy: float,
        max_iterations: float,
        budget: float | None = None,
    ) -> None:
        if not 0 < target_accuracy <= 1:
            raise ValueError(f"target_accuracy must be in (0, 1], got {target_accuracy!r}")
        if max_iterations <= 0:
            raise ValueError(f"max_iterations must be > 0, got {max_iterations!r}")
        if budget is not None and budget <= 0:
            raise ValueError(f"budget must be > 0, got {budget!r}")
        study = getattr(trial, "study", None)  # checked here, before the trial trains
        if study is not None and study.direction != optuna.study.StudyDirection.MINIMIZE:
            raise ValueError(
                f"study {study.study_name!r} maximizes, "
                "but a trial's value is iterations to target: "
                "create it with direction='minimize'"
            )
        self.trial = trial
        self.target_accuracy = target_accuracy
        self.max_iterations = max_iterations
        self.budget = max_iterations if budget is None else budget
        self.curve: list[tuple[int, float]] = []
        self.best_accuracy = 0.0
        self.iterations_to_target: int | None = None

    @property
    def reached(self) -> bool:
        return self.iterations_to_target is not None

    def report(self, step: int, accuracy: float) -> bool:
        """Report the validation accuracy after ``step`` updates; True when the target is reached.

        Raises ``optuna.TrialPruned`` (after recording the curve so far) when the trial should
        be pruned. Reaching the target is checked first: a trial is never pruned at the
        evaluation where it succeeds.
        """
        if self.reached:
            return True
        self.curve.append((int(step), float(accuracy)))
        self.best_accuracy = max(self.best_accuracy, float(accuracy))
        value = reported_value(self.budget, self.target_accuracy, float(accuracy))
        self.trial.report(value, int(step))
        if accuracy >= self.target_accuracy:
            self.iterations_to_target = int(step)
            return True
        if self.trial.should_prune():
            self._record()
            raise optuna.TrialPruned(
                f"pruned at step {step}: validation accuracy {accuracy:.4f}, "
                f"target {self.target_accuracy}"
            )
        return False

    def value(self) -> float:
        """The trial's value: iterations to target, or the censored value if not reached."""
        self._record()
        if self.reached:
            return float(self.iterations_to_target)  # type: ignore[arg-type]
        return censored_value(self.budget, self.target_accuracy, self.best_accuracy)

    def _record(self) -> None:
        attrs: dict[str, Any] = {
            "reached": self.reached,
            "iterations_to_target": self.iterations_to_target,
            "best_accuracy": round(self.best_accuracy, 4),  # as a person reads it
            "target_accuracy": self.target_accuracy,
            "budget": self.budget,  # with the reports, the accuracy curve (accuracy_curve)
        }
        for key, value in attrs.items():
            self.trial.set_user_attr(key, value)
