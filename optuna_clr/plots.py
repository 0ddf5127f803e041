"""Matplotlib figures: schedules, range tests and learning curves.

Figures are built with ``matplotlib.figure.Figure`` directly (no pyplot state), so they work
in threads, on machines with no display, and in tests; save them with ``fig.savefig(path)``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING


if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from optuna_clr.schedules import Schedule


def plot_schedule(schedule: Schedule, steps: int, *, title: str | None = None) -> Figure:
    """The LR of ``schedule`` over ``steps`` updates, and its batch size where it moves.

    .. testcode::

        import optuna_clr

        fig = optuna_clr.plot_schedule(optuna_clr.Triangular2(0.001, 0.006, 2000), 12000)
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
        ax2.step(xs, [schedule.batch_size(s) for s in xs], where="post", color="tab:orange", lw=1.4)
        ax2.set_ylabel("batch size", color="tab:orange")
        ax2.set_yscale("log")
    ax.set_title(title or repr(schedule), fontsize=8)
    return fig
