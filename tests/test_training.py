from __future__ import annotations

import pytest
import torch

from optuna_clr import schedules as S
from optuna_clr.training.engine import augment_batch
from optuna_clr.training.engine import OPTIMIZERS
from optuna_clr.training.engine import train
from optuna_clr.training.engine import TrainConfig


def config(**kw):
    base = dict(
        max_iterations=1500, eval_every=10, target_accuracy=0.95, batch_size=32, device="cpu"
    )
    return TrainConfig(**{**base, **kw})


def test_reaches_a_reachable_target_at_an_evaluation(digits):
    result = train(digits, "mlp", S.Fixed(0.05), config())
    assert result.reached and result.stop_reason == "target"
    assert (
        result.iterations_to_target % 10 == 0 and result.iterations_to_target == result.iterations
    )
    assert result.curve[-1].accuracy >= 0.95 > max(e.accuracy for e in result.curve[:-1])
    assert result.examples_seen == 32 * result.iterations
    assert 0.8 < result.test_accuracy <= 1.0
    assert [e.step for e in result.curve] == list(range(10, result.iterations + 1, 10))


def test_same_seed_same_result_on_cpu(digits):
    a = train(digits, "mlp", S.Triangular2(0.01, 0.2, 100), config(augment=True, seed=5))
    b = train(digits, "mlp", S.Triangular2(0.01, 0.2, 100), config(augment=True, seed=5))
    c = train(digits, "mlp", S.Triangular2(0.01, 0.2, 100), config(augment=True, seed=6))
    assert a.iterations_to_target == b.iterations_to_target
    assert [e.accuracy for e in a.curve] == [e.accuracy for e in b.curve]
    assert [e.loss for e in a.curve] == [e.loss for e in b.curve]
    assert [e.loss for e in a.curve] != [e.loss for e in c.curve]


def test_unreachable_target_runs_the_budget(digits):
    result = train(digits, "mlp", S.Fixed(0.05), config(target_accuracy=1.0, max_iterations=105))
    assert not result.reached and result.iterations_to_target is None
    assert result.stop_reason == "max_iterations" and result.iterations == 105
    assert result.curve[-1].step == 105  # the budget's end is always evaluated
    assert result.best_accuracy == max(e.accuracy for e in result.curve)


def test_nan_loss_stops_the_run_and_names_the_step(digits):
    result = train(digits, "mlp", S.Fixed(1e6), config(eval_every=50))
    assert result.stop_reason == "diverged" and not result.reached
    assert result.diverged_at is not None and 0 <= result.diverged_at < 50
    assert result.iterations == 50  # caught at the first evaluation, nothing trained after it


def test_every_optimizer_learns(digits):
    lrs = {
        "sgd": 0.05,
        "nesterov": 0.05,
        "adam": 0.003,
        "adamw": 0.003,
        "rmsprop": 0.001,
        "adagrad": 0.05,
        "adadelta": 1.0,
        "sgd_schedulefree": 0.5,  # the [baselines] extra: tests/test_baselines.py
        "adamw_schedulefree": 0.005,
        "prodigy": 1.0,
    }
    assert set(lrs) == set(OPTIMIZERS)
    for name, lr in lrs.items():
        result = train(
            digits,
            "mlp",
            S.Fixed(lr),
            config(optimizer=name, target_accuracy=0.9, max_iterations=600),
        )
        assert result.reached, (name, result.best_accuracy)


def test_schedule_drives_lr_momentum_and_batch_size(digits):
    cycle = S.OneCycle(max_lr=0.1, total_steps=200, base_momentum=0.8, max_momentum=0.95)
    net = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(64, 10))
    opt = torch.optim.SGD(net.parameters(), lr=0.0, momentum=0.0)
    seen = []
    train(
        digits,
        net,
        cycle,
        config(target_accuracy=None, max_iterations=200, eval_every=50),
        optimizer=opt,
        callback=lambda ev: seen.append(
            (ev.lr, opt.param_groups[0]["lr"], opt.param_groups[0]["momentum"])
        ),
    )
    steps = (50, 100, 150, 200)
    assert seen == [(cycle.lr(s - 1), cycle.lr(s - 1), cycle.momentum(s - 1)) for s in steps]
    assert len({m for _, _, m in seen}) == 4  # the momentum moved with the cycle
    grow = S.BatchSizeIncrease(lr=0.05, batch_size=16, max_batch_size=256, milestones=[1600, 4000])
    result = train(
        digits, "mlp", grow, config(target_accuracy=None, max_iterations=150, eval_every=50)
    )
    assert (
        result.examples_seen
        == sum(grow.batch_size(s) for s in range(150))
        == grow.examples_seen(150)
    )


def test_example_budget_and_callback_stop(digits):
    result = train(digits, "mlp", S.Fixed(0.01), config(target_accuracy=1.0, max_examples=3200))
    assert result.stop_reason == "max_examples" and result.examples_seen == 3200
    result = train(
        digits,
        "mlp",
        S.Fixed(0.01),
        config(target_accuracy=1.0),
        callback=lambda ev: ev.step >= 30,
    )
    assert result.stop_reason == "callback" and result.iterations == 30


def test_your_own_module_and_optimizer(digits):
    net = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(64, 10))
    opt = torch.optim.SGD(net.parameters(), lr=0.0, momentum=0.5)
    result = train(digits, net, S.Fixed(0.1), config(target_accuracy=0.9), optimizer=opt)
    assert result.reached
    assert opt.state  # the user's optimizer did the updates


def test_augmentation_translates_and_flips_on_the_device():
    gen = torch.Generator().manual_seed(0)
    x = torch.arange(2 * 3 * 8 * 8, dtype=torch.float32).reshape(2, 3, 8, 8)
    y = augment_batch(x, gen, pad=0)
    for i in range(2):  # with no translation, each image is itself or its mirror
        assert torch.equal(y[i], x[i]) or torch.equal(y[i], x[i].flip(2))
    z = augment_batch(x, torch.Generator().manual_seed(1), pad=2)
    assert z.shape == x.shape
    shifted = 0
    for i in range(
        2
    ):  # each image is itself or its mirror, moved by up to 2 px with zeros brought in
        padded = [torch.nn.functional.pad(v, (2, 2, 2, 2)) for v in (x[i], x[i].flip(2))]
        matches = [
            (dy, dx)
            for v in padded
            for dy in range(5)
            for dx in range(5)
            if torch.equal(z[i], v[:, dy : dy + 8, dx : dx + 8])
        ]
        assert matches, f"image {i} is not a translated copy"
        shifted += (2, 2) not in matches
    assert shifted >= 1  # seed 1 moves at least one of them


def test_config_errors_name_the_field():
    with pytest.raises(ValueError, match="unknown optimizer 'lbfgs'"):
        TrainConfig(max_iterations=10, optimizer="lbfgs")
    with pytest.raises(ValueError, match="max_iterations must be > 0, got 0"):
        TrainConfig(max_iterations=0)
    with pytest.raises(ValueError, match="target_accuracy"):
        TrainConfig(max_iterations=10, target_accuracy=1.5)
    with pytest.raises(ValueError, match="Nesterov SGD needs momentum > 0"):
        TrainConfig(max_iterations=10, optimizer="nesterov", momentum=0.0)


def test_a_stopped_run_is_not_tested_and_a_huge_eval_every_allocates_nothing(digits):
    stopped = train(digits, "mlp", S.Fixed(0.05), config(), callback=lambda ev: True)
    assert (
        stopped.stop_reason == "callback" and stopped.test_accuracy is None
    )  # pruned: not worth a test pass
    budget = train(
        digits,
        "mlp",
        S.Fixed(0.05),
        config(target_accuracy=None, max_iterations=20, eval_every=10**12),
    )
    assert (
        budget.iterations == 20
        and [e.step for e in budget.curve] == [20]
        and budget.test_accuracy > 0.1
    )
