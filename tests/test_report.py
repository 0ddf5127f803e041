"""The comparison report states what the seeds show (issue 31)."""

from __future__ import annotations

import optuna
from optuna.distributions import CategoricalDistribution

from optuna_clr import schedules
from optuna_clr.results.compare import Arm
from optuna_clr.results.compare import Comparison
from optuna_clr.results.compare import SeedRun
from optuna_clr.results.report import against_fixed
from optuna_clr.results.report import arm_table
from optuna_clr.results.report import family_notes
from optuna_clr.results.report import family_rows
from optuna_clr.results.report import headline
from optuna_clr.results.report import study_markdown
from optuna_clr.results.statistics import holm
from optuna_clr.results.statistics import paired_p_value
from optuna_clr.results.statistics import paired_ratio


TRIANGULAR = {"family": "triangular", "base_lr": 0.02, "max_lr": 0.1, "step_size": 200}


def _run(seed: int, reached_at: int | None, budget: int = 2000) -> SeedRun:
    """A seed whose curve crosses 0.95 at ``reached_at`` (None: never, it ran the budget)."""
    end = reached_at or budget
    curve = [
        [float(s), 0.96 if reached_at and s >= reached_at else 0.9] for s in range(10, end + 1, 10)
    ]
    value = float(reached_at) if reached_at else budget * 1.05
    return SeedRun(seed, reached_at is not None, value, end, end * 32, 0.96, None, curve)


def _comparison(cyclical_runs: list[SeedRun]) -> Comparison:
    fixed = Arm(
        "fixed",
        "tuned",
        {"family": "fixed", "lr": 0.06},
        [_run(s, 100 + 10 * s) for s in range(1, 6)],
        trials=20,
        trial_number=5,
    )
    cyclical = Arm("cyclical", "tuned", TRIANGULAR, cyclical_runs, trials=20, trial_number=1)
    comparison = Comparison(
        "demo", "iterations", 0.95, 2000, [1, 2, 3, 4, 5], [fixed, cyclical], None, {}
    )
    comparison.speedup = paired_ratio(fixed.values, cyclical.values)
    return comparison


def test_cycles_count_to_the_target_on_the_seeds_that_reached_it() -> None:
    # seed 3 never reached the target and ran 2,000 iterations: 5 cycles of 400
    runs = [_run(1, 150), _run(2, 150), _run(3, None), _run(4, 160), _run(5, 300)]
    comparison = _comparison(runs)
    cyclical = comparison.arm("cyclical")
    assert cyclical is not None
    assert cyclical.cycles_to_target(0.95) == [150 / 400, 150 / 400, 160 / 400, 300 / 400]
    row = arm_table(comparison)[-1]
    assert "| 0.38-0.75 |" in row and "4/5" in row
    retrained = sum(r.iterations for r in runs)  # tuned here with no tuning iterations recorded
    assert row.endswith(f"| {retrained:,} |")
    text = "\n".join(headline(comparison))
    assert "completed no cycle" in text and "at most 0.75 of a cycle" in text
    assert "4 of 5 seeds reached it" in text


def test_a_winner_that_cycled_before_the_target_gets_no_warning() -> None:
    comparison = _comparison([_run(s, 900) for s in range(1, 6)])
    assert "completed no cycle" not in "\n".join(headline(comparison))
    assert "| 2.25 |" in arm_table(comparison)[-1]


def test_a_schedule_that_does_not_cycle_has_no_cycle_count() -> None:
    comparison = _comparison([_run(s, 900) for s in range(1, 6)])
    fixed = comparison.arm("fixed")
    assert fixed is not None and fixed.cycles_to_target(0.95) is None
    assert arm_table(comparison)[2].split("|")[7].strip() == "-"


def _trial(family_params: dict, value: float, **attrs: object) -> optuna.trial.FrozenTrial:
    schedule = schedules.from_dict(family_params)
    return optuna.trial.create_trial(
        params={"family": schedule.family},
        distributions={"family": CategoricalDistribution(["step", "triangular"])},
        value=value,
        user_attrs={
            "schedule": schedule.to_dict(),
            "reached": True,
            "unit": "iterations",
            "iterations_to_target": int(value),
            "iterations": int(value),
            **attrs,
        },
    )


def test_a_step_decay_that_never_dropped_is_reported_as_the_fixed_lr_it_was() -> None:
    study = optuna.create_study()
    study.add_trial(_trial({"family": "step", "lr": 0.087, "gamma": 0.1, "step_size": 99}, 80))
    study.add_trial(_trial(TRIANGULAR, 130))
    rows = {r["family"]: r for r in family_rows(study)}
    assert set(rows) == {"step*", "triangular"}
    notes = family_notes(study)
    assert notes[0].startswith("2 trials over 2 families (1 to 1 each)")
    assert notes[1:] == [
        "step*: its best trial stopped at 80 iterations, before its LR first changed: "
        "in effect fixed(lr=0.087)."
    ]
    markdown = study_markdown(study, {})
    assert "| step* |" in markdown and "in effect fixed(lr=0.087)" in markdown


def test_every_configuration_is_set_against_the_fixed_lr_with_holm_and_its_compute() -> None:
    comparison = _comparison([_run(s, 60 + 5 * s) for s in range(1, 6)])  # about 2x faster
    fast = [_run(s, 50 + 5 * s) for s in range(1, 6)]
    same = [_run(s, 100 + 10 * s + (5 if s % 2 else -5)) for s in range(1, 6)]
    comparison.arms += [
        Arm("quick", "baseline", TRIANGULAR, fast),
        Arm("alike", "baseline", TRIANGULAR, same),
    ]
    fixed = comparison.arm("fixed")
    comparison.arms[0].tuning_iterations = 4000
    text = "\n".join(against_fixed(comparison))
    assert "**Fastest at the estimate: quick**" in text
    assert "with Holm's correction over 3 configurations" in text
    p = {a.name: paired_p_value(fixed.values, a.values) for a in comparison.arms[1:]}
    rejected = holm(p)
    assert rejected == {"cyclical": True, "quick": True, "alike": False}, p
    assert "- **quick** faster than the fixed LR" in text
    assert "- **alike** not told apart from the fixed LR" in text
    retrain = sum(r.iterations for r in fixed.runs)
    assert f"- fixed: total compute {4000 + retrain:,} iterations" in text
