"""The stop rules every engine shares, and the :class:`TrainResult` they produce.

A run (one trial) is stepped by an engine: :func:`optuna_clr.training.engine.train` steps one
model, :func:`optuna_clr.training.fused.train_fused` steps many stacked in one. How they step
differs; what happens at an evaluation does not, and lives here once: the divergence check on the
losses since the last evaluation, the curve, the callback, the stop rules (target reached, the
callback asked, the example, time or iteration budget spent) and the result. So both engines
count the same iterations to target by construction.

Example:

    .. testcode::

        import torch
        from optuna_clr.training.engine_core import RunState
        from optuna_clr.schedules import Fixed
        from optuna_clr.training.settings import TrainConfig

        run = RunState(TrainConfig(max_iterations=20, target_accuracy=0.9), Fixed(0.1))
        for _ in range(10):
            run.advance(batch=100)
        losses = torch.full((10,), 0.5)
        if not run.diverged(losses):
            print(run.evaluate(losses, accuracy=0.95, seconds=1.0))   # target
        print(run.result(test_accuracy=None, train_size=1000).iterations_to_target)  # 10
"""

from __future__ import annotations

from collections.abc import Callable
import dataclasses
from typing import Any
from typing import NamedTuple

import torch

from optuna_clr.schedules import Schedule
from optuna_clr.training.settings import TrainConfig


STOP_REASONS = ("target", "max_iterations", "max_examples", "max_seconds", "diverged", "callback")
UNTESTED = ("diverged", "callback")  # stops after which the test split is not measured


class Evaluation(NamedTuple):
    """What the loop knows at an evaluation; the callback receives one."""

    step: int  # updates done (iterations)
    accuracy: float | None  # validation accuracy (None when validation is off)
    loss: float  # mean training loss over the updates since the last evaluation
    lr: float  # LR of the last update
    examples: int  # training examples seen
    seconds: float  # wall seconds since the run started


@dataclasses.dataclass
class TrainResult:
    """The outcome of one run. ``iterations_to_target`` is None when the target was not reached."""

    reached: bool
    iterations_to_target: int | None
    examples_to_target: int | None
    seconds_to_target: float | None
    best_accuracy: float
    final_accuracy: float
    test_accuracy: float | None  # None when the run diverged or its callback stopped it (pruned)
    iterations: int
    examples_seen: int
    epochs: float
    seconds: float
    stop_reason: str
    diverged_at: int | None
    curve: list[Evaluation]

    def to_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        d["curve"] = {k: [getattr(e, k) for e in self.curve] for k in Evaluation._fields}
        return d


def first_non_finite(losses: torch.Tensor) -> int | None:
    """Index of the first NaN or infinite value in a (host) vector of losses, or None."""
    bad = (~torch.isfinite(losses)).nonzero()
    return int(bad[0]) if len(bad) else None


class RunState:
    """One run's counters, curve and stop rules, whichever engine steps it.

    Args:
        config: the run's settings (target, budgets).
        schedule: the run's schedule (its LR is recorded at each evaluation).
        budget: the run's update budget (default ``config.max_iterations``).
        callback: called at every evaluation; True stops the run (``"callback"``).
    """

    def __init__(
        self,
        config: TrainConfig,
        schedule: Schedule,
        *,
        budget: int | None = None,
        callback: Callable[[Evaluation], bool | None] | None = None,
    ) -> None:
        self.config, self.schedule, self.callback = config, schedule, callback
        self.budget = budget or config.max_iterations
        self.step = self.examples = 0
        self.curve: list[Evaluation] = []
        self.best = self.last = 0.0
        self.reached_at: tuple[int, int, float] | None = None
        self.stop_reason: str | None = None
        self.diverged_at: int | None = None
        self._next_eval = config.eval_grid  # an examples grid's next evaluated count

    def advance(self, batch: int) -> None:
        """One update of ``batch`` examples done."""
        self.step += 1
        self.examples += batch

    def due(self) -> bool:
        """Whether an evaluation is due after this update: on the study's grid (every
        ``eval_every`` updates, or the first update at or past each multiple of ``eval_every
        * batch_size`` examples on an examples grid), and always when a budget is spent."""
        if self.step >= self.budget or self.over_examples:
            return True
        grid = self.config.eval_grid
        if grid is None:
            return self.step % self.config.eval_every == 0
        if self.examples < self._next_eval:  # type: ignore[operator]
            return False
        self._next_eval = (self.examples // grid + 1) * grid
        return True

    @property
    def over_examples(self) -> bool:
        """The example budget is spent (an evaluation is due now)."""
        limit = self.config.max_examples
        return limit is not None and self.examples >= limit

    @property
    def tested(self) -> bool:
        """Whether the stopped run's test accuracy is measured."""
        return self.stop_reason not in UNTESTED

    def diverged(self, losses: torch.Tensor) -> bool:
        """Whether a loss since the last evaluation is NaN or infinite (then the run stops,
        ``"diverged"``, at the exact step; no accuracy is measured).

        Args:
            losses: the (host) training losses of the updates since the last evaluation.
        """
        bad = first_non_finite(losses)
        if bad is None:
            return False
        self.diverged_at = self.step - len(losses) + bad
        self._stop("diverged")
        return True

    def evaluate(self, losses: torch.Tensor, accuracy: float | None, seconds: float) -> str | None:
        """An evaluation of a run that has not diverged: its stop reason, or None to go on.

        Args:
            losses: the (host) training losses of the updates since the last evaluation.
            accuracy: the validation accuracy now (None when validation is off).
            seconds: wall seconds since the run started.
        """
        ev = Evaluation(
            self.step,
            accuracy,
            float(losses.mean()),
            self.schedule.lr(self.step - 1),
            self.examples,
            seconds,
        )
        self.curve.append(ev)
        if accuracy is not None:
            self.last, self.best = accuracy, max(self.best, accuracy)
        stop = bool(self.callback(ev)) if self.callback is not None else False
        target = self.config.target_accuracy
        if accuracy is not None and target is not None and accuracy >= target:
            self.reached_at = (self.step, self.examples, seconds)
            return self._stop("target")
        if stop:
            return self._stop("callback")
        if self.over_examples:
            return self._stop("max_examples")
        if self.config.max_seconds is not None and seconds >= self.config.max_seconds:
            return self._stop("max_seconds")
        if self.step >= self.budget:
            return self._stop("max_iterations")
        return None

    def _stop(self, reason: str) -> str:
        self.stop_reason = reason
        return reason

    def result(
        self, *, test_accuracy: float | None, train_size: int, seconds: float = 0.0
    ) -> TrainResult:
        """The stopped run's :class:`TrainResult` (``seconds``: its whole wall time)."""
        reached = self.reached_at
        return TrainResult(
            reached=reached is not None,
            iterations_to_target=reached[0] if reached else None,
            examples_to_target=reached[1] if reached else None,
            seconds_to_target=reached[2] if reached else None,
            best_accuracy=self.best,
            final_accuracy=self.last,
            test_accuracy=test_accuracy,
            iterations=self.step,
            examples_seen=self.examples,
            epochs=self.examples / train_size,
            seconds=seconds,
            stop_reason=self.stop_reason or "max_iterations",
            diverged_at=self.diverged_at,
            curve=self.curve,
        )


def reported_value(budget: float, target_accuracy: float, accuracy: float) -> float:
    """What a trial reports at an evaluation with validation ``accuracy``:
    ``budget * (1 + target_accuracy - accuracy)``, in the objective's unit.

    Above ``budget`` while the target is not reached, so a pruned trial ranks below every trial
    that reached it; affine and increasing in the error ``1 - accuracy``, so a pruner that
    compares reports (medians, percentiles, ranks) decides as it would on the error. With a
    budget of 1,000 and a 0.95 target: 0.90 reports 1,050, 0.50 reports 1,450, 0.96 reports 990.
    """
    return budget * (1.0 + target_accuracy - accuracy)


def reported_accuracy(budget: float, target_accuracy: float, value: float) -> float:
    """The validation accuracy behind a :func:`reported_value`."""
    return 1.0 + target_accuracy - value / budget


def censored_value(budget: float, target_accuracy: float, best_accuracy: float) -> float:
    """The value of a trial that did not reach the target within ``budget``:
    ``budget * (1 + target_accuracy - best_accuracy)``.

    It is larger than ``budget`` (so larger than any reached trial's value) and shrinks as the
    best accuracy approaches the target: with a budget of 1,000 iterations and a 0.95 target,
    a trial that peaked at 0.90 scores 1,050 and one that peaked at 0.50 scores 1,450.
    """
    if best_accuracy >= target_accuracy:
        raise ValueError(
            f"best_accuracy {best_accuracy} reached the target {target_accuracy}: not censored"
        )
    return reported_value(budget, target_accuracy, best_accuracy)
