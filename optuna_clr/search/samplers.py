"""A sampler that keeps the LR range test as a prior for the whole search.

Optuna's samplers take no user prior (TPE's ``prior_weight`` is a flat prior over each range).
:class:`RangeTestPriorSampler` mixes one into every trial, in the spirit of piBO (Hvarfner et
al., 2022: the prior's pull decays like ``beta / n``) and PriorBand (Mallik et al., 2023: the
prior's weight follows how likely the best configurations so far are under it, and a uniform
share keeps every point reachable):

1. the first trials are Smith's recipes: ``triangular2`` between the tested ``base_lr`` and
   ``max_lr`` with a half cycle of about 4 epochs, then a fixed LR at ``best_lr``; a recipe
   is skipped where the space lacks its family, and a trial whose family was fixed
   (``enqueue_trial``, :class:`~optuna.samplers.PartialFixedSampler`) gets that family's
   recipe if it is still to come. A recipe counts as done once it was proposed to an earlier
   trial that did not fail (``before_trial`` made it a recipe trial and it has the recipe's
   family), whichever of the recipe's parameters the objective asked for, so each recipe
   trains once; a failed recipe trial's recipe goes to a later trial, and trials added with
   ``add_trial``, fixed to another family, or with a recipe value overridden from outside
   (``enqueue_trial``) use up none;
2. every later trial is, with probability ``p_prior``, a draw from the
   :class:`~optuna_clr.RangeTestPrior` (log-normal around the test's bounds, truncated to
   the space; other parameters uniform), with probability ``p_uniform`` (at least
   ``min_uniform``) a uniform draw over the whole space, and otherwise the base sampler's
   (multivariate TPE by default), of which ``incumbent_share`` are PriorBand's local search
   instead: a mutation of one of the five best completed trials (each LR times a log-normal
   factor of about 2, other numbers moved by a fifth of their range, a choice kept with
   chance 0.7);
3. ``p_prior = (1 - min_uniform) * min(1, 2 * beta / (beta + n) * agreement)``, with ``n``
   the finished (COMPLETE or PRUNED) trials and ``agreement`` in (0, 1) the prior's share of
   the likelihood of the best fifth of the completed trials against a uniform draw's (0.5
   when they are equally likely under both). Until ``n`` reaches the base sampler's own
   random start (TPE's ``n_startup_trials``), the base sampler's share goes to uniform
   draws, so no trial falls into that random start.

Every choice is derived from the storage (trial numbers, states, parameters) and a generator
seeded by the trial number, so several workers on one storage and a resumed study make the
same choices. The choice is made in ``before_trial`` and recorded there as the system attr
``optuna_clr:sampler``; the user attr ``sampler`` says where each trial came from (written
in ``after_trial``, when the parameters are known). ``sample_independent`` writes nothing.

Two places reach past Optuna's public API, both read-only: the base sampler's
``_n_startup_trials`` (TPESampler and GPSampler keep their random start there, and no public
call tells it), and ``study._storage`` to read all trials and the recorded choice (under
HyperbandPruner a sampler is handed a study filtered to one bracket, and the trial it is
handed is a copy taken before ``before_trial`` recorded anything).

Example:

    .. testcode::

        import optuna
        import optuna_clr

        prior = {"base_lr": 0.02, "best_lr": 0.06, "max_lr": 0.2}   # or a RangeTestResult
        sampler = optuna_clr.RangeTestPriorSampler(prior, seed=0)
        space = optuna_clr.ScheduleSpace(families=["fixed", "triangular2"], lr=(1e-3, 1.0),
                                         iterations_per_epoch=35)
        study = optuna.create_study(sampler=sampler)
        trial = study.ask()
        print(space.suggest(trial))   # Triangular2(base_lr=0.02, max_lr=0.2, step_size=140)
"""

from __future__ import annotations

from collections.abc import Sequence
import math
from typing import Any
from typing import cast
import warnings
import zlib

import numpy as np
import optuna
from optuna.distributions import BaseDistribution
from optuna.distributions import CategoricalDistribution
from optuna.distributions import FloatDistribution
from optuna.distributions import IntDistribution
from optuna.samplers import BaseSampler
from optuna.trial import FrozenTrial
from optuna.trial import TrialState

from optuna_clr.search.prior import RangeTestPrior


USER_ATTR = "sampler"
SYSTEM_ATTR = "optuna_clr:sampler"
PRIOR, UNIFORM, BASE, RECIPE = "range-test prior", "uniform", "base", "recipe"
INCUMBENT = "incumbent"
INCUMBENT_ATTR = "optuna_clr:incumbent"  # the number of the trial an incumbent trial mutates
TOP_FRACTION = 0.2  # the "best configurations so far" whose likelihood moves the prior's weight
TOP_K = 5  # the best completed trials an incumbent trial mutates one of
LOG_STEP, LINEAR_STEP, KEEP = math.log(2.0), 0.2, 0.7  # a mutation's size (see the module)
_UNFINISHED = (TrialState.RUNNING, TrialState.WAITING)


class RangeTestPriorSampler(BaseSampler):
    """Smith's recipes, then a decaying range-test prior mixed with TPE and local search.

    What it does, in three sentences you can check in a study's user attrs ``sampler``: the
    first trials train Smith's two recipes (triangular2 from ``base_lr`` to ``max_lr``, then
    a fixed LR at ``best_lr``). Every later trial draws from the range-test prior with a
    probability that shrinks as ``beta / (beta + n)`` in the ``n`` finished trials, and
    faster when the best trials so far are unlikely under it; at least ``min_uniform`` of the
    trials draw uniformly over the whole space, and the rest are the base sampler's or, for
    ``incumbent_share`` of them, small mutations of one of the five best trials. So a wrong
    range test costs some trials, but no point of the space is ever out of reach.

    Args:
        prior: a :class:`~optuna_clr.RangeTestResult` with clear bounds (``clear`` True;
            ``ValueError`` otherwise), a mapping with ``base_lr``, ``best_lr`` and ``max_lr``,
            or a :class:`~optuna_clr.RangeTestPrior`.
        base_sampler: the model-based sampler; default ``TPESampler(multivariate=True,
            group=True, seed=seed, n_startup_trials=n_startup_trials)``. Not a GridSampler:
            it assigns each trial a grid point as the trial starts, and the trials drawn
            here would use up points that are never evaluated.
        n_startup_trials: finished trials before the base sampler proposes any (at least the
            base sampler's own random start, which would otherwise take those trials).
        seed: seed for the choices and draws here (and for the default base sampler).
        recipe_step_size_epochs: the recipe's triangular2 half cycle, in epochs, finite and
            > 0 (Smith: 2-10, 4 in his CIFAR-10 runs).
        width: the prior's narrowest spread, a factor in LR per standard deviation (default
            1.5; a test with ``repeats > 1`` widens it to its seeds' spread).
        recipes: set False to skip Smith's recipes.
        beta: trials after which the prior's weight has halved (piBO's ``beta``; 30 was best on
            the search benchmark's tuning seeds).
        min_uniform: the share of trials drawn uniformly over the whole space, in (0, 1).
        incumbent_share: the share of the base sampler's trials that mutate one of the best
            trials instead, in [0, 1] (0: the base sampler's alone).

    Raises:
        ValueError: an unclear range test result; a prior whose bounds the math cannot take
            (see :class:`~optuna_clr.RangeTestPrior`: an LR that is not finite and > 0, a
            ``base_lr / max_lr`` that underflows, ``best_lr`` outside ``[base_lr, max_lr]``);
            a ``width``, ``n_startup_trials``, ``recipe_step_size_epochs``, ``beta``,
            ``min_uniform`` or ``incumbent_share`` out of its range; a GridSampler as
            ``base_sampler``.
        TypeError: a ``prior`` that is neither a range test result nor a mapping.
    """

    def __init__(
        self,
        prior: Any,
        *,
        base_sampler: BaseSampler | None = None,
        n_startup_trials: int = 10,
        seed: int | None = None,
        recipe_step_size_epochs: float = 4.0,
        width: float | None = None,
        recipes: bool = True,
        beta: float = 30.0,
        min_uniform: float = 0.15,
        incumbent_share: float = 0.5,
    ) -> None:
        self.prior = (
            prior
            if isinstance(prior, RangeTestPrior)
            else RangeTestPrior.from_result(prior, width=width)
        )
        if n_startup_trials < 0:
            raise ValueError(f"n_startup_trials must be >= 0, got {n_startup_trials}")
        if not (
            isinstance(recipe_step_size_epochs, (int, float))
            and not isinstance(recipe_step_size_epochs, bool)
            and math.isfinite(recipe_step_size_epochs)
            and recipe_step_size_epochs > 0
        ):
            raise ValueError(
                "recipe_step_size_epochs must be a finite number of epochs > 0, "
                f"got {recipe_step_size_epochs=}"
            )
        if not (math.isfinite(beta) and beta > 0):
            raise ValueError(f"beta must be a finite number > 0, got {beta=}")
        if not 0 < min_uniform < 1:
            raise ValueError(f"min_uniform must be in (0, 1), got {min_uniform=}")
        if not 0 <= incumbent_share <= 1:
            raise ValueError(f"incumbent_share must be in [0, 1], got {incumbent_share=}")
        if isinstance(base_sampler, optuna.samplers.GridSampler):
            raise ValueError(
                "a GridSampler cannot be the base sampler: it assigns every trial a grid point "
                "as the trial starts, so the prior's trials would use up points never "
                "evaluated; run it alone"
            )
        self.base_sampler = base_sampler or default_tpe(
            seed=seed, n_startup_trials=n_startup_trials
        )
        self.n_startup_trials = max(
            n_startup_trials, int(getattr(self.base_sampler, "_n_startup_trials", 0))
        )
        self.beta, self.min_uniform = float(beta), float(min_uniform)
        self.incumbent_share = float(incumbent_share)
        self._entropy = seed if seed is not None else _fresh_entropy()
        p = self.prior
        self.recipes: list[dict[str, Any]] = []
        if recipes:
            self.recipes = [
                {
                    "family": "triangular2",
                    "max_lr": p.max_lr,
                    "base_lr_ratio": p.base_lr / p.max_lr,
                    "step_size_epochs": recipe_step_size_epochs,
                },
                {"family": "fixed", "lr": p.best_lr},
            ]

    # --- the choice for a trial, from the storage ---

    def probabilities(self, study: optuna.Study) -> dict[str, float]:
        """The chances of a new trial's coming from the prior, uniform draws, a mutation of an
        incumbent and the base sampler, given the study's finished trials (recipes aside)."""
        finished = study.get_trials(
            deepcopy=False, states=(TrialState.COMPLETE, TrialState.PRUNED)
        )
        n = len(finished)
        agreement = self._agreement(study, [t for t in finished if t.state == TrialState.COMPLETE])
        p_prior = (1 - self.min_uniform) * min(1.0, 2 * self.beta / (self.beta + n) * agreement)
        p_model = 1 - self.min_uniform - p_prior if n >= self.n_startup_trials else 0.0
        p_incumbent = p_model * self.incumbent_share if self._incumbents(study) else 0.0
        return {
            PRIOR: p_prior,
            UNIFORM: 1 - p_prior - p_model,
            INCUMBENT: p_incumbent,
            BASE: p_model - p_incumbent,
        }

    def _incumbents(self, study: optuna.Study) -> list[FrozenTrial]:
        """The best :data:`TOP_K` completed trials (the earlier of two equal ones first); none
        in a study of several objectives."""
        if len(study.directions) != 1:
            return []
        complete = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
        sign = -1.0 if study.direction == optuna.study.StudyDirection.MINIMIZE else 1.0
        return sorted(complete, key=lambda t: (-sign * t.value, t.number))[:TOP_K]  # type: ignore

    def _agreement(self, study: optuna.Study, complete: list[FrozenTrial]) -> float:
        """The prior's share of the likelihood of the best completed trials, against uniform
        draws' (the geometric mean over the best fifth): near 1 when they sit where the prior
        is dense, near 0 when they sit where it is thin; 0.5 without evidence."""
        if not complete or len(study.directions) != 1:
            return 0.5
        sign = -1.0 if study.direction == optuna.study.StudyDirection.MINIMIZE else 1.0
        best = sorted(complete, key=lambda t: (-sign * t.value, t.number))  # type: ignore
        top = best[: max(1, math.ceil(TOP_FRACTION * len(best)))]
        log_ratio = float(np.mean([self.prior.log_ratio(t.params, t.distributions) for t in top]))
        return 1.0 / (1.0 + math.exp(-min(max(log_ratio, -700.0), 700.0)))

    def _choose(self, study: optuna.Study, trial: FrozenTrial) -> str:
        """``recipe``, ``range-test prior``, ``uniform`` or ``base`` for ``trial``."""
        if self._recipe_left(study, trial, _fixed_family(trial)):
            return RECIPE
        p = self.probabilities(study)
        u = self._rng(trial, "choice").random()
        for choice in (PRIOR, UNIFORM, INCUMBENT):
            if u < p[choice]:
                return choice
            u -= p[choice]
        return BASE

    def _choice(self, study: optuna.Study, trial: FrozenTrial) -> str:
        """The choice ``before_trial`` recorded; derived afresh where it recorded none (a
        trial created straight in the storage)."""
        recorded = study._storage.get_trial_system_attrs(trial._trial_id).get(SYSTEM_ATTR)
        return recorded if recorded is not None else self._choose(study, trial)

    def _pending(self, study: optuna.Study, trial: FrozenTrial) -> list[dict[str, Any]]:
        """The recipes that no earlier trial took. A trial took a recipe when ``before_trial``
        made it a recipe trial, it did not fail, and it has the recipe's family (or none yet:
        then the first recipe left, which is the one it is proposed), whichever of the
        recipe's other parameters the objective asked for; unless a value fixed from outside
        (``enqueue_trial``, :class:`~optuna.samplers.PartialFixedSampler`) overrode one that
        the recipe proposed, so that the trial did not train it."""
        # The storage, not ``study``: HyperbandPruner hands a sampler one bracket's trials.
        trials = study._storage.get_all_trials(study._study_id, deepcopy=False)
        families = _space_families(trials, trial.number)
        left = [r for r in self.recipes if families is None or r["family"] in families]
        for t in sorted(trials, key=lambda t: t.number):
            if t.number >= trial.number or not left or t.state == TrialState.FAIL:
                continue
            if t.system_attrs.get(SYSTEM_ATTR) != RECIPE:
                continue  # not proposed a recipe: added by hand, or another choice
            family = t.params.get("family", _fixed_family(t))
            match: dict[str, Any] | None
            if family is None:
                match = left[0]
            else:
                match = next((r for r in left if r["family"] == family), None)
            if match is not None and not _overridden(t, match):
                left.remove(match)
        return left

    def _recipe_left(
        self, study: optuna.Study, trial: FrozenTrial, family: Any
    ) -> dict[str, Any] | None:
        """The first recipe still to come, of ``family`` when that is known."""
        left = self._pending(study, trial)
        if family is None:
            return left[0] if left else None
        return next((r for r in left if r["family"] == family), None)

    # --- BaseSampler ---

    def before_trial(self, study: optuna.Study, trial: FrozenTrial) -> None:
        choice = self._choose(study, trial)
        study._storage.set_trial_system_attr(trial._trial_id, SYSTEM_ATTR, choice)
        if choice == INCUMBENT:  # fixed now, so every parameter mutates the same trial
            study._storage.set_trial_system_attr(
                trial._trial_id, INCUMBENT_ATTR, self._pick_incumbent(study, trial).number
            )
        self.base_sampler.before_trial(study, trial)

    def _pick_incumbent(self, study: optuna.Study, trial: FrozenTrial) -> FrozenTrial:
        best = self._incumbents(study)
        return best[int(self._rng(trial, INCUMBENT).integers(len(best)))]

    def _incumbent(self, study: optuna.Study, trial: FrozenTrial) -> FrozenTrial:
        """The trial that ``before_trial`` chose for ``trial`` to mutate."""
        number = study._storage.get_trial_system_attrs(trial._trial_id).get(INCUMBENT_ATTR)
        trials = study._storage.get_all_trials(study._study_id, deepcopy=False)
        found = [t for t in trials if t.number == number]
        return found[0] if found else self._pick_incumbent(study, trial)

    def infer_relative_search_space(
        self, study: optuna.Study, trial: FrozenTrial
    ) -> dict[str, BaseDistribution]:
        if self._choice(study, trial) != BASE:
            return {}
        return self.base_sampler.infer_relative_search_space(study, trial)

    def sample_relative(
        self, study: optuna.Study, trial: FrozenTrial, search_space: dict[str, BaseDistribution]
    ) -> dict[str, Any]:
        if not search_space:
            return {}
        if self._choice(study, trial) == BASE:
            return self.base_sampler.sample_relative(study, trial, search_space)
        # Only a caller that sets the space itself gets here: the inferred space is empty then.
        return {
            name: self.sample_independent(study, trial, name, dist)
            for name, dist in search_space.items()
        }

    def sample_independent(
        self,
        study: optuna.Study,
        trial: FrozenTrial,
        param_name: str,
        param_distribution: BaseDistribution,
    ) -> Any:
        choice = self._choice(study, trial)
        if choice == BASE:
            return self.base_sampler.sample_independent(
                study, trial, param_name, param_distribution
            )
        rng = self._rng(trial, param_name)
        if choice == RECIPE:
            value = self._recipe_value(study, trial, param_name, param_distribution)
            if value is not None:
                return value
        if choice == INCUMBENT:
            value = self._incumbent(study, trial).params.get(param_name)
            if value is not None:
                return _mutate(value, param_distribution, rng)
        if choice == UNIFORM or not self.prior.covers(param_name, param_distribution):
            return _uniform(param_distribution, rng)
        return self.prior.sample(param_name, param_distribution, rng)  # type: ignore[arg-type]

    def _recipe_value(
        self, study: optuna.Study, trial: FrozenTrial, name: str, dist: BaseDistribution
    ) -> Any:
        """The recipe's value of ``name`` for a recipe trial, or None (then it is drawn from the
        prior): the family comes first; the other values follow the family the trial has."""
        if name == "family":
            if not isinstance(dist, CategoricalDistribution):
                return None
            left = [r for r in self._pending(study, trial) if r["family"] in dist.choices]
            return left[0]["family"] if left else None
        recipe = self._recipe_left(study, trial, trial.params.get("family"))
        if recipe is None or "family" not in trial.params:
            return None
        return _fit(recipe.get(name), dist)

    def after_trial(
        self,
        study: optuna.Study,
        trial: FrozenTrial,
        state: TrialState,
        values: Sequence[float] | None,
    ) -> None:
        self.base_sampler.after_trial(study, trial, state, values)
        if trial.user_attrs.get(USER_ATTR) is None and trial.state in _UNFINISHED:
            study._storage.set_trial_user_attr(
                trial._trial_id, USER_ATTR, self._origin(study, trial)
            )

    def _origin(self, study: optuna.Study, trial: FrozenTrial) -> str:
        choice = self._choice(study, trial)
        if choice == BASE:
            return type(self.base_sampler).__name__
        if choice == INCUMBENT:
            return f"mutation of trial {self._incumbent(study, trial).number}"
        if choice == RECIPE:
            family = trial.params.get("family")
            recipe = self._recipe_left(study, trial, family)
            if family is not None and recipe is not None and _holds(trial, recipe, family):
                return f"Smith's recipe: {family}"
            return PRIOR
        return choice

    def reseed_rng(self) -> None:
        self._entropy = _fresh_entropy()
        self.base_sampler.reseed_rng()

    def _rng(self, trial: FrozenTrial, name: str) -> np.random.Generator:
        return np.random.default_rng([self._entropy, trial.number, zlib.crc32(name.encode())])


def _fresh_entropy() -> int:
    return cast(int, np.random.SeedSequence().entropy) % (2**32)


def _fixed_family(trial: FrozenTrial) -> Any:
    """The family ``enqueue_trial`` fixed for ``trial``, or None when the sampler draws it."""
    return trial.system_attrs.get("fixed_params", {}).get("family")


def _space_families(trials: list[FrozenTrial], before: int) -> set[Any] | None:
    """The families the space offers, as the latest earlier trial with parameters shows it
    (empty when that trial has no ``family``); None when no earlier trial has any."""
    earlier = [t for t in trials if t.number < before and t.distributions]
    if not earlier:
        return None
    dist = max(earlier, key=lambda t: t.number).distributions.get("family")
    return set(dist.choices) if isinstance(dist, CategoricalDistribution) else set()


def _holds(trial: FrozenTrial, recipe: dict[str, Any], family: Any) -> bool:
    """Whether ``trial`` (of ``family``) has ``recipe``'s values, of those it has so far."""
    if family != recipe["family"]:
        return False
    return all(
        trial.params[name] == _fit(recipe[name], trial.distributions[name])
        for name in recipe
        if name != "family" and name in trial.params
    )


def _overridden(trial: FrozenTrial, recipe: dict[str, Any]) -> bool:
    """Whether a value of ``trial`` differs from one that ``recipe`` could propose for it: a
    value fixed from outside the sampler, since a recipe trial gets every value of its recipe
    that fits the parameter's distribution (one that fits none is drawn, overriding nothing)."""
    for name, value in trial.params.items():
        if name == "family" or name not in recipe:
            continue
        proposed = _fit(recipe[name], trial.distributions[name])
        if proposed is not None and value != proposed:
            return True
    return False


def default_tpe(
    *, seed: int | None = None, constant_liar: bool = False, n_startup_trials: int = 10
) -> optuna.samplers.TPESampler:
    """Multivariate TPE with group decomposition: the family's conditional parameters form
    groups, which plain multivariate TPE cannot model."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        return optuna.samplers.TPESampler(
            multivariate=True,
            group=True,
            seed=seed,
            constant_liar=constant_liar,
            n_startup_trials=n_startup_trials,
        )


def _fit(value: Any, dist: BaseDistribution) -> Any:
    """``value`` as a valid value of ``dist`` (clipped into range, on the grid), or None."""
    if isinstance(dist, CategoricalDistribution):
        return value if value in dist.choices else None
    if not isinstance(value, (int, float)) or not math.isfinite(value):
        return None
    low, high = dist.low, dist.high  # type: ignore[attr-defined]
    v = min(max(float(value), low), high)
    step = getattr(dist, "step", None)
    if step is not None:
        v = min(low + round((v - low) / step) * step, high)
    if isinstance(dist, IntDistribution):
        return int(round(v))
    return float(v)


def _mutate(value: Any, dist: BaseDistribution, rng: np.random.Generator) -> Any:
    """``value`` moved a little inside ``dist``: a choice kept with chance :data:`KEEP` (else
    drawn uniformly), a log-scaled number times ``exp(N(0, LOG_STEP))``, another number moved
    by ``N(0, LINEAR_STEP)`` of its range; clipped into the range, on its grid."""
    if isinstance(dist, CategoricalDistribution):
        keep = value in dist.choices and rng.random() < KEEP
        return value if keep else _uniform(dist, rng)
    assert isinstance(dist, (FloatDistribution, IntDistribution))
    if dist.log:
        moved = math.exp(math.log(value) + LOG_STEP * rng.standard_normal())
    else:
        moved = value + LINEAR_STEP * (dist.high - dist.low) * rng.standard_normal()
    return _fit(moved, dist)


def _uniform(dist: BaseDistribution, rng: np.random.Generator) -> Any:
    """A uniform draw over ``dist``: every choice and every point of a grid with the same
    chance, log-uniform where the distribution is log-scaled."""
    if isinstance(dist, CategoricalDistribution):
        return dist.choices[int(rng.integers(len(dist.choices)))]
    assert isinstance(dist, (FloatDistribution, IntDistribution))
    low, high = dist.low, dist.high
    if dist.log:
        if isinstance(
            dist, IntDistribution
        ):  # each integer gets its log-width, as Optuna's RandomSampler
            value = math.exp(rng.uniform(math.log(low - 0.5), math.log(high + 0.5)))
            return int(min(max(round(value), low), high))
        return float(min(max(math.exp(rng.uniform(math.log(low), math.log(high))), low), high))
    step = dist.step
    if step is None:
        return float(rng.uniform(low, high))
    k = int(rng.integers(int(round((high - low) / step)) + 1))
    value = min(low + k * step, high)
    return int(value) if isinstance(dist, IntDistribution) else float(value)
