"""What optuna-dashboard shows: notes, artifacts, plotly figures and metric names.

:func:`name_metric` names a study's value ("iterations to 0.97 validation accuracy") so every
plot says what it counts; :func:`save_trial_note` says a trial's schedule and outcome in words;
:func:`attach` turns a report folder (:mod:`optuna_clr.report`) into a study's note with its
figures as artifacts; :func:`attach_comparison` does it for every study of a comparison.
optuna-dashboard is needed for notes and figures only: without it they are skipped.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any
from typing import TYPE_CHECKING

import optuna


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
        study.set_metric_names([name])


def schedule_in_words(schedule: Schedule, *, iterations_per_epoch: int,
                      steps: int | None = None) -> str:
    """The schedule as a person says it: ``"triangular 0.0238 to 0.0931, half cycle 264
    iterations (7.5 epochs)"``, ``"fixed 0.0576"``, and a decay over the ``steps`` trained,
    ``"step 0.0488 to 0.00279 over 1,500 iterations"``."""
    def epochs(steps: int) -> str:
        return f"{steps:,} iterations ({steps / iterations_per_epoch:.1f} epochs)"

    d = schedule.to_dict()
    if schedule.family == "fixed":
        return f"fixed {d['lr']:.3g}"
    if schedule.cycles and "base_lr" in d and "step_size" in d:
        return (f"{schedule.family} {d['base_lr']:.3g} to {d['max_lr']:.3g}, "
                f"half cycle {epochs(d['step_size'])}")
    if schedule.cycles:
        length = schedule.next_cycle_end(0) or 1
        lrs = [schedule.lr(x) for x in range(0, length, max(1, length // 500))]
        return f"{schedule.family} {min(lrs):.3g} to {max(lrs):.3g}, cycle {epochs(length)}"
    if not steps:
        return schedule.label()
    words = f"{schedule.family} {schedule.lr(0):.3g} to {schedule.lr(steps - 1):.3g} over {steps:,}"
    if schedule.moves_batch_size:
        words += f", batch {schedule.batch_size(0)} to {schedule.batch_size(steps - 1)}"
    return words + " iterations"


def trial_summary(schedule: Schedule, result: TrainResult, *, target_accuracy: float,
                  iterations_per_epoch: int) -> str:
    """A trial in one line: its schedule in words, its outcome and, for a cyclical schedule,
    the cycles it completed (``"...; reached 0.97 at 110; 0.4 cycles completed"``)."""
    if result.reached:
        outcome = f"reached {target_accuracy:g} at {result.iterations_to_target:,}"
    elif result.stop_reason == "diverged":
        outcome = f"diverged at iteration {result.diverged_at:,}"
    elif result.stop_reason == "callback":
        outcome = (f"pruned at {result.iterations:,} iterations "
                   f"(best accuracy {result.best_accuracy:.4f})")
    else:
        outcome = (f"did not reach {target_accuracy:g} in {result.iterations:,} iterations "
                   f"(best {result.best_accuracy:.4f})")
    words = [schedule_in_words(schedule, iterations_per_epoch=iterations_per_epoch,
                               steps=result.iterations), outcome]
    cycles = schedule.cycles_completed(result.iterations)
    if cycles is not None:
        words.append(f"{cycles:.1f} cycles completed")
    return "; ".join(words)


def save_trial_note(trial: optuna.Trial, schedule: Schedule, result: TrainResult, *,
                    iterations_per_epoch: int) -> None:
    """The trial's note in optuna-dashboard: :func:`trial_summary` and its parameters."""
    try:
        import optuna_dashboard
    except ModuleNotFoundError:
        return
    target = trial.user_attrs.get("target_accuracy", 0.0)
    line = trial_summary(schedule, result, target_accuracy=target,
                         iterations_per_epoch=iterations_per_epoch)
    optuna_dashboard.save_note(trial, f"## Trial {trial.number}\n\n{line}\n\n`{schedule!r}`\n")


def attach(study: optuna.Study, folder: str | Path, artifact_store: Any, *, note_title: str | None = None) -> dict[str, str]:
    """Upload the PNGs in ``folder`` as artifacts of ``study`` and save ``report.md`` as its
    optuna-dashboard note, with the images pointing at the uploaded artifacts. Returns the
    artifact ids by file name. The previous report's artifacts are removed, so reattaching
    does not pile up copies; the range-test plot already attached to the study is reused.
    Without optuna-dashboard installed, only the artifacts are saved."""
    from optuna.artifacts import upload_artifact
    from optuna.artifacts.exceptions import ArtifactNotFound

    for old in study.user_attrs.get("report_artifacts", {}).values():
        if old == study.user_attrs.get("range_test_plot"):
            continue
        try:
            artifact_store.remove(old)
        except ArtifactNotFound:
            pass
        # what optuna-dashboard's own delete does: hide the artifact's entry in the study
        study._storage.set_study_system_attr(study._study_id, f"artifacts:{old}", json.dumps(None))
    folder = Path(folder)
    ids = {}
    for png in sorted(folder.glob("*.png")):
        if png.name == "range_test.png" and study.user_attrs.get("range_test_plot"):
            ids[png.name] = study.user_attrs["range_test_plot"]
        else:
            ids[png.name] = upload_artifact(artifact_store=artifact_store, file_path=str(png), study_or_trial=study)
    study.set_user_attr("report_artifacts", ids)
    try:
        import optuna_dashboard
        from optuna_dashboard.artifact import get_artifact_path
    except ModuleNotFoundError:
        return ids
    text = (folder / "report.md").read_text()
    for name, artifact_id in ids.items():
        text = text.replace(f"]({name})", f"]({get_artifact_path(study, artifact_id)})")
    optuna_dashboard.save_note(study, (f"# {note_title}\n\n" if note_title else "") + text)
    return ids


def attach_comparison(comparison: Comparison, storage: optuna.storages.BaseStorage, folder: str | Path,
                      store: Any) -> None:
    """The comparison report in ``folder`` as the note of each arm study (with its figures)."""
    for arm in comparison.arms:
        if arm.study_name:
            attach(optuna.load_study(study_name=arm.study_name, storage=storage), folder, store,
                   note_title=f"{arm.name} arm of the comparison")


def artifact_store(folder: str | Path) -> Any:
    """Optuna's file-system artifact store in ``folder`` (created if missing)."""
    from optuna.artifacts import FileSystemArtifactStore

    Path(folder).mkdir(parents=True, exist_ok=True)
    return FileSystemArtifactStore(str(folder))

