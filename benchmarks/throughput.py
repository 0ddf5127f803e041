"""Training throughput: a plain DataLoader loop, as tutorials write it, against optuna_clr's
engine.

Both train the same model at the same batch size for the same number of updates on synthetic
CIFAR-shaped data (random images, so no files are needed), with the same SGD and fixed LR:

* ``plain``: a torchvision-style ``Dataset`` (uint8 HWC images through ``ToTensor`` and
  ``Normalize``), ``DataLoader(shuffle=True, num_workers=..., pin_memory=True)``, ``.to(device)``
  per batch, ``optimizer.zero_grad(); loss.backward(); optimizer.step()``;
* ``engine``: :func:`optuna_clr.training.engine.train` (data on the device as one tensor,
index-slice
  batches, no host reads between evaluations; evaluation is switched off here), and its
  variants ``bf16``, ``channels_last`` and ``compile`` on CUDA.

Each is warmed up, then timed over ``--steps`` updates (``torch.cuda.synchronize`` around the
timed region on a GPU), ``--repeats`` times; the median is printed with the ratio to ``plain``.

``--digits`` also times one digits trial of the MLP to 95% validation accuracy (the figure in
docs/benchmarks.md).

    python benchmarks/throughput.py                       # CPU
    python benchmarks/throughput.py --device cuda         # GPU, with the engine's variants
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import time

import numpy as np
import torch
from torch.utils.data import DataLoader
from torch.utils.data import Dataset

import optuna_clr
from optuna_clr.training import models
from optuna_clr.training.engine import resolve_device
from optuna_clr.training.engine import train
from optuna_clr.training.engine import TrainConfig
from optuna_clr.training.tasks import Task


class SyntheticCIFAR(Dataset):
    """CIFAR-10's on-disk form (uint8 HWC) with the usual torchvision transforms."""

    def __init__(self, n: int, seed: int = 0) -> None:
        import torchvision.transforms as T

        rng = np.random.default_rng(seed)
        self.data = rng.integers(0, 256, size=(n, 32, 32, 3), dtype=np.uint8)
        self.targets = rng.integers(0, 10, size=n).tolist()
        self.transform = T.Compose(
            [T.ToTensor(), T.Normalize((0.49, 0.48, 0.45), (0.25, 0.24, 0.26))]
        )

    def __len__(self) -> int:
        return len(self.targets)

    def __getitem__(self, i: int):
        from PIL import Image

        return self.transform(Image.fromarray(self.data[i])), self.targets[i]


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def plain_loop(
    model_name: str,
    dataset: SyntheticCIFAR,
    device: torch.device,
    batch: int,
    steps: int,
    workers: int,
) -> float:
    """Images per second of the tutorial loop over ``steps`` updates (after a warm-up)."""
    net = models.create(model_name, image_shape=(3, 32, 32), num_classes=10, seed=0).to(device)
    opt = torch.optim.SGD(net.parameters(), lr=0.001, momentum=0.9)
    loader = DataLoader(
        dataset,
        batch_size=batch,
        shuffle=True,
        num_workers=workers,
        pin_memory=device.type == "cuda",
        drop_last=True,
        persistent_workers=workers > 0,
    )
    criterion = torch.nn.CrossEntropyLoss()

    def run(n: int) -> None:
        done = 0
        while done < n:
            for x, y in loader:
                x, y = x.to(device, non_blocking=True), y.to(device, non_blocking=True)
                opt.zero_grad()
                loss = criterion(net(x), y)
                loss.backward()
                opt.step()
                done += 1
                if done == n:
                    return

    run(10)
    sync(device)
    start = time.perf_counter()
    run(steps)
    sync(device)
    return steps * batch / (time.perf_counter() - start)


def engine(
    model_name: str, task: Task, device: torch.device, batch: int, steps: int, **options: object
) -> float:
    """Images per second of optuna_clr's trainer over ``steps`` updates (after a warm-up).

    The clock is the trainer's own: from the first update to the host read that ends the run
    (validation is off, so that read waits for every update and nothing else)."""
    schedule = optuna_clr.schedules.Fixed(0.001)
    warm = TrainConfig(
        max_iterations=10, eval_every=10**9, batch_size=batch, device=str(device), **options
    )
    train(
        task, model_name, schedule, warm, validate=False
    )  # warm-up (and compilation, for compile=True)
    config = TrainConfig(
        max_iterations=steps, eval_every=10**9, batch_size=batch, device=str(device), **options
    )
    result = train(task, model_name, schedule, config, validate=False)
    return steps * batch / result.curve[-1].seconds


def digits_trial_seconds(repeats: int) -> list[float]:
    """Wall seconds of one digits trial, MLP, SGD 0.9, batch 32, to 95% validation accuracy."""
    objective = optuna_clr.IterationsToTarget(
        task="digits",
        model="mlp",
        batch_size=32,
        target_accuracy=0.95,
        max_iterations=2000,
        eval_every=10,
        device="cpu",
    )
    objective.run(optuna_clr.schedules.Fixed(0.05))  # warm-up
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        result = objective.run(optuna_clr.schedules.Fixed(0.05))
        times.append(time.perf_counter() - start)
    print(
        "digits trial (mlp, Fixed(0.05), batch 32, target 0.95): reached at "
        f"{result.iterations_to_target} iterations in {statistics.median(times):.3f} s "
        f"(median of {repeats}; all: {', '.join(f'{t:.3f}' for t in times)})"
    )
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--device", default="auto")
    parser.add_argument("--model", default="caffe-cifar10-full")
    parser.add_argument("--batch-size", type=int, default=100)
    parser.add_argument(
        "--steps",
        type=int,
        default=None,
        help="timed updates (default 2000 on a GPU, 150 on a CPU)",
    )
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument(
        "--workers",
        type=int,
        default=min(4, os.cpu_count() or 1),
        help="DataLoader workers of the plain loop",
    )
    parser.add_argument("--images", type=int, default=50_000, help="synthetic training images")
    parser.add_argument(
        "--digits", action="store_true", help="also time one digits trial to 95%% (CPU)"
    )
    args = parser.parse_args()

    device = resolve_device(args.device)
    steps = args.steps or (2000 if device.type == "cuda" else 150)
    torch.manual_seed(0)
    name = (
        torch.cuda.get_device_name(device)
        if device.type == "cuda"
        else (
            f"CPU ({platform.machine()}, {os.cpu_count()} cores, "
            f"{torch.get_num_threads()} threads)"
        )
    )
    print(
        f"# throughput: {args.model}, batch {args.batch_size}, {steps} timed updates, "
        f"median of {args.repeats}"
    )
    print(
        f"# device {name}; torch {torch.__version__}; optuna_clr {optuna_clr.__version__}; "
        f"python {platform.python_version()}"
    )
    print(
        f"# plain loop: DataLoader with {args.workers} workers; "
        f"data: {args.images} synthetic 32x32x3 images"
    )

    dataset = SyntheticCIFAR(args.images)
    x = torch.from_numpy(dataset.data).permute(0, 3, 1, 2).float().div_(255)
    x = (x - x.mean((0, 2, 3), keepdim=True)) / x.std((0, 2, 3), keepdim=True)
    y = torch.tensor(dataset.targets)
    task = Task.from_tensors(
        train=(x, y), valid=(x[:1000], y[:1000]), test=(x[:100], y[:100]), name="synthetic-cifar"
    ).to(device)

    variants: dict[str, dict[str, object]] = {"engine": {}}
    if device.type == "cuda":
        variants.update(
            {
                "engine bf16": {"precision": "bf16"},
                "engine bf16 channels_last": {"precision": "bf16", "channels_last": True},
                "engine compile": {"compile": True},
            }
        )
    rows = {
        "plain": [
            plain_loop(args.model, dataset, device, args.batch_size, steps, args.workers)
            for _ in range(args.repeats)
        ]
    }
    for label, options in variants.items():
        rows[label] = [
            engine(args.model, task, device, args.batch_size, steps, **options)
            for _ in range(args.repeats)
        ]
    base = statistics.median(rows["plain"])
    print(f"\n{'loop':28s} {'img/s (median)':>15s} {'runs':>28s} {'vs plain':>9s}")
    for label, values in rows.items():
        med = statistics.median(values)
        print(
            f"{label:28s} {med:15,.0f} "
            f"{', '.join(f'{v:,.0f}' for v in values):>28s} {med / base:8.2f}x"
        )
    if args.digits:
        print()
        digits_trial_seconds(args.repeats)


if __name__ == "__main__":
    main()
