"""Schedule families and their bounds as an Optuna search space.

``family`` is categorical; every family's parameters are conditional on it. Parameters that
mean the same thing in several families share one name and one distribution, so TPE
(``multivariate=True, group=True``) learns from all of them; the rest carry the family's
prefix. (GPSampler models only the parameters every trial has, here ``family`` alone, so it
gets little from a space of several families.) The names, as optuna-dashboard shows them:

====================================  ===========================================================
parameter                             used by
====================================  ===========================================================
``family``                            every trial
``lr``                                fixed, step, exp, inv, batch_growth (the initial LR)
``max_lr``                            triangular, triangular2, exp_range, linear_decay, cosine,
                                      one_cycle (the peak LR)
``base_lr_ratio``                     base_lr / max_lr of triangular, triangular2, exp_range,
                                      linear_decay, and min_lr / max_lr of cosine
``step_size_epochs``                  half a cycle of the triangular families; linear_decay's
                                      length
``exp_range.half_life_epochs``        epochs for exp_range's amplitude to halve (sets gamma)
``step.interval_epochs``,             a milestone every interval, LR times gamma there
``step.gamma``
``exp.half_life_epochs``              epochs for the LR to halve (sets gamma)
``inv.half_life_epochs``,             1/t decay: LR halved (power 1) after the half life
``inv.power``
``cosine.period_epochs``,             SGDR's first period and its growth
``cosine.period_mult``
``one_cycle.length_epochs``,          1cycle's length and warm-up fraction
``one_cycle.pct_start``
``batch_growth.interval_epochs``      a batch-size increase (or LR decay, once the batch is at
                                      its maximum) every interval
====================================  ===========================================================

Bounds are never rejected after the fact: the cyclical families draw ``max_lr`` and a ratio
``base_lr_ratio < 1``, so ``base_lr < max_lr`` holds by construction (Smith suggests a base
of 1/3 to 1/4 of the max). Epoch-valued parameters are turned into steps with
``iterations_per_epoch``.

Example:

    .. testcode::

        import optuna
        import optuna_clr

        space = optuna_clr.ScheduleSpace(
            families=["fixed", "triangular", "triangular2", "exp_range"],
            lr=(1e-4, 0.1), iterations_per_epoch=450,
        )
        study = optuna.create_study()
        trial = study.ask()
        schedule = space.suggest(trial)   # e.g. Triangular2(0.0021, 0.0068, step_size=1856)
"""

from __future__ import annotations

from collections.abc import Callable
import math
from typing import Any
from typing import cast
from typing import TYPE_CHECKING

import optuna

from optuna_clr import records
from optuna_clr import schedules as S


if TYPE_CHECKING:
    from optuna_clr.search.range_test import RangeTestResult


CYCLICAL = ("triangular", "triangular2", "exp_range")
"""Smith's CLR families: a ``max_lr``, a ``base_lr_ratio`` and a half cycle of
``step_size_epochs``."""
RATIO_BOUNDS = (0.02, 0.9)
"""Where :meth:`ScheduleSpace.narrow` keeps ``base_lr_ratio``: below 1/50 the base is
effectively zero, above 0.9 the cycle barely moves the LR."""
DEFAULT_FAMILIES = ("fixed", "triangular", "triangular2", "exp_range")
FAMILY_PARAMS: dict[str, tuple[str, ...]] = {
    "fixed": ("lr",),
    "step": ("lr", "step.interval_epochs", "step.gamma"),
    "exp": ("lr", "exp.half_life_epochs"),
    "inv": ("lr", "inv.half_life_epochs", "inv.power"),
    "linear_decay": ("max_lr", "base_lr_ratio", "step_size_epochs"),
    "triangular": ("max_lr", "base_lr_ratio", "step_size_epochs"),
    "triangular2": ("max_lr", "base_lr_ratio", "step_size_epochs"),
    "exp_range": ("max_lr", "base_lr_ratio", "step_size_epochs", "exp_range.half_life_epochs"),
    "cosine": ("max_lr", "base_lr_ratio", "cosine.period_epochs", "cosine.period_mult"),
    "one_cycle": ("max_lr", "one_cycle.length_epochs", "one_cycle.pct_start"),
    "batch_growth": ("lr", "batch_growth.interval_epochs"),
}


def _range(
    name: str, value: Any, *, positive: bool = True, below_one: bool = False
) -> tuple[float, float]:
    try:
        low, high = (float(v) for v in value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a (low, high) pair, got {value!r}") from None
    if not (math.isfinite(low) and math.isfinite(high)):
        raise ValueError(f"{name} must be finite, got {value!r}")
    if low > high:
        raise ValueError(f"{name}: low {low} > high {high}; give (low, high) with low <= high")
    if positive and low <= 0:
        raise ValueError(f"{name}: values must be > 0, got low={low}")
    if below_one and high >= 1:
        raise ValueError(f"{name}: values must be < 1, got high={high}")
    return low, high


def _within(narrowed: tuple[float, float], user: tuple[float, float]) -> tuple[float, float]:
    """``narrowed`` cut to the user's range; the user's range when they do not overlap (the
    test says nothing about the LRs the user allows, so all of them stay)."""
    low, high = max(narrowed[0], user[0]), min(narrowed[1], user[1])
    return (low, high) if low <= high else user


def _ratio_range(ratio: float, margin: float) -> tuple[float, float]:
    """``[ratio / margin, ratio * margin]`` inside :data:`RATIO_BOUNDS`, never empty: the
    ratio is clamped into the bounds first, so the range always contains it (a single point
    for ``margin=1``) instead of collapsing or flipping near the bounds."""
    low, high = RATIO_BOUNDS
    centre = min(max(ratio, low), high)
    return max(low, centre / margin), min(high, centre * margin)


class ScheduleSpace:
    """The schedules a study searches over.

    Args:
        families: schedule families to search (see :data:`optuna_clr.schedules.FAMILIES`).
        lr: range of the LR of fixed and decaying schedules (log scale).
        max_lr: range of the peak LR of cyclical schedules (log scale); default: ``lr``.
        base_lr_ratio: range of base_lr / max_lr for the cyclical families.
        step_size_epochs: half-cycle length range in epochs (Smith: 2 to 10).
        iterations_per_epoch: updates per epoch at the study's batch size.
        decay_epochs: range for the decays' intervals and half lives, in epochs.
        max_iterations: the training budget; needed by ``step`` and ``batch_growth``, whose
            milestones are laid out up to it.
        batch_size, max_batch_size, growth_factor: ``batch_growth``'s starting batch, its cap
            (Smith et al. keep it <= a tenth of the training set) and the factor per milestone.
        end_at_cycle_end: train cyclical schedules to the last cycle end within the budget
            (Smith: stop when the LR is at its minimum) instead of the full budget.
    """

    def __init__(
        self,
        *,
        families: Any = DEFAULT_FAMILIES,
        lr: tuple[float, float] = (1e-4, 1.0),
        max_lr: tuple[float, float] | None = None,
        base_lr_ratio: tuple[float, float] = (0.1, 0.5),
        step_size_epochs: tuple[float, float] = (2.0, 10.0),
        iterations_per_epoch: int,
        decay_epochs: tuple[float, float] = (2.0, 50.0),
        max_iterations: int | None = None,
        batch_size: int | None = None,
        max_batch_size: int | None = None,
        growth_factor: float = 5.0,
        end_at_cycle_end: bool = False,
    ) -> None:
        families = [families] if isinstance(families, str) else list(families)
        if not families:
            raise ValueError("families must name at least one schedule family")
        for i, family in enumerate(families):
            if family not in FAMILY_PARAMS:
                raise ValueError(
                    f"families[{i}]: unknown family {family!r}; "
                    f"choose from {sorted(FAMILY_PARAMS)}"
                )
        if len(set(families)) != len(families):
            raise ValueError(f"families lists a family twice: {families}")
        if not isinstance(iterations_per_epoch, int) or iterations_per_epoch < 1:
            raise ValueError(
                f"iterations_per_epoch must be an integer >= 1, got {iterations_per_epoch!r}"
            )
        self.families = tuple(families)
        self.lr = _range("lr", lr)
        self.max_lr = _range("max_lr", max_lr if max_lr is not None else lr)
        self.base_lr_ratio = _range("base_lr_ratio", base_lr_ratio, below_one=True)
        self.step_size_epochs = _range("step_size_epochs", step_size_epochs)
        self.decay_epochs = _range("decay_epochs", decay_epochs)
        self.iterations_per_epoch = iterations_per_epoch
        self.max_iterations = max_iterations
        self.batch_size = batch_size
        self.max_batch_size = max_batch_size
        self.growth_factor = float(growth_factor)
        self.end_at_cycle_end = bool(end_at_cycle_end)
        if max_iterations is not None and (
            not isinstance(max_iterations, int) or max_iterations < 1
        ):
            raise ValueError(f"max_iterations must be an integer >= 1, got {max_iterations!r}")
        if {"step", "batch_growth"} & set(self.families) and max_iterations is None:
            raise ValueError(
                "the step and batch_growth families need max_iterations to lay out their "
                "milestones"
            )
        if "batch_growth" in self.families:
            if batch_size is None or max_batch_size is None:
                raise ValueError("the batch_growth family needs batch_size and max_batch_size")
            if max_batch_size < batch_size:
                raise ValueError(f"max_batch_size {max_batch_size} < batch_size {batch_size}")
        self.distributions = self._distributions()

    # --- the distributions, one per parameter name, fixed for the study ---

    def _distributions(self) -> dict[str, optuna.distributions.BaseDistribution]:
        F = optuna.distributions.FloatDistribution
        C = optuna.distributions.CategoricalDistribution
        lo, hi = self.step_size_epochs
        d_lo, d_hi = self.decay_epochs
        all_dists: dict[str, optuna.distributions.BaseDistribution] = {
            "family": C(self.families),
            "lr": F(*self.lr, log=True),
            "max_lr": F(*self.max_lr, log=True),
            "base_lr_ratio": F(*self.base_lr_ratio),
            "step_size_epochs": F(lo, hi),
            "exp_range.half_life_epochs": F(d_lo, d_hi, log=True),
            "step.interval_epochs": F(d_lo, d_hi),
            "step.gamma": F(0.05, 0.5, log=True),
            "exp.half_life_epochs": F(d_lo, d_hi, log=True),
            "inv.half_life_epochs": F(d_lo, d_hi, log=True),
            "inv.power": F(0.5, 1.0),
            "cosine.period_epochs": F(2 * lo, 2 * hi),
            "cosine.period_mult": C((1, 2)),
            "one_cycle.length_epochs": F(2 * lo, max(2 * hi, 4 * lo)),
            "one_cycle.pct_start": F(0.1, 0.45),
            "batch_growth.interval_epochs": F(d_lo, d_hi),
        }
        used = {"family"} | {p for f in self.families for p in FAMILY_PARAMS[f]}
        return {name: dist for name, dist in all_dists.items() if name in used}

    def _steps(self, epochs: float) -> int:
        return max(1, round(epochs * self.iterations_per_epoch))

    def suggest(self, trial: optuna.Trial) -> S.Schedule:
        """Draw a schedule for ``trial`` (its family first, then that family's parameters) and
        record it as the trial's ``schedule`` user attr (its ``to_dict()``)."""
        d = self.distributions

        def p(name: str) -> Any:
            dist: Any = d[name]
            if isinstance(dist, optuna.distributions.CategoricalDistribution):
                return trial.suggest_categorical(name, dist.choices)
            return trial.suggest_float(name, dist.low, dist.high, log=dist.log)

        family = p("family")
        schedule = self.build(family, {name: p(name) for name in FAMILY_PARAMS[family]})
        # the exact schedule, for reports and the cycle-aware pruner; its short form to read
        records.save_schedule(trial, schedule.to_dict())
        trial.set_user_attr("schedule", schedule.label())
        return schedule

    def build(self, family: str, params: dict[str, Any]) -> S.Schedule:
        """The schedule that a trial with ``family`` and ``params`` (the names above) trains."""
        g: Callable[[str], Any] = params.get
        ipe = self.iterations_per_epoch
        if family == "fixed":
            return S.Fixed(lr=g("lr"))
        if family in (*CYCLICAL, "linear_decay"):
            top = g("max_lr")
            base = top * g("base_lr_ratio")
            steps = self._steps(g("step_size_epochs"))
            if family == "linear_decay":
                return S.LinearDecay(max_lr=top, base_lr=base, step_size=steps)
            if family == "exp_range":
                gamma = 0.5 ** (1.0 / (g("exp_range.half_life_epochs") * ipe))
                return S.ExpRange(base_lr=base, max_lr=top, step_size=steps, gamma=gamma)
            cyclical: Any = S.FAMILIES[family]  # Triangular, Triangular2
            return cyclical(base_lr=base, max_lr=top, step_size=steps)
        if family == "step":
            interval = self._steps(g("step.interval_epochs"))
            return S.StepDecay(lr=g("lr"), gamma=g("step.gamma"), step_size=interval)
        if family == "exp":
            return S.ExponentialDecay(
                lr=g("lr"), gamma=0.5 ** (1.0 / (g("exp.half_life_epochs") * ipe))
            )
        if family == "inv":
            power = g("inv.power")
            # (1 + gamma * t) ** -power = 1/2 at t = half life
            gamma = (2 ** (1 / power) - 1) / (g("inv.half_life_epochs") * ipe)
            return S.InverseTimeDecay(lr=g("lr"), gamma=gamma, power=power)
        if family == "cosine":
            top = g("max_lr")
            return S.CosineRestarts(
                max_lr=top,
                min_lr=top * g("base_lr_ratio"),
                period=self._steps(g("cosine.period_epochs")),
                period_mult=int(g("cosine.period_mult")),
            )
        if family == "one_cycle":
            return S.OneCycle(
                max_lr=g("max_lr"),
                total_steps=max(10, self._steps(g("one_cycle.length_epochs"))),
                pct_start=float(g("one_cycle.pct_start")),
            )
        if family == "batch_growth":
            epoch_size = ipe * self.batch_size  # type: ignore[operator]
            interval = g("batch_growth.interval_epochs") * epoch_size
            horizon = self.max_iterations * self.max_batch_size  # type: ignore[operator]
            milestones = [round(k * interval) for k in range(1, 1 + int(horizon // interval))] or [
                round(interval)
            ]
            return S.BatchSizeIncrease(
                lr=g("lr"),
                batch_size=self.batch_size,  # type: ignore[arg-type]
                max_batch_size=self.max_batch_size,  # type: ignore[arg-type]
                milestones=milestones,
                factor=self.growth_factor,
            )
        raise ValueError(f"unknown family {family!r}")

    # --- narrowing by the range test, persistence ---

    def narrow(self, result: RangeTestResult, *, margin: float = 2.0) -> ScheduleSpace:
        """A new space whose LR bounds come from an LR range test, inside this space's.

        ``max_lr`` (cyclical peaks) spans ``[max_lr / margin, max_lr * margin]``, ``lr`` (fixed
        and decays) spans ``[base_lr, max_lr]`` around the suggested best fixed LR, and
        ``base_lr_ratio`` spans ``[ratio / margin, ratio * margin]`` around the tested
        ``base_lr / max_lr`` (the tested ratio brought into :data:`RATIO_BOUNDS` first); every
        bound stays inside the range the test covered; ``margin=1`` pins ``max_lr`` and
        ``base_lr_ratio`` to the tested values. Every range is then cut to this space's: the
        user's bounds are a hard limit, and where a narrowed range misses this space's
        entirely, this space's range stays (:meth:`outside` says so in one line).

        Raises ``ValueError`` when the test gave no clear bounds (``result.clear`` is False):
        an unclear test may still carry values, e.g. a ``max_lr`` that is only a lower bound
        because the accuracy was still improving at the end of the test, and narrowing on it
        would cut the search off below the LRs that matter.
        """
        if margin < 1:
            raise ValueError(f"margin must be >= 1, got {margin}")
        if not result.clear or None in (result.base_lr, result.best_lr, result.max_lr):
            raise ValueError(
                "the range test gave no clear bounds to narrow the space with "
                f"({result.message}); "
                "rerun it as its message says (a wider LR range, or longer), or do not narrow: "
                "set the LR ranges by hand ([range_test] narrow = false in a study file)"
            )
        base_lr, best_max = cast(float, result.base_lr), cast(float, result.max_lr)  # clear
        tested_low = max(result.settings["min_lr"], best_max * 1e-3)
        tested_high = result.settings["max_lr"]
        max_lr = (
            max(tested_low, best_max / margin),
            min(tested_high, best_max * margin),
        )
        lr = (max(tested_low, base_lr), best_max)
        ratio = _ratio_range(base_lr / best_max, margin)
        return self.replace(
            lr=_within(lr, self.lr),
            max_lr=_within(max_lr, self.max_lr),
            base_lr_ratio=_within(ratio, self.base_lr_ratio),
        )

    def outside(self, result: RangeTestResult) -> str | None:
        """One line saying where a range test's ``best_lr`` or ``max_lr`` lies outside this
        space's ranges (the LR ranges its families use), or None when neither does.

        The search never leaves the space's ranges (:meth:`narrow` keeps inside them, and the
        prior sampler truncates its prior to them), so a test that points elsewhere is a
        reason to check the ranges, or the test's settings.
        """
        checks = []
        if any("lr" in FAMILY_PARAMS[f] for f in self.families):
            checks.append(("best_lr", result.best_lr, "lr", self.lr))
        if any("max_lr" in FAMILY_PARAMS[f] for f in self.families):
            checks.append(("max_lr", result.max_lr, "max_lr", self.max_lr))
        out = [
            f"{key} {value:.4g} {'below' if value < low else 'above'} {name} "
            f"[{low:.4g}, {high:.4g}]"
            for key, value, name, (low, high) in checks
            if value is not None and not low <= value <= high
        ]
        if not out:
            return None
        return (
            f"the range test points outside the study's ranges ({'; '.join(out)}); the search "
            "stays inside them: widen the ranges if the test is right, or rerun the test"
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "families": list(self.families),
            "lr": list(self.lr),
            "max_lr": list(self.max_lr),
            "base_lr_ratio": list(self.base_lr_ratio),
            "step_size_epochs": list(self.step_size_epochs),
            "iterations_per_epoch": self.iterations_per_epoch,
            "decay_epochs": list(self.decay_epochs),
            "max_iterations": self.max_iterations,
            "batch_size": self.batch_size,
            "max_batch_size": self.max_batch_size,
            "growth_factor": self.growth_factor,
            "end_at_cycle_end": self.end_at_cycle_end,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> ScheduleSpace:
        return cls(**d)

    def replace(self, **changes: Any) -> ScheduleSpace:
        return type(self).from_dict({**self.to_dict(), **changes})

    def __repr__(self) -> str:
        return f"ScheduleSpace({', '.join(f'{k}={v!r}' for k, v in self.to_dict().items())})"
