from __future__ import annotations

import collections
import copy
import math
import statistics

from conftest import range_test_result
import optuna
import pytest

import optuna_clr
from optuna_clr.study.studyfile import StudyFile


PRIOR = {"base_lr": 0.001, "best_lr": 0.003, "max_lr": 0.006}


def narrowed_space():
    wide = optuna_clr.ScheduleSpace(
        families=["fixed", "triangular", "triangular2", "exp_range"],
        lr=(1e-5, 1.0),
        iterations_per_epoch=450,
    )
    result = range_test_result()
    return wide.narrow(result), result


def test_recipes_first_then_prior_and_uniform_draws_inside_the_bounds_then_the_mixture_with_tpe():
    space, result = narrowed_space()
    study = optuna.create_study(sampler=optuna_clr.RangeTestPriorSampler(result, seed=1))
    schedules = []
    for _ in range(45):
        trial = study.ask()
        schedules.append(space.suggest(trial))
        study.tell(trial, 1.0)
    assert schedules[0] == optuna_clr.schedules.Triangular2(
        base_lr=0.001, max_lr=0.006, step_size=1800
    )  # 4 epochs of 450
    assert schedules[1] == optuna_clr.schedules.Fixed(lr=0.003)
    origins = [t.user_attrs["sampler"] for t in study.trials]
    assert origins[:2] == ["Smith's recipe: triangular2", "Smith's recipe: fixed"]
    assert set(origins[2:10]) <= {"range-test prior", "uniform"}  # TPE needs 10 observations first
    assert {"range-test prior", "uniform", "TPESampler"} <= set(origins[10:])
    for t in study.trials:
        for name, value in t.params.items():
            dist = space.distributions[name]
            assert dist._contains(dist.to_internal_repr(value)), (name, value)
    peaks = [
        t.params["max_lr"]
        for t in study.trials
        if "max_lr" in t.params and t.user_attrs["sampler"] == "range-test prior"
    ]
    # concentrated around the tested max_lr, not spread over the range as uniform draws would be
    assert len(peaks) >= 5 and abs(math.log(statistics.median(peaks) / 0.006)) < math.log(1.5)


def test_recipe_for_a_family_the_space_lacks_is_skipped():
    fixed_only = optuna_clr.ScheduleSpace(
        families=["fixed"], lr=(1e-4, 0.1), iterations_per_epoch=450
    )
    study = optuna.create_study(sampler=optuna_clr.RangeTestPriorSampler(PRIOR, seed=0))
    trial = study.ask()
    assert fixed_only.suggest(trial) == optuna_clr.schedules.Fixed(0.003)


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


THREE = optuna_clr.ScheduleSpace(
    families=["fixed", "triangular", "triangular2"], lr=(1e-4, 1.0), iterations_per_epoch=450
)
RECIPE = optuna_clr.schedules.Triangular2(
    base_lr=0.001, max_lr=0.006, step_size=1800
)  # 4 epochs of 450


def run(study, n):
    out = []
    for _ in range(n):
        trial = study.ask()
        schedule = THREE.suggest(trial)
        study.tell(trial, 1.0)
        out.append(
            (schedule, study.trials[trial.number].user_attrs["sampler"])
        )  # written as it finishes
    return out


def test_an_enqueued_family_gets_its_own_recipe_or_the_prior_and_takes_no_other_trials_recipe():
    study = optuna.create_study(sampler=optuna_clr.RangeTestPriorSampler(PRIOR, seed=0))
    study.enqueue_trial({"family": "triangular"})  # no recipe for triangular
    (tri, origin), (smith, smith_origin), (fixed, fixed_origin), (_, later) = run(study, 4)
    assert isinstance(tri, optuna_clr.schedules.Triangular) and tri.family == "triangular"
    assert origin == "range-test prior" and tri != optuna_clr.schedules.Triangular(
        0.001, 0.006, 1800
    )
    assert (smith, smith_origin) == (
        RECIPE,
        "Smith's recipe: triangular2",
    )  # not used up by trial 0
    assert (fixed, fixed_origin) == (optuna_clr.schedules.Fixed(0.003), "Smith's recipe: fixed")
    assert later == "range-test prior"

    study = optuna.create_study(sampler=optuna_clr.RangeTestPriorSampler(PRIOR, seed=0))
    study.enqueue_trial(
        {"family": "fixed"}
    )  # gets the fixed recipe, though triangular2's comes first
    study.enqueue_trial({"family": "fixed"})  # no fixed recipe left: the prior
    (first, first_origin), (second, second_origin), (smith, smith_origin) = run(study, 3)
    assert (first, first_origin) == (optuna_clr.schedules.Fixed(0.003), "Smith's recipe: fixed")
    assert second.family == "fixed" and second != first and second_origin == "range-test prior"
    assert (smith, smith_origin) == (RECIPE, "Smith's recipe: triangular2")


def test_recipes_follow_from_the_storage_across_workers(tmp_path):
    """Two workers (two sampler instances) on one SQLite storage: the second one knows that
    trial 0 was enqueued with another family without having seen it."""
    storage = f"sqlite:///{tmp_path / 'study.db'}"
    first = optuna.create_study(
        study_name="s", storage=storage, sampler=optuna_clr.RangeTestPriorSampler(PRIOR, seed=0)
    )
    first.enqueue_trial({"family": "triangular"})
    first.enqueue_trial({"family": "triangular2"})
    assert [origin for _, origin in run(first, 1)] == ["range-test prior"]
    second = optuna.load_study(
        study_name="s", storage=storage, sampler=optuna_clr.RangeTestPriorSampler(PRIOR, seed=0)
    )
    assert run(second, 2) == [
        (RECIPE, "Smith's recipe: triangular2"),
        (optuna_clr.schedules.Fixed(0.003), "Smith's recipe: fixed"),
    ]


def test_an_unclear_range_test_is_refused_as_a_prior():
    unclear = range_test_result(
        tested=None,
        clear=False,
        message="the validation accuracy was still improving at the end of the test",
    )
    with pytest.raises(
        ValueError,
        match="no clear bounds for a prior .the validation accuracy was still improving",
    ):
        optuna_clr.RangeTestPriorSampler(unclear)
    # its values, given on purpose as a mapping, are the user's call
    assert optuna_clr.RangeTestPriorSampler(unclear.suggestions()).prior.max_lr == 0.006


# --- issue 14: contract defects (each test failed before the fix) ---

FIXED_ONLY = optuna_clr.ScheduleSpace(families=["fixed"], lr=(1e-4, 0.1), iterations_per_epoch=450)


@pytest.mark.parametrize(
    "bad",
    [
        {"best_lr": math.nan},
        {"best_lr": math.inf},
        {"best_lr": 0.0},
        {"best_lr": -0.003},
        {"max_lr": math.inf},
    ],
)
def test_a_prior_that_is_not_finite_and_positive_is_refused_in_one_line(bad):
    with pytest.raises(ValueError) as info:
        optuna_clr.RangeTestPriorSampler({**PRIOR, **bad})
    assert "\n" not in str(info.value) and next(iter(bad)) in str(info.value)


def test_sample_independent_leaves_the_trial_it_is_handed_and_the_storage_alone():
    sampler = optuna_clr.RangeTestPriorSampler(PRIOR, seed=0)
    study = optuna.create_study(sampler=sampler)
    study.add_trial(
        optuna.trial.create_trial(
            params={"family": "fixed"},
            value=1.0,
            distributions={"family": THREE.distributions["family"]},
        )
    )
    finished = study.trials[0]
    before = copy.deepcopy(finished)
    for name, dist in THREE.distributions.items():  # a finished trial: writing to it raises
        sampler.sample_independent(study, finished, name, dist)
    assert finished == before and finished.user_attrs == before.user_attrs
    assert study.trials[0] == before and study.trials[0].user_attrs == before.user_attrs


@pytest.mark.parametrize(
    "dist",
    [
        optuna.distributions.IntDistribution(0, 2),
        optuna.distributions.FloatDistribution(0.0, 1.0, step=0.5),
    ],
)
def test_uniform_draws_give_every_grid_value_the_same_weight(dist):
    study = optuna.create_study(
        sampler=optuna_clr.RangeTestPriorSampler(PRIOR, n_startup_trials=600, seed=0)
    )
    values = [
        study.ask({"x": dist}).params["x"] for _ in range(600)
    ]  # no observations: never the base sampler
    counts = collections.Counter(values)
    assert len(counts) == 3 and all(170 <= c <= 230 for c in counts.values()), (
        counts
    )  # 200 each; the ends got 150


def test_a_prior_far_outside_the_range_is_a_truncated_distribution_not_a_clipped_point():
    # ratio 0.01 against a space of (0.1, 0.5): the truncated log-normal lives just above 0.1
    prior = {"base_lr": 1e-4, "best_lr": 5e-3, "max_lr": 1e-2}
    space = optuna_clr.ScheduleSpace(
        families=["triangular2"], lr=(1e-4, 1.0), iterations_per_epoch=450
    )
    study = optuna.create_study(
        sampler=optuna_clr.RangeTestPriorSampler(
            prior, n_startup_trials=1000, seed=0, recipes=False
        )
    )
    for _ in range(60):
        trial = study.ask()
        space.suggest(trial)
        study.tell(trial, 1.0)
    ratios = [
        t.params["base_lr_ratio"]
        for t in study.trials
        if t.user_attrs["sampler"] == "range-test prior"
    ]
    assert len(ratios) >= 20
    # the tail of a normal 5.7 sigma out is close to an exponential: median about 0.1 * 1.05
    assert min(ratios) > 0.1 and 0.101 < statistics.median(ratios) < 0.115 and max(ratios) <= 0.5


def count_observations(study):
    return len(
        study.get_trials(
            deepcopy=False,
            states=(optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.PRUNED),
        )
    )


@pytest.mark.parametrize("scenario", ["short startup", "failed startup", "parallel startup"])
def test_no_trial_goes_to_the_base_samplers_own_random_start(scenario):
    base = optuna.samplers.TPESampler(seed=0)  # its own random start: 10 COMPLETE or PRUNED trials
    sampler = optuna_clr.RangeTestPriorSampler(
        PRIOR, base_sampler=base, seed=0, n_startup_trials=3 if scenario == "short startup" else 10
    )
    study = optuna.create_study(sampler=sampler)
    seen = {}
    for i in range(40):
        batch = 6 if scenario == "parallel startup" and i == 0 else 1
        trials = []
        for _ in range(batch):
            seen[len(study.trials)] = count_observations(study)
            trials.append(study.ask())
        for trial in trials:
            value = THREE.suggest(trial).lr(0)
            failed = scenario == "failed startup" and trial.number < 5
            study.tell(
                trial,
                None if failed else value,
                state=optuna.trial.TrialState.FAIL if failed else None,
            )
    for t in study.trials:
        origin = t.user_attrs.get("sampler")
        assert origin is not None, t.number  # TPE's random start used to leave no origin
        assert (origin == "TPESampler") <= (seen[t.number] >= 10), (
            t.number,
            origin,
            seen[t.number],
        )
    assert any(t.user_attrs["sampler"] == "TPESampler" for t in study.trials)


def test_trials_added_by_hand_or_with_a_partial_fixed_family_do_not_use_up_a_recipe():
    study = optuna.create_study(sampler=optuna_clr.RangeTestPriorSampler(PRIOR, seed=0))
    study.add_trial(
        optuna.trial.create_trial(
            params={"family": "fixed", "lr": 0.01},
            value=1.0,
            distributions={
                "family": THREE.distributions["family"],
                "lr": THREE.distributions["lr"],
            },
        )
    )
    study.sampler = optuna.samplers.PartialFixedSampler({"family": "fixed"}, study.sampler)
    ((fixed, fixed_origin),) = run(study, 1)  # its own family's recipe, not triangular2's
    assert (fixed, fixed_origin) == (optuna_clr.schedules.Fixed(0.003), "Smith's recipe: fixed")
    study.sampler = study.sampler._base_sampler
    assert run(study, 1) == [(RECIPE, "Smith's recipe: triangular2")]


def test_a_recipe_trial_that_failed_gets_its_recipe_again():
    study = optuna.create_study(sampler=optuna_clr.RangeTestPriorSampler(PRIOR, seed=0))
    trial = study.ask()
    assert THREE.suggest(trial) == RECIPE
    study.tell(trial, state=optuna.trial.TrialState.FAIL)
    assert run(study, 2) == [
        (RECIPE, "Smith's recipe: triangular2"),
        (optuna_clr.schedules.Fixed(0.003), "Smith's recipe: fixed"),
    ]


def test_grid_sampler_is_refused_as_the_base_sampler():
    grid = optuna.samplers.GridSampler({"lr": [0.001, 0.01]})
    with pytest.raises(ValueError, match="GridSampler"):
        optuna_clr.RangeTestPriorSampler(PRIOR, base_sampler=grid)


# --- issue 14: the prior for the whole search, robust to a wrong one ---

ONE_FAMILY = optuna_clr.ScheduleSpace(families=["fixed"], lr=(1e-4, 1.0), iterations_per_epoch=450)


def prior_share(prior, good_lr, n=60, seed=0, start=10):
    """The shares of trials start..n-1 drawn from the prior and uniformly, when the best LR is
    ``good_lr``."""
    study = optuna.create_study(sampler=optuna_clr.RangeTestPriorSampler(prior, seed=seed))
    study.optimize(lambda t: abs(math.log(ONE_FAMILY.suggest(t).lr(0) / good_lr)), n_trials=n)
    origins = [t.user_attrs["sampler"] for t in study.trials[start:]]
    return origins.count("range-test prior") / len(origins), origins.count("uniform") / len(
        origins
    )


def test_the_prior_keeps_its_weight_when_the_best_trials_agree_and_loses_it_when_they_do_not():
    right, right_uniform = prior_share(PRIOR, good_lr=0.003)
    wrong, wrong_uniform = prior_share(PRIOR, good_lr=0.3)  # the test says 0.003; 0.3 is best
    assert right >= 0.3 and wrong <= 0.15
    assert right_uniform >= 0.05 and wrong_uniform >= 0.05  # the floor: every LR stays reachable
    # once a uniform draw has found the better LRs, the wrong prior draws no more trials
    assert prior_share(PRIOR, good_lr=0.3, start=30)[0] == 0.0
    assert prior_share(PRIOR, good_lr=0.003, start=30)[0] >= 0.3


def test_the_prior_decays_with_the_trials_finished():
    sampler = optuna_clr.RangeTestPriorSampler(PRIOR, seed=0, beta=10.0, min_uniform=0.15)
    study = optuna.create_study(sampler=sampler)
    assert sampler.probabilities(study) == pytest.approx(
        {"range-test prior": 0.85, "uniform": 0.15, "incumbent": 0.0, "base": 0.0}
    )
    for _ in range(30):  # every trial equally good: no evidence either way
        trial = study.ask()
        ONE_FAMILY.suggest(trial)
        study.tell(trial, 1.0)
    p = sampler.probabilities(study)
    assert p["uniform"] == pytest.approx(0.15)
    assert p["base"] == pytest.approx(p["incumbent"])  # incumbent_share 0.5 of the model's part
    assert p["base"] + p["incumbent"] == pytest.approx(0.85 - p["range-test prior"])
    assert 0.0 < p["range-test prior"] < 0.85 * 2 * 10 / 40


def test_an_incumbent_trial_mutates_one_of_the_five_best_trials_and_says_which():
    space = THREE
    sampler = optuna_clr.RangeTestPriorSampler(PRIOR, seed=3, incumbent_share=1.0)
    study = optuna.create_study(sampler=sampler)
    best = {"family": "triangular", "max_lr": 0.3, "base_lr_ratio": 0.2, "step_size_epochs": 5.0}
    for k in range(12):  # the best trials are far from the prior (max_lr 0.006)
        params = dict(best, max_lr=0.3 * 1.01**k) if k < 5 else {"family": "fixed", "lr": 1e-4}
        dists = {name: space.distributions[name] for name in params}
        study.add_trial(optuna.trial.create_trial(params=params, distributions=dists, value=k))
    for _ in range(200):
        trial = study.ask()
        space.suggest(trial)
        study.tell(trial, 100.0)  # worse than all twelve: the five best stay the incumbents
    mutated = [t for t in study.trials if t.user_attrs.get("sampler", "").startswith("mutation")]
    for t in mutated:
        source = int(t.user_attrs["sampler"].removeprefix("mutation of trial "))
        assert source in range(5) and t.system_attrs["optuna_clr:incumbent"] == source
    assert 0.7 * 200 < len(mutated) < 0.9 * 200  # the rest: the prior and the uniform floor
    families = collections.Counter(t.params["family"] for t in mutated)
    assert families["triangular"] / len(mutated) > 0.7  # kept 0.7, plus uniform redraws
    peaks = [t.params["max_lr"] for t in mutated if "max_lr" in t.params]
    # around the incumbents' 0.3, a factor of about 2 either way, not around the prior's 0.006
    assert abs(math.log(statistics.median(peaks) / 0.3)) < math.log(1.3)
    spread = statistics.stdev(math.log(v) for v in peaks if 1e-4 < v < 1.0)
    assert math.log(1.5) < spread < math.log(3.0)
    for t in mutated:
        for name, value in t.params.items():
            dist = space.distributions[name]
            assert dist._contains(dist.to_internal_repr(value)), (name, value)


def test_incumbent_share_zero_leaves_the_model_part_to_the_base_sampler():
    sampler = optuna_clr.RangeTestPriorSampler(PRIOR, seed=0, incumbent_share=0.0)
    study = optuna.create_study(sampler=sampler)
    study.optimize(lambda t: ONE_FAMILY.suggest(t).lr(0), n_trials=30)
    assert sampler.probabilities(study)["incumbent"] == 0.0
    assert not any(t.user_attrs["sampler"].startswith("mutation") for t in study.trials)
    with pytest.raises(ValueError, match=r"incumbent_share must be in \[0, 1\]"):
        optuna_clr.RangeTestPriorSampler(PRIOR, incumbent_share=1.5)


def spread_result(max_lr_seeds):
    result = range_test_result(top=statistics.median(max_lr_seeds))
    result.spread = {
        "base_lr": {"values": [0.001] * len(max_lr_seeds)},
        "best_lr": {"values": [0.003] * len(max_lr_seeds)},
        "max_lr": {"values": list(max_lr_seeds)},
    }
    return result


def test_the_prior_is_as_wide_as_the_tests_seeds_disagree_and_never_narrower_than_width():
    wide = optuna_clr.RangeTestPriorSampler(spread_result([0.003, 0.006, 0.012])).prior
    assert wide.sigma["max_lr"] == pytest.approx(
        statistics.stdev(math.log(v) for v in (0.003, 0.006, 0.012))
    )
    assert wide.sigma["lr"] == pytest.approx(math.log(1.5))  # the seeds agree: the default width
    assert wide.sigma["base_lr_ratio"] > math.log(1.5)  # base / max moves with max
    close = optuna_clr.RangeTestPriorSampler(spread_result([0.0059, 0.006, 0.0061])).prior
    assert close.sigma["max_lr"] == pytest.approx(math.log(1.5))
    assert optuna_clr.RangeTestPriorSampler(PRIOR, width=3.0).prior.sigma["lr"] == pytest.approx(
        math.log(3.0)
    )


def test_a_resumed_study_and_a_second_worker_make_the_same_choices(tmp_path):
    def trials(study, n):
        for _ in range(n):
            trial = study.ask()
            THREE.suggest(trial)
            study.tell(trial, trial.number % 3)
        return [(t.params, t.user_attrs["sampler"]) for t in study.trials]

    def sampler():  # no base-sampler trials: TPE's own generator is not keyed by trial number
        return optuna_clr.RangeTestPriorSampler(PRIOR, seed=5, n_startup_trials=100)

    at_once = trials(optuna.create_study(sampler=sampler()), 14)
    storage = f"sqlite:///{tmp_path / 'study.db'}"
    trials(optuna.create_study(study_name="s", storage=storage, sampler=sampler()), 6)
    resumed = trials(optuna.load_study(study_name="s", storage=storage, sampler=sampler()), 8)
    assert resumed == at_once


def test_with_hyperband_every_bracket_shares_the_recipes():
    study = optuna.create_study(
        sampler=optuna_clr.RangeTestPriorSampler(PRIOR, seed=0),
        pruner=optuna.pruners.HyperbandPruner(min_resource=1, max_resource=9),
    )
    assert run(study, 2) == [
        (RECIPE, "Smith's recipe: triangular2"),
        (optuna_clr.schedules.Fixed(0.003), "Smith's recipe: fixed"),
    ]


def test_a_study_file_asking_for_gp_is_refused(tmp_path):
    path = tmp_path / "gp.toml"
    path.write_text(
        '[study]\nname = "x"\nsampler = "gp"\n[training]\ntarget_accuracy = 0.9\n'
        "max_iterations = 100\n"
    )
    with pytest.raises(ValueError, match=r"\[study\] sampler: unknown sampler 'gp'; choose from"):
        StudyFile.load(path)


# --- issue 29: a recipe is used once, and a prior the math cannot take is refused ---


def test_a_recipe_is_used_once_when_the_objective_suggests_only_some_of_its_parameters():
    study = optuna.create_study(sampler=optuna_clr.RangeTestPriorSampler(PRIOR, seed=0))

    def objective(trial):
        trial.suggest_categorical("family", ["fixed", "triangular2"])
        return trial.suggest_float("max_lr", 1e-4, 1.0, log=True)  # no base_lr_ratio, no lr

    study.optimize(objective, n_trials=6)
    recipes = [t for t in study.trials if t.system_attrs["optuna_clr:sampler"] == "recipe"]
    assert [t.params for t in recipes] == [
        {"family": "triangular2", "max_lr": 0.006},
        {"family": "fixed", "max_lr": recipes[1].params["max_lr"]},  # fixed's recipe has no max_lr
    ]
    assert [t.user_attrs["sampler"] for t in recipes] == [
        "Smith's recipe: triangular2",
        "Smith's recipe: fixed",
    ]
    later = study.trials[2:]
    assert not any(t.user_attrs["sampler"].startswith("Smith") for t in later)
    assert sum(t.params == {"family": "triangular2", "max_lr": 0.006} for t in study.trials) == 1


def test_a_recipe_is_used_once_when_its_values_fit_no_choice_of_the_objective():
    study = optuna.create_study(sampler=optuna_clr.RangeTestPriorSampler(PRIOR, seed=0))

    def objective(trial):  # 0.006 is no choice: the recipe's max_lr cannot be proposed
        trial.suggest_categorical("family", ["fixed", "triangular2"])
        return trial.suggest_categorical("max_lr", [0.01, 0.1])

    study.optimize(objective, n_trials=6)
    recipes = [t for t in study.trials if t.system_attrs["optuna_clr:sampler"] == "recipe"]
    assert [t.params["family"] for t in recipes] == ["triangular2", "fixed"]
    assert [t.number for t in recipes] == [0, 1]


def test_an_enqueued_trial_that_overrides_a_recipe_value_leaves_the_recipe_to_a_later_trial():
    study = optuna.create_study(sampler=optuna_clr.RangeTestPriorSampler(PRIOR, seed=0))
    study.enqueue_trial({"family": "fixed", "lr": 0.05})  # not the recipe's 0.003
    (enqueued, origin), (smith, _), (fixed, fixed_origin), (_, later) = run(study, 4)
    assert enqueued == optuna_clr.schedules.Fixed(0.05) and origin == "range-test prior"
    assert smith == RECIPE
    assert (fixed, fixed_origin) == (optuna_clr.schedules.Fixed(0.003), "Smith's recipe: fixed")
    assert not later.startswith("Smith's recipe")


@pytest.mark.parametrize(
    ("bad", "words"),
    [
        ({"base_lr": 1e-300, "max_lr": 1e300}, "base_lr / max_lr"),  # the ratio underflows to 0
        ({"base_lr": 1e-300, "max_lr": 1e10}, "base_lr / max_lr"),  # a subnormal ratio
        ({"base_lr": -1e-3}, "base_lr"),
        ({"max_lr": math.nan}, "max_lr"),
        ({"best_lr": 0.0005}, "best_lr"),  # below base_lr
        ({"best_lr": 0.01}, "best_lr"),  # above max_lr
        ({"base_lr": True, "best_lr": 1.5, "max_lr": 2.0}, "base_lr"),  # a flag, not a number
    ],
)
def test_a_prior_whose_values_break_the_math_is_refused_at_construction(bad, words):
    with pytest.raises(ValueError) as info:
        optuna_clr.RangeTestPriorSampler({**PRIOR, **bad})
    message = str(info.value)
    assert "\n" not in message and words in message and "got " in message
    with pytest.raises(ValueError):
        optuna_clr.RangeTestPrior(**{**PRIOR, **bad}, sigma=dict.fromkeys(PRIOR_SIGMA, 0.5))


PRIOR_SIGMA = ("lr", "max_lr", "base_lr_ratio")


def test_the_smallest_ratio_a_prior_takes_leaves_every_trial_finished():
    prior = {"base_lr": 1e-300, "best_lr": 1e-5, "max_lr": 1e7}  # ratio 1e-307, still normal
    study = optuna.create_study(sampler=optuna_clr.RangeTestPriorSampler(prior, seed=0))
    study.optimize(lambda t: THREE.suggest(t).lr(0), n_trials=6)
    assert all(t.state == optuna.trial.TrialState.COMPLETE for t in study.trials)


@pytest.mark.parametrize("step", [0.0, -4.0, math.nan, math.inf])
def test_a_recipe_step_size_that_is_not_finite_and_positive_is_refused(step):
    with pytest.raises(ValueError, match=r"recipe_step_size_epochs.*got recipe_step_size_epochs="):
        optuna_clr.RangeTestPriorSampler(PRIOR, recipe_step_size_epochs=step)
