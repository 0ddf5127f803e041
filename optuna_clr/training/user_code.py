"""Your own model and data, named in a study file by import path: ``"mypkg.nets:build"``.

The working folder is importable, as ``python -m`` makes it, so a module beside the study file
works without installing it. Every failure is one line naming the path and the fix, raised
when the study file is loaded, before anything trains.

Example:

    .. testcode::

        from optuna_clr.training.user_code import load_factory

        build = load_factory("torch.nn:Identity", what="[training] model", args=())
        print(build())   # Identity()
"""

from __future__ import annotations

from collections.abc import Callable
import importlib
import inspect
import os
import re
import sys
from typing import Any


_PATH = re.compile(r"^[A-Za-z_][\w.]*:[A-Za-z_][\w.]*$")


class UserCodeError(ValueError):
    """An import path that does not import, or names something that cannot be called so."""


def is_import_path(spec: Any) -> bool:
    """Whether ``spec`` is ``"module.path:attribute"``."""
    return isinstance(spec, str) and bool(_PATH.match(spec))


def load_factory(spec: str, *, what: str, args: tuple[str, ...]) -> Callable[..., Any]:
    """The callable at ``spec``, checked to accept the positional ``args`` (their names, for
    the message).

    Args:
        spec: ``"module.path:attribute"`` (the attribute may be dotted: ``"m:Class.create"``).
        what: where the path came from, for messages (``"[training] model"``).
        args: the names of the positional arguments it will be called with.

    Raises:
        UserCodeError: the module does not import, has no such attribute, or the attribute
            is not a callable taking ``args``.
    """
    if not is_import_path(spec):
        raise UserCodeError(f"{what} {spec!r}: not an import path; write 'module.path:factory'")
    module_name, _, attribute = spec.partition(":")
    if os.getcwd() not in sys.path and "" not in sys.path:
        sys.path.insert(0, os.getcwd())  # as `python -m` does: a module beside the study file
    try:
        target: Any = importlib.import_module(module_name)
    except Exception as error:  # ImportError, or the module's own error while importing
        raise UserCodeError(
            f"{what} {spec!r}: cannot import {module_name} ({type(error).__name__}: {error}); "
            "run from the folder that holds it, or install it"
        ) from None
    for part in attribute.split("."):
        if not hasattr(target, part):
            raise UserCodeError(f"{what} {spec!r}: {module_name} has no {attribute!r}")
        target = getattr(target, part)
    if not callable(target):
        raise UserCodeError(
            f"{what} {spec!r}: {attribute} is a {type(target).__name__}, not a factory"
        )
    try:
        inspect.signature(target).bind(*args)
    except TypeError:
        wanted = f"({', '.join(args)})" if args else "()"
        raise UserCodeError(
            f"{what} {spec!r}: {attribute}{inspect.signature(target)} cannot be called as "
            f"{attribute}{wanted}; give it that signature"
        ) from None
    except ValueError:  # a builtin without a signature: trust it
        pass
    return target
