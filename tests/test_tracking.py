"""TargetTracker reports in the objective's unit; Optuna's pruners decide as on the error."""

from __future__ import annotations

import numpy as np
import optuna
from optuna.trial import TrialState
import pytest

import optuna_clr
from optuna_clr.study.tracking import accuracy_curve
from optuna_clr.study.tracking import reported_value


BUDGET, TARGET, EVERY = 400, 0.95, 20
STEPS = list(range(EVERY, BUDGET + 1, EVERY))


def curves(n: int = 40, seed: int = 0) -> list[list[float]]:
    """``n`` fixed learning curves: noisy rises at different rates, some reaching the target."""
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        rate, top = rng.uniform(0.002, 0.03), rng.uniform(0.85, 0.99)
        noise = rng.normal(0, 0.01, len(STEPS))
        out.append(
            [float(np.clip(top * (1 - np.exp(-rate * s)) + e, 0, 1)) for s, e in zip(STEPS, noise)]
        )
    return out


def decisions(pruner: optuna.pruners.BasePruner, report: str) -> list[tuple[int, int]]:
    """Each trial's (steps reported, prune?) on the fixed curves, reporting the error
    (``1 - accuracy``, the old reports) or through TargetTracker (the new ones)."""
    study = optuna.create_study(
        study_name="same",
        direction="minimize",
        pruner=pruner,
        sampler=optuna.samplers.RandomSampler(seed=0),
    )
    out = []
    for accuracies in curves():
        trial = study.ask()
        tracker = optuna_clr.TargetTracker(trial, target_accuracy=TARGET, max_iterations=BUDGET)
        state, reported = TrialState.COMPLETE, 0
        for step, accuracy in zip(STEPS, accuracies):
            reported += 1
            if report == "error":
                trial.report(1.0 - accuracy, step)
                if accuracy >= TARGET:
                    break
                if trial.should_prune():
                    state = TrialState.PRUNED
                    break
            else:
                try:
                    if tracker.report(step, accuracy):
                        break
                except optuna.TrialPruned:
                    state = TrialState.PRUNED
                    break
        out.append((reported, state == TrialState.PRUNED))
        value = None if state == TrialState.PRUNED else reported * EVERY
        study.tell(trial, state=state, values=value)
    return out


@pytest.mark.parametrize(
    "make",
    [
        lambda: optuna.pruners.MedianPruner(n_startup_trials=3, n_warmup_steps=40),
        lambda: optuna.pruners.PercentilePruner(30.0, n_startup_trials=3, n_warmup_steps=40),
        lambda: optuna.pruners.HyperbandPruner(
            min_resource=20, max_resource=BUDGET, reduction_factor=3
        ),
        lambda: optuna.pruners.SuccessiveHalvingPruner(min_resource=20, reduction_factor=2),
    ],
    ids=["median", "percentile", "hyperband", "successive_halving"],
)
def test_pruners_decide_exactly_as_on_the_validation_error(make):
    # budget * (1 + target - accuracy) is affine and increasing in the error 1 - accuracy:
    # medians, percentiles (linear interpolation) and ranks all commute with it
    old, new = decisions(make(), "error"), decisions(make(), "tracker")
    assert new == old
    assert 0 < sum(pruned for _, pruned in old) < len(old)  # the pruner did prune, not everything


def test_a_pruned_trial_ranks_below_every_completed_trial():
    study = optuna.create_study(
        direction="minimize", pruner=optuna.pruners.MedianPruner(n_startup_trials=3)
    )
    for accuracies in curves():
        trial = study.ask()
        tracker = optuna_clr.TargetTracker(trial, target_accuracy=TARGET, max_iterations=BUDGET)
        try:
            for step, accuracy in zip(STEPS, accuracies):
                if tracker.report(step, accuracy):
                    break
            study.tell(trial, tracker.value())
        except optuna.TrialPruned:
            study.tell(trial, state=TrialState.PRUNED)
    trials = study.get_trials(deepcopy=False)
    pruned = [t.value for t in trials if t.state == TrialState.PRUNED]
    reached = [
        t.value for t in trials if t.state == TrialState.COMPLETE and t.user_attrs["reached"]
    ]
    assert pruned and reached
    assert min(pruned) > BUDGET >= max(reached)  # Optuna stores a pruned trial's last report
    for t in trials:  # the accuracies read back from the reports
        assert accuracy_curve(t)[-1][1] == pytest.approx(
            curves()[t.number][len(t.intermediate_values) - 1]
        )


def test_reported_value_is_the_censored_estimate():
    assert reported_value(1000, 0.95, 0.90) == pytest.approx(1050)
    assert reported_value(1000, 0.95, 0.96) == pytest.approx(990)
    with pytest.raises(ValueError, match="budget must be > 0"):
        optuna_clr.TargetTracker(
            optuna.create_study().ask(), target_accuracy=0.9, max_iterations=10, budget=0
        )


def test_a_maximizing_study_is_refused_before_training():
    study = optuna.create_study(direction="maximize", pruner=optuna_clr.TargetPruner())
    with pytest.raises(ValueError, match="maximizes, but a trial's value is iterations to target"):
        optuna_clr.TargetTracker(study.ask(), target_accuracy=0.9, max_iterations=100)
    objective = optuna_clr.IterationsToTarget(
        task="digits",
        model="mlp",
        target_accuracy=0.9,
        max_iterations=100,
        device="cpu",
        space=optuna_clr.ScheduleSpace(families=["fixed"], iterations_per_epoch=12),
    )
    with pytest.raises(ValueError, match="create it with direction='minimize'"):
        objective.begin(study.ask())
