"""Running a study: one trial at a time, K fused trials at a time, and the end of a worker.

:func:`optimize` is ``study.optimize`` for an :class:`~optuna_clr.IterationsToTarget`
objective, plus two things:

* ``parallel=K`` trains K trials at once on one device with the fused engine
  (:mod:`optuna_clr.fused`): the sampler is asked for a trial whenever a place in the stack is
  free (use ``TPESampler(constant_liar=True)`` so running trials are not asked again), each
  trial reports and is pruned on its own, and trials the engine cannot fuse (batch-size
  schedules, optimizers other than SGD) are trained one by one in between.
* With a storage that has heartbeats, a worker that has run its trials waits until no trial in
  the study is left running before it returns: a trial whose worker died goes stale, is
  marked failed and re-queued (``RetryFailedTrialCallback``), and this worker runs the retry.
  Nothing is lost when the last worker standing outlives the grace period.

``n_trials`` counts the trials this call runs, as in ``study.optimize``; trials already in the
storage stay there, so running again continues the same study.
"""

from __future__ import annotations

from collections.abc import Callable
from collections.abc import Sequence
import logging
import threading
import time
from typing import Any
import warnings

import optuna
from optuna.storages._heartbeat import BaseHeartbeat
from optuna.storages._heartbeat import get_heartbeat_thread
from optuna.storages._heartbeat import is_heartbeat_enabled
from optuna.trial import TrialState
import torch

from optuna_clr.fused import FusedJob
from optuna_clr.fused import fusable
from optuna_clr.fused import train_fused
from optuna_clr.objective import IterationsToTarget
from optuna_clr.objective import OutOfMemory
from optuna_clr.objective import _is_out_of_memory
from optuna_clr.objective import TrialJob
from optuna_clr.training import TrainResult


_logger = logging.getLogger(__name__)

# Set on the trials this module runs with heartbeats. A worker waits only for those: a trial left
# RUNNING by a worker without heartbeats is never failed as stale, and would be waited for forever.
BEATING_ATTR = "optuna_clr:beating"

Callback = Callable[[optuna.Study, optuna.trial.FrozenTrial], None]


def optimize(
    study: optuna.Study,
    objective: IterationsToTarget,
    *,
    n_trials: int,
    parallel: int = 1,
    catch: Sequence[type[Exception]] = (OutOfMemory,),
    callbacks: Sequence[Callback] = (),
    show_progress_bar: bool = False,
    wait_for_stale: bool = True,
) -> None:
    """Run ``n_trials`` trials of ``objective`` in ``study``; see the module docstring."""
    if n_trials < 0:
        raise ValueError(f"n_trials must be >= 0, got {n_trials}")
    if parallel < 1:
        raise ValueError(f"parallel must be >= 1, got {parallel}")
    if parallel == 1:
        study.optimize(_marking(objective), n_trials=n_trials, catch=tuple(catch), callbacks=list(callbacks),
                       show_progress_bar=show_progress_bar)
    else:
        _optimize_fused(study, objective, n_trials, parallel, tuple(catch), list(callbacks), show_progress_bar)
    if wait_for_stale:
        finish_stale_trials(study, objective, catch=catch, callbacks=callbacks)


def finish_stale_trials(
    study: optuna.Study,
    objective: Callable[[optuna.Trial], float],
    *,
    catch: Sequence[type[Exception]] = (OutOfMemory,),
    callbacks: Sequence[Callback] = (),
    poll: float | None = None,
) -> None:
    """Wait while trials of the study run elsewhere; run the retries of those that go stale."""
    storage = study._storage
    if not is_heartbeat_enabled(storage):
        return
    assert isinstance(storage, BaseHeartbeat)
    poll = poll or max(0.5, storage.get_heartbeat_interval() / 2)  # type: ignore[operator]
    told: set[int] = set()
    while True:
        fail_stale_trials(study)
        open_trials = study.get_trials(deepcopy=False, states=(TrialState.WAITING, TrialState.RUNNING))
        beating = [t.number for t in open_trials if t.state == TrialState.RUNNING and t.system_attrs.get(BEATING_ATTR)]
        if any(t.state == TrialState.WAITING for t in open_trials):
            _run_waiting_trial(study, objective, tuple(catch), callbacks)
        elif beating:
            if not told.issuperset(beating):
                _logger.info(f"waiting for trial(s) {beating}, running in other workers, to retry them if a worker dies")
                told.update(beating)
            time.sleep(poll)
        else:
            return


def _mark_beating(study: optuna.Study, trial_id: int) -> None:
    if is_heartbeat_enabled(study._storage):
        study._storage.set_trial_system_attr(trial_id, BEATING_ATTR, True)


def _marking(objective: Callable[[optuna.Trial], float]) -> Callable[[optuna.Trial], float]:
    def run(trial: optuna.Trial) -> float:
        _mark_beating(trial.study, trial._trial_id)
        return objective(trial)

    return run


def _run_waiting_trial(
    study: optuna.Study,
    objective: Callable[[optuna.Trial], float],
    catch: tuple[type[Exception], ...],
    callbacks: Sequence[Callback],
) -> None:
    """Run a queued trial (a retry) unless another worker took it first. ``study.optimize`` would
    then create a new trial instead, and each idle worker would run one more than it was asked."""
    trial_id = study._pop_waiting_trial_id()  # the first half of Study.ask; Optuna has no public pop
    if trial_id is None:
        return
    trial = optuna.Trial(study, trial_id)
    _mark_beating(study, trial_id)
    value, state = None, None
    with get_heartbeat_thread(trial_id, study._storage):
        try:
            value = objective(trial)
        except optuna.TrialPruned:
            state = TrialState.PRUNED
        except catch:
            state = TrialState.FAIL
        except BaseException:
            study.tell(trial, state=TrialState.FAIL)
            raise
    frozen = study.tell(trial, value, state=state)
    for callback in callbacks:
        callback(study, frozen)


def fail_stale_trials(study: optuna.Study) -> None:
    """Optuna's ``fail_stale_trials`` (marked experimental, stable since 2.9) without its warning."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        optuna.storages.fail_stale_trials(study)


class _Heartbeats:
    """Heartbeats for trials told by hand (``study.optimize`` beats for its own)."""

    def __init__(self, study: optuna.Study) -> None:
        self.storage = study._storage
        self.enabled = is_heartbeat_enabled(self.storage)
        self.running: set[int] = set()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def __enter__(self) -> _Heartbeats:
        if self.enabled:
            self._thread = threading.Thread(target=self._beat, daemon=True)
            self._thread.start()
        return self

    def _beat(self) -> None:
        interval = self.storage.get_heartbeat_interval()
        while not self._stop.is_set():
            for trial_id in list(self.running):
                self.storage.record_heartbeat(trial_id)
            self._stop.wait(interval)

    def __exit__(self, *exc: Any) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()


def _optimize_fused(
    study: optuna.Study,
    objective: IterationsToTarget,
    n_trials: int,
    parallel: int,
    catch: tuple[type[Exception], ...],
    callbacks: list[Callback],
    show_progress_bar: bool,
) -> None:
    asked = 0
    open_jobs: dict[int, TrialJob] = {}
    bar = None
    if show_progress_bar:
        from tqdm.auto import tqdm

        bar = tqdm(total=n_trials, desc=f"trials ({parallel} at a time)", unit="trial")

    def tell(job: TrialJob, result: TrainResult | None, error: BaseException | None = None) -> None:
        trial = job.trial
        open_jobs.pop(trial._trial_id, None)
        heartbeats.running.discard(trial._trial_id)
        if error is not None:
            trial.set_user_attr("fail_reason", str(error))
            frozen = study.tell(trial, state=TrialState.FAIL)
        else:
            try:
                frozen = study.tell(trial, objective.end(job, result))  # type: ignore[arg-type]
            except optuna.TrialPruned:
                frozen = study.tell(trial, state=TrialState.PRUNED)
        for callback in callbacks:
            callback(study, frozen)
        if bar is not None:
            bar.update(1)
            try:
                bar.set_postfix(best=study.best_value)
            except ValueError:
                pass

    def next_job() -> FusedJob | None:
        nonlocal asked
        while asked < n_trials:
            fail_stale_trials(study)
            trial = study.ask()
            asked += 1
            try:
                _mark_beating(study, trial._trial_id)
                job = objective.begin(trial)
            except BaseException:
                study.tell(trial, state=TrialState.FAIL)
                raise
            open_jobs[trial._trial_id] = job  # from here on, an error or Ctrl-C tells it
            heartbeats.running.add(trial._trial_id)
            if fusable(job.schedule, objective.config) is None:
                return FusedJob(job.schedule, max_iterations=job.max_iterations, callback=job.on_eval, key=job)
            try:  # not fusable: train it alone, now
                result = objective.run(job.schedule, callback=job.on_eval, max_iterations=job.max_iterations)
            except catch as error:  # type: ignore[misc]
                tell(job, None, error)
                continue
            tell(job, result)
        return None

    capacity = parallel
    with _Heartbeats(study) as heartbeats:
        try:
            while asked < n_trials:
                asked_before = asked
                try:
                    train_fused(
                        objective.task, objective.model, objective.config, next_job,
                        capacity=capacity, on_done=lambda fj, result: tell(fj.key, result),
                    )
                except BaseException as error:  # Ctrl-C, out of memory...: leave no trial running
                    if _is_out_of_memory(error):
                        error = OutOfMemory(f"out of memory with {capacity} trials stacked: {error}. "
                                            "Lower --parallel or batch_size.")
                    for job in list(open_jobs.values()):
                        tell(job, None, error if isinstance(error, Exception) else RuntimeError(f"interrupted: {error!r}"))
                    if not isinstance(error, catch) or asked == asked_before:
                        raise  # not caught, or nothing to blame it on but the set-up itself
                    if isinstance(error, OutOfMemory) and capacity > 1:
                        capacity //= 2  # the stack is what ran out: go on with fewer trials at a time
                        if torch.cuda.is_available():
                            torch.cuda.empty_cache()
                        _logger.warning(
                            f"{error} Going on with {capacity} trial{'s' if capacity > 1 else ''} at a time.")
        finally:
            if bar is not None:
                bar.close()

