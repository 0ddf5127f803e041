"""Pruners made for iterations to target.

:class:`TargetPruner` is exact: once a trial has trained as many iterations as the best
completed trial needed, without reaching the target, it can no longer win, so it is pruned.
It never prunes a trial that would have won. It may also consult a learning-curve pruner
(Median, Percentile, Hyperband on the reported validation error); with ``cycle_aware`` that
pruner is consulted for cyclical schedules only at the end of a cycle, where the LR is low and
the accuracy peaks, so a CLR trial is not killed for the dip at its peak LR.

Example:

    .. testcode::

        import optuna
        import optuna_clr

        pruner = optuna_clr.TargetPruner(optuna.pruners.MedianPruner(n_warmup_steps=200))
        study = optuna.create_study(direction="minimize", pruner=pruner)
"""

from __future__ import annotations

import optuna
from optuna.pruners import BasePruner
from optuna.study import StudyDirection

from optuna_clr import schedules


class TargetPruner(BasePruner):
    """Prune a trial once its step reaches the best completed trial's iterations to target.

    The steps reported (``trial.report(error, step)``) must count in the objective's unit, as
    :class:`~optuna_clr.IterationsToTarget` and :class:`~optuna_clr.TargetTracker` do: a trial
    asked after a report that did not reach the target, at a step ``>=`` the best completed
    value, would need more than that value, so it cannot win. Trials whose ``unit`` user attr
    is ``"seconds"`` are not pruned by this rule (steps are iterations there).

    Args:
        wrapped: another pruner; the trial is pruned if either says so.
        cycle_aware: consult ``wrapped`` for cyclical schedules (a ``schedule`` user attr with
            cycles) only at the first report at or after each cycle end.
    """

    def __init__(self, wrapped: BasePruner | None = None, *, cycle_aware: bool = True) -> None:
        if wrapped is not None and not isinstance(wrapped, BasePruner):
            raise TypeError(f"wrapped must be an Optuna pruner, got {type(wrapped).__name__}")
        self.wrapped = wrapped
        self.cycle_aware = cycle_aware

    def prune(self, study: optuna.Study, trial: optuna.trial.FrozenTrial) -> bool:
        step = trial.last_step
        if step is None:
            return False
        if study.direction != StudyDirection.MINIMIZE:
            raise ValueError(
                "TargetPruner needs direction='minimize': the value is iterations to target and the "
                "reports are validation errors"
            )
        if trial.user_attrs.get("unit") != "seconds":
            best = best_completed_value(study)
            if best is not None and step >= best:
                return True
        if self.wrapped is None:
            return False
        if self.cycle_aware and not _at_cycle_end(trial, step):
            return False
        return self.wrapped.prune(study, trial)


def best_completed_value(study: optuna.Study) -> float | None:
    values = [t.value for t in study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,))]
    return min((v for v in values if v is not None), default=None)


def _at_cycle_end(trial: optuna.trial.FrozenTrial, step: int) -> bool:
    """True unless the trial's schedule cycles and no cycle ended since its previous report."""
    d = trial.user_attrs.get("schedule")
    if not d:
        return True
    schedule = schedules.from_dict(d)
    if not schedule.cycles:
        return True
    previous = max((s for s in trial.intermediate_values if s < step), default=0)
    return any(previous < end <= step for end in schedule.cycle_ends(step))
