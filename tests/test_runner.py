"""The study runner: what a worker waits for at its end, what it runs meanwhile, and what
Ctrl-C leaves behind."""

from __future__ import annotations

import logging
import signal
import time

import optuna
from optuna.artifacts import FileSystemArtifactStore
from optuna.storages.journal import JournalFileBackend
from optuna.trial import TrialState
import pytest
import torch

import optuna_clr
from optuna_clr import cli
from optuna_clr.study.runner import BEATING_ATTR
from optuna_clr.study.runner import fail_stale_trials
from optuna_clr.study.runner import Interrupted
from optuna_clr.study.runner import optimize
from optuna_clr.study.storage import HEARTBEAT_ATTR
from optuna_clr.study.storage import open_storage


FINISHED = (TrialState.COMPLETE, TrialState.PRUNED)


def objective(families=("fixed",), model="mlp", space=None, **kw):
    space = space or optuna_clr.ScheduleSpace(
        families=list(families),
        lr=(0.01, 0.3),
        iterations_per_epoch=35,
        max_iterations=200,
        batch_size=32,
        max_batch_size=128,
    )
    return optuna_clr.IterationsToTarget(
        task="digits",
        model=model,
        batch_size=32,
        target_accuracy=0.95,
        max_iterations=200,
        eval_every=10,
        device="cpu",
        space=space,
        **kw,
    )


@pytest.mark.parametrize("parallel", [1, 2])
def test_a_worker_does_not_wait_for_a_trial_without_heartbeats(tmp_path, parallel):
    url = f"journal:///{tmp_path / 'study.log'}"
    orphan = optuna.create_study(
        storage=open_storage(url), study_name="s", direction="minimize"
    ).ask()
    # ... left RUNNING by a worker without heartbeats (killed, say): it can never go stale
    study = optuna.load_study(
        study_name="s", storage=open_storage(url, heartbeat_interval=1, grace_period=2)
    )
    optimize(
        study, objective(), n_trials=2, parallel=parallel
    )  # returns instead of waiting forever
    states = {t.number: t.state for t in study.get_trials(deepcopy=False)}
    assert states.pop(orphan.number) == TrialState.RUNNING
    assert set(states.values()) <= {TrialState.COMPLETE, TrialState.PRUNED} and len(states) == 2
    # each marked by its own attempt, with the heartbeat recorded first
    assert all(
        t.system_attrs.get(BEATING_ATTR) == t._trial_id
        for t in study.get_trials(deepcopy=False)
        if t.number != orphan.number
    )


def interrupted_at(call: int) -> type[torch.nn.Module]:
    """A real MLP whose ``call``-th forward pass, counted over all its instances, is a Ctrl-C."""

    class InterruptedNet(torch.nn.Module):
        calls = 0

        def __init__(self):
            super().__init__()
            self.net = torch.nn.Sequential(
                torch.nn.Flatten(),
                torch.nn.Linear(64, 32),
                torch.nn.ReLU(),
                torch.nn.Linear(32, 10),
            )

        def forward(self, x):
            type(self).calls += 1
            if type(self).calls == call:
                raise KeyboardInterrupt
            return self.net(x)

    return InterruptedNet


def retry_of(
    trial: optuna.trial.FrozenTrial, trials: list[optuna.trial.FrozenTrial]
) -> optuna.trial.FrozenTrial:
    """The one trial queued to run ``trial``'s parameters again."""
    retries = [t for t in trials if t.system_attrs.get("failed_trial") == trial.number]
    assert len(retries) == 1, [(t.number, t.state, t.system_attrs) for t in trials]
    assert retries[0].system_attrs["retry_history"] == [trial.number]
    assert retries[0].system_attrs["fixed_params"] == trial.params
    return retries[0]


def test_ctrl_c_in_a_trial_trained_alone_among_parallel_ones_leaves_none_running(tmp_path):
    storage = f"sqlite:///{tmp_path / 's.db'}"
    study = optuna.create_study(storage=storage, study_name="s", direction="minimize")
    # batch-size schedules cannot be stacked: the parallel runner trains them one by one
    with pytest.raises(KeyboardInterrupt):
        optimize(
            study,
            objective(families=["batch_growth"], model=interrupted_at(20)),
            n_trials=4,
            parallel=2,
        )
    trials = optuna.load_study(study_name="s", storage=storage).trials
    assert [t.state for t in trials] == [TrialState.FAIL, TrialState.WAITING]
    assert "interrupted" in trials[0].user_attrs["fail_reason"]
    assert retry_of(trials[0], trials) is not None


@pytest.mark.parametrize("parallel", [1, 2])
def test_ctrl_c_queues_the_interrupted_trials_again_and_the_next_run_takes_them(
    tmp_path, parallel
):
    storage = f"sqlite:///{tmp_path / 's.db'}"
    study = optuna.create_study(storage=storage, study_name="s", direction="minimize")
    with pytest.raises(KeyboardInterrupt):  # a stack of two trials (or one alone), mid-training
        optimize(study, objective(model=interrupted_at(30)), n_trials=4, parallel=parallel)
    trials = study.get_trials(deepcopy=False)
    interrupted = [t for t in trials if t.state == TrialState.FAIL]
    assert len(interrupted) == parallel and TrialState.RUNNING not in {t.state for t in trials}
    assert all(t.user_attrs["fail_reason"].startswith("interrupted (Ctrl-C)") for t in interrupted)
    retries = [retry_of(t, trials) for t in interrupted]
    assert all(r.state == TrialState.WAITING for r in retries)

    optimize(study, objective(), n_trials=parallel, parallel=parallel)  # it takes them first
    after = {t.number: t for t in study.get_trials(deepcopy=False)}
    assert len(after) == len(trials)
    for trial, retry in zip(interrupted, retries):
        assert after[retry.number].state in FINISHED and after[retry.number].params == trial.params


def test_an_interrupted_recipe_is_run_again_and_the_next_recipe_still_comes(tmp_path):
    """Smith's recipes go out by trial number; the retry of an interrupted recipe trial fixes
    its family, so it takes no other recipe: the fixed-LR recipe still comes next."""
    space = optuna_clr.ScheduleSpace(
        families=["fixed", "triangular2"],
        lr=(0.01, 0.3),
        iterations_per_epoch=35,
        max_iterations=200,
    )
    prior = {"base_lr": 0.02, "best_lr": 0.06, "max_lr": 0.2}
    study = optuna.create_study(
        storage=f"sqlite:///{tmp_path / 's.db'}",
        direction="minimize",
        sampler=optuna_clr.RangeTestPriorSampler(prior, seed=0),
    )
    with pytest.raises(KeyboardInterrupt):
        optimize(study, objective(model=interrupted_at(30), space=space), n_trials=3)
    optimize(study, objective(space=space), n_trials=2)
    first, retry, second = study.get_trials(deepcopy=False)
    assert first.state == TrialState.FAIL and first.params["family"] == "triangular2"
    assert retry_of(first, [first, retry, second]) is retry and retry.params == first.params
    assert second.params == {"family": "fixed", "lr": pytest.approx(0.06)}
    assert second.user_attrs["sampler"] == "Smith's recipe: fixed"


def journal_with_heartbeats(tmp_path) -> optuna.storages.BaseStorage:
    url = f"journal:///{tmp_path / 'study.log'}"
    return open_storage(url, heartbeat_interval=1, grace_period=2)


@pytest.mark.parametrize("parallel", [1, 2])
def test_the_wait_runs_retries_only_not_trials_the_user_enqueued(tmp_path, parallel):
    study = optuna.create_study(storage=journal_with_heartbeats(tmp_path), direction="minimize")
    for lr in (0.05, 0.1, 0.2):
        study.enqueue_trial({"lr": lr})
    optimize(study, objective(), n_trials=1, parallel=parallel)
    states = [t.state for t in study.get_trials(deepcopy=False)]
    # the other two are left for a later run's n_trials
    assert states[0] in FINISHED and states[1:] == [TrialState.WAITING] * 2


@pytest.mark.parametrize("parallel", [1, 2])
def test_study_stop_ends_the_run_and_its_wait(tmp_path, parallel):
    study = optuna.create_study(storage=journal_with_heartbeats(tmp_path), direction="minimize")

    def stop(study: optuna.Study, trial: optuna.trial.FrozenTrial) -> None:
        # a retry queued meanwhile (another worker's trial went stale) is left to a later run
        attrs = {
            "failed_trial": trial.number,
            "retry_history": [trial.number],
            "fixed_params": trial.params,
        }
        study.add_trial(optuna.create_trial(state=TrialState.WAITING, system_attrs=attrs))
        study.stop()

    optimize(study, objective(), n_trials=4, parallel=parallel, callbacks=[stop])
    trials = study.get_trials(deepcopy=False)
    finished = [t for t in trials if t.state in FINISHED]
    assert 1 <= len(finished) <= parallel  # the running ones finish, no more start
    assert [t.state for t in trials if t not in finished] == [TrialState.WAITING] * len(finished)


def test_a_fused_trial_whose_end_fails_is_told_failed_not_left_running(tmp_path):
    study = optuna.create_study(storage=f"sqlite:///{tmp_path / 's.db'}", direction="minimize")
    broken = FileSystemArtifactStore(tmp_path / "no-such-folder")  # the schedule's plot: no upload
    with pytest.raises(FileNotFoundError):
        optimize(study, objective(artifact_store=broken), n_trials=2, parallel=2)
    trials = study.get_trials(deepcopy=False)
    assert [t.state for t in trials] == [TrialState.FAIL] * 2
    assert all("no-such-folder" in t.user_attrs["fail_reason"] for t in trials)


class SignalledStorage(optuna.storages.JournalStorage):
    """A real journal whose first write of a finished trial gets a SIGTERM in its middle."""

    signalled = False

    def set_trial_state_values(self, trial_id, state, values=None):
        if state.is_finished() and not self.signalled:
            self.signalled = True
            signal.raise_signal(signal.SIGTERM)  # its handler runs here, before the write
        return super().set_trial_state_values(trial_id, state, values)


def test_a_signal_during_a_storage_write_stops_the_run_once_the_write_is_done(tmp_path):
    """The CLI's handler does not raise inside the storage's or Optuna's bookkeeping: raised
    there, the interrupt would leave the finished trial RUNNING (Optuna's tell then fails with
    an UnboundLocalError, which is not even an interrupt). It stops the next trial instead."""
    storage = SignalledStorage(JournalFileBackend(str(tmp_path / "study.log")))
    study = optuna.create_study(storage=storage, direction="minimize")
    with pytest.raises(Interrupted), cli._stop_on_signals():
        optimize(study, objective(), n_trials=20)  # stopped in the first trial that trains after
    trials = study.get_trials(deepcopy=False)
    assert trials[0].state in FINISHED and trials[0].value is not None  # written whole
    assert TrialState.RUNNING not in {t.state for t in trials}
    failed = [t for t in trials if t.state == TrialState.FAIL]
    assert len(failed) == 1
    assert failed[0].user_attrs["fail_reason"].startswith("interrupted (SIGTERM)")
    assert retry_of(failed[0], trials).state == TrialState.WAITING


class FailedAsStaleAtTheSecondReport(optuna.pruners.BasePruner):
    """Never prunes; at trial 0's second report, another worker's storage handle finds its last
    heartbeat older than its grace and fails it as stale, queuing its retry, as happens on an
    overloaded machine."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.done = False

    def prune(self, study: optuna.Study, trial: optuna.trial.FrozenTrial) -> bool:
        if trial.number == 0 and len(trial.intermediate_values) == 2 and not self.done:
            self.done = True
            # its last beat, as the trial started; the worker's next is due 60 s later
            beat = trial.datetime_start.timestamp()
            study._storage.set_trial_system_attr(trial._trial_id, HEARTBEAT_ATTR, beat)
            while time.time() - beat <= 1.2:  # older than the other worker's grace of 1 s
                time.sleep(0.05)
            for running in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
                if running.number != 0:  # the others beat on time
                    study._storage.record_heartbeat(running._trial_id)
            other = open_storage(self.url, heartbeat_interval=1, grace_period=1)
            fail_stale_trials(optuna.load_study(study_name=study.study_name, storage=other))
        return False


@pytest.mark.parametrize("parallel", [1, 2])
def test_a_trial_another_worker_failed_as_stale_stops_and_the_worker_goes_on(tmp_path, parallel):
    """A live trial failed by another worker (its beats came late) can no longer be reported
    to or told: its worker stops training it at the next report, says so in one line instead
    of Optuna's traceback, and runs its other trials; the retry runs the same parameters."""
    url = f"journal:///{tmp_path / 'study.log'}"
    # its own beats: one as each trial starts, the next only 60 s later
    storage = open_storage(url, heartbeat_interval=60, grace_period=120)
    pruner = FailedAsStaleAtTheSecondReport(url)
    study = optuna.create_study(storage=storage, direction="minimize", pruner=pruner)
    records: list[logging.LogRecord] = []
    handler = logging.Handler()
    handler.emit = records.append  # type: ignore[method-assign]
    for name in ("optuna", "optuna_clr"):
        logging.getLogger(name).addHandler(handler)
    try:
        optimize(study, objective(), n_trials=parallel + 1, parallel=parallel)
    finally:
        for name in ("optuna", "optuna_clr"):
            logging.getLogger(name).removeHandler(handler)
    trials = study.get_trials(deepcopy=False)
    assert pruner.done and len(trials) == parallel + 1
    taken = trials[0]
    assert taken.state == TrialState.FAIL
    assert sorted(taken.intermediate_values) == [10, 20]  # the report after the takeover: none
    (retry,) = [t for t in trials if t.system_attrs.get("failed_trial") == taken.number]
    assert retry.state in FINISHED and retry.params == taken.params
    assert all(t.state in FINISHED for t in trials[1:])
    said = [r.getMessage() for r in records if r.levelno >= logging.WARNING]
    assert said == [
        "trial 0 was finished by another worker (failed as stale: its heartbeats came later "
        "than the grace period) and queued again as a retry; stopped training it here"
    ]
