r"""The errors optuna_clr raises, in one place to catch them from.

Each is defined where it is raised and re-exported here, as ``optuna.exceptions`` does.

Example:

    .. testcode::

        import optuna_clr
        from optuna_clr.exceptions import StudyFileError
        from optuna_clr.study.studyfile import StudyFile

        try:
            StudyFile.parse("[study]\nname = 'x'\n", source="x.toml")
        except StudyFileError as error:
            print(error)   # x.toml: [training] target_accuracy: ...
"""

from __future__ import annotations

from optuna_clr.study.fingerprint import FingerprintMismatch
from optuna_clr.study.fingerprint import ForeignStudy
from optuna_clr.study.objective import FinishedElsewhere
from optuna_clr.study.storage import StorageError
from optuna_clr.study.studyfile import StudyFileError
from optuna_clr.training.experiment import OutOfMemory
from optuna_clr.training.tasks import DataError
from optuna_clr.training.user_code import UserCodeError


__all__ = [
    "DataError",
    "FingerprintMismatch",
    "FinishedElsewhere",
    "ForeignStudy",
    "OutOfMemory",
    "StorageError",
    "StudyFileError",
    "UserCodeError",
]
