"""The CLR paper's CIFAR-10 runs (Smith 2017, Table 1), its hand-set schedules, every seed in one
fused stack.

The schedules are ``studies/cifar10_smith2017.toml``'s baselines, each for the paper's run
length: Caffe's step schedule (the paper's baseline, 81.4% at 70,000 iterations),
``triangular2`` (0.001-0.006, step 2,000; the paper: 81.4% at 25,000) and ``exp_range`` (the
paper: 82.2% at 42,000), each with ``--seeds`` seeds
(the study's training settings: Caffe's cifar10_full network, batch 100, SGD momentum 0.9, weight
decay 0.004 with Caffe's per-layer multipliers, no augmentation). All of them train together in
one :func:`~optuna_clr.training.fused.train_fused` stack (each seed with its own validation
split), evaluated every ``eval_every`` iterations; no run stops at a target, so each curve gives
the paper's figures: validation accuracy at 25,000 and 70,000 iterations and the first
iteration at 81.4%, and the test accuracy at the end of the run.

Writes ``<out>/cifar10_smith2017_runs.csv`` (one row per schedule and seed) and
``<out>/cifar10_smith2017_curves.csv`` (every evaluation), and prints a table.

    python benchmarks/gpu_cifar10.py --data-dir ../shared/data/cifar10 --device cuda --out $OUT
    python benchmarks/gpu_cifar10.py --data-dir ../shared/data/cifar10 --device cpu --rehearse

``--rehearse`` divides every budget, milestone and step size by 1,000 (and evaluates every 10
iterations) so the whole path runs on a CPU in about a minute.
"""

from __future__ import annotations

import argparse
import csv
import dataclasses
from pathlib import Path
import sys
import time
from typing import Any

import torch

from optuna_clr import schedules
from optuna_clr.study.studyfile import StudyFile
from optuna_clr.training.fused import FusedJob
from optuna_clr.training.fused import train_fused


ROOT = Path(__file__).resolve().parent.parent
STUDY_FILE = ROOT / "studies" / "cifar10_smith2017.toml"
# the paper's own run lengths, so the fused stack trains 41 million images for 3 seeds
BUDGETS = {"caffe_step": 70_000, "smith_triangular2": 25_000, "smith_exp_range": 42_000}
PAPER = {  # Smith 2017, Table 1: test accuracy and iterations
    "caffe_step": "81.4% at 70,000",
    "smith_triangular2": "81.4% at 25,000",
    "smith_exp_range": "82.2% at 42,000",
}
TARGET, LOOKS = 0.814, (25_000, 70_000)


def scaled(schedule: schedules.Schedule, factor: int) -> schedules.Schedule:
    """``schedule`` with its step sizes and milestones divided by ``factor`` (a rehearsal)."""
    if factor == 1:
        return schedule
    spec = schedule.to_dict()
    if spec.get("step_size"):
        spec["step_size"] = max(1, spec["step_size"] // factor)
    if "milestones" in spec:
        spec["milestones"] = [max(1, m // factor) for m in spec["milestones"]]
    if "gamma" in spec and spec.get("family") == "exp_range":
        spec["gamma"] = spec["gamma"] ** factor
    return schedules.from_dict(spec)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data-dir", required=True, help="folder holding cifar-10-batches-py/")
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--out", type=Path, default=Path("."))
    parser.add_argument("--rehearse", action="store_true", help="budgets / 1,000, on any device")
    args = parser.parse_args()
    factor = 1000 if args.rehearse else 1
    sf = StudyFile.load(STUDY_FILE).with_overrides(
        task__data_dir=args.data_dir, training__device=args.device
    )
    experiment = sf.make_objective().experiment
    config = dataclasses.replace(
        experiment.config,
        target_accuracy=None,  # every run trains its whole budget: the curve gives the figures
        max_iterations=max(BUDGETS.values()) // factor,
        eval_every=10 if args.rehearse else experiment.config.eval_every,
    )
    seeds = [sf.study["seed"] + 1 + i for i in range(args.seeds)]
    jobs = [
        FusedJob(
            scaled(sf.baselines[name].schedule, factor),
            seed=seed,
            max_iterations=budget // factor,
            key=(name, seed),
            task=experiment.task_for(seed),
        )
        for name, budget in BUDGETS.items()
        for seed in seeds
    ]
    print(f"{len(jobs)} runs in one stack on {args.device} ({torch.__version__})", flush=True)
    start = time.perf_counter()
    results: dict[tuple[str, int], Any] = {}
    train_fused(
        experiment.task,
        experiment.model,
        config,
        jobs,
        capacity=len(jobs),
        on_done=lambda job, result: results.__setitem__(job.key, result),
    )
    seconds = time.perf_counter() - start
    write(args.out, results, factor, seconds, config.batch_size)


def write(
    out: Path, results: dict[tuple[str, int], Any], factor: int, seconds: float, batch: int
) -> None:
    out.mkdir(parents=True, exist_ok=True)
    looks = [look // factor for look in LOOKS]
    rows = []
    with (out / "cifar10_smith2017_curves.csv").open("w", newline="") as f:
        curves = csv.writer(f)
        curves.writerow(["schedule", "seed", "iteration", "validation_accuracy"])
        for (name, seed), r in sorted(results.items()):
            for ev in r.curve:
                curves.writerow([name, seed, ev.step, f"{ev.accuracy:.4f}"])
            at = {  # a run shorter than a look has no figure there
                look: max((e.accuracy for e in r.curve if e.step <= look), default=None)
                if r.iterations >= look
                else None
                for look in looks
            }
            first = next((e.step for e in r.curve if e.accuracy >= TARGET), None)
            rows.append(
                {
                    "schedule": name,
                    "seed": seed,
                    "iterations": r.iterations,
                    f"best_validation_to_{looks[0]}": _pct(at[looks[0]]),
                    f"best_validation_to_{looks[1]}": _pct(at[looks[1]]),
                    f"first_iteration_at_{TARGET}": first if first is not None else "",
                    "test_accuracy_at_end": _pct(r.test_accuracy),
                    "paper": PAPER[name],
                }
            )
    with (out / "cifar10_smith2017_runs.csv").open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    images = sum(r.iterations for r in results.values()) * batch
    print(f"{len(results)} runs, {seconds:.0f} s wall, {images / seconds:,.0f} images/s in all")
    writer = csv.DictWriter(sys.stdout, fieldnames=list(rows[0]))
    writer.writeheader()
    writer.writerows(rows)


def _pct(x: float | None) -> str:
    return "" if x is None else f"{x:.4f}"


if __name__ == "__main__":
    main()
