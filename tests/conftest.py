"""Shared fixtures. Tests train for real on small real data; nothing is mocked."""

from __future__ import annotations

import os
from pathlib import Path

import optuna
import pytest
import torch


optuna.logging.set_verbosity(optuna.logging.WARNING)
torch.set_num_threads(1)  # tiny models: one thread is fastest, and steady on a busy machine


def shared_data() -> Path | None:
    """The offline CIFAR-10 / MNIST folder (../shared/data beside the checkout), if present."""
    for candidate in (os.environ.get("OPTUNA_CLR_TEST_DATA"), Path(__file__).resolve().parents[2] / "shared" / "data"):
        if candidate and Path(candidate, "mnist").is_dir():
            return Path(candidate)
    return None


@pytest.fixture
def data_dir() -> Path:
    folder = shared_data()
    if folder is None:
        pytest.skip("no offline data folder: ../shared/data (or $OPTUNA_CLR_TEST_DATA) holds CIFAR-10 and MNIST")
    return folder


@pytest.fixture(autouse=True)
def _writable_cache(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    # MNIST's decompressed files go to a cache; keep it inside the test session.
    monkeypatch.setenv("OPTUNA_CLR_CACHE", str(tmp_path_factory.getbasetemp() / "cache"))


@pytest.fixture(scope="session")
def digits():
    import optuna_clr

    return optuna_clr.tasks.load("digits", seed=0)
