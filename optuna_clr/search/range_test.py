"""The LR range test (Smith 2017, section 3.3), with bounds a search can trust.

Train for a few epochs while the LR rises from ``min_lr`` to ``max_lr``, and watch the
validation accuracy: ``base_lr`` is where it starts to rise, ``max_lr`` where it stops rising;
between them, ``best_lr`` (the best fixed LR) is where it rises fastest. Smith's CIFAR-10 test
(linear 0 to 0.02 over 8 epochs) gave 0.001 and 0.006.

``metric="loss"`` is the variant of torch-lr-finder and fastai's ``lr_find`` (exponential
ramp, training loss, stop once the loss has diverged) for models whose accuracy moves late.

What it does that those tools do not:

* suggestions come from a smoothed curve, use nothing after a divergence or NaN, and always
  satisfy ``min_lr <= base_lr < best_lr <= max_lr <= tested max``;
* when the curve gives no clear answer (no rise above the noise, or still rising at the
  tested max) it says so (``clear=False`` and a ``message``) instead of inventing one;
* ``repeats=k`` runs k seeds and reports each suggestion's spread;
* a model and optimizer you pass are left exactly as they were (weights, buffers, gradients,
  optimizer state, device, dtype and each submodule's train/eval mode).

Example:

    .. testcode::

        import optuna_clr
        from optuna_clr.results.plots import plot_range_test

        result = optuna_clr.lr_range_test(task="digits", model="mlp", min_lr=0.0, max_lr=1.0,
                                          epochs=4, batch_size=32, device="cpu")
        print(result.base_lr, result.best_lr, result.max_lr, result.clear, result.message)
        plot_range_test(result).savefig("range_test.png")
"""

from __future__ import annotations

from collections.abc import Callable
import copy
import dataclasses
import functools
import importlib
import json
import math
import os
import statistics
from typing import Any
from typing import cast
from typing import TYPE_CHECKING
import warnings

import numpy as np
import optuna
import torch
from torch import nn

from optuna_clr import records
from optuna_clr.schedules import OneCycle
from optuna_clr.schedules import Schedule
from optuna_clr.training import models
from optuna_clr.training import progress
from optuna_clr.training import tasks
from optuna_clr.training.engine import Evaluation
from optuna_clr.training.engine import make_optimizer
from optuna_clr.training.engine import resolve_device
from optuna_clr.training.engine import train
from optuna_clr.training.engine import TrainConfig
from optuna_clr.training.settings import default
from optuna_clr.training.settings import names


if TYPE_CHECKING:
    from optuna_clr.training.experiment import Experiment


SUGGESTIONS = ("base_lr", "best_lr", "max_lr")
STUDY_ATTR = "range_test"


@dataclasses.dataclass(frozen=True, repr=False)
class LRRamp(Schedule, register=False):
    """The range test's LR: from ``min_lr`` to ``max_lr`` over ``steps`` updates, linearly or
    exponentially (geometric steps, for ``min_lr > 0``)."""

    family = "range_ramp"
    min_lr: float
    max_lr: float
    steps: int
    mode: str = "linear"

    def lr(self, step: int) -> float:
        t = min(step, self.steps - 1) / max(1, self.steps - 1)
        if self.mode == "exponential":
            return self.min_lr * (self.max_lr / self.min_lr) ** t
        return self.min_lr + (self.max_lr - self.min_lr) * t


@dataclasses.dataclass
class RangeTestResult:
    """The curve, the suggested bounds and how sure the test is of them.

    ``lrs``, ``accuracies`` and ``losses`` are the curve at each evaluation (the mean over
    seeds when ``repeats > 1``; accuracies are None for ``metric="loss"``). ``base_lr``,
    ``best_lr`` and ``max_lr`` are None when there is no clear answer. ``snr`` is the rise of
    the smoothed curve over the noise around it. ``spread`` gives, per suggestion, every seed's
    value and their min, max and standard deviation. ``runs`` holds the per-seed results.
    """

    lrs: list[float]
    accuracies: list[float | None]
    losses: list[float]
    smoothed: list[float]
    base_lr: float | None
    best_lr: float | None
    max_lr: float | None
    clear: bool
    message: str
    snr: float
    diverged_at_lr: float | None
    settings: dict[str, Any]
    spread: dict[str, dict[str, Any]] | None = None
    runs: list[RangeTestResult] = dataclasses.field(default_factory=list)

    def one_cycle(self, total_steps: int) -> Schedule:
        """Fastai's ``fit_one_cycle`` recipe from this test: what fastai and Lightning users
        run instead of tuning. 1cycle to the test's ``max_lr`` over ``total_steps`` (the
        budget), warming up over a quarter of it from ``max_lr / 25``, cosine annealing to
        ``max_lr / 25 / 1e5``, and the momentum cycled 0.95 to 0.85 and back.

        Raises:
            ValueError: the test found no ``max_lr``.
        """
        if self.max_lr is None:
            raise ValueError("the range test found no max_lr for a 1cycle schedule")
        return OneCycle(
            max_lr=self.max_lr,
            total_steps=total_steps,
            pct_start=0.25,
            div_factor=25.0,
            final_div_factor=1e5,
            base_momentum=0.85,
            max_momentum=0.95,
        )

    def suggestions(self) -> dict[str, float | None]:
        return {k: getattr(self, k) for k in SUGGESTIONS}

    def to_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        d["runs"] = [r.to_dict() for r in self.runs]
        return json.loads(json.dumps(d))  # plain JSON types only

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> RangeTestResult:
        d = dict(d)
        d["runs"] = [cls.from_dict(r) for r in d.get("runs", [])]
        return cls(**d)

    def plot(self) -> Any:
        """Deprecated: use :func:`optuna_clr.results.plots.plot_range_test` (goes in the
        next release; the search does not draw figures)."""
        warnings.warn(
            "RangeTestResult.plot() is deprecated: use "
            "optuna_clr.results.plots.plot_range_test(result)",
            FutureWarning,
            stacklevel=2,
        )
        return importlib.import_module("optuna_clr.results.plots").plot_range_test(self)

    def attach(self, study: optuna.Study, *, artifact_store: Any = None) -> str | None:
        """Store the result in ``study`` (record ``range_test``, :mod:`optuna_clr.records`).

        Args:
            study: the study whose space and prior the test sets.
            artifact_store: deprecated: to upload the plot as well, use
                :func:`optuna_clr.results.dashboard.attach_range_test`.

        Returns:
            The plot's artifact id with ``artifact_store``, else None.
        """
        if artifact_store is not None:
            warnings.warn(
                "RangeTestResult.attach(study, artifact_store=...) is deprecated: use "
                "optuna_clr.results.dashboard.attach_range_test(study, result, artifact_store)",
                FutureWarning,
                stacklevel=2,
            )
            dashboard = importlib.import_module("optuna_clr.results.dashboard")
            return dashboard.attach_range_test(study, self, artifact_store)
        records.save(study, STUDY_ATTR, self.to_dict())
        return None

    @classmethod
    def from_study(cls, study: optuna.Study) -> RangeTestResult | None:
        d = records.load(study, STUDY_ATTR)
        return None if d is None else cls.from_dict(d)


def lr_range_test(
    *,
    task: str | tasks.Task = "digits",
    model: models.ModelSpec | nn.Module = "mlp",
    min_lr: float,
    max_lr: float,
    steps: int | None = None,
    epochs: float | None = None,
    mode: str | None = None,
    metric: str = "accuracy",
    eval_every: int | None = None,
    optimizer: str | torch.optim.Optimizer = "sgd",
    seed: int = 0,
    repeats: int = 1,
    device: str = "auto",
    data_dir: str | os.PathLike | None = None,
    image_size: int | None = None,
    divergence_factor: float = 4.0,
    experiment: Experiment | None = None,
    show_progress_bar: bool = False,
    **train_settings: Any,
) -> RangeTestResult:
    """Run the LR range test; see the module docstring.

    Args:
        task: a task name or your own :class:`~optuna_clr.training.tasks.Task`.
        model: a model name or factory, or your own module (restored afterwards; then
            ``optimizer`` may be your own optimizer over it, also restored).
        min_lr, max_lr: the LR range tested (``min_lr > 0`` for ``mode="exponential"``).
        steps, epochs: the test's length; give exactly one.
        mode: ``"linear"`` (default for ``metric="accuracy"``) or ``"exponential"`` (default for
            ``metric="loss"``).
        metric: ``"accuracy"`` (validation accuracy, Smith) or ``"loss"`` (training loss, with a
            stop once the smoothed loss exceeds ``divergence_factor`` times its minimum).
        eval_every: updates between points of the curve (default: 100 points).
        repeats: seeds ``seed, seed + 1, ...`` to run; suggestions are their medians.
        experiment: what the trials train (:class:`~optuna_clr.Experiment`): its task, model,
            device and range-test settings replace those arguments, so the test runs as the
            trials will.
        show_progress_bar: a bar over the test's iterations, every seed's together.
        train_settings: the training settings the test shares with the trials
            (:func:`optuna_clr.training.settings.names` ``("range_test")``: ``batch_size``,
            ``momentum``, ``nesterov``, ``weight_decay``, ``augment``, ...), as
            :class:`~optuna_clr.training.settings.TrainConfig` takes them.
    """
    shared = set(names("range_test")) - {"optimizer"}
    unknown = sorted(set(train_settings) - shared)
    if unknown:
        raise TypeError(
            f"lr_range_test got an unexpected keyword argument {unknown[0]!r}; the training "
            f"settings it takes are {sorted(shared)}"
        )
    if experiment is not None:
        c = experiment.config
        task, model, optimizer, device = experiment.task, experiment.model, c.optimizer, c.device
        train_settings = {k: getattr(c, k) for k in shared}
    batch_size = train_settings.get("batch_size", default("batch_size"))
    if (steps is None) == (epochs is None):
        raise ValueError("give exactly one of steps=... or epochs=... for the range test's length")
    if metric not in ("accuracy", "loss"):
        raise ValueError(f"metric must be 'accuracy' or 'loss', got {metric!r}")
    mode = mode or ("linear" if metric == "accuracy" else "exponential")
    if mode not in ("linear", "exponential"):
        raise ValueError(f"mode must be 'linear' or 'exponential', got {mode!r}")
    if not 0 <= min_lr < max_lr:
        raise ValueError(f"need 0 <= min_lr < max_lr, got min_lr={min_lr}, max_lr={max_lr}")
    if mode == "exponential" and min_lr <= 0:
        raise ValueError(
            "mode='exponential' needs min_lr > 0 (a geometric ramp cannot start at 0)"
        )
    if repeats < 1:
        raise ValueError(f"repeats must be >= 1, got {repeats}")
    if divergence_factor <= 1:
        raise ValueError(f"divergence_factor must be > 1, got {divergence_factor}")

    user_module = isinstance(model, nn.Module)
    if isinstance(optimizer, torch.optim.Optimizer) and not user_module:
        raise ValueError(
            "an optimizer instance needs the model it optimizes: pass model=<your module> too"
        )
    if user_module and str(device) == "auto":
        device = str(next(model.parameters()).device)  # type: ignore[union-attr]
    dev = resolve_device(device)
    loaded: dict[str, Any] = (
        {} if isinstance(task, tasks.Task) else {"root": data_dir, "image_size": image_size}
    )

    def split_for(run_seed: int) -> tasks.Task:  # the task with the validation split of run_seed
        if experiment is not None:
            return experiment.task_for(run_seed)
        return task if isinstance(task, tasks.Task) else tasks.load(task, seed=run_seed, **loaded)

    base_task = split_for(seed)
    if steps is None:
        steps = max(2, round(epochs * base_task.iterations_per_epoch(batch_size)))  # type: ignore[operator]
    if steps < 2:
        raise ValueError(f"the range test needs at least 2 steps, got {steps}")
    eval_every = eval_every or max(1, steps // 100)
    ramp = LRRamp(min_lr=float(min_lr), max_lr=float(max_lr), steps=int(steps), mode=mode)
    settings = {
        "task": base_task.name,
        "model": model
        if isinstance(model, str)
        else getattr(model, "__name__", type(model).__name__),
        "min_lr": float(min_lr),
        "max_lr": float(max_lr),
        "steps": int(steps),
        "mode": mode,
        "metric": metric,
        "eval_every": eval_every,
        "batch_size": batch_size,
        "optimizer": optimizer if isinstance(optimizer, str) else type(optimizer).__name__,
        "momentum": train_settings.get("momentum", default("momentum")),
        "weight_decay": train_settings.get("weight_decay", default("weight_decay")),
        "seed": seed,
        "repeats": repeats,
    }
    saved = _snapshot(cast(nn.Module, model), optimizer) if user_module else None
    runs = []
    bar = progress.iterations_bar(steps * repeats, "range test") if show_progress_bar else None
    try:
        for k in range(repeats):
            run_seed = seed + k
            run_task = base_task if k == 0 else split_for(run_seed)
            config = TrainConfig(
                max_iterations=int(steps),
                eval_every=eval_every,
                optimizer=optimizer if isinstance(optimizer, str) else "sgd",
                seed=run_seed,
                device=str(dev),
                **train_settings,
            )
            runs.append(
                _one_run(
                    run_task,
                    model,
                    optimizer,
                    ramp,
                    config,
                    metric,
                    divergence_factor,
                    settings,
                    functools.partial(progress.show, bar, offset=k * steps) if bar else None,
                )
            )
            if saved is not None and k + 1 < repeats:
                _restore(
                    cast(nn.Module, model), optimizer, saved
                )  # the next seed starts from the user's state
    finally:
        if bar is not None:
            bar.close()
        if saved is not None:
            _restore(cast(nn.Module, model), optimizer, saved)  # after the last seed, or an error
    return runs[0] if repeats == 1 else _combine(runs, settings)


def _one_run(
    task: tasks.Task,
    model: Any,
    optimizer: Any,
    ramp: LRRamp,
    config: TrainConfig,
    metric: str,
    divergence_factor: float,
    settings: dict[str, Any],
    tick: Callable[[Evaluation], None] | None = None,
) -> RangeTestResult:
    points: list[Evaluation] = []
    best_loss = [math.inf]

    def on_eval(ev: Evaluation) -> bool:
        points.append(ev)
        if tick is not None:
            tick(ev)
        if metric != "loss":
            return False
        # a running mean of the last few points, so one noisy batch does not stop the test
        recent = [p.loss for p in points[-3:]]
        smooth = sum(recent) / len(recent)
        best_loss[0] = min(best_loss[0], smooth)
        return smooth > divergence_factor * best_loss[0]

    opt = optimizer if isinstance(optimizer, torch.optim.Optimizer) else None
    if isinstance(model, nn.Module) and opt is None:
        opt = make_optimizer(model, config)
    result = train(
        task, model, ramp, config, callback=on_eval, optimizer=opt, validate=metric == "accuracy"
    )
    diverged_at = ramp.lr(result.diverged_at) if result.diverged_at is not None else None
    if result.stop_reason == "callback":
        diverged_at = points[-1].lr
    lrs = [p.lr for p in points]
    losses = [p.loss for p in points]
    accs = [p.accuracy for p in points]
    score = cast(list[float], accs) if metric == "accuracy" else [-v for v in losses]
    found = bounded_by_divergence(
        suggest_bounds(lrs, score, log_x=ramp.mode == "exponential", metric=metric),
        diverged_at,
        metric,
    )
    smoothed = found.pop("smoothed")
    if metric == "loss":
        smoothed = [-v for v in smoothed]
    return RangeTestResult(
        lrs=lrs,
        accuracies=accs,
        losses=losses,
        smoothed=smoothed,
        diverged_at_lr=diverged_at,
        settings=settings,
        **found,
    )


def bounded_by_divergence(
    found: dict[str, Any], diverged_at: float | None, metric: str
) -> dict[str, Any]:
    """``found`` (from :func:`suggest_bounds`) once the test diverged at LR ``diverged_at``.

    A curve still improving when the loss diverged is not a test that stopped too early:
    a higher ``max_lr`` would diverge at the same LR. The divergence is the upper bound, so
    the bounds found below it stand (``clear``), and the message says so.
    """
    if diverged_at is None:
        return found
    found = dict(found)
    if found["clear"]:
        if metric == "accuracy":
            found["message"] += (
                f"; the loss diverged at LR {diverged_at:.4g}, nothing after it was used"
            )
        return found
    if found["max_lr"] is None:
        return found
    what = "validation accuracy" if metric == "accuracy" else "training loss"
    found["clear"] = True
    found["message"] = (
        f"the {what} was still improving when the loss diverged at LR {diverged_at:.4g}, "
        f"which bounds the range from above: it starts improving at {found['base_lr']:.4g}, "
        f"improves fastest at {found['best_lr']:.4g} and max_lr is {found['max_lr']:.4g}, "
        f"the last LR before the divergence (signal/noise {found['snr']:.1f})"
    )
    return found


def _half_window(n: int) -> int:
    return max(1, n // 30)


def smooth(values: list[float]) -> list[float]:
    """Centred moving average over about a fifteenth of the curve (3 points at least), so the
    curve is not shifted. Near the start the window shrinks symmetrically: the LR is near
    ``min_lr`` there, so the curve barely moves and holds little noise, and on a coarse ramp the
    rise can begin within the first few points, which a wider start would blur. The last
    ``half`` points instead hold the mean of the last ``half + 1``: the LR is highest there
    and the curve noisiest, and one raw point must not decide "still improving"."""
    n = len(values)
    if n == 0:
        return []
    half = _half_window(n)
    tail = values[-(half + 1) :]
    out = []
    for i in range(n - half):
        h = min(half, i)
        window = values[i - h : i + h + 1]
        out.append(sum(window) / len(window))
    return out + [sum(tail) / len(tail)] * min(half, n)


def _noise(score: list[float], smoothed: list[float]) -> float:
    """The spread of the curve around its smoothed self where the window is whole: at the
    start the window shrinks to the raw point (residual 0), at the end the smoothed curve is a
    level, and counting them would make a short curve look quieter, and a rise clearer, than
    it is."""
    half = _half_window(len(score))
    inner = slice(half, len(score) - half)
    return float(np.std(np.asarray(score[inner]) - np.asarray(smoothed[inner])))


def suggest_bounds(
    lrs: list[float], score: list[float], *, log_x: bool, metric: str
) -> dict[str, Any]:
    """base/best/max LR from a curve whose ``score`` rises with learning (accuracy, or minus
    the loss). Returns the suggestions (None when unclear), ``clear``, ``message``, ``snr`` and
    the ``smoothed`` score."""
    n = len(score)
    none = {"base_lr": None, "best_lr": None, "max_lr": None, "clear": False, "snr": 0.0}
    if n < 5:
        return {
            **none,
            "smoothed": list(score),
            "message": (
                f"only {n} points before the test ended: run it longer or evaluate more often"
            ),
        }
    s = smooth(score)
    start, peak_i = s[0], int(np.argmax(s))
    rise = s[peak_i] - start
    noise = _noise(score, s) or 1e-12
    snr = rise / noise
    what = "validation accuracy" if metric == "accuracy" else "training loss"
    least = 0.02 if metric == "accuracy" else 0.05 * abs(start)
    if rise <= max(3 * noise, least):
        return {
            **none,
            "snr": snr,
            "smoothed": s,
            "message": (
                f"no clear improvement of the {what} over the tested range "
                f"(rise {rise:.3g}, noise {noise:.3g}): "
                "test a wider LR range, train longer, or check the model and data"
            ),
        }
    base_i = next(i for i in range(n) if s[i] >= start + 0.1 * rise)
    max_i = next(i for i in range(n) if s[i] >= start + 0.9 * rise)
    max_i = max(max_i, min(base_i + 1, peak_i))
    if max_i <= base_i:
        return {
            **none,
            "snr": snr,
            "smoothed": s,
            "message": (
                f"the {what} jumped between two evaluations: "
                "evaluate more often (eval_every) to place the bounds"
            ),
        }
    x = np.log(lrs) if log_x else np.asarray(lrs, dtype=float)
    slopes = [
        (s[i] - s[i - 1]) / max(x[i] - x[i - 1], 1e-300) for i in range(base_i + 1, max_i + 1)
    ]
    best_i = base_i + 1 + int(np.argmax(slopes))
    found = {
        "base_lr": lrs[base_i],
        "best_lr": lrs[best_i],
        "max_lr": lrs[max_i],
        "snr": snr,
        "smoothed": s,
    }
    if peak_i >= n - max(2, n // 20):
        return {
            **found,
            "clear": False,
            "message": (
                f"the {what} was still improving at the end of the test (LR {lrs[-1]:.4g}): "
                "the tested max_lr is too low to see where it stops; max_lr is a lower bound, "
                "rerun with a higher max_lr"
            ),
        }
    return {
        **found,
        "clear": True,
        "message": (
            f"the {what} starts improving at {lrs[base_i]:.4g}, "
            f"improves fastest at {lrs[best_i]:.4g} "
            f"and levels off at {lrs[max_i]:.4g} (signal/noise {snr:.1f})"
        ),
    }


def _combine(runs: list[RangeTestResult], settings: dict[str, Any]) -> RangeTestResult:
    n = min(len(r.lrs) for r in runs)

    def mean(rows: list[list[Any]]) -> list[Any]:
        if any(v is None for row in rows for v in row[:n]):
            return [None] * n
        return [float(np.mean([row[i] for row in rows])) for i in range(n)]

    spread: dict[str, dict[str, Any]] = {}
    for key in SUGGESTIONS:
        values = [getattr(r, key) for r in runs]
        known = [v for v in values if v is not None]
        spread[key] = {
            "values": values,
            "min": min(known, default=None),
            "max": max(known, default=None),
            "std": statistics.stdev(known) if len(known) > 1 else None,
        }
    clear_runs = [r for r in runs if r.base_lr is not None]
    medians = {
        k: (statistics.median(getattr(r, k) for r in clear_runs) if clear_runs else None)
        for k in SUGGESTIONS
    }
    unclear = [
        f"seed {settings['seed'] + i}: {r.message}" for i, r in enumerate(runs) if not r.clear
    ]
    if unclear:
        message = (
            f"{len(unclear)} of {len(runs)} seeds gave no clear answer ({'; '.join(unclear)})"
        )
    else:
        message = (
            f"median over {len(runs)} seeds: base_lr {medians['base_lr']:.4g}, "
            f"best_lr {medians['best_lr']:.4g}, "
            f"max_lr {medians['max_lr']:.4g}"
        )
    diverged = [r.diverged_at_lr for r in runs if r.diverged_at_lr is not None]
    return RangeTestResult(
        lrs=runs[0].lrs[:n],
        accuracies=mean([r.accuracies for r in runs]),
        losses=mean([r.losses for r in runs]),
        smoothed=mean([r.smoothed for r in runs]),
        clear=not unclear,
        message=message,
        snr=float(np.median([r.snr for r in runs])),
        diverged_at_lr=min(diverged) if diverged else None,
        settings=settings,
        spread=spread,
        runs=runs,
        **medians,
    )


def _snapshot(model: nn.Module, optimizer: Any) -> dict[str, Any]:
    """What the range test changes in a module you pass: training moves it to ``device`` in
    float32, sets every submodule to train mode, and updates weights, buffers, gradients and
    the optimizer's state."""
    first = next(model.parameters(), None)
    return {
        "state": copy.deepcopy(model.state_dict()),
        "grads": [None if p.grad is None else p.grad.detach().clone() for p in model.parameters()],
        # per module: a frozen BatchNorm (eval mode) inside a model in train mode stays frozen
        "training": [m.training for m in model.modules()],
        "placement": None if first is None else (first.device, first.dtype),
        "optimizer": copy.deepcopy(optimizer.state_dict())
        if isinstance(optimizer, torch.optim.Optimizer)
        else None,
    }


def _restore(model: nn.Module, optimizer: Any, saved: dict[str, Any]) -> None:
    """Put the module back where and in what dtype it was before loading the saved state:
    ``load_state_dict`` copies into the tensors as they are, and the optimizer casts its state
    to its parameters' dtype and device, so the move must come first."""
    if saved["placement"] is not None:
        model.to(*saved["placement"])  # in place: the parameters stay the optimizer's
    model.load_state_dict(saved["state"])
    for p, g in zip(model.parameters(), saved["grads"]):
        p.grad = None if g is None else g.clone()
    for m, training in zip(model.modules(), saved["training"]):
        m.training = training
    if saved["optimizer"] is not None:
        optimizer.load_state_dict(copy.deepcopy(saved["optimizer"]))
