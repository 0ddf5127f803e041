from __future__ import annotations

import math
import statistics

import optuna
from optuna.testing.pytest_samplers import BasicSamplerTestCase
from optuna.testing.pytest_samplers import RelativeSamplerTestCase
import pytest

import optuna_clr
from optuna_clr.range_test import RangeTestResult


PRIOR = {"base_lr": 0.001, "best_lr": 0.003, "max_lr": 0.006}


class TestBasic(BasicSamplerTestCase):
    """Optuna's own suite, on the startup (prior) path and the hand-over."""

    @pytest.fixture
    def sampler(self):
        return lambda: optuna_clr.RangeTestPriorSampler(PRIOR, n_startup_trials=5, seed=0)


class TestRelative(RelativeSamplerTestCase):
    """After the startup trials every relative call goes to the base sampler."""

    @pytest.fixture
    def sampler(self):
        return lambda: optuna_clr.RangeTestPriorSampler(
            PRIOR, n_startup_trials=0, seed=0,
            base_sampler=optuna.samplers.TPESampler(multivariate=True, n_startup_trials=0, seed=0),
        )


def narrowed_space():
    wide = optuna_clr.ScheduleSpace(families=["fixed", "triangular", "triangular2", "exp_range"], lr=(1e-5, 1.0),
                                    iterations_per_epoch=450)
    result = RangeTestResult(lrs=[], accuracies=[], losses=[], smoothed=[], base_lr=0.001, best_lr=0.003,
                             max_lr=0.006, clear=True, message="", snr=10.0, diverged_at_lr=None,
                             settings={"min_lr": 0.0, "max_lr": 0.02})
    return wide.narrow(result), result


def test_recipes_first_then_prior_draws_inside_the_narrowed_bounds_then_tpe():
    space, result = narrowed_space()
    sampler = optuna_clr.RangeTestPriorSampler(result, n_startup_trials=40, seed=1)
    study = optuna.create_study(sampler=sampler)
    schedules = []
    for _ in range(45):
        trial = study.ask()
        schedules.append(space.suggest(trial))
        study.tell(trial, 1.0)
    smith, fixed = schedules[0], schedules[1]
    assert smith == optuna_clr.Triangular2(base_lr=0.001, max_lr=0.006, step_size=1800)  # 4 epochs of 450
    assert fixed == optuna_clr.Fixed(lr=0.003)
    trials = study.trials
    assert trials[0].user_attrs["sampler"] == "Smith's recipe: triangular2"
    assert all(t.user_attrs["sampler"] == "range-test prior" for t in trials[2:40])
    assert all("sampler" not in t.user_attrs for t in trials[40:])  # TPE's from there on
    peaks = [t.params["max_lr"] for t in trials[2:40] if "max_lr" in t.params]
    for t in trials[:40]:
        for name, value in t.params.items():
            dist = space.distributions[name]
            assert dist._contains(dist.to_internal_repr(value)), (name, value)
    # concentrated around the tested max_lr, not spread over the range as uniform draws would be
    assert abs(math.log(statistics.median(peaks) / 0.006)) < math.log(1.5)


def test_recipe_for_a_family_the_space_lacks_is_skipped():
    fixed_only = optuna_clr.ScheduleSpace(families=["fixed"], lr=(1e-4, 0.1), iterations_per_epoch=450)
    study = optuna.create_study(sampler=optuna_clr.RangeTestPriorSampler(PRIOR, seed=0))
    trial = study.ask()
    assert fixed_only.suggest(trial) == optuna_clr.Fixed(0.003)


def test_same_seed_same_draws_and_clear_errors():
    space, result = narrowed_space()

    def draws(seed):
        study = optuna.create_study(sampler=optuna_clr.RangeTestPriorSampler(result, seed=seed))
        return [space.suggest(study.ask()) for _ in range(8)]

    assert draws(3) == draws(3) and draws(3) != draws(4)
    with pytest.raises(ValueError, match="no base_lr, best_lr, max_lr"):
        optuna_clr.RangeTestPriorSampler({"base_lr": None, "best_lr": None, "max_lr": None})
    with pytest.raises(TypeError, match="RangeTestResult or a mapping"):
        optuna_clr.RangeTestPriorSampler(0.01)


THREE = optuna_clr.ScheduleSpace(families=["fixed", "triangular", "triangular2"], lr=(1e-4, 1.0),
                                 iterations_per_epoch=450)
RECIPE = optuna_clr.Triangular2(base_lr=0.001, max_lr=0.006, step_size=1800)  # 4 epochs of 450


def run(study, n):
    out = []
    for _ in range(n):
        trial = study.ask()
        out.append((THREE.suggest(trial), trial.user_attrs["sampler"]))
        study.tell(trial, 1.0)
    return out


def test_an_enqueued_family_gets_its_own_recipe_or_the_prior_and_takes_no_other_trials_recipe():
    study = optuna.create_study(sampler=optuna_clr.RangeTestPriorSampler(PRIOR, seed=0))
    study.enqueue_trial({"family": "triangular"})  # no recipe for triangular
    (tri, origin), (smith, smith_origin), (fixed, fixed_origin), (_, later) = run(study, 4)
    assert isinstance(tri, optuna_clr.Triangular) and tri.family == "triangular"
    assert origin == "range-test prior" and tri != optuna_clr.Triangular(0.001, 0.006, 1800)
    assert (smith, smith_origin) == (RECIPE, "Smith's recipe: triangular2")  # not used up by trial 0
    assert (fixed, fixed_origin) == (optuna_clr.Fixed(0.003), "Smith's recipe: fixed")
    assert later == "range-test prior"

    study = optuna.create_study(sampler=optuna_clr.RangeTestPriorSampler(PRIOR, seed=0))
    study.enqueue_trial({"family": "fixed"})  # gets the fixed recipe, though triangular2's comes first
    study.enqueue_trial({"family": "fixed"})  # no fixed recipe left: the prior
    (first, first_origin), (second, second_origin), (smith, smith_origin) = run(study, 3)
    assert (first, first_origin) == (optuna_clr.Fixed(0.003), "Smith's recipe: fixed")
    assert second.family == "fixed" and second != first and second_origin == "range-test prior"
    assert (smith, smith_origin) == (RECIPE, "Smith's recipe: triangular2")


def test_recipes_follow_from_the_storage_across_workers(tmp_path):
    """Two workers (two sampler instances) on one SQLite storage: the second one knows that
    trial 0 was enqueued with another family without having seen it."""
    storage = f"sqlite:///{tmp_path / 'study.db'}"
    first = optuna.create_study(study_name="s", storage=storage,
                                sampler=optuna_clr.RangeTestPriorSampler(PRIOR, seed=0))
    first.enqueue_trial({"family": "triangular"})
    first.enqueue_trial({"family": "triangular2"})
    assert [origin for _, origin in run(first, 1)] == ["range-test prior"]
    second = optuna.load_study(study_name="s", storage=storage,
                               sampler=optuna_clr.RangeTestPriorSampler(PRIOR, seed=0))
    assert run(second, 2) == [(RECIPE, "Smith's recipe: triangular2"),
                              (optuna_clr.Fixed(0.003), "Smith's recipe: fixed")]


def test_an_unclear_range_test_is_refused_as_a_prior():
    unclear = RangeTestResult(lrs=[], accuracies=[], losses=[], smoothed=[], base_lr=0.001, best_lr=0.003,
                              max_lr=0.006, clear=False, snr=10.0, diverged_at_lr=None, settings={},
                              message="the validation accuracy was still improving at the end of the test")
    with pytest.raises(ValueError, match="no clear bounds for a prior .the validation accuracy was still improving"):
        optuna_clr.RangeTestPriorSampler(unclear)
    # its values, given on purpose as a mapping, are the user's call
    assert optuna_clr.RangeTestPriorSampler(unclear.suggestions()).max_lr == 0.006
