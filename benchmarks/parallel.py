"""Many trials on one device: aggregate images per second against K.

For each model, trains K trials at once for ``--steps`` updates on synthetic CIFAR-shaped data
and prints the aggregate throughput (K x batch x steps / wall seconds):

* ``single``: the one-trial engine, :func:`optuna_clr.training.engine.train` (K = 1);
* ``vmap K``: the fused engine, :func:`optuna_clr.training.fused.train_fused` (K models stacked
with
  ``torch.func``, per-trial LR vectors);
* ``processes K``: K processes each running the one-trial engine at the same time on the same
  device (what ``optuna-clr optimize --parallel K --engine processes`` does).

Evaluation is off (``eval_every`` beyond the run), so the figures are training throughput.

    python benchmarks/parallel.py --device cuda --models caffe-cifar10-full resnet20 --k 1 8 32 128
    python benchmarks/parallel.py                      # CPU, small K
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import platform
import time

import torch

import optuna_clr
from optuna_clr.schedules import Fixed
from optuna_clr.training.engine import resolve_device
from optuna_clr.training.engine import train
from optuna_clr.training.engine import TrainConfig
from optuna_clr.training.fused import FusedJob
from optuna_clr.training.fused import train_fused
from optuna_clr.training.tasks import Task


def synthetic_task(n: int, device: torch.device) -> Task:
    g = torch.Generator().manual_seed(0)
    x = torch.randn(n, 3, 32, 32, generator=g)
    y = torch.randint(0, 10, (n,), generator=g)
    return Task.from_tensors(train=(x, y), valid=(x[:500], y[:500]), name="synthetic-cifar").to(
        device
    )


def config(device: torch.device, batch: int, steps: int) -> TrainConfig:
    # no evaluation until the last update, which ends the run with one host read
    return TrainConfig(
        max_iterations=steps,
        eval_every=10**9,
        batch_size=batch,
        device=str(device),
        target_accuracy=None,
    )


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def single(model: str, task: Task, device: torch.device, batch: int, steps: int) -> float:
    train(
        task, model, optuna_clr.schedules.Fixed(0.01), config(device, batch, 5), validate=False
    )  # warm-up
    result = train(
        task, model, optuna_clr.schedules.Fixed(0.01), config(device, batch, steps), validate=False
    )
    return batch * steps / result.curve[-1].seconds


def fused(model: str, task: Task, device: torch.device, batch: int, steps: int, k: int) -> float:
    jobs = lambda n: [FusedJob(Fixed(0.001 * (1 + i)), seed=i) for i in range(k)]  # noqa: E731
    train_fused(task, model, config(device, batch, 5), jobs(k), capacity=k)  # warm-up
    sync(device)
    start = time.perf_counter()
    train_fused(task, model, config(device, batch, steps), jobs(k), capacity=k)
    sync(device)
    # the run ends with one validation and one test evaluation per trial; they are small next to
    # the updates at the step counts used here, and included
    return k * batch * steps / (time.perf_counter() - start)


def _worker(args: tuple) -> None:
    model, n, device, batch, steps, barrier, times, threads = args
    torch.set_num_threads(threads)  # share the cores instead of oversubscribing them
    task = synthetic_task(n, torch.device(device))
    train(
        task,
        model,
        optuna_clr.schedules.Fixed(0.01),
        config(torch.device(device), batch, 5),
        validate=False,
    )
    barrier.wait()
    start = time.time()
    train(
        task,
        model,
        optuna_clr.schedules.Fixed(0.01),
        config(torch.device(device), batch, steps),
        validate=False,
    )
    times.put((start, time.time()))  # wall clock: comparable across processes, unlike perf_counter


def processes(model: str, n: int, device: torch.device, batch: int, steps: int, k: int) -> float:
    """K processes warm up, start together and train; the span from the first start to the last
    end counts (process start-up and exit do not). Each process gets its share of the CPU
    threads."""
    ctx = mp.get_context("spawn")
    barrier, times = ctx.Barrier(k), ctx.Queue()
    procs = [
        ctx.Process(
            target=_worker,
            args=(
                (
                    model,
                    n,
                    str(device),
                    batch,
                    steps,
                    barrier,
                    times,
                    max(1, torch.get_num_threads() // k),
                ),
            ),
        )
        for _ in range(k)
    ]
    for p in procs:
        p.start()
    spans = [times.get() for _ in procs]
    for p in procs:
        p.join()
    return k * batch * steps / (max(e for _, e in spans) - min(s for s, _ in spans))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--device", default="auto")
    parser.add_argument("--models", nargs="+", default=["caffe-cifar10-full", "resnet20"])
    parser.add_argument(
        "--k",
        nargs="+",
        type=int,
        default=None,
        help="stack sizes (default 1 8 32 128 on a GPU, 1 2 4 on a CPU)",
    )
    parser.add_argument("--batch-size", type=int, default=100)
    parser.add_argument(
        "--steps",
        type=int,
        default=None,
        help="timed updates per trial (default 300 on a GPU, 20 on a CPU)",
    )
    parser.add_argument("--images", type=int, default=20_000)
    parser.add_argument(
        "--no-processes", action="store_true", help="skip the K-processes measurement"
    )
    args = parser.parse_args()

    device = resolve_device(args.device)
    ks = args.k or ([1, 8, 32, 128] if device.type == "cuda" else [1, 2, 4])
    steps = args.steps or (300 if device.type == "cuda" else 20)
    name = (
        torch.cuda.get_device_name(device)
        if device.type == "cuda"
        else (
            f"CPU ({platform.machine()}, {os.cpu_count()} cores, "
            f"{torch.get_num_threads()} threads)"
        )
    )
    print(
        f"# parallel trials: batch {args.batch_size}, {steps} updates per trial, "
        f"synthetic 32x32x3 data ({args.images} images)"
    )
    print(
        f"# device {name}; torch {torch.__version__}; optuna_clr {optuna_clr.__version__}; "
        f"python {platform.python_version()}"
    )
    task = synthetic_task(args.images, device)
    print(f"\n{'model':22s} {'how':14s} {'K':>4s} {'img/s':>10s} {'vs single':>10s}")
    for model in args.models:
        base = single(model, task, device, args.batch_size, steps)
        print(f"{model:22s} {'single':14s} {1:4d} {base:10,.0f} {1.0:9.2f}x", flush=True)
        for k in ks:
            if k == 1:
                continue
            value = fused(model, task, device, args.batch_size, steps, k)
            print(
                f"{model:22s} {'vmap':14s} {k:4d} {value:10,.0f} {value / base:9.2f}x", flush=True
            )
            if not args.no_processes:
                value = processes(model, args.images, device, args.batch_size, steps, k)
                print(
                    f"{model:22s} {'processes':14s} {k:4d} {value:10,.0f} {value / base:9.2f}x",
                    flush=True,
                )


if __name__ == "__main__":
    main()
