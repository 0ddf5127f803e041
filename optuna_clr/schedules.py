"""Learning-rate (and batch-size) schedules as pure closed forms of the step.

A *step* is one parameter update, counted from 0; ``schedule.lr(step)`` is the learning rate
of that update. Every schedule is an immutable value: it has no hidden state and does not
depend on the order in which it is asked, so the trainer, the fused K-trial engine, a plot
and a torch ``LRScheduler`` all read the same numbers.

The families follow the papers behind optuna_clr:

* Smith, *Cyclical Learning Rates for Training Neural Networks* (WACV 2017):
  :class:`Triangular`, :class:`Triangular2`, :class:`ExpRange` and the "decay" policy
  :class:`LinearDecay`; Caffe's classic policies :class:`StepDecay` (multistep),
  :class:`ExponentialDecay` and :class:`InverseTimeDecay` ("inv") are the baselines.
* Smith, Kindermans, Ying and Le, *Don't Decay the Learning Rate, Increase the Batch Size*
  (ICLR 2018): :class:`BatchSizeIncrease`.
* Loshchilov and Hutter's SGDR (:class:`CosineRestarts`) and Smith's 1cycle as implemented by
  ``torch.optim.lr_scheduler.OneCycleLR`` (:class:`OneCycle`).

The cyclical families use the same floating-point arithmetic as
``torch.optim.lr_scheduler.CyclicLR``, ``CosineAnnealingWarmRestarts`` and ``OneCycleLR``, so
their values are bit-identical to torch's; the tests also check them against Smith's formula.

Example:

    .. testcode::

        import optuna_clr

        s = optuna_clr.schedules.Triangular2(base_lr=0.001, max_lr=0.006, step_size=2000)
        assert s.lr(0) == 0.001
        assert abs(s.lr(2000) - 0.006) < 1e-15      # first peak
        assert abs(s.lr(6000) - 0.0035) < 1e-15     # second peak, amplitude halved
        assert optuna_clr.schedules.from_dict(s.to_dict()) == s
"""

from __future__ import annotations

import bisect
import dataclasses
import inspect
import math
from typing import Any
from typing import cast
from typing import ClassVar
from typing import TYPE_CHECKING


if TYPE_CHECKING:
    import torch


FAMILIES: dict[str, type[Schedule]] = {}
"""Every schedule class by its family name (``"triangular2"`` -> :class:`Triangular2`)."""


class Schedule:
    """Base class: a learning rate (and optionally batch size and momentum) per step.

    Subclasses are frozen dataclasses that define ``family`` and :meth:`lr`; those that also
    move the batch size or the momentum override :meth:`batch_size` / :meth:`momentum`, which
    return ``None`` here ("not moved: use the trainer's own value").
    """

    family: ClassVar[str] = ""
    moves_batch_size: ClassVar[bool] = False
    cycles: ClassVar[bool] = False  # True for the families whose LR returns to a low point

    def __init_subclass__(cls, register: bool = True, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if cls.family and register:
            FAMILIES[cls.family] = cls

    def lr(self, step: int) -> float:
        """The learning rate of update ``step`` (0-based)."""
        raise NotImplementedError

    def batch_size(self, step: int) -> int | None:
        """The batch size of update ``step``, or ``None`` where the schedule does not move it."""
        return None

    def momentum(self, step: int) -> float | None:
        """The momentum (or Adam's beta1) of update ``step``, or ``None`` where not moved."""
        return None

    def cycle_ends(self, limit: int) -> list[int]:
        """Update counts ``<= limit`` after which a cycle is complete (the LR is back at its
        low point). Empty for schedules that do not cycle.

        Smith recommends ending training at a cycle end; the cycle-aware pruner compares
        cyclical trials only there.
        """
        return []

    def final_cycle_end(self) -> int | None:
        """The update after which the schedule no longer cycles and its LR stays at its low
        point (1cycle's ``total_steps``); ``None`` for schedules that cycle on, or never cycle.

        From there on every report is a fair comparison, so the cycle-aware pruner consults its
        wrapped pruner at each one, not only at the first after the end.
        """
        return None

    def next_cycle_end(self, step: int) -> int | None:
        """The first cycle end after update ``step``, or ``None`` where no cycle ends later."""
        final = self.final_cycle_end()
        limit = max(2 * step, 64)
        while self.cycles and limit < 2**40:
            later = [end for end in self.cycle_ends(limit) if end > step]
            if later:
                return later[0]
            if final is not None and final <= step:
                return None
            limit *= 2
        return None

    def cycles_completed(self, steps: int) -> float | None:
        """Cycles completed in ``steps`` updates, the one under way as a fraction of its
        length (a half cycle of 264 run for 230 updates: 0.44); ``None`` for a schedule that
        does not cycle."""
        if not self.cycles:
            return None
        done = self.cycle_ends(steps)
        start, end = (done[-1] if done else 0), self.next_cycle_end(steps)
        part = (steps - start) / (end - start) if end is not None else 0.0
        return len(done) + part

    def params(self) -> dict[str, Any]:
        """The constructor keywords and their values (tuples as lists, JSON-ready)."""
        out: dict[str, Any] = {}
        for name in inspect.signature(type(self)).parameters:
            # Keywords that share a name with a method (lr, batch_size) are kept as <name>_value.
            value = (
                getattr(self, f"{name}_value", None)
                if hasattr(self, f"{name}_value")
                else getattr(self, name)
            )
            out[name] = list(value) if isinstance(value, tuple) else value
        return out

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict that :func:`from_dict` turns back into an equal schedule."""
        return {"family": self.family, **self.params()}

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}({', '.join(f'{k}={v!r}' for k, v in self.params().items())})"
        )

    def effective(self, steps: int) -> Schedule:
        """The simplest schedule equal to this one over updates ``0 .. steps - 1``: a
        :class:`Fixed` where the LR never changed before ``steps`` (a step decay stopped
        before its first drop), else this schedule.

        Args:
            steps: the updates trained (to the target, for a run that reached it).

        Returns:
            A schedule that trains the same ``steps`` updates.

        Example:

            .. testcode::

                from optuna_clr.schedules import StepDecay

                step = StepDecay(lr=0.09, gamma=0.1, step_size=99)
                assert step.effective(80).label() == "fixed(lr=0.09)"
                assert step.effective(150) == step
        """
        moves = type(self).batch_size is not Schedule.batch_size
        moves = moves or type(self).momentum is not Schedule.momentum
        first = self.lr(0)
        if moves or any(self.lr(x) != first for x in range(1, max(steps, 1))):
            return self
        fixed = FAMILIES["fixed"](lr=first)  # type: ignore[call-arg]
        return self if fixed == self else fixed

    def label(self) -> str:
        """A short form for tables and plots: 4 significant digits, defaults left out."""

        def short(v: Any) -> str:
            if isinstance(v, float):
                return f"{v:.4g}"
            if isinstance(v, list):
                return "[" + ", ".join(short(x) for x in v) + "]"
            return repr(v)

        defaults = {n: p.default for n, p in inspect.signature(type(self)).parameters.items()}
        shown = {
            k: v for k, v in self.params().items() if defaults.get(k, inspect.Parameter.empty) != v
        }
        return f"{self.family}({', '.join(f'{k}={short(v)}' for k, v in shown.items())})"

    def apply(self, optimizer: torch.optim.Optimizer, step: int) -> None:
        """Set every param group of ``optimizer`` to this schedule's values for ``step``.

        Call it before ``optimizer.step()`` of update ``step``. A param group may carry an
        ``lr_scale`` entry (Caffe's ``lr_mult``), which multiplies the schedule's LR for that
        group. Momentum is set where the schedule moves it (``momentum`` for SGD and RMSprop,
        ``betas[0]`` for Adam-style optimizers).
        """
        for group, lr in zip(optimizer.param_groups, self._group_lrs(optimizer, step)):
            _set_group_value(group, "lr", lr)

    def torch_scheduler(
        self, optimizer: torch.optim.Optimizer
    ) -> torch.optim.lr_scheduler.LRScheduler:
        """A standard ``torch.optim.lr_scheduler.LRScheduler`` that follows this schedule.

        Call ``scheduler.step()`` after each ``optimizer.step()``, as with any torch scheduler;
        the LR of update ``k`` is then ``self.lr(k)``.
        """
        from torch.optim.lr_scheduler import LRScheduler

        schedule = self

        class ClosedFormLR(LRScheduler):
            def get_lr(self) -> list[float]:  # type: ignore[override]
                return schedule._group_lrs(self.optimizer, self.last_epoch)

        ClosedFormLR.__name__ = f"{type(self).__name__}LR"
        return ClosedFormLR(optimizer)

    def _group_lrs(self, optimizer: torch.optim.Optimizer, step: int) -> list[float]:
        """Each param group's LR for update ``step`` (the schedule's LR times the group's
        ``lr_scale``), after setting the groups' momentum where the schedule moves it.

        One place for both :meth:`apply`, which writes the LRs itself, and
        :meth:`torch_scheduler`, whose ``get_lr`` must return them for torch to write: torch
        has no hook for the momentum, so it is set here in both cases.
        """
        momentum = self.momentum(step)
        if momentum is not None:
            for group in optimizer.param_groups:
                _set_group_momentum(group, momentum)
        lr = self.lr(step)
        return [lr * group.get("lr_scale", 1.0) for group in optimizer.param_groups]


def from_dict(d: dict[str, Any]) -> Schedule:
    """Rebuild a schedule from :meth:`Schedule.to_dict` output (e.g. read back from a study)."""
    if not isinstance(d, dict) or "family" not in d:
        raise ValueError(f"a schedule dict needs a 'family' key, got {d!r}")
    params = dict(d)
    family = params.pop("family")
    if family not in FAMILIES:
        raise ValueError(f"unknown schedule family {family!r}; known families: {sorted(FAMILIES)}")
    cls = FAMILIES[family]
    names = list(inspect.signature(cls).parameters)
    unknown = sorted(set(params) - set(names))
    if unknown:
        raise ValueError(f"{family}: unknown parameter(s) {unknown}; {cls.__name__} takes {names}")
    return cls(**params)


def _set_group_momentum(group: dict[str, Any], momentum: float) -> None:
    """``betas[0]`` for Adam-style optimizers, ``momentum`` for SGD and RMSprop."""
    if "betas" in group:
        group["betas"] = (momentum, *group["betas"][1:])
    elif "momentum" in group:
        group["momentum"] = momentum


def _set_group_value(group: dict[str, Any], key: str, value: float) -> None:
    current = group.get(key)
    if current is not None and hasattr(current, "fill_"):
        current.fill_(value)  # a tensor LR (capturable or compiled optimizers): keep the tensor
    else:
        group[key] = value


# --- argument checks: each names the class, the parameter, the value and the valid range ---


def _float(owner: object, name: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ValueError(
            f"{type(owner).__name__}: {name} must be a finite number, got {name}={value!r}"
        )
    return float(value)


def _positive(owner: object, name: str, value: Any) -> float:
    v = _float(owner, name, value)
    if v <= 0:
        raise ValueError(f"{type(owner).__name__}: {name} must be > 0, got {name}={value!r}")
    return v


def _non_negative(owner: object, name: str, value: Any) -> float:
    v = _float(owner, name, value)
    if v < 0:
        raise ValueError(f"{type(owner).__name__}: {name} must be >= 0, got {name}={value!r}")
    return v


def _gamma(owner: object, name: str, value: Any) -> float:
    v = _float(owner, name, value)
    if not 0 < v <= 1:
        raise ValueError(f"{type(owner).__name__}: {name} must be in (0, 1], got {name}={value!r}")
    return v


def _int(owner: object, name: str, value: Any, minimum: int = 1) -> int:
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ValueError(
            f"{type(owner).__name__}: {name} must be an integer >= {minimum}, got {name}={value!r}"
        )
    return value


def _ordered(owner: object, low_name: str, low: float, high_name: str, high: float) -> None:
    if not low < high:
        raise ValueError(
            f"{type(owner).__name__}: {high_name} must be > {low_name}, "
            f"got {low_name}={low!r}, {high_name}={high!r}"
        )


def _set(obj: object, **values: Any) -> None:
    for name, value in values.items():
        object.__setattr__(obj, name, value)


# --- the families ---


@dataclasses.dataclass(frozen=True, repr=False)
class Fixed(Schedule):
    """A constant learning rate: ``lr(step) = lr``."""

    family: ClassVar[str] = "fixed"
    lr_value: float

    def __init__(self, lr: float) -> None:
        _set(self, lr_value=_positive(self, "lr", lr))

    def lr(self, step: int) -> float:
        return self.lr_value


@dataclasses.dataclass(frozen=True, repr=False)
class StepDecay(Schedule):
    """Caffe's "multistep": ``lr * gamma ** (number of milestones <= step)``.

    The CLR paper's CIFAR-10 baseline is ``StepDecay(lr=0.001, gamma=0.1,
    milestones=(60000, 65000))``: 0.001 up to step 59,999, 1e-4 from 60,000, 1e-5 from 65,000.
    Equal to ``torch.optim.lr_scheduler.MultiStepLR``; given ``step_size`` instead of
    ``milestones`` (a drop every ``step_size`` updates, ``StepLR``), its record stays one line
    however long the training.
    """

    family: ClassVar[str] = "step"
    lr_value: float
    gamma: float
    milestones: tuple[int, ...] | None
    step_size: int | None

    def __init__(
        self, lr: float, gamma: float, milestones: Any = None, step_size: int | None = None
    ) -> None:
        if (milestones is None) == (step_size is None):
            raise ValueError(
                "StepDecay: give milestones (a non-empty list of steps) or step_size, not both"
            )
        ms = None
        if milestones is not None:
            ms = tuple(_int(self, "milestones[]", m) for m in milestones)
            if not ms:
                raise ValueError(
                    f"StepDecay: milestones must be a non-empty list of steps, got {milestones!r}"
                )
            if any(b <= a for a, b in zip(ms, ms[1:])):
                raise ValueError(
                    f"StepDecay: milestones must be strictly increasing, got {list(ms)}"
                )
        _set(
            self,
            lr_value=_positive(self, "lr", lr),
            gamma=_gamma(self, "gamma", gamma),
            milestones=ms,
            step_size=None if step_size is None else _int(self, "step_size", step_size),
        )

    def lr(self, step: int) -> float:
        drops = (
            step // self.step_size
            if self.step_size is not None
            else bisect.bisect_right(cast(tuple, self.milestones), step)
        )
        return self.lr_value * self.gamma**drops


@dataclasses.dataclass(frozen=True, repr=False)
class ExponentialDecay(Schedule):
    """``lr * gamma ** step`` (Caffe's "exp"; ``torch.optim.lr_scheduler.ExponentialLR`` per
    step)."""

    family: ClassVar[str] = "exp"
    lr_value: float
    gamma: float

    def __init__(self, lr: float, gamma: float) -> None:
        _set(self, lr_value=_positive(self, "lr", lr), gamma=_gamma(self, "gamma", gamma))

    def lr(self, step: int) -> float:
        return self.lr_value * self.gamma**step


@dataclasses.dataclass(frozen=True, repr=False)
class InverseTimeDecay(Schedule):
    """Caffe's "inv", the 1/t decay: ``lr * (1 + gamma * step) ** (-power)``.

    With ``gamma=1e-4, power=1`` the LR halves at step 10,000 and is a third at 20,000.
    """

    family: ClassVar[str] = "inv"
    lr_value: float
    gamma: float
    power: float = 1.0

    def __init__(self, lr: float, gamma: float, power: float = 1.0) -> None:
        _set(
            self,
            lr_value=_positive(self, "lr", lr),
            gamma=_positive(self, "gamma", gamma),
            power=_positive(self, "power", power),
        )

    def lr(self, step: int) -> float:
        return self.lr_value * (1.0 + self.gamma * step) ** (-self.power)


@dataclasses.dataclass(frozen=True, repr=False)
class LinearDecay(Schedule):
    """The CLR paper's "decay" policy: linear from ``max_lr`` down to ``base_lr`` over
    ``step_size`` steps, then ``base_lr``.

    ``LinearDecay(max_lr=0.006, base_lr=0.001, step_size=2000)``: 0.006 at step 0, 0.0035 at
    1000, 0.001 from 2000 on.
    """

    family: ClassVar[str] = "linear_decay"
    max_lr: float
    base_lr: float
    step_size: int

    def __post_init__(self) -> None:
        base = _non_negative(self, "base_lr", self.base_lr)
        top = _positive(self, "max_lr", self.max_lr)
        _ordered(self, "base_lr", base, "max_lr", top)
        _set(self, max_lr=top, base_lr=base, step_size=_int(self, "step_size", self.step_size))

    def lr(self, step: int) -> float:
        if step >= self.step_size:
            return self.base_lr
        return self.max_lr - (self.max_lr - self.base_lr) * step / self.step_size


@dataclasses.dataclass(frozen=True, repr=False)
class Triangular(Schedule):
    """Smith's triangular cycle between ``base_lr`` and ``max_lr``; ``step_size`` is half a cycle.

    ``cycle = floor(1 + step / (2 * step_size))``, ``x = |step / step_size - 2 * cycle + 1|``,
    ``lr = base_lr + (max_lr - base_lr) * max(0, 1 - x)``. With the paper's CIFAR-10 values
    (0.001, 0.006, 2000): 0.001 at step 0, 0.006 at 2000, 0.001 at 4000, 0.0035 at 5000.
    """

    family: ClassVar[str] = "triangular"
    cycles: ClassVar[bool] = True
    base_lr: float
    max_lr: float
    step_size: int

    def __post_init__(self) -> None:
        base = _non_negative(self, "base_lr", self.base_lr)
        top = _positive(self, "max_lr", self.max_lr)
        _ordered(self, "base_lr", base, "max_lr", top)
        _set(self, base_lr=base, max_lr=top, step_size=_int(self, "step_size", self.step_size))

    def _scale(self, cycle: int, step: int) -> float:
        return 1.0

    def lr(self, step: int) -> float:
        # torch's CyclicLR arithmetic, term for term, so the values are bit-identical.
        total = 2.0 * self.step_size
        cycle = math.floor(1 + step / total)
        x = 1.0 + step / total - cycle
        scale_factor = x / 0.5 if x <= 0.5 else (x - 1) / (0.5 - 1)
        base_height = (self.max_lr - self.base_lr) * scale_factor
        return self.base_lr + base_height * self._scale(cycle, step)

    def cycle_ends(self, limit: int) -> list[int]:
        return list(range(2 * self.step_size, limit + 1, 2 * self.step_size))


@dataclasses.dataclass(frozen=True, repr=False)
class Triangular2(Triangular):
    """Triangular with the amplitude halved each cycle: ``* 1 / 2 ** (cycle - 1)``.

    Peaks with (0.001, 0.006, 2000): 0.006 at step 2000, 0.0035 at 6000, 0.00225 at 10000.
    """

    family: ClassVar[str] = "triangular2"

    def _scale(self, cycle: int, step: int) -> float:
        return 1 / (2.0 ** (cycle - 1))


@dataclasses.dataclass(frozen=True, repr=False)
class ExpRange(Triangular):
    """Triangular with the amplitude scaled by ``gamma ** step`` (torch's CyclicLR
    ``mode="exp_range"`` and the reference Keras CLR); the paper's CIFAR-10 run used
    gamma = 0.99994.
    """

    family: ClassVar[str] = "exp_range"
    gamma: float

    def __post_init__(self) -> None:
        super().__post_init__()
        _set(self, gamma=_gamma(self, "gamma", self.gamma))

    def _scale(self, cycle: int, step: int) -> float:
        return self.gamma**step


@dataclasses.dataclass(frozen=True, repr=False)
class CosineRestarts(Schedule):
    """SGDR: cosine annealing from ``max_lr`` to ``min_lr`` over ``period`` steps, then a warm
    restart; each period is ``period_mult`` times the last.

    ``lr = min_lr + (max_lr - min_lr) * (1 + cos(pi * t / T)) / 2`` with ``t`` the steps since
    the last restart and ``T`` the current period; equal to torch's
    ``CosineAnnealingWarmRestarts(T_0=period, T_mult=period_mult, eta_min=min_lr)``.
    """

    family: ClassVar[str] = "cosine"
    cycles: ClassVar[bool] = True
    max_lr: float
    min_lr: float
    period: int
    period_mult: int = 1

    def __post_init__(self) -> None:
        low = _non_negative(self, "min_lr", self.min_lr)
        top = _positive(self, "max_lr", self.max_lr)
        _ordered(self, "min_lr", low, "max_lr", top)
        _set(
            self,
            max_lr=top,
            min_lr=low,
            period=_int(self, "period", self.period),
            period_mult=_int(self, "period_mult", self.period_mult),
        )

    def _position(self, step: int) -> tuple[int, int]:
        if self.period_mult == 1:
            return step % self.period, self.period
        t, length = step, self.period
        while t >= length:
            t -= length
            length *= self.period_mult
        return t, length

    def lr(self, step: int) -> float:
        t, length = self._position(step)
        return self.min_lr + (self.max_lr - self.min_lr) * (1 + math.cos(math.pi * t / length)) / 2

    def cycle_ends(self, limit: int) -> list[int]:
        ends, end, length = [], self.period, self.period
        while end <= limit:
            ends.append(end)
            length *= self.period_mult
            end += length
        return ends


@dataclasses.dataclass(frozen=True, repr=False)
class OneCycle(Schedule):
    """Smith's 1cycle with cosine annealing, as ``torch.optim.lr_scheduler.OneCycleLR``.

    Starts at ``max_lr / div_factor``, rises to ``max_lr`` over ``pct_start`` of
    ``total_steps``, then anneals to ``max_lr / div_factor / final_div_factor`` (with
    ``three_phase``, first back to the start value). After ``total_steps`` the LR stays at its
    final value (torch raises instead). Give ``base_momentum`` and ``max_momentum`` to cycle
    the momentum inversely, as torch's ``cycle_momentum=True`` does.
    """

    family: ClassVar[str] = "one_cycle"
    cycles: ClassVar[bool] = True
    max_lr: float
    total_steps: int
    pct_start: float = 0.3
    div_factor: float = 25.0
    final_div_factor: float = 1e4
    three_phase: bool = False
    base_momentum: float | None = None
    max_momentum: float | None = None
    _phases: tuple = dataclasses.field(init=False, repr=False, compare=False, default=())

    def __post_init__(self) -> None:
        top = _positive(self, "max_lr", self.max_lr)
        total = _int(self, "total_steps", self.total_steps, minimum=2)
        pct = _float(self, "pct_start", self.pct_start)
        if not 0 < pct < (0.5 if self.three_phase else 1):
            limit = "0.5 with three_phase" if self.three_phase else "1"
            raise ValueError(
                f"OneCycle: pct_start must be in (0, {limit}), got pct_start={self.pct_start!r}"
            )
        div = _positive(self, "div_factor", self.div_factor)
        final_div = _positive(self, "final_div_factor", self.final_div_factor)
        if (self.base_momentum is None) != (self.max_momentum is None):
            raise ValueError("OneCycle: give both base_momentum and max_momentum, or neither")
        if self.base_momentum is not None:
            b = _float(self, "base_momentum", self.base_momentum)
            m = _float(self, "max_momentum", self.max_momentum)
            if not 0 <= b < m < 1:
                raise ValueError(
                    f"OneCycle: need 0 <= base_momentum < max_momentum < 1, "
                    f"got base_momentum={b!r}, max_momentum={m!r}"
                )
            _set(self, base_momentum=b, max_momentum=m)
        initial = top / div
        values = {"initial": initial, "max": top, "min": initial / final_div}
        momenta = {"max": self.max_momentum, "base": self.base_momentum}
        if self.three_phase:
            phases = [
                (float(pct * total) - 1, "initial", "max", "max", "base"),
                (float(2 * pct * total) - 2, "max", "initial", "base", "max"),
                (total - 1, "initial", "min", "max", "max"),
            ]
        else:
            phases = [
                (float(pct * total) - 1, "initial", "max", "max", "base"),
                (total - 1, "max", "min", "base", "max"),
            ]
        start = 0.0
        for end, *_ in phases:
            if end <= start:
                raise ValueError(
                    f"OneCycle: total_steps={total} with pct_start={pct} "
                    "leaves a phase with no steps; "
                    "raise total_steps or move pct_start away from the ends"
                )
            start = end
        resolved = tuple(
            (end, values[lo], values[hi], momenta[mlo], momenta[mhi])
            for end, lo, hi, mlo, mhi in phases
        )
        _set(
            self,
            max_lr=top,
            total_steps=total,
            pct_start=pct,
            div_factor=div,
            final_div_factor=final_div,
            three_phase=bool(self.three_phase),
            _phases=resolved,
        )

    @staticmethod
    def _anneal(start: float, end: float, pct: float) -> float:
        return end + (start - end) / 2.0 * (math.cos(math.pi * pct) + 1)

    def _phase(self, step: int) -> tuple[float, tuple]:
        step = min(step, self.total_steps - 1)
        start = 0.0
        for i, phase in enumerate(self._phases):
            if step <= phase[0] or i == len(self._phases) - 1:
                return (step - start) / (phase[0] - start), phase
            start = phase[0]
        raise AssertionError("unreachable")

    def lr(self, step: int) -> float:
        pct, phase = self._phase(step)
        return self._anneal(phase[1], phase[2], pct)

    def momentum(self, step: int) -> float | None:
        if self.base_momentum is None:
            return None
        pct, phase = self._phase(step)
        return self._anneal(phase[3], phase[4], pct)

    def cycle_ends(self, limit: int) -> list[int]:
        return [self.total_steps] if self.total_steps <= limit else []

    def final_cycle_end(self) -> int | None:
        return self.total_steps


@dataclasses.dataclass(frozen=True, repr=False)
class BatchSizeIncrease(Schedule):
    """Smith et al. (2018), *Don't Decay the Learning Rate, Increase the Batch Size*.

    Where a step decay would divide the LR by ``factor`` at a milestone, multiply the batch
    size by ``factor`` instead, as long as the batch stays ``<= max_batch_size`` (the paper
    keeps it at or below a tenth of the training set); after that the LR is divided instead.

    ``milestones`` are counted in **training examples seen**, a unit that does not change with
    the batch size (a milestone at "epoch 60" of a 50,000-image set is 3,000,000; see
    :meth:`from_epochs`). A milestone takes effect at the first update that starts with at
    least that many examples seen. :meth:`examples_seen` gives the examples before an update.

    ``BatchSizeIncrease(lr=0.1, batch_size=128, max_batch_size=5000, milestones=(12800,
    25600, 38400))``: batch 128 for steps 0-99, 640 for 100-119, 3200 for 120-123, then the
    batch stays at 3200 and the LR drops to 0.02.
    """

    family: ClassVar[str] = "batch_growth"
    moves_batch_size: ClassVar[bool] = True
    lr_value: float
    batch_size_value: int
    max_batch_size: int
    milestones: tuple[int, ...]
    factor: float = 5.0
    _starts: tuple = dataclasses.field(init=False, repr=False, compare=False, default=())
    _phases: tuple = dataclasses.field(init=False, repr=False, compare=False, default=())

    def __init__(
        self, lr: float, batch_size: int, max_batch_size: int, milestones: Any, factor: float = 5.0
    ) -> None:
        lr0 = _positive(self, "lr", lr)
        b0 = _int(self, "batch_size", batch_size)
        bmax = _int(self, "max_batch_size", max_batch_size)
        if bmax < b0:
            raise ValueError(
                "BatchSizeIncrease: max_batch_size must be >= batch_size, "
                f"got batch_size={b0}, max_batch_size={bmax}"
            )
        f = _float(self, "factor", factor)
        if f <= 1:
            raise ValueError(f"BatchSizeIncrease: factor must be > 1, got factor={factor!r}")
        ms = tuple(_int(self, "milestones[]", m) for m in (milestones or ()))
        if not ms:
            raise ValueError(
                "BatchSizeIncrease: milestones must be a non-empty list of examples seen, "
                f"got {milestones!r}"
            )
        if any(b <= a for a, b in zip(ms, ms[1:])):
            raise ValueError(
                f"BatchSizeIncrease: milestones must be strictly increasing, got {list(ms)}"
            )
        # Walk the milestones once: each phase is (first step, examples seen then, batch, lr).
        step, seen, batch, rate = 0, 0, b0, lr0
        phases = [(0, 0, b0, lr0)]
        for m in ms:
            n = max(0, -(-(m - seen) // batch))  # updates until at least m examples are seen
            step, seen = step + n, seen + n * batch
            grown = round(batch * f)
            if grown <= bmax:
                batch = grown
            else:
                rate = rate / f
            phases.append((step, seen, batch, rate))
        _set(
            self,
            lr_value=lr0,
            batch_size_value=b0,
            max_batch_size=bmax,
            milestones=ms,
            factor=f,
            _starts=tuple(p[0] for p in phases),
            _phases=tuple(phases),
        )

    @classmethod
    def from_epochs(
        cls,
        *,
        lr: float,
        batch_size: int,
        max_batch_size: int,
        milestone_epochs: Any,
        epoch_size: int,
        factor: float = 5.0,
    ) -> BatchSizeIncrease:
        """Milestones given in epochs of a training set of ``epoch_size`` examples."""
        return cls(
            lr=lr,
            batch_size=batch_size,
            max_batch_size=max_batch_size,
            milestones=[round(e * epoch_size) for e in milestone_epochs],
            factor=factor,
        )

    def _at(self, step: int) -> tuple[int, int, int, float]:
        return self._phases[bisect.bisect_right(self._starts, step) - 1]

    def lr(self, step: int) -> float:
        return self._at(step)[3]

    def batch_size(self, step: int) -> int:
        return self._at(step)[2]

    def examples_seen(self, step: int) -> int:
        """Training examples seen before update ``step``."""
        start, seen, batch, _ = self._at(step)
        return seen + (step - start) * batch
