"""docs/results.md says what its committed CSVs say: every table is regenerated from one."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from optuna_clr import schedules
from optuna_clr.results import report
from optuna_clr.results.compare import Arm
from optuna_clr.results.compare import Comparison
from optuna_clr.results.compare import SeedRun


ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "docs" / "results"


def _tables():
    spec = importlib.util.spec_from_file_location("tables", RESULTS / "tables.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _run(seed, reached, value, updates, test):
    return SeedRun(seed, reached, value, updates, updates * 100, 0.99, test, [[updates, 0.99]])


def test_a_table_reads_the_seeds_csv_compare_writes(tmp_path):
    step = schedules.StepDecay(lr=0.05, gamma=0.2, milestones=[990]).to_dict()
    growth = schedules.BatchSizeIncrease(
        lr=0.05, batch_size=100, max_batch_size=500, milestones=[99000]
    ).to_dict()
    arms = [
        Arm(
            "step_decay",
            "baseline",
            step,
            [_run(1, True, 990, 3300, 0.99), _run(2, False, 3400, 3300, 0.97)],
        ),
        Arm("batch_growth", "baseline", growth, [_run(1, True, 500, 1200, 0.98)]),
    ]
    comparison = Comparison("t", "examples", 0.99, 3300, [1, 2], arms, None, {})
    report.write_report(comparison, tmp_path)

    table = _tables().table(tmp_path / "seeds.csv")

    lines = table.splitlines()
    assert lines[0].startswith("| configuration | seeds | examples to target")
    assert lines[2] == (
        "| step_decay | 1, 2 | 990, 3,400\\* | 3,300 ± 0 | 0.9900 ± 0.0000 | 0.9800 ± 0.0141 "
        "| 0.9900, 0.9700 |"
    )
    assert lines[3] == (
        "| batch_growth | 1 | 500 | 1,200 ± 0 | 0.9900 ± 0.0000 | 0.9800 ± 0.0000 | 0.9800 |"
    )


@pytest.mark.parametrize("csv", sorted(RESULTS.glob("*.csv")), ids=lambda p: p.name)
def test_every_committed_table_appears_in_results_md_as_printed(csv):
    text = (ROOT / "docs" / "results.md").read_text()
    assert _tables().table(csv) in text, (
        f"docs/results.md lacks the table of {csv.name}; paste the output of "
        f"python docs/results/tables.py docs/results/{csv.name}"
    )
