"""One unit everywhere: an examples study evaluates, reports and prunes in examples."""

from __future__ import annotations

from conftest import tiny_study
import optuna

from optuna_clr import IterationsToTarget
from optuna_clr.schedules import BatchSizeIncrease
from optuna_clr.schedules import StepDecay
from optuna_clr.study.studyfile import StudyFile


def examples_objective(**kwargs) -> IterationsToTarget:
    return IterationsToTarget(
        task="digits",
        model="mlp",
        batch_size=32,
        target_accuracy=0.999,
        max_iterations=300,
        max_examples=32 * 300,
        eval_every=5,
        device="cpu",
        unit="examples",
        **kwargs,
    )


def reported_steps(objective: IterationsToTarget, schedule) -> list[int]:
    """The steps one schedule's run reports to a trial, through the objective's own path."""
    study = optuna.create_study(direction="minimize")
    trial = study.ask()
    job = objective.begin(trial)
    job.schedule = schedule
    objective.run(schedule, callback=job.on_eval, max_iterations=job.max_iterations)
    return sorted(study.trials[0].intermediate_values)


def test_batch_growth_and_step_decay_are_evaluated_at_the_same_example_counts():
    from optuna_clr.search.space import ScheduleSpace

    objective = examples_objective()
    objective.space = ScheduleSpace(families=["fixed"], iterations_per_epoch=36)
    # batch 32 until 1,600 examples, then 96 (288 would pass the cap, so the LR drops at the
    # next milestone): steps of 96 rarely land on the 160-example grid, yet the trial is
    # evaluated at each grid point it crosses
    growth = BatchSizeIncrease(
        lr=0.05, batch_size=32, max_batch_size=150, milestones=(1600, 4800), factor=3.0
    )
    assert growth.batch_size(60) == 96 and growth.batch_size(100) == 96
    step = StepDecay(lr=0.05, gamma=0.2, milestones=(50, 150))
    grid = list(range(160, 32 * 300 + 1, 160))
    assert reported_steps(objective, step) == grid
    assert reported_steps(objective, growth) == grid


def test_hyperband_and_median_count_in_the_studys_unit():
    text = tiny_study("units", n_trials=2, max_iterations=300, eval_every=10).replace(
        'device = "cpu"', 'device = "cpu"\nunit = "examples"'
    )
    sf = StudyFile.parse(text.replace("seed = 0", 'seed = 0\npruner = "target+hyperband"'))
    assert sf.report_grid() == (320, 9600)  # 10 updates of 32 between reports, 300 updates of 32
    hyperband = sf.make_pruner().wrapped
    # Optuna's HyperbandPruner has no public reader of its resources
    assert (hyperband._min_resource, hyperband._max_resource) == (960, 9600)
    median = StudyFile.parse(
        text.replace("seed = 0", 'seed = 0\npruner = "target+median"')
    ).make_pruner()
    assert median.wrapped._n_warmup_steps == 960
    iterations = StudyFile.parse(
        tiny_study("units", n_trials=2, max_iterations=300, eval_every=10)
    )
    assert iterations.report_grid() == (10, 300)


def test_a_trials_value_is_the_experiments_value_of_the_same_run():
    # the comparison retrains with the experiment: its values must be the tuning trials' values
    from optuna_clr.search.space import ScheduleSpace

    objective = examples_objective()
    objective.experiment.config = objective.config.__class__(
        **{**objective.config.__dict__, "target_accuracy": 0.965}
    )
    objective.space = ScheduleSpace(families=["fixed"], iterations_per_epoch=36)
    growth = BatchSizeIncrease(
        lr=0.05, batch_size=32, max_batch_size=300, milestones=(1600, 4800), factor=3.0
    )
    study = optuna.create_study(direction="minimize")
    trial = study.ask()
    job = objective.begin(trial)
    job.schedule = growth
    result = objective.run(growth, callback=job.on_eval, max_iterations=job.max_iterations)
    value = objective.end(job, result)
    assert result.reached and value % 160 == 0  # on the grid
    assert (
        value
        == objective.experiment.value(objective.experiment.run(growth))
        != result.examples_to_target
    )


def test_a_batch_larger_than_the_grid_is_refused_when_the_file_loads():
    import pytest

    from optuna_clr.study.studyfile import StudyFileError

    text = (
        tiny_study("units", n_trials=2, max_iterations=300, eval_every=2)
        .replace('device = "cpu"', 'device = "cpu"\nunit = "examples"')
        .replace(
            '[space]\nfamilies = ["fixed", "triangular2"]',
            '[space]\nfamilies = ["fixed", "batch_growth"]\nmax_batch_size = 100',
        )
    )
    with pytest.raises(
        StudyFileError, match="max_batch_size: 100 is more than the 64 examples between"
    ):
        StudyFile.parse(text)
    StudyFile.parse(text.replace("max_batch_size = 100", "max_batch_size = 64"))
