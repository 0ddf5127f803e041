from __future__ import annotations

import random

import optuna
import pytest

import optuna_clr


EVAL = 10


def study_with(pruner, completed=()):
    study = optuna.create_study(direction="minimize", pruner=pruner)
    for value in completed:
        study.add_trial(optuna.trial.create_trial(value=value))
    return study


def test_prunes_exactly_when_the_step_reaches_the_best_completed_value():
    study = study_with(optuna_clr.TargetPruner(), completed=[250.0, 100.0])
    trial = study.ask()
    for step in range(EVAL, 100, EVAL):
        trial.report(0.3, step)
        assert not trial.should_prune(), step  # could still reach the target in < 100
    trial.report(0.3, 100)
    assert trial.should_prune()  # needs > 100 now: cannot beat 100


def test_no_completed_trial_or_only_censored_values_never_prune():
    study = study_with(optuna_clr.TargetPruner())
    trial = study.ask()
    trial.report(0.9, 10_000)
    assert not trial.should_prune()
    # a censored value (budget 1,000, target not reached) is above every step a trial can report
    study = study_with(optuna_clr.TargetPruner(), completed=[1000 * 1.3])
    trial = study.ask()
    for step in range(EVAL, 1001, EVAL):
        trial.report(0.9, step)
        assert not trial.should_prune()


def simulate(pruner, iterations_to_target, seed=0):
    """Ask/tell: trial i reaches its target after iterations_to_target[i] updates (budget 1,000)."""
    rng = random.Random(seed)
    study = study_with(pruner)
    trained = 0
    for need in iterations_to_target:
        trial = study.ask()
        for step in range(EVAL, 1001, EVAL):
            trained += EVAL
            reached = step >= need
            trial.report(0.0 if reached else rng.uniform(0.05, 0.9), step)
            if reached:
                study.tell(trial, float(step))
                break
            if trial.should_prune():
                study.tell(trial, state=optuna.trial.TrialState.PRUNED)
                break
        else:
            study.tell(trial, 1000 * 1.5)
    return study, trained


@pytest.mark.parametrize("seed", range(20))
def test_never_prunes_a_trial_that_would_have_won(seed):
    rng = random.Random(seed)
    needs = [rng.choice([rng.randint(1, 100) * 10, 5000]) for _ in range(30)]
    plain, trained_plain = simulate(optuna.pruners.NopPruner(), needs, seed)
    pruned, trained_pruned = simulate(optuna_clr.TargetPruner(), needs, seed)
    assert pruned.best_value == plain.best_value
    assert trained_pruned <= trained_plain
    best_so_far = float("inf")
    for need, trial in zip(needs, pruned.trials):
        if trial.state == optuna.trial.TrialState.PRUNED:
            assert -(-need // EVAL) * EVAL >= best_so_far  # it would not have beaten the best
        elif trial.state == optuna.trial.TrialState.COMPLETE:
            best_so_far = min(best_so_far, trial.value)


def test_wrapped_pruner_is_also_asked():
    threshold = optuna.pruners.ThresholdPruner(upper=0.5)
    study = study_with(optuna_clr.TargetPruner(threshold, cycle_aware=False), completed=[1000.0])
    trial = study.ask()
    trial.report(0.4, 10)
    assert not trial.should_prune()
    trial.report(0.6, 20)
    assert trial.should_prune()  # the threshold pruner's call, well before step 1,000


def test_cycle_aware_asks_the_wrapped_pruner_only_at_cycle_ends():
    always = optuna.pruners.ThresholdPruner(upper=0.0)  # prunes any error above 0
    study = study_with(optuna_clr.TargetPruner(always, cycle_aware=True))
    clr = study.ask()
    clr.set_user_attr("schedule", optuna_clr.Triangular(0.001, 0.006, 50).to_dict())  # cycle ends at 100, 200
    decisions = {}
    for step in (30, 60, 90, 120):
        clr.report(0.5, step)
        decisions[step] = clr.should_prune()
    assert decisions == {30: False, 60: False, 90: False, 120: True}  # 120: first report after the end at 100
    fixed = study.ask()
    fixed.set_user_attr("schedule", optuna_clr.Fixed(0.01).to_dict())
    fixed.report(0.5, 30)
    assert fixed.should_prune()  # no cycles: asked at every report


def test_seconds_unit_and_direction():
    study = study_with(optuna_clr.TargetPruner(), completed=[5.0])
    trial = study.ask()
    trial.set_user_attr("unit", "seconds")
    trial.report(0.5, 500)  # steps are iterations here, the value seconds: not comparable
    assert not trial.should_prune()
    maximize = optuna.create_study(direction="maximize", pruner=optuna_clr.TargetPruner())
    trial = maximize.ask()
    trial.report(0.5, 10)
    with pytest.raises(ValueError, match="direction='minimize'"):
        trial.should_prune()
