"""Running a study: one trial at a time, K fused trials at a time, and the end of a worker.

:func:`optimize` is ``study.optimize`` for an :class:`~optuna_clr.IterationsToTarget`
objective, plus three things:

* ``parallel=K`` trains K trials at once on one device with the fused engine
  (:mod:`optuna_clr.training.fused`): the sampler is asked for a trial whenever a place in the
  stack is free (use ``TPESampler(constant_liar=True)`` so running trials are not asked again),
  each trial reports and is pruned on its own, and trials the engine cannot fuse (batch-size
  schedules, optimizers other than SGD) are trained one by one in between.
* With a storage that has heartbeats, a worker that has run its trials waits until no trial in
  the study is left running before it returns: a trial whose worker died goes stale, is
  marked failed and re-queued (``RetryFailedTrialCallback``), and this worker runs the retry.
  Nothing is lost when the last worker standing outlives the grace period. Only retries run
  there, never a trial the user enqueued, and ``study.stop()`` ends the wait too.
* A trial that another worker fails as stale while it still trains (its heartbeats came later
  than the grace period) stops at its next report with
  :class:`~optuna_clr.exceptions.FinishedElsewhere`; the worker logs one line and goes on with
  its other trials, where ``study.optimize`` would stop with "Cannot tell a FAIL trial".
* An interrupt (Ctrl-C, or the :class:`Interrupted` the CLI raises for SIGINT and SIGTERM)
  fails the trials this call is running and queues each again as a retry (Optuna's
  ``failed_trial`` and ``retry_history`` system attrs, its parameters fixed as
  ``enqueue_trial`` fixes them), so the next run trains the same configurations.

``n_trials`` counts the trials this call runs, as in ``study.optimize``; trials already in the
storage stay there, so running again continues the same study.
"""

from __future__ import annotations

from collections.abc import Callable
from collections.abc import Iterator
from collections.abc import Sequence
import contextlib
import logging
import signal
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

from optuna_clr.study.objective import _is_out_of_memory
from optuna_clr.study.objective import FinishedElsewhere
from optuna_clr.study.objective import IterationsToTarget
from optuna_clr.study.objective import OutOfMemory
from optuna_clr.study.objective import TrialJob
from optuna_clr.training import progress
from optuna_clr.training.engine import TrainResult
from optuna_clr.training.fused import fusable
from optuna_clr.training.fused import FusedJob
from optuna_clr.training.fused import train_fused


_logger = logging.getLogger(__name__)

# Set, to the trial's own id, on the trials this module runs with heartbeats, right after their
# first heartbeat. A worker waits only for those: a trial left RUNNING by a worker without
# heartbeats never goes stale, and would be waited for forever. A retry copies its predecessor's
# system attrs, this mark too; holding the id, the copy does not count as the retry's own mark.
BEATING_ATTR = "optuna_clr:beating"

# Optuna's retry callback links a retry to the trial it repeats with this system attr; so does
# _requeue. RetryHeartbeatStaleTrialCallback.retried_trial_number reads it, but warns.
RETRY_OF_ATTR = "failed_trial"

Callback = Callable[[optuna.Study, optuna.trial.FrozenTrial], None]


class Interrupted(KeyboardInterrupt):
    """A stop asked for by a signal; ``signum`` says which (``signal.SIGINT``, ``SIGTERM``).

    A ``KeyboardInterrupt``, so that Optuna's ``study.optimize`` fails the running trial for it
    as it does for Ctrl-C; the CLI raises it from its SIGINT and SIGTERM handlers.
    """

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


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
    study._stop_flag = False  # Study.stop()'s flag: study.optimize clears it as it starts, too
    # our bar, not Optuna's: it gives the best value its unit
    bar = (
        progress.TrialsBar(
            n_trials, "trials" if parallel == 1 else f"trials ({parallel} at a time)"
        )
        if show_progress_bar
        else None
    )
    callbacks = [*callbacks, bar] if bar is not None else list(callbacks)
    try:
        with _requeue_on_interrupt(study) as running:
            if parallel == 1:
                _optimize_one_by_one(study, objective, n_trials, tuple(catch), callbacks, running)
            else:
                _optimize_fused(
                    study, objective, n_trials, parallel, tuple(catch), callbacks, running
                )
    finally:
        if bar is not None:
            bar.close()
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
    """Wait while trials of the study run elsewhere; run the retries of those that go stale.

    Only retries run here (queued by ``RetryFailedTrialCallback`` or for an interrupted trial):
    a trial the user enqueued belongs to some run's ``n_trials``. Returns as soon as
    ``study.stop()`` has been called, in this wait or in the run before it.
    """
    storage = study._storage
    if not is_heartbeat_enabled(storage):
        return
    assert isinstance(storage, BaseHeartbeat)
    poll = poll or max(0.5, storage.get_heartbeat_interval() / 2)  # type: ignore[operator]
    told: set[int] = set()
    with _requeue_on_interrupt(study) as running, _in_optimize_loop(study):
        while not study._stop_flag:
            fail_stale_trials(study)
            waiting = study.get_trials(deepcopy=False, states=(TrialState.WAITING,))
            retries = [t for t in waiting if RETRY_OF_ATTR in t.system_attrs]
            running_now = study.get_trials(deepcopy=False, states=(TrialState.RUNNING,))
            beating = [t.number for t in running_now if _beating(t)]
            if retries:
                _run_retry(study, objective, retries, tuple(catch), callbacks, running)
            elif beating:
                if not told.issuperset(beating):
                    _logger.info(
                        f"waiting for trial(s) {beating}, running in other workers, "
                        "to retry them if a worker dies"
                    )
                    told.update(beating)
                time.sleep(poll)
            else:
                return


@contextlib.contextmanager
def _in_optimize_loop(study: optuna.Study) -> Iterator[None]:
    """Let ``study.stop()`` work in trials and callbacks run by hand: Optuna refuses it outside
    ``study.optimize``, which marks its loop with this flag and reads ``_stop_flag`` after each
    trial (both private; Optuna has no public way for another loop to take part)."""
    local = study._thread_local
    before = local.in_optimize_loop
    local.in_optimize_loop = True
    try:
        yield
    finally:
        local.in_optimize_loop = before


def _beating(trial: optuna.trial.FrozenTrial) -> bool:
    """Whether ``trial`` runs with heartbeats: marked by this attempt (True is an old mark)."""
    mark = trial.system_attrs.get(BEATING_ATTR)
    return mark is not True and mark == trial._trial_id


def _mark_beating(study: optuna.Study, trial_id: int) -> None:
    storage = study._storage
    if is_heartbeat_enabled(storage):
        assert isinstance(storage, BaseHeartbeat)
        # the beat first: a worker killed before its heartbeat thread's first beat then leaves a
        # marked trial that goes stale and is retried, not one the others wait for forever
        storage.record_heartbeat(trial_id)
        storage.set_trial_system_attr(trial_id, BEATING_ATTR, trial_id)


def _optimize_one_by_one(
    study: optuna.Study,
    objective: Callable[[optuna.Trial], float],
    n_trials: int,
    catch: tuple[type[Exception], ...],
    callbacks: Sequence[Callback],
    running: set[int],
) -> None:
    """``study.optimize``, going on past a trial another worker finished: Optuna's loop cannot
    tell such a trial and stops there; this says so in one line and runs the trials left."""
    started: list[optuna.Trial] = []
    raised: dict[int, BaseException] = {}  # what each trial's objective raised
    done: Callback = lambda _, frozen: running.discard(frozen._trial_id)  # noqa: E731
    left = n_trials
    while left > 0:
        before = len(started)
        try:
            with _quiet_about_finished_elsewhere():
                study.optimize(
                    _marking(objective, running, started, raised),
                    n_trials=left,
                    catch=catch,
                    callbacks=[done, *callbacks],
                )
            return
        except Exception as error:
            last = started[-1] if len(started) > before else None
            if (
                last is None
                or last._trial_id not in running  # told here: a callback's error
                or not _finished_elsewhere(last, error, raised.get(last._trial_id))
            ):
                raise
        running.discard(last._trial_id)
        _logger.warning(str(FinishedElsewhere(last.number)))
        left -= len(started) - before
        if study._stop_flag:
            return


def _finished_elsewhere(
    trial: optuna.Trial, error: Exception, raised: BaseException | None
) -> bool:
    """Whether ``study.optimize`` stopped with ``error`` because another worker had finished
    ``trial``: its objective said so (``raised``), or the objective ended and Optuna could not
    tell the trial (a ``ValueError``, or an ``AssertionError`` from Optuna's logging of it)."""
    if isinstance(raised, FinishedElsewhere) or isinstance(error, FinishedElsewhere):
        return True
    finished = trial.study._storage.get_trial(trial._trial_id).state.is_finished()
    return finished and (raised is None or isinstance(raised, optuna.TrialPruned))


@contextlib.contextmanager
def _quiet_about_finished_elsewhere() -> Iterator[None]:
    """Leave out Optuna's two "Trial N failed" warnings (one a traceback) for a trial finished
    elsewhere: :func:`_optimize_one_by_one` says it in one line."""
    logger = logging.getLogger("optuna.study._optimize")
    numbers: set[str] = set()

    def keep(record: logging.LogRecord) -> bool:
        error = record.exc_info[1] if record.exc_info else None
        if isinstance(error, FinishedElsewhere):
            numbers.add(f"Trial {error.number} failed with value ")
            return False
        return not any(record.getMessage().startswith(start) for start in numbers)

    logger.addFilter(keep)
    try:
        yield
    finally:
        logger.removeFilter(keep)


def _marking(
    objective: Callable[[optuna.Trial], float],
    running: set[int],
    started: list[optuna.Trial] | None = None,
    raised: dict[int, BaseException] | None = None,
) -> Callable[[optuna.Trial], float]:
    def run(trial: optuna.Trial) -> float:
        running.add(trial._trial_id)
        if started is not None:
            started.append(trial)
        try:
            _mark_beating(trial.study, trial._trial_id)
            return objective(trial)
        except KeyboardInterrupt as interrupt:  # study.optimize fails it; say why first
            trial.set_user_attr("fail_reason", _reason(interrupt))
            raise
        except BaseException as error:
            if raised is not None:
                raised[trial._trial_id] = error
            raise

    return run


def _reason(error: BaseException) -> str:
    """A failed trial's ``fail_reason``."""
    if isinstance(error, KeyboardInterrupt):
        name = signal.Signals(error.signum).name if isinstance(error, Interrupted) else "Ctrl-C"
        return f"interrupted ({name}); queued again as a retry"
    return str(error) or repr(error)


@contextlib.contextmanager
def _requeue_on_interrupt(study: optuna.Study) -> Iterator[set[int]]:
    """The ids of the trials a loop is running; it adds and removes them. At an interrupt,
    those still in the set are failed (those still RUNNING) and queued again."""
    running: set[int] = set()
    try:
        yield running
    except KeyboardInterrupt as interrupt:
        for trial_id in sorted(running):
            _requeue(study, trial_id, interrupt)
        raise


def _requeue(study: optuna.Study, trial_id: int, interrupt: KeyboardInterrupt) -> None:
    """Fail the interrupted trial (if it was not told yet) and queue its parameters again as a
    retry: WAITING, with Optuna's retry attrs, and the parameters in ``fixed_params`` as
    ``enqueue_trial`` sets them, so :class:`~optuna_clr.RangeTestPriorSampler` counts the retry
    as a trial of its family and gives the recipe it repeats to no other trial."""
    trial = study._storage.get_trial(trial_id)
    if trial.state == TrialState.RUNNING:  # interrupted outside study.optimize's own handling
        study._storage.set_trial_user_attr(trial_id, "fail_reason", _reason(interrupt))
        study.tell(trial.number, state=TrialState.FAIL)
    elif trial.state != TrialState.FAIL:
        return  # it finished before the interrupt reached it
    elif any(
        trial.number in t.system_attrs.get("retry_history", ())
        for t in study.get_trials(deepcopy=False)
    ):
        return  # another worker failed it as stale and queued it again already
    if not trial.params:
        return  # interrupted before it drew anything: nothing to run again
    history = [*trial.system_attrs.get("retry_history", []), trial.number]
    retry = optuna.create_trial(
        state=TrialState.WAITING,
        system_attrs={
            RETRY_OF_ATTR: history[0],
            "retry_history": history,
            "fixed_params": dict(trial.params),
        },
    )
    study.add_trial(retry)


def _run_retry(
    study: optuna.Study,
    objective: Callable[[optuna.Trial], float],
    retries: Sequence[optuna.trial.FrozenTrial],
    catch: tuple[type[Exception], ...],
    callbacks: Sequence[Callback],
    running: set[int],
) -> None:
    """Run one of the queued ``retries`` unless other workers took them all first.
    ``study.optimize`` would take any queued trial or create one, so an idle worker would run
    more than it was asked."""
    trial_id = _pop(study, retries)
    if trial_id is None:
        return
    trial = optuna.Trial(study, trial_id)
    running.add(trial_id)
    _mark_beating(study, trial_id)
    value, state = None, None
    with get_heartbeat_thread(trial_id, study._storage):
        try:
            value = objective(trial)
        except optuna.TrialPruned:
            state = TrialState.PRUNED
        except FinishedElsewhere as error:
            running.discard(trial_id)
            _logger.warning(str(error))
            return
        except catch:
            state = TrialState.FAIL
        except BaseException as error:
            trial.set_user_attr("fail_reason", _reason(error))
            study.tell(trial, state=TrialState.FAIL)
            raise
    try:
        frozen = study.tell(trial, value, state=state)
    except ValueError:  # "Cannot tell a FAIL trial": finished elsewhere as it ended here
        if not study._storage.get_trial(trial_id).state.is_finished():
            raise
        running.discard(trial_id)
        _logger.warning(str(FinishedElsewhere(trial.number)))
        return
    running.discard(trial_id)
    for callback in callbacks:
        callback(study, frozen)


def _pop(study: optuna.Study, waiting: Sequence[optuna.trial.FrozenTrial]) -> int | None:
    """Take the first of the ``waiting`` trials no other worker took: Optuna's
    ``Study._pop_waiting_trial_id``, for these trials only (a WAITING trial set RUNNING is
    taken; ``False`` or an error means another worker took it first)."""
    for trial in waiting:
        try:
            if study._storage.set_trial_state_values(trial._trial_id, state=TrialState.RUNNING):
                return trial._trial_id
        except optuna.exceptions.UpdateFinishedTrialError:
            continue
    return None


def fail_stale_trials(study: optuna.Study) -> None:
    """Optuna's ``fail_stale_trials`` (experimental in name, stable since 2.9), no warning."""
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
        storage: Any = self.storage  # heartbeat-enabled: RDB or journal storage
        interval = storage.get_heartbeat_interval()
        while not self._stop.is_set():
            for trial_id in list(self.running):
                storage.record_heartbeat(trial_id)
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
    running: set[int],
) -> None:
    asked = 0
    open_jobs: dict[int, TrialJob] = {}

    def fail(trial: optuna.Trial, error: BaseException) -> optuna.trial.FrozenTrial | None:
        """Tell ``trial`` failed; None when another worker finished it already."""
        if study._storage.get_trial(trial._trial_id).state.is_finished():
            return None
        trial.set_user_attr("fail_reason", _reason(error))
        return study.tell(trial, state=TrialState.FAIL)

    def tell(
        job: TrialJob, result: TrainResult | None, error: BaseException | None = None
    ) -> None:
        trial = job.trial
        open_jobs.pop(trial._trial_id, None)
        heartbeats.running.discard(trial._trial_id)
        frozen: optuna.trial.FrozenTrial | None
        if error is not None:
            frozen = fail(trial, error)
        else:
            try:
                frozen = study.tell(trial, objective.end(job, result))  # type: ignore[arg-type]
            except optuna.TrialPruned:
                frozen = study.tell(trial, state=TrialState.PRUNED)
            except FinishedElsewhere as elsewhere:
                frozen = None
                _logger.warning(str(elsewhere))
            except BaseException as end_error:  # an artifact upload, the storage, Ctrl-C...
                if fail(trial, end_error) is not None or not isinstance(end_error, ValueError):
                    raise
                frozen = None  # "Cannot tell a FAIL trial": finished elsewhere after end()
                _logger.warning(str(FinishedElsewhere(trial.number)))
        if not isinstance(error, KeyboardInterrupt):
            running.discard(trial._trial_id)  # an interrupted one stays, to be queued again
        if frozen is not None:
            for callback in callbacks:
                callback(study, frozen)

    def next_job() -> FusedJob | None:
        nonlocal asked
        while asked < n_trials and not study._stop_flag:
            fail_stale_trials(study)
            trial = study.ask()
            asked += 1
            running.add(trial._trial_id)
            try:
                _mark_beating(study, trial._trial_id)
                job = objective.begin(trial)
            except BaseException as error:
                fail(trial, error)
                raise
            open_jobs[trial._trial_id] = job  # from here on, an error or Ctrl-C tells it
            heartbeats.running.add(trial._trial_id)
            if fusable(job.schedule, objective.config) is None:
                return FusedJob(
                    job.schedule, max_iterations=job.max_iterations, callback=job.on_eval, key=job
                )
            try:  # not fusable: train it alone, now
                result = objective.run(
                    job.schedule, callback=job.on_eval, max_iterations=job.max_iterations
                )
            except catch as error:
                tell(job, None, error)
                continue
            tell(job, result)
        return None

    capacity = parallel
    with _Heartbeats(study) as heartbeats, _in_optimize_loop(study):
        while asked < n_trials and not study._stop_flag:
            asked_before = asked
            try:
                train_fused(
                    objective.task,
                    objective.model,
                    objective.config,
                    next_job,
                    capacity=capacity,
                    on_done=lambda fj, result: tell(fj.key, result),
                )
            except BaseException as error:  # Ctrl-C, out of memory...: leave no trial running
                if _is_out_of_memory(error):
                    error = OutOfMemory(
                        f"out of memory with {capacity} trials stacked: {error}. "
                        "Lower --parallel or batch_size."
                    )
                for job in list(open_jobs.values()):
                    tell(job, None, error)
                if not isinstance(error, catch) or asked == asked_before:
                    raise  # not caught, or nothing to blame it on but the set-up itself
                if isinstance(error, OutOfMemory) and capacity > 1:
                    capacity //= 2  # the stack is what ran out: go on with fewer trials at a time
                    if torch.cuda.is_available():
                        torch.cuda.empty_cache()
                    trials = "trials" if capacity > 1 else "trial"
                    _logger.warning(f"{error} Going on with {capacity} {trials} at a time.")
