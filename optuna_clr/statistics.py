"""Paired intervals for the speed-up of one configuration over another.

Every configuration of a comparison trains with the same seeds, and a seed fixes the
validation split, the initial weights and the batch order, so a hard seed is hard for every
configuration: the values come in pairs, and the intervals here resample or model them as
pairs.
"""

from __future__ import annotations

from typing import Any

import numpy as np


def bootstrap_ratio(numerator: list[float], denominator: list[float], *, resamples: int = 10_000,
                    seed: int = 0, level: float = 0.95) -> dict[str, Any]:
    """``mean(numerator) / mean(denominator)`` and its paired percentile bootstrap interval.

    The two lists are one value per seed, in the same seed order: a seed fixes the validation
    split, the initial weights and the batch order for both configurations, so a hard seed is
    hard for both. Resampling seeds jointly keeps that pairing; resampling each list on its
    own would treat them as independent and give a wider, wrong interval. With fewer than two
    seeds there is nothing to resample: ``low`` and ``high`` are None."""
    a, b = np.asarray(numerator, float), np.asarray(denominator, float)
    if a.shape != b.shape or a.ndim != 1 or len(a) == 0:
        raise ValueError(f"a paired bootstrap needs one value per seed in each list, got {len(a)} and {len(b)} values")
    out: dict[str, Any] = {"ratio": float(a.mean() / b.mean()), "low": None, "high": None,
                           "resamples": resamples, "level": level, "paired": True}
    if len(a) < 2:
        return out
    idx = np.random.default_rng(seed).integers(len(a), size=(resamples, len(a)))
    ratios = a[idx].mean(1) / b[idx].mean(1)
    tail = (1 - level) / 2 * 100
    low, high = np.percentile(ratios, [tail, 100 - tail])
    return {**out, "low": float(low), "high": float(high)}

