"""Which trials can be compared: a study's fingerprint, stored when it is created.

Two trials' values (iterations to target) mean the same only when they were measured the same
way: the same data and split, model, optimizer, batch size, target, unit, budget, evaluation
cadence, precision and augmentation. :func:`ensure_fingerprint` stores those settings on a new
study and refuses a run whose settings differ, naming each key that changed, before anything
trains. The schedule space's families and bounds are not part of it: they only change what is
sampled, not how a sample is measured.

Example:

    .. testcode::

        import optuna
        import optuna_clr
        from optuna_clr.study.fingerprint import ensure_fingerprint

        objective = optuna_clr.IterationsToTarget(task="digits", model="mlp", batch_size=32,
                                                  target_accuracy=0.95, max_iterations=300,
                                                  device="cpu")
        study = optuna.create_study(direction="minimize")
        ensure_fingerprint(study, objective.fingerprint())   # stored
        ensure_fingerprint(study, objective.fingerprint())   # the same: passes
"""

from __future__ import annotations

from collections.abc import Mapping
import json
from typing import Any

import optuna

from optuna_clr.training.settings import neutral


FINGERPRINT_ATTR = "fingerprint"
"""The study user attr that holds the fingerprint (a flat JSON object, shown by the dashboard)."""


class FingerprintMismatch(ValueError):
    """A run's settings differ from those a study's trials were measured with."""


class ForeignStudy(FingerprintMismatch):
    """A study of the requested name exists, but another program made it."""


def _json(value: Any) -> Any:
    """``value`` as JSON reads it back (tuples become lists), so stored and new compare equal."""
    return json.loads(json.dumps(value))


def fingerprint_changes(stored: Mapping[str, Any], new: Mapping[str, Any]) -> list[str]:
    """``key: stored -> new`` for every key whose value differs, a key missing on one side
    too; but a new key whose value is off (None, false, 0) matches a stored fingerprint that
    lacks it: that study was made before the setting existed, and ran without it."""
    new = _json(dict(new))
    missing = object()
    return [
        f"{key} {stored.get(key, 'unset')!r} -> {new.get(key, 'unset')!r}"
        for key in sorted(set(stored) | set(new))
        if stored.get(key, missing) != new.get(key, missing)
        and not (key not in stored and neutral(new[key]))
    ]


def ensure_fingerprint(
    study: optuna.Study, fingerprint: Mapping[str, Any], *, fix: str | None = None
) -> str | None:
    """Store ``fingerprint`` on ``study``, or check it against the one stored.

    Args:
        study: the study trials will be added to.
        fingerprint: the settings that make values comparable, e.g.
            :meth:`optuna_clr.IterationsToTarget.fingerprint`.
        fix: what the error suggests instead; default: another study name.

    Returns:
        None, or a one-line note when a study made before fingerprints existed is resumed
        (its fingerprint is stored from now on).

    Raises:
        FingerprintMismatch: the stored fingerprint differs; the message names each key with
            its stored and new value, and the fix.
    """
    stored = study.user_attrs.get(FINGERPRINT_ATTR)
    if stored is None:
        ensure_ours(study)
        study.set_user_attr(FINGERPRINT_ATTR, _json(dict(fingerprint)))
        if study.get_trials(deepcopy=False):
            return (
                f"study {study.study_name!r} has trials from before fingerprints were stored: "
                "they are taken as measured with today's settings, which are checked from now on"
            )
        return None
    changes = fingerprint_changes(stored, fingerprint)
    if changes:
        fix = fix or (
            f"to measure with the new settings, use another study name "
            f"(e.g. --study-name {study.study_name}-2), or put the old settings back"
        )
        raise FingerprintMismatch(
            f"study {study.study_name!r} was measured with other settings "
            f"({'; '.join(changes)}), so its trials and new ones would not be comparable: {fix}"
        )
    return None


def ensure_ours(study: optuna.Study) -> None:
    """Refuse a study that optuna_clr did not make, before anything is added to it.

    A study is optuna_clr's when it has a fingerprint, has no trials yet, or has a trial with
    a schedule (one made before fingerprints were stored). Another program's study of the same
    name would get schedule trials beside its own, and every report of it would fail.

    Args:
        study: a study loaded from a storage.

    Raises:
        ForeignStudy: naming the study and the fix.

    Example:

        .. testcode::

            import optuna
            from optuna_clr.study.fingerprint import ensure_ours
            from optuna_clr.study.fingerprint import ForeignStudy

            study = optuna.create_study(study_name="mine")
            study.optimize(lambda trial: trial.suggest_float("x", 0, 1), n_trials=1)
            try:
                ensure_ours(study)
            except ForeignStudy as error:
                print(error)  # study 'mine' in the storage was not made by optuna_clr ...
    """
    if FINGERPRINT_ATTR in study.user_attrs:
        return
    trials = study.get_trials(deepcopy=False)
    if trials and not any("schedule" in t.user_attrs for t in trials):
        raise ForeignStudy(
            f"study {study.study_name!r} in the storage was not made by optuna_clr (no "
            f"fingerprint, and none of its {len(trials)} trials has a schedule): nothing was "
            "added to it; give this study another name with --study-name (or [study] name)"
        )


def ensure_same_choices(
    study: optuna.Study, distributions: Mapping[str, optuna.distributions.BaseDistribution]
) -> None:
    """Refuse categorical parameters whose choices differ from those the study's trials used.

    Optuna fails every such trial ("CategoricalDistribution does not support dynamic value
    space"); float ranges may change, so only categoricals are checked.

    Raises:
        FingerprintMismatch: naming the parameter, its stored and new choices, and the fix.
    """
    for trial in study.get_trials(deepcopy=False):
        for name, stored in trial.distributions.items():
            new = distributions.get(name)
            if (
                isinstance(stored, optuna.distributions.CategoricalDistribution)
                and isinstance(new, optuna.distributions.CategoricalDistribution)
                and tuple(stored.choices) != tuple(new.choices)
            ):
                raise FingerprintMismatch(
                    f"study {study.study_name!r} drew {name!r} from {list(stored.choices)}, "
                    "and Optuna cannot change a categorical's choices within a study "
                    f"(now {list(new.choices)}): "
                    f"put the old choices back, or use another study name "
                    f"(e.g. --study-name {study.study_name}-2)"
                )
