"""The LR range test as a prior: a distribution over the LR parameters of a schedule.

A range test says where the good learning rates are; :class:`RangeTestPrior` turns its
``base_lr``, ``best_lr`` and ``max_lr`` into independent log-normal beliefs about the
parameters of :class:`~optuna_clr.ScheduleSpace` that carry an LR:

================  ==============================  ===========================================
parameter         centre                          width (one standard deviation, as a factor)
================  ==============================  ===========================================
``lr``            ``best_lr``                     the seeds' spread of ``best_lr``
``max_lr``        ``max_lr``                      the seeds' spread of ``max_lr``
``base_lr_ratio`` ``base_lr / max_lr``            the seeds' spread of their ratio
================  ==============================  ===========================================

The width is ``max(width, spread)``: a factor of at least ``width`` (default 1.5), wider when a
test run with ``repeats > 1`` shows that its seeds disagree by more. Every draw is truncated to
the parameter's range by inverting the normal CDF over that range, so a centre outside the
range gives draws piled up just inside its nearer end, never one repeated value.

Example:

    .. testcode::

        import numpy as np
        import optuna
        import optuna_clr

        bounds = {"base_lr": 0.02, "best_lr": 0.06, "max_lr": 0.2}   # or a RangeTestResult
        prior = optuna_clr.RangeTestPrior.from_result(bounds)
        dist = optuna.distributions.FloatDistribution(1e-3, 1.0, log=True)
        print(prior.sample("max_lr", dist, np.random.default_rng(0)))   # near 0.2
"""

from __future__ import annotations

from collections.abc import Mapping
import math
import statistics
import sys
from typing import Any

import numpy as np
from optuna.distributions import BaseDistribution
from optuna.distributions import FloatDistribution


SUGGESTIONS = ("base_lr", "best_lr", "max_lr")
_NORMAL = statistics.NormalDist()
_LOG_SQRT_2PI = 0.5 * math.log(2 * math.pi)


class RangeTestPrior:
    """Log-normal beliefs about ``lr``, ``max_lr`` and ``base_lr_ratio``; see the module.

    Args:
        base_lr, best_lr, max_lr: the range test's bounds, finite,
            ``0 < base_lr <= best_lr <= max_lr`` and ``base_lr < max_lr``, with
            ``base_lr / max_lr`` a normal float (at least ``sys.float_info.min``, about
            2.2e-308): the prior centres ``base_lr_ratio`` on the log of that ratio.
        sigma: per parameter name, the standard deviation of its log.

    Raises:
        ValueError: an LR that is not a finite number > 0, ``base_lr >= max_lr``, a
            ``base_lr / max_lr`` that underflows (to 0 or a subnormal float), ``best_lr``
            outside ``[base_lr, max_lr]``, or a ``sigma`` that is not finite and > 0.
    """

    def __init__(
        self, *, base_lr: float, best_lr: float, max_lr: float, sigma: Mapping[str, float]
    ) -> None:
        _check_bounds(base_lr=base_lr, best_lr=best_lr, max_lr=max_lr)
        self.base_lr, self.best_lr, self.max_lr = float(base_lr), float(best_lr), float(max_lr)
        self.centres = {
            "lr": self.best_lr,
            "max_lr": self.max_lr,
            "base_lr_ratio": self.base_lr / self.max_lr,
        }
        self.sigma = {name: float(sigma[name]) for name in self.centres}
        for name, s in self.sigma.items():
            if not (math.isfinite(s) and s > 0):
                raise ValueError(f"the prior's sigma for {name} must be finite and > 0, got {s!r}")

    @classmethod
    def from_result(cls, result: Any, *, width: float | None = None) -> RangeTestPrior:
        """The prior of a :class:`~optuna_clr.RangeTestResult` (clear ones only) or of a mapping
        with ``base_lr``, ``best_lr`` and ``max_lr``.

        ``width`` (> 1) is the smallest factor one standard deviation spans; default 1.5. A
        result with ``repeats > 1`` widens each parameter to its seeds' spread (the standard
        deviation of their logs) where that is wider.
        """
        if width is not None and not (math.isfinite(width) and width > 1):
            raise ValueError(f"width must be a finite factor > 1, got {width=}")
        values = prior_values(result)
        floor = math.log(1.5 if width is None else width)
        seeds = _seed_values(result)
        ratios = [b / m for b, m in zip(seeds["base_lr"], seeds["max_lr"]) if b and m]
        spread = {
            "lr": _log_std(seeds["best_lr"]),
            "max_lr": _log_std(seeds["max_lr"]),
            "base_lr_ratio": _log_std(ratios),
        }
        return cls(**values, sigma={name: max(floor, s) for name, s in spread.items()})

    def covers(self, name: str, dist: BaseDistribution) -> bool:
        """Whether the prior has a belief about ``name`` (a float parameter it centres)."""
        return name in self.centres and isinstance(dist, FloatDistribution) and dist.low > 0

    def _bounds(self, name: str, dist: FloatDistribution) -> tuple[float, float, float, float]:
        mu, s = math.log(self.centres[name]), self.sigma[name]
        return mu, s, (math.log(dist.low) - mu) / s, (math.log(dist.high) - mu) / s

    def sample(self, name: str, dist: FloatDistribution, rng: np.random.Generator) -> float:
        """A draw of ``name`` from the prior truncated to ``dist`` (on its step, if it has one)."""
        mu, s, a, b = self._bounds(name, dist)
        value = math.exp(mu + s * _truncated_normal(a, b, float(rng.random())))
        value = min(max(value, dist.low), dist.high)
        if dist.step is not None:
            value = min(dist.low + round((value - dist.low) / dist.step) * dist.step, dist.high)
        return float(value)

    def log_ratio(
        self, params: Mapping[str, Any], distributions: Mapping[str, BaseDistribution]
    ) -> float:
        """log(prior density / uniform density) of a trial's parameters, over those the prior
        covers (both densities in log LR, so they compare); 0 when it covers none."""
        total = 0.0
        for name, value in params.items():
            dist = distributions.get(name)
            if not isinstance(dist, FloatDistribution) or not self.covers(name, dist):
                continue
            if dist.low == dist.high:
                continue
            mu, s, a, b = self._bounds(name, dist)
            z = (math.log(value) - mu) / s
            log_prior = -0.5 * z * z - _LOG_SQRT_2PI - math.log(s) - _log_mass(a, b)
            if dist.log:
                log_uniform = -math.log(math.log(dist.high / dist.low))
            else:  # uniform in x is density x / (high - low) in log x
                log_uniform = math.log(value) - math.log(dist.high - dist.low)
            total += log_prior - log_uniform
        return total


def _check_bounds(*, base_lr: Any, best_lr: Any, max_lr: Any) -> None:
    """Refuse bounds the prior's math cannot take (see :class:`RangeTestPrior`)."""
    for name, value in (("base_lr", base_lr), ("best_lr", best_lr), ("max_lr", max_lr)):
        if not (
            isinstance(value, (int, float))
            and not isinstance(value, bool)
            and math.isfinite(value)
            and value > 0
        ):
            raise ValueError(
                f"the prior's {name} must be a finite number > 0, got {name}={value!r}"
            )
    if not base_lr < max_lr:
        raise ValueError(f"the prior needs base_lr < max_lr, got {base_lr=}, {max_lr=}")
    ratio = base_lr / max_lr
    if not ratio >= sys.float_info.min:  # its log centres base_lr_ratio: log(0) has no value
        raise ValueError(
            "the prior's base_lr / max_lr must be a normal float (at least "
            f"{sys.float_info.min:.3g}), so that its log is finite; got {base_lr=}, "
            f"{max_lr=} (a ratio of {ratio!r}): give the range test's bounds in the LR's units"
        )
    if not base_lr <= best_lr <= max_lr:
        raise ValueError(
            f"the prior's best_lr must lie in [base_lr, max_lr], got {best_lr=}, {base_lr=}, "
            f"{max_lr=}"
        )


def prior_values(prior: Any) -> dict[str, float]:
    """``base_lr``, ``best_lr`` and ``max_lr`` of ``prior``; a range test result must be clear.

    An unclear result may still carry values (a test that was still improving at its end
    keeps a ``max_lr`` that is only a lower bound); a prior centred on them would steer the
    search below the LRs that matter, so it is refused rather than trusted.
    """
    if hasattr(prior, "suggestions"):
        if not prior.clear:
            raise ValueError(
                f"the range test gave no clear bounds for a prior ({prior.message}); rerun it as "
                "its message says, give the bounds yourself as {'base_lr': ..., 'best_lr': ..., "
                "'max_lr': ...}, or use another sampler"
            )
        values = prior.suggestions()
    elif isinstance(prior, Mapping):
        values = dict(prior)
    else:
        raise TypeError(
            "prior must be a RangeTestResult or a mapping with base_lr, best_lr, max_lr; "
            f"got {prior!r}"
        )
    missing = [k for k in SUGGESTIONS if values.get(k) is None]
    if missing:
        raise ValueError(
            f"the prior has no {', '.join(missing)}: give all three bounds as numbers"
        )
    for k in SUGGESTIONS:
        if not isinstance(values[k], (int, float)) or isinstance(values[k], bool):
            raise ValueError(f"the prior's {k} must be a number, got {k}={values[k]!r}")
    return {k: float(values[k]) for k in SUGGESTIONS}


def _seed_values(result: Any) -> dict[str, list[float | None]]:
    spread = getattr(result, "spread", None) or {}
    return {k: list((spread.get(k) or {}).get("values") or []) for k in SUGGESTIONS}


def _log_std(values: list[Any]) -> float:
    logs = [
        math.log(v) for v in values if isinstance(v, (int, float)) and v > 0 and math.isfinite(v)
    ]
    return statistics.stdev(logs) if len(logs) > 1 else 0.0


def _truncated_normal(a: float, b: float, u: float) -> float:
    """The ``u`` quantile of a standard normal truncated to ``[a, b]``, by inverting its CDF.

    Draws from the nearer tail are taken through the mirror image, where the CDF keeps its
    precision; beyond about 37 standard deviations, where it underflows, the tail is an
    exponential with rate ``|a|`` (Mills' ratio), truncated to the interval.
    """
    if a > 0:
        return -_truncated_normal(-b, -a, 1.0 - u)
    if b - a < 1e-12:
        return a
    lo, hi = _NORMAL.cdf(a), _NORMAL.cdf(b)
    if hi - lo < 1e-300:  # [a, b] far in the left tail (b < -37)
        rate, width = -b, b - a
        return b - (-math.log1p(-u * -math.expm1(-rate * width)) / rate)
    p = min(max(lo + u * (hi - lo), 1e-300), math.nextafter(1.0, 0.0))
    return min(max(_NORMAL.inv_cdf(p), a), b)


def _log_mass(a: float, b: float) -> float:
    """log(Phi(b) - Phi(a)), kept finite far in the tails."""
    if a > 0:
        return _log_mass(-b, -a)
    mass = _NORMAL.cdf(b) - _NORMAL.cdf(a)
    if mass > 1e-280:
        return math.log(mass)
    return -0.5 * b * b - _LOG_SQRT_2PI - math.log(-b)  # Mills' ratio for b << 0
