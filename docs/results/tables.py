"""Print the Markdown tables of docs/results.md from the CSV summaries committed beside it.

Each CSV is the ``seeds.csv`` that ``optuna-clr compare`` wrote for one question (one row per
configuration and seed), so a table is regenerated without training:

    python docs/results/tables.py docs/results/mnist_batch_size.csv
"""

from __future__ import annotations

import argparse
import csv
from pathlib import Path
import statistics
import sys


def _mean_std(values: list[float], digits: int) -> str:
    mean = statistics.fmean(values)
    std = statistics.stdev(values) if len(values) > 1 else 0.0
    return f"{mean:,.{digits}f} ± {std:,.{digits}f}"


def _to_target(row: dict[str, str], column: str) -> str:
    value = float(row[column])
    return f"{value:,.0f}" + ("" if row["reached"] == "True" else "\\*")  # not italics


def table(path: Path) -> str:
    """The per-configuration table of one ``seeds.csv``: mean ± std over the seeds, every seed.

    Args:
        path: A ``seeds.csv`` written by ``optuna-clr compare``.

    Returns:
        A Markdown table; a starred value is censored (the target was not reached).
    """
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    if not rows:
        raise SystemExit(f"{path}: no rows; write it with optuna-clr compare")
    to_target = next(c for c in rows[0] if c.endswith("_to_target_or_censored"))
    unit = to_target.removesuffix("_to_target_or_censored")
    groups: dict[str, list[dict[str, str]]] = {}
    for row in rows:
        groups.setdefault(row["configuration"], []).append(row)
    lines = [
        f"| configuration | seeds | {unit} to target, every seed | parameter updates | "
        "best validation accuracy | test accuracy | test accuracy, every seed |",
        "|---|---|---|---|---|---|---|",
    ]
    for name, runs in groups.items():
        seeds = ", ".join(r["seed"] for r in runs)
        targets = ", ".join(_to_target(r, to_target) for r in runs)
        updates = _mean_std([float(r["iterations_trained"]) for r in runs], 0)
        best = _mean_std([float(r["best_validation_accuracy"]) for r in runs], 4)
        tests = [float(r["test_accuracy"]) for r in runs if r["test_accuracy"]]
        test = _mean_std(tests, 4) if tests else "-"
        every = ", ".join(f"{t:.4f}" for t in tests)
        lines.append(f"| {name} | {seeds} | {targets} | {updates} | {best} | {test} | {every} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("csv", nargs="+", type=Path, help="seeds.csv files under docs/results/")
    for path in parser.parse_args(argv).csv:
        print(table(path), end="\n\n")


if __name__ == "__main__":
    sys.exit(main())
