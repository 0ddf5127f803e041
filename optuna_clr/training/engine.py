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

This module knows nothing of Optuna: :mod:`optuna_clr.study.objective` turns runs into trials.

Example:

    .. testcode::

        import optuna_clr
        from optuna_clr.training.engine import TrainConfig, train

        task = optuna_clr.training.tasks.load("digits")
        config = TrainConfig(max_iterations=600, eval_every=50, target_accuracy=0.9, batch_size=32)
        result = train(task, "mlp", optuna_clr.schedules.Triangular(0.01, 0.2, 100), config)
        print(result.reached, result.iterations_to_target)
"""

from __future__ import annotations

from collections.abc import Callable
from collections.abc import Iterator
import contextlib
import time
from typing import Any
from typing import cast

import torch
from torch import nn
import torch.nn.functional as F

from optuna_clr.schedules import Schedule
from optuna_clr.training import models
from optuna_clr.training.engine_core import Evaluation as Evaluation  # re-exported
from optuna_clr.training.engine_core import first_non_finite as first_non_finite  # re-exported
from optuna_clr.training.engine_core import RunState
from optuna_clr.training.engine_core import STOP_REASONS as STOP_REASONS  # re-exported
from optuna_clr.training.engine_core import TrainResult as TrainResult  # re-exported
from optuna_clr.training.settings import OPTIMIZERS as OPTIMIZERS  # re-exported
from optuna_clr.training.settings import TrainConfig as TrainConfig  # re-exported
from optuna_clr.training.tasks import Split
from optuna_clr.training.tasks import Task


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
    if name == "adadelta":
        return torch.optim.Adadelta(groups, lr=lr)
    return _tuning_free(name, groups, m)


def _tuning_free(name: str, groups: list[dict[str, Any]], momentum: float | None) -> Any:
    """Schedule-Free SGD or AdamW (Defazio et al. 2024) or Prodigy (Mishchenko and Defazio
    2024): the optimizers users pick instead of tuning a schedule. Schedule-Free's weights are
    an average that it swaps in by ``eval()``; the engine calls ``train()`` and ``eval()``
    around every evaluation (:func:`evaluating`)."""
    beta = 0.9 if momentum is None else momentum
    if name == "prodigy":
        from prodigyopt import Prodigy

        return Prodigy(groups, lr=1.0, betas=(beta, 0.999))  # the schedule sets lr (1.0 advised)
    import schedulefree

    if name == "sgd_schedulefree":
        return schedulefree.SGDScheduleFree(groups, lr=0.0, momentum=beta)
    return schedulefree.AdamWScheduleFree(groups, lr=0.0, betas=(beta, 0.999))


@contextlib.contextmanager
def evaluating(optimizer: Any) -> Iterator[None]:
    """Evaluate with the weights the optimizer means: Schedule-Free swaps in its averaged
    weights on ``eval()`` and back on ``train()``; other optimizers have neither."""
    swap = callable(getattr(optimizer, "eval", None))
    if swap:
        optimizer.eval()
    try:
        yield
    finally:
        if swap:
            optimizer.train()


def augment_batch(
    x: torch.Tensor, generator: torch.Generator | None, pad: int | None = None
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
    stepper = _OneModel(task, model, config, optimizer)
    run = RunState(config, schedule, callback=callback)
    n = len(stepper.task.train)
    start = time.perf_counter()
    while run.step < config.max_iterations:
        batch = schedule.batch_size(run.step) or config.batch_size
        if batch > n:
            raise ValueError(
                f"batch size {batch} at step {run.step} exceeds the {n} training images"
            )
        stepper.step(schedule, run.step, batch)
        run.advance(batch)
        if not run.due():
            continue
        # --- evaluation: the only place the host reads from the device ---
        losses = stepper.take_losses()
        if run.diverged(losses):
            break
        acc = stepper.accuracy(stepper.task.valid) if validate else None
        if run.evaluate(losses, acc, time.perf_counter() - start):
            break
    seconds = time.perf_counter() - start
    test = stepper.task.test
    test_acc = stepper.accuracy(test) if test is not None and run.tested else None
    return run.result(test_accuracy=test_acc, train_size=n, seconds=seconds)


class _OneModel:
    """How :func:`train` steps: one model, its optimizer, and the device buffer of the losses
    since the last evaluation (read by the host only at evaluations)."""

    def __init__(
        self,
        task: Task,
        model: models.ModelSpec | nn.Module,
        config: TrainConfig,
        optimizer: torch.optim.Optimizer | None,
    ) -> None:
        self.config = config
        self.device = device = resolve_device(config.device)
        self.task = task.to(device, config.torch_dtype)
        if isinstance(model, nn.Module):
            net = model.to(device, config.torch_dtype)
        else:
            net = models.create(
                model, image_shape=task.image_shape, num_classes=task.num_classes, seed=config.seed
            ).to(device, config.torch_dtype)
        self.channels_last = config.channels_last and device.type == "cuda"
        if self.channels_last:
            net = net.to(memory_format=torch.channels_last)
        self.opt = optimizer if optimizer is not None else make_optimizer(net, config)
        if callable(getattr(self.opt, "train", None)):
            cast(Any, self.opt).train()  # Schedule-Free trains in train mode
        self.forward = torch.compile(net) if config.compile else net
        bf16 = config.precision == "bf16" and device.type == "cuda"
        self.autocast = torch.autocast(device.type, dtype=torch.bfloat16) if bf16 else None
        self.order = BatchOrder(len(self.task.train), config.seed, device)
        self.aug_gen = (
            torch.Generator(device=device).manual_seed(config.seed + 1) if config.augment else None
        )
        # the window's per-update losses (a window never outgrows eval_every or the budget)
        size = min(config.eval_every, config.max_iterations)
        self.losses = torch.empty(size, device=device, dtype=config.torch_dtype)
        self.window = 0
        net.train()

    def step(self, schedule: Schedule, step: int, batch: int) -> None:
        """One update of ``batch`` examples at ``step``'s LR (and momentum, batch size)."""
        idx = self.order.take(batch)
        xb, yb = self.task.train.x[idx], self.task.train.y[idx]
        if self.aug_gen is not None:
            xb = augment_batch(xb, self.aug_gen)
        if self.channels_last:
            xb = xb.contiguous(memory_format=torch.channels_last)
        schedule.apply(self.opt, step)
        with self.autocast or contextlib.nullcontext():
            loss = self.config.loss(self.forward(xb), yb)
        self.opt.zero_grad(set_to_none=True)
        loss.backward()
        self.opt.step()
        if self.window == len(self.losses):  # an examples grid with small batches: more updates
            self.losses = torch.cat([self.losses, torch.empty_like(self.losses)])
        self.losses[self.window] = loss.detach()
        self.window += 1

    def take_losses(self) -> torch.Tensor:
        """The losses since the last evaluation, on the host; the window starts afresh."""
        losses, self.window = self.losses[: self.window].double().cpu(), 0
        return losses

    def accuracy(self, split: Split) -> float:
        with evaluating(self.opt):
            return accuracy(
                cast(nn.Module, self.forward),
                split,
                batch_size=self.config.eval_batch_size,
                autocast=self.autocast,
            )
