"""What a trial tells optuna-dashboard while it runs: its note, its schedule's figure, and the
study's metric name.

:func:`name_metric` names a study's value ("iterations to 0.97 validation accuracy") so every
plot says what it counts; :func:`save_trial_note` says a trial's schedule and outcome in words;
:func:`plot_schedule` draws a schedule (the figure each trial uploads). optuna-dashboard is
needed for notes only: without it they are skipped.
"""

from __future__ import annotations

from types import ModuleType
from typing import cast
from typing import Protocol
from typing import TYPE_CHECKING
import warnings

import optuna


if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from optuna_clr.schedules import Schedule
    from optuna_clr.training.engine_core import TrainResult


class _Counts(Protocol):
    """What :func:`name_metric` reads from an objective (an ``IterationsToTarget``)."""

    unit: str
    target_accuracy: float


def metric_name(unit: str, target_accuracy: float) -> str:
    """What a study's value counts: ``"iterations to 0.97 validation accuracy"``."""
    return f"{unit} to {target_accuracy:g} validation accuracy"


def name_metric(study: optuna.Study, objective: _Counts) -> None:
    """Name ``study``'s objective value after ``objective``'s unit and target, so
    optuna-dashboard's plots say what they count instead of "Objective 0"."""
    name = metric_name(objective.unit, objective.target_accuracy)
    if study.metric_names != [name]:
        with warnings.catch_warnings():  # experimental since Optuna 3.2, and what we need
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            study.set_metric_names([name])


def schedule_in_words(
    schedule: Schedule, *, iterations_per_epoch: int, steps: int | None = None
) -> str:
    """The schedule as a person says it: ``"triangular 0.0238 to 0.0931, half cycle 264
    iterations (7.5 epochs)"``, ``"fixed 0.0576"``, and a decay over the ``steps`` trained,
    ``"step 0.0488 to 0.00279 over 1,500 iterations"``."""

    def epochs(steps: int) -> str:
        return f"{steps:,} iterations ({steps / iterations_per_epoch:.1f} epochs)"

    d = schedule.to_dict()
    if schedule.family == "fixed":
        return f"fixed {d['lr']:.3g}"
    if schedule.cycles and "base_lr" in d and "step_size" in d:
        return (
            f"{schedule.family} {d['base_lr']:.3g} to {d['max_lr']:.3g}, "
            f"half cycle {epochs(d['step_size'])}"
        )
    if schedule.cycles:
        length = schedule.next_cycle_end(0) or 1
        lrs = [schedule.lr(x) for x in range(0, length, max(1, length // 500))]
        return f"{schedule.family} {min(lrs):.3g} to {max(lrs):.3g}, cycle {epochs(length)}"
    if not steps:
        return schedule.label()
    words = (
        f"{schedule.family} {schedule.lr(0):.3g} to {schedule.lr(steps - 1):.3g} over {steps:,}"
    )
    if schedule.moves_batch_size:
        words += f", batch {schedule.batch_size(0)} to {schedule.batch_size(steps - 1)}"
    return words + " iterations"


def trial_summary(
    schedule: Schedule, result: TrainResult, *, target_accuracy: float, iterations_per_epoch: int
) -> str:
    """A trial in one line: its schedule in words, its outcome and, for a cyclical schedule,
    the cycles it completed (``"...; reached 0.97 at 110; 0.4 cycles completed"``)."""
    if result.reached:
        outcome = f"reached {target_accuracy:g} at {result.iterations_to_target:,}"
    elif result.stop_reason == "diverged":
        outcome = f"diverged at iteration {result.diverged_at:,}"
    elif result.stop_reason == "callback":
        outcome = (
            f"pruned at {result.iterations:,} iterations "
            f"(best accuracy {result.best_accuracy:.4f})"
        )
    else:
        outcome = (
            f"did not reach {target_accuracy:g} in {result.iterations:,} iterations "
            f"(best {result.best_accuracy:.4f})"
        )
    words = [
        schedule_in_words(
            schedule, iterations_per_epoch=iterations_per_epoch, steps=result.iterations
        ),
        outcome,
    ]
    if result.test_accuracy is not None:
        words.append(f"test accuracy {result.test_accuracy:.4f}")
    cycles = schedule.cycles_completed(result.iterations)
    if cycles is not None:
        words.append(f"{cycles:.2f} cycles completed")
    trained = result.iterations_to_target if result.reached else result.iterations
    effective = schedule.effective(cast(int, trained))
    if effective is not schedule:
        words.append(f"in effect {effective.label()}: its LR never changed")
    return "; ".join(words)


def optuna_dashboard() -> ModuleType | None:
    """The ``optuna_dashboard`` module, or None where it is not installed.

    Imported quietly: where BoTorch is installed, optuna-dashboard imports it (for its
    preferential GP sampler), and gpytorch's ``torch.jit.script`` then warns on the terminal
    of every run that writes a note.
    """
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings(
                "ignore", message=r"`torch\.jit\.script` is deprecated", category=FutureWarning
            )
            import optuna_dashboard as module
    except ModuleNotFoundError:
        return None
    return module


def save_trial_note(
    trial: optuna.Trial,
    schedule: Schedule,
    result: TrainResult,
    *,
    target_accuracy: float,
    iterations_per_epoch: int,
) -> None:
    """The trial's note in optuna-dashboard: :func:`trial_summary` and its parameters."""
    dashboard = optuna_dashboard()
    if dashboard is None:
        return
    line = trial_summary(
        schedule,
        result,
        target_accuracy=target_accuracy,
        iterations_per_epoch=iterations_per_epoch,
    )
    dashboard.save_note(trial, f"## Trial {trial.number}\n\n`{schedule.label()}`\n\n{line}\n")


def plot_schedule(schedule: Schedule, steps: int, *, title: str | None = None) -> Figure:
    """The LR of ``schedule`` over ``steps`` updates, and its batch size where it moves.

    .. testcode::

        from optuna_clr.study.notes import plot_schedule
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
            xs,
            [cast(int, schedule.batch_size(s)) for s in xs],
            where="post",
            color="tab:orange",
            lw=1.4,
        )
        ax2.set_ylabel("batch size", color="tab:orange")
        ax2.set_yscale("log")
    ax.set_title(title or schedule.label(), fontsize=8)
    return fig
