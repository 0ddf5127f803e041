"""What optuna-dashboard shows: notes, artifacts, plotly figures and metric names.

:func:`name_metric` names a study's value ("iterations to 0.97 validation accuracy") so every
plot says what it counts; :func:`save_trial_note` says a trial's schedule and outcome in words;
:func:`attach` turns a report folder (:mod:`optuna_clr.report`) into a study's note with its
figures as artifacts; :func:`attach_comparison` does it for every study of a comparison.
optuna-dashboard is needed for notes and figures only: without it they are skipped.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any
from typing import TYPE_CHECKING
import warnings

import optuna

from optuna_clr import records


if TYPE_CHECKING:
    from optuna_clr.compare import Comparison
    from optuna_clr.objective import IterationsToTarget
    from optuna_clr.schedules import Schedule
    from optuna_clr.training import TrainResult


def metric_name(unit: str, target_accuracy: float) -> str:
    """What a study's value counts: ``"iterations to 0.97 validation accuracy"``."""
    return f"{unit} to {target_accuracy:g} validation accuracy"


def name_metric(study: optuna.Study, objective: IterationsToTarget) -> None:
    """Name ``study``'s objective value after ``objective``'s unit and target, so
    optuna-dashboard's plots say what they count instead of "Objective 0"."""
    name = metric_name(objective.unit, objective.target_accuracy)
    if study.metric_names != [name]:
        with warnings.catch_warnings():  # experimental since Optuna 3.2, and what we need
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            study.set_metric_names([name])


def schedule_in_words(
    schedule: Schedule, *, iterations_per_epoch: int, steps: int | None = None
) -> str:
    """The schedule as a person says it: ``"triangular 0.0238 to 0.0931, half cycle 264
    iterations (7.5 epochs)"``, ``"fixed 0.0576"``, and a decay over the ``steps`` trained,
    ``"step 0.0488 to 0.00279 over 1,500 iterations"``."""

    def epochs(steps: int) -> str:
        return f"{steps:,} iterations ({steps / iterations_per_epoch:.1f} epochs)"

    d = schedule.to_dict()
    if schedule.family == "fixed":
        return f"fixed {d['lr']:.3g}"
    if schedule.cycles and "base_lr" in d and "step_size" in d:
        return (
            f"{schedule.family} {d['base_lr']:.3g} to {d['max_lr']:.3g}, "
            f"half cycle {epochs(d['step_size'])}"
        )
    if schedule.cycles:
        length = schedule.next_cycle_end(0) or 1
        lrs = [schedule.lr(x) for x in range(0, length, max(1, length // 500))]
        return f"{schedule.family} {min(lrs):.3g} to {max(lrs):.3g}, cycle {epochs(length)}"
    if not steps:
        return schedule.label()
    words = (
        f"{schedule.family} {schedule.lr(0):.3g} to {schedule.lr(steps - 1):.3g} over {steps:,}"
    )
    if schedule.moves_batch_size:
        words += f", batch {schedule.batch_size(0)} to {schedule.batch_size(steps - 1)}"
    return words + " iterations"


def trial_summary(
    schedule: Schedule, result: TrainResult, *, target_accuracy: float, iterations_per_epoch: int
) -> str:
    """A trial in one line: its schedule in words, its outcome and, for a cyclical schedule,
    the cycles it completed (``"...; reached 0.97 at 110; 0.4 cycles completed"``)."""
    if result.reached:
        outcome = f"reached {target_accuracy:g} at {result.iterations_to_target:,}"
    elif result.stop_reason == "diverged":
        outcome = f"diverged at iteration {result.diverged_at:,}"
    elif result.stop_reason == "callback":
        outcome = (
            f"pruned at {result.iterations:,} iterations "
            f"(best accuracy {result.best_accuracy:.4f})"
        )
    else:
        outcome = (
            f"did not reach {target_accuracy:g} in {result.iterations:,} iterations "
            f"(best {result.best_accuracy:.4f})"
        )
    words = [
        schedule_in_words(
            schedule, iterations_per_epoch=iterations_per_epoch, steps=result.iterations
        ),
        outcome,
    ]
    cycles = schedule.cycles_completed(result.iterations)
    if cycles is not None:
        words.append(f"{cycles:.2f} cycles completed")
    return "; ".join(words)


def save_trial_note(
    trial: optuna.Trial,
    schedule: Schedule,
    result: TrainResult,
    *,
    target_accuracy: float,
    iterations_per_epoch: int,
) -> None:
    """The trial's note in optuna-dashboard: :func:`trial_summary` and its parameters."""
    try:
        import optuna_dashboard
    except ModuleNotFoundError:
        return
    line = trial_summary(
        schedule,
        result,
        target_accuracy=target_accuracy,
        iterations_per_epoch=iterations_per_epoch,
    )
    optuna_dashboard.save_note(trial, f"## Trial {trial.number}\n\n{line}\n\n`{schedule!r}`\n")


def attach(
    study: optuna.Study,
    folder: str | Path,
    artifact_store: Any,
    *,
    note_title: str | None = None,
    figures: dict[str, Any] | None = None,
) -> dict[str, str]:
    """Upload the PNGs in ``folder`` as artifacts of ``study`` and save ``report.md`` as its
    optuna-dashboard note, with the images pointing at the uploaded artifacts, and save the
    plotly ``figures`` (by id) as the study's interactive plots. Returns the artifact ids by
    file name.

    ``note_title`` is said under the report's own title (a note keeps one H1). The previous
    report's artifacts are removed, so reattaching does not pile up copies; the range-test
    plot already attached to the study is reused. Without optuna-dashboard installed, only
    the artifacts are saved."""
    from optuna.artifacts import upload_artifact

    plot = study.user_attrs.get("range_test_plot")
    for old in (records.load(study, ARTIFACTS_RECORD) or {}).values():
        if old != plot:
            records.remove_artifact(study, old, artifact_store)
    folder = Path(folder)
    ids = {}
    for png in sorted(folder.glob("*.png")):
        if png.name == "range_test.png" and plot:
            ids[png.name] = plot
        else:
            ids[png.name] = upload_artifact(
                artifact_store=artifact_store, file_path=str(png), study_or_trial=study
            )
    records.save(study, ARTIFACTS_RECORD, ids)
    try:
        import optuna_dashboard
        from optuna_dashboard.artifact import get_artifact_path
    except ModuleNotFoundError:
        return ids
    text = (folder / "report.md").read_text()
    for name, artifact_id in ids.items():
        text = text.replace(f"]({name})", f"]({get_artifact_path(study, artifact_id)})")
    if note_title:
        title, _, rest = text.partition("\n")
        text = f"{title}\n\n*{note_title}*\n{rest}"
    optuna_dashboard.save_note(study, text)
    for graph_id, figure in (figures or {}).items():
        optuna_dashboard.save_plotly_graph_object(study, figure, graph_object_id=graph_id)
    return ids


ARTIFACTS_RECORD = "report_artifacts"  # the note's figures, by file name: removed on reattaching


def attach_comparison(
    comparison: Comparison,
    storage: optuna.storages.BaseStorage,
    folder: str | Path,
    store: Any,
    *,
    range_test: Any = None,
) -> None:
    """The comparison report in ``folder`` as the note of each arm study and of study
    ``<name>-retrain`` (with its figures, and the plotly ones), and of study ``<name>`` when
    that has no trials of its own (else its summary says the comparison: see
    :func:`optuna_clr.report.write_study_report`)."""
    figures = comparison_figures(comparison, range_test)
    names = {
        s.study_name for s in optuna.get_all_study_summaries(storage, include_best_trial=False)
    }
    titles = {
        a.study_name: f"the {a.name} arm of the comparison"
        for a in comparison.arms
        if a.study_name
    }
    titles[comparison.name + "-retrain"] = "every retrained seed is a trial of this study"
    titles[comparison.name] = "the comparison of this study"
    for study_name, title in titles.items():
        if study_name not in names:
            continue
        study = optuna.load_study(study_name=study_name, storage=storage)
        if study_name == comparison.name and study.trials:
            continue
        attach(study, folder, store, note_title=title, figures=figures)


def artifact_store(folder: str | Path) -> Any:
    """Optuna's file-system artifact store in ``folder`` (created if missing)."""
    from optuna.artifacts import FileSystemArtifactStore

    Path(folder).mkdir(parents=True, exist_ok=True)
    return FileSystemArtifactStore(str(folder))


# --- plotly figures (the PNGs of optuna_clr.report stay for the Markdown report) ---


def range_test_figure(result: Any) -> Any:
    """The range test on a log LR axis, with base_lr, best_lr and max_lr marked."""
    import plotly.graph_objects as go

    metric = result.settings.get("metric", "accuracy")
    label = "validation accuracy" if metric == "accuracy" else "training loss"
    points = [
        (lr, y)
        for lr, y in zip(result.lrs, result.accuracies if metric == "accuracy" else result.losses)
        if lr > 0
    ]
    smooth = [(lr, y) for lr, y in zip(result.lrs, result.smoothed) if lr > 0]
    fig = go.Figure()
    fig.add_scatter(
        x=[p[0] for p in points],
        y=[p[1] for p in points],
        name=label,
        mode="lines",
        line={"width": 1},
    )
    fig.add_scatter(
        x=[p[0] for p in smooth],
        y=[p[1] for p in smooth],
        name="smoothed",
        mode="lines",
        line={"dash": "dash"},
    )
    for key, color in (("base_lr", "green"), ("best_lr", "orange"), ("max_lr", "red")):
        value = getattr(result, key)
        if value:
            fig.add_vline(x=value, line_color=color, annotation_text=f"{key} {value:.3g}")
    fig.update_xaxes(type="log", title="learning rate (log scale)")
    fig.update_yaxes(title=label)
    return _layout(fig, f"LR range test: {'clear' if result.clear else 'NOT CLEAR'}")


def comparison_figures(comparison: Comparison, range_test: Any = None) -> dict[str, Any]:
    """Plotly figures of a comparison, by graph id: iterations to target per configuration
    (every seed, and the geometric mean with its 95% t-interval), the per-seed validation
    curves, and the range test."""
    import plotly.graph_objects as go

    from optuna_clr.statistics import log_interval

    unit = comparison.unit
    fig = go.Figure()
    for i, arm in enumerate(comparison.arms):
        mid, low, high = log_interval(arm.values)
        fig.add_scatter(
            x=arm.values,
            y=[arm.name] * len(arm.runs),
            mode="markers",
            name=f"{arm.name}: every seed",
            marker={"symbol": ["circle" if r.reached else "x" for r in arm.runs], "size": 9},
            text=[f"seed {r.seed}" for r in arm.runs],
        )
        fig.add_scatter(
            x=[mid],
            y=[arm.name],
            mode="markers",
            name=f"{arm.name}: mean",
            marker={"symbol": "diamond", "size": 12, "color": "black"},
            error_x=None
            if low is None
            else {
                "type": "data",
                "symmetric": False,
                "array": [high - mid],
                "arrayminus": [mid - low],
            },
        )
    fig.add_vline(x=comparison.budget, line_dash="dot", annotation_text="budget")
    fig.update_xaxes(
        type="log",
        title=f"{unit} to {comparison.target_accuracy:g} validation "
        "accuracy (log; x: not reached, censored)",
    )
    out = {
        "comparison_iterations": _layout(
            fig, "iterations to target: every seed, geometric mean and 95% interval"
        )
    }

    fig = go.Figure()
    for arm in comparison.arms:
        for j, run in enumerate(arm.runs):
            fig.add_scatter(
                x=[p[0] for p in run.curve],
                y=[p[1] for p in run.curve],
                mode="lines",
                name=f"{arm.name}",
                legendgroup=arm.name,
                showlegend=j == 0,
                hovertext=f"{arm.name}, seed {run.seed}",
            )
    fig.add_hline(y=comparison.target_accuracy, line_dash="dash", annotation_text="target")
    fig.update_xaxes(type="log", title="iteration (log scale)")
    fig.update_yaxes(title="validation accuracy")
    out["comparison_curves"] = _layout(fig, "validation accuracy of every seed")
    if range_test is not None:
        out["range_test"] = range_test_figure(range_test)
    return out


def study_figures(study: optuna.Study, *, top: int = 5) -> dict[str, Any]:
    """Plotly figures of a study, by graph id: the LR and the validation accuracy of the
    ``top`` best trials over their iterations, and the range test."""
    from plotly.subplots import make_subplots

    from optuna_clr import schedules
    from optuna_clr.range_test import RangeTestResult
    from optuna_clr.tracking import accuracy_curve

    done = sorted(
        study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,)),
        key=lambda t: t.value,
    )[:top]
    out: dict[str, Any] = {}
    if done:
        fig = make_subplots(rows=2, cols=1, shared_xaxes=True, vertical_spacing=0.08)
        for t in done:
            curve = accuracy_curve(t)
            schedule = schedules.from_dict(t.user_attrs["schedule"])
            steps = [s for s, _ in curve]
            name = f"trial {t.number}: {t.user_attrs.get('schedule_label', schedule.family)}"
            fig.add_scatter(
                x=steps,
                y=[a for _, a in curve],
                mode="lines+markers",
                name=name,
                legendgroup=str(t.number),
                row=1,
                col=1,
            )
            fig.add_scatter(
                x=steps,
                y=[schedule.lr(max(s - 1, 0)) for s in steps],
                mode="lines",
                name=name,
                legendgroup=str(t.number),
                showlegend=False,
                row=2,
                col=1,
            )
        fig.update_yaxes(title="validation accuracy", row=1, col=1)
        fig.update_yaxes(title="learning rate", row=2, col=1)
        fig.update_xaxes(title="iteration", row=2, col=1)
        out["best_trials"] = _layout(fig, f"the {len(done)} best trials: accuracy and LR")
    rt = RangeTestResult.from_study(study)
    if rt is not None:
        out["range_test"] = range_test_figure(rt)
    return out


def _layout(fig: Any, title: str) -> Any:
    fig.update_layout(
        title={"text": title, "font": {"size": 14}},
        template="plotly_white",
        legend={"orientation": "h", "y": -0.25},
        margin={"t": 50, "b": 10},
    )
    return fig
