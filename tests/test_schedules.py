"""Every closed form against an independent reference, value by value, over >= 10,000 steps."""

from __future__ import annotations

import json
import math

import pytest
import torch

import optuna_clr
from optuna_clr import schedules as S


STEPS = 12_000


def torch_lrs(make_scheduler, steps, lr=1.0, optimizer=torch.optim.SGD, **opt_kwargs):
    """The LR (and momentum) torch uses for updates 0..steps-1."""
    param = torch.nn.Parameter(torch.zeros(1))
    opt = optimizer([param], lr=lr, **opt_kwargs)
    sched = make_scheduler(opt)
    lrs, moms = [], []
    for _ in range(steps):
        lrs.append(opt.param_groups[0]["lr"])
        moms.append(opt.param_groups[0].get("momentum"))
        opt.step()
        sched.step()
    return lrs, moms


# --- independent references, written from the papers' formulas ---


def smith(step, base_lr, max_lr, step_size, scale):
    cycle = math.floor(1 + step / (2 * step_size))
    x = abs(step / step_size - 2 * cycle + 1)
    return base_lr + (max_lr - base_lr) * max(0.0, 1 - x) * scale(cycle, step)


@pytest.mark.parametrize(
    "schedule, scale",
    [
        (S.Triangular(0.001, 0.006, 2000), lambda c, s: 1.0),
        (S.Triangular2(0.001, 0.006, 2000), lambda c, s: 1 / 2 ** (c - 1)),
        (S.ExpRange(0.001, 0.006, 2000, 0.99994), lambda c, s: 0.99994**s),
        (S.Triangular(0.0, 0.1, 37), lambda c, s: 1.0),
        (S.Triangular2(0.02, 0.3, 501), lambda c, s: 1 / 2 ** (c - 1)),
    ],
)
def test_cyclical_families_follow_smiths_formula(schedule, scale):
    for step in range(STEPS):
        expected = smith(step, schedule.base_lr, schedule.max_lr, schedule.step_size, scale)
        assert schedule.lr(step) == pytest.approx(expected, rel=1e-12, abs=1e-15), step


@pytest.mark.parametrize(
    "schedule, torch_mode",
    [
        (S.Triangular(0.001, 0.006, 2000), dict(mode="triangular")),
        (S.Triangular2(0.001, 0.006, 2000), dict(mode="triangular2")),
        (S.ExpRange(0.001, 0.006, 2000, 0.99994), dict(mode="exp_range", gamma=0.99994)),
        (S.Triangular2(0.05, 0.25, 333), dict(mode="triangular2")),
    ],
)
def test_cyclical_families_equal_torch_cycliclr(schedule, torch_mode):
    lrs, _ = torch_lrs(
        lambda opt: torch.optim.lr_scheduler.CyclicLR(
            opt,
            base_lr=schedule.base_lr,
            max_lr=schedule.max_lr,
            step_size_up=schedule.step_size,
            cycle_momentum=False,
            **torch_mode,
        ),
        STEPS,
    )
    assert [schedule.lr(s) for s in range(STEPS)] == lrs  # bit-identical


def test_clr_paper_worked_values():
    tri = S.Triangular(base_lr=0.001, max_lr=0.006, step_size=2000)
    assert tri.lr(0) == 0.001
    assert tri.lr(2000) == pytest.approx(0.006, rel=1e-12)
    assert tri.lr(4000) == pytest.approx(0.001, rel=1e-12)
    assert tri.lr(1000) == pytest.approx(0.0035, rel=1e-12)
    tri2 = S.Triangular2(base_lr=0.001, max_lr=0.006, step_size=2000)
    peaks = [tri2.lr(s) for s in (2000, 6000, 10000)]
    assert peaks == pytest.approx([0.006, 0.0035, 0.00225], rel=1e-12)
    assert max(tri2.lr(s) for s in range(4000, 8000)) == pytest.approx(0.0035, rel=1e-12)
    baseline = S.StepDecay(lr=0.001, gamma=0.1, milestones=[60000, 65000])
    assert [baseline.lr(s) for s in (0, 59999, 60000, 64999, 65000, 70000)] == pytest.approx(
        [0.001, 0.001, 1e-4, 1e-4, 1e-5, 1e-5], rel=1e-12
    )


def test_cosine_restarts_equal_torch():
    for period, mult in [(1000, 1), (700, 2), (50, 3)]:
        sched = S.CosineRestarts(max_lr=0.1, min_lr=0.001, period=period, period_mult=mult)
        lrs, _ = torch_lrs(
            lambda opt, period=period, mult=mult: (
                torch.optim.lr_scheduler.CosineAnnealingWarmRestarts(
                    opt, T_0=period, T_mult=mult, eta_min=0.001
                )
            ),
            STEPS,
            lr=0.1,
        )
        assert [sched.lr(s) for s in range(STEPS)] == lrs, (period, mult)
        ends = sched.cycle_ends(STEPS)
        assert all(sched.lr(e) == sched.max_lr for e in ends)  # a restart right after each end


@pytest.mark.parametrize("three_phase, pct", [(False, 0.3), (True, 0.25), (False, 0.05)])
def test_one_cycle_equals_torch(three_phase, pct):
    sched = S.OneCycle(
        max_lr=0.2,
        total_steps=STEPS,
        pct_start=pct,
        three_phase=three_phase,
        base_momentum=0.85,
        max_momentum=0.95,
    )
    lrs, moms = torch_lrs(
        lambda opt: torch.optim.lr_scheduler.OneCycleLR(
            opt,
            max_lr=0.2,
            total_steps=STEPS,
            pct_start=pct,
            three_phase=three_phase,
            base_momentum=0.85,
            max_momentum=0.95,
        ),
        STEPS,
        momentum=0.9,
    )
    assert [sched.lr(s) for s in range(STEPS)] == lrs
    assert [sched.momentum(s) for s in range(STEPS)] == moms
    assert sched.lr(STEPS + 500) == sched.lr(STEPS - 1)  # holds its final value afterwards


def test_step_and_exponential_decay_match_torch():
    step = S.StepDecay(lr=0.5, gamma=0.2, milestones=[1000, 4000, 9000])
    lrs, _ = torch_lrs(
        lambda o: torch.optim.lr_scheduler.MultiStepLR(o, [1000, 4000, 9000], 0.2), STEPS, lr=0.5
    )
    assert [step.lr(s) for s in range(STEPS)] == pytest.approx(lrs, rel=1e-12)
    every = S.StepDecay(lr=0.5, gamma=0.2, step_size=700)
    lrs, _ = torch_lrs(lambda o: torch.optim.lr_scheduler.StepLR(o, 700, 0.2), STEPS, lr=0.5)
    assert [every.lr(s) for s in range(STEPS)] == pytest.approx(lrs, rel=1e-12)
    assert every.label() == "step(lr=0.5, gamma=0.2, step_size=700)"
    exp = S.ExponentialDecay(lr=0.5, gamma=0.9997)
    lrs, _ = torch_lrs(lambda o: torch.optim.lr_scheduler.ExponentialLR(o, 0.9997), STEPS, lr=0.5)
    # torch multiplies step by step; the closed form has no accumulated rounding.
    assert [exp.lr(s) for s in range(STEPS)] == pytest.approx(lrs, rel=1e-9)


def test_inverse_time_and_linear_decay_closed_forms():
    inv = S.InverseTimeDecay(lr=0.01, gamma=1e-4, power=0.75)
    for s in range(STEPS):
        assert inv.lr(s) == pytest.approx(0.01 / (1 + 1e-4 * s) ** 0.75, rel=1e-12)
    assert S.InverseTimeDecay(lr=1.0, gamma=1e-4).lr(10_000) == pytest.approx(0.5)
    lin = S.LinearDecay(max_lr=0.006, base_lr=0.001, step_size=2000)
    expected = [0.006 - 0.005 * min(s, 2000) / 2000 for s in range(STEPS)]
    assert [lin.lr(s) for s in range(STEPS)] == pytest.approx(expected, rel=1e-12)
    assert lin.lr(1000) == pytest.approx(0.0035)


def test_batch_size_increase_replaces_each_decay_by_a_batch_increase():
    epoch = 50_000
    grow = S.BatchSizeIncrease.from_epochs(
        lr=0.1,
        batch_size=128,
        max_batch_size=5000,
        milestone_epochs=[60, 120, 160],
        epoch_size=epoch,
    )
    assert grow.milestones == (3_000_000, 6_000_000, 8_000_000)
    # Reference: walk update by update, counting examples.
    seen, batch, lr = 0, 128, 0.1
    passed = 0
    step = 0
    while seen < 10_000_000:
        while passed < 3 and seen >= grow.milestones[passed]:
            if batch * 5 <= 5000:
                batch *= 5
            else:
                lr /= 5
            passed += 1
        assert (grow.batch_size(step), grow.examples_seen(step)) == (batch, seen), step
        assert grow.lr(step) == pytest.approx(lr, rel=1e-12), step
        seen += batch
        step += 1
    assert batch == 3200 and lr == pytest.approx(0.02)  # two increases, then one LR decay
    # Parameter updates for 10M examples: 23,438 at batch 128, 4,688 at 640, 1,250 at 3200,
    # against 78,125 for the equivalent step decay at batch 128.
    assert step == 23_438 + 4_688 + 625 + 625


ALL = [
    S.Fixed(lr=0.1),
    S.StepDecay(lr=0.001, gamma=0.1, milestones=[60000, 65000]),
    S.ExponentialDecay(lr=0.1, gamma=0.9999),
    S.InverseTimeDecay(lr=0.1, gamma=1e-4, power=0.75),
    S.LinearDecay(max_lr=0.006, base_lr=0.001, step_size=2000),
    S.Triangular(base_lr=0.001, max_lr=0.006, step_size=2000),
    S.Triangular2(base_lr=0.001, max_lr=0.006, step_size=2000),
    S.ExpRange(base_lr=0.001, max_lr=0.006, step_size=2000, gamma=0.99994),
    S.CosineRestarts(max_lr=0.1, min_lr=0.0, period=1000, period_mult=2),
    S.OneCycle(max_lr=0.1, total_steps=5000, base_momentum=0.85, max_momentum=0.95),
    S.BatchSizeIncrease(
        lr=0.1, batch_size=100, max_batch_size=4500, milestones=[100_000, 200_000, 300_000]
    ),
]


def test_every_family_is_covered():
    assert (
        {s.family for s in ALL}
        == set(S.FAMILIES)
        >= {
            "fixed",
            "step",
            "exp",
            "inv",
            "linear_decay",
            "triangular",
            "triangular2",
            "exp_range",
            "cosine",
            "one_cycle",
            "batch_growth",
        }
    )


@pytest.mark.parametrize("schedule", ALL, ids=lambda s: s.family)
def test_to_dict_round_trips_through_json(schedule):
    d = json.loads(json.dumps(schedule.to_dict()))
    assert d["family"] == schedule.family
    rebuilt = S.from_dict(d)
    assert rebuilt == schedule and hash(rebuilt) == hash(schedule)
    assert [rebuilt.lr(s) for s in range(0, 20000, 7)] == [
        schedule.lr(s) for s in range(0, 20000, 7)
    ]


@pytest.mark.parametrize("schedule", ALL, ids=lambda s: s.family)
def test_apply_and_torch_scheduler_give_the_closed_form(schedule):
    steps = 3000
    model = torch.nn.Linear(2, 1)
    groups = [
        {"params": [model.weight]},
        {"params": [model.bias], "lr_scale": 2.0},  # Caffe's lr_mult for biases
    ]
    by_apply = torch.optim.SGD(groups, lr=123.0, momentum=0.9)
    by_sched = torch.optim.SGD([dict(g) for g in groups], lr=123.0, momentum=0.9)
    adam = torch.optim.Adam(model.parameters(), lr=1.0)
    scheduler = schedule.torch_scheduler(by_sched)
    assert isinstance(scheduler, torch.optim.lr_scheduler.LRScheduler)
    for step in range(steps):
        schedule.apply(by_apply, step)
        schedule.apply(adam, step)
        expected = schedule.lr(step)
        assert [g["lr"] for g in by_apply.param_groups] == [expected, 2 * expected]
        assert [g["lr"] for g in by_sched.param_groups] == [expected, 2 * expected]
        if schedule.momentum(step) is not None:
            assert by_apply.param_groups[0]["momentum"] == schedule.momentum(step)
            assert by_sched.param_groups[0]["momentum"] == schedule.momentum(step)
            assert adam.param_groups[0]["betas"][0] == schedule.momentum(step)
        by_sched.step()
        scheduler.step()


def test_apply_keeps_tensor_learning_rates_as_tensors():
    param = torch.nn.Parameter(torch.zeros(3))
    opt = torch.optim.Adam([param], lr=torch.tensor(0.5))
    lr_tensor = opt.param_groups[0]["lr"]
    S.Triangular(0.01, 0.1, 10).apply(opt, 10)
    assert opt.param_groups[0]["lr"] is lr_tensor and float(lr_tensor) == pytest.approx(0.1)


@pytest.mark.parametrize(
    "make, message",
    [
        (
            lambda: S.Triangular(base_lr=0.006, max_lr=0.001, step_size=2000),
            "max_lr must be > base_lr",
        ),
        (
            lambda: S.Triangular(base_lr=0.001, max_lr=0.001, step_size=2000),
            "max_lr must be > base_lr",
        ),
        (
            lambda: S.Triangular2(base_lr=0.001, max_lr=0.006, step_size=0),
            "step_size must be an integer >= 1",
        ),
        (lambda: S.ExpRange(0.001, 0.006, 2000, gamma=1.5), "gamma must be in (0, 1]"),
        (lambda: S.ExpRange(0.001, 0.006, 2000, gamma=0.0), "gamma must be in (0, 1]"),
        (lambda: S.StepDecay(lr=0.1, gamma=0.1, milestones=[]), "non-empty"),
        (
            lambda: S.StepDecay(lr=0.1, gamma=0.1),
            "or step_size",
        ),
        (lambda: S.StepDecay(lr=0.1, gamma=0.1, milestones=[9], step_size=9), "not both"),
        (lambda: S.StepDecay(lr=0.1, gamma=0.1, milestones=[500, 100]), "strictly increasing"),
        (lambda: S.Fixed(lr=-1.0), "lr must be > 0"),
        (lambda: S.Fixed(lr=float("nan")), "finite"),
        (lambda: S.ExponentialDecay(lr=0.1, gamma=2.0), "gamma must be in (0, 1]"),
        (lambda: S.InverseTimeDecay(lr=0.1, gamma=-1.0), "gamma must be > 0"),
        (
            lambda: S.LinearDecay(max_lr=0.001, base_lr=0.006, step_size=10),
            "max_lr must be > base_lr",
        ),
        (
            lambda: S.CosineRestarts(max_lr=0.1, min_lr=0.0, period=10, period_mult=0),
            "period_mult",
        ),
        (lambda: S.OneCycle(max_lr=0.1, total_steps=100, pct_start=1.2), "pct_start"),
        (
            lambda: S.OneCycle(
                max_lr=0.1, total_steps=100, pct_start=0.4, three_phase=True, base_momentum=0.9
            ),
            "both",
        ),
        (
            lambda: S.BatchSizeIncrease(
                lr=0.1, batch_size=128, max_batch_size=64, milestones=[10]
            ),
            "max_batch_size",
        ),
        (
            lambda: S.BatchSizeIncrease(
                lr=0.1, batch_size=128, max_batch_size=640, milestones=[10], factor=1.0
            ),
            "factor",
        ),
        (
            lambda: S.from_dict({"family": "triangle", "base_lr": 0.1}),
            "unknown schedule family 'triangle'",
        ),
        (
            lambda: S.from_dict({"family": "fixed", "learning_rate": 0.1}),
            "unknown parameter(s) ['learning_rate']",
        ),
    ],
)
def test_invalid_parameters_name_the_parameter_and_the_range(make, message):
    with pytest.raises(ValueError, match=None) as info:
        make()
    assert message in str(info.value)


def test_cycle_ends_mark_the_lr_minimum():
    tri = S.Triangular2(0.001, 0.006, 2000)
    assert tri.cycle_ends(12_000) == [4000, 8000, 12000]
    assert all(tri.lr(e) == tri.base_lr for e in tri.cycle_ends(12_000))
    assert S.Fixed(0.1).cycle_ends(10_000) == []
    assert S.OneCycle(max_lr=0.1, total_steps=500).cycle_ends(1000) == [500]


@pytest.mark.parametrize("schedule", ALL, ids=lambda s: s.family)
def test_only_one_cycle_stops_cycling_at_its_last_cycle_end(schedule):
    final = schedule.final_cycle_end()
    if schedule.family != "one_cycle":
        assert final is None
        return
    assert final == schedule.total_steps == schedule.cycle_ends(10**6)[-1]
    low = schedule.lr(final - 1)
    assert all(
        schedule.lr(s) == low <= schedule.lr(k)
        for s in range(final, final + 2000, 7)
        for k in range(final)
    )


def test_apply_and_torch_scheduler_move_adams_beta1_and_scale_each_group_alike():
    one = S.OneCycle(max_lr=0.1, total_steps=400, base_momentum=0.85, max_momentum=0.95)
    model = torch.nn.Linear(2, 1)

    def adam():
        return torch.optim.Adam(
            [{"params": [model.weight]}, {"params": [model.bias], "lr_scale": 0.5}],
            lr=1.0,
            betas=(0.9, 0.99),
        )

    by_apply, by_sched = adam(), adam()
    scheduler = one.torch_scheduler(by_sched)
    for step in range(400):
        one.apply(by_apply, step)
        for opt in (by_apply, by_sched):
            assert [g["lr"] for g in opt.param_groups] == [one.lr(step), 0.5 * one.lr(step)]
            assert [g["betas"] for g in opt.param_groups] == [(one.momentum(step), 0.99)] * 2
        by_sched.step()
        scheduler.step()


def test_plot_schedule_draws_lr_and_moving_batch_size(tmp_path):
    fig = optuna_clr.study.notes.plot_schedule(S.Triangular2(0.001, 0.006, 200), 1200)
    line = fig.axes[0].lines[0]
    assert list(line.get_ydata()[:3]) == [S.Triangular2(0.001, 0.006, 200).lr(s) for s in range(3)]
    assert len(fig.axes) == 1
    grow = ALL[-1]
    fig = optuna_clr.study.notes.plot_schedule(grow, 3500)
    assert len(fig.axes) == 2  # a second axis for the batch size
    assert max(fig.axes[1].lines[0].get_ydata()) == 2500
    fig.savefig(tmp_path / "s.png")
    assert (tmp_path / "s.png").stat().st_size > 1000


def test_a_schedule_that_never_changed_its_lr_is_in_effect_a_fixed_lr():
    step = S.StepDecay(lr=0.087, gamma=0.11, step_size=99)
    assert step.effective(80) == S.Fixed(lr=0.087)  # stopped before its first drop
    assert step.effective(99) == S.Fixed(lr=0.087)  # updates 0..98 all at 0.087
    assert step.effective(100) is step
    fixed = S.Fixed(lr=0.05)
    assert fixed.effective(500) is fixed
    tri = S.Triangular(base_lr=0.01, max_lr=0.1, step_size=50)
    assert tri.effective(10) is tri  # a ramp is not a fixed LR
    grow = S.BatchSizeIncrease(lr=0.1, batch_size=32, max_batch_size=512, milestones=[10**6])
    assert grow.effective(10) is grow  # its batch size is its own, not the trainer's
