"""Study files: one TOML file holds everything a study needs; ``studies/`` has ready ones.

Every section and key, with its default, is in docs/study-files.md.

Errors name the file, the field and the fix: ``digits.toml: [space] families[1]: unknown
family 'triangle'; choose from [...]``. Every value is checked when the file is loaded (a
baseline's optimizer settings too, and the range test's keys even where it is disabled), so a
mistake stops the command before any storage is opened or anything trained: every number
finite (``nan`` and ``inf`` are refused) and in its range, every integer no larger than what it
feeds (seeds below 2**32, counts and steps below 2**31, batch sizes at most 1,000,000, the
range test's ``repeats`` at most 100), and each family listed once.
"""

from __future__ import annotations

import copy
import dataclasses
import difflib
from pathlib import Path
import re
from typing import Any

from optuna_clr import schedules
from optuna_clr.search.space import FAMILY_PARAMS
from optuna_clr.training import settings
from optuna_clr.training.settings import BATCH_MAX
from optuna_clr.training.settings import Check
from optuna_clr.training.settings import finite as _finite
from optuna_clr.training.settings import INT_MAX
from optuna_clr.training.settings import SEED_MAX
from optuna_clr.training.user_code import is_import_path
from optuna_clr.training.user_code import load_factory
from optuna_clr.training.user_code import UserCodeError


try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib  # type: ignore[no-redef]


SAMPLERS = ("prior", "tpe", "random")
PRUNER_PARTS = ("none", "target", "median", "percentile", "hyperband")
CURVE_PRUNERS = (
    "median",
    "percentile",
    "hyperband",
)  # one at most: make_pruner wraps a single one

# Upper bounds of integers, and of the few numbers that become step counts: what they feed.
IMAGE_SIZE_MAX = 4096  # pixels a side when resizing
EPOCHS_MAX = 10_000  # an epoch count: the range test's length, the space's cycle and decay lengths
REPEATS_MAX = 100  # the range test's seeds, each a full test
COMPARE_SEEDS_MAX = 1000  # retraining seeds, each retraining every winner

DEFAULTS: dict[str, dict[str, Any]] = {
    "study": {"name": None, "n_trials": 30, "sampler": "prior", "pruner": "target", "seed": 0},
    "task": {"name": "digits", "validation": None, "data_dir": None, "image_size": None},
    # the model and the unit, then every setting of TrainConfig that a study file holds
    "training": {
        "model": "mlp",
        "unit": "iterations",
        **{name: settings.default(name) for name in settings.names("file")},
    },
    "space": {
        "families": ["fixed", "triangular", "triangular2", "exp_range"],
        "lr": [1e-4, 1.0],
        "max_lr": None,
        "base_lr_ratio": [0.1, 0.5],
        "step_size_epochs": [2.0, 10.0],
        "decay_epochs": [2.0, 50.0],
        "max_batch_size": None,
        "growth_factor": 5.0,
        "end_at_cycle_end": False,
    },
    "range_test": {
        "enabled": True,
        "min_lr": 0.0,
        "max_lr": None,
        "epochs": None,
        "steps": None,
        "metric": "accuracy",
        "mode": None,
        "eval_every": None,
        "repeats": 1,
        "narrow": True,
        "margin": 2.0,
    },
    "compare": {
        "n_trials": None,
        "seeds": 5,
        "max_seeds": None,
        "max_compute": None,
        "margin": 0.10,
        "fixed_lr": None,
        "families": ["triangular", "triangular2", "exp_range"],
        "per_family": False,
        "one_cycle": False,
    },
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


class _Fields:
    """One section's values (or a baseline's) and the checks on them; each error names the
    file, the section and the key."""

    def __init__(self, source: str, section: str, values: dict[str, Any]) -> None:
        self.source, self.section, self.values = source, section, values

    def fail(self, key: str | None, message: str) -> StudyFileError:
        where = f"[{self.section}]" + (f" {key}" if key else "")
        return StudyFileError(f"{self.source}: {where}: {message}")

    def number(
        self,
        key: str,
        *,
        low: float | None = None,
        high: float | None = None,
        below: float | None = None,
        integer: bool = False,
        allow_none: bool = False,
        strict_low: bool = True,
    ) -> None:
        """A finite number (NaN and infinities are refused) within its bounds; an integer is
        also at most ``high``, by default :data:`INT_MAX`."""
        kind = "integer" if integer else "number"
        self.check(
            key,
            Check(
                kind, low=low, strict_low=strict_low, high=high, below=below, optional=allow_none
            ),  # fmt: skip
        )

    def check(self, key: str, check: Check, *, what: str | None = None) -> None:
        """``check`` on the value of ``key`` (integers at most :data:`INT_MAX`)."""
        problem = check.problem(self.values.get(key), what=what or key, int_max=INT_MAX)
        if problem is not None:
            raise self.fail(key, problem)

    def setting(self, key: str) -> None:
        """A training setting, by :class:`~optuna_clr.training.settings.TrainConfig`'s own
        check."""
        self.check(key, settings.check(key))

    def pair(self, key: str, *, allow_none: bool = False, high: float | None = None) -> None:
        """A ``[low, high]`` pair of finite numbers, low <= high, low > 0 (but for
        ``base_lr_ratio``, checked by the caller) and high at most ``high``."""
        value = self.values.get(key)
        if value is None and allow_none:
            return
        if not (
            isinstance(value, list)
            and len(value) == 2
            and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in value)
        ):
            raise self.fail(key, f"must be a [low, high] pair of numbers, got {value!r}")
        if not all(_finite(v) for v in value):
            raise self.fail(key, f"must be a [low, high] pair of finite numbers, got {value!r}")
        if value[0] > value[1]:
            raise self.fail(key, f"low {value[0]} > high {value[1]}; write [low, high]")
        if value[0] <= 0 and key != "base_lr_ratio":
            raise self.fail(key, f"must be > 0, got low {value[0]}")
        if high is not None and value[1] > high:
            raise self.fail(key, f"must be <= {high}, got high {value[1]}")

    def choice(self, key: str, choices: Any, *, what: str) -> None:
        self.check(key, Check("choice", choices=tuple(choices)), what=what)

    def flag(self, key: str) -> None:
        self.check(key, Check("flag"))

    def families(self, key: str, known: dict[str, Any], *, what: str = "family") -> None:
        """A list of schedule families (one name alone is read as a list of one)."""
        families = self.values[key]
        if isinstance(families, str):
            families = self.values[key] = [families]
        if not isinstance(families, list) or not families:
            raise self.fail(
                key,
                f"must name at least one family, got {families!r}; choose from {sorted(known)}",
            )
        for i, family in enumerate(families):
            if not isinstance(family, str) or family not in known:
                raise self.fail(
                    f"{key}[{i}]", f"unknown {what} {family!r}; choose from {sorted(known)}"
                )
            if family in families[:i]:
                raise self.fail(
                    f"{key}[{i}]",
                    f"{family!r} is listed twice (also {key}[{families.index(family)}]); "
                    "name each family once",
                )

    def finite_numbers(self) -> None:
        """Every number among the values, and in their lists, finite, and every integer at
        most :data:`INT_MAX` (a baseline's parameters, before the schedule checks the rest)."""
        for key, value in self.values.items():
            items = value if isinstance(value, list) else [value]
            for i, item in enumerate(items):
                where = f"{key}[{i}]" if isinstance(value, list) else key
                if isinstance(item, bool) or not isinstance(item, (int, float)):
                    continue
                if not _finite(item):
                    raise self.fail(where, f"must be a finite number, got {item!r}")
                if isinstance(item, int) and abs(item) > INT_MAX:
                    raise self.fail(where, f"must be at most {INT_MAX} in size, got {item!r}")

    def train_config(self, training: dict[str, Any]) -> None:
        """What :class:`~optuna_clr.training.engine.TrainConfig` itself checks across fields
        (Nesterov needs momentum, for one), so nothing it would reject at the first trial gets
        past."""
        from optuna_clr.training.engine import TrainConfig

        given = settings.pick(training, "file")
        given.pop("device", None)  # checked apart: what the machine has is known at run time
        try:
            TrainConfig(**given)
        except (ValueError, TypeError) as error:
            raise self.fail(None, str(error)) from None


def _check_optimizer_settings(f: _Fields) -> None:
    """A baseline's own optimizer settings, where given, as [training]'s are checked."""
    for key in BASELINE_TRAINING_KEYS:
        if key in f.values:
            f.setting(key)


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
            raise StudyFileError(
                f"no study file at {path}; the studies/ folder has examples (studies/digits.toml)"
            )
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            raise StudyFileError(
                f"{path}: not a text file; a study file is TOML (studies/digits.toml is one)"
            ) from None
        return cls.parse(text, source=path.name)

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
            raise fail(
                f"[{unknown[0]}]", f"unknown section; sections are {[*DEFAULTS, 'baselines']}"
            )
        sections: dict[str, dict[str, Any]] = {}
        for name, defaults in DEFAULTS.items():
            given = raw.get(name, {})
            if not isinstance(given, dict):
                raise fail(f"[{name}]", "must be a table of keys")
            for key in given:
                if key not in defaults:
                    hint = difflib.get_close_matches(key, defaults, n=1)
                    raise fail(
                        f"[{name}] {key}",
                        f"unknown key{f' (did you mean {hint[0]!r}?)' if hint else ''}; "
                        f"keys are {sorted(defaults)}",
                    )
            sections[name] = {**copy.deepcopy(defaults), **given}
        for section, key in sorted(REQUIRED):
            if sections[section][key] is None:
                raise fail(f"[{section}] {key}", "is required")
        baselines = {}
        for name, spec in raw.get("baselines", {}).items():
            if not isinstance(spec, dict):
                raise fail(
                    f"[baselines.{name}]", "must be a table with a family and its parameters"
                )
            spec = dict(spec)
            _Fields(source, f"baselines.{name}", spec).finite_numbers()
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
        """Every value the file gives, against what the library accepts: a mistake is reported
        here, naming the field, before anything is opened or trained (README's promise)."""
        self._check_study()
        self._check_task()
        self._check_training()
        self._check_space()
        self._check_range_test()
        self._check_compare()
        for name, baseline in self.baselines.items():
            self._check_baseline(name, baseline)

    def _fields(self, section: str) -> _Fields:
        return _Fields(self.source, section, getattr(self, section))

    def _check_study(self) -> None:
        f = self._fields("study")
        if not isinstance(self.study["name"], str) or not self.study["name"]:
            raise f.fail("name", f"must be a non-empty string, got {self.study['name']!r}")
        f.number("n_trials", low=0, integer=True, strict_low=False)
        f.number("seed", low=0, high=SEED_MAX, integer=True, strict_low=False)
        f.choice("sampler", SAMPLERS, what="sampler")
        pruner = self.study["pruner"]
        parts = str(pruner).split("+")
        if (
            any(p not in PRUNER_PARTS for p in parts)
            or ("none" in parts and len(parts) > 1)
            or len(set(parts)) < len(parts)
        ):
            raise f.fail(
                "pruner",
                f"unknown pruner {pruner!r}; use none, target, median, "
                "target+median, target+percentile or target+hyperband",
            )
        curves = [p for p in parts if p in CURVE_PRUNERS]
        if len(curves) > 1:
            raise f.fail(
                "pruner",
                f"{pruner!r} joins {len(curves)} learning-curve pruners, and only one can run; "
                f"keep one of them, e.g. 'target+{curves[0]}'",
            )
        if self.study["sampler"] == "prior" and not self.range_test["enabled"]:
            raise f.fail(
                "sampler",
                "'prior' needs the range test: set [range_test] enabled = true, "
                "or sampler = 'tpe'",
            )

    def _check_task(self) -> None:
        from optuna_clr.training import tasks

        f = self._fields("task")
        name = self.task["name"]
        key = name.lower().replace("_", "-") if isinstance(name, str) else name
        if is_import_path(name):
            try:
                load_factory(name, what="[task] name", args=())
            except UserCodeError as error:
                raise f.fail(None, str(error)) from None
        elif key not in (*tasks.NAMES, "cifar-10"):
            raise f.fail(
                "name",
                f"unknown task {name!r}; choose from {list(tasks.NAMES)}, or give an import "
                "path to your factory ('mypkg.data:load')",
            )
        f.number("image_size", low=0, high=IMAGE_SIZE_MAX, integer=True, allow_none=True)
        if self.task["image_size"] is not None and key != "imagefolder":
            raise f.fail(
                "image_size", "only resizes the images of name = 'imagefolder'; remove it"
            )
        validation = self.task["validation"]
        # written so that NaN (every comparison False) fails
        if validation is not None and not (
            (isinstance(validation, float) and 0 < validation < 1)
            or (
                isinstance(validation, int)
                and not isinstance(validation, bool)
                and 1 <= validation <= INT_MAX
            )
        ):
            raise f.fail(
                "validation",
                "must be a fraction in (0, 1) or a count of images from 1 to "
                f"{INT_MAX}, got {validation!r}",
            )
        if self.task["data_dir"] is not None and not isinstance(self.task["data_dir"], str):
            raise f.fail(
                "data_dir", f"must be a folder path (a string), got {self.task['data_dir']!r}"
            )

    def _check_training(self) -> None:
        from optuna_clr.training import models

        f = self._fields("training")
        t = self.training
        if is_import_path(t["model"]):
            try:
                load_factory(
                    t["model"], what="[training] model", args=("image_shape", "num_classes")
                )
            except UserCodeError as error:
                raise f.fail(None, str(error)) from None
        elif t["model"] not in models.names():
            raise f.fail(
                "model",
                f"unknown model {t['model']!r}; choose from {models.names()}, or give an "
                "import path to your builder ('mypkg.nets:build')",
            )
        for key in settings.names("file"):  # each by TrainConfig's own check
            f.setting(key)
        for key in ("target_accuracy", "max_iterations"):  # required here, optional there
            f.number(key, low=0, high=1 if key == "target_accuracy" else None,
                     integer=key == "max_iterations")  # fmt: skip
        f.choice("unit", ("iterations", "examples", "seconds"), what="unit")
        device = t["device"]
        if not (isinstance(device, str) and re.fullmatch(r"auto|cpu|mps|cuda(:\d+)?", device)):
            raise f.fail(
                "device",
                f"unknown device {device!r}; use auto (CUDA if available), cpu, cuda or cuda:N",
            )
        grid, budget = self.report_grid()
        if budget > INT_MAX:  # unit = "examples" without max_examples: reported in examples
            raise f.fail(
                "max_iterations",
                f"{t['max_iterations']} updates of {t['batch_size']} examples is more than the "
                f"{INT_MAX} examples a trial can report; lower it, or set max_examples",
            )
        if grid > budget:
            raise f.fail(
                "eval_every",
                f"{t['eval_every']} updates between evaluations is more than the budget "
                f"({budget} {'examples' if t['unit'] == 'examples' else 'updates'}): every "
                "trial would be measured only at the budget and all would tie; lower eval_every",
            )
        if t["unit"] == "seconds" and t["max_seconds"] is None:
            raise f.fail(
                "max_seconds",
                "is required with unit = 'seconds' "
                "(the budget censored trials are measured against)",
            )
        f.train_config(t)

    def _check_space(self) -> None:
        f = self._fields("space")
        s = self.space
        f.families("families", FAMILY_PARAMS)
        for key in ("lr", "base_lr_ratio"):
            f.pair(key)
        for key in ("step_size_epochs", "decay_epochs"):
            f.pair(key, high=EPOCHS_MAX)
        f.pair("max_lr", allow_none=True)
        if not (0 < s["base_lr_ratio"][0] and s["base_lr_ratio"][1] < 1):
            raise f.fail("base_lr_ratio", f"must lie inside (0, 1), got {s['base_lr_ratio']}")
        f.number("max_batch_size", low=0, high=BATCH_MAX, integer=True, allow_none=True)
        grid = self.report_grid()[0]
        if (
            "batch_growth" in s["families"]
            and self.training["unit"] == "examples"
            and s["max_batch_size"] is not None
            and s["max_batch_size"] > grid
        ):
            raise f.fail(
                "max_batch_size",
                f"{s['max_batch_size']} is more than the {grid} examples between "
                "evaluations (eval_every x batch_size): a batch that large skips "
                "evaluations; raise [training] eval_every or lower max_batch_size",
            )
        f.number("growth_factor", low=1)
        f.flag("end_at_cycle_end")

    def _check_range_test(self) -> None:
        """The values given are checked whether or not the test is enabled (``optuna-clr
        range-test`` runs it either way); its length only has to be given when it runs."""
        f = self._fields("range_test")
        r = self.range_test
        f.flag("enabled")
        f.flag("narrow")
        if r["enabled"] and (r["epochs"] is None) == (r["steps"] is None):
            raise f.fail(
                None,
                "give exactly one of epochs or steps for the test's length "
                "(the CLR paper's test: epochs = 8)",
            )
        f.number("epochs", low=0, high=EPOCHS_MAX, allow_none=True)
        f.number("steps", low=1, integer=True, allow_none=True)
        f.number("min_lr", low=0, strict_low=False)
        f.number("max_lr", low=0, allow_none=True)
        if (r["max_lr"] if r["max_lr"] is not None else self.space["lr"][1]) <= r["min_lr"]:
            raise f.fail("max_lr", f"must be > min_lr ({r['min_lr']})")
        f.choice("metric", ("accuracy", "loss"), what="metric")
        if r["mode"] is not None:
            f.choice("mode", ("linear", "exponential"), what="mode")
        if r["mode"] == "exponential" and r["min_lr"] <= 0:
            raise f.fail(
                "min_lr",
                "must be > 0 with mode = 'exponential' (a geometric ramp cannot start at 0)",
            )
        f.number("eval_every", low=0, integer=True, allow_none=True)
        f.number("repeats", low=0, high=REPEATS_MAX, integer=True)
        if self.study["seed"] + r["repeats"] - 1 > SEED_MAX:
            raise f.fail(
                "repeats",
                f"runs seeds {self.study['seed']} onwards, past the largest seed {SEED_MAX}; "
                "lower [study] seed",
            )
        f.number("margin", low=1, strict_low=False)

    def _check_compare(self) -> None:
        f = self._fields("compare")
        f.number("seeds", low=0, high=COMPARE_SEEDS_MAX, integer=True)
        if self.study["seed"] + self.compare["seeds"] > SEED_MAX:
            raise f.fail(
                "seeds",
                f"retrains with seeds {self.study['seed'] + 1} onwards, past the largest seed "
                f"{SEED_MAX}; lower [study] seed",
            )
        f.number("max_seeds", low=0, high=COMPARE_SEEDS_MAX, integer=True, allow_none=True)
        most = self.compare["max_seeds"]
        if most is not None and (most < self.compare["seeds"] or self.compare["seeds"] < 2):
            raise f.fail(
                "max_seeds",
                f"is {most}: it must be at least seeds ({self.compare['seeds']}), and seeds at "
                "least 2 (the first round needs a spread)",
            )
        if most is not None and self.study["seed"] + most > SEED_MAX:
            raise f.fail("max_seeds", f"retrains past the largest seed {SEED_MAX}; lower it")
        f.number("max_compute", low=0, integer=True, allow_none=True)
        f.number("margin", low=0, high=1, strict_low=False)  # within 2x at most
        f.number("n_trials", low=0, integer=True, allow_none=True, strict_low=False)
        f.pair("fixed_lr", allow_none=True)
        f.flag("per_family")
        f.flag("one_cycle")
        f.families(
            "families",
            {k: v for k, v in FAMILY_PARAMS.items() if k != "fixed"},
            what="schedule family other than fixed",
        )

    def _check_baseline(self, name: str, baseline: Baseline) -> None:
        """A baseline's own optimizer settings, checked as [training]'s are and then together
        with them, as the run will use them."""
        f = _Fields(self.source, f"baselines.{name}", baseline.training)
        _check_optimizer_settings(f)
        f.train_config({**self.training, **baseline.training})

    # --- what the file describes, as library objects ---

    def objective_kwargs(self) -> dict[str, Any]:
        t = dict(self.training)
        t["data_dir"] = self.task["data_dir"]
        t["validation"] = self.task["validation"]
        t["image_size"] = self.task["image_size"]
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
            "task": self.task["name"],
            "model": t["model"],
            "min_lr": r["min_lr"],
            "max_lr": r["max_lr"] if r["max_lr"] is not None else self.space["lr"][1],
            "steps": r["steps"],
            "epochs": r["epochs"],
            "mode": r["mode"],
            "metric": r["metric"],
            "eval_every": r["eval_every"],
            **settings.pick(t, "range_test"),  # the test runs as the trials will
            "seed": self.study["seed"],
            "repeats": r["repeats"],
            "device": t["device"],
            "data_dir": self.task["data_dir"],
            "image_size": self.task["image_size"],
        }

    def make_objective(self, **kwargs: Any) -> Any:
        """The :class:`~optuna_clr.IterationsToTarget` the file describes (its data loaded and
        checked now); ``kwargs`` go to it too (``artifact_store``, ``show_progress_bar``)."""
        from optuna_clr.study.objective import IterationsToTarget

        objective = IterationsToTarget(**self.objective_kwargs(), **kwargs)
        self.check_data(len(objective.task.train), str(objective.task.name))
        return objective

    def check_data(self, train_size: int, task: str) -> None:
        """The batch sizes against the training split, once the data is loaded: a batch larger
        than the split would fail mid-study, after the range test and other trials."""
        for section, key in (("training", "batch_size"), ("space", "max_batch_size")):
            value = getattr(self, section)[key]
            if value is not None and value > train_size:
                raise self._fields(section).fail(
                    key,
                    f"{value} is more than the {train_size} training images of "
                    f"{task}; lower it (Smith et al. keep a batch <= a tenth "
                    f"of the training set: {train_size // 10})",
                )

    def make_space(
        self, objective: Any, *, families: list[str] | None = None, lr: Any = None
    ) -> Any:
        """The file's :class:`~optuna_clr.ScheduleSpace` for the objective's task."""
        from optuna_clr.search.space import ScheduleSpace

        task = objective.task
        kwargs = self.space_kwargs(
            iterations_per_epoch=task.iterations_per_epoch(self.training["batch_size"]),
            train_size=len(task.train),
        )
        if families is not None:
            kwargs["families"] = families
        if lr is not None:
            kwargs["lr"] = tuple(lr)
        return ScheduleSpace(**kwargs)

    def make_sampler(
        self,
        prior: Any = None,
        *,
        parallel: int = 1,
        seed: int | None = None,
        other_workers: bool = False,
    ) -> Any:
        """The file's sampler; ``prior`` is the range test's result when it is clear (``prior``
        falls back to TPE without one).

        ``seed`` replaces ``[study] seed`` for the sampler alone (that seed also fixes the
        validation split, which every worker of a study must share): workers on one storage
        need their own sampler seeds, or each proposes the same values. With trials running
        at the same time (``parallel`` > 1, or ``other_workers`` on the same study), TPE uses
        the constant liar so it does not propose again what is already being trained."""
        import optuna

        from optuna_clr.search.samplers import default_tpe
        from optuna_clr.search.samplers import RangeTestPriorSampler

        kind = self.study["sampler"]
        seed = self.study["seed"] if seed is None else seed
        liar = parallel > 1 or other_workers
        if kind == "random":
            return optuna.samplers.RandomSampler(seed=seed)
        if kind == "prior":
            if (
                prior is None
            ):  # the range test gave no clear bounds (the file check refuses a disabled one)
                return default_tpe(seed=seed, constant_liar=liar)
            return RangeTestPriorSampler(
                prior, seed=seed, base_sampler=default_tpe(seed=seed, constant_liar=liar)
            )
        return default_tpe(seed=seed, constant_liar=liar)

    def report_grid(self) -> tuple[int, int]:
        """``(steps between reports, budget)`` in the unit trials report their steps in:
        examples for ``unit = "examples"``, else updates (a seconds study reports updates)."""
        t = self.training
        if t["unit"] == "examples":
            return t["eval_every"] * t["batch_size"], t["max_examples"] or t["max_iterations"] * t[
                "batch_size"
            ]
        return t["eval_every"], t["max_iterations"]

    def make_pruner(self) -> Any:
        """The file's pruner: ``target`` is :class:`~optuna_clr.TargetPruner`; a learning-curve
        pruner joined with ``+`` is wrapped by it (consulted at cycle ends only)."""
        import optuna

        from optuna_clr.search.pruners import TargetPruner

        parts = str(self.study["pruner"]).split("+")
        grid, budget = self.report_grid()
        warmup = max(grid, budget // 10)
        curve: optuna.pruners.BasePruner | None = None
        if "median" in parts:
            curve = optuna.pruners.MedianPruner(n_startup_trials=5, n_warmup_steps=warmup)
        elif "percentile" in parts:
            curve = optuna.pruners.PercentilePruner(
                25.0, n_startup_trials=5, n_warmup_steps=warmup
            )
        elif "hyperband" in parts:
            curve = optuna.pruners.HyperbandPruner(min_resource=warmup, max_resource=budget)
        if "target" in parts:
            return TargetPruner(curve)
        return curve or optuna.pruners.NopPruner()
