"""The optuna-clr command, run in-process on real (small) digits studies."""

from __future__ import annotations

from pathlib import Path

import optuna
import pytest

from conftest import tiny_study
from optuna_clr import cli
from optuna_clr.studyfile import StudyFile


REPO = Path(__file__).resolve().parents[1]
SMALL = tiny_study("tiny", n_trials=6, max_iterations=400, range_epochs=2, more="""
[compare]
n_trials = 4
seeds = 2

[baselines.smith]
family = "triangular2"
base_lr = 0.02
max_lr = 0.1
step_size = 70
""")


@pytest.fixture
def workdir(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "tiny.toml").write_text(SMALL)
    return tmp_path


def run(*argv):
    return cli.main([str(a) for a in argv])


def test_optimize_report_and_resume(workdir, capsys):
    assert run("optimize", "tiny.toml", "--no-progress") == 0
    out = capsys.readouterr().out
    assert "range test: clear" in out and "best: trial" in out and "optuna-dashboard sqlite:///optuna_clr.db" in out
    study = optuna.load_study(study_name="tiny", storage="sqlite:///optuna_clr.db")
    assert len(study.trials) == 6
    assert "range_test" in study.user_attrs and "space" in study.user_attrs
    narrowed = study.user_attrs["space"]["lr"]
    assert narrowed[0] > 0.005 and narrowed[1] < 1.0  # the range test narrowed the LR range
    artifacts = list((workdir / "optuna_clr_artifacts").iterdir())
    assert len(artifacts) >= 1 + 6  # the range-test plot and a schedule plot per trial that trained
    # running again resumes: same study, the stored range test, 6 more trials
    assert run("optimize", "tiny.toml", "--no-progress", "--n-trials", 2) == 0
    assert "using the one stored" in capsys.readouterr().out
    assert len(optuna.load_study(study_name="tiny", storage="sqlite:///optuna_clr.db").trials) == 8
    assert run("report", "tiny.toml") == 0
    report = (workdir / "reports" / "tiny" / "report.md").read_text()
    assert "| family | trials (pruned)" in report and "best_trials.png" in report
    assert (workdir / "reports" / "tiny" / "trials.csv").read_text().count("\n") == 9


def test_compare_writes_the_report_with_seeds_and_interval(workdir, capsys):
    assert run("compare", "tiny.toml", "--no-progress") == 0
    folder = workdir / "reports" / "tiny-compare"
    text = (folder / "report.md").read_text()
    assert "speed-up of" in text and "95% bootstrap interval" in text
    for name in ("fixed (trial", "cyclical (trial", "smith (baseline)"):
        assert name in text
    assert {p.name for p in folder.iterdir()} >= {"report.md", "seeds.csv", "curves.png", "schedules.png", "iterations.png", "range_test.png"}
    rows = (folder / "seeds.csv").read_text().strip().splitlines()
    assert len(rows) == 1 + 3 * 2  # header, 3 configurations x 2 seeds
    fixed = optuna.load_study(study_name="tiny-fixed", storage="sqlite:///optuna_clr.db")
    assert {t.params["family"] for t in fixed.trials} == {"fixed"} and len(fixed.trials) == 4
    assert "comparison" in fixed.user_attrs and "report_artifacts" in fixed.user_attrs
    # a second run trains nothing new: the arms are full and the seeds stored
    assert run("compare", "tiny.toml", "--no-progress") == 0
    assert "retraining trial" not in capsys.readouterr().out.split("tiny-compare")[-1]


@pytest.mark.parametrize("command", ["range-test", "optimize", "compare", "report"])
def test_every_subcommand_explains_its_options(command, capsys):
    with pytest.raises(SystemExit) as info:
        run(command, "--help")
    assert info.value.code == 0
    text = capsys.readouterr().out
    for option in ("--storage", "--device", "--data-dir", "--seed", "--artifact-dir"):
        assert option in text
    if command in ("optimize", "compare"):
        assert "--n-trials" in text and "--parallel" in text


@pytest.mark.parametrize(
    "edit, message",
    [
        (("families = [\"fixed\", \"triangular2\"]", "families = [\"fixed\", \"triangle\"]"), "[space] families[1]: unknown family 'triangle'"),
        (("lr = [0.005, 1.0]", "lr = [1.0, 0.005]"), "[space] lr: low 1.0 > high 0.005"),
        (("max_iterations = 400", "max_iterations = 0"), "[training] max_iterations: must be > 0"),
        (("eval_every = 10", "eval_every = -5"), "[training] eval_every: must be > 0"),
        (("model = \"mlp\"", "model = \"vgg\""), "[training] model: unknown model 'vgg'"),
        (("batch_size = 32", "batch_size = 32\noptimiser = \"adam\""), "[training] optimiser: unknown key (did you mean 'optimizer'?)"),
        (("epochs = 2", "epochs = 2\nsteps = 10"), "[range_test]: give exactly one of epochs or steps"),
    ],
)
def test_study_file_errors_name_the_field(workdir, capsys, edit, message):
    (workdir / "bad.toml").write_text(SMALL.replace(*edit))
    assert run("optimize", "bad.toml", "--no-progress") == 2
    err = capsys.readouterr().err
    assert message in err and "bad.toml" in err


def test_shipped_study_files_are_valid():
    files = sorted((REPO / "studies").glob("*.toml"))
    assert {f.stem for f in files} >= {"digits", "mnist", "cifar10_smith2017", "cifar10_batch_size", "cifar10_optimizers"}
    for f in files:
        StudyFile.load(f)
