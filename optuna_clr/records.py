"""Study-level records (the range test, the study file, the comparison), stored whole.

optuna-dashboard shows a user attr cut at 1,024 characters, mid-number; a record is JSON of
any length. :func:`save` keeps it in the study's system attrs, which optuna-dashboard does not
list and any worker reads back from the storage alone (an artifact's content needs the
artifact store, which a worker on another machine may not have), and, given an artifact
store, uploads it as ``<key>.json``, an artifact the dashboard lists and downloads whole (the
previous upload is removed). :func:`load` reads it back, and also finds a record that an
older version stored as a user attr.
"""

from __future__ import annotations

import json
import os
import tempfile
from typing import Any

import optuna


PREFIX = "optuna_clr:"


def save(study: optuna.Study, key: str, value: Any, *, artifact_store: Any = None) -> str | None:
    """Store ``value`` (JSON-ready) as record ``key`` of ``study``; with an Optuna artifact
    store, also as the artifact ``<key>.json``. Returns that artifact's id, or None."""
    storage, study_id = study._storage, study._study_id
    text = json.dumps(value)
    storage.set_study_system_attr(study_id, PREFIX + key, text)
    if key in study.user_attrs:  # an older version's copy, cut in the dashboard: drop it
        storage.set_study_user_attr(study_id, key, None)
    if artifact_store is None:
        return None
    from optuna.artifacts import upload_artifact

    old = storage.get_study_system_attrs(study_id).get(f"{PREFIX}{key}:artifact")
    if old:
        remove_artifact(study, old, artifact_store)
    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, f"{key}.json")
        with open(path, "w") as f:
            f.write(text)
        artifact_id = upload_artifact(
            artifact_store=artifact_store,
            file_path=path,
            study_or_trial=study,
            mimetype="application/json",
        )
    storage.set_study_system_attr(study_id, f"{PREFIX}{key}:artifact", artifact_id)
    return artifact_id


SCHEDULE = PREFIX + "schedule"  # a trial's exact schedule (Schedule.to_dict()), a system attr


def save_schedule(trial: optuna.Trial, schedule: dict[str, Any]) -> None:
    """Keep ``trial``'s exact schedule (``Schedule.to_dict()``) in its system attrs, which every
    worker reads and optuna-dashboard does not list: a dict of 16-digit floats as a user attr
    widens the trial's page past the window. The user attr ``schedule`` is its short form."""
    trial.storage.set_trial_system_attr(trial._trial_id, SCHEDULE, schedule)


def trial_schedule(trial: optuna.trial.FrozenTrial) -> dict[str, Any] | None:
    """The exact schedule :func:`save_schedule` kept for ``trial`` (or an older version's
    ``schedule`` user attr, a dict); None for a trial without one."""
    found = trial.system_attrs.get(SCHEDULE)
    if found is None and isinstance(trial.user_attrs.get("schedule"), dict):
        found = trial.user_attrs["schedule"]
    return found


def load(study: optuna.Study, key: str) -> Any | None:
    """Record ``key`` of ``study``, or None if it has none."""
    text = study._storage.get_study_system_attrs(study._study_id).get(PREFIX + key)
    if text is not None:
        return json.loads(text)
    return study.user_attrs.get(key)


def remove_artifact(study: optuna.Study, artifact_id: str, artifact_store: Any) -> None:
    """Remove an artifact of ``study`` from the store and from the dashboard's list (what
    optuna-dashboard's own delete does: its entry in the study's system attrs becomes null)."""
    from optuna.artifacts.exceptions import ArtifactNotFound

    try:
        artifact_store.remove(artifact_id)
    except ArtifactNotFound:
        pass
    study._storage.set_study_system_attr(
        study._study_id, f"artifacts:{artifact_id}", json.dumps(None)
    )
