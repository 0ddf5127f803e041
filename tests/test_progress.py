"""Progress bars: a run's bar shows no estimate against its budget; the trials bar names the
best value's unit; the range test has a bar too."""

from __future__ import annotations

import re

import optuna
import pytest

import optuna_clr
from optuna_clr.study.runner import optimize


def _objective(**kw):
    space = optuna_clr.ScheduleSpace(
        families=["fixed"], lr=(0.03, 0.3), iterations_per_epoch=35, max_iterations=300
    )
    return optuna_clr.IterationsToTarget(
        task="digits",
        model="mlp",
        batch_size=32,
        target_accuracy=0.9,
        max_iterations=300,
        eval_every=10,
        device="cpu",
        space=space,
        **kw,
    )


@pytest.mark.parametrize("parallel", [1, 2])
def test_the_bars_show_the_best_with_its_unit_and_no_estimate_against_the_budget(parallel, capsys):
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    objective = _objective(show_progress_bar=parallel == 1)
    optimize(study, objective, n_trials=3, parallel=parallel, show_progress_bar=True)
    screen = re.split(r"[\r\n]", capsys.readouterr().err)
    best = study.best_trial
    assert any(
        "3/3" in line
        and line.rstrip().endswith(f"best {best.value:,.0f} iterations (trial {best.number})]")
        for line in screen
    ), screen
    runs = [line for line in screen if "of at most 300 it [" in line]
    assert runs or parallel > 1, screen  # the stacked trials have the study bar only
    assert all("<" not in line for line in runs), runs  # no time left counted to the budget


def test_the_range_test_has_a_bar_over_every_seed(capsys):
    optuna_clr.lr_range_test(
        task="digits",
        model="mlp",
        min_lr=0.0,
        max_lr=0.5,
        steps=40,
        repeats=2,
        device="cpu",
        show_progress_bar=True,
    )
    screen = re.split(r"[\r\n]", capsys.readouterr().err)
    assert any(
        re.match(r"range test: 80 of at most 80 it \[.*acc 0\.\d{4}, lr ", line) for line in screen
    ), screen
