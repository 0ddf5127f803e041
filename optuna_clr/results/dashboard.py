"""What optuna-dashboard shows of finished studies: notes, artifacts and plotly figures.

What a trial says while it runs (its note, the study's metric name) is in
:mod:`optuna_clr.study.notes`; :func:`attach` turns a report folder
(:mod:`optuna_clr.results.report`) into a study's note with its figures as artifacts;
:func:`attach_comparison` does it for every study of a comparison. optuna-dashboard is needed for
notes and figures only: without it they are skipped.
"""

from __future__ import annotations

import os
from pathlib import Path
import tempfile
from typing import Any
from typing import TYPE_CHECKING

import optuna

from optuna_clr import records
from optuna_clr.results import report
from optuna_clr.results.figures import describe_comparison
from optuna_clr.results.figures import describe_range_test
from optuna_clr.results.figures import describe_study
from optuna_clr.results.figures import render_matplotlib
from optuna_clr.results.figures import render_plotly
from optuna_clr.search.range_test import RangeTestResult
from optuna_clr.search.range_test import STUDY_ATTR
from optuna_clr.study.notes import optuna_dashboard


if TYPE_CHECKING:
    from optuna_clr.results.compare import Comparison


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

    plot = records.load(study, RANGE_TEST_PLOT)
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
    dashboard = optuna_dashboard()
    if dashboard is None:
        return ids
    from optuna_dashboard.artifact import get_artifact_path

    text = (folder / "report.md").read_text()
    for name, artifact_id in ids.items():
        text = text.replace(f"]({name})", f"]({get_artifact_path(study, artifact_id)})")
    if note_title:
        title, _, rest = text.partition("\n")
        text = f"{title}\n\n*{note_title}*\n{rest}"
    dashboard.save_note(study, text)
    for graph_id, figure in (figures or {}).items():
        dashboard.save_plotly_graph_object(study, figure, graph_object_id=graph_id)
    return ids


ARTIFACTS_RECORD = "report_artifacts"  # the note's figures, by file name: removed on reattaching
RANGE_TEST_PLOT = "range_test_plot"  # the range test's plot, an artifact id


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
    :func:`optuna_clr.results.report.write_study_report`)."""
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
        retrain = study_name == comparison.name + "-retrain"
        for key, value in report.study_attrs(comparison, retrain=retrain).items():
            study.set_user_attr(key, value)
        if study_name == comparison.name and study.trials:
            continue
        attach(study, folder, store, note_title=title, figures=figures)


def attach_range_test(study: optuna.Study, result: RangeTestResult, artifact_store: Any) -> str:
    """Store a range test in ``study`` and its plot as a study artifact optuna-dashboard shows.

    The record is what :meth:`RangeTestResult.from_study` reads back; the plot's artifact id is
    kept as the study's record ``range_test_plot`` (not a user attr: the dashboard would list
    a bare id), and :func:`attach` reuses it.

    Args:
        study: the study whose space and prior the test sets.
        result: the range test (:func:`optuna_clr.lr_range_test`).
        artifact_store: an Optuna artifact store (:func:`artifact_store`).

    Returns:
        The plot's artifact id.
    """
    from optuna.artifacts import upload_artifact

    records.save(study, STUDY_ATTR, result.to_dict(), artifact_store=artifact_store)
    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, "range_test.png")
        render_matplotlib(describe_range_test(result)).savefig(path, dpi=90)
        artifact_id = upload_artifact(
            artifact_store=artifact_store, file_path=path, study_or_trial=study
        )
    records.save(study, RANGE_TEST_PLOT, artifact_id)
    return artifact_id


def artifact_store(folder: str | Path) -> Any:
    """Optuna's file-system artifact store in ``folder`` (created if missing)."""
    from optuna.artifacts import FileSystemArtifactStore

    Path(folder).mkdir(parents=True, exist_ok=True)
    return FileSystemArtifactStore(str(folder))


# --- plotly figures: optuna_clr.results.figures describes them, as the PNGs of
# optuna_clr.results.report ---

GRAPH_IDS = {  # a comparison's figure names (the report's PNGs) -> the dashboard's graph ids
    "curves": "comparison_curves",
    "schedules": "comparison_schedules",
    "iterations": "comparison_iterations",
    "speedup": "comparison_speedup",
    "range_test": "range_test",
}


def range_test_figure(result: Any) -> Any:
    """The range test on the tested LRs, with base_lr, best_lr and max_lr as legend lines
    (:func:`optuna_clr.results.figures.describe_range_test`, in plotly)."""
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
