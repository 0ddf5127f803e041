"""The training settings: every knob of a run, defined once with its default, check and roles.

:class:`TrainConfig` is the one place a training setting is declared. Its fields carry what
each setting is (a one-line description), what its value must be (a :class:`Check`) and where
it shows: as a ``[training]`` key of a study file (``file``), in a study's fingerprint
(``fingerprint``: it changes what a trial's value means), and in the LR range test
(``range_test``: the test runs as the trials will). :class:`~optuna_clr.IterationsToTarget`,
:func:`~optuna_clr.lr_range_test`, the study file's defaults and checks, and the fingerprint
all read those fields, so a new setting is one field here.

Example:

    .. testcode::

        from optuna_clr.training.settings import TrainConfig, names

        config = TrainConfig(max_iterations=600, batch_size=32)
        print(config.batch_size, "batch_size" in names("fingerprint"))   # 32 True
"""

from __future__ import annotations

import dataclasses
import importlib.util
import math
import numbers
from typing import Any

import torch
import torch.nn.functional as F


INT_MAX = 2**31 - 1  # any count or step (some databases store Optuna's steps in 32 bits)
SEED_MAX = 2**32 - 1  # NumPy (Optuna's samplers) takes seeds in [0, 2**32)
BATCH_MAX = 1_000_000  # a batch size: beyond any GPU's memory

OPTIMIZERS = (
    "sgd", "nesterov", "adam", "adamw", "rmsprop", "adagrad", "adadelta",
    "sgd_schedulefree", "adamw_schedulefree", "prodigy",
)  # fmt: skip
# the optimizers that need no LR tuning, from the [baselines] extra: name -> its package
EXTRA_OPTIMIZERS = {
    "sgd_schedulefree": "schedulefree",
    "adamw_schedulefree": "schedulefree",
    "prodigy": "prodigyopt",
}
PRECISIONS = ("fp32", "bf16")
EVAL_UNITS = ("iterations", "examples")
DTYPES = ("float32", "float64")
ROLES = ("file", "fingerprint", "range_test")


def finite(value: float) -> bool:
    """Not NaN nor infinite, nor an integer too large for a float (TOML integers are
    unbounded in Python's reader)."""
    try:
        return math.isfinite(value)
    except OverflowError:
        return False


@dataclasses.dataclass(frozen=True)
class Check:
    """What a setting's value must be, and the words that say so when it is not.

    Args:
        kind: ``"number"``, ``"integer"``, ``"choice"``, ``"flag"`` or ``"text"`` (any string).
        low: the value is above it (at or above it with ``strict_low=False``).
        high: the value is at most it (an integer's default: ``int_max`` of :meth:`problem`).
        below: the value is below it.
        choices: a ``"choice"``'s values.
        optional: None is allowed.

    Example:

        .. testcode::

            from optuna_clr.training.settings import Check

            print(Check("number", low=0, below=1, strict_low=False).problem(1.5))
            # must be < 1, got 1.5
    """

    kind: str
    low: float | None = None
    strict_low: bool = True
    high: float | None = None
    below: float | None = None
    choices: tuple[Any, ...] = ()
    optional: bool = False

    def problem(
        self, value: Any, *, what: str = "value", int_max: int | None = None
    ) -> str | None:
        """Why ``value`` does not pass, as ``"must be ..., got ..."``; None when it passes.
        ``what`` names a choice's kind in the message (``unknown optimizer 'x'``); ``int_max``
        bounds integers without a ``high`` (a study file's: :data:`INT_MAX`, what a storage
        holds; the library leaves them unbounded)."""
        if value is None and self.optional:
            return None
        if self.kind == "flag":
            return None if isinstance(value, bool) else f"must be true or false, got {value!r}"
        if self.kind == "choice":
            ok = value in self.choices
            return None if ok else f"unknown {what} {value!r}; choose from {list(self.choices)}"
        if self.kind == "text":
            return None if isinstance(value, str) else f"must be a string, got {value!r}"
        return self._number_problem(value, int_max)

    def _number_problem(self, value: Any, int_max: int | None) -> str | None:
        integer = self.kind == "integer"
        kind = numbers.Integral if integer else numbers.Real
        if isinstance(value, bool) or not isinstance(value, kind):
            return f"must be {'an integer' if integer else 'a number'}, got {value!r}"
        return self._range_problem(value, int_max)

    def _range_problem(self, value: Any, int_max: int | None) -> str | None:
        integer = self.kind == "integer"
        if not finite(value):
            return f"must be a finite number, got {value!r}"
        high = int_max if integer and self.high is None else self.high
        low = self.low
        if low is not None and (value <= low if self.strict_low else value < low):
            return f"must be {'>' if self.strict_low else '>='} {low}, got {value!r}"
        if high is not None and value > high:
            return f"must be <= {high}, got {value!r}"
        if self.below is not None and value >= self.below:
            return f"must be < {self.below}, got {value!r}"
        return None


def _setting(
    default: Any,
    doc: str,
    check: Check,
    *,
    file: bool = True,
    fingerprint: bool = True,
    range_test: bool = False,
) -> Any:
    """A :class:`TrainConfig` field with its description, check and roles (see :data:`ROLES`)."""
    roles = {"file": file, "fingerprint": fingerprint, "range_test": range_test}
    return dataclasses.field(default=default, metadata={"doc": doc, "check": check, **roles})


_COUNT = Check("integer", low=0)
_FLAG = Check("flag")


@dataclasses.dataclass(frozen=True)
class TrainConfig:
    """Every setting of a run besides the task, model and schedule, each checked when made.

    Raises:
        ValueError: a setting out of its range, naming it; Nesterov SGD without momentum.
    """

    max_iterations: int = _setting(
        dataclasses.MISSING, "a trial's budget in parameter updates (required)", _COUNT
    )
    eval_every: int = _setting(100, "updates between validation evaluations", _COUNT)
    eval_unit: str = _setting(
        "iterations",
        "'examples': evaluate every eval_every * batch_size examples (the file's unit sets it)",
        Check("choice", choices=EVAL_UNITS),
        file=False,
        fingerprint=False,
    )
    target_accuracy: float | None = _setting(
        None,
        "the validation accuracy that ends a run (required in a study file)",
        Check("number", low=0, high=1, optional=True),
    )
    batch_size: int = _setting(
        100,
        "examples per update, unless the schedule moves it",
        Check("integer", low=0, high=BATCH_MAX),
        range_test=True,
    )
    optimizer: str = _setting(
        "sgd",
        "sgd, nesterov, adam, adamw, rmsprop, adagrad, adadelta, or (pip install "
        '"optuna-clr[baselines]") sgd_schedulefree, adamw_schedulefree, prodigy',
        Check("choice", choices=OPTIMIZERS),
        range_test=True,
    )
    momentum: float | None = _setting(
        None,
        "SGD's or RMSprop's momentum, Adam's beta1; unset: 0.9 (sgd, adam), 0 (rmsprop)",
        Check("number", low=0, strict_low=False, below=1, optional=True),
        range_test=True,
    )
    nesterov: bool = _setting(False, "Nesterov momentum for sgd", _FLAG, range_test=True)
    weight_decay: float = _setting(
        0.0,
        "L2 penalty; Caffe nets scale it per layer",
        Check("number", low=0, strict_low=False),
        range_test=True,
    )
    label_smoothing: float = _setting(
        0.0,
        "cross-entropy's label smoothing: the target puts this mass evenly on every class",
        Check("number", low=0, strict_low=False, below=1),
        range_test=True,
    )
    augment: bool = _setting(
        False,
        "random translate (+-4 px, 1/8 of the side) and flip, on the device",
        _FLAG,
        range_test=True,
    )
    seed: int = _setting(
        0,
        "initial weights, batch order and augmentation (the file's [study] seed)",
        Check("integer", low=0, strict_low=False, high=SEED_MAX),
        file=False,
        fingerprint=False,
    )
    device: str = _setting(
        "auto",
        "auto (CUDA if available), cpu, cuda, cuda:1, ...",
        Check("text"),
        fingerprint=False,
    )
    max_examples: int | None = _setting(
        None, "training examples seen at most", Check("integer", low=0, optional=True)
    )
    max_seconds: float | None = _setting(
        None,
        "wall seconds at most (checked at evaluations)",
        Check("number", low=0, optional=True),
    )
    eval_batch_size: int = _setting(
        1000,
        "images per forward pass when evaluating",
        Check("integer", low=0, high=BATCH_MAX),
        fingerprint=False,
    )
    precision: str = _setting(
        "fp32", "fp32, or bf16 (autocast; CUDA only)", Check("choice", choices=PRECISIONS)
    )
    channels_last: bool = _setting(
        False, "NHWC memory format for conv nets on CUDA", _FLAG, fingerprint=False
    )
    compile: bool = _setting(False, "torch.compile the model", _FLAG, fingerprint=False)
    dtype: str = _setting(
        "float32",
        "'float64' for exact comparisons on a CPU",
        Check("choice", choices=DTYPES),
        file=False,
        fingerprint=False,
    )

    def __post_init__(self) -> None:
        for field in dataclasses.fields(self):
            problem = field.metadata["check"].problem(getattr(self, field.name), what=field.name)
            if problem is not None:  # "unknown optimizer 'x'; ..." names the setting already
                raise ValueError(
                    problem if problem.startswith("unknown") else f"{field.name} {problem}"
                )
        if self.optimizer in ("sgd", "nesterov") and self.uses_nesterov and self.sgd_momentum == 0:
            raise ValueError("Nesterov SGD needs momentum > 0")
        package = EXTRA_OPTIMIZERS.get(self.optimizer)
        if package is not None and importlib.util.find_spec(package) is None:
            raise ValueError(
                f"optimizer {self.optimizer!r} needs the {package} package: "
                'pip install "optuna-clr[baselines]"'
            )

    def loss(self, logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        """The training loss, the same in every engine: cross-entropy."""
        return F.cross_entropy(logits, labels, label_smoothing=self.label_smoothing)

    @property
    def eval_grid(self) -> int | None:
        """Examples between evaluations when they happen on an examples grid, else None.

        Every trial of an examples study is evaluated at the first update that reaches each
        multiple of ``eval_every * batch_size`` examples, whatever its batch size does, so
        trials that grow the batch are measured at the same example counts as the others.
        """
        return self.eval_every * self.batch_size if self.eval_unit == "examples" else None

    @property
    def torch_dtype(self) -> torch.dtype:
        return torch.float64 if self.dtype == "float64" else torch.float32

    @property
    def sgd_momentum(self) -> float:
        """SGD's momentum where the schedule sets none."""
        return 0.9 if self.momentum is None else self.momentum

    @property
    def uses_nesterov(self) -> bool:
        return self.nesterov or self.optimizer == "nesterov"


def settings(role: str | None = None) -> tuple[dataclasses.Field, ...]:
    """The :class:`TrainConfig` fields with ``role`` (one of :data:`ROLES`; None: all), in
    order."""
    if role is not None and role not in ROLES:
        raise ValueError(f"role must be one of {list(ROLES)}, got {role!r}")
    return tuple(f for f in dataclasses.fields(TrainConfig) if role is None or f.metadata[role])


def names(role: str | None = None) -> tuple[str, ...]:
    """The names of the settings with ``role`` (None: all)."""
    return tuple(f.name for f in settings(role))


def default(name: str) -> Any:
    """A setting's default; None for one every run must give (``max_iterations``)."""
    field = TrainConfig.__dataclass_fields__[name]
    return None if field.default is dataclasses.MISSING else field.default


def doc(name: str) -> str:
    """A setting's one-line description (``--help`` shows it where a flag sets it)."""
    return TrainConfig.__dataclass_fields__[name].metadata["doc"]


def check(name: str) -> Check:
    """What a setting's value must be."""
    return TrainConfig.__dataclass_fields__[name].metadata["check"]


def pick(values: dict[str, Any], role: str) -> dict[str, Any]:
    """The settings with ``role`` among ``values``."""
    wanted = names(role)
    return {k: v for k, v in values.items() if k in wanted}


def neutral(value: Any) -> bool:
    """Whether a setting's value means "off" (None, False, 0): what a study or range test
    stored before that setting existed was measured with, so a record that lacks the key
    equals such a value."""
    return value is None or value is False or (isinstance(value, (int, float)) and value == 0)


def _toml(value: Any) -> str:
    """A default as a study file writes it (None: the key is left out)."""
    if value is None:
        return "(unset)"
    if isinstance(value, bool):
        return f"`{str(value).lower()}`"
    return f'`"{value}"`' if isinstance(value, str) else f"`{value!r}`"


def reference() -> str:
    """The study file's ``[training]`` settings as a Markdown table (key, default, what it
    sets); docs/study-files.md holds it.

    Example:

        .. testcode::

            from optuna_clr.training.settings import reference

            print(reference().splitlines()[0])   # | key | default | what it sets |
    """
    rows = ["| key | default | what it sets |", "|---|---|---|"]
    for field in settings("file"):
        doc = field.metadata["doc"].replace("|", "\\|")
        rows.append(f"| `{field.name}` | {_toml(default(field.name))} | {doc} |")
    return "\n".join(rows)
