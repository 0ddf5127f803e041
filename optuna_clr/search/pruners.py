"""Pruners made for iterations to target.

:class:`TargetPruner` is exact: once a trial has trained as many iterations as the best
completed trial needed, without reaching the target, it can no longer win, so it is pruned.
It never prunes a trial that would have won. It may also consult a learning-curve pruner
(Median, Percentile, Hyperband on the reported validation error); with ``cycle_aware`` that
pruner is consulted for cyclical schedules only at the end of a cycle, where the LR is low and
the accuracy peaks, so a CLR trial is not killed for the dip at its peak LR. A 1cycle trial has
one cycle end, its ``total_steps``: before it the wrapped pruner is never consulted (with a
budget below ``total_steps``, only the exact rule can prune it), after it at every report,
since the LR then stays at its minimum.

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

from optuna_clr import records
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
            cycles) only at the first report at or after each cycle end. Cycle ends count
            updates; a trial whose ``unit`` user attr is ``"examples"`` reports examples seen,
            so its ``batch_size`` user attr converts them (the objective records both).
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
                "TargetPruner needs direction='minimize': the value is iterations to target "
                "and the reports are validation errors"
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
    """The smallest value of a completed trial, or None before the first completes.

    ``study.best_value`` asks the storage for the best trial alone (one indexed query on an
    RDB), where listing the completed trials would cost O(trials) at every report of every
    worker. The pruner needs ``direction="minimize"``, so the best value is the smallest.
    """
    try:
        return study.best_value
    except ValueError:  # no completed trial yet
        return None


def _at_cycle_end(trial: optuna.trial.FrozenTrial, step: int) -> bool:
    """True unless the trial's schedule cycles and no cycle ended since its previous report.

    ``step`` and the previous report are in the trial's reported unit; the schedule's cycle
    ends count updates and are scaled to that unit first.
    """
    d = records.trial_schedule(trial)
    if not d:
        return True
    schedule = schedules.from_dict(d)
    if not schedule.cycles:
        return True
    per_update = _reported_per_update(trial)
    previous = max((s for s in trial.intermediate_values if s < step), default=0)
    final = schedule.final_cycle_end()
    if final is not None and previous >= final * per_update:
        # the cycling is over and the LR stays at its minimum: every report is a fair comparison
        return True
    return any(
        previous < end * per_update <= step for end in schedule.cycle_ends(step // per_update)
    )


def _reported_per_update(trial: optuna.trial.FrozenTrial) -> int:
    """How much one update adds to the reported step: 1, or the batch size when the steps
    count examples (``unit="examples"``).

    A constant factor is exact because no cycling schedule moves the batch size: the one family
    that does (``batch_growth``) does not cycle, so it never gets here. A "seconds" trial reports
    iterations as its steps.
    """
    if trial.user_attrs.get("unit") != "examples":
        return 1
    batch = trial.user_attrs.get("batch_size")
    if isinstance(batch, bool) or not isinstance(batch, int) or batch < 1:
        raise ValueError(
            f"trial {trial.number} reports examples (user attr unit='examples') "
            f"but has no valid 'batch_size' user attr (got {batch!r}): "
            "set it with trial.set_user_attr('batch_size', ...) before reporting, "
            "so the cycle-aware pruner can place the cycle ends"
        )
    return batch
