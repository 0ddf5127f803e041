"""One training run: a model trained under a schedule until it reaches a target accuracy.

The loop follows Keller Jordan's airbench habits: the whole data set lives on the training
device as one tensor, a batch is an index slice of a per-epoch permutation, augmentation runs
on whole batches on the device, and the host reads nothing back from the device between
evaluations (per-step losses go into a device buffer that is read at evaluation time).

A step is one parameter update, counted from 0; its LR, batch size and momentum come from the
schedule's closed form. Every ``eval_every`` updates (after the update) the validation
accuracy is measured; the run stops at the first evaluation at or above the target, at the
iteration / example / time budget, when the loss turns NaN or infinite (``diverged``; checked
at each evaluation, the step it happened at is exact), or when the callback asks it to.

This module knows nothing of Optuna: :mod:`optuna_clr.objective` turns runs into trials.

Example:

    .. testcode::

        import optuna_clr
        from optuna_clr.training import TrainConfig, train

        task = optuna_clr.tasks.load("digits")
        config = TrainConfig(max_iterations=600, eval_every=50, target_accuracy=0.9, batch_size=32)
        result = train(task, "mlp", optuna_clr.Triangular(0.01, 0.2, 100), config)
        print(result.reached, result.iterations_to_target)
"""

from __future__ import annotations

from collections.abc import Callable
import contextlib
import dataclasses
import time
from typing import Any
from typing import NamedTuple

import torch
from torch import nn
import torch.nn.functional as F

from optuna_clr import models
from optuna_clr.schedules import Schedule
from optuna_clr.settings import OPTIMIZERS as OPTIMIZERS  # re-exported
from optuna_clr.settings import TrainConfig as TrainConfig  # re-exported
from optuna_clr.tasks import Split
from optuna_clr.tasks import Task


STOP_REASONS = ("target", "max_iterations", "max_examples", "max_seconds", "diverged", "callback")


class Evaluation(NamedTuple):
    """What the loop knows at an evaluation; the callback receives one."""

    step: int  # updates done (iterations)
    accuracy: float | None  # validation accuracy (None when validation is off)
    loss: float  # mean training loss over the updates since the last evaluation
    lr: float  # LR of the last update
    examples: int  # training examples seen
    seconds: float  # wall seconds since the run started


@dataclasses.dataclass
class TrainResult:
    """The outcome of one run. ``iterations_to_target`` is None when the target was not reached."""

    reached: bool
    iterations_to_target: int | None
    examples_to_target: int | None
    seconds_to_target: float | None
    best_accuracy: float
    final_accuracy: float
    test_accuracy: float | None  # None when the run diverged or its callback stopped it (pruned)
    iterations: int
    examples_seen: int
    epochs: float
    seconds: float
    stop_reason: str
    diverged_at: int | None
    curve: list[Evaluation]

    def to_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        d["curve"] = {k: [getattr(e, k) for e in self.curve] for k in Evaluation._fields}
        return d


def resolve_device(device: str | torch.device) -> torch.device:
    """The torch device ``device`` names; ``"auto"`` is CUDA where available, else the CPU.

    Raises:
        ValueError: a name torch does not know as a device.
        RuntimeError: a CUDA device where CUDA is not available.
    """
    if str(device) == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError):  # torch's own message lists some twenty device types
        raise ValueError(
            "device must be 'auto' (CUDA if available), 'cpu', 'cuda', 'cuda:N' or 'mps', "
            f"got {device=}"
        ) from None
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise RuntimeError(
            f"device {device!r} was asked for but CUDA is not available here; "
            "use device='cpu' or 'auto'"
        )
    return dev


def make_optimizer(model: nn.Module, config: TrainConfig) -> torch.optim.Optimizer:
    """The optimizer named in ``config`` over the model's (Caffe-multiplied) param groups."""
    groups = models.param_groups(model, config.weight_decay)
    lr = 0.0  # set by the schedule before every update
    name, m = config.optimizer, config.momentum
    if name in ("sgd", "nesterov"):
        return torch.optim.SGD(
            groups, lr=lr, momentum=config.sgd_momentum, nesterov=config.uses_nesterov
        )
    if name in ("adam", "adamw"):
        cls = torch.optim.Adam if name == "adam" else torch.optim.AdamW
        return cls(groups, lr=lr, betas=(0.9 if m is None else m, 0.999))
    if name == "rmsprop":
        return torch.optim.RMSprop(groups, lr=lr, momentum=0.0 if m is None else m)
    if name == "adagrad":
        return torch.optim.Adagrad(groups, lr=lr)
    return torch.optim.Adadelta(groups, lr=lr)


def augment_batch(
    x: torch.Tensor, generator: torch.Generator, pad: int | None = None
) -> torch.Tensor:
    """Random translation by up to ``pad`` pixels (zero fill; default 1/8 of the side) and a
    random horizontal flip, per image, on the batch's device."""
    b, _, h, w = x.shape
    pad = max(1, h // 8) if pad is None else pad
    flip = torch.rand(b, device=x.device, generator=generator) < 0.5
    x = torch.where(flip[:, None, None, None], x.flip(3), x)
    shifts = torch.randint(0, 2 * pad + 1, (2, b), device=x.device, generator=generator)
    padded = F.pad(x, (pad, pad, pad, pad))
    rows = (torch.arange(h, device=x.device)[None, :] + shifts[0][:, None])[:, None, :, None]
    cols = (torch.arange(w, device=x.device)[None, :] + shifts[1][:, None])[:, None, None, :]
    batch = torch.arange(b, device=x.device)[:, None, None, None]
    chan = torch.arange(x.shape[1], device=x.device)[None, :, None, None]
    return padded[batch, chan, rows, cols]


@torch.no_grad()
def accuracy(
    model: nn.Module, split: Split, *, batch_size: int = 1000, autocast: Any = None
) -> float:
    """Top-1 accuracy of ``model`` on ``split`` (one host read at the end)."""
    was_training = model.training
    model.eval()
    correct = torch.zeros((), dtype=torch.int64, device=split.x.device)
    for i in range(0, len(split), batch_size):
        with autocast or contextlib.nullcontext():
            out = model(split.x[i : i + batch_size])
        correct += (out.argmax(1) == split.y[i : i + batch_size]).sum()
    model.train(was_training)
    return correct.item() / len(split)


def to_device(tensor: torch.Tensor, device: torch.device) -> torch.Tensor:
    """Copy a host tensor to ``device`` without making the host wait for the GPU's queue
    (from pinned memory, asynchronously), so a copy in the training loop costs no sync."""
    if device.type != "cuda":
        return tensor.to(device)
    return tensor.pin_memory().to(device, non_blocking=True)


class BatchOrder:
    """Shuffled epochs of ``n`` example indices, on the training device; a batch is a slice.

    The permutations come from a CPU generator seeded with the run's seed, so a seed gives the
    same batches on every device and in both engines (one run, or stacked with the fused one).
    """

    def __init__(self, n: int, seed: int, device: torch.device) -> None:
        self.n, self.device = n, device
        self._generator = torch.Generator().manual_seed(seed)
        self._new_epoch()

    def _new_epoch(self) -> None:
        self.order = to_device(torch.randperm(self.n, generator=self._generator), self.device)
        self.position = 0

    def take(self, batch: int) -> torch.Tensor:
        if self.position + batch > self.n:
            self._new_epoch()
        idx = self.order[self.position : self.position + batch]
        self.position += batch
        return idx


def first_non_finite(losses: torch.Tensor) -> int | None:
    """Index of the first NaN or infinite value in a (host) vector of losses, or None."""
    bad = (~torch.isfinite(losses)).nonzero()
    return int(bad[0]) if len(bad) else None


def train(
    task: Task,
    model: models.ModelSpec | nn.Module,
    schedule: Schedule,
    config: TrainConfig,
    *,
    callback: Callable[[Evaluation], bool | None] | None = None,
    optimizer: torch.optim.Optimizer | None = None,
    validate: bool = True,
) -> TrainResult:
    """Train ``model`` on ``task`` under ``schedule``; see the module docstring.

    Args:
        model: a registered name or a factory (built here with ``config.seed``), or a module
            you built (trained in place, with ``optimizer`` if you give one).
        callback: called at every evaluation; return True to stop the run
            (``stop_reason="callback"``). Exceptions it raises propagate.
        validate: measure validation accuracy at evaluations (the loss-based range test
            turns it off).
    """
    device = resolve_device(config.device)
    task = task.to(device, config.torch_dtype)
    if isinstance(model, nn.Module):
        net = model.to(device, config.torch_dtype)
    else:
        net = models.create(
            model, image_shape=task.image_shape, num_classes=task.num_classes, seed=config.seed
        )
        net = net.to(device, config.torch_dtype)
    if config.channels_last and device.type == "cuda":
        net = net.to(memory_format=torch.channels_last)
    opt = optimizer if optimizer is not None else make_optimizer(net, config)
    forward = torch.compile(net) if config.compile else net
    autocast = (
        torch.autocast(device.type, dtype=torch.bfloat16)
        if config.precision == "bf16" and device.type == "cuda"
        else None
    )

    x_train, y_train = task.train.x, task.train.y
    n = len(y_train)
    order = BatchOrder(n, config.seed, device)
    aug_gen = (
        torch.Generator(device=device).manual_seed(config.seed + 1) if config.augment else None
    )

    # this window's per-update losses (a window never outgrows eval_every or the budget)
    losses = torch.empty(
        min(config.eval_every, config.max_iterations), device=device, dtype=config.torch_dtype
    )
    window = 0
    curve: list[Evaluation] = []
    best, last = 0.0, 0.0
    reached_at: tuple[int, int, float] | None = None
    stop_reason, diverged_at = "max_iterations", None
    examples = 0
    grid = config.eval_grid
    next_eval = grid  # with an examples grid: the next example count that is evaluated
    net.train()
    start = time.perf_counter()

    step = 0
    while step < config.max_iterations:
        batch = schedule.batch_size(step) or config.batch_size
        if batch > n:
            raise ValueError(f"batch size {batch} at step {step} exceeds the {n} training images")
        idx = order.take(batch)
        xb, yb = x_train[idx], y_train[idx]
        if aug_gen is not None:
            xb = augment_batch(xb, aug_gen)
        if config.channels_last and device.type == "cuda":
            xb = xb.contiguous(memory_format=torch.channels_last)

        schedule.apply(opt, step)
        with autocast or contextlib.nullcontext():
            loss = config.loss(forward(xb), yb)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        if window == len(losses):  # an examples grid with batches below batch_size: more updates
            losses = torch.cat([losses, torch.empty_like(losses)])
        losses[window] = loss.detach()
        window += 1
        examples += batch
        step += 1

        over_examples = config.max_examples is not None and examples >= config.max_examples
        due = examples >= next_eval if next_eval is not None else step % config.eval_every == 0
        if not due and step < config.max_iterations and not over_examples:
            continue
        if grid is not None:
            next_eval = (examples // grid + 1) * grid

        # --- evaluation: the only place the host reads from the device ---
        window_losses = losses[:window].double().cpu()
        window = 0
        bad = first_non_finite(window_losses)
        if bad is not None:
            diverged_at = step - len(window_losses) + bad
            stop_reason = "diverged"
            break
        acc = (
            accuracy(forward, task.valid, batch_size=config.eval_batch_size, autocast=autocast)
            if validate
            else None
        )
        seconds = time.perf_counter() - start
        ev = Evaluation(
            step, acc, float(window_losses.mean()), schedule.lr(step - 1), examples, seconds
        )
        curve.append(ev)
        if acc is not None:
            last = acc
            best = max(best, acc)
        stop = bool(callback(ev)) if callback is not None else False
        if (
            acc is not None
            and config.target_accuracy is not None
            and acc >= config.target_accuracy
        ):
            reached_at = (step, examples, seconds)
            stop_reason = "target"
            break
        if stop:
            stop_reason = "callback"
            break
        if over_examples:
            stop_reason = "max_examples"
            break
        if config.max_seconds is not None and seconds >= config.max_seconds:
            stop_reason = "max_seconds"
            break

    seconds = time.perf_counter() - start
    test_acc = None
    if task.test is not None and stop_reason not in ("diverged", "callback"):
        test_acc = accuracy(
            forward, task.test, batch_size=config.eval_batch_size, autocast=autocast
        )
    return TrainResult(
        reached=reached_at is not None,
        iterations_to_target=reached_at[0] if reached_at else None,
        examples_to_target=reached_at[1] if reached_at else None,
        seconds_to_target=reached_at[2] if reached_at else None,
        best_accuracy=best,
        final_accuracy=last,
        test_accuracy=test_acc,
        iterations=step,
        examples_seen=examples,
        epochs=examples / n,
        seconds=seconds,
        stop_reason=stop_reason,
        diverged_at=diverged_at,
        curve=curve,
    )
