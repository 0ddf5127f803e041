"""Matplotlib figures: range tests (and schedules, drawn by :mod:`optuna_clr.study.notes`).

Figures are built with ``matplotlib.figure.Figure`` directly (no pyplot state), so they work
in threads, on machines with no display, and in tests; save them with ``fig.savefig(path)``.
The range test's figure is described once in :mod:`optuna_clr.results.figures`, which
optuna-dashboard's plotly rendering of it shares.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from optuna_clr.results.figures import describe_range_test
from optuna_clr.results.figures import render_matplotlib
from optuna_clr.study.notes import plot_schedule as plot_schedule  # re-exported


if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from optuna_clr.search.range_test import RangeTestResult


def plot_range_test(result: RangeTestResult) -> Figure:
    """The range test's curve against the LR (each seed thin, their mean, the smoothed curve
    dashed) with base_lr, best_lr and max_lr marked; the title says how clear the answer is
    (:func:`optuna_clr.results.figures.describe_range_test`, drawn)."""
    return render_matplotlib(describe_range_test(result))
