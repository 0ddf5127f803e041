"""Study files that name the user's own model and data: import paths and ImageFolder."""

from __future__ import annotations

from pathlib import Path
import uuid

from conftest import run_cli as run
from conftest import tiny_study
import numpy as np
import optuna
import pytest


MODULE = """
import torch
from sklearn.datasets import load_digits


def build(image_shape, num_classes):
    c, h, w = image_shape
    return torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(c * h * w, 64), torch.nn.ReLU(),
                               torch.nn.Linear(64, num_classes))


def wrong(image_shape):
    return build(image_shape, 10)


def load():
    bunch = load_digits()
    x = torch.tensor(bunch.images, dtype=torch.float32)[:, None] / 16
    y = torch.tensor(bunch.target)
    return x[:1400], y[:1400], x[1400:], y[1400:]


NOT_CALLABLE = 3
"""


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, str]:
    """A working folder with a module of the user's (a fresh name: modules are cached)."""
    name = f"user_{uuid.uuid4().hex[:8]}"
    (tmp_path / f"{name}.py").write_text(MODULE)
    monkeypatch.chdir(tmp_path)
    return tmp_path, name


def study_file(folder: Path, task: str, model: str, *, more: str = "", n_trials: int = 2) -> Path:
    text = (
        tiny_study("own", n_trials=n_trials, max_iterations=200)
        .replace('name = "digits"', f'name = "{task}"', 1)
        .replace('model = "mlp"', f'model = "{model}"')
        + more
    )
    (folder / "own.toml").write_text(text)
    return folder / "own.toml"


def trials() -> list[optuna.trial.FrozenTrial]:
    return optuna.load_study(study_name="own", storage="sqlite:///optuna_clr.db").trials


@pytest.mark.parametrize(
    "engine", [None, pytest.param("processes", marks=pytest.mark.processes), "vmap"]
)
def test_a_study_file_trains_the_users_model_on_the_users_data(workdir, capsys, engine):
    folder, name = workdir
    study_file(folder, f"{name}:load", f"{name}:build")
    parallel = [] if engine is None else ["--parallel", "2", "--engine", engine]
    assert run("optimize", "own.toml", "--no-progress", *parallel) == 0
    assert "range test: clear" in capsys.readouterr().out
    done = [t for t in trials() if t.state.is_finished()]
    assert len(done) == 2 and all(t.state != optuna.trial.TrialState.FAIL for t in done)


def test_compare_with_the_users_model_and_data(workdir, capsys):
    folder, name = workdir
    study_file(
        folder, f"{name}:load", f"{name}:build", more="\n[compare]\nn_trials = 2\nseeds = 1\n"
    )
    assert run("compare", "own.toml", "--no-progress") == 0
    assert (folder / "reports" / "own-compare" / "report.md").exists()


@pytest.mark.parametrize(
    ("task", "model", "expected"),
    [
        (
            "{name}:load",
            "no_such_module_here:build",
            "cannot import no_such_module_here (ModuleNotFoundError",
        ),
        ("{name}:load", "{name}:missing", "has no 'missing'"),
        (
            "{name}:load",
            "{name}:wrong",
            "wrong(image_shape) cannot be called as wrong(image_shape, num_classes)",
        ),
        ("{name}:load", "{name}:NOT_CALLABLE", "NOT_CALLABLE is a int, not a factory"),
        ("{name}:build", "mlp", "build(image_shape, num_classes) cannot be called as build()"),
    ],
)
def test_user_code_that_cannot_be_used_is_one_line_before_training(
    workdir, capsys, task, model, expected
):
    folder, name = workdir
    study_file(folder, task.format(name=name), model.format(name=name))
    assert run("optimize", "own.toml", "--no-progress") == 2
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert (
        len(lines) == 1
        and expected in lines[0]
        and lines[0].startswith("optuna-clr: error: own.toml:")
    )
    assert "range test" not in captured.out


def write_images(root: Path, sizes: dict[str, int]) -> None:
    """digits as PNG files in ImageFolder's layout: train/<class>/ and val/<class>/."""
    from PIL import Image
    from sklearn.datasets import load_digits

    bunch = load_digits()
    for i, (image, label) in enumerate(zip(bunch.images[:600], bunch.target[:600])):
        split = "train" if i < 480 else "val"
        side = sizes.get(split, 8)
        folder = root / split / f"digit{label}"
        folder.mkdir(parents=True, exist_ok=True)
        pixels = Image.fromarray((image * 16).clip(0, 255).astype(np.uint8)).resize((side, side))
        pixels.save(folder / f"{i}.png")


def test_an_image_folder_is_read_once_into_tensors(workdir, capsys):
    folder, _ = workdir
    write_images(folder / "images", {})
    study_file(folder, "imagefolder", "mlp", more="").write_text(
        (folder / "own.toml")
        .read_text()
        .replace('name = "imagefolder"', f'name = "imagefolder"\ndata_dir = "{folder / "images"}"')
    )
    assert run("optimize", "own.toml", "--no-progress", "--n-trials", 1) == 0
    assert len(trials()) == 1
    from optuna_clr.training import tasks

    task = tasks.load("imagefolder", root=folder / "images")
    assert task.image_shape == (3, 8, 8) and len(task.test) == 120 and task.num_classes == 10
    assert len(task.train) + len(task.valid) == 480


def test_images_of_mixed_sizes_need_image_size(tmp_path):
    from optuna_clr.training import tasks

    write_images(tmp_path, {"val": 12})
    with pytest.raises(tasks.DataError, match="set \\[task\\] image_size to resize them all"):
        tasks.load("imagefolder", root=tmp_path)
    task = tasks.load("imagefolder", root=tmp_path, image_size=10)
    assert task.image_shape == (3, 10, 10) and task.test.x.shape[1:] == (3, 10, 10)
