from __future__ import annotations

import random

import optuna
import pytest

import optuna_clr
from optuna_clr import records


EVAL = 10


def study_with(pruner, completed=(), storage=None):
    study = optuna.create_study(direction="minimize", pruner=pruner, storage=storage)
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


def simulate(pruner, iterations_to_target, seed=0, storage=None):
    """Ask/tell: trial i reaches its target after iterations_to_target[i] updates (budget
    1,000)."""
    rng = random.Random(seed)
    study = study_with(pruner, storage=storage)
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


def test_exact_on_an_rdb_storage(tmp_path):
    rng = random.Random(7)
    needs = [rng.choice([rng.randint(1, 100) * 10, 5000]) for _ in range(12)]
    plain, _ = simulate(optuna.pruners.NopPruner(), needs, 7)
    storage = optuna.storages.RDBStorage(f"sqlite:///{tmp_path / 'study.db'}")
    pruned, _ = simulate(optuna_clr.TargetPruner(), needs, 7, storage=storage)
    assert pruned.best_value == plain.best_value
    assert any(t.state == optuna.trial.TrialState.PRUNED for t in pruned.trials)


class ListingCountingStorage(optuna.storages.InMemoryStorage):
    """Optuna's in-memory storage, counting the calls that list every trial of a study."""

    listings = 0

    def get_all_trials(self, *args, **kwargs):
        self.listings += 1
        return super().get_all_trials(*args, **kwargs)


def test_a_report_asks_the_storage_for_the_best_trial_not_for_every_trial():
    """On an RDB shared by many workers, listing every trial at every report is the cost."""
    storage = ListingCountingStorage()
    study = study_with(
        optuna_clr.TargetPruner(), completed=[1000.0 + v for v in range(200)], storage=storage
    )
    trial = study.ask()
    storage.listings = 0
    decisions = []
    for step in range(10, 1001, 10):
        trial.report(0.5, step)
        decisions.append(trial.should_prune())
    assert decisions == [False] * 99 + [True]  # still exact: pruned at the best value, 1,000
    assert storage.listings == 0


def test_wrapped_pruner_is_also_asked():
    threshold = optuna.pruners.ThresholdPruner(upper=0.5)
    study = study_with(optuna_clr.TargetPruner(threshold, cycle_aware=False), completed=[1000.0])
    trial = study.ask()
    trial.report(0.4, 10)
    assert not trial.should_prune()
    trial.report(0.6, 20)
    assert trial.should_prune()  # the threshold pruner's call, well before step 1,000


def asked_at(schedule, reports, **attrs):
    """The reported steps at which a cycle-aware TargetPruner consulted its wrapped pruner.

    The wrapped pruner is a real ThresholdPruner that prunes any error above 0, so
    ``should_prune()`` is True exactly when it was asked."""
    always = optuna.pruners.ThresholdPruner(upper=0.0)
    study = study_with(optuna_clr.TargetPruner(always, cycle_aware=True))
    trial = study.ask()
    trial.set_user_attr("schedule", schedule.to_dict())
    for key, value in attrs.items():
        trial.set_user_attr(key, value)
    asked = []
    for step in reports:
        trial.report(0.5, step)
        if trial.should_prune():
            asked.append(step)
    return asked


TRI = optuna_clr.schedules.Triangular(
    0.001, 0.006, 50
)  # cycle ends (LR back at base_lr) after 100 and 200 updates


def test_cycle_aware_asks_the_wrapped_pruner_only_at_cycle_ends():
    every_25 = range(25, 226, 25)
    assert asked_at(TRI, every_25) == [100, 200]
    assert all(TRI.lr(s) == TRI.base_lr for s in (100, 200))  # the low point, never mid-ramp
    # reports that miss the end: the first one after it (within one evaluation interval)
    assert asked_at(TRI, (30, 60, 90, 120, 150, 180, 210)) == [120, 210]
    assert asked_at(optuna_clr.schedules.Fixed(0.01), (30, 60)) == [
        30,
        60,
    ]  # no cycles: asked at every report
    assert asked_at(TRI, every_25, unit="seconds") == [
        100,
        200,
    ]  # seconds trials report iterations


@pytest.mark.parametrize("batch_size", [1, 32, 100])
def test_examples_unit_converts_the_cycle_ends(batch_size):
    """unit="examples": the reports count examples; the cycle ends after 100 and 200 updates
    are after 100 and 200 batches."""
    every_25_updates = [k * 25 * batch_size for k in range(1, 10)]
    assert asked_at(TRI, every_25_updates, unit="examples", batch_size=batch_size) == [
        100 * batch_size,
        200 * batch_size,
    ]


def test_examples_unit_without_a_batch_size_is_an_error_that_says_what_to_set():
    with pytest.raises(ValueError, match="batch_size"):
        asked_at(TRI, [3200], unit="examples")


def test_one_cycle_is_judged_from_its_single_cycle_end_on():
    one = optuna_clr.schedules.OneCycle(max_lr=0.1, total_steps=500)
    # a budget below total_steps: never asked, the LR has not come down yet
    assert asked_at(one, (100, 200, 300)) == []
    # from the end on the LR stays at its minimum: asked at every report
    assert asked_at(one, (100, 200, 300, 400, 500, 600, 700)) == [500, 600, 700]
    assert asked_at(one, (160, 320, 480, 640, 800)) == [640, 800]
    assert asked_at(one, [k * 3200 for k in range(1, 8)], unit="examples", batch_size=32) == [
        16000,
        19200,
        22400,
    ]


def test_objective_with_examples_unit_is_pruned_only_at_cycle_ends(digits):
    """Real training (digits, the mlp): reports count examples; a wrapped pruner that prunes
    whenever it is asked must first be asked at a cycle end, not at the first report."""
    batch = 32
    space = optuna_clr.ScheduleSpace(
        families=["triangular2"],
        lr=(0.01, 0.5),
        step_size_epochs=(1.0, 2.0),
        iterations_per_epoch=digits.iterations_per_epoch(batch),
    )
    objective = optuna_clr.IterationsToTarget(
        task=digits,
        model="mlp",
        space=space,
        batch_size=batch,
        target_accuracy=0.999,
        max_iterations=400,
        eval_every=10,
        unit="examples",
        device="cpu",
    )
    pruner = optuna_clr.TargetPruner(optuna.pruners.ThresholdPruner(upper=0.0))
    study = optuna.create_study(
        direction="minimize", pruner=pruner, sampler=optuna.samplers.RandomSampler(seed=0)
    )
    study.optimize(objective, n_trials=3)
    for trial in study.trials:
        assert trial.state == optuna.trial.TrialState.PRUNED
        exact = optuna_clr.schedules.from_dict(records.trial_schedule(trial))
        first_end = exact.cycle_ends(400)[0]
        steps = sorted(trial.intermediate_values)
        assert (
            steps[-1] >= first_end * batch > steps[-2]
        )  # pruned at the first report after the cycle end
        assert all(s % (10 * batch) == 0 for s in steps)  # the reports were examples, not updates


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
