"""Shared fixtures. Tests train for real on small real data; nothing is mocked."""

from __future__ import annotations

from collections.abc import Iterator
import os
from pathlib import Path
import shutil

import optuna
import pytest
import torch


optuna.logging.set_verbosity(optuna.logging.WARNING)
torch.set_num_threads(1)  # tiny models: one thread is fastest, and steady on a busy machine


def shared_data() -> Path | None:
    """The offline CIFAR-10 / MNIST folder (../shared/data beside the checkout), if present."""
    for candidate in (
        os.environ.get("OPTUNA_CLR_TEST_DATA"),
        Path(__file__).resolve().parents[2] / "shared" / "data",
    ):
        if candidate and Path(candidate, "mnist").is_dir():
            return Path(candidate)
    return None


def unprivileged(command: list[str]) -> list[str]:
    """``command`` as a user whose file permissions hold: as root, without the capabilities that
    override them (CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH), so chmod means what it says."""
    if os.geteuid() != 0:
        return command
    if shutil.which("setpriv") is None:
        pytest.skip("running as root without setpriv (util-linux): permissions cannot be tested")
    return ["setpriv", "--bounding-set=-dac_override,-dac_read_search", *command]


@pytest.fixture
def data_dir() -> Path:
    folder = shared_data()
    if folder is None:
        pytest.skip(
            "no offline data folder: ../shared/data (or $OPTUNA_CLR_TEST_DATA) "
            "holds CIFAR-10 and MNIST"
        )
    return folder


@pytest.fixture(autouse=True)
def _one_thread() -> Iterator[None]:
    # Tiny models gain nothing from two threads, and on a busy 2-core machine two threads
    # spin-waiting on each other run several times slower; a command run in-process may change it.
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(autouse=True)
def _writable_cache(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    # MNIST's decompressed files go to a cache; keep it inside the test session.
    monkeypatch.setenv("OPTUNA_CLR_CACHE", str(tmp_path_factory.getbasetemp() / "cache"))


@pytest.fixture(scope="session")
def digits():
    import optuna_clr

    return optuna_clr.training.tasks.load("digits", seed=0)


TINY_STUDY = """
[study]
name = "{name}"
n_trials = {n_trials}
seed = 0

[task]
name = "digits"

[training]
model = "mlp"
optimizer = "sgd"
batch_size = 32
target_accuracy = {target}
max_iterations = {max_iterations}
eval_every = {eval_every}
device = "cpu"

[space]
families = ["fixed", "triangular2"]
lr = [0.005, 1.0]
step_size_epochs = [1.0, 4.0]

[range_test]
min_lr = 0.0
max_lr = 1.0
epochs = {range_epochs}
"""


def tiny_study(
    name: str,
    *,
    n_trials: int,
    target: float = 0.95,
    max_iterations: int = 300,
    eval_every: int = 10,
    range_epochs: int = 1,
    more: str = "",
) -> str:
    """A study file's text: digits, the mlp on the CPU, fixed vs triangular2, and a short range
    test; ``more`` appends sections (``[compare]``, ``[baselines.*]``). Tests edit it further."""
    return (
        TINY_STUDY.format(
            name=name,
            n_trials=n_trials,
            target=target,
            max_iterations=max_iterations,
            eval_every=eval_every,
            range_epochs=range_epochs,
        )
        + more
    )


def range_test_result(
    base: float = 0.001,
    best: float = 0.003,
    top: float = 0.006,
    *,
    tested: tuple[float, float] | None = (0.0, 0.02),
    clear: bool = True,
    message: str = "",
):
    """A range test's outcome with these suggestions, over LRs ``tested`` (no curve): what the
    space and the prior read from one, without running it."""
    from optuna_clr.search.range_test import RangeTestResult

    return RangeTestResult(
        lrs=[],
        accuracies=[],
        losses=[],
        smoothed=[],
        base_lr=base,
        best_lr=best,
        max_lr=top,
        clear=clear,
        message=message,
        snr=10.0,
        diverged_at_lr=None,
        settings={} if tested is None else {"min_lr": tested[0], "max_lr": tested[1]},
    )


def run_cli(*argv: object) -> int:
    """Run ``optuna-clr`` in this process with ``argv`` (numbers and paths as text)."""
    from optuna_clr import cli

    return cli.main([str(a) for a in argv])
