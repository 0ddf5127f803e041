"""The errors optuna_clr raises, in one place to catch them from.

Each is defined where it is raised and re-exported here, as ``optuna.exceptions`` does.

Example:

    .. testcode::

        import optuna_clr
        from optuna_clr.exceptions import StudyFileError
        from optuna_clr.studyfile import StudyFile

        try:
            StudyFile.parse("[study]\\nname = 'x'\\n", source="x.toml")
        except StudyFileError as error:
            print(error)   # x.toml: [training] target_accuracy: ...
"""

from __future__ import annotations

from optuna_clr.experiment import OutOfMemory
from optuna_clr.fingerprint import FingerprintMismatch
from optuna_clr.fingerprint import ForeignStudy
from optuna_clr.objective import FinishedElsewhere
from optuna_clr.storage import StorageError
from optuna_clr.studyfile import StudyFileError
from optuna_clr.tasks import DataError
from optuna_clr.user_code import UserCodeError


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
