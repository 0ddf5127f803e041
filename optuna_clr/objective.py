"""The Optuna objective: iterations (or examples, or seconds) to a target validation accuracy.

Each trial gets a schedule from the :class:`~optuna_clr.ScheduleSpace`, trains under it
(:func:`optuna_clr.training.train`), reports at every evaluation in the objective's unit
(:func:`optuna_clr.tracking.reported_value`), so pruners work with ``direction="minimize"``
and a pruned trial ranks below every completed one, and returns the iterations it needed.
A trial that never reaches the target returns a censored value
(:func:`optuna_clr.tracking.censored_value`: ``budget * (1 + target - best_accuracy)``),
above the budget and smaller the closer it came.
A trial whose loss turns NaN or infinite is pruned as diverged, with the reason in its user
attrs; a trial that runs out of memory fails with :class:`OutOfMemory` (pass
``catch=(optuna_clr.OutOfMemory,)`` to ``study.optimize`` to go on, as ``optuna-clr`` does).

Everything a trial knows goes into the storage as short, flat user attrs a trial table can
sort: ``family``, ``schedule_label`` (its one-line form), ``lr_min``, ``lr_max``,
``cycle_length`` and ``cycles_completed`` (cyclical schedules), ``reached``,
``iterations_to_target``, ``best_accuracy``, ``test_accuracy``, ``iterations``,
``examples_seen``, ``epochs``, ``seconds``, ``stop_reason``, ``budget``, ``target_accuracy``,
``unit`` and, where it applies, ``pruned_reason`` / ``fail_reason``; ``schedule`` (its
``to_dict()``) rebuilds it. The reports are the accuracy curve in the objective's unit
(:func:`optuna_clr.tracking.accuracy_curve` reads it back); with an artifact store, each
trial also uploads its curves (CSV) and its schedule plot, and gets a note that says its
schedule in words.

Example:

    .. testcode::

        import optuna
        import optuna_clr

        objective = optuna_clr.IterationsToTarget(
            task="digits", model="mlp", batch_size=32, target_accuracy=0.95,
            max_iterations=1000, eval_every=25, device="cpu",
            space=optuna_clr.ScheduleSpace(families=["fixed", "triangular2"], lr=(0.005, 0.5),
                                           iterations_per_epoch=35),
        )
        study = optuna.create_study(direction="minimize", pruner=optuna_clr.TargetPruner())
        study.optimize(objective, n_trials=10)
        print(study.best_value, study.best_trial.user_attrs["schedule"])

        # One schedule, no Optuna:
        result = objective.run(optuna_clr.Fixed(0.05))
        print(result.iterations_to_target, result.test_accuracy)
"""

from __future__ import annotations

from collections.abc import Callable
import dataclasses
import os
import tempfile
from typing import Any
from typing import TYPE_CHECKING

import optuna
import torch

from optuna_clr import dashboard
from optuna_clr import tasks
from optuna_clr.models import ModelSpec
from optuna_clr.schedules import Schedule
from optuna_clr.tracking import TargetTracker
from optuna_clr.training import Evaluation
from optuna_clr.training import TrainConfig
from optuna_clr.training import TrainResult
from optuna_clr.training import resolve_device
from optuna_clr.training import train


if TYPE_CHECKING:
    from optuna.artifacts._protocol import ArtifactStore

    from optuna_clr.space import ScheduleSpace


UNITS = ("iterations", "examples", "seconds")


@dataclasses.dataclass
class TrialJob:
    """A begun trial: its schedule, its tracker and the callback that reports to it."""

    trial: optuna.Trial
    schedule: Schedule
    tracker: TargetTracker
    unit: str
    max_iterations: int
    pruned: optuna.TrialPruned | None = None
    grid: int | None = None  # examples between evaluations, for unit="examples"
    reported: int = 0

    def on_eval(self, ev: Evaluation) -> bool:
        """Report an evaluation; True when the run should stop (target reached or pruned).

        With an examples grid, an evaluation is reported at the grid point it reached (less
        than one batch below the examples seen), so that every trial reports at the same
        steps, as Median/Percentile/Hyperband compare them; the last one, at the budget, may
        fall between grid points."""
        step = ev.step
        if self.unit == "examples":
            on_grid = ev.examples // self.grid * self.grid if self.grid else ev.examples
            step = on_grid if on_grid > self.reported else ev.examples
        self.reported = step
        try:
            return self.tracker.report(step, ev.accuracy)
        except optuna.TrialPruned as signal:
            self.pruned = signal
            return True


class OutOfMemory(RuntimeError):
    """A trial ran out of (GPU or host) memory; the message says what to lower."""


def _is_out_of_memory(error: BaseException) -> bool:
    if isinstance(error, torch.cuda.OutOfMemoryError):
        return True
    text = str(error).lower()
    return isinstance(error, RuntimeError) and ("out of memory" in text or "not enough memory" in text
                                                or "can't allocate memory" in text)


class IterationsToTarget:
    """Optuna objective: the iterations a trial's schedule needs to reach ``target_accuracy``.

    Args:
        task: a task name for :func:`optuna_clr.tasks.load` (``"digits"``, ``"mnist"``,
            ``"cifar10"``...) or your own :class:`~optuna_clr.tasks.Task`.
        model: a registered model name (:mod:`optuna_clr.models`) or a zero-argument factory.
        space: the :class:`~optuna_clr.ScheduleSpace` trials draw from (not needed for
            :meth:`run`).
        target_accuracy: validation accuracy to reach.
        max_iterations: update budget per trial.
        eval_every: updates between validation evaluations; iterations to target is a
            multiple of it.
        seed: fixes the validation split, the initial weights and the batch order.
        unit: what the value counts: ``"iterations"`` (parameter updates, default),
            ``"examples"`` (training examples seen; budget ``max_examples``, by default
            ``max_iterations * batch_size``) or ``"seconds"`` (wall time; needs ``max_seconds``).
        data_dir: the data folder for file-backed tasks (default ``$OPTUNA_CLR_DATA``).
        image_size: for ``task="imagefolder"``, the square side every image is resized to.
        artifact_store: an Optuna artifact store; each trial then uploads its schedule plot.
        show_progress_bar: a tqdm bar over each trial's iterations.

    The remaining keywords (``batch_size``, ``optimizer``, ``momentum``, ``nesterov``,
    ``weight_decay``, ``augment``, ``device``, ``precision``, ``channels_last``, ``compile``,
    ``eval_batch_size``, ``validation``) are those of
    :class:`~optuna_clr.training.TrainConfig` and :func:`optuna_clr.tasks.load`.
    """

    def __init__(
        self,
        *,
        task: str | tasks.Task = "digits",
        model: ModelSpec = "mlp",
        space: ScheduleSpace | None = None,
        target_accuracy: float,
        max_iterations: int,
        eval_every: int = 100,
        seed: int = 0,
        device: str = "auto",
        batch_size: int = 100,
        optimizer: str = "sgd",
        momentum: float | None = None,
        nesterov: bool = False,
        weight_decay: float = 0.0,
        augment: bool = False,
        unit: str = "iterations",
        max_examples: int | None = None,
        max_seconds: float | None = None,
        data_dir: str | os.PathLike | None = None,
        validation: float | int | None = None,
        image_size: int | None = None,
        precision: str = "fp32",
        channels_last: bool = False,
        compile: bool = False,
        eval_batch_size: int = 1000,
        artifact_store: ArtifactStore | None = None,
        show_progress_bar: bool = False,
    ) -> None:
        if unit not in UNITS:
            raise ValueError(f"unit must be one of {list(UNITS)}, got {unit!r}")
        if unit == "seconds" and max_seconds is None:
            raise ValueError("unit='seconds' needs max_seconds, the time budget a censored trial is measured against")
        if unit == "examples" and max_examples is None:
            max_examples = max_iterations * batch_size
        self.config = TrainConfig(
            max_iterations=max_iterations,
            eval_every=eval_every,
            target_accuracy=target_accuracy,
            batch_size=batch_size,
            optimizer=optimizer,
            momentum=momentum,
            nesterov=nesterov,
            weight_decay=weight_decay,
            augment=augment,
            seed=seed,
            device=device,
            max_examples=max_examples,
            max_seconds=max_seconds,
            eval_unit="examples" if unit == "examples" else "iterations",
            eval_batch_size=eval_batch_size,
            precision=precision,
            channels_last=channels_last,
            compile=compile,
        )
        self.space = space
        self.model = model
        self.unit = unit
        self.data_dir = data_dir
        self.validation = validation
        self.image_size = image_size
        self.artifact_store = artifact_store
        self.show_progress_bar = show_progress_bar
        self.device = resolve_device(device)
        self._task_spec = task
        self._tasks: dict[int, tasks.Task] = {}
        self.task = self.task_for(seed)  # loads (and checks) the data now, before any training

    @property
    def target_accuracy(self) -> float:
        return self.config.target_accuracy  # type: ignore[return-value]

    @property
    def budget(self) -> float:
        """The budget in the objective's unit; censored values are measured against it."""
        if self.unit == "examples":
            return self.config.max_examples  # type: ignore[return-value]
        if self.unit == "seconds":
            return self.config.max_seconds  # type: ignore[return-value]
        return self.config.max_iterations

    def fingerprint(self, *, seed: int | None = None) -> dict[str, Any]:
        """What makes two trials' values comparable, as flat JSON scalars (see
        :mod:`optuna_clr.fingerprint`): data and split, model, optimizer, batch, target, unit,
        budget, evaluation cadence, precision, augmentation. ``seed`` is the split's seed
        (default: the objective's)."""
        c = self.config
        task = self.task
        spec = self._task_spec
        model = self.model if isinstance(self.model, str) else (
            f"{getattr(self.model, '__module__', '?')}:{getattr(self.model, '__qualname__', repr(self.model))}")
        return {
            "task": spec if isinstance(spec, str) else f"{task.name} (tensors)",
            "train_size": len(task.train), "validation_size": len(task.valid), "image_size": self.image_size,
            "split_seed": c.seed if seed is None else seed, "model": model,
            "optimizer": c.optimizer, "momentum": c.momentum, "nesterov": c.nesterov,
            "weight_decay": c.weight_decay, "batch_size": c.batch_size,
            "target_accuracy": c.target_accuracy, "unit": self.unit,
            "max_iterations": c.max_iterations, "max_examples": c.max_examples,
            "max_seconds": c.max_seconds, "eval_every": c.eval_every,
            "precision": c.precision, "augment": c.augment,
        }

    def task_for(self, seed: int) -> tasks.Task:
        """The task with the validation split of ``seed``, on the training device."""
        if isinstance(self._task_spec, tasks.Task):
            return self._task_spec.to(self.device)
        if seed not in self._tasks:
            task = tasks.load(self._task_spec, root=self.data_dir, validation=self.validation, seed=seed,
                              image_size=self.image_size)
            tasks.check_fits(task, self.device)
            self._tasks = {seed: task.to(self.device)}
        return self._tasks[seed]

    def iterations_for(self, schedule: Schedule) -> int:
        """The update budget of a trial: ``max_iterations``, cut back to the last cycle end
        when the space asks to end training at a cycle end (Smith's advice)."""
        budget = self.config.max_iterations
        if self.space is not None and self.space.end_at_cycle_end:
            ends = schedule.cycle_ends(budget)
            if ends:
                return ends[-1]
        return budget

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
        """Train one schedule, no Optuna involved (``result.iterations_to_target`` is None when
        the target was not reached). ``overrides`` changes :class:`TrainConfig` fields for this
        run (e.g. ``{"optimizer": "adam"}``)."""
        seed = self.config.seed if seed is None else seed
        config = dataclasses.replace(
            self.config, seed=seed, max_iterations=max_iterations or self.iterations_for(schedule), **(overrides or {})
        )
        bar = None
        if self.show_progress_bar:
            from tqdm.auto import tqdm

            bar = tqdm(total=config.max_iterations, desc=progress_label or "training", unit="it", leave=False)

        def on_eval(ev: Evaluation) -> bool:
            if bar is not None:
                bar.update(ev.step - bar.n)
                bar.set_postfix(acc=f"{ev.accuracy:.4f}", lr=f"{ev.lr:.3g}")
            return bool(callback(ev)) if callback is not None else False

        try:
            return train(self.task_for(seed), self.model, schedule, config, callback=on_eval)
        except Exception as error:
            if _is_out_of_memory(error):
                if self.device.type == "cuda":
                    torch.cuda.empty_cache()
                raise OutOfMemory(
                    f"out of memory training {schedule!r} at batch size {config.batch_size} on {self.device}: "
                    f"{str(error).splitlines()[0]}. Lower batch_size (or --parallel), or use a smaller model."
                ) from error
            raise
        finally:
            if bar is not None:
                bar.close()

    def __call__(self, trial: optuna.Trial) -> float:
        job = self.begin(trial)
        try:
            result = self.run(job.schedule, callback=job.on_eval, max_iterations=job.max_iterations,
                              progress_label=f"trial {trial.number}")
        except OutOfMemory as error:
            trial.set_user_attr("fail_reason", str(error))
            raise
        return self.end(job, result)

    def begin(self, trial: optuna.Trial) -> TrialJob:
        """Draw the trial's schedule and set up its reporting; :meth:`end` finishes it. The
        fused K-trial engine trains many begun trials at once between the two."""
        if self.space is None:
            raise ValueError(
                "IterationsToTarget needs space=ScheduleSpace(...) to suggest a schedule per trial; "
                "use objective.run(schedule) to train a single schedule"
            )
        if trial.study.direction != optuna.study.StudyDirection.MINIMIZE:
            raise ValueError(
                f"study {trial.study.study_name!r} maximizes, but the value is {self.unit} to target: "
                "create it with direction='minimize'")
        schedule = self.space.suggest(trial)
        trial.set_user_attr("unit", self.unit)
        trial.set_user_attr("batch_size", self.config.batch_size)  # reports count examples with unit="examples"
        tracker = TargetTracker(
            trial,
            target_accuracy=self.target_accuracy,
            max_iterations=self.budget if self.unit != "seconds" else self.config.max_iterations,
            budget=self.budget,
        )
        return TrialJob(trial, schedule, tracker, self.unit, self.iterations_for(schedule),
                        grid=self.config.eval_grid)

    def end(self, job: TrialJob, result: TrainResult) -> float:
        """Record the run in the trial and return its value, or raise ``optuna.TrialPruned``
        (pruned, or diverged)."""
        trial = job.trial
        self._record(trial, job.schedule, result)
        if result.stop_reason == "diverged":
            reason = f"diverged: non-finite training loss at iteration {result.diverged_at}"
            trial.set_user_attr("pruned_reason", reason)
            job.tracker.value()  # records the curve so far
            raise optuna.TrialPruned(reason)
        if job.pruned is not None:
            trial.set_user_attr("pruned_reason", str(job.pruned))
            raise job.pruned
        value = job.tracker.value()  # censored against the budget in the objective's unit
        if self.unit == "seconds" and result.reached:
            value = result.seconds_to_target
        return value

    def _record(self, trial: optuna.Trial, schedule: Schedule, result: TrainResult) -> None:
        attrs: dict[str, Any] = {
            "test_accuracy": result.test_accuracy,
            "iterations": result.iterations,
            "examples_seen": result.examples_seen,
            "epochs": result.epochs,
            "seconds": result.seconds,
            "stop_reason": result.stop_reason,
            **schedule_attrs(schedule, result.iterations),
        }
        for key, value in attrs.items():
            trial.set_user_attr(key, value)
        if self.artifact_store is not None:
            upload_schedule_plot(trial, schedule, max(result.iterations, 1), self.artifact_store)
            upload_curves(trial, result, self.artifact_store)
        per_epoch = self.task.iterations_per_epoch(self.config.batch_size)
        dashboard.save_trial_note(trial, schedule, result, target_accuracy=self.target_accuracy,
                                  iterations_per_epoch=per_epoch)


def schedule_attrs(schedule: Schedule, steps: int) -> dict[str, Any]:
    """The schedule as short flat user attrs a trial table can sort: family, its one-line
    form, the LR range over the ``steps`` trained, and for cyclical schedules the cycle length
    and the cycles completed."""
    xs = range(0, max(steps, 1), max(1, steps // 1000))
    lrs = [schedule.lr(x) for x in xs]
    attrs: dict[str, Any] = {"family": schedule.family, "schedule_label": schedule.label(),
                             "lr_min": min(lrs), "lr_max": max(lrs)}
    if schedule.cycles:
        attrs["cycle_length"] = schedule.next_cycle_end(0)
        attrs["cycles_completed"] = round(schedule.cycles_completed(steps) or 0.0, 3)
    return attrs


def upload_curves(trial: optuna.Trial, result: TrainResult, artifact_store: ArtifactStore) -> str:
    """The trial's validation accuracy and training loss at each evaluation, as a CSV
    artifact (``curves_trial<n>.csv``: step, examples, accuracy, loss, lr)."""
    from optuna.artifacts import upload_artifact

    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, f"curves_trial{trial.number}.csv")
        with open(path, "w") as f:
            f.write("step,examples,accuracy,loss,lr\n")
            f.writelines(f"{e.step},{e.examples},{e.accuracy},{e.loss},{e.lr}\n"
                         for e in result.curve)
        return upload_artifact(artifact_store=artifact_store, file_path=path, study_or_trial=trial)


def upload_schedule_plot(trial: optuna.Trial, schedule: Schedule, steps: int, artifact_store: ArtifactStore) -> str:
    """Save the schedule's plot as a PNG artifact of ``trial``; returns the artifact id."""
    from optuna.artifacts import upload_artifact

    from optuna_clr.plots import plot_schedule

    fig = plot_schedule(schedule, steps, title=f"trial {trial.number}: {schedule.label()}")
    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, f"schedule_trial{trial.number}.png")
        fig.savefig(path, dpi=80)
        return upload_artifact(artifact_store=artifact_store, file_path=path, study_or_trial=trial)
