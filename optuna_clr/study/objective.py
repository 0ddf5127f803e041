"""The Optuna objective: iterations (or examples, or seconds) to a target validation accuracy.

Each trial gets a schedule from the :class:`~optuna_clr.ScheduleSpace`, trains under it
(:func:`optuna_clr.training.engine.train`), reports at every evaluation in the objective's unit
(:func:`optuna_clr.study.tracking.reported_value`), so pruners work with ``direction="minimize"``
and a pruned trial ranks below every completed one, and returns the iterations it needed.
A trial that never reaches the target returns a censored value
(:func:`optuna_clr.study.tracking.censored_value`: ``budget * (1 + target - best_accuracy)``),
above the budget and smaller the closer it came.
A trial whose loss turns NaN or infinite is pruned as diverged, with the reason in its user
attrs; a trial that runs out of memory fails with :class:`OutOfMemory` (pass
``catch=(optuna_clr.exceptions.OutOfMemory,)`` to ``study.optimize`` to go on, as
``optuna-clr`` does).
A trial that another worker finished while it trained (failed as stale when its heartbeats came
late) stops at its next report and raises :class:`FinishedElsewhere`.

Everything a trial knows goes into the storage as short, flat user attrs a trial table can
sort: ``family``, ``schedule`` (its one-line form; the exact one is
:func:`optuna_clr.records.trial_schedule`'s), ``lr_min``, ``lr_max``,
``cycle_length`` and ``cycles_completed`` (cyclical schedules), ``reached``,
``iterations_to_target``, ``best_accuracy``, ``test_accuracy``, ``iterations``,
``examples_seen``, ``epochs``, ``seconds``, ``stop_reason``, ``budget``, ``target_accuracy``,
``unit`` and, where it applies, ``pruned_reason`` / ``fail_reason``; ``schedule`` (its
``to_dict()``) rebuilds it. The reports are the accuracy curve in the objective's unit
(:func:`optuna_clr.study.tracking.accuracy_curve` reads it back); with an artifact store, each
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
        result = objective.run(optuna_clr.schedules.Fixed(0.05))
        print(result.iterations_to_target, result.test_accuracy)
"""

from __future__ import annotations

import dataclasses
import os
import tempfile
from typing import Any
from typing import TYPE_CHECKING

import optuna

from optuna_clr import records
from optuna_clr.schedules import Schedule
from optuna_clr.study import notes
from optuna_clr.study.tracking import TargetTracker
from optuna_clr.training import tasks
from optuna_clr.training.engine import Evaluation
from optuna_clr.training.engine import TrainConfig
from optuna_clr.training.engine import TrainResult
from optuna_clr.training.experiment import Experiment
from optuna_clr.training.experiment import is_out_of_memory as _is_out_of_memory  # noqa: F401  (the runner's)
from optuna_clr.training.experiment import OutOfMemory
from optuna_clr.training.models import ModelSpec
from optuna_clr.training.settings import default
from optuna_clr.training.settings import names


if TYPE_CHECKING:
    from optuna.artifacts._protocol import ArtifactStore

    from optuna_clr.search.space import ScheduleSpace


class FinishedElsewhere(RuntimeError):
    """The trial was finished by another process while this one trained it.

    Another worker fails a trial whose heartbeats come later than the storage's grace period,
    and queues its retry; this one can then neither report to nor tell the trial.
    """

    def __init__(self, number: int) -> None:
        super().__init__(
            f"trial {number} was finished by another worker (failed as stale: its heartbeats came "
            "later than the grace period) and queued again as a retry; stopped training it here"
        )
        self.number = number


@dataclasses.dataclass
class TrialJob:
    """A begun trial: its schedule, its tracker and the callback that reports to it."""

    trial: optuna.Trial
    schedule: Schedule
    tracker: TargetTracker
    experiment: Experiment
    max_iterations: int
    pruned: optuna.TrialPruned | None = None
    reported: int = 0
    finished_elsewhere: bool = False

    @property
    def unit(self) -> str:
        return self.experiment.unit

    def on_eval(self, ev: Evaluation) -> bool:
        """Report an evaluation (at :meth:`Experiment.report_step`); True when the run should
        stop (target reached or pruned)."""
        step = self.reported = self.experiment.report_step(ev, self.reported)
        assert ev.accuracy is not None  # the objective always validates: it counts to a target
        try:
            return self.tracker.report(step, ev.accuracy)
        except optuna.TrialPruned as signal:
            self.pruned = signal
            return True
        except optuna.exceptions.UpdateFinishedTrialError:
            self.finished_elsewhere = True  # end() raises FinishedElsewhere
            return True


def _config(
    target_accuracy: float, max_iterations: int, unit: str, given: dict[str, Any]
) -> TrainConfig:
    """The objective's :class:`~optuna_clr.training.settings.TrainConfig`: the budget in ``unit``
    decides the evaluation grid (and, for examples, ``max_examples``' default)."""
    allowed = set(names()) - {"eval_unit", "target_accuracy", "max_iterations"}
    unknown = sorted(set(given) - allowed)
    if unknown:
        raise TypeError(
            f"IterationsToTarget got an unexpected keyword argument {unknown[0]!r}; the "
            f"training settings are {sorted(allowed)}"
        )
    given = dict(given)
    if unit == "examples" and given.get("max_examples") is None:
        given["max_examples"] = max_iterations * given.get("batch_size", default("batch_size"))
    return TrainConfig(
        target_accuracy=target_accuracy,
        max_iterations=max_iterations,
        eval_unit="examples" if unit == "examples" else "iterations",
        **given,
    )


class IterationsToTarget:
    """Optuna objective: the iterations a trial's schedule needs to reach ``target_accuracy``.

    Args:
        task: a task name for :func:`optuna_clr.training.tasks.load` (``"digits"``, ``"mnist"``,
            ``"cifar10"``...) or your own :class:`~optuna_clr.training.tasks.Task`.
        model: a registered model name (:mod:`optuna_clr.training.models`) or a zero-argument
        factory. space: the :class:`~optuna_clr.ScheduleSpace` trials draw from (not needed for
            :meth:`run`).
        target_accuracy: validation accuracy to reach.
        max_iterations: update budget per trial.
        unit: what the value counts: ``"iterations"`` (parameter updates, default),
            ``"examples"`` (training examples seen; budget ``max_examples``, by default
            ``max_iterations * batch_size``) or ``"seconds"`` (wall time; needs ``max_seconds``).
        data_dir: the data folder for file-backed tasks (default ``$OPTUNA_CLR_DATA``).
        validation: the validation split, a fraction or a count
        (:func:`optuna_clr.training.tasks.load`). image_size: for ``task="imagefolder"``, the
        square side every image is resized to. artifact_store: an Optuna artifact store; each
        trial then uploads its schedule plot. show_progress_bar: a tqdm bar over each trial's
        iterations. experiment: what to train, made already (:class:`~optuna_clr.Experiment`); the
            arguments above but ``space``, ``artifact_store`` and ``show_progress_bar`` are
            then not used.
        settings: any other setting of :class:`~optuna_clr.training.settings.TrainConfig`:
            ``eval_every``, ``seed`` (the validation split, the initial weights and the batch
            order), ``batch_size``, ``optimizer``, ``momentum``, ``nesterov``,
            ``weight_decay``, ``augment``, ``device``, ``precision``, ...

    Every argument is checked here, before the data loads, so that no trial fails for one.

    Raises:
        TypeError: no ``target_accuracy`` or ``max_iterations`` (and no ``experiment``); a
            ``model`` that is a module instance or not callable, or a ``task`` that is neither
            a name nor a :class:`~optuna_clr.training.tasks.Task`.
        ValueError: an unknown ``model`` (neither registered nor an import path to a builder
            that imports and takes ``(image_shape, num_classes)``), ``task``, ``optimizer``,
            ``unit``, ``precision`` or ``device``, a setting out of its range
            (:class:`~optuna_clr.training.engine.TrainConfig`), or ``unit="seconds"`` without
            ``max_seconds``.
        DataError: the data is missing or does not fit the device
            (:class:`~optuna_clr.Experiment`).
    """

    def __init__(
        self,
        *,
        task: str | tasks.Task = "digits",
        model: ModelSpec = "mlp",
        space: ScheduleSpace | None = None,
        target_accuracy: float | None = None,
        max_iterations: int | None = None,
        unit: str = "iterations",
        data_dir: str | os.PathLike | None = None,
        validation: float | int | None = None,
        image_size: int | None = None,
        artifact_store: ArtifactStore | None = None,
        show_progress_bar: bool = False,
        experiment: Experiment | None = None,
        **settings: Any,
    ) -> None:
        if experiment is None:
            if target_accuracy is None or max_iterations is None:
                raise TypeError(
                    "IterationsToTarget needs target_accuracy and max_iterations "
                    "(or experiment=...)"
                )
            config = _config(target_accuracy, max_iterations, unit, settings)
            experiment = Experiment(
                task=task,
                model=model,
                config=config,
                unit=unit,
                data_dir=data_dir,
                validation=validation,
                image_size=image_size,
                show_progress_bar=show_progress_bar,
            )
        self.experiment = experiment
        self.artifact_store = artifact_store
        self.space = space

    # --- what to train lives in the experiment; these read it ---

    @property
    def space(self) -> ScheduleSpace | None:
        return self._space

    @space.setter
    def space(self, space: ScheduleSpace | None) -> None:
        self._space = space  # its end_at_cycle_end sets the experiment's budgets
        self.experiment.end_at_cycle_end = bool(space is not None and space.end_at_cycle_end)

    config = property(lambda self: self.experiment.config)
    model = property(lambda self: self.experiment.model)
    unit = property(lambda self: self.experiment.unit)
    task = property(lambda self: self.experiment.task)
    device = property(lambda self: self.experiment.device)
    target_accuracy = property(lambda self: self.experiment.target_accuracy)
    budget = property(lambda self: self.experiment.budget)

    def task_for(self, seed: int) -> tasks.Task:
        """The task with the validation split of ``seed`` (:meth:`Experiment.task_for`)."""
        return self.experiment.task_for(seed)

    def fingerprint(self, *, seed: int | None = None) -> dict[str, Any]:
        """What makes two trials' values comparable (:meth:`Experiment.fingerprint`)."""
        return self.experiment.fingerprint(seed=seed)

    def iterations_for(self, schedule: Schedule) -> int:
        """A trial's update budget (:meth:`Experiment.iterations_for`)."""
        return self.experiment.iterations_for(schedule)

    def run(self, schedule: Schedule, **kwargs: Any) -> TrainResult:
        """Train one schedule, no Optuna involved (:meth:`Experiment.run`)."""
        return self.experiment.run(schedule, **kwargs)

    def __call__(self, trial: optuna.Trial) -> float:
        job = self.begin(trial)
        try:
            result = self.run(
                job.schedule,
                callback=job.on_eval,
                max_iterations=job.max_iterations,
                progress_label=f"trial {trial.number}",
            )
        except OutOfMemory as error:
            trial.set_user_attr("fail_reason", str(error))
            raise
        return self.end(job, result)

    def begin(self, trial: optuna.Trial) -> TrialJob:
        """Draw the trial's schedule and set up its reporting; :meth:`end` finishes it. The
        fused K-trial engine trains many begun trials at once between the two."""
        if self.space is None:
            raise ValueError(
                "IterationsToTarget needs space=ScheduleSpace(...) to suggest a schedule "
                "per trial; use objective.run(schedule) to train a single schedule"
            )
        if trial.study.direction != optuna.study.StudyDirection.MINIMIZE:
            raise ValueError(
                f"study {trial.study.study_name!r} maximizes, "
                f"but the value is {self.unit} to target: "
                "create it with direction='minimize'"
            )
        schedule = self.space.suggest(trial)
        trial.set_user_attr("unit", self.unit)
        trial.set_user_attr(
            "batch_size", self.config.batch_size
        )  # reports count examples with unit="examples"
        tracker = TargetTracker(
            trial,
            target_accuracy=self.target_accuracy,
            max_iterations=self.budget if self.unit != "seconds" else self.config.max_iterations,
            budget=self.budget,
        )
        return TrialJob(trial, schedule, tracker, self.experiment, self.iterations_for(schedule))

    def end(self, job: TrialJob, result: TrainResult) -> float:
        """Record the run in the trial and return its value, or raise ``optuna.TrialPruned``
        (pruned, or diverged) or :class:`FinishedElsewhere`."""
        if job.finished_elsewhere:
            raise FinishedElsewhere(job.trial.number)
        try:
            return self._end(job, result)
        except optuna.exceptions.UpdateFinishedTrialError as error:  # finished after its report
            raise FinishedElsewhere(job.trial.number) from error

    def _end(self, job: TrialJob, result: TrainResult) -> float:
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
        job.tracker.value()  # records reached and the iterations to target
        return self.experiment.value(result)  # the one place a value is computed

    def _record(self, trial: optuna.Trial, schedule: Schedule, result: TrainResult) -> None:
        attrs: dict[str, Any] = {
            "test_accuracy": _rounded(result.test_accuracy, 4),
            "iterations": result.iterations,
            "examples_seen": result.examples_seen,
            "epochs": float(f"{result.epochs:.4g}"),
            "seconds": result.seconds,
            "stop_reason": result.stop_reason,
            **schedule_attrs(schedule, result.iterations),
        }
        for key, value in attrs.items():
            trial.set_user_attr(key, value)
        records.save_schedule(trial, schedule.to_dict())  # the exact one, for reports
        if self.artifact_store is not None:
            upload_schedule_plot(trial, schedule, max(result.iterations, 1), self.artifact_store)
            upload_curves(trial, result, self.artifact_store)
        per_epoch = self.task.iterations_per_epoch(self.config.batch_size)
        notes.save_trial_note(
            trial,
            schedule,
            result,
            target_accuracy=self.target_accuracy,
            iterations_per_epoch=per_epoch,
        )


def schedule_attrs(schedule: Schedule, steps: int) -> dict[str, Any]:
    """The schedule as short flat user attrs a trial table can sort: family, its one-line
    form, the LR range over the ``steps`` trained, and for cyclical schedules the cycle length
    and the cycles completed."""
    xs = range(0, max(steps, 1), max(1, steps // 1000))
    lrs = [schedule.lr(x) for x in xs]
    attrs: dict[str, Any] = {
        "family": schedule.family,
        "schedule": schedule.label(),
        "lr_min": float(f"{min(lrs):.4g}"),
        "lr_max": float(f"{max(lrs):.4g}"),
    }
    if schedule.cycles:
        attrs["cycle_length"] = schedule.next_cycle_end(0)
        attrs["cycles_completed"] = round(schedule.cycles_completed(steps) or 0.0, 3)
    return attrs


def _rounded(value: float | None, digits: int) -> float | None:
    """``value`` to ``digits`` decimals, for the dashboard's attrs: 16 digits hide the 4 read."""
    return None if value is None else round(value, digits)


def upload_curves(trial: optuna.Trial, result: TrainResult, artifact_store: ArtifactStore) -> str:
    """The trial's validation accuracy and training loss at each evaluation, as a CSV
    artifact (``curves_trial<n>.csv``: step, examples, accuracy, loss, lr)."""
    from optuna.artifacts import upload_artifact

    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, f"curves_trial{trial.number}.csv")
        with open(path, "w") as f:
            f.write("step,examples,accuracy,loss,lr\n")
            f.writelines(
                f"{e.step},{e.examples},{e.accuracy},{e.loss},{e.lr}\n" for e in result.curve
            )
        return upload_artifact(artifact_store=artifact_store, file_path=path, study_or_trial=trial)


def upload_schedule_plot(
    trial: optuna.Trial, schedule: Schedule, steps: int, artifact_store: ArtifactStore
) -> str:
    """Save the schedule's plot as a PNG artifact of ``trial``; returns the artifact id."""
    from optuna.artifacts import upload_artifact

    from optuna_clr.study.notes import plot_schedule

    fig = plot_schedule(schedule, steps, title=f"trial {trial.number}: {schedule.label()}")
    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, f"schedule_trial{trial.number}.png")
        fig.savefig(path, dpi=80)
        return upload_artifact(artifact_store=artifact_store, file_path=path, study_or_trial=trial)
