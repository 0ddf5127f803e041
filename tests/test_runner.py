"""The study runner: what a worker waits for at its end, and what Ctrl-C leaves behind."""

from __future__ import annotations

import optuna
from optuna.trial import TrialState
import pytest
import torch

import optuna_clr
from optuna_clr.runner import BEATING_ATTR
from optuna_clr.runner import optimize
from optuna_clr.storage import open_storage


def objective(families=("fixed",), model="mlp", **kw):
    space = optuna_clr.ScheduleSpace(families=list(families), lr=(0.01, 0.3), iterations_per_epoch=35,
                                     max_iterations=200, batch_size=32, max_batch_size=128)
    return optuna_clr.IterationsToTarget(task="digits", model=model, batch_size=32, target_accuracy=0.95,
                                         max_iterations=200, eval_every=10, device="cpu", space=space, **kw)


@pytest.mark.parametrize("parallel", [1, 2])
def test_a_worker_does_not_wait_for_a_trial_without_heartbeats(tmp_path, parallel):
    url = f"journal:///{tmp_path / 'study.log'}"
    orphan = optuna.create_study(storage=open_storage(url), study_name="s", direction="minimize").ask()
    # ... left RUNNING by a worker without heartbeats (killed, say): it can never go stale
    study = optuna.load_study(study_name="s", storage=open_storage(url, heartbeat_interval=1, grace_period=2))
    optimize(study, objective(), n_trials=2, parallel=parallel)  # returns instead of waiting forever
    states = {t.number: t.state for t in study.get_trials(deepcopy=False)}
    assert states.pop(orphan.number) == TrialState.RUNNING
    assert set(states.values()) <= {TrialState.COMPLETE, TrialState.PRUNED} and len(states) == 2
    assert all(t.system_attrs.get(BEATING_ATTR) for t in study.get_trials(deepcopy=False) if t.number != orphan.number)


class _InterruptedNet(torch.nn.Module):
    """A real MLP whose 20th forward pass is a Ctrl-C."""

    calls = 0

    def __init__(self):
        super().__init__()
        self.net = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(64, 32), torch.nn.ReLU(),
                                       torch.nn.Linear(32, 10))

    def forward(self, x):
        type(self).calls += 1
        if type(self).calls == 20:
            raise KeyboardInterrupt
        return self.net(x)


def test_ctrl_c_in_a_trial_trained_alone_among_parallel_ones_leaves_none_running(tmp_path):
    storage = f"sqlite:///{tmp_path / 's.db'}"
    study = optuna.create_study(storage=storage, study_name="s", direction="minimize")
    # batch-size schedules cannot be stacked: the parallel runner trains them one by one
    with pytest.raises(KeyboardInterrupt):
        optimize(study, objective(families=["batch_growth"], model=_InterruptedNet), n_trials=4, parallel=2)
    trials = optuna.load_study(study_name="s", storage=storage).trials
    assert len(trials) == 1 and trials[0].state == TrialState.FAIL
    assert "interrupted" in trials[0].user_attrs["fail_reason"]
