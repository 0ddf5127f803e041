"""The runnable examples in docstrings (``.. testcode::``) and README's Python blocks run."""

from __future__ import annotations

import importlib
import inspect
from pathlib import Path
import pkgutil
import re
import textwrap

import pytest

import optuna_clr


def docstring_examples():
    for info in pkgutil.iter_modules(optuna_clr.__path__):
        module = importlib.import_module(f"optuna_clr.{info.name}")
        docs = [(info.name, module.__doc__ or "")]
        for name, obj in vars(module).items():
            if (inspect.isclass(obj) or inspect.isfunction(obj)) and getattr(
                obj, "__module__", ""
            ) == module.__name__:
                docs.append((f"{info.name}.{name}", obj.__doc__ or ""))
        for where, doc in docs:
            for i, match in enumerate(
                re.finditer(r"\.\. testcode::\n\n((?:[ \t]+.*\n|\n)+)", doc + "\n")
            ):
                yield pytest.param(textwrap.dedent(match.group(1)), id=f"{where}#{i}")


@pytest.mark.parametrize("code", list(docstring_examples()))
def test_docstring_example_runs(code, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    exec(compile(code, "<docstring>", "exec"), {})


README = Path(__file__).resolve().parents[1] / "README.md"


def readme_python_blocks():
    text = README.read_text()
    for i, match in enumerate(re.finditer(r"```python\n(.*?)```", text, flags=re.S)):
        yield pytest.param(match.group(1), id=f"README#{i}")


@pytest.mark.parametrize(
    "code", list(readme_python_blocks()) or [pytest.param("", marks=pytest.mark.skip)]
)
def test_readme_python_example_runs(code, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    exec(compile(code, "README.md", "exec"), {})
