from __future__ import annotations

import math
import warnings

from conftest import range_test_result
import optuna
import pytest

import optuna_clr
from optuna_clr import schedules as S
from optuna_clr.search.space import FAMILY_PARAMS


def full_space(**kw):
    base = dict(
        families=list(FAMILY_PARAMS),
        lr=(1e-4, 1.0),
        iterations_per_epoch=450,
        max_iterations=70_000,
        batch_size=100,
        max_batch_size=4500,
    )
    return optuna_clr.ScheduleSpace(**{**base, **kw})


def test_thousands_of_sampled_trials_are_valid_schedules_of_every_family():
    space = full_space()
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    seen: dict[str, int] = {}
    distributions: dict[str, optuna.distributions.BaseDistribution] = {}
    for _ in range(3000):
        trial = study.ask()
        schedule = space.suggest(trial)
        family = trial.params["family"]
        seen[family] = seen.get(family, 0) + 1
        assert schedule.family == family
        assert set(trial.params) == {"family", *FAMILY_PARAMS[family]}  # conditional on the family
        for name, dist in trial.distributions.items():  # one distribution per name, every trial
            assert distributions.setdefault(name, dist) == dist
        for step in (0, 1, 449, 4499, 69_999):
            lr = schedule.lr(step)
            assert math.isfinite(lr) and lr >= 0
        if hasattr(schedule, "base_lr"):
            assert schedule.base_lr < schedule.max_lr
            assert schedule.base_lr == pytest.approx(
                schedule.max_lr * trial.params["base_lr_ratio"]
            )
        if family in ("triangular", "triangular2", "exp_range"):
            assert 900 <= schedule.step_size <= 4500  # 2 to 10 epochs of 450 updates
        assert S.from_dict(schedule.to_dict()) == schedule
        study.tell(trial, 0.0)
    assert set(seen) == set(FAMILY_PARAMS) and min(seen.values()) > 150


def test_epoch_parameters_become_steps():
    space = full_space()
    tri = space.build(
        "exp_range",
        {
            "max_lr": 0.006,
            "base_lr_ratio": 1 / 6,
            "step_size_epochs": 4.0,
            "exp_range.half_life_epochs": 20.0,
        },
    )
    assert tri.step_size == 1800 and tri.base_lr == pytest.approx(0.001)
    assert tri.gamma ** (20 * 450) == pytest.approx(0.5)
    step = space.build("step", {"lr": 0.1, "step.interval_epochs": 50.0, "step.gamma": 0.1})
    assert step.step_size == 22_500 and step.lr(22_499) == 0.1
    assert step.lr(67_500) == pytest.approx(1e-4)
    inv = space.build("inv", {"lr": 0.1, "inv.half_life_epochs": 10.0, "inv.power": 0.5})
    assert inv.lr(4500) == pytest.approx(0.05)
    grow = space.build("batch_growth", {"lr": 0.1, "batch_growth.interval_epochs": 20.0})
    assert grow.milestones[:2] == (900_000, 1_800_000) and grow.batch_size(0) == 100


def test_tpe_multivariate_group_models_the_shared_parameters_and_gp_only_the_family():
    space = full_space(families=["fixed", "triangular", "triangular2", "exp_range"])

    def objective(trial):
        s = space.suggest(trial)
        peak = trial.params.get("max_lr", trial.params.get("lr"))
        return abs(math.log(peak / 0.01)) + (0.5 if s.family == "exp_range" else 0.0)

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        tpe = optuna.samplers.TPESampler(
            multivariate=True, group=True, seed=0, n_startup_trials=10
        )
    study = optuna.create_study(sampler=tpe)
    for family in space.families:  # every family at least once, whatever the random start draws
        study.enqueue_trial({"family": family})
    study.optimize(objective, n_trials=40)
    relative = tpe.infer_relative_search_space(study, study.ask())
    assert {
        "family",
        "lr",
        "max_lr",
        "base_lr_ratio",
        "step_size_epochs",
        "exp_range.half_life_epochs",
    } <= set(relative)
    assert study.best_value < 0.5

    # GPSampler models only what every trial has: with several families, just the family
    # (so the study file's sampler = "gp" is gone).
    gp = optuna.samplers.GPSampler(seed=0, n_startup_trials=5)
    study = optuna.create_study(sampler=gp)
    for family in space.families:
        study.enqueue_trial({"family": family})
    study.optimize(objective, n_trials=8)
    assert set(gp.infer_relative_search_space(study, study.ask())) == {"family"}


def test_narrow_takes_the_bounds_from_the_range_test():
    space = full_space(families=["fixed", "triangular2"])
    narrow = space.narrow(range_test_result(0.001, 0.003, 0.006), margin=2.0)
    assert narrow.max_lr == pytest.approx((0.003, 0.012))
    assert narrow.lr == pytest.approx((0.001, 0.006))
    assert narrow.base_lr_ratio[0] < 1 / 6 < narrow.base_lr_ratio[1] < 1
    assert narrow.families == space.families and narrow.iterations_per_epoch == 450
    # bounds never leave the tested range
    tight = space.narrow(range_test_result(0.001, 0.01, 0.015), margin=3.0)
    assert tight.max_lr[1] == 0.02
    assert optuna_clr.ScheduleSpace.from_dict(narrow.to_dict()).to_dict() == narrow.to_dict()


def test_narrow_refuses_an_unclear_range_test_even_with_values():
    space = full_space(families=["fixed", "triangular2"])
    still_rising = range_test_result(
        0.001,
        0.01,
        0.02,
        clear=False,
        message=(
            "the validation accuracy was still improving at the end of the test (LR 0.02): ... "
            "max_lr is a lower bound"
        ),
    )
    with pytest.raises(ValueError) as info:
        space.narrow(still_rising)
    text = str(info.value)
    assert (
        "no clear bounds" in text and "max_lr is a lower bound" in text
    )  # the problem, in the test's words
    assert "narrow = false" in text and "rerun" in text  # and the fixes
    with pytest.raises(ValueError, match="no clear bounds"):
        space.narrow(
            range_test_result(None, None, None, clear=False, message="no clear improvement")
        )


def test_narrow_with_margin_one_pins_the_tested_peak_and_ratio():
    space = full_space(families=["triangular2"])
    pinned = space.narrow(range_test_result(0.001, 0.003, 0.006), margin=1.0)
    assert pinned.max_lr == (0.006, 0.006)
    assert pinned.base_lr_ratio == pytest.approx((1 / 6, 1 / 6))  # not the space's (0.1, 0.5)
    study = optuna.create_study()
    for _ in range(3):
        s = pinned.suggest(study.ask())
        assert (s.base_lr, s.max_lr) == pytest.approx((0.001, 0.006))


@pytest.mark.parametrize("ratio", [0.001, 0.02, 1 / 6, 0.5, 0.85, 0.9, 0.95, 0.999])
@pytest.mark.parametrize("margin", [1.0, 1.05, 2.0, 10.0])
def test_narrowed_ratio_range_is_never_empty_and_holds_the_tested_ratio(ratio, margin):
    space = full_space(families=["triangular2"], base_lr_ratio=(0.3, 0.4))
    result = range_test_result(0.01 * ratio, 0.005, 0.01)
    low, high = space.narrow(result, margin=margin).base_lr_ratio
    clamped = min(max(result.base_lr / result.max_lr, 0.02), 0.9)
    tested = (max(0.02, clamped / margin), min(0.9, clamped * margin))
    assert 0.02 <= tested[0] <= clamped <= tested[1] <= 0.9
    if tested[0] <= 0.4 and tested[1] >= 0.3:  # inside the space's (0.3, 0.4), never beyond it
        assert (low, high) == pytest.approx((max(0.3, tested[0]), min(0.4, tested[1])))
    else:
        assert (low, high) == (0.3, 0.4)


@pytest.mark.parametrize(
    "kw, message",
    [
        (dict(families=["fixed", "triangle"]), "families[1]: unknown family 'triangle'"),
        (dict(lr=(1.0, 0.1)), "lr: low 1.0 > high 0.1"),
        (dict(lr=(0.0, 0.1)), "values must be > 0"),
        (dict(base_lr_ratio=(0.2, 1.5)), "base_lr_ratio: values must be < 1"),
        (dict(step_size_epochs=(10, 2)), "step_size_epochs: low 10.0 > high 2.0"),
        (dict(families=["step"], max_iterations=None), "need max_iterations"),
        (dict(iterations_per_epoch=0), "iterations_per_epoch must be an integer >= 1"),
        (dict(families=["batch_growth"], batch_size=None), "needs batch_size and max_batch_size"),
    ],
)
def test_errors_name_the_field(kw, message):
    with pytest.raises(ValueError) as info:
        full_space(**kw)
    assert message in str(info.value)


def test_narrow_never_leaves_the_users_bounds_and_says_where_the_test_points_outside():
    digits_test = range_test_result(0.02158, 0.05755, 0.1079, tested=(0.0, 1.0))
    high = full_space(families=["fixed"], lr=(0.3, 0.5))
    assert high.narrow(digits_test).lr == (
        0.3,
        0.5,
    )  # used to be (0.0216, 0.108): outside the file's range
    message = high.outside(digits_test)
    assert "\n" not in message and "best_lr 0.05755" in message and "[0.3, 0.5]" in message
    overlap = full_space(families=["fixed", "triangular2"], lr=(0.001, 0.08))
    narrowed = overlap.narrow(digits_test)
    assert narrowed.lr == pytest.approx((0.02158, 0.08)) and narrowed.max_lr == pytest.approx(
        (0.05395, 0.08)
    )
    assert "max_lr 0.1079" in overlap.outside(digits_test)
    assert full_space(families=["fixed", "triangular2"]).outside(digits_test) is None
