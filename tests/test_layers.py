"""The package follows the data path: the layering contract in pyproject.toml holds, there is
no import loop, and no module imports the top-level package."""

from __future__ import annotations

import importlib.util
from pathlib import Path
import subprocess
import sys

import pytest


ROOT = Path(__file__).resolve().parents[1]


def _import_graph():
    spec = importlib.util.spec_from_file_location("import_graph", ROOT / "tools/import_graph.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_layering_contract_holds():
    pytest.importorskip("importlinter")  # in the dev extra
    run = subprocess.run(
        [
            sys.executable,
            "-c",
            "from importlinter.cli import lint_imports_command as c; c()",
            "--no-cache",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    assert "1 kept, 0 broken" in run.stdout


def test_there_is_no_import_loop_and_nothing_imports_the_top_level_package():
    tool = _import_graph()
    graph = tool.graph()
    assert tool.cycles(graph) == []
    facades = {"optuna_clr", "optuna_clr.exceptions"}  # what users import, never imported back
    for module, imported in graph.items():
        if module in facades:
            continue
        assert not (imported & facades), f"{module} imports {sorted(imported & facades)}"
    assert len(graph) > 30  # every module was read
