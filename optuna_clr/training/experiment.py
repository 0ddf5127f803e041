"""What to train: a task, a model and a :class:`~optuna_clr.TrainConfig`; one schedule, one seed.

An :class:`Experiment` knows nothing of Optuna. The objective
(:class:`~optuna_clr.IterationsToTarget`) turns its runs into trial reports, the comparison
retrains winners with it on unseen seeds, and the fused engine stacks trials of it; each reads
the same task cache, model and settings from here instead of from the objective.

Example:

    .. testcode::

        import optuna_clr

        experiment = optuna_clr.Experiment(
            task="digits", model="mlp",
            config=optuna_clr.TrainConfig(max_iterations=500, eval_every=10, target_accuracy=0.95,
                                          batch_size=32, device="cpu"))
        result = experiment.run(optuna_clr.schedules.Fixed(0.05), seed=1)
        print(result.iterations_to_target, experiment.value(result))   # the same when reached
"""

from __future__ import annotations

from collections.abc import Callable
import dataclasses
import os
from typing import Any

import torch

from optuna_clr.schedules import Schedule
from optuna_clr.training import models
from optuna_clr.training import progress
from optuna_clr.training import settings
from optuna_clr.training import tasks
from optuna_clr.training.engine import Evaluation
from optuna_clr.training.engine import resolve_device
from optuna_clr.training.engine import train
from optuna_clr.training.engine import TrainConfig
from optuna_clr.training.engine import TrainResult
from optuna_clr.training.engine_core import censored_value
from optuna_clr.training.models import ModelSpec


UNITS = ("iterations", "examples", "seconds")


class OutOfMemory(RuntimeError):
    """A trial ran out of (GPU or host) memory; the message says what to lower."""


def is_out_of_memory(error: BaseException) -> bool:
    """Whether ``error`` is torch running out of device or host memory."""
    if isinstance(error, torch.cuda.OutOfMemoryError):
        return True
    text = str(error).lower()
    return isinstance(error, RuntimeError) and (
        "out of memory" in text or "not enough memory" in text or "can't allocate memory" in text
    )


class Experiment:
    """A task (loaded once per split seed), a model and the training settings.

    Args:
        task: a task name or import path for :func:`optuna_clr.training.tasks.load`, or your own
            :class:`~optuna_clr.training.tasks.Task`.
        model: a registered model name, an import path, or a zero-argument factory.
        config: every setting of a run but the schedule; its ``seed`` is the default seed.
        unit: what a run's value counts: ``"iterations"``, ``"examples"`` or ``"seconds"``.
        data_dir, validation, image_size: as :func:`optuna_clr.training.tasks.load` takes them.
        end_at_cycle_end: cut a cyclical schedule's budget back to its last cycle end.
        show_progress_bar: a tqdm bar over each run's iterations.

    Raises:
        ValueError: an unknown unit, ``"seconds"`` without ``config.max_seconds``, an unknown
            model name or a broken import path (:func:`optuna_clr.training.models.check`), an
            unknown device (:func:`~optuna_clr.training.engine.resolve_device`), or an unknown
            task name; each checked before the data loads.
        TypeError: a model that is a module instance or not callable, or a task that is
            neither a name nor a :class:`~optuna_clr.training.tasks.Task`.
        DataError: the data is missing or does not fit the device (loaded when made).
    """

    def __init__(
        self,
        *,
        task: str | tasks.Task = "digits",
        model: ModelSpec = "mlp",
        config: TrainConfig,
        unit: str = "iterations",
        data_dir: str | os.PathLike | None = None,
        validation: float | int | None = None,
        image_size: int | None = None,
        end_at_cycle_end: bool = False,
        show_progress_bar: bool = False,
    ) -> None:
        if unit not in UNITS:
            raise ValueError(f"unit must be one of {list(UNITS)}, got {unit!r}")
        if unit == "seconds" and config.max_seconds is None:
            raise ValueError(
                "unit='seconds' needs max_seconds, "
                "the time budget a censored trial is measured against"
            )
        models.check(model)  # the arguments first, then the data
        if not isinstance(task, (str, tasks.Task)):
            raise TypeError(
                f"task must be a task name ({list(tasks.NAMES)}), an import path to your "
                f"factory ('mypkg.data:load') or a Task, got {task=}"
            )
        self.model, self.config, self.unit = model, config, unit
        self.data_dir, self.validation, self.image_size = data_dir, validation, image_size
        self.end_at_cycle_end, self.show_progress_bar = end_at_cycle_end, show_progress_bar
        self.device = resolve_device(config.device)
        self._task_spec = task
        self._tasks: dict[int, tasks.Task] = {}
        self.task = self.task_for(
            config.seed
        )  # loads (and checks) the data now, before any training

    @property
    def target_accuracy(self) -> float:
        return self.config.target_accuracy  # type: ignore[return-value]

    @property
    def budget(self) -> float:
        """The budget in the experiment's unit; censored values are measured against it."""
        if self.unit == "examples":
            return self.config.max_examples  # type: ignore[return-value]
        if self.unit == "seconds":
            return self.config.max_seconds  # type: ignore[return-value]
        return self.config.max_iterations

    def task_for(self, seed: int) -> tasks.Task:
        """The task with the validation split of ``seed``, on the training device."""
        if isinstance(self._task_spec, tasks.Task):
            return self._task_spec.to(self.device)
        if seed not in self._tasks:
            task = tasks.load(
                self._task_spec,
                root=self.data_dir,
                validation=self.validation,
                seed=seed,
                image_size=self.image_size,
            )
            tasks.check_fits(task, self.device)
            self._tasks = {seed: task.to(self.device)}
        return self._tasks[seed]

    def fingerprint(self, *, seed: int | None = None) -> dict[str, Any]:
        """What makes two runs' values comparable, as flat JSON scalars (see
        :mod:`optuna_clr.study.fingerprint`); ``seed`` is the split's seed (default: the
        config's)."""
        c, task, spec = self.config, self.task, self._task_spec
        model = (
            self.model
            if isinstance(self.model, str)
            else (
                f"{getattr(self.model, '__module__', '?')}:"
                f"{getattr(self.model, '__qualname__', repr(self.model))}"
            )
        )
        return {
            "task": spec if isinstance(spec, str) else f"{task.name} (tensors)",
            "train_size": len(task.train),
            "validation_size": len(task.valid),
            "image_size": self.image_size,
            "split_seed": c.seed if seed is None else seed,
            "model": model,
            "unit": self.unit,
            **{name: getattr(c, name) for name in settings.names("fingerprint")},
        }

    def iterations_for(self, schedule: Schedule) -> int:
        """The update budget of a run: ``max_iterations``, cut back to the last cycle end with
        ``end_at_cycle_end`` (Smith's advice: stop where the LR is low)."""
        budget = self.config.max_iterations
        if self.end_at_cycle_end:
            ends = schedule.cycle_ends(budget)
            if ends:
                return ends[-1]
        return budget

    def report_step(self, ev: Evaluation, previous: int) -> int:
        """The step an evaluation counts as, after one counted as ``previous``: its updates, or
        with ``unit="examples"`` the multiple of ``eval_every * batch_size`` examples it reached
        (less than a batch below the examples seen), so every trial of an examples study counts
        at the same steps, as Median/Percentile/Hyperband compare them; the last evaluation, at
        the budget, may fall between them."""
        if self.unit != "examples":
            return ev.step
        grid = self.config.eval_grid
        on_grid = ev.examples // grid * grid if grid else ev.examples
        return on_grid if on_grid > previous else ev.examples

    def value(self, result: TrainResult) -> float:
        """A run's value in the experiment's unit: the step of the evaluation that reached the
        target (:meth:`report_step`; seconds for ``"seconds"``), or censored when not reached.
        A trial's value is computed the same way (the tracker counts the same steps)."""
        if not result.reached:
            return censored_value(self.budget, self.target_accuracy, result.best_accuracy)
        if self.unit == "seconds":
            return float(result.seconds_to_target)  # type: ignore[arg-type]
        step = 0
        for ev in result.curve:
            step = self.report_step(ev, step)
        return float(step)

    def run(
        self,
        schedule: Schedule,
        *,
        seed: int | None = None,
        callback: Callable[[Evaluation], bool | None] | None = None,
        max_iterations: int | None = None,
        overrides: dict[str, Any] | None = None,
        progress_label: str = "",
    ) -> TrainResult:
        """Train one schedule with one seed (``result.iterations_to_target`` is None when the
        target was not reached); ``overrides`` changes :class:`TrainConfig` fields for this run
        (e.g. ``{"optimizer": "adam"}``).

        Raises:
            OutOfMemory: the run ran out of memory; the message says what to lower.
        """
        seed = self.config.seed if seed is None else seed
        config = dataclasses.replace(
            self.config,
            seed=seed,
            max_iterations=max_iterations or self.iterations_for(schedule),
            **(overrides or {}),
        )
        bar = None
        if self.show_progress_bar:
            bar = progress.iterations_bar(config.max_iterations, progress_label or "training")

        def on_eval(ev: Evaluation) -> bool:
            if bar is not None:
                progress.show(bar, ev)
            return bool(callback(ev)) if callback is not None else False

        try:
            return train(self.task_for(seed), self.model, schedule, config, callback=on_eval)
        except Exception as error:
            if not is_out_of_memory(error):
                raise
            raise self._out_of_memory(error, f"training {schedule!r}", config) from error
        finally:
            if bar is not None:
                bar.close()

    def run_seeds(
        self,
        schedule: Schedule,
        seeds: list[int],
        *,
        overrides: dict[str, Any] | None = None,
        parallel: int = 1,
        on_done: Callable[[int, TrainResult], None] | None = None,
    ) -> list[TrainResult]:
        """Train one schedule once per seed, ``parallel`` seeds at a time as one fused job
        where the fused engine runs the configuration (:func:`~optuna_clr.training.fused.fusable`),
        else one by one. The seeds of a configuration differ only in seed, so on a GPU a round
        of seeds costs about one run's wall time; the results are those of :meth:`run` (the
        same iterations in float64; in float32 within the fused engine's last-bit drift).

        Args:
            schedule: the schedule every seed trains.
            seeds: the seeds (validation split, initial weights, batch order).
            overrides: :class:`TrainConfig` fields changed for these runs.
            parallel: the most seeds trained at once; 1 trains them one by one.
            on_done: called with each seed and its result the moment it finishes.

        Returns:
            The results, in the order of ``seeds``.

        Raises:
            OutOfMemory: the runs ran out of memory; the message says what to lower.
        """
        from optuna_clr.training.fused import fusable
        from optuna_clr.training.fused import FusedJob
        from optuna_clr.training.fused import train_fused

        config = dataclasses.replace(
            self.config, max_iterations=self.iterations_for(schedule), **(overrides or {})
        )
        if parallel < 2 or len(seeds) < 2 or fusable(schedule, config) is not None:
            results = []
            for seed in seeds:
                results.append(self.run(schedule, seed=seed, overrides=overrides))
                if on_done is not None:
                    on_done(seed, results[-1])
            return results
        pending, done = list(seeds), {}
        own_split = not isinstance(self._task_spec, tasks.Task)  # a Task given has one split

        def next_job() -> FusedJob | None:
            if not pending:
                return None
            seed = pending.pop(0)  # its task loaded only when a place in the stack is free
            return FusedJob(
                schedule, seed=seed, key=seed, task=self.task_for(seed) if own_split else None
            )

        def finished(job: FusedJob, result: TrainResult) -> None:
            done[job.key] = result
            if on_done is not None:
                on_done(job.key, result)

        capacity = min(parallel, len(seeds))
        try:
            train_fused(
                self.task, self.model, config, next_job, capacity=capacity, on_done=finished
            )
        except Exception as error:
            if not is_out_of_memory(error):
                raise
            what = f"training {capacity} seeds of {schedule!r} at once"
            raise self._out_of_memory(error, what, config) from error
        return [done[seed] for seed in seeds]

    def _out_of_memory(self, error: Exception, what: str, config: TrainConfig) -> OutOfMemory:
        """The out-of-memory ``error`` as :class:`OutOfMemory`, saying what to lower."""
        if self.device.type == "cuda":
            torch.cuda.empty_cache()
        return OutOfMemory(
            f"out of memory {what} at batch size {config.batch_size} on {self.device}: "
            f"{str(error).splitlines()[0]}. Lower batch_size (or --parallel), or use a smaller "
            "model."
        )
