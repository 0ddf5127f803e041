"""What optuna-dashboard shows: notes, artifacts, plotly figures and metric names.

:func:`attach` turns a report folder (:mod:`optuna_clr.report`) into a study's note with its
figures as artifacts; :func:`attach_comparison` does it for every study of a comparison.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any
from typing import TYPE_CHECKING

import optuna


if TYPE_CHECKING:
    from optuna_clr.compare import Comparison


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

