"""The speed-up's interval holds at the few seeds a comparison retrains with."""

from __future__ import annotations

import numpy as np
import pytest

from optuna_clr.results.statistics import paired_ratio
from optuna_clr.results.statistics import verdict


RATIO, SEEDS, REPS = 1.3, 5, 2000


def synthetic(noise: str, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """REPS comparisons of SEEDS paired seeds with a known speed-up: each seed's difficulty
    varies 20-fold (as digits seeds do: 90 to 2,000 iterations), and fixed needs RATIO times
    the cyclical iterations on each seed, times a noise whose log has median 0."""
    rng = np.random.default_rng(seed)
    cyclical = np.exp(rng.normal(5.0, 1.0, (REPS, SEEDS)))
    if noise == "normal":
        eps = rng.normal(0, 0.3, (REPS, SEEDS))
    else:
        eps = rng.laplace(0, 0.3 / np.sqrt(2), (REPS, SEEDS))
    return RATIO * cyclical * np.exp(eps), cyclical


@pytest.mark.parametrize("noise, most", [("normal", 0.965), ("laplace", 0.985)])
def test_the_interval_covers_a_known_ratio_95_percent_of_the_time_at_5_seeds(noise, most):
    fixed, cyclical = synthetic(noise, seed=1)
    hits = [
        (s := paired_ratio(f, c))["low"] <= RATIO <= s["high"] for f, c in zip(fixed, cyclical)
    ]
    # 2,000 replications: the binomial standard error of a true 95% is 0.5%; exact for normal
    # log ratios, and on the safe side (about 97%) for heavier-tailed ones
    assert 0.935 <= np.mean(hits) <= most, np.mean(hits)


def test_the_percentile_bootstrap_of_5_pairs_under_covers():
    # why paired_ratio is a t-interval: the percentile bootstrap (126 distinct resamples of 5
    # pairs) of the same log ratios is too narrow
    fixed, cyclical = synthetic("normal", seed=1)
    logs = np.log(fixed / cyclical)
    idx = np.random.default_rng(0).integers(SEEDS, size=(1000, SEEDS))
    means = logs[:, idx].mean(axis=2)  # REPS x 1000 resampled means
    low, high = np.percentile(means, [2.5, 97.5], axis=1)
    coverage = np.mean((low <= np.log(RATIO)) & (np.log(RATIO) <= high))
    assert coverage < 0.90, coverage


def test_paired_seeds_give_an_exact_ratio_whatever_the_spread_across_seeds():
    cyclical = [70.0, 900.0, 120.0, 2000.0, 95.0]
    speedup = paired_ratio([2 * v for v in cyclical], cyclical)
    assert speedup["ratio"] == pytest.approx(2.0)
    assert speedup["ratio_of_means"] == pytest.approx(2.0)
    assert speedup["low"] == pytest.approx(2.0) and speedup["high"] == pytest.approx(2.0)
    one = paired_ratio([200.0], [100.0])  # one seed: no spread to estimate
    assert one["ratio"] == pytest.approx(2.0) and one["low"] is None and one["high"] is None
    with pytest.raises(ValueError, match="one value per seed"):
        paired_ratio([1.0, 2.0], [1.0])


def test_the_verdict_says_inconclusive_when_the_interval_holds_1():
    assert verdict({"ratio": 1.28, "low": 0.90, "high": 1.53, "level": 0.95}) == (
        "inconclusive: the 95% interval 0.90-1.53 includes 1; more seeds needed"
    )
    faster = {"ratio": 2, "low": 1.2, "high": 3.1, "level": 0.95}
    slower = {"ratio": 0.5, "low": 0.3, "high": 0.8, "level": 0.95}
    assert verdict(faster).startswith("cyclical faster")
    assert verdict(slower).startswith("fixed faster")
    assert verdict({"ratio": 2, "low": None, "high": None, "level": 0.95}).startswith("no verdict")
