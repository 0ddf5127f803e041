"""Study files: one TOML file holds everything a study needs; ``studies/`` has ready ones.

Sections and keys (only ``[study] name`` and ``[training] target_accuracy`` and
``max_iterations`` are required; the rest have the defaults shown by ``optuna-clr --help``
and in ``studies/digits.toml``):

* ``[study]``: ``name``, ``n_trials``, ``sampler`` (``prior``, ``tpe``, ``random``, ``gp``),
  ``pruner`` (``none``, ``target``, ``median``, ``target+median``, ``target+percentile``,
  ``target+hyperband``), ``seed``.
* ``[task]``: ``name`` (``digits``, ``mnist``, ``fashion-mnist``, ``cifar10``, ``cifar100``),
  ``validation``, ``data_dir``.
* ``[training]``: ``model``, ``optimizer``, ``momentum``, ``nesterov``, ``weight_decay``,
  ``batch_size``, ``target_accuracy``, ``max_iterations``, ``eval_every``, ``augment``,
  ``unit``, ``max_examples``, ``max_seconds``, ``device``, ``precision``, ``channels_last``,
  ``compile``, ``eval_batch_size``.
* ``[space]``: ``families`` and the ranges of :class:`~optuna_clr.ScheduleSpace`
  (``lr``, ``max_lr``, ``base_lr_ratio``, ``step_size_epochs``, ``decay_epochs``,
  ``max_batch_size``, ``growth_factor``, ``end_at_cycle_end``).
* ``[range_test]``: ``enabled``, ``min_lr``, ``max_lr``, ``epochs`` or ``steps``, ``metric``,
  ``mode``, ``eval_every``, ``repeats``, ``narrow`` (narrow the space with the result),
  ``margin``.
* ``[compare]``: ``n_trials`` per arm, ``seeds`` for retraining the winners, ``fixed_lr``
  (the fixed arm's LR range), ``families`` (the cyclical arm's).
* ``[baselines.<name>]``: hand-set schedules (``family`` plus its parameters, in steps, and
  optionally ``optimizer``, ``momentum``, ``nesterov``, ``weight_decay``) that ``compare``
  retrains with the same seeds, e.g. the CLR paper's Caffe step schedule.

Errors name the file, the field and the fix: ``digits.toml: [space] families[1]: unknown
family 'triangle'; choose from [...]``.
"""

from __future__ import annotations

import copy
import dataclasses
import difflib
from pathlib import Path
from typing import Any

from optuna_clr import schedules
from optuna_clr.space import FAMILY_PARAMS


try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib  # type: ignore[no-redef]


SAMPLERS = ("prior", "tpe", "random", "gp")
PRUNER_PARTS = ("none", "target", "median", "percentile", "hyperband")

DEFAULTS: dict[str, dict[str, Any]] = {
    "study": {"name": None, "n_trials": 30, "sampler": "prior", "pruner": "target", "seed": 0},
    "task": {"name": "digits", "validation": None, "data_dir": None},
    "training": {
        "model": "mlp", "optimizer": "sgd", "momentum": None, "nesterov": False, "weight_decay": 0.0,
        "batch_size": 100, "target_accuracy": None, "max_iterations": None, "eval_every": 100,
        "augment": False, "unit": "iterations", "max_examples": None, "max_seconds": None, "device": "auto",
        "precision": "fp32", "channels_last": False, "compile": False, "eval_batch_size": 1000,
    },
    "space": {
        "families": ["fixed", "triangular", "triangular2", "exp_range"], "lr": [1e-4, 1.0], "max_lr": None,
        "base_lr_ratio": [0.1, 0.5], "step_size_epochs": [2.0, 10.0], "decay_epochs": [2.0, 50.0],
        "max_batch_size": None, "growth_factor": 5.0, "end_at_cycle_end": False,
    },
    "range_test": {
        "enabled": True, "min_lr": 0.0, "max_lr": None, "epochs": None, "steps": None, "metric": "accuracy",
        "mode": None, "eval_every": None, "repeats": 1, "narrow": True, "margin": 2.0,
    },
    "compare": {"n_trials": None, "seeds": 5, "fixed_lr": None, "families": ["triangular", "triangular2", "exp_range"]},
}
REQUIRED = {("study", "name"), ("training", "target_accuracy"), ("training", "max_iterations")}


BASELINE_TRAINING_KEYS = ("optimizer", "momentum", "nesterov", "weight_decay")


@dataclasses.dataclass(frozen=True)
class Baseline:
    """A hand-set schedule to retrain beside the tuned winners, optionally with its own
    optimizer settings (the CLR paper's Table 3 compares optimizers)."""

    schedule: schedules.Schedule
    training: dict[str, Any] = dataclasses.field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {**self.schedule.to_dict(), **self.training}


class StudyFileError(ValueError):
    """A study file that cannot be used; the message names the file, the field and the fix."""


@dataclasses.dataclass
class StudyFile:
    """A parsed, checked study file: one dict per section (defaults filled in)."""

    source: str
    study: dict[str, Any]
    task: dict[str, Any]
    training: dict[str, Any]
    space: dict[str, Any]
    range_test: dict[str, Any]
    compare: dict[str, Any]
    baselines: dict[str, Baseline]

    @classmethod
    def load(cls, path: str | Path) -> StudyFile:
        path = Path(path)
        if not path.is_file():
            raise StudyFileError(f"no study file at {path}; the studies/ folder has examples (studies/digits.toml)")
        return cls.parse(path.read_text(), source=path.name)

    @classmethod
    def parse(cls, text: str, *, source: str = "<study file>") -> StudyFile:
        try:
            raw = tomllib.loads(text)
        except tomllib.TOMLDecodeError as error:
            raise StudyFileError(f"{source}: not valid TOML: {error}") from None
        return cls.from_dict(raw, source=source)

    @classmethod
    def from_dict(cls, raw: dict[str, Any], *, source: str = "<study file>") -> StudyFile:
        def fail(where: str, message: str) -> StudyFileError:
            return StudyFileError(f"{source}: {where}: {message}")

        unknown = sorted(set(raw) - set(DEFAULTS) - {"baselines"})
        if unknown:
            raise fail(f"[{unknown[0]}]", f"unknown section; sections are {[*DEFAULTS, 'baselines']}")
        sections: dict[str, dict[str, Any]] = {}
        for name, defaults in DEFAULTS.items():
            given = raw.get(name, {})
            if not isinstance(given, dict):
                raise fail(f"[{name}]", "must be a table of keys")
            for key in given:
                if key not in defaults:
                    hint = difflib.get_close_matches(key, defaults, n=1)
                    raise fail(f"[{name}] {key}", f"unknown key{f' (did you mean {hint[0]!r}?)' if hint else ''}; "
                                                  f"keys are {sorted(defaults)}")
            sections[name] = {**copy.deepcopy(defaults), **given}
        for section, key in sorted(REQUIRED):
            if sections[section][key] is None:
                raise fail(f"[{section}] {key}", "is required")
        baselines = {}
        for name, spec in raw.get("baselines", {}).items():
            if not isinstance(spec, dict):
                raise fail(f"[baselines.{name}]", "must be a table with a family and its parameters")
            spec = dict(spec)
            training = {k: spec.pop(k) for k in BASELINE_TRAINING_KEYS if k in spec}
            try:
                baselines[name] = Baseline(schedules.from_dict(spec), training)
            except (ValueError, TypeError) as error:
                raise fail(f"[baselines.{name}]", str(error)) from None
        sf = cls(source, **sections, baselines=baselines)
        sf.check()
        return sf

    def with_overrides(self, **overrides: Any) -> StudyFile:
        """A copy with ``section__key=value`` overrides (None values are ignored)."""
        data = {s: copy.deepcopy(getattr(self, s)) for s in DEFAULTS}
        for name, value in overrides.items():
            if value is None:
                continue
            section, key = name.split("__", 1)
            data[section][key] = value
        sf = dataclasses.replace(self, **data)
        sf.check()
        return sf

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {s: copy.deepcopy(getattr(self, s)) for s in DEFAULTS}
        out["baselines"] = {name: b.to_dict() for name, b in self.baselines.items()}
        return out

    # --- checks: each error names the field ---

    def check(self) -> None:
        src = self.source

        def fail(where: str, message: str) -> StudyFileError:
            return StudyFileError(f"{src}: {where}: {message}")

        def number(section: str, key: str, *, low: float | None = None, high: float | None = None,
                   integer: bool = False, allow_none: bool = False, strict_low: bool = True) -> None:
            value = getattr(self, section)[key]
            if value is None and allow_none:
                return
            kind = int if integer else (int, float)
            if isinstance(value, bool) or not isinstance(value, kind):
                raise fail(f"[{section}] {key}", f"must be {'an integer' if integer else 'a number'}, got {value!r}")
            if low is not None and (value <= low if strict_low else value < low):
                raise fail(f"[{section}] {key}", f"must be {'>' if strict_low else '>='} {low}, got {value!r}")
            if high is not None and value > high:
                raise fail(f"[{section}] {key}", f"must be <= {high}, got {value!r}")

        def pair(section: str, key: str, *, allow_none: bool = False) -> None:
            value = getattr(self, section)[key]
            if value is None and allow_none:
                return
            if not (isinstance(value, list) and len(value) == 2 and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in value)):
                raise fail(f"[{section}] {key}", f"must be a [low, high] pair of numbers, got {value!r}")
            if value[0] > value[1]:
                raise fail(f"[{section}] {key}", f"low {value[0]} > high {value[1]}; write [low, high]")
            if value[0] <= 0 and key != "base_lr_ratio":
                raise fail(f"[{section}] {key}", f"must be > 0, got low {value[0]}")

        if not isinstance(self.study["name"], str) or not self.study["name"]:
            raise fail("[study] name", f"must be a non-empty string, got {self.study['name']!r}")
        number("study", "n_trials", low=0, integer=True, strict_low=False)
        number("study", "seed", low=0, integer=True, strict_low=False)
        if self.study["sampler"] not in SAMPLERS:
            raise fail("[study] sampler", f"unknown sampler {self.study['sampler']!r}; choose from {list(SAMPLERS)}")
        parts = str(self.study["pruner"]).split("+")
        if any(p not in PRUNER_PARTS for p in parts) or ("none" in parts and len(parts) > 1):
            raise fail("[study] pruner", f"unknown pruner {self.study['pruner']!r}; use none, target, median, "
                                         "target+median, target+percentile or target+hyperband")
        if self.study["sampler"] == "prior" and not self.range_test["enabled"]:
            raise fail("[study] sampler", "'prior' needs the range test: set [range_test] enabled = true, or sampler = 'tpe'")

        t = self.training
        from optuna_clr import models
        from optuna_clr.training import OPTIMIZERS

        if t["model"] not in models.names():
            raise fail("[training] model", f"unknown model {t['model']!r}; choose from {models.names()}")
        if t["optimizer"] not in OPTIMIZERS:
            raise fail("[training] optimizer", f"unknown optimizer {t['optimizer']!r}; choose from {list(OPTIMIZERS)}")
        number("training", "target_accuracy", low=0, high=1)
        number("training", "max_iterations", low=0, integer=True)
        number("training", "eval_every", low=0, integer=True)
        number("training", "batch_size", low=0, integer=True)
        number("training", "weight_decay", low=0, strict_low=False)
        number("training", "momentum", low=0, high=0.999999, strict_low=False, allow_none=True)
        number("training", "max_examples", low=0, integer=True, allow_none=True)
        number("training", "max_seconds", low=0, allow_none=True)
        if t["unit"] not in ("iterations", "examples", "seconds"):
            raise fail("[training] unit", f"must be iterations, examples or seconds, got {t['unit']!r}")
        if t["unit"] == "seconds" and t["max_seconds"] is None:
            raise fail("[training] max_seconds", "is required with unit = 'seconds' (the budget censored trials are measured against)")

        s = self.space
        families = s["families"]
        if isinstance(families, str):
            families = s["families"] = [families]
        if not families:
            raise fail("[space] families", "must name at least one family")
        for i, family in enumerate(families):
            if family not in FAMILY_PARAMS:
                raise fail(f"[space] families[{i}]", f"unknown family {family!r}; choose from {sorted(FAMILY_PARAMS)}")
        for key in ("lr", "base_lr_ratio", "step_size_epochs", "decay_epochs"):
            pair("space", key)
        pair("space", "max_lr", allow_none=True)
        if not (0 < s["base_lr_ratio"][0] and s["base_lr_ratio"][1] < 1):
            raise fail("[space] base_lr_ratio", f"must lie inside (0, 1), got {s['base_lr_ratio']}")

        r = self.range_test
        if r["enabled"]:
            if (r["epochs"] is None) == (r["steps"] is None):
                raise fail("[range_test]", "give exactly one of epochs or steps for the test's length")
            number("range_test", "epochs", low=0, allow_none=True)
            number("range_test", "steps", low=1, integer=True, allow_none=True)
            number("range_test", "min_lr", low=0, strict_low=False)
            number("range_test", "max_lr", low=0, allow_none=True)
            if (r["max_lr"] if r["max_lr"] is not None else s["lr"][1]) <= r["min_lr"]:
                raise fail("[range_test] max_lr", f"must be > min_lr ({r['min_lr']})")
            if r["metric"] not in ("accuracy", "loss"):
                raise fail("[range_test] metric", f"must be 'accuracy' or 'loss', got {r['metric']!r}")
            number("range_test", "repeats", low=0, integer=True)
            number("range_test", "margin", low=1, strict_low=False)
        c = self.compare
        number("compare", "seeds", low=0, integer=True)
        number("compare", "n_trials", low=0, integer=True, allow_none=True, strict_low=False)
        pair("compare", "fixed_lr", allow_none=True)
        for i, family in enumerate(c["families"]):
            if family not in FAMILY_PARAMS or family == "fixed":
                raise fail(f"[compare] families[{i}]", f"must be a schedule family other than fixed, got {family!r}")

    # --- what the file describes, as library objects ---

    def objective_kwargs(self) -> dict[str, Any]:
        t = dict(self.training)
        t["data_dir"] = self.task["data_dir"]
        t["validation"] = self.task["validation"]
        t["task"] = self.task["name"]
        t["seed"] = self.study["seed"]
        return t

    def space_kwargs(self, *, iterations_per_epoch: int, train_size: int) -> dict[str, Any]:
        s = dict(self.space)
        batch = self.training["batch_size"]
        s["lr"] = tuple(s["lr"])
        s["max_lr"] = tuple(s["max_lr"]) if s["max_lr"] else None
        s["iterations_per_epoch"] = iterations_per_epoch
        s["max_iterations"] = self.training["max_iterations"]
        s["batch_size"] = batch
        # Smith et al. keep the batch at or below a tenth of the training set
        s["max_batch_size"] = s["max_batch_size"] or max(batch, train_size // 10)
        return s

    def range_test_kwargs(self) -> dict[str, Any]:
        r = self.range_test
        t = self.training
        return {
            "task": self.task["name"], "model": t["model"], "min_lr": r["min_lr"],
            "max_lr": r["max_lr"] if r["max_lr"] is not None else self.space["lr"][1],
            "steps": r["steps"], "epochs": r["epochs"], "mode": r["mode"], "metric": r["metric"],
            "eval_every": r["eval_every"], "optimizer": t["optimizer"], "momentum": t["momentum"],
            "nesterov": t["nesterov"], "weight_decay": t["weight_decay"], "batch_size": t["batch_size"],
            "augment": t["augment"], "seed": self.study["seed"], "repeats": r["repeats"], "device": t["device"],
            "data_dir": self.task["data_dir"],
        }

    def make_objective(self, **kwargs: Any) -> Any:
        """The :class:`~optuna_clr.IterationsToTarget` the file describes (its data loaded and
        checked now); ``kwargs`` go to it too (``artifact_store``, ``show_progress_bar``)."""
        from optuna_clr.objective import IterationsToTarget

        return IterationsToTarget(**self.objective_kwargs(), **kwargs)

    def make_space(self, objective: Any, *, families: list[str] | None = None, lr: Any = None) -> Any:
        """The file's :class:`~optuna_clr.ScheduleSpace` for the objective's task."""
        from optuna_clr.space import ScheduleSpace

        task = objective.task
        kwargs = self.space_kwargs(iterations_per_epoch=task.iterations_per_epoch(self.training["batch_size"]),
                                   train_size=len(task.train))
        if families is not None:
            kwargs["families"] = families
        if lr is not None:
            kwargs["lr"] = tuple(lr)
        return ScheduleSpace(**kwargs)

    def make_sampler(self, prior: Any = None, *, parallel: int = 1) -> Any:
        """The file's sampler; ``prior`` is the range test's result (needed for ``prior``).
        With parallel trials, TPE uses the constant liar so running trials are not re-asked."""
        import optuna

        from optuna_clr.samplers import RangeTestPriorSampler
        from optuna_clr.samplers import default_tpe

        kind, seed = self.study["sampler"], self.study["seed"]
        liar = parallel > 1
        if kind == "random":
            return optuna.samplers.RandomSampler(seed=seed)
        if kind == "gp":
            return optuna.samplers.GPSampler(seed=seed)
        if kind == "prior":
            if prior is None:
                raise StudyFileError(f"{self.source}: [study] sampler: 'prior' needs a range test result")
            return RangeTestPriorSampler(prior, seed=seed, base_sampler=default_tpe(seed=seed, constant_liar=liar))
        return default_tpe(seed=seed, constant_liar=liar)

    def make_pruner(self) -> Any:
        """The file's pruner: ``target`` is :class:`~optuna_clr.TargetPruner`; a learning-curve
        pruner joined with ``+`` is wrapped by it (consulted at cycle ends only)."""
        import optuna

        from optuna_clr.pruners import TargetPruner

        parts = str(self.study["pruner"]).split("+")
        warmup = max(self.training["eval_every"], self.training["max_iterations"] // 10)
        curve = None
        if "median" in parts:
            curve = optuna.pruners.MedianPruner(n_startup_trials=5, n_warmup_steps=warmup)
        elif "percentile" in parts:
            curve = optuna.pruners.PercentilePruner(25.0, n_startup_trials=5, n_warmup_steps=warmup)
        elif "hyperband" in parts:
            curve = optuna.pruners.HyperbandPruner(min_resource=warmup, max_resource=self.training["max_iterations"])
        if "target" in parts:
            return TargetPruner(curve)
        return curve or optuna.pruners.NopPruner()
