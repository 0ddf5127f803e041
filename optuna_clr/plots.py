"""Matplotlib figures: schedules, range tests and learning curves.

Figures are built with ``matplotlib.figure.Figure`` directly (no pyplot state), so they work
in threads, on machines with no display, and in tests; save them with ``fig.savefig(path)``.
"""

from __future__ import annotations

import textwrap
from typing import TYPE_CHECKING


if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from optuna_clr.range_test import RangeTestResult
    from optuna_clr.schedules import Schedule


def plot_schedule(schedule: Schedule, steps: int, *, title: str | None = None) -> Figure:
    """The LR of ``schedule`` over ``steps`` updates, and its batch size where it moves.

    .. testcode::

        from optuna_clr.plots import plot_schedule
        from optuna_clr.schedules import Triangular2

        fig = plot_schedule(Triangular2(0.001, 0.006, 2000), 12000)
        fig.savefig("triangular2.png")
    """
    from matplotlib.figure import Figure

    if steps < 1:
        raise ValueError(f"steps must be >= 1, got steps={steps}")
    xs = range(steps)
    fig = Figure(figsize=(6.4, 3.6), layout="constrained")
    ax = fig.add_subplot()
    ax.plot(xs, [schedule.lr(s) for s in xs], color="tab:blue", lw=1.4)
    ax.set_xlabel("iteration (parameter update)")
    ax.set_ylabel("learning rate", color="tab:blue")
    ax.set_ylim(bottom=0)
    ax.grid(alpha=0.3)
    if schedule.moves_batch_size:
        ax2 = ax.twinx()
        ax2.step(
            xs, [schedule.batch_size(s) for s in xs], where="post", color="tab:orange", lw=1.4
        )
        ax2.set_ylabel("batch size", color="tab:orange")
        ax2.set_yscale("log")
    ax.set_title(title or schedule.label(), fontsize=8)
    return fig


def plot_range_test(result: RangeTestResult) -> Figure:
    """The range test's curve against the LR (each seed thin, their mean, the smoothed curve
    dashed) with base_lr, best_lr and max_lr marked; the title says how clear the answer is."""
    from matplotlib.figure import Figure

    metric = result.settings.get("metric", "accuracy")
    fig = Figure(figsize=(6.4, 4.0), layout="constrained")
    ax = fig.add_subplot()
    label = "validation accuracy" if metric == "accuracy" else "training loss"
    for run in result.runs:
        ys = run.accuracies if metric == "accuracy" else run.losses
        ax.plot(run.lrs, ys, color="0.7", lw=0.8)
    ys = result.accuracies if metric == "accuracy" else result.losses
    ax.plot(
        result.lrs,
        ys,
        color="tab:blue",
        lw=1.2,
        label=label if not result.runs else f"{label}, mean of {len(result.runs)} seeds",
    )
    ax.plot(result.lrs, result.smoothed, color="tab:blue", lw=1.5, ls="--", label="smoothed")
    for key, color in (("base_lr", "tab:green"), ("best_lr", "tab:orange"), ("max_lr", "tab:red")):
        value = getattr(result, key)
        if value is not None:
            ax.axvline(value, color=color, lw=1.2, label=f"{key} = {value:.3g}")
    if result.diverged_at_lr is not None:
        ax.axvline(
            result.diverged_at_lr,
            color="black",
            lw=0.8,
            ls=":",
            label=f"diverged at {result.diverged_at_lr:.3g}",
        )
    positive = [lr for lr in result.lrs if lr > 0]
    if positive and max(positive) > 10 * min(positive):  # else the bounds sit in the left 10%
        ax.set_xscale("log")
    ax.set_xlabel("learning rate (log scale)" if ax.get_xscale() == "log" else "learning rate")
    ax.set_ylabel(label)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    s = result.settings
    verdict = f"{'clear' if result.clear else 'NOT CLEAR'}: {result.message}"
    # wrapped to the figure's width: a constrained layout does not wrap a title, it clips it
    ax.set_title(
        f"LR range test: {s.get('task')} / {s.get('model')}, {s.get('mode')} {s.get('min_lr'):g} "
        f"to {s.get('max_lr'):g} over {s.get('steps')} steps\n{textwrap.fill(verdict, 110)}",
        fontsize=7,
    )
    return fig
