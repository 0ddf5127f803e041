"""The speed-up's interval holds at the few seeds a comparison retrains with."""

from __future__ import annotations

import numpy as np
import pytest

from optuna_clr.results.statistics import holm
from optuna_clr.results.statistics import paired_p_value
from optuna_clr.results.statistics import paired_ratio
from optuna_clr.results.statistics import SequentialDesign
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


# --- seeds until the answer is known ---

# The seed noise of the MNIST comparisons in docs/results/*.csv: the standard deviation of the
# per-seed log ratio (fixed / other) is 0.07 to 0.32 over its 8 pairs of arms, 0.21 pooled.
LOG_SD = 0.21
SIMULATIONS = 4000
TOLERANCE = 3 * (0.05 * 0.95 / SIMULATIONS) ** 0.5  # the simulation's own error, 3 standard errors


def _run(design: SequentialDesign, ratio: float, seed: int, *, naive: bool = False):
    """Each simulated comparison's decision and the seeds it took: log ratios drawn normal
    around log(ratio), looked at after every round as ``design`` says (``naive``: each look a
    plain 95% t-interval)."""
    rng = np.random.default_rng(seed)
    logs = rng.normal(np.log(ratio), LOG_SD, size=(SIMULATIONS, design.max_seeds))
    outcomes = []
    for row in np.exp(logs):
        for n in design.looks():
            if naive:
                sp = paired_ratio(list(row[:n]), [1.0] * n)
                decision = "faster" if sp["low"] > 1 else "slower" if sp["high"] < 1 else None
            else:
                decision = design.decide(list(row[:n]), [1.0] * n)["decision"]
                decision = None if decision in ("more seeds", "undecided") else decision
            if decision is not None or n == design.max_seeds:
                outcomes.append((decision, n))
                break
    return outcomes


def test_a_plain_interval_rechecked_every_round_declares_false_winners():
    design = SequentialDesign(first=3, step=2, max_seeds=20, margin=0.0)
    outcomes = _run(design, 1.0, seed=11, naive=True)
    wrong = sum(d in ("faster", "slower") for d, _ in outcomes) / SIMULATIONS
    print(f"plain 95% t-interval, looks at {design.looks()}: {wrong:.1%} false winners")
    assert wrong > 0.05 + TOLERANCE  # about 15%: three times what the 95% promises


@pytest.mark.parametrize("margin", [0.0, 0.10])
def test_the_sequential_design_declares_a_false_winner_at_most_5_percent(margin):
    design = SequentialDesign(first=3, step=2, max_seeds=20, margin=margin)
    outcomes = _run(design, 1.0, seed=12)
    wrong = sum(d in ("faster", "slower") for d, _ in outcomes) / SIMULATIONS
    print(f"sequential, margin {margin:.0%}: {wrong:.1%} false winners")
    assert wrong <= 0.05 + TOLERANCE


def test_the_sequential_design_decides_a_true_speedup_of_1_3():
    design = SequentialDesign(first=3, step=2, max_seeds=20)
    outcomes = _run(design, 1.3, seed=13)
    seeds = sorted(n for _, n in outcomes)
    right = sum(d == "faster" for d, _ in outcomes) / SIMULATIONS
    wrong = sum(d == "slower" for d, _ in outcomes) / SIMULATIONS
    median = seeds[len(seeds) // 2]
    print(f"true 1.3x: faster declared {right:.1%}, slower {wrong:.2%}, median seeds {median}")
    assert right > 0.8 and wrong <= 0.05 and median <= 9


def test_one_look_is_the_plain_interval_and_the_spends_sum_to_alpha():
    values, base = [200.0, 180.0, 260.0, 150.0, 90.0], [100.0, 95.0, 120.0, 160.0, 80.0]
    one = SequentialDesign(first=5, step=2, max_seeds=5).interval(values, base)
    assert (one["low"], one["high"]) == (
        paired_ratio(values, base)["low"],
        paired_ratio(values, base)["high"],
    )
    design = SequentialDesign(first=3, step=2, max_seeds=20)
    assert sum(design.spent(n) for n in design.looks()) == pytest.approx(0.05)
    assert design.spent(4) == design.spent(5)  # a count between looks spends the next look's
    with pytest.raises(ValueError, match="first"):
        SequentialDesign(first=1)


def test_the_paired_p_value_is_the_t_test_on_the_log_ratios():
    from scipy import stats

    fixed, other = [200.0, 180.0, 260.0, 150.0], [100.0, 120.0, 150.0, 160.0]
    expected = stats.ttest_1samp(np.log(np.array(fixed) / np.array(other)), 0.0).pvalue
    assert paired_p_value(fixed, other) == pytest.approx(expected)
    assert paired_p_value([1.0], [2.0]) is None


def test_holm_steps_down_and_stops_at_the_first_kept_hypothesis():
    # 0.01 <= 0.05/3 is rejected; 0.03 > 0.05/2 stops it, so 0.04 is kept too
    assert holm({"a": 0.01, "b": 0.04, "c": 0.03}) == {"a": True, "b": False, "c": False}
    assert holm({"a": 0.01, "b": 0.02, "c": None}) == {"a": True, "b": True, "c": False}


def test_the_compute_cap_ends_a_comparison_undecided_and_says_which_cap():
    from optuna_clr.results.statistics import verdict

    design = SequentialDesign(first=3, step=2, max_seeds=20, max_compute=5000)
    fixed, cyclical = [200.0, 150.0, 260.0], [190.0, 170.0, 240.0]  # far from decided
    assert design.decide(fixed, cyclical, compute=4999)["decision"] == "more seeds"
    capped = design.decide(fixed, cyclical, compute=5000)
    assert (capped["decision"], capped["cap"]) == ("undecided", "compute")
    assert "at the compute cap; raise [compare] max_compute" in verdict(capped)
    decided = design.decide([200.0, 210.0, 190.0], [100.0, 104.0, 96.0], compute=10**6)
    assert decided["decision"] == "faster"  # a cap stops new rounds, it does not undo a decision
