"""The runnable examples in docstrings (``.. testcode::``) and the Python blocks of README.md and
docs/*.md run."""

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
    for info in pkgutil.walk_packages(optuna_clr.__path__, "optuna_clr."):
        module = importlib.import_module(info.name)
        if getattr(module, "__name__", "") != info.name:  # an old path's alias of a moved one
            continue
        docs = [(info.name.removeprefix("optuna_clr."), module.__doc__ or "")]
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


ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"


def markdown_python_blocks():
    """Every ```python block of README.md and docs/*.md; a block that must not run here (data to
    download, a GPU) is written as ```bash, ```toml or ```text instead, so it is not collected."""
    for page in [README, *sorted((ROOT / "docs").glob("*.md"))]:
        path = page.relative_to(ROOT).as_posix()
        name = "README" if page == README else path
        blocks = re.finditer(r"```python\n(.*?)```", page.read_text(), flags=re.S)
        for i, match in enumerate(blocks):
            yield pytest.param(match.group(1), path, id=f"{name}#{i}")


@pytest.mark.parametrize(
    ("code", "filename"),
    list(markdown_python_blocks()) or [pytest.param("", "", marks=pytest.mark.skip)],
)
def test_markdown_python_example_runs(code, filename, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    exec(compile(code, filename, "exec"), {})
