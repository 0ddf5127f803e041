"""A sampler that starts from the LR range test.

Optuna's samplers cannot take a user's prior: TPE's prior is flat over each range. The range
test knows where the good LRs are; :class:`RangeTestPriorSampler` uses that:

1. its first trials are Smith's recipe: ``triangular2`` between the tested ``base_lr`` and
   ``max_lr`` with a step of about 4 epochs, then a fixed LR at the tested ``best_lr``
   (a recipe is skipped when its family is not in the space). A trial enqueued with a
   ``family`` gets that family's recipe if it is still to come, else draws from the prior;
   either way it takes no other trial's recipe;
2. up to ``n_startup_trials``, trials draw from the prior: log-normal around the suggested
   bounds for ``lr`` (at ``best_lr``), ``max_lr`` and ``base_lr_ratio``, truncated to the
   space, and uniform for everything else;
3. after that, the base sampler (multivariate TPE by default) takes over, with the startup
   trials as its first observations.

Which trials are recipe or prior trials follows from the trial numbers and the families fixed
by ``enqueue_trial`` (both in the storage from a trial's creation on), so it holds with several
workers on one storage and in studies that are resumed. Each such trial records its origin in
the user attr ``sampler``.

Example:

    .. testcode::

        import optuna
        import optuna_clr

        prior = {"base_lr": 0.02, "best_lr": 0.06, "max_lr": 0.2}   # or a RangeTestResult
        sampler = optuna_clr.RangeTestPriorSampler(prior, n_startup_trials=8, seed=0)
        space = optuna_clr.ScheduleSpace(families=["fixed", "triangular2"], lr=(1e-3, 1.0),
                                         iterations_per_epoch=35)
        study = optuna.create_study(sampler=sampler)
        trial = study.ask()
        print(space.suggest(trial))   # Triangular2(base_lr=0.02, max_lr=0.2, step_size=140)
"""

from __future__ import annotations

from collections.abc import Mapping
import math
from typing import Any
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


USER_ATTR = "sampler"


class RangeTestPriorSampler(BaseSampler):
    """Smith's recipe, then draws from the range-test prior, then ``base_sampler``.

    Args:
        prior: a :class:`~optuna_clr.RangeTestResult` with clear bounds (``clear`` True;
            ``ValueError`` otherwise), or a mapping with ``base_lr``, ``best_lr`` and ``max_lr``.
        base_sampler: the sampler after the startup trials; default
            ``TPESampler(multivariate=True, group=True, seed=seed)``.
        n_startup_trials: trials (recipes included) drawn before the base sampler takes over.
        seed: seed for the prior draws (and the default base sampler).
        recipe_step_size_epochs: the recipe's triangular2 half cycle, in epochs (Smith: 2-10,
            4 in his CIFAR-10 runs).
        width: the prior's spread: one standard deviation is a factor ``width`` in LR.
        recipes: set False to skip Smith's recipe and only draw from the prior.
    """

    def __init__(
        self,
        prior: Any,
        *,
        base_sampler: BaseSampler | None = None,
        n_startup_trials: int = 10,
        seed: int | None = None,
        recipe_step_size_epochs: float = 4.0,
        width: float = 1.5,
        recipes: bool = True,
    ) -> None:
        values = _prior_values(prior)
        self.base_lr, self.best_lr, self.max_lr = (values[k] for k in ("base_lr", "best_lr", "max_lr"))
        if not 0 < self.base_lr < self.max_lr:
            raise ValueError(f"the prior needs 0 < base_lr < max_lr, got base_lr={self.base_lr}, max_lr={self.max_lr}")
        if n_startup_trials < 0:
            raise ValueError(f"n_startup_trials must be >= 0, got {n_startup_trials}")
        if width <= 1:
            raise ValueError(f"width must be > 1, got {width}")
        self.n_startup_trials = n_startup_trials
        self.width = width
        self._entropy = seed if seed is not None else int(np.random.SeedSequence().entropy % (2**32))
        self.base_sampler = base_sampler or default_tpe(seed=seed)
        ratio = self.base_lr / self.max_lr
        self.recipes: list[dict[str, Any]] = []
        if recipes:
            self.recipes = [
                {"family": "triangular2", "max_lr": self.max_lr, "base_lr_ratio": ratio,
                 "step_size_epochs": recipe_step_size_epochs},
                {"family": "fixed", "lr": self.best_lr},
            ]
        self.centres = {"lr": self.best_lr, "max_lr": self.max_lr, "base_lr_ratio": ratio}

    # --- which trials are ours ---

    def _startup(self, trial: FrozenTrial) -> bool:
        return trial.number < self.n_startup_trials

    def _recipe(
        self, study: optuna.Study, trial: FrozenTrial, family: BaseDistribution | None
    ) -> dict[str, Any] | None:
        """The recipe of ``trial``, derived from the storage, so every worker agrees.

        The recipes whose family the space offers go out in order to the startup trials, by
        trial number; a trial whose family ``enqueue_trial`` fixed takes the first recipe left
        of that family, or none. Nothing is remembered between calls: the trial numbers and the
        fixed families are in the storage from a trial's creation on.
        """
        if not self._startup(trial) or not isinstance(family, CategoricalDistribution):
            return None
        left = [r for r in self.recipes if r["family"] in family.choices]
        # The storage, not ``study``: Hyperband hands a sampler a study filtered to one bracket.
        earlier = [t for t in study._storage.get_all_trials(study._study_id, deepcopy=False) if t.number < trial.number]
        for t in sorted(earlier, key=lambda t: t.number):
            if not left:
                return None
            _take(left, _fixed_family(t))
        return _take(left, _fixed_family(trial))

    # --- BaseSampler ---

    def infer_relative_search_space(self, study: optuna.Study, trial: FrozenTrial) -> dict[str, BaseDistribution]:
        if self._startup(trial):
            return {}
        return self.base_sampler.infer_relative_search_space(study, trial)

    def sample_relative(
        self, study: optuna.Study, trial: FrozenTrial, search_space: dict[str, BaseDistribution]
    ) -> dict[str, Any]:
        if self._startup(trial):
            return {}
        return self.base_sampler.sample_relative(study, trial, search_space)

    def sample_independent(
        self, study: optuna.Study, trial: FrozenTrial, param_name: str, param_distribution: BaseDistribution
    ) -> Any:
        if not self._startup(trial):
            return self.base_sampler.sample_independent(study, trial, param_name, param_distribution)
        rng = np.random.default_rng([self._entropy, trial.number, zlib.crc32(param_name.encode())])
        # The family is drawn first; a one-choice family never reaches the sampler, but is in
        # the trial's distributions by then.
        family = param_distribution if param_name == "family" else trial.distributions.get("family")
        recipe = self._recipe(study, trial, family)
        if recipe is not None and param_name != "family" and trial.params.get("family") != recipe["family"]:
            recipe = None  # the trial trains another family: the recipe's values would not mean the same
        self._note(study, trial, "range-test prior" if recipe is None else f"Smith's recipe: {recipe['family']}")
        value = None if recipe is None else _fit(recipe.get(param_name), param_distribution)
        if value is not None:
            return value
        if param_name in self.centres and isinstance(param_distribution, FloatDistribution):
            return self._around(self.centres[param_name], param_distribution, rng)
        return _uniform(param_distribution, rng)

    def before_trial(self, study: optuna.Study, trial: FrozenTrial) -> None:
        self.base_sampler.before_trial(study, trial)

    def after_trial(
        self, study: optuna.Study, trial: FrozenTrial, state: TrialState, values: list[float] | None
    ) -> None:
        self.base_sampler.after_trial(study, trial, state, values)

    def reseed_rng(self) -> None:
        self._entropy = int(np.random.SeedSequence().entropy % (2**32))
        self.base_sampler.reseed_rng()

    # --- helpers ---

    def _around(self, centre: float, dist: FloatDistribution, rng: np.random.Generator) -> float:
        """Log-normal around ``centre`` (sd: a factor ``width``), truncated to the distribution."""
        sigma = math.log(self.width)
        for _ in range(100):
            value = centre * math.exp(rng.normal(0.0, sigma))
            if dist.low <= value <= dist.high:
                break
        else:
            value = min(max(centre, dist.low), dist.high)
        return _fit(value, dist)  # type: ignore[return-value]

    @staticmethod
    def _note(study: optuna.Study, trial: FrozenTrial, origin: str) -> None:
        if trial.user_attrs.get(USER_ATTR) != origin:
            trial.user_attrs[USER_ATTR] = origin
            study._storage.set_trial_user_attr(trial._trial_id, USER_ATTR, origin)


def _prior_values(prior: Any) -> dict[str, float]:
    """``base_lr``, ``best_lr`` and ``max_lr`` of ``prior``; a range test result must be clear.

    An unclear result may still carry values (a test that was still improving at its end
    keeps a ``max_lr`` that is only a lower bound); a prior centred on them would steer the
    search below the LRs that matter, so it is refused rather than trusted.
    """
    if hasattr(prior, "suggestions"):
        if not prior.clear:
            raise ValueError(
                f"the range test gave no clear bounds for a prior ({prior.message}); rerun it as its message says, "
                "give the bounds yourself as {'base_lr': ..., 'best_lr': ..., 'max_lr': ...}, or use another sampler"
            )
        values = prior.suggestions()
    elif isinstance(prior, Mapping):
        values = dict(prior)
    else:
        raise TypeError(f"prior must be a RangeTestResult or a mapping with base_lr, best_lr, max_lr; got {prior!r}")
    missing = [k for k in ("base_lr", "best_lr", "max_lr") if values.get(k) is None]
    if missing:
        raise ValueError(f"the prior has no {', '.join(missing)}: give all three bounds as numbers")
    return {k: float(values[k]) for k in ("base_lr", "best_lr", "max_lr")}


def _fixed_family(trial: FrozenTrial) -> Any:
    """The family ``enqueue_trial`` fixed for ``trial``, or None when the sampler draws it."""
    return trial.system_attrs.get("fixed_params", {}).get("family")


def _take(left: list[dict[str, Any]], family: Any) -> dict[str, Any] | None:
    """Remove and return the recipe a trial gets from ``left``: the first one, or for a fixed
    ``family`` the first of that family (None if there is none)."""
    for i, recipe in enumerate(left):
        if family is None or recipe["family"] == family:
            return left.pop(i)
    return None


def default_tpe(*, seed: int | None = None, constant_liar: bool = False) -> optuna.samplers.TPESampler:
    """Multivariate TPE with group decomposition: the family's conditional parameters form
    groups, which plain multivariate TPE cannot model."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        return optuna.samplers.TPESampler(multivariate=True, group=True, seed=seed, constant_liar=constant_liar)


def _fit(value: Any, dist: BaseDistribution) -> Any:
    """``value`` as a valid value of ``dist`` (clipped into range, on the grid), or None."""
    if isinstance(dist, CategoricalDistribution):
        return value if value in dist.choices else None
    if not isinstance(value, (int, float)):
        return None
    low, high = dist.low, dist.high  # type: ignore[attr-defined]
    v = min(max(float(value), low), high)
    step = getattr(dist, "step", None)
    if step is not None:
        v = min(low + round((v - low) / step) * step, high)
    if isinstance(dist, IntDistribution):
        return int(round(v))
    return float(v)


def _uniform(dist: BaseDistribution, rng: np.random.Generator) -> Any:
    if isinstance(dist, CategoricalDistribution):
        return dist.choices[int(rng.integers(len(dist.choices)))]
    low, high = dist.low, dist.high  # type: ignore[attr-defined]
    if getattr(dist, "log", False):
        value = math.exp(rng.uniform(math.log(low), math.log(high)))
    else:
        value = rng.uniform(low, high)
    return _fit(value, dist)
