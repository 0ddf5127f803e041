"""Progress bars over a run's iterations and a study's trials, for a terminal.

Both follow the terminal's width as it changes (so they do not wrap into fragments), and the
run bar shows no time estimate: a run stops when it reaches its target, usually long before its
budget, so an estimate counted against the budget would be wrong by that much.

Example:

    .. testcode::

        from optuna_clr.training.engine_core import Evaluation
        from optuna_clr.training import progress

        bar = progress.iterations_bar(2000, "trial 0")
        progress.show(bar, Evaluation(step=80, accuracy=0.97, loss=0.3, lr=0.05, examples=2560,
                                      seconds=0.1))
        bar.close()
"""

from __future__ import annotations

from typing import Any

import optuna
from tqdm.auto import tqdm

from optuna_clr.training.engine_core import Evaluation


def iterations_bar(total: int, label: str) -> Any:
    """A bar over one run's iterations: how many, of at most ``total``, and their rate.

    Args:
        total: the run's budget in iterations.
        label: what the run is (``"trial 3"``, ``"range test"``).

    Returns:
        A ``tqdm`` bar, left off the screen when closed; feed it with :func:`show`.
    """
    return tqdm(
        total=total,
        desc=label,
        unit="it",
        leave=False,
        dynamic_ncols=True,
        bar_format="{desc}: {n_fmt} of at most {total_fmt} it [{elapsed}, {rate_fmt}{postfix}]",
    )


def show(bar: Any, ev: Evaluation, offset: int = 0) -> None:
    """Move ``bar`` to evaluation ``ev`` (``offset`` iterations were run before this run) and
    show its validation accuracy (its training loss where it has none) and LR."""
    bar.update(offset + ev.step - bar.n)
    seen = f"acc {ev.accuracy:.4f}" if ev.accuracy is not None else f"loss {ev.loss:.4g}"
    bar.set_postfix_str(f"{seen}, lr {ev.lr:.3g}")


class TrialsBar:
    """A bar over a study's trials that shows the best value with its unit; an Optuna callback.

    Args:
        total: the trials to run.
        label: what the bar counts (``"trials"``, ``"trials (4 at a time)"``).
    """

    def __init__(self, total: int, label: str = "trials") -> None:
        self.bar = tqdm(total=total, desc=label, unit="trial", dynamic_ncols=True)

    def __call__(self, study: optuna.Study, trial: optuna.trial.FrozenTrial) -> None:
        self.bar.update(1)
        self.bar.set_postfix_str(best_text(study))

    def close(self) -> None:
        self.bar.close()


def best_text(study: optuna.Study) -> str:
    """The study's best so far, in a few words: ``"best 80 iterations (trial 28)"``."""
    try:
        best = study.best_trial
    except ValueError:
        return "no trial completed yet"
    attrs = best.user_attrs
    if not attrs.get("reached", True):
        return f"none reached the target yet (closest {attrs.get('best_accuracy', 0):.4f})"
    unit = attrs.get("unit", "")
    value = f"{best.value:.2f}" if unit == "seconds" else f"{best.value:,.0f}"
    return f"best {value} {unit} (trial {best.number})".replace("  ", " ")
