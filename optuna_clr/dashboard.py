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
from optuna_clr.figures import describe_comparison
from optuna_clr.figures import describe_range_test
from optuna_clr.figures import describe_study
from optuna_clr.figures import render_plotly


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


# --- plotly figures: optuna_clr.figures describes them, as the PNGs of optuna_clr.report ---

GRAPH_IDS = {  # a comparison's figure names (the report's PNGs) -> the dashboard's graph ids
    "curves": "comparison_curves",
    "schedules": "comparison_schedules",
    "iterations": "comparison_iterations",
    "range_test": "range_test",
}


def range_test_figure(result: Any) -> Any:
    """The range test on the tested LRs, with base_lr, best_lr and max_lr as legend lines
    (:func:`optuna_clr.figures.describe_range_test`, in plotly)."""
    return render_plotly(describe_range_test(result))


def comparison_figures(comparison: Comparison, range_test: Any = None) -> dict[str, Any]:
    """Plotly figures of a comparison, by graph id (:data:`GRAPH_IDS`): the per-seed
    validation curves, the schedules, iterations to target per configuration (every seed,
    and the geometric mean with its 95% t-interval) and the range test."""
    described = describe_comparison(comparison, range_test)
    return {GRAPH_IDS[name]: render_plotly(info) for name, info in described.items()}


def study_figures(study: optuna.Study, *, top: int = 5) -> dict[str, Any]:
    """Plotly figures of a study, by graph id: the validation accuracy and the LR of the
    ``top`` best trials over their iterations, and the range test."""
    return {name: render_plotly(info) for name, info in describe_study(study, top=top).items()}
