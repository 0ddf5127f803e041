from __future__ import annotations

import optuna
import pytest
import torch

import optuna_clr
from optuna_clr import records
from optuna_clr import schedules as S
from optuna_clr.study.tracking import accuracy_curve
from optuna_clr.study.tracking import censored_value


def make(**kw):
    base = dict(
        task="digits",
        model="mlp",
        batch_size=32,
        target_accuracy=0.95,
        max_iterations=600,
        eval_every=10,
        device="cpu",
        space=optuna_clr.ScheduleSpace(
            families=["fixed", "triangular2"], lr=(0.01, 0.3), iterations_per_epoch=35
        ),
    )
    return optuna_clr.IterationsToTarget(**{**base, **kw})


def test_study_end_to_end_records_everything_in_the_storage(tmp_path):
    storage = f"sqlite:///{tmp_path / 'study.db'}"
    study = optuna.create_study(
        storage=storage,
        study_name="digits",
        direction="minimize",
        sampler=optuna.samplers.RandomSampler(seed=0),
    )
    study.optimize(make(), n_trials=4)
    reloaded = optuna.load_study(study_name="digits", storage=storage)
    for t in reloaded.trials:
        assert t.state == optuna.trial.TrialState.COMPLETE
        a = t.user_attrs
        exact = S.from_dict(records.trial_schedule(t))
        assert exact.family == t.params["family"] and a["schedule"] == exact.label()
        assert a["reached"] == (t.value <= 600)
        if a["reached"]:
            assert t.value == a["iterations_to_target"] == a["iterations"] and t.value % 10 == 0
        assert set(a) >= {
            "best_accuracy",
            "test_accuracy",
            "examples_seen",
            "epochs",
            "seconds",
            "stop_reason",
            "unit",
            "target_accuracy",
            "budget",
            "family",
            "schedule",
            "lr_min",
            "lr_max",
        }
        # short flat scalars only: the curves are in the reports (and artifacts)
        assert all(isinstance(v, (int, float, str, bool, type(None))) for k, v in a.items()), a
        # every evaluation was reported in the objective's unit: budget * (1 + target - accuracy)
        curve = accuracy_curve(t)
        assert round(max(acc for _, acc in curve), 4) == a["best_accuracy"]  # shown to 4 places
        reports = {s: 600 * (1 + 0.95 - acc) for s, acc in curve}
        assert reports == pytest.approx(t.intermediate_values)


def test_unreachable_target_gives_the_censored_value():
    objective = make(
        target_accuracy=1.0,
        max_iterations=100,
        space=optuna_clr.ScheduleSpace(
            families=["fixed"], lr=(0.001, 0.1), iterations_per_epoch=35
        ),
    )
    study = optuna.create_study(direction="minimize")
    # a slow LR and a fast one, not two random draws (which can tie at the same best accuracy);
    # training is seeded, so their accuracies differ in every run
    for lr in (0.001, 0.05):
        study.enqueue_trial({"lr": lr})
    study.optimize(objective, n_trials=2)
    for t in study.trials:
        best = t.user_attrs["best_accuracy"]
        assert not t.user_attrs["reached"] and best < 1.0
        # best_accuracy is stored to 4 places, so the value agrees to 100 x 0.00005
        assert t.value == pytest.approx(censored_value(100, 1.0, best), abs=100 * 5e-5)
        assert censored_value(100, 1.0, best) == pytest.approx(100 * (2 - best))
        assert t.value > 100
    slow, fast = study.trials
    assert slow.user_attrs["best_accuracy"] < fast.user_attrs["best_accuracy"]
    assert slow.value > fast.value  # closer to the target, smaller value


def test_run_trains_one_schedule_without_optuna():
    objective = make(space=None)
    result = objective.run(S.Fixed(0.05))
    assert result.reached and result.iterations_to_target % 10 == 0
    again = objective.run(S.Fixed(0.05))
    assert again.iterations_to_target == result.iterations_to_target  # same seed, same device
    with pytest.raises(ValueError, match="needs space"):
        objective(optuna.create_study().ask())


def test_divergence_prunes_the_trial_and_the_study_goes_on():
    objective = make(
        space=optuna_clr.ScheduleSpace(families=["fixed"], lr=(1e5, 1e6), iterations_per_epoch=35)
    )
    study = optuna.create_study(direction="minimize")
    study.optimize(objective, n_trials=2)
    for t in study.trials:
        assert t.state == optuna.trial.TrialState.PRUNED
        assert t.user_attrs["pruned_reason"].startswith(
            "diverged: non-finite training loss at iteration"
        )
        assert t.user_attrs["stop_reason"] == "diverged"


def test_units_examples_and_seconds():
    by_examples = make(unit="examples")
    study = optuna.create_study(direction="minimize")
    study.enqueue_trial({"family": "fixed", "lr": 0.05})
    study.optimize(by_examples, n_trials=1)
    t = study.trials[0]
    assert t.value == t.user_attrs["examples_seen"] == 32 * t.user_attrs["iterations"]
    assert max(t.intermediate_values) == t.value  # reports count examples too
    by_seconds = make(unit="seconds", max_seconds=60.0)
    study = optuna.create_study(direction="minimize")
    study.enqueue_trial({"family": "fixed", "lr": 0.05})
    study.optimize(by_seconds, n_trials=1)
    assert 0 < study.trials[0].value <= study.trials[0].user_attrs["seconds"]
    with pytest.raises(ValueError, match="max_seconds"):
        make(unit="seconds")
    with pytest.raises(ValueError, match="unit must be one of"):
        make(unit="epochs")


def test_out_of_memory_fails_the_trial_with_the_reason_and_the_study_goes_on():
    # A real allocation failure: a factory asking for a ~4 TB weight matrix.
    sizes = iter([10**12, 64])

    def shaped():
        width = next(sizes)
        return torch.nn.Sequential(
            torch.nn.Flatten(),
            torch.nn.Linear(64, width),
            torch.nn.ReLU(),
            torch.nn.Linear(width, 10),
        )

    objective = make(model=shaped)
    study = optuna.create_study(direction="minimize")
    study.optimize(objective, n_trials=2, catch=(optuna_clr.exceptions.OutOfMemory,))
    failed, ok = study.trials
    assert failed.state == optuna.trial.TrialState.FAIL
    assert (
        "out of memory" in failed.user_attrs["fail_reason"]
        and "Lower batch_size" in failed.user_attrs["fail_reason"]
    )
    assert ok.state == optuna.trial.TrialState.COMPLETE


def test_end_at_cycle_end_trains_whole_cycles():
    space = optuna_clr.ScheduleSpace(
        families=["triangular"],
        lr=(0.05, 0.1),
        step_size_epochs=(1.0, 1.0),
        iterations_per_epoch=35,
        end_at_cycle_end=True,
    )
    objective = make(space=space, target_accuracy=1.0, max_iterations=200)
    study = optuna.create_study(direction="minimize")
    study.optimize(objective, n_trials=1)
    t = study.trials[0]
    assert t.user_attrs["iterations"] == 140  # two whole cycles of 70 fit in 200
    assert S.from_dict(records.trial_schedule(t)).cycle_ends(200)[-1] == 140


# --- issue 29: a name it does not know is refused at construction, before the data loads ---


@pytest.mark.parametrize(
    ("kw", "error", "words"),
    [
        ({"model": "nosuch"}, ValueError, r"unknown model 'nosuch': model must be one of .*mlp"),
        (
            {"model": "nosuch_pkg.nets:build"},
            ValueError,
            r"model 'nosuch_pkg.nets:build': cannot import nosuch_pkg.nets",
        ),
        ({"model": "torch.nn:ReLU"}, ValueError, r"cannot be called as ReLU\(image_shape"),
        ({"model": 5}, TypeError, r"model must be a registered name .*, got model=5"),
        ({"model": torch.nn.Linear(2, 2)}, TypeError, "not a module instance"),
        ({"task": 5}, TypeError, r"task must be a task name \(\[.*'digits'.*, got task=5"),
        ({"device": "nosuch"}, ValueError, r"device must be 'auto'.*'cpu'.*got device='nosuch'"),
        ({"device": None}, ValueError, r"device must be a string, got None"),
    ],
)
def test_an_unknown_name_is_refused_at_construction_before_the_data_loads(
    monkeypatch, kw, error, words
):
    def load(*args, **kwargs):
        raise AssertionError("the data was loaded before the arguments were checked")

    monkeypatch.setattr(optuna_clr.training.tasks, "load", load)
    with pytest.raises(error, match=words) as info:
        make(**kw)
    assert "\n" not in str(info.value)
