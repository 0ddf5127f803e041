"""Each figure is described once (optuna_clr.results.figures) and both renderings draw that
description.

A real comparison (three configurations retrained on two seeds of digits, one of them too slow
to reach the target), a real study (four trials) and a real range test (two seeds) are
described; the matplotlib figure (the reports) and the plotly figure (optuna-dashboard) must
then show the same series with the same data and colours, the same legend, axis titles, log
scales and reference lines. Training is tiny: a few seconds in all.
"""

from __future__ import annotations

import math
import re
from typing import Any

from matplotlib.colors import to_hex
import optuna
import pytest

import optuna_clr
from optuna_clr.results import compare
from optuna_clr.results import dashboard
from optuna_clr.results import figures
from optuna_clr.results import plots
from optuna_clr.results import report
from optuna_clr.results.statistics import paired_ratio


pytest.importorskip("plotly")

SEEDS = [1, 2]
TARGET = 0.95
BUDGET = 300


@pytest.fixture(scope="module")
def experiment() -> optuna_clr.Experiment:
    config = optuna_clr.TrainConfig(
        max_iterations=BUDGET, eval_every=10, target_accuracy=TARGET, batch_size=32, device="cpu"
    )
    return optuna_clr.Experiment(task="digits", model="mlp", config=config)


@pytest.fixture(scope="module")
def range_test() -> optuna_clr.RangeTestResult:
    return optuna_clr.lr_range_test(
        task="digits",
        model="mlp",
        min_lr=0.0,
        max_lr=1.0,
        steps=60,
        eval_every=3,
        batch_size=32,
        device="cpu",
        repeats=2,
    )


@pytest.fixture(scope="module")
def comparison(experiment: optuna_clr.Experiment) -> compare.Comparison:
    """Two tuned-looking arms and a baseline whose LR is too small to reach the target."""
    arms = [
        compare.Arm(name, kind, s.to_dict(), compare.retrain(experiment, s, SEEDS))
        for name, kind, s in (
            ("fixed", "tuned", optuna_clr.schedules.Fixed(0.1)),
            ("cyclical", "tuned", optuna_clr.schedules.Triangular2(0.02, 0.2, 40)),
            ("slow", "baseline", optuna_clr.schedules.Fixed(0.002)),
        )
    ]
    assert not any(r.reached for r in arms[2].runs)  # the figures show censored seeds too
    speedup = paired_ratio(arms[0].values, arms[1].values)
    return compare.Comparison("tiny", "iterations", TARGET, BUDGET, SEEDS, arms, speedup, {})


@pytest.fixture(scope="module")
def study(experiment: optuna_clr.Experiment, range_test: Any) -> optuna.Study:
    objective = optuna_clr.IterationsToTarget(
        experiment=experiment,
        space=optuna_clr.ScheduleSpace(
            families=["fixed", "triangular2"], lr=(0.02, 0.5), iterations_per_epoch=35
        ),
    )
    study = optuna.create_study(
        study_name="tiny", sampler=optuna.samplers.RandomSampler(seed=0), direction="minimize"
    )
    study.optimize(objective, n_trials=4)
    range_test.attach(study)
    return study


@pytest.fixture(scope="module")
def described(comparison: Any, study: Any, range_test: Any) -> dict[str, figures.FigureInfo]:
    return {
        **figures.describe_comparison(comparison, range_test),
        **figures.describe_study(study, top=3),
    }


# --- what each rendering shows, panel by panel, in the description's terms ---


def _values(values: Any) -> list[float | None]:
    return [None if v is None or math.isnan(v) else float(v) for v in values]


def _text(text: Any) -> str:
    return (text or "").replace("<br>", "\n")


def _expected(info: figures.FigureInfo) -> list[dict[str, Any]]:
    return [
        {
            "series": [
                (_values(s.x), _values(s.y), s.color, s.marker or s.style) for s in panel.series
            ],
            "legend": [
                *(s.label for s in panel.series if s.label is not None),
                *(line.label for line in panel.lines),
            ],
            "lines": [(line.axis, line.value, line.color, line.style) for line in panel.lines],
            "xlabel": panel.xlabel,
            "ylabel": panel.ylabel,
            "log": (panel.xlog, panel.ylog),
        }
        for panel in info.panels
    ]


def _matplotlib(fig: Any) -> list[dict[str, Any]]:
    panels = []
    for ax in fig.axes:
        series = [line for line in ax.get_lines() if line.get_gid() == "series"]
        lines = [line for line in ax.get_lines() if line.get_gid() == "reference"]
        _, labels = ax.get_legend_handles_labels()
        if labels:
            assert [t.get_text() for t in ax.get_legend().get_texts()] == labels
        panels.append(
            {
                "series": [
                    (_values(s.get_xdata()), _values(s.get_ydata()), to_hex(s.get_color()))
                    + (_mpl_look(s),)
                    for s in series
                ],
                "legend": labels,
                "lines": [_mpl_reference(line) for line in lines],
                "xlabel": ax.get_xlabel(),
                "ylabel": ax.get_ylabel(),
                "log": (ax.get_xscale() == "log", ax.get_yscale() == "log"),
            }
        )
    return panels


def _mpl_reference(line: Any) -> tuple[str, float, str, str]:
    xs, ys = line.get_xdata(), line.get_ydata()
    vertical = xs[0] == xs[1]
    return (
        "x" if vertical else "y",
        float(xs[0] if vertical else ys[0]),
        to_hex(line.get_color()),
        MPL_STYLES[line.get_linestyle()],
    )


MPL_STYLES = {"-": "solid", "--": "dashed", ":": "dotted"}
MPL_MARKERS = {"o": "circle", "x": "x", "|": "vline"}


def _mpl_look(line: Any) -> str:
    """A line's style, or its marker where it has no line."""
    if line.get_linestyle() == "None":
        return MPL_MARKERS[line.get_marker()]
    return MPL_STYLES[line.get_linestyle()]


def _panel(axis: str) -> int:
    """The panel (0 = top) of a plotly axis name: ``x``, ``y2``, ``x2 domain``..."""
    digits = re.sub(r"\D", "", axis)
    return int(digits) - 1 if digits else 0


def _plotly(fig: Any) -> list[dict[str, Any]]:
    layout = fig.layout
    panels = []
    for i in range(len([k for k in layout if k.startswith("xaxis")])):
        traces = [t for t in fig.data if _panel(t.xaxis or "x") == i]
        series = [t for t in traces if t.meta == "series"]
        shapes = [s for s in layout.shapes if _panel(s.yref) == i]
        xaxis, yaxis = layout[f"xaxis{i + 1 if i else ''}"], layout[f"yaxis{i + 1 if i else ''}"]
        panels.append(
            {
                "series": [
                    (_values(t.x), _values(t.y), _plotly_color(t), _plotly_look(t)) for t in series
                ],
                "legend": [t.name for t in traces if t.showlegend],
                "lines": [_plotly_reference(s) for s in shapes],
                "xlabel": _text(xaxis.title.text),
                "ylabel": _text(yaxis.title.text),
                "log": (xaxis.type == "log", yaxis.type == "log"),
            }
        )
    return panels


def _plotly_color(trace: Any) -> str:
    return trace.marker.color if trace.mode == "markers" else trace.line.color


PLOTLY_DASHES = {"solid": "solid", "dash": "dashed", "dot": "dotted"}
PLOTLY_SYMBOLS = {"circle": "circle", "x-thin-open": "x", "line-ns-open": "vline"}


def _plotly_look(trace: Any) -> str:
    if trace.mode == "markers":
        return PLOTLY_SYMBOLS[trace.marker.symbol]
    return PLOTLY_DASHES[trace.line.dash]


def _plotly_reference(shape: Any) -> tuple[str, float, str, str]:
    """A reference line as plotly draws it: a shape across its panel's domain."""
    vertical = "domain" in shape.yref  # add_vline: x in data, y across the panel
    assert (shape.x0 == shape.x1) if vertical else (shape.y0 == shape.y1)
    value = shape.x0 if vertical else shape.y0
    return ("x" if vertical else "y", value, shape.line.color, PLOTLY_DASHES[shape.line.dash])


# --- the tests ---

FIGURES = ["curves", "schedules", "iterations", "speedup", "range_test", "best_trials"]


@pytest.mark.parametrize("name", FIGURES)
def test_both_renderings_draw_the_one_description(described: Any, name: str) -> None:
    info = described[name]
    expected = _expected(info)
    assert all(panel["series"] for panel in expected), "a figure with nothing to show"
    matplotlib_fig = figures.render_matplotlib(info)
    plotly_fig = figures.render_plotly(info)
    assert _matplotlib(matplotlib_fig) == expected
    assert _plotly(plotly_fig) == expected
    for panel, ax, i in zip(info.panels, matplotlib_fig.axes, ["", "2"]):
        if panel.yticks:  # the configurations' rows
            ticks = [(p, t.get_text()) for p, t in zip(ax.get_yticks(), ax.get_yticklabels())]
            yaxis = plotly_fig.layout[f"yaxis{i}"]
            assert ticks == list(zip(yaxis.tickvals, yaxis.ticktext)) == list(panel.yticks)
    assert matplotlib_fig.axes[0].get_title() == info.title == _text(plotly_fig.layout.title.text)
    # plotly: a series is in the legend under its group, with the group's one colour
    groups = {s.group: s.color for panel in info.panels for s in panel.series}
    traces = [t for t in plotly_fig.data if t.meta == "series"]
    assert {t.legendgroup: _plotly_color(t) for t in traces} == groups
    plotly_fig.to_json()  # what optuna-dashboard stores


def test_every_seed_of_an_arm_has_its_colour_and_one_legend_entry(comparison: Any) -> None:
    info = figures.describe_curves(comparison)
    arms = comparison.arms
    wanted = [f"{arm.name} ({len(arm.runs)} seeds)" for arm in arms] + [f"target {TARGET:g}"]
    # matplotlib: the seed lines come arm by arm
    ax = figures.render_matplotlib(info).axes[0]
    lines = iter(line for line in ax.get_lines() if line.get_gid() == "series")
    colors = [{to_hex(next(lines).get_color()) for _ in arm.runs} for arm in arms]
    assert all(len(c) == 1 for c in colors) and len(set.union(*colors)) == len(arms)
    assert ax.get_legend_handles_labels()[1] == wanted
    # plotly: each arm is a legend group of one colour, shown once
    fig = figures.render_plotly(info)
    for arm, color in zip(arms, colors):
        traces = [t for t in fig.data if t.legendgroup == arm.name]
        assert len(traces) == len(arm.runs) and {t.line.color for t in traces} == color
        assert sum(bool(t.showlegend) for t in traces) == 1
    assert [t.name for t in fig.data if t.showlegend] == wanted


def test_a_trial_has_one_colour_in_both_panels_and_one_legend_entry(study: Any) -> None:
    info = figures.describe_best_trials(study, top=3)
    accuracy, lr = info.panels
    assert [s.color for s in accuracy.series] == [s.color for s in lr.series]
    assert len({s.color for s in accuracy.series}) == len(accuracy.series) == 3
    labels = [s.label for s in accuracy.series]
    assert all(re.fullmatch(r"trial \d+: (fixed|triangular2) \(\d+\)", x) for x in labels)
    assert all(s.label is None for s in lr.series)
    fig = figures.render_plotly(info)
    for s in accuracy.series:
        traces = [t for t in fig.data if t.legendgroup == s.group]
        assert [t.xaxis for t in traces] == ["x", "x2"] and len(
            {t.line.color for t in traces}
        ) == 1


def test_the_range_test_bounds_are_legend_lines_over_the_tested_lrs(range_test: Any) -> None:
    info = figures.describe_range_test(range_test)
    (panel,) = info.panels
    assert range_test.clear and panel.xlog
    bounds = {k: v for k, v in range_test.suggestions().items()}
    assert [(line.value, line.label) for line in panel.lines] == [
        (v, f"{k} = {v:.3g}") for k, v in bounds.items()
    ]
    tested = [lr for lr in range_test.lrs if lr > 0]
    assert panel.xrange == (min(tested), max(tested))
    ax = figures.render_matplotlib(info).axes[0]
    assert ax.get_xlim() == pytest.approx(panel.xrange)
    assert set(ax.get_legend_handles_labels()[1]) >= {line.label for line in panel.lines}
    fig = figures.render_plotly(info)
    assert [10**v for v in fig.layout.xaxis.range] == pytest.approx(panel.xrange)
    assert not fig.layout.annotations  # the values are in the legend, not piled on the axis
    assert {t.name for t in fig.data if t.showlegend} >= {line.label for line in panel.lines}
    # the per-seed curves are drawn by both, grey and out of the legend
    seeds = [s for s in panel.series if s.group == "seeds"]
    assert len(seeds) == 2 and {s.color for s in seeds} == {figures.GREY}
    assert all(s.label is None for s in seeds)


def test_the_speedup_figure_draws_the_paired_interval_the_verdict_reads(comparison: Any) -> None:
    info = figures.describe_speedup(comparison)
    (panel,) = info.panels
    fixed = comparison.arm("fixed")
    others = [a for a in comparison.arms if a is not fixed]
    assert [t for _, t in panel.yticks] == [a.name for a in others]
    for i, arm in enumerate(others):
        mean, seeds = [s for s in panel.series if s.group == arm.name]
        sp = paired_ratio(fixed.values, arm.values)
        assert mean.x == pytest.approx((sp["ratio"],)) and mean.y == (i,)
        (below,), (above,) = mean.xerr
        assert (mean.x[0] - below, mean.x[0] + above) == pytest.approx((sp["low"], sp["high"]))
        assert seeds.x == pytest.approx(tuple(f / a for f, a in zip(fixed.values, arm.values)))
    assert [(line.axis, line.value) for line in panel.lines] == [("x", 1.0)] and panel.xlog
    assert "what the verdict reads" in info.title


def test_the_schedules_are_linear_over_the_runs_that_reached_the_target(comparison: Any) -> None:
    (panel,) = figures.describe_schedules(comparison).panels
    reached = [r.iterations for a in comparison.arms for r in a.runs if r.reached]
    assert not panel.xlog and panel.xrange == (0, max(reached)) and max(reached) < BUDGET
    assert all(s.x[-1] == max(reached) for s in panel.series)


def test_the_best_trials_axis_starts_at_the_first_evaluation(study: Any) -> None:
    info = figures.describe_best_trials(study, top=3)
    if info.panels[0].xlog:
        assert info.panels[0].xrange[0] == 10  # eval_every
        ax = figures.render_matplotlib(info).axes[0]
        assert ax.get_xlim()[0] == pytest.approx(10)


def test_report_and_dashboard_render_the_same_figures(
    comparison: Any, study: Any, range_test: Any
) -> None:
    pngs = report.figures(comparison, range_test)
    graphs = dashboard.comparison_figures(comparison, range_test)
    assert [dashboard.GRAPH_IDS[name] for name in pngs] == list(graphs)
    for name, fig in pngs.items():
        info = figures.describe_comparison(comparison, range_test)[name]
        assert _matplotlib(fig) == _plotly(graphs[dashboard.GRAPH_IDS[name]]) == _expected(info)
    assert (
        list(report.study_figures(study))
        == list(dashboard.study_figures(study))
        == [
            "best_trials",
            "range_test",
        ]
    )
    drawn = _matplotlib(plots.plot_range_test(range_test))
    assert drawn == _plotly(dashboard.range_test_figure(range_test))
