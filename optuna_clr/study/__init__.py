"""Running studies: the Optuna objective, what a trial reports, the runner, storages,
fingerprints and study files.

Above :mod:`optuna_clr.search` on the data path: :mod:`~optuna_clr.study.objective` turns
training into trial reports (:mod:`~optuna_clr.study.tracking` does it for your own loop),
:mod:`~optuna_clr.study.notes` is what a trial tells the dashboard while it runs,
:mod:`~optuna_clr.study.runner` runs trials (fused, with heartbeats and retries),
:mod:`~optuna_clr.study.storage`, :mod:`~optuna_clr.study.fingerprint` and
:mod:`~optuna_clr.study.studyfile` keep studies whole and comparable.
"""
