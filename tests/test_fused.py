from __future__ import annotations

import optuna
import pytest
import torch

import optuna_clr
from optuna_clr import schedules as S
from optuna_clr.study.runner import optimize
from optuna_clr.study.tracking import accuracy_curve
from optuna_clr.training.engine import train
from optuna_clr.training.engine import TrainConfig
from optuna_clr.training.fused import fusable
from optuna_clr.training.fused import FusedJob
from optuna_clr.training.fused import train_fused


def conv_bn():
    return torch.nn.Sequential(
        torch.nn.Conv2d(1, 8, 3, padding=1),
        torch.nn.BatchNorm2d(8),
        torch.nn.ReLU(),
        torch.nn.Flatten(),
        torch.nn.Linear(8 * 64, 10),
    )


SCHEDULES = [
    S.Fixed(0.02),
    S.Fixed(0.1),
    S.Triangular(0.01, 0.2, 50),
    S.Triangular2(0.02, 0.3, 100),
    S.ExpRange(0.01, 0.3, 70, 0.999),
    S.OneCycle(max_lr=0.3, total_steps=300, base_momentum=0.85, max_momentum=0.95),
    S.StepDecay(0.1, 0.1, [200, 400]),
    S.Fixed(1e5),
]


@pytest.mark.parametrize(
    "model, weight_decay", [("mlp", 1e-4), (conv_bn, 0.0)], ids=["mlp", "conv-bn"]
)
def test_k_trials_together_equal_the_same_trials_one_by_one(digits, model, weight_decay):
    # float64, so the last-bit differences of stacked kernels cannot move a crossing (see fused's
    # docstring)
    config = TrainConfig(
        max_iterations=500,
        eval_every=10,
        target_accuracy=0.96,
        batch_size=32,
        device="cpu",
        weight_decay=weight_decay,
        dtype="float64",
        seed=3,
    )
    # With BatchNorm, LR 1e5 runs to 1e300-sized numbers, where the two updates' intermediate
    # products overflow at different steps; the divergence case is checked on the MLP.
    schedules = SCHEDULES if model == "mlp" else SCHEDULES[:-1]
    budgets = [500, 500, 305, 500, 500, 500, 500, 500][
        : len(schedules)
    ]  # one ends between two evaluations
    alone = [
        train(digits, model, s, config.__class__(**{**config.__dict__, "max_iterations": b}))
        for s, b in zip(schedules, budgets)
    ]
    together: dict[int, optuna_clr.TrainResult] = {}
    train_fused(
        digits,
        model,
        config,
        [FusedJob(s, max_iterations=b, key=i) for i, (s, b) in enumerate(zip(schedules, budgets))],
        capacity=3,
        on_done=lambda job, r: together.__setitem__(job.key, r),
    )
    assert len(together) == len(schedules)
    for i, a in enumerate(alone):
        b = together[i]
        assert (b.iterations_to_target, b.stop_reason, b.iterations, b.diverged_at) == (
            a.iterations_to_target,
            a.stop_reason,
            a.iterations,
            a.diverged_at,
        ), schedules[i]
        assert [e.step for e in b.curve] == [e.step for e in a.curve]
    assert any(r.reached for r in alone)
    assert model != "mlp" or any(r.stop_reason == "diverged" for r in alone)


def test_each_trial_stops_on_its_own_callback(digits):
    config = TrainConfig(
        max_iterations=300, eval_every=20, target_accuracy=None, batch_size=32, device="cpu"
    )
    stops = {0: 40, 1: 100, 2: 300}
    done = {}
    jobs = [
        FusedJob(S.Fixed(0.05), key=k, callback=lambda ev, k=k: ev.step >= stops[k]) for k in stops
    ]
    train_fused(
        digits,
        "mlp",
        config,
        jobs,
        capacity=3,
        on_done=lambda job, r: done.__setitem__(job.key, r),
    )
    assert {k: r.iterations for k, r in done.items()} == stops
    assert all(
        r.stop_reason == "callback" and r.test_accuracy is None for r in done.values()
    )  # as train() does
    assert [e.step for e in done[1].curve] == list(range(20, 101, 20))


def test_what_is_not_fused_says_why():
    config = TrainConfig(max_iterations=10)
    assert fusable(S.Fixed(0.1), config) is None
    assert "batch size" in fusable(
        S.BatchSizeIncrease(lr=0.1, batch_size=8, max_batch_size=64, milestones=[100]), config
    )
    assert "SGD only" in fusable(S.Fixed(0.1), TrainConfig(max_iterations=10, optimizer="adam"))


def objective(**kw):
    space = optuna_clr.ScheduleSpace(
        families=["fixed", "triangular2", "batch_growth"],
        lr=(0.01, 0.3),
        iterations_per_epoch=35,
        max_iterations=400,
        batch_size=32,
        max_batch_size=128,
    )
    return optuna_clr.IterationsToTarget(
        task="digits",
        model="mlp",
        batch_size=32,
        target_accuracy=0.95,
        max_iterations=400,
        eval_every=10,
        device="cpu",
        space=space,
        **kw,
    )


def test_study_with_parallel_trials(tmp_path):
    study = optuna.create_study(
        storage=f"sqlite:///{tmp_path / 's.db'}",
        direction="minimize",
        sampler=optuna.samplers.RandomSampler(seed=1),
        pruner=optuna_clr.TargetPruner(),
    )
    optimize(study, objective(), n_trials=12, parallel=4)
    states = [t.state for t in study.trials]
    assert len(states) == 12 and TrialState.RUNNING not in states
    assert states.count(TrialState.COMPLETE) >= 2 and set(states) <= {
        TrialState.COMPLETE,
        TrialState.PRUNED,
    }
    families = {t.params["family"] for t in study.trials}
    assert "batch_growth" in families  # trained alone, between the fused ones
    for t in study.trials:
        if t.state == TrialState.COMPLETE and t.user_attrs["reached"]:
            assert t.value == t.user_attrs["iterations_to_target"] and t.value % 10 == 0
            assert accuracy_curve(t)[-1][1] >= 0.95  # reached at the last report


def test_interrupted_parallel_study_leaves_no_trial_running(tmp_path):
    storage = f"sqlite:///{tmp_path / 's.db'}"
    study = optuna.create_study(
        storage=storage,
        study_name="s",
        direction="minimize",
        sampler=optuna.samplers.RandomSampler(seed=0),
    )

    def interrupt(study, trial):
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        optimize(study, objective(), n_trials=8, parallel=4, callbacks=[interrupt])
    states = [t.state for t in optuna.load_study(study_name="s", storage=storage).trials]
    assert TrialState.RUNNING not in states and TrialState.FAIL in states
    assert (
        states.count(TrialState.COMPLETE) + states.count(TrialState.PRUNED) == 1
    )  # the one told before Ctrl-C
    queued = states.count(TrialState.WAITING)  # the interrupted trials, queued to run again
    assert queued == states.count(TrialState.FAIL)
    optimize(study, objective(), n_trials=2, parallel=2)  # and it resumes: the queued ones first
    after = [t.state for t in study.trials]
    assert len(after) == len(states) + max(0, 2 - queued)
    assert TrialState.RUNNING not in after
    assert after.count(TrialState.WAITING) == max(0, queued - 2)


TrialState = optuna.trial.TrialState


def test_budgets_that_end_between_evaluations_refill_the_stack(digits):
    # all trials end off an evaluation boundary: the next ones start at once, not after a wait
    config = TrainConfig(
        max_iterations=7, eval_every=10**9, batch_size=32, device="cpu", target_accuracy=None
    )
    results = train_fused(
        digits, "mlp", config, [FusedJob(S.Fixed(0.05)) for _ in range(5)], capacity=2
    )
    assert [r.iterations for r in results] == [7] * 5
    assert all(r.stop_reason == "max_iterations" for r in results)


class _PartlyFrozen(torch.nn.Module):
    """A frozen first layer and a layer the forward pass never uses (no gradient at all)."""

    def __init__(self) -> None:
        super().__init__()
        self.frozen = torch.nn.Linear(64, 32)
        self.frozen.requires_grad_(False)
        self.head = torch.nn.Linear(32, 10)
        self.unused = torch.nn.Linear(4, 4)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(torch.relu(self.frozen(x.flatten(1))))


def test_frozen_and_unused_parameters_train_as_in_one_trial(digits):
    config = TrainConfig(
        max_iterations=300,
        eval_every=10,
        target_accuracy=0.9,
        batch_size=32,
        device="cpu",
        weight_decay=1e-4,
        dtype="float64",
        seed=1,
    )
    schedules = [S.Fixed(0.05), S.Triangular(0.01, 0.2, 50)]
    alone = [train(digits, _PartlyFrozen, s, config) for s in schedules]
    together: dict[int, optuna_clr.TrainResult] = {}
    train_fused(
        digits,
        _PartlyFrozen,
        config,
        [FusedJob(s, key=i) for i, s in enumerate(schedules)],
        capacity=2,
        on_done=lambda job, r: together.__setitem__(job.key, r),
    )
    for i, a in enumerate(alone):
        assert [e.accuracy for e in together[i].curve] == [e.accuracy for e in a.curve]
        assert together[i].iterations_to_target == a.iterations_to_target


def test_seeds_of_one_configuration_fused_equal_them_one_by_one():
    # each seed brings its own validation split (a task of its own) to the stack; float64, as
    # above, so the stacked kernels' last bits cannot move a crossing
    experiment = optuna_clr.Experiment(
        task="digits",
        model="mlp",
        config=TrainConfig(
            max_iterations=400,
            eval_every=10,
            target_accuracy=0.96,
            batch_size=32,
            device="cpu",
            dtype="float64",
        ),
    )
    schedule = S.Triangular(0.01, 0.2, 50)
    seeds = [1, 2, 3, 4, 5]
    alone = experiment.run_seeds(schedule, seeds)
    heard: list[int] = []
    together = experiment.run_seeds(
        schedule, seeds, parallel=3, on_done=lambda seed, r: heard.append(seed)
    )
    assert sorted(heard) == seeds
    # the splits differ, so the seeds' curves do too: the stack did not share one split
    assert len({tuple(e.accuracy for e in r.curve) for r in alone}) == len(seeds)
    for a, b in zip(alone, together):
        assert [e.accuracy for e in b.curve] == [e.accuracy for e in a.curve]
        assert (b.iterations_to_target, b.stop_reason) == (a.iterations_to_target, a.stop_reason)
        assert b.test_accuracy == a.test_accuracy


def test_a_job_with_a_task_of_other_sizes_is_refused(digits):
    config = TrainConfig(max_iterations=50, eval_every=10, batch_size=32, device="cpu")
    other = optuna_clr.training.tasks.load("digits", validation=0.3)
    with pytest.raises(ValueError, match="split sizes and image shape"):
        train_fused(digits, "mlp", config, [FusedJob(S.Fixed(0.1), task=other)], capacity=2)
