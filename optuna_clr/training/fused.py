"""K trials trained at once on one device: models stacked with ``torch.func``.

A small network at batch 100 leaves a GPU mostly idle (the CLR paper's CIFAR-10 net trains at
about 46k img/s on an H100, launch-bound). Stacking K models (``stack_module_state``) and
running them as one (``vmap`` over ``functional_call``) turns K small launches into one wider
one. Each trial keeps its own schedule, seed (weights, batch order, augmentation), step count
and evaluations; SGD runs on the stacked tensors with per-trial LR and momentum vectors. A trial
may bring its own task, the same data split with another seed, so the seeds of one configuration
train as one job (each task is held in memory while its trial is in the stack).

A trial leaves the stack the moment it is done (target reached, pruned by its callback, its
budget spent, or diverged) and a new one takes its place at the next evaluation boundary, so
the stack stays full while there is work. New trials join only at multiples of
``eval_every`` steps, which keeps every trial's evaluations on the same ticks.

What is fused and what is not: SGD (with momentum / Nesterov), any LR and momentum schedule,
Caffe's per-layer LR and decay multipliers, BatchNorm (running statistics are stacked too),
augmentation (run per trial). Not fused: schedules that move the batch size (each trial would
need its own batch shape) and the other optimizers; :func:`fusable` says why, and the study
runner trains those one by one.

Numbers: the stacked kernels (batched matmuls, grouped convolutions) round differently from the
single-model ones in the last bit, so float32 weights agree to about 1e-7 after a step, not
bitwise, and training at a high LR can amplify that until an evaluation lands on the other side
of the target (seen: 1 of 12 LeNet schedules on digits ended 70 iterations apart). In float64
(``TrainConfig(dtype="float64")``) the two engines give the same iterations to target, which
the tests check on a CPU; on a GPU, expect float32's spread, one or two evaluations.

Example:

    .. testcode::

        import optuna_clr
        from optuna_clr.training.fused import FusedJob, train_fused
        from optuna_clr.training.engine import TrainConfig

        task = optuna_clr.training.tasks.load("digits")
        config = TrainConfig(
            max_iterations=600, eval_every=20, target_accuracy=0.95, batch_size=32, device="cpu"
        )
        jobs = [FusedJob(optuna_clr.schedules.Fixed(lr)) for lr in (0.02, 0.05, 0.1, 0.2)]
        results = train_fused(task, "mlp", config, jobs, capacity=4)
        print([r.iterations_to_target for r in results])
"""

from __future__ import annotations

from collections.abc import Callable
from collections.abc import Iterable
import copy
import dataclasses
import time
from typing import Any
from typing import cast

import torch
from torch import nn
from torch.func import functional_call
from torch.func import stack_module_state
from torch.func import vmap

from optuna_clr.schedules import Schedule
from optuna_clr.training import models
from optuna_clr.training.engine import augment_batch
from optuna_clr.training.engine import BatchOrder
from optuna_clr.training.engine import resolve_device
from optuna_clr.training.engine import to_device
from optuna_clr.training.engine import TrainConfig
from optuna_clr.training.engine import TrainResult
from optuna_clr.training.engine_core import Evaluation
from optuna_clr.training.engine_core import RunState
from optuna_clr.training.tasks import Split
from optuna_clr.training.tasks import Task


@dataclasses.dataclass
class FusedJob:
    """One trial for the fused engine. ``seed`` and ``max_iterations`` default to the config's;
    ``task``, to the engine's: a job may bring the same data with another validation split
    (the seeds of one configuration, :meth:`~optuna_clr.training.experiment.Experiment.run_seeds`),
    as long as every split has the engine's size and image shape."""

    schedule: Schedule
    seed: int | None = None
    max_iterations: int | None = None
    callback: Callable[[Evaluation], bool | None] | None = None
    key: Any = None  # yours: handed back with the result
    task: Task | None = None


def fusable(schedule: Schedule, config: TrainConfig) -> str | None:
    """None if a trial with ``schedule`` can join a fused stack, else the reason it cannot."""
    if config.optimizer not in ("sgd", "nesterov"):
        return f"the fused engine implements SGD only, not {config.optimizer!r}"
    if schedule.moves_batch_size:
        return "the schedule moves the batch size, which differs between stacked trials"
    if config.compile or config.precision != "fp32" or config.max_examples or config.max_seconds:
        return "compile, bf16, max_examples and max_seconds are single-trial options"
    return None


class _Slot:
    """A trial in the stack: its job and its own counters, generators and curve."""

    def __init__(
        self, job: FusedJob, config: TrainConfig, task: Task, device: torch.device, start: float
    ) -> None:
        self.job, self.task = job, task
        n = len(task.train)
        self.seed = config.seed if job.seed is None else job.seed
        self.run = RunState(
            config, job.schedule, budget=job.max_iterations, callback=job.callback
        )  # its counters, curve and stop rules, as train() keeps them
        self.order = BatchOrder(n, self.seed, device)
        self.aug_gen = (
            torch.Generator(device=device).manual_seed(self.seed + 1) if config.augment else None
        )
        self.start = start


class _Stack:
    """The stacked parameters, buffers and momentum of the trials in the slots."""

    def __init__(self, template: nn.Module, config: TrainConfig) -> None:
        self.base = copy.deepcopy(template).to("meta")
        multipliers = models.multipliers(template)
        self.lr_scale = {name: lr for name, (lr, _) in multipliers.items()}
        self.decay = {
            name: config.weight_decay * decay for name, (_, decay) in multipliers.items()
        }
        self.params: dict[str, torch.Tensor] = {}
        self.buffers: dict[str, torch.Tensor] = {}
        self.momenta: dict[str, torch.Tensor] = {}
        self.trainable: set[str] = set()  # the template's parameters that require a gradient

    def __len__(self) -> int:
        return 0 if not self.params else next(iter(self.params.values())).shape[0]

    def add(self, net: nn.Module) -> None:
        self.trainable = {name for name, p in net.named_parameters() if p.requires_grad}
        params, buffers = stack_module_state([net])
        for store, new in ((self.params, params), (self.buffers, buffers)):
            for name, value in new.items():
                value = value.detach()
                store[name] = (
                    value if name not in store else torch.cat([store[name].detach(), value])
                )
        for name, p in params.items():
            zero = torch.zeros_like(p.detach())
            self.momenta[name] = (
                zero if name not in self.momenta else torch.cat([self.momenta[name], zero])
            )
        for name in self.params:
            self.params[name] = self.params[name].detach().requires_grad_(name in self.trainable)

    def keep(self, rows: list[int]) -> None:
        index = torch.tensor(
            rows, dtype=torch.long, device=next(iter(self.params.values())).device
        )
        for store in (self.params, self.buffers, self.momenta):
            for name, value in store.items():
                store[name] = value.detach().index_select(0, index)
        for name in self.params:
            self.params[name].requires_grad_(name in self.trainable)

    def rows(self, rows: list[int]) -> tuple[dict[str, torch.Tensor], dict[str, torch.Tensor]]:
        """The parameters and buffers of some trials (no copy when they are all of them)."""
        if rows == list(range(len(self))):
            return self.params, self.buffers
        index = torch.tensor(
            rows, dtype=torch.long, device=next(iter(self.params.values())).device
        )
        return (
            {k: v.detach().index_select(0, index) for k, v in self.params.items()},
            {k: v.index_select(0, index) for k, v in self.buffers.items()},
        )

    def forward(
        self,
        x: torch.Tensor,
        *,
        shared_input: bool,
        state: tuple[dict[str, torch.Tensor], dict[str, torch.Tensor]] | None = None,
    ) -> torch.Tensor:
        params, buffers = state or (self.params, self.buffers)

        def one(p: dict, b: dict, xb: torch.Tensor) -> torch.Tensor:
            return functional_call(self.base, (p, b), (xb,))

        return vmap(one, in_dims=(0, 0, None if shared_input else 0))(params, buffers, x)

    @torch.no_grad()
    def sgd_step(self, lr: torch.Tensor, momentum: torch.Tensor, nesterov: bool) -> None:
        """torch.optim.SGD's update, with a learning rate and a momentum per trial."""
        shape = (-1,)
        for name, p in self.params.items():
            d = p.grad
            if d is None:  # frozen, or unused by the forward pass: torch's SGD skips it too
                continue
            view = shape + (1,) * (p.dim() - 1)
            if self.decay[name]:
                d = d.add(p, alpha=self.decay[name])
            m = momentum.view(view)
            buf = self.momenta[name]
            buf.mul_(m).add_(d)  # from zero, the first update sets buf = d, as torch does
            d = d.add(buf * m) if nesterov else buf
            p.sub_(d * (lr.view(view) * self.lr_scale[name]))
            p.grad = None


@torch.no_grad()
def _accuracies(
    stack: _Stack, splits: list[Split], rows: list[int], batch_size: int
) -> list[float]:
    """The accuracy of the trials in ``rows``, each on its split (one batch for all when the
    splits are one)."""
    if not rows:
        return []
    stack.base.eval()
    state = stack.rows(rows)
    first = splits[0]
    shared = all(split is first for split in splits)
    correct = torch.zeros(len(rows), dtype=torch.int64, device=first.x.device)
    for i in range(0, len(first), batch_size):
        if shared:
            x, y = first.x[i : i + batch_size], first.y[i : i + batch_size]
        else:
            x = torch.stack([split.x[i : i + batch_size] for split in splits])
            y = torch.stack([split.y[i : i + batch_size] for split in splits])
        logits = stack.forward(x, shared_input=shared, state=state)
        correct += (logits.argmax(-1) == y).sum(1)
    stack.base.train()
    return (correct.double() / len(first)).tolist()


def train_fused(
    task: Task,
    model: models.ModelSpec,
    config: TrainConfig,
    jobs: Iterable[FusedJob] | Callable[[], FusedJob | None],
    *,
    capacity: int,
    on_done: Callable[[FusedJob, TrainResult], None] | None = None,
) -> list[TrainResult]:
    """Train the jobs ``capacity`` at a time; see the module docstring.

    Args:
        jobs: a list of jobs, or a function that returns the next job (None: no more), called
            whenever a place in the stack is free, so a study can ask for trials as they are
            needed.
        on_done: called with each job and its result the moment it finishes.

    Returns the results in the order the jobs finished.
    """
    if capacity < 1:
        raise ValueError(f"capacity must be >= 1, got {capacity}")
    if not callable(jobs):
        pending = list(jobs)
        jobs = lambda: pending.pop(0) if pending else None  # noqa: E731
    engine = _Fused(task, model, config, capacity, jobs)
    finished: list[TrainResult] = []
    while engine.fill():
        engine.step()
        due = [k for k, slot in enumerate(engine.slots) if slot.run.due()]
        done = engine.evaluate(due) if due else []
        for job, result in engine.finish(done) if done else []:
            finished.append(result)
            if on_done is not None:
                on_done(job, result)
    return finished


class _Fused:
    """How :func:`train_fused` steps: the trials in the stack, one vmapped update for all,
    and the loss vectors since the last evaluation tick (read by the host at evaluations)."""

    def __init__(
        self,
        task: Task,
        model: models.ModelSpec,
        config: TrainConfig,
        capacity: int,
        next_job: Callable[[], FusedJob | None],
    ) -> None:
        self.config, self.model, self.capacity, self.next_job = config, model, capacity, next_job
        self.device = resolve_device(config.device)
        self._given = task
        self.task = task.to(self.device, config.torch_dtype)
        self._tasks: list[tuple[Task, Task]] = []  # the jobs' own tasks: given, converted
        self.n = len(self.task.train)
        if config.batch_size > self.n:
            raise ValueError(
                f"batch size {config.batch_size} exceeds the {self.n} training images"
            )
        template = models.create(
            model, image_shape=task.image_shape, num_classes=task.num_classes, seed=0
        )
        self.stack = _Stack(template, config)
        self.slots: list[_Slot] = []
        self.window: list[torch.Tensor] = []  # per-step loss vectors since the last eval tick
        self.exhausted = False
        self.tick = 0
        self.plan = torch.empty(0)  # (2, trials, steps): the next steps' LRs and momenta
        self.plan_start = self.plan_end = 0  # the ticks (within a window) the plan covers
        self.ce = vmap(config.loss)

    def fill(self) -> bool:
        """Fill free places, only on evaluation boundaries so every trial's evaluations share
        ticks; False when nothing is left to train."""
        every = self.config.eval_every
        while True:
            if self.tick % every == 0 and not self.window:
                self._add_jobs()
            if self.slots:
                return True
            if self.exhausted:
                return False
            # every trial ended between two boundaries: start afresh at the next one
            self.window.clear()
            self.tick = -(-self.tick // every) * every

    def _add_jobs(self) -> None:
        while len(self.slots) < self.capacity and not self.exhausted:
            job = self.next_job()
            if job is None:
                self.exhausted = True
                return
            if reason := fusable(job.schedule, self.config):
                raise ValueError(f"{job.schedule!r} cannot be fused: {reason}")
            task = self._task_of(job)
            slot = _Slot(job, self.config, task, self.device, time.perf_counter())
            net = models.create(
                self.model,
                image_shape=self.task.image_shape,
                num_classes=self.task.num_classes,
                seed=slot.seed,
            )
            self.stack.add(net.to(self.device, self.config.torch_dtype))
            self.slots.append(slot)

    def _task_of(self, job: FusedJob) -> Task:
        """The job's task on the engine's device and dtype, checked to stack with the rest."""
        if job.task is None or job.task is self._given:
            return self.task
        # only the tasks of the trials still in the stack stay in memory
        self._tasks = [
            (given, t) for given, t in self._tasks if any(s.task is t for s in self.slots)
        ]
        for given, task in self._tasks:
            if given is job.task:
                return task
        task = job.task.to(self.device, self.config.torch_dtype)
        shapes = [
            [
                None if s is None else (len(s), tuple(s.x.shape[1:]))
                for s in (t.train, t.valid, t.test)
            ]
            for t in (task, self.task)
        ]
        if shapes[0] != shapes[1]:
            raise ValueError(
                "a job's task must have the engine task's split sizes and image shape to be "
                f"stacked with it: {shapes[0]} against {shapes[1]}"
            )
        self._tasks.append((job.task, task))
        return task

    def _batch(self, idx: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Each trial's batch (rows of ``idx``) from its own training split."""
        splits = [slot.task.train for slot in self.slots]
        if all(split is self.task.train for split in splits):
            return self.task.train.x[idx], self.task.train.y[idx]
        return (
            torch.stack([split.x[i] for split, i in zip(splits, idx)]),
            torch.stack([split.y[i] for split, i in zip(splits, idx)]),
        )

    def step(self) -> None:
        """One update of every trial in the stack."""
        config, slots = self.config, self.slots
        column = self.tick % config.eval_every
        if column == 0 or column >= self.plan_end:  # one copy to the device per stretch
            self.plan_start, self.plan_end = column, min(config.eval_every, column + _PLAN_STEPS)
            steps = self.plan_end - self.plan_start
            self.plan = to_device(_plan(slots, steps, config), self.device)
        idx = torch.stack([s.order.take(config.batch_size) for s in slots])
        x, y = self._batch(idx)
        if config.augment:
            x = torch.stack([augment_batch(x[k], s.aug_gen) for k, s in enumerate(slots)])
        losses = self.ce(self.stack.forward(x, shared_input=False), y)
        losses.sum().backward()
        lr, momentum = self.plan[:, :, column - self.plan_start]
        self.stack.sgd_step(lr, momentum, config.uses_nesterov)
        self.window.append(losses.detach())
        self.tick += 1
        for s in slots:
            s.run.advance(config.batch_size)

    def evaluate(self, due: list[int]) -> list[int]:
        """Evaluate the trials in the rows ``due`` (the only host reads); the rows that stop."""
        history = torch.stack(self.window).cpu()  # steps x trials
        splits = [self.slots[k].task.valid for k in due]
        accs = _accuracies(self.stack, splits, due, self.config.eval_batch_size)
        now = time.perf_counter()
        done = []
        for j, k in enumerate(due):
            run = self.slots[k].run
            mine = history[-min(len(history), run.step) :, k]  # this trial's updates
            if run.diverged(mine) or run.evaluate(mine, accs[j], now - self.slots[k].start):
                done.append(k)
        if len(due) == len(self.slots) or self.tick % self.config.eval_every == 0:
            self.window.clear()
        return done

    def finish(self, done: list[int]) -> list[tuple[FusedJob, TrainResult]]:
        """The stopped trials' results (test accuracies measured together); they leave the
        stack."""
        tested = [row for row in done if self.slots[row].run.tested]
        tests_of = [self.slots[row].task.test for row in tested]
        accs = (
            _accuracies(
                self.stack, cast(list[Split], tests_of), tested, self.config.eval_batch_size
            )
            if self.task.test is not None
            else []
        )
        tests = dict(zip(tested, accs))
        now = time.perf_counter()
        results = [
            (
                self.slots[row].job,
                self.slots[row].run.result(
                    test_accuracy=tests.get(row),
                    train_size=self.n,
                    seconds=now - self.slots[row].start,
                ),
            )
            for row in done
        ]
        keep = [i for i in range(len(self.slots)) if i not in done]
        self.slots[:] = [self.slots[i] for i in keep]
        self.window[:] = [w[keep] if keep else w[:0] for w in self.window]
        self.plan = self.plan[:, keep]
        if keep:
            self.stack.keep(keep)
        else:
            self.stack.params, self.stack.buffers, self.stack.momenta = {}, {}, {}
        return results


_PLAN_STEPS = 256  # steps of LRs and momenta sent to the device at a time


def _plan(slots: list[_Slot], steps: int, config: TrainConfig) -> torch.Tensor:
    """The LR and momentum of each trial for its next ``steps`` updates, from the closed forms."""
    lrs = [[s.job.schedule.lr(i) for i in range(s.run.step, s.run.step + steps)] for s in slots]
    momenta = [
        [_momentum(s.job.schedule, i, config) for i in range(s.run.step, s.run.step + steps)]
        for s in slots
    ]
    return torch.tensor([lrs, momenta], dtype=config.torch_dtype)


def _momentum(schedule: Schedule, step: int, config: TrainConfig) -> float:
    m = schedule.momentum(step)
    return config.sgd_momentum if m is None else m
