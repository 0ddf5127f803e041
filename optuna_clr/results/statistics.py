"""Paired intervals for the speed-up of one configuration over another, that hold at small n.

Every configuration of a comparison trains with the same seeds, and a seed fixes the
validation split, the initial weights and the batch order, so a hard seed is hard for every
configuration: the values come in pairs. The speed-up of seed ``i`` is
``fixed[i] / cyclical[i]``; :func:`paired_ratio` gives their geometric mean and a Student-t
interval on their logarithms.

Why this interval: a comparison retrains with a handful of seeds (5 by default). The
percentile bootstrap of 5 pairs has only 126 distinct resamples and its interval is too
narrow (it covers a known ratio 85% of the time at a nominal 95%; see
``tests/test_statistics.py``); the t-interval on log ratios is exact when the log ratios are
normal, and close to nominal when they are not, at any n >= 2. A log ratio is scale-free, so a
seed where both configurations need 2,000 iterations weighs as much as one where both need 90.

Example:

    .. testcode::

        from optuna_clr.results.statistics import paired_ratio

        speedup = paired_ratio([200.0, 410.0, 95.0], [100.0, 190.0, 50.0])
        print(f"{speedup['ratio']:.2f} ({speedup['low']:.2f}-{speedup['high']:.2f})")
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from scipy import stats


METHOD = "t-interval on the log of the per-seed ratios"


def paired_ratio(
    numerator: list[float], denominator: list[float], *, level: float = 0.95
) -> dict[str, Any]:
    """The geometric mean of ``numerator[i] / denominator[i]`` and its paired t-interval.

    Args:
        numerator: one positive value per seed (the fixed LR's iterations to target).
        denominator: one positive value per seed, in the same seed order (the cyclical
            schedule's).
        level: the interval's confidence level.

    Returns:
        A dict with ``ratio`` (the geometric mean), ``low`` and ``high`` (None with fewer
        than two seeds: there is no spread to estimate), ``level``, ``n``, ``method``,
        ``paired`` and ``ratio_of_means`` (``mean(numerator) / mean(denominator)``, for
        reference).
    """
    a, b = np.asarray(numerator, float), np.asarray(denominator, float)
    if a.shape != b.shape or a.ndim != 1 or len(a) == 0:
        raise ValueError(
            f"a paired interval needs one value per seed in each list, "
            f"got {len(a)} and {len(b)} values"
        )
    if not (np.all(a > 0) and np.all(b > 0)):
        raise ValueError(f"values must be positive, got {a.tolist()} and {b.tolist()}")
    if not 0 < level < 1:
        raise ValueError(f"level must be in (0, 1), got {level=}")
    logs = np.log(a / b)
    out: dict[str, Any] = {
        "ratio": math.exp(logs.mean()),
        "low": None,
        "high": None,
        "level": level,
        "n": len(a),
        "method": METHOD,
        "paired": True,
        "ratio_of_means": float(a.mean() / b.mean()),
    }
    if len(a) < 2:
        return out
    half = stats.t.ppf((1 + level) / 2, len(a) - 1) * logs.std(ddof=1) / math.sqrt(len(a))
    return {**out, "low": math.exp(logs.mean() - half), "high": math.exp(logs.mean() + half)}


def verdict(
    speedup: dict[str, Any] | None, *, faster: str = "cyclical", slower: str = "fixed"
) -> str:
    """What the interval says, in a line: who is faster, or that it is inconclusive.

    ``speedup`` is :func:`paired_ratio`'s result for ``slower / faster``.
    """
    if not speedup:
        return f"no verdict: {faster} and {slower} were not both retrained"
    if speedup.get("low") is None:
        return "no verdict: one seed gives no interval; retrain with --seeds 2 or more"
    low, high, level = speedup["low"], speedup["high"], speedup["level"]
    span = f"the {level:.0%} interval {low:.2f}-{high:.2f}"
    if low > 1:
        return f"{faster} faster: {span} lies above 1"
    if high < 1:
        return f"{slower} faster: {span} lies below 1"
    return f"inconclusive: {span} includes 1; more seeds needed"


def log_interval(
    values: list[float], *, level: float = 0.95
) -> tuple[float, float | None, float | None]:
    """The geometric mean of positive ``values`` and its t-interval on their logarithms:
    ``(mean, low, high)``, with ``low`` and ``high`` None for fewer than two values."""
    logs = np.log(np.asarray(values, float))
    mid = math.exp(logs.mean())
    if len(logs) < 2:
        return mid, None, None
    half = stats.t.ppf((1 + level) / 2, len(logs) - 1) * logs.std(ddof=1) / math.sqrt(len(logs))
    return mid, math.exp(logs.mean() - half), math.exp(logs.mean() + half)
