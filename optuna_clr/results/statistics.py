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

Seeds until the answer is known: :class:`SequentialDesign` retrains in rounds (3 seeds, then 2
more at a time) and stops once the interval excludes 1 or lies within a practical margin of it.
Re-checking a plain 95% interval after every round declares a false winner far more often than
5% (``tests/test_statistics.py`` measures it); the design spends the 5% over the looks instead
(Lan and DeMets, 1983, with Pocock's spending function), so a decision at any look is wrong at
most 5% of the time.

Example:

    .. testcode::

        from optuna_clr.results.statistics import paired_ratio

        speedup = paired_ratio([200.0, 410.0, 95.0], [100.0, 190.0, 50.0])
        print(f"{speedup['ratio']:.2f} ({speedup['low']:.2f}-{speedup['high']:.2f})")
"""

from __future__ import annotations

import dataclasses
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
    if "decision" in speedup:  # from a SequentialDesign: its level is one look's share
        return _sequential_verdict(speedup, faster, slower)
    if low > 1:
        return f"{faster} faster: {span} lies above 1"
    if high < 1:
        return f"{slower} faster: {span} lies below 1"
    return f"inconclusive: {span} includes 1; more seeds needed"


def _sequential_verdict(speedup: dict[str, Any], faster: str, slower: str) -> str:
    low, high, n, decision = speedup["low"], speedup["high"], speedup["n"], speedup["decision"]
    level = speedup.get("confidence", 0.95)
    span = f"the {level:.0%} interval {low:.2f}-{high:.2f} (valid under repeated looks) after {n} "
    span += "seeds"
    if decision == "faster":
        return f"{faster} faster: {span} lies above 1"
    if decision == "slower":
        return f"{slower} faster: {span} lies below 1"
    if decision == "equivalent":
        margin = speedup.get("margin", 0.1)
        return f"no practical difference: {span} lies within {margin:.0%} of 1"
    if decision == "undecided" and speedup.get("cap") == "compute":
        return f"undecided: {span} includes 1 at the compute cap; raise [compare] max_compute"
    if decision == "undecided":
        return f"undecided: {span} includes 1 at the cap; raise [compare] max_seeds"
    return f"inconclusive so far: {span} includes 1; more seeds needed"


def paired_p_value(numerator: list[float], denominator: list[float]) -> float | None:
    """The two-sided p-value of the paired t-test that the ratio is 1 (the mean log ratio 0);
    None with fewer than two seeds. Identical ratios give 0 (or 1 when they are all 1)."""
    logs = np.log(np.asarray(numerator, float) / np.asarray(denominator, float))
    if len(logs) < 2:
        return None
    sd = logs.std(ddof=1)
    if sd == 0:
        return 1.0 if logs.mean() == 0 else 0.0
    t = logs.mean() / (sd / math.sqrt(len(logs)))
    return float(2 * stats.t.sf(abs(t), len(logs) - 1))


def holm(p_values: dict[str, float | None], *, alpha: float = 0.05) -> dict[str, bool]:
    """Which hypotheses Holm's step-down procedure rejects (Holm, *Scand. J. Stat.* 6:65,
    1979): the family-wise error over all of them stays at most ``alpha``. A None p-value is
    never rejected and does not count."""
    ranked = sorted((p, k) for k, p in p_values.items() if p is not None)
    rejected = dict.fromkeys(p_values, False)
    for i, (p, k) in enumerate(ranked):
        if p > alpha / (len(ranked) - i):
            break
        rejected[k] = True
    return rejected


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


@dataclasses.dataclass(frozen=True)
class SequentialDesign:
    """Seeds in rounds until the paired speed-up is decided, with intervals valid under
    repeated looks.

    The looks are at ``first``, ``first + step``, ... seeds, up to ``max_seeds``. The look at
    ``n`` seeds uses the t-interval of :func:`paired_ratio` at level ``1 - a(n)``, where ``a(n)``
    is what the alpha-spending function ``A(t) = alpha * ln(1 + (e - 1) t)`` (Pocock's shape;
    Lan and DeMets, *Biometrika* 70:659, 1983) spends between the previous look and this one,
    at information fraction ``t = n / max_seeds``. The spends sum to ``alpha``, so by the union
    bound the chance that any look's interval misses the true ratio is at most ``alpha``,
    however the looks are correlated: a winner declared at any look is wrong at most ``alpha``
    of the time. With one look (``first == max_seeds``) it is the plain t-interval.

    Args:
        first: seeds of the first round (at least 2: one seed has no spread).
        step: seeds added per later round.
        max_seeds: the cap; the last look.
        alpha: the chance of a wrong decision, over all looks.
        margin: a practical margin: an interval inside ``[1 / (1 + margin), 1 + margin]``
            decides "no practical difference"; 0 turns that decision off.
        max_compute: a compute cap (iterations, tuning and retraining together): once the
            comparison has spent it, a look that would ask for more seeds ends undecided. A
            stop for cost, not for the data, so it leaves the intervals valid.

    Example:

        .. testcode::

            from optuna_clr.results.statistics import SequentialDesign

            design = SequentialDesign(first=3, step=2, max_seeds=9)
            print(design.looks())                     # [3, 5, 7, 9]
            print(design.decide([200, 180, 260], [100, 95, 120])["decision"])
    """

    first: int = 3
    step: int = 2
    max_seeds: int = 20
    alpha: float = 0.05
    margin: float = 0.10
    max_compute: float | None = None

    def __post_init__(self) -> None:
        if not 2 <= self.first <= self.max_seeds or self.step < 1:
            raise ValueError(
                f"need 2 <= first <= max_seeds and step >= 1, got first={self.first}, "
                f"step={self.step}, max_seeds={self.max_seeds}"
            )
        if not 0 < self.alpha < 1 or self.margin < 0:
            raise ValueError(f"need 0 < alpha < 1 and margin >= 0, got {self}")

    def looks(self) -> list[int]:
        """The seed counts at which the interval is looked at."""
        return sorted({*range(self.first, self.max_seeds, self.step), self.max_seeds})

    def spent(self, n: int) -> float:
        """The alpha spent at the look with ``n`` seeds (a count between looks, as a resumed
        comparison may have, spends what the next look would)."""
        looks = self.looks()
        here = next((k for k in looks if k >= n), looks[-1])
        before = max([0, *(k for k in looks if k < here)])
        return self._spend(here) - self._spend(before)

    def _spend(self, n: int) -> float:
        return self.alpha * math.log(1 + (math.e - 1) * min(n, self.max_seeds) / self.max_seeds)

    def interval(self, numerator: list[float], denominator: list[float]) -> dict[str, Any]:
        """:func:`paired_ratio` at this look's level, with ``design`` saying how it was made."""
        n = len(numerator)
        out = paired_ratio(numerator, denominator, level=1 - self.spent(n))
        looks = ", ".join(map(str, self.looks()))
        method = f"{METHOD}, at level {out['level']:.4f} of {1 - self.alpha:.0%} spent over "
        method += f"looks at {looks} seeds (Pocock-type alpha spending)"
        out["method"] = method if len(self.looks()) > 1 else METHOD
        return {**out, "confidence": 1 - self.alpha}

    def decide(
        self, numerator: list[float], denominator: list[float], *, compute: float = 0.0
    ) -> dict[str, Any]:
        """The look's interval and what it decides: ``"faster"`` (the denominator's
        configuration: the interval of ``numerator / denominator`` lies above 1), ``"slower"``
        (below 1), ``"equivalent"`` (within the margin), else ``"more seeds"``, or
        ``"undecided"`` at ``max_seeds`` or once ``compute`` (spent so far) reaches
        ``max_compute`` (then ``"cap"`` is ``"compute"``)."""
        out = self.interval(numerator, denominator)
        low, high = out["low"], out["high"]
        if low is None:
            decision = "more seeds"
        elif low > 1:
            decision = "faster"
        elif high < 1:
            decision = "slower"
        elif self.margin and 1 / (1 + self.margin) <= low and high <= 1 + self.margin:
            decision = "equivalent"
        else:
            decision = "undecided" if out["n"] >= self.max_seeds else "more seeds"
        if decision == "more seeds" and self.max_compute and compute >= self.max_compute:
            return {**out, "decision": "undecided", "margin": self.margin, "cap": "compute"}
        return {**out, "decision": decision, "margin": self.margin}
