"""Every figure described once, then drawn by matplotlib (the reports) or plotly (the dashboard).

As :mod:`optuna.visualization` does, each figure has a function that computes what it shows
from a comparison, a study or a range test, and returns it as plain values: a
:class:`FigureInfo` (title, size, panels), each :class:`Panel` with its axis titles and scales,
its :class:`Series` (data, group, colour, line style, legend label) and its
:class:`ReferenceLine` s (a target, a budget, the range test's bounds; each in the legend with
its value). Two renderers draw a description and compute nothing about the data:
:func:`render_matplotlib` (a ``matplotlib.figure.Figure``, no pyplot state) for the Markdown
reports (:mod:`optuna_clr.results.report`) and :func:`render_plotly` (a plotly figure) for
optuna-dashboard (:mod:`optuna_clr.results.dashboard`). So both show the same data, colours, legend
entries and scales.

Series of one ``group`` are one thing to a reader (an arm's seeds, a trial's accuracy and LR):
they share a colour and at most one of them carries the group's legend label.
"""

from __future__ import annotations

import dataclasses
import math
import textwrap
from typing import Any
from typing import cast
from typing import Literal
from typing import TYPE_CHECKING

import optuna
from optuna.trial import TrialState

from optuna_clr import records
from optuna_clr import schedules
from optuna_clr.results.statistics import log_interval
from optuna_clr.results.statistics import paired_ratio
from optuna_clr.search.range_test import RangeTestResult
from optuna_clr.study.tracking import accuracy_curve


if TYPE_CHECKING:
    from optuna_clr.results.compare import Comparison


LineStyle = Literal["solid", "dashed", "dotted"]
Marker = Literal["circle", "x", "vline"]

# matplotlib's tab10 and tab20, as hex so that a description needs no plotting library
TAB10 = (
    "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd",
    "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf",
)  # fmt: skip
TAB20 = (
    "#1f77b4", "#aec7e8", "#ff7f0e", "#ffbb78", "#2ca02c", "#98df8a", "#d62728",
    "#ff9896", "#9467bd", "#c5b0d5", "#8c564b", "#c49c94", "#e377c2", "#f7b6d2",
    "#7f7f7f", "#c7c7c7", "#bcbd22", "#dbdb8d", "#17becf", "#9edae5",
)  # fmt: skip
BLACK = "#000000"
DASHBOARD_HEIGHT = 450  # px: optuna-dashboard draws a study's own figures in a box this tall
GREY = "#b2b2b2"
BOUND_COLORS = {"base_lr": "#2ca02c", "best_lr": "#ff7f0e", "max_lr": "#d62728"}


@dataclasses.dataclass(frozen=True)
class Series:
    """One line (or, with ``marker``, one set of markers) and how it looks.

    ``label`` is its legend entry (None: not in the legend); ``name`` says which one it is
    (plotly's hover). ``xerr`` gives, per point, the error bar's extent below and above x.
    """

    x: tuple[float, ...]
    y: tuple[float, ...]
    group: str
    color: str
    name: str
    label: str | None = None
    style: LineStyle = "solid"
    width: float = 1.0
    opacity: float = 1.0
    marker: Marker | None = None
    xerr: tuple[tuple[float, ...], tuple[float, ...]] | None = None


@dataclasses.dataclass(frozen=True)
class ReferenceLine:
    """A line across a panel, vertical at x = ``value`` (``axis="x"``) or horizontal at
    y = ``value`` (``axis="y"``), in the legend as ``label``."""

    axis: Literal["x", "y"]
    value: float
    label: str
    color: str
    style: LineStyle = "solid"
    width: float = 1.0


@dataclasses.dataclass(frozen=True)
class Panel:
    """One set of axes: its series, reference lines, axis titles and scales.

    ``xrange`` limits the x axis (in data units, also on a log axis); ``yticks`` names
    positions on the y axis; ``grid`` is ``"both"`` or ``"x"`` (vertical grid lines only).
    """

    xlabel: str
    ylabel: str
    series: tuple[Series, ...] = ()
    lines: tuple[ReferenceLine, ...] = ()
    xlog: bool = False
    ylog: bool = False
    xrange: tuple[float, float] | None = None
    yticks: tuple[tuple[float, str], ...] = ()
    grid: Literal["both", "x"] = "both"


@dataclasses.dataclass(frozen=True)
class FigureInfo:
    r"""A figure: its title (lines split by ``"\n"``), its panels top to bottom, sharing the
    x axis, and its size in inches (matplotlib's; plotly takes the height from it)."""

    title: str
    panels: tuple[Panel, ...]
    size: tuple[float, float] = (7.0, 4.2)


def palette(n: int) -> list[str]:
    """``n`` colours, one per configuration: tab10 up to 10, tab20 up to 20, then tab20 again.
    A figure must never drop a configuration for want of a colour (``zip`` with a short list
    did: the CLR paper's optimizer table has 10 baselines)."""
    colors = TAB10 if n <= 10 else TAB20
    return [colors[i % len(colors)] for i in range(n)]


def _spans_decades(values: Any) -> bool:
    """Whether the positive ``values`` span more than a decade: then a log axis keeps the
    data from being squeezed into a tenth of it."""
    positive = [v for v in values if v > 0]
    return bool(positive) and max(positive) >= 10 * min(positive)


def _points(xs: Any, ys: Any, xlog: bool) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """The points as a figure draws them: on a log x axis, those with x > 0 only; a missing
    y (None) is NaN, a gap."""
    pairs = [(x, y) for x, y in zip(xs, ys) if x > 0 or not xlog]
    return (
        tuple(float(x) for x, _ in pairs),
        tuple(math.nan if y is None else float(y) for _, y in pairs),
    )


# --- a comparison (optuna_clr.results.compare.Comparison) ---


def describe_comparison(
    comparison: Comparison, range_test: RangeTestResult | None = None
) -> dict[str, FigureInfo]:
    """The figures of a comparison, by name: ``curves`` (:func:`describe_curves`),
    ``schedules`` (:func:`describe_schedules`), ``iterations`` (:func:`describe_iterations`),
    ``speedup`` (:func:`describe_speedup`, with a fixed LR and another configuration) and,
    given ``range_test``, ``range_test`` (:func:`describe_range_test`).

    Args:
        comparison: the outcome of :func:`optuna_clr.results.compare.compare`.
        range_test: the range test the arms' spaces were narrowed with, if any.

    Returns:
        A :class:`FigureInfo` per figure name, in the report's order.

    Example:

        .. testcode::

            from optuna_clr.results.compare import Arm, Comparison, SeedRun
            from optuna_clr.results.figures import describe_comparison, render_matplotlib

            run = SeedRun(1, True, 40, 40, 1280, 0.96, None, [[20, 0.8], [40, 0.96]])
            arm = Arm("fixed", "baseline", {"family": "fixed", "lr": 0.1}, [run])
            comparison = Comparison("demo", "iterations", 0.95, 300, [1], [arm], None, {})
            for name, info in describe_comparison(comparison).items():
                render_matplotlib(info).savefig(f"{name}.png")
    """
    out = {
        "curves": describe_curves(comparison),
        "schedules": describe_schedules(comparison),
        "iterations": describe_iterations(comparison),
    }
    speedup = describe_speedup(comparison)
    if speedup is not None:
        out["speedup"] = speedup
    if range_test is not None:
        out["range_test"] = describe_range_test(range_test)
    return out


def describe_curves(comparison: Comparison) -> FigureInfo:
    """The validation accuracy of every retrained seed over the iterations, on a log axis (a
    seed that never reaches the target would squash the others), with the target.

    Each seed's line has its configuration's colour; the legend has one entry per
    configuration (its name and number of seeds) and the target.

    Args:
        comparison: the outcome of :func:`optuna_clr.results.compare.compare`.

    Returns:
        The figure's description.

    Example:

        .. testcode::

            from optuna_clr.results.compare import Arm, Comparison, SeedRun
            from optuna_clr.results.figures import describe_curves

            runs = [SeedRun(seed, True, 40, 40, 1280, 0.96, None, [[20, 0.8], [40, 0.96]])
                    for seed in (1, 2)]
            comparison = Comparison("demo", "iterations", 0.95, 300, [1, 2],
                                    [Arm("fixed", "baseline", {"family": "fixed", "lr": 0.1},
                                         runs)], None, {})
            info = describe_curves(comparison)
            seeds = info.panels[0].series
            assert [s.color for s in seeds] == ["#1f77b4", "#1f77b4"]  # the arm's colour
            assert [s.label for s in seeds] == ["fixed (2 seeds)", None]  # one legend entry
    """
    series = []
    for color, arm in zip(palette(len(comparison.arms)), comparison.arms):
        for i, run in enumerate(arm.runs):
            xs, ys = _points([p[0] for p in run.curve], [p[1] for p in run.curve], True)
            name = f"{arm.name}, seed {run.seed}"
            label = f"{arm.name} ({len(arm.runs)} seeds)" if i == 0 else None
            series.append(Series(xs, ys, arm.name, color, name, label, width=0.9, opacity=0.8))
    target = comparison.target_accuracy
    panel = Panel(
        xlabel="iteration (log scale)",
        ylabel="validation accuracy",
        series=tuple(series),
        lines=(ReferenceLine("y", target, f"target {target:g}", BLACK, "dashed", 0.8),),
        xlog=True,
    )
    title = f"{comparison.name}: validation accuracy of each configuration, every seed"
    return FigureInfo(title, (panel,), (7.0, 4.2))


def describe_schedules(comparison: Comparison) -> FigureInfo:
    """The LR of each configuration's schedule on a linear axis (a log axis bends a linear ramp
    into an apparent exponential), over the iterations the seeds that reached the target
    trained (every seed's where none did): the part of the schedule that did the work.

    Args:
        comparison: the outcome of :func:`optuna_clr.results.compare.compare`.

    Returns:
        The figure's description: one series per configuration, in its colour, labelled
        with its name and schedule.

    Example:

        .. testcode::

            from optuna_clr.results.compare import Arm, Comparison, SeedRun
            from optuna_clr.results.figures import describe_schedules

            runs = [SeedRun(1, True, 40, 40, 1280, 0.96, None, [[20, 0.8], [40, 0.96]]),
                    SeedRun(2, False, 330, 300, 9600, 0.92, None, [[300, 0.92]])]
            arm = Arm("fixed", "baseline", {"family": "fixed", "lr": 0.1}, runs)
            info = describe_schedules(Comparison("demo", "iterations", 0.95, 300, [1, 2], [arm],
                                                 None, {}))
            assert info.panels[0].series[0].label.startswith("fixed: ")
            assert info.panels[0].xrange == (0, 40)  # the seed that reached it, not the budget
    """
    runs = [r for arm in comparison.arms for r in arm.runs]
    reached = [r for r in runs if r.reached] or runs
    span = max([1, *(r.iterations for r in reached)])
    steps = range(0, span + 1, max(1, span // 1000))
    series = []
    for color, arm in zip(palette(len(comparison.arms)), comparison.arms):
        s = schedules.from_dict(arm.schedule)
        label = f"{arm.name}: {s.label()}"
        lrs = tuple(s.lr(x) for x in steps)
        series.append(
            Series(tuple(map(float, steps)), lrs, arm.name, color, label, label, width=1.2)
        )
    which = "the seeds that reached the target" if reached is not runs else "every seed"
    panel = Panel(
        xlabel=f"iteration (up to the longest run of {which})",
        ylabel="learning rate",
        series=tuple(series),
        xrange=(0, span),
    )
    return FigureInfo(f"{comparison.name}: learning-rate schedules", (panel,), (7.0, 3.4))


def describe_iterations(comparison: Comparison) -> FigureInfo:
    """The comparison's value (iterations, examples or seconds to target) of every seed, one
    row per configuration, with the geometric mean and its 95% t-interval (on a log axis,
    where the interval is one) and the budget.

    A seed that reached the target is a ``"vline"`` marker, one that did not (its censored
    value) an ``"x"``; all in the configuration's colour.

    Args:
        comparison: the outcome of :func:`optuna_clr.results.compare.compare`.

    Returns:
        The figure's description.

    Example:

        .. testcode::

            from optuna_clr.results.compare import Arm, Comparison, SeedRun
            from optuna_clr.results.figures import describe_iterations

            runs = [SeedRun(1, True, 40, 40, 1280, 0.96, None, []),
                    SeedRun(2, False, 330, 300, 9600, 0.92, None, [])]
            arm = Arm("fixed", "baseline", {"family": "fixed", "lr": 0.1}, runs)
            info = describe_iterations(Comparison("demo", "iterations", 0.95, 300, [1, 2],
                                                  [arm], None, {}))
            mean, reached, censored = info.panels[0].series
            assert mean.xerr is not None and reached.x == (40.0,) and censored.marker == "x"
    """
    series: list[Series] = []
    for i, (color, arm) in enumerate(zip(palette(len(comparison.arms)), comparison.arms)):
        mid, low, high = log_interval(arm.values)
        xerr = None if low is None or high is None else ((mid - low,), (high - mid,))
        name = f"{arm.name}: geometric mean"
        series.append(Series((mid,), (i,), arm.name, color, name, marker="circle", xerr=xerr))
        kinds: tuple[tuple[bool, Literal["vline", "x"]], ...] = ((True, "vline"), (False, "x"))
        for reached, marker in kinds:
            runs = [r for r in arm.runs if r.reached == reached]
            if runs:
                xs = tuple(float(r.value) for r in runs)
                seeds = ", ".join(str(r.seed) for r in runs)
                name = f"{arm.name}: seed{'s' * (len(runs) > 1)} {seeds}"
                series.append(
                    Series(xs, (i + 0.12,) * len(xs), arm.name, color, name, marker=marker)
                )
    unit, target = comparison.unit, comparison.target_accuracy
    panel = Panel(
        xlabel=f"{unit} to {target:g} validation accuracy\n"
        "(log scale; every seed, geometric mean and its 95% t-interval)",
        ylabel="",
        series=tuple(series),
        lines=(
            ReferenceLine(
                "x",
                comparison.budget,
                f"budget {comparison.budget:,g} (x: not reached, censored)",
                BLACK,
                "dotted",
                0.8,
            ),
        ),
        xlog=True,
        yticks=tuple((float(i), arm.name) for i, arm in enumerate(comparison.arms)),
        grid="x",
    )
    size = (7.0, max(3.2, 1.2 + 0.3 * len(comparison.arms)))
    title = f"{comparison.name}: {unit} to target, each configuration's own spread"
    return FigureInfo(title, (panel,), size)


def describe_speedup(comparison: Comparison) -> FigureInfo | None:
    """The speed-up over the tuned fixed LR that the verdict reads: for each other
    configuration, the ratio of the fixed LR's value to its value seed by seed, and their
    geometric mean with the paired 95% t-interval (:func:`~optuna_clr.results.statistics.
    paired_ratio`), on a log axis with 1x (no difference) marked.

    A seed pairs the two runs (same split, initial weights and batch order), so this interval
    is narrower than the two configurations' own spreads in :func:`describe_iterations`
    suggest, and it is the one that decides.

    Args:
        comparison: the outcome of :func:`optuna_clr.results.compare.compare`.

    Returns:
        The figure's description; None without a fixed LR and another configuration.

    Example:

        .. testcode::

            from optuna_clr.results.compare import Arm, Comparison, SeedRun
            from optuna_clr.results.figures import describe_speedup

            def arm(name, values):
                runs = [SeedRun(i + 1, True, v, v, 32 * v, 0.96, None, [])
                        for i, v in enumerate(values)]
                return Arm(name, "baseline", {"family": "fixed", "lr": 0.1}, runs)

            info = describe_speedup(Comparison("demo", "iterations", 0.95, 300, [1, 2],
                                               [arm("fixed", [80, 120]), arm("fast", [40, 60])],
                                               None, {}))
            mean, seeds = info.panels[0].series
            assert mean.x == (2.0,) and seeds.x == (2.0, 2.0)  # twice as fast on each seed
    """
    fixed = comparison.arm("fixed")
    others = [a for a in comparison.arms if a is not fixed]
    if fixed is None or not others:
        return None
    colors = dict(zip([a.name for a in comparison.arms], palette(len(comparison.arms))))
    series: list[Series] = []
    for i, arm in enumerate(others):
        color = colors[arm.name]
        sp = paired_ratio(fixed.values, arm.values)
        mid, low, high = sp["ratio"], sp["low"], sp["high"]
        xerr = None if low is None else ((mid - low,), (high - mid,))
        name = f"{arm.name}: {mid:.2f}x" + ("" if low is None else f" ({low:.2f}-{high:.2f})")
        series.append(Series((mid,), (i,), arm.name, color, name, marker="circle", xerr=xerr))
        ratios = tuple(f / a for f, a in zip(fixed.values, arm.values))
        seeds = f"{arm.name}: seeds {', '.join(str(r.seed) for r in arm.runs)}"
        series.append(
            Series(ratios, (i + 0.12,) * len(ratios), arm.name, color, seeds, marker="vline")
        )
    panel = Panel(
        xlabel="speed-up over the tuned fixed LR: its "
        f"{comparison.unit} / this configuration's\n(log scale; each seed, geometric mean and "
        "its paired 95% t-interval; right of 1: faster)",
        ylabel="",
        series=tuple(series),
        lines=(ReferenceLine("x", 1.0, "1x: no difference", BLACK, "dotted", 0.8),),
        xlog=True,
        yticks=tuple((float(i), arm.name) for i, arm in enumerate(others)),
        grid="x",
    )
    size = (7.0, 1.9 + 0.4 * len(others))
    return FigureInfo(
        f"{comparison.name}: speed-up, seed by seed (what the verdict reads)", (panel,), size
    )


# --- a study, and its range test ---


def describe_study(study: optuna.Study, *, top: int = 5) -> dict[str, FigureInfo]:
    """The figures of a study, by name: ``best_trials`` (:func:`describe_best_trials`) when
    a trial completed, and ``range_test`` (:func:`describe_range_test`) when the study has one.

    Args:
        study: a study of :class:`~optuna_clr.IterationsToTarget` trials.
        top: how many of the best trials to show.

    Returns:
        A :class:`FigureInfo` per figure name.

    Example:

        .. testcode::

            import optuna
            from optuna_clr.results.figures import describe_study

            study = optuna.create_study()
            assert describe_study(study) == {}  # no trial, no range test: nothing to show
    """
    out = {}
    best = describe_best_trials(study, top=top)
    if best is not None:
        out["best_trials"] = best
    result = RangeTestResult.from_study(study)
    if result is not None:
        out["range_test"] = describe_range_test(result)
    return out


def describe_best_trials(study: optuna.Study, *, top: int = 5) -> FigureInfo | None:
    """The ``top`` best completed trials: their validation accuracy with the target (upper
    panel) and their LR (lower panel) over the iterations, sharing a log axis where the
    evaluations span more than a decade.

    Each trial is a group: one colour in both panels, one legend entry (number, family and
    value).

    Args:
        study: a study of :class:`~optuna_clr.IterationsToTarget` trials.
        top: how many of the best trials to show.

    Returns:
        The figure's description; None without a completed trial.

    Example:

        .. testcode::

            import optuna
            from optuna.distributions import CategoricalDistribution
            from optuna_clr.results.figures import describe_best_trials

            study = optuna.create_study(study_name="demo")
            study.add_trial(optuna.trial.create_trial(
                params={"family": "fixed"},
                distributions={"family": CategoricalDistribution(["fixed"])},
                value=40, intermediate_values={20: 310.0, 40: 40.0},
                user_attrs={"schedule": {"family": "fixed", "lr": 0.1}, "iterations": 40,
                            "budget": 300, "target_accuracy": 0.95}))
            accuracy, lr = describe_best_trials(study).panels
            assert accuracy.series[0].color == lr.series[0].color  # one trial, one colour
            assert accuracy.series[0].label == "trial 0: fixed (40)" and lr.series[0].label is None
    """
    done = sorted(
        study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,)),
        key=lambda t: cast(float, t.value),
    )[:top]
    if not done:
        return None
    xlog = _spans_decades([s for t in done for s in t.intermediate_values])
    accuracy, lr = zip(*(_trial_series(t, c, xlog) for c, t in zip(palette(len(done)), done)))
    target = done[0].user_attrs.get("target_accuracy")
    lines = (
        (ReferenceLine("y", target, f"target {target:g}", BLACK, "dashed", 0.8),) if target else ()
    )
    # from the first evaluation: a log axis would otherwise open on a decade with no data
    steps = [s for t in done for s in t.intermediate_values]
    xrange = (min(steps), max(steps)) if xlog else None
    top_panel = Panel("", "validation accuracy", accuracy, lines, xlog=xlog, xrange=xrange)
    bottom = Panel(
        xlabel="iteration (log scale)" if xlog else "iteration",
        ylabel="learning rate",
        series=lr,
        xlog=xlog,
        xrange=xrange,
    )
    title = f"{study.study_name}, the {len(done)} best trials: accuracy and LR"
    return FigureInfo(title, (top_panel, bottom), (7.0, 6.0))


def _trial_series(
    trial: optuna.trial.FrozenTrial, color: str, xlog: bool
) -> tuple[Series, Series]:
    """A trial's accuracy curve (with its legend label) and its LR over the iterations it
    trained, in one colour."""
    group = f"trial {trial.number}"
    label = f"{group}: {trial.params.get('family', '?')} ({trial.value:,.0f})"
    curve = accuracy_curve(trial)
    xs, ys = _points([s for s, _ in curve], [a for _, a in curve], xlog)
    accuracy = Series(xs, ys, group, color, name=label, label=label, width=1.1)
    schedule = schedules.from_dict(cast(dict, records.trial_schedule(trial)))
    n = max(int(trial.user_attrs.get("iterations", 1)), 1)
    steps = range(0, n, max(1, n // 1000))
    xs, ys = _points(steps, [schedule.lr(x) for x in steps], xlog)
    return accuracy, Series(xs, ys, group, color, name=f"{group}: LR", width=1.1)


def describe_range_test(result: RangeTestResult) -> FigureInfo:
    """The range test's curve against the LR: each seed thin and grey, their mean, the
    smoothed curve dashed, and base_lr, best_lr and max_lr (and a divergence) as vertical
    lines, each in the legend with its value. The x axis is the tested LRs, on a log scale
    where they span more than a decade; the title says how clear the answer is.

    Args:
        result: a range test (:func:`optuna_clr.lr_range_test`).

    Returns:
        The figure's description.

    Example:

        .. testcode::

            import optuna_clr
            from optuna_clr.results.figures import describe_range_test, render_matplotlib

            result = optuna_clr.lr_range_test(task="digits", model="mlp", min_lr=0.0,
                                              max_lr=1.0, steps=40, eval_every=4,
                                              batch_size=32, device="cpu")
            info = describe_range_test(result)
            print(info.title)
            print([line.label for line in info.panels[0].lines])  # ["base_lr = 0.05", ...]
            render_matplotlib(info).savefig("range_test.png")
    """
    metric = result.settings.get("metric", "accuracy")
    label = "validation accuracy" if metric == "accuracy" else "training loss"
    xlog = _spans_decades(result.lrs)
    grey = tuple(_seed_series(run, i, metric, xlog) for i, run in enumerate(result.runs))
    mean = f"{label}, mean of {len(result.runs)} seeds" if result.runs else label
    xs, ys = _points(result.lrs, _metric(result, metric), xlog)
    curve = Series(xs, ys, "curve", TAB10[0], mean, label=mean, width=1.2)
    xs, ys = _points(result.lrs, result.smoothed, xlog)
    smooth = Series(xs, ys, "smoothed", TAB10[0], "smoothed", "smoothed", "dashed", 1.5)
    tested = [lr for lr in result.lrs if lr > 0 or not xlog]
    panel = Panel(
        xlabel="learning rate (log scale)" if xlog else "learning rate",
        ylabel=label,
        series=(*grey, curve, smooth),
        lines=_bounds(result),
        xlog=xlog,
        xrange=(min(tested), max(tested)) if tested else None,
    )
    return FigureInfo(_range_test_title(result), (panel,), (6.4, 4.0))


def _metric(result: RangeTestResult, metric: str) -> list[Any]:
    return result.accuracies if metric == "accuracy" else result.losses


def _seed_series(run: RangeTestResult, i: int, metric: str, xlog: bool) -> Series:
    xs, ys = _points(run.lrs, _metric(run, metric), xlog)
    seed = run.settings.get("seed", i)
    return Series(xs, ys, "seeds", GREY, f"seed {seed}", width=0.8)


def _bounds(result: RangeTestResult) -> tuple[ReferenceLine, ...]:
    """base_lr, best_lr and max_lr (those found) and the LR it diverged at, as legend lines."""
    lines = [
        ReferenceLine("x", value, f"{key} = {value:.3g}", BOUND_COLORS[key], width=1.2)
        for key, value in result.suggestions().items()
        if value is not None
    ]
    if result.diverged_at_lr is not None:
        value = result.diverged_at_lr
        lines.append(ReferenceLine("x", value, f"diverged at {value:.3g}", BLACK, "dotted", 0.8))
    return tuple(lines)


def _range_test_title(result: RangeTestResult) -> str:
    """How clear the answer is and what was tested, then the test's message, wrapped (a
    constrained matplotlib layout clips a long title rather than wrapping it)."""
    s = result.settings
    tested = (
        f"{s.get('task')} / {s.get('model')}, {s.get('mode')} {s.get('min_lr'):g} to "
        f"{s.get('max_lr'):g} over {s.get('steps')} steps"
    )
    verdict = "clear" if result.clear else "NOT CLEAR"
    return f"LR range test: {verdict} ({tested})\n{textwrap.fill(result.message, 110)}"


# --- renderers: they draw a description and compute nothing about the data ---

_MPL_STYLE = {"solid": "-", "dashed": "--", "dotted": ":"}
_MPL_MARKER = {"circle": "o", "x": "x", "vline": "|"}


def render_matplotlib(info: FigureInfo) -> Any:
    """``info`` as a ``matplotlib.figure.Figure`` (no pyplot state, so it works in threads and
    without a display). Series are the lines with gid ``"series"``, reference lines those
    with gid ``"reference"``; each panel that labels something has a legend.

    Args:
        info: a description from one of the ``describe_*`` functions.

    Returns:
        The figure; save it with ``fig.savefig(path)``.
    """
    from matplotlib.figure import Figure

    fig = Figure(figsize=info.size, layout="constrained")
    axes = fig.subplots(len(info.panels), 1, sharex=True, squeeze=False)[:, 0]
    for ax, panel in zip(axes, info.panels):
        _mpl_panel(ax, panel)
    axes[0].set_title(info.title, fontsize=9 if "\n" not in info.title else 7)
    return fig


def _mpl_panel(ax: Any, panel: Panel) -> None:
    for s in panel.series:
        _mpl_series(ax, s)
    for line in panel.lines:
        draw = ax.axvline if line.axis == "x" else ax.axhline
        style = {"ls": _MPL_STYLE[line.style], "lw": line.width, "color": line.color}
        draw(line.value, label=line.label, gid="reference", **style)
    if panel.xlog:
        from matplotlib.ticker import FuncFormatter
        from matplotlib.ticker import NullFormatter

        ax.set_xscale("log")  # ticks as plain numbers (0.6, 200), not 6 x 10^-1
        plain = FuncFormatter(lambda v, _: f"{v:g}")
        ax.xaxis.set_major_formatter(plain)
        xs = [x for s in panel.series for x in s.x if x > 0] + list(panel.xrange or ())
        ax.xaxis.set_minor_formatter(plain if xs and max(xs) <= 20 * min(xs) else NullFormatter())
    if panel.ylog:
        ax.set_yscale("log")
    if panel.xrange is not None:
        ax.set_xlim(*panel.xrange)
    if panel.yticks:
        ax.set_yticks([p for p, _ in panel.yticks], [t for _, t in panel.yticks])
    if panel.xlabel:
        ax.set_xlabel(panel.xlabel)
    ax.set_ylabel(panel.ylabel)
    ax.grid(alpha=0.3, axis=panel.grid)
    if ax.get_legend_handles_labels()[1]:
        ax.legend(fontsize=7)


def _mpl_series(ax: Any, s: Series) -> None:
    style = {"color": s.color, "alpha": s.opacity, "label": s.label}
    if s.xerr is not None:
        bars = ax.errorbar(
            s.x, s.y, xerr=s.xerr, fmt=_MPL_MARKER[s.marker or "circle"], capsize=4, **style
        )
        bars.lines[0].set_gid("series")
    elif s.marker is not None:
        ax.plot(s.x, s.y, ls="none", marker=_MPL_MARKER[s.marker], ms=8, gid="series", **style)
    else:
        ax.plot(s.x, s.y, ls=_MPL_STYLE[s.style], lw=s.width, gid="series", **style)


_PLOTLY_DASH = {"solid": "solid", "dashed": "dash", "dotted": "dot"}
_PLOTLY_SYMBOL = {"circle": "circle", "x": "x-thin-open", "vline": "line-ns-open"}


def render_plotly(info: FigureInfo) -> Any:
    """``info`` as a plotly figure, for optuna-dashboard (``save_plotly_graph_object``).

    Series are the traces with ``meta="series"``, in the legend under their group; a
    reference line is a shape across its panel plus a trace with ``meta="reference"`` and
    no data, its legend entry. The figure is :data:`DASHBOARD_HEIGHT` tall, the box
    optuna-dashboard gives it (a taller one would spill its legend over the next card).
    plotly is imported here only.

    Args:
        info: a description from one of the ``describe_*`` functions.

    Returns:
        A ``plotly.graph_objects.Figure``.
    """
    from plotly.subplots import make_subplots

    fig = make_subplots(rows=len(info.panels), cols=1, shared_xaxes=True, vertical_spacing=0.08)
    for row, panel in enumerate(info.panels, start=1):
        for s in panel.series:
            fig.add_trace(_plotly_trace(s), row=row, col=1)
        for line in panel.lines:
            _plotly_reference(fig, line, row)
        _plotly_axes(fig, panel, row)
    breaks = info.title.count("\n")
    below = 0.25 + 0.08 * info.panels[-1].xlabel.count("\n")  # under the x axis's title
    fig.update_layout(
        title={"text": info.title.replace("\n", "<br>"), "font": {"size": 11 if breaks else 14}},
        template="plotly_white",
        showlegend=True,
        height=DASHBOARD_HEIGHT,
        legend={"orientation": "h", "yanchor": "top", "y": -below},
        margin={"t": 50 + 16 * breaks, "b": 10},
    )
    return fig


def _plotly_trace(s: Series) -> Any:
    import plotly.graph_objects as go

    style = {
        "x": list(s.x),
        "y": list(s.y),
        "name": s.label or s.name,
        "legendgroup": s.group,
        "showlegend": s.label is not None,
        "opacity": s.opacity,
        "meta": "series",
    }
    if s.marker is None:
        line = {"color": s.color, "width": s.width, "dash": _PLOTLY_DASH[s.style]}
        return go.Scatter(mode="lines", line=line, **style)
    marker = {
        "symbol": _PLOTLY_SYMBOL[s.marker],
        "size": 9,
        "color": s.color,
        "line": {"color": s.color, "width": 2},
    }
    errors = None
    if s.xerr is not None:
        below, above = s.xerr
        errors = {"type": "data", "symmetric": False, "array": list(above)}
        errors.update(arrayminus=list(below), color=s.color)
    return go.Scatter(mode="markers", marker=marker, error_x=errors, **style)


def _plotly_reference(fig: Any, line: ReferenceLine, row: int) -> None:
    import plotly.graph_objects as go

    style = {"color": line.color, "width": line.width, "dash": _PLOTLY_DASH[line.style]}
    if line.axis == "x":
        fig.add_vline(x=line.value, line=style, row=row, col=1)
    else:
        fig.add_hline(y=line.value, line=style, row=row, col=1)
    legend = go.Scatter(x=[None], y=[None], mode="lines", line=style, name=line.label)
    legend.update(meta="reference", legendgroup=line.label, showlegend=True)
    fig.add_trace(legend, row=row, col=1)


def _plotly_axes(fig: Any, panel: Panel, row: int) -> None:
    x: dict[str, Any] = {"title": panel.xlabel.replace("\n", "<br>") or None}
    if panel.xlog:
        x["type"] = "log"
    if panel.xrange is not None:
        lo, hi = panel.xrange
        x["range"] = [math.log10(lo), math.log10(hi)] if panel.xlog else [lo, hi]
    y: dict[str, Any] = {"title": panel.ylabel or None, "showgrid": panel.grid == "both"}
    if panel.ylog:
        y["type"] = "log"
    if panel.yticks:
        y.update(tickmode="array", tickvals=[p for p, _ in panel.yticks])
        y["ticktext"] = [t for _, t in panel.yticks]
    fig.update_xaxes(row=row, col=1, **x)
    fig.update_yaxes(row=row, col=1, **y)
