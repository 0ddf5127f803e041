"""Optuna's own reusable sampler suites, run on RangeTestPriorSampler.

``optuna.testing.pytest_samplers`` arrived in Optuna 5.0; with an older Optuna (CI runs the
oldest supported one too) this file skips, saying so, and tests/test_samplers.py still runs.
"""

from __future__ import annotations

import optuna
import pytest


pytest_samplers = pytest.importorskip(
    "optuna.testing.pytest_samplers",
    reason="Optuna's reusable sampler suites arrived in Optuna 5.0",
)

import optuna_clr  # noqa: E402


BasicSamplerTestCase = pytest_samplers.BasicSamplerTestCase
RelativeSamplerTestCase = pytest_samplers.RelativeSamplerTestCase
PRIOR = {"base_lr": 0.001, "best_lr": 0.003, "max_lr": 0.006}


class TestBasic(BasicSamplerTestCase):
    """Optuna's own suite, on the startup (prior) path and the hand-over."""

    @pytest.fixture
    def sampler(self):
        return lambda: optuna_clr.RangeTestPriorSampler(PRIOR, n_startup_trials=5, seed=0)


class TestRelative(RelativeSamplerTestCase):
    """After the startup trials every relative call goes to the base sampler."""

    @pytest.fixture
    def sampler(self):
        return lambda: optuna_clr.RangeTestPriorSampler(
            PRIOR,
            n_startup_trials=0,
            seed=0,
            base_sampler=optuna.samplers.TPESampler(multivariate=True, n_startup_trials=0, seed=0),
        )
