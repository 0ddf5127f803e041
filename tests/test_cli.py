"""The optuna-clr command, run in-process on real (small) digits studies."""

from __future__ import annotations

import csv
import inspect
from pathlib import Path
import re

from conftest import run_cli as run
from conftest import tiny_study
import optuna
import pytest
import torch

from optuna_clr import records
from optuna_clr.results import compare
from optuna_clr.results import report
from optuna_clr.results import statistics
from optuna_clr.search.range_test import lr_range_test
from optuna_clr.search.range_test import RangeTestResult
from optuna_clr.search.space import ScheduleSpace
from optuna_clr.study.storage import open_storage
from optuna_clr.study.studyfile import StudyFile
from optuna_clr.training import models


REPO = Path(__file__).resolve().parents[1]
SMALL = tiny_study(
    "tiny",
    n_trials=6,
    max_iterations=400,
    range_epochs=2,
    more="""
[compare]
n_trials = 4
seeds = 2

[baselines.smith]
family = "triangular2"
base_lr = 0.02
max_lr = 0.1
step_size = 70
""",
)


@pytest.fixture
def workdir(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "tiny.toml").write_text(SMALL)
    return tmp_path


def test_optimize_report_and_resume(workdir, capsys):
    assert run("optimize", "tiny.toml", "--no-progress") == 0
    out = capsys.readouterr().out
    assert (
        "range test: clear" in out
        and "best: trial" in out
        and "optuna-dashboard sqlite:///optuna_clr.db" in out
    )
    study = optuna.load_study(study_name="tiny", storage="sqlite:///optuna_clr.db")
    assert len(study.trials) == 6
    assert RangeTestResult.from_study(study) is not None and "space" in study.user_attrs
    assert "range_test" not in study.user_attrs  # a record, whole: no user attr cut at 1,024
    # with the prior sampler the space stays the file's; the range test steers the prior
    assert study.user_attrs["space"]["lr"] == [0.005, 1.0]
    origins = {t.user_attrs.get("sampler") for t in study.trials}
    assert "Smith's recipe: triangular2" in origins, origins
    artifacts = list((workdir / "optuna_clr_artifacts").iterdir())
    assert (
        len(artifacts) >= 1 + 6
    )  # the range-test plot and a schedule plot per trial that trained
    # running again resumes: same study, the stored range test, 2 more trials
    assert run("optimize", "tiny.toml", "--no-progress", "--n-trials", 2) == 0
    assert "using the one stored" in capsys.readouterr().out
    assert len(optuna.load_study(study_name="tiny", storage="sqlite:///optuna_clr.db").trials) == 8
    assert run("report", "tiny.toml") == 0
    report = (workdir / "reports" / "tiny" / "report.md").read_text()
    assert "| family | trials (pruned)" in report and "best_trials.png" in report
    assert (workdir / "reports" / "tiny" / "trials.csv").read_text().count("\n") == 9


def test_a_stored_range_test_is_reused_only_with_the_same_settings(workdir, capsys):
    assert run("optimize", "tiny.toml", "--no-progress", "--n-trials", 0) == 0
    assert "range test: clear" in capsys.readouterr().out
    # every setting of the test's own that changes its outcome reruns it
    for old, new, change in [
        ("epochs = 2", "epochs = 3", "epochs 2 -> 3"),
        ("min_lr = 0.0", "min_lr = 0.001", "min_lr 0.0 -> 0.001"),
    ]:
        text = (workdir / "tiny.toml").read_text()
        (workdir / "tiny.toml").write_text(text.replace(old, new, 1))
        assert run("optimize", "tiny.toml", "--no-progress", "--n-trials", 0) == 0
        out = capsys.readouterr().out
        assert "does not match the file" in out and change in out and "range test: clear" in out, (
            out
        )
    # settings the trials share with it change the study's fingerprint: refused before the test
    for old, new in [
        ('optimizer = "sgd"', 'optimizer = "sgd"\nnesterov = true'),
        ('device = "cpu"', 'device = "cpu"\naugment = true'),
        ('name = "digits"', 'name = "digits"\nvalidation = 0.25'),
    ]:
        text = (workdir / "tiny.toml").read_text()
        (workdir / "tiny.toml").write_text(text.replace(old, new, 1))
        assert run("optimize", "tiny.toml", "--no-progress", "--n-trials", 0) == 2
        assert "was measured with other settings" in capsys.readouterr().err
        (workdir / "tiny.toml").write_text(text)
    # unchanged, or asked with fewer seeds than stored: reused
    assert run("range-test", "tiny.toml", "--repeats", 2) == 0
    capsys.readouterr()
    assert run("optimize", "tiny.toml", "--no-progress", "--n-trials", 0) == 0
    out = capsys.readouterr().out
    assert "using the one stored" in out and "does not match" not in out


def test_compare_writes_the_report_with_seeds_and_interval(workdir, capsys):
    assert run("compare", "tiny.toml", "--no-progress") == 0
    out = capsys.readouterr().out
    assert re.search(r"baseline smith: retraining, \w+\(.*\), with seeds \[1, 2\]", out), out
    assert re.search(r"^  seed 2: (reached [\d.]+ at|did not reach [\d.]+ within)", out, re.M), out
    folder = workdir / "reports" / "tiny-compare"
    text = (folder / "report.md").read_text()
    # the terminal gets a summary, not the report's Markdown: verdict, the speed-up in words,
    # one row per configuration, the paths
    summary = out[out.index("\nVerdict: ") :]
    assert "**" not in summary and "|" not in summary and "`" not in summary
    assert max(map(len, summary.splitlines())) <= 119
    assert re.search(r"At the estimate the cyclical schedule was (faster|slower)", summary)
    assert re.search(r"^smith +\w+\(", summary, re.M), summary
    assert (
        "report: reports/tiny-compare/report.md" in summary
        and "\nsee it: optuna-dashboard" in summary
    )
    assert "speed-up of" in text and "95% interval" in text and "t-interval on the log" in text
    assert text.count("\n# ") + text.startswith("# ") == 1  # one H1
    # the verdict is the one the retrained seeds' paired interval gives
    with open(folder / "seeds.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    rows.sort(key=lambda r: int(r["seed"]))
    fixed, cyclical = (
        [float(r["iterations_to_target_or_censored"]) for r in rows if r["configuration"] == arm]
        for arm in ("fixed", "cyclical")
    )
    assert len(fixed) == len(cyclical) == 2
    one_look = statistics.SequentialDesign(first=2, max_seeds=2).decide(fixed, cyclical)
    assert (one_look["low"], one_look["high"]) == pytest.approx(
        (
            statistics.paired_ratio(fixed, cyclical)["low"],
            statistics.paired_ratio(fixed, cyclical)["high"],
        )
    )  # one round: the plain t-interval
    expected = f"**Verdict: {statistics.verdict(one_look)}.**"
    assert expected in text.splitlines()
    assert "## Compute" in text and "iterations trained (tuning)" in text
    for name in ("fixed (trial", "cyclical (trial", "smith (baseline)"):
        assert name in text
    # retrained on seeds 1 and 2: not on seed 0, whose validation split picked the winners
    assert "tuned with seed 0, which is left out" in text
    assert {p.name for p in folder.iterdir()} >= {
        "report.md",
        "seeds.csv",
        "curves.png",
        "schedules.png",
        "iterations.png",
        "speedup.png",
        "range_test.png",
    }
    seeds_csv = (folder / "seeds.csv").read_text()
    rows = [line.split(",") for line in seeds_csv.strip().splitlines()[1:]]
    assert len(rows) == 3 * 2 and {r[2] for r in rows} == {
        "1",
        "2",
    }  # 3 configurations x seeds 1, 2
    fixed = optuna.load_study(study_name="tiny-fixed", storage="sqlite:///optuna_clr.db")
    assert {t.params["family"] for t in fixed.trials} == {"fixed"} and len(fixed.trials) == 4
    assert records.load(fixed, "comparison") and records.load(fixed, "report_artifacts")
    assert not {"comparison", "retrained", "baseline_runs"} & set(fixed.user_attrs)
    retrained = optuna.load_study(study_name="tiny-retrain", storage="sqlite:///optuna_clr.db")
    runs = sorted((t.user_attrs["configuration"], t.user_attrs["seed"]) for t in retrained.trials)
    assert runs == [(c, s) for c in ("cyclical", "fixed", "smith") for s in (1, 2)]
    assert {t.user_attrs["arm"] for t in retrained.trials} == {"fixed", "cyclical", "baseline"}
    # a second run trains nothing: the arms are full, and the winners' and the baseline's seeds
    # stored
    assert run("compare", "tiny.toml", "--no-progress") == 0
    out = capsys.readouterr().out
    assert "trials to run" not in out and "retraining" not in out, out
    assert (folder / "seeds.csv").read_text() == seeds_csv
    # --n-trials is the arms' budget, over the file's [compare] n_trials = 4
    assert run("compare", "tiny.toml", "--no-progress", "--n-trials", 5) == 0
    out = capsys.readouterr().out
    assert (
        "fixed arm: 1 trials to run (4 done)" in out
        and "cyclical arm: 1 trials to run (4 done)" in out
    )
    assert "baseline smith: retraining" not in out
    assert (
        len(optuna.load_study(study_name="tiny-fixed", storage="sqlite:///optuna_clr.db").trials)
        == 5
    )


def test_per_family_compare_tunes_one_arm_per_family_with_the_same_budget(tmp_path, monkeypatch):
    # which family wins, decays included: one study per family, each with [compare] n_trials
    monkeypatch.chdir(tmp_path)
    text = tiny_study(
        "fam",
        n_trials=6,
        max_iterations=400,
        range_epochs=2,
        more="""
[compare]
n_trials = 3
seeds = 2
families = ["step", "triangular2"]
per_family = true
""",
    )
    (tmp_path / "fam.toml").write_text(text)
    assert run("compare", "fam.toml", "--no-progress") == 0
    storage = "sqlite:///optuna_clr.db"
    for arm, families in (
        ("fixed", {"fixed"}),
        ("step", {"step"}),
        ("triangular2", {"triangular2"}),
    ):
        study = optuna.load_study(study_name=f"fam-{arm}", storage=storage)
        assert len(study.trials) == 3 and {t.params["family"] for t in study.trials} == families
    retrained = optuna.load_study(study_name="fam-retrain", storage=storage)
    assert sorted({t.user_attrs["configuration"] for t in retrained.trials}) == [
        "fixed",
        "step",
        "triangular2",
    ]
    text = (tmp_path / "reports" / "fam-compare" / "report.md").read_text()
    assert "Each family tuned with 3 trials" in text and "**Verdict" not in text
    for arm in ("step", "triangular2"):
        assert f"- **{arm}**: " in text and f"{arm} (trial" in text


def test_winners_are_retrained_on_the_seeds_after_the_tuning_seed():
    assert compare.retrain_seeds(0, 3) == [1, 2, 3] and compare.retrain_seeds(7, 2) == [8, 9]


def test_baselines_only_compare_stores_its_seeds_and_shows_every_configuration(workdir, capsys):
    # the CLR paper's optimizer table has 10 baselines; a figure must show them all
    lrs = [0.02, 0.03, 0.04, 0.05, 0.06, 0.07, 0.08, 0.1, 0.12, 0.15, 0.2]
    baselines = "".join(
        f'\n[baselines.fixed_{i}]\nfamily = "fixed"\nlr = {lr}\n' for i, lr in enumerate(lrs)
    )
    text = tiny_study(
        "many",
        n_trials=0,
        max_iterations=200,
        more=f"[compare]\nn_trials = 0\nseeds = 1\n{baselines}",
    )
    (workdir / "many.toml").write_text(text)
    assert run("compare", "many.toml", "--no-progress") == 0
    assert capsys.readouterr().out.count("), with seeds [1]") == len(lrs)
    assert (
        run("compare", "many.toml", "--no-progress") == 0
    )  # resumes: every baseline's seed is stored
    assert "retraining" not in capsys.readouterr().out
    comparison, _ = compare.stored_comparison(open_storage("sqlite:///optuna_clr.db"), "many")
    assert [a.name for a in comparison.arms] == [f"fixed_{i}" for i in range(len(lrs))]
    figures = report.figures(comparison)
    for name in ("curves", "schedules"):
        lines = [
            line
            for line in figures[name].axes[0].get_lines()
            if not line.get_label().startswith(("_", "target"))
        ]
        assert len(lines) == len(lrs), name
        assert len({line.get_color() for line in lines}) == len(lrs), name  # each its own colour
    assert len(figures["iterations"].axes[0].get_yticklabels()) == len(lrs)
    # report rebuilds it from the storage, though no arm study exists
    assert run("report", "many.toml") == 0
    assert (
        "fixed_10 (baseline)" in (workdir / "reports" / "many-compare" / "report.md").read_text()
    )


def test_a_best_trial_that_missed_the_target_is_not_reported_as_reaching_it(workdir, capsys):
    text = (
        (workdir / "tiny.toml")
        .read_text()
        .replace("target_accuracy = 0.95", "target_accuracy = 1.0")
    )
    (workdir / "tiny.toml").write_text(text.replace("max_iterations = 400", "max_iterations = 40"))
    assert run("optimize", "tiny.toml", "--no-progress", "--n-trials", 2) == 0
    out = capsys.readouterr().out
    best = next(line for line in out.splitlines() if line.startswith("best: "))
    assert "did not reach 1.0 validation accuracy" in best and "iterations to" not in best, best
    assert "(not reached)" in out


TRAINING_OPTIONS = ("--device", "--data-dir", "--seed")


def test_an_unclear_range_test_leaves_the_space_wide_and_the_sampler_tpe(workdir, capsys):
    # up to LR 0.003 digits is still learning faster at the end: max_lr is only a lower bound
    (workdir / "unclear.toml").write_text(SMALL.replace("max_lr = 1.0", "max_lr = 0.003"))
    assert run("optimize", "unclear.toml", "--n-trials", 2, "--no-progress") == 0
    out = capsys.readouterr().out
    assert (
        "range test: NOT CLEAR" in out
        and "keeps the study file's ranges and the sampler is TPE" in out
    )
    study = optuna.load_study(study_name="tiny", storage="sqlite:///optuna_clr.db")
    assert study.user_attrs["space"]["lr"] == [0.005, 1.0]  # not narrowed
    assert len(study.trials) == 2 and not any(
        "sampler" in t.user_attrs for t in study.trials
    )  # no prior draws


@pytest.mark.parametrize("command", ["range-test", "optimize", "compare", "report"])
def test_every_subcommand_explains_its_options_and_only_those_it_uses(command, capsys):
    with pytest.raises(SystemExit) as info:
        run(command, "--help")
    assert info.value.code == 0
    text = capsys.readouterr().out
    for option in ("--storage", "--study-name", "--artifact-dir", "--out"):
        assert option in text
    for option in TRAINING_OPTIONS:  # report trains nothing
        assert (option in text) == (command != "report"), option
    assert ("--n-trials" in text and "--parallel" in text and "--no-progress" in text) == (
        command in ("optimize", "compare")
    )
    assert "--worker" not in text  # internal to --engine processes
    if command == "compare":
        assert "trials per arm" in text


@pytest.mark.parametrize(
    "edit, message",
    [
        (
            ('families = ["fixed", "triangular2"]', 'families = ["fixed", "triangle"]'),
            "[space] families[1]: unknown family 'triangle'",
        ),
        (("lr = [0.005, 1.0]", "lr = [1.0, 0.005]"), "[space] lr: low 1.0 > high 0.005"),
        (("max_iterations = 400", "max_iterations = 0"), "[training] max_iterations: must be > 0"),
        (("eval_every = 10", "eval_every = -5"), "[training] eval_every: must be > 0"),
        (('model = "mlp"', 'model = "vgg"'), "[training] model: unknown model 'vgg'"),
        (
            ("batch_size = 32", 'batch_size = 32\noptimiser = "adam"'),
            "[training] optimiser: unknown key (did you mean 'optimizer'?)",
        ),
        (
            ("epochs = 2", "epochs = 2\nsteps = 10"),
            "[range_test]: give exactly one of epochs or steps",
        ),
        # values the library would only reject at the first trial, or never
        (
            ("step_size = 70", 'step_size = 70\noptimizer = "adamw2"'),
            "[baselines.smith] optimizer: unknown optimizer 'adamw2'",
        ),
        (
            ("step_size = 70", "step_size = 70\nmomentum = 5"),
            "[baselines.smith] momentum: must be < 1, got 5",
        ),
        (
            ("step_size = 70", 'step_size = 70\noptimizer = "nesterov"\nmomentum = 0.0'),
            "[baselines.smith]: Nesterov SGD needs momentum > 0",
        ),
        (('name = "digits"', 'name = "cifar"'), "[task] name: unknown task 'cifar'"),
        (('device = "cpu"', 'device = "gpu"'), "[training] device: unknown device 'gpu'"),
        (
            ('device = "cpu"', 'device = "cpu"\nprecision = "fp8"'),
            "[training] precision: unknown precision 'fp8'",
        ),
        (
            ('device = "cpu"', 'device = "cpu"\naugment = "yes"'),
            "[training] augment: must be true or false",
        ),
        (("epochs = 2", 'epochs = 2\nmode = "cubic"'), "[range_test] mode: unknown mode 'cubic'"),
        (
            ("epochs = 2", "epochs = 2\neval_every = -3"),
            "[range_test] eval_every: must be > 0, got -3",
        ),
        (
            ("seeds = 2", "seeds = 2\nfamilies = []"),
            "[compare] families: must name at least one family",
        ),
        (
            ("seeds = 2", 'seeds = 2\nfamilies = ["fixed"]'),
            "[compare] families[0]: unknown schedule family other than fixed 'fixed'",
        ),
        (
            ("seeds = 2", 'seeds = 2\nper_family = "yes"'),
            "[compare] per_family: must be true or false",
        ),
        (
            ("seed = 0", 'seed = 0\npruner = "median+hyperband"'),
            "[study] pruner: 'median+hyperband' joins 2 learning-curve pruners",
        ),
    ],
)
def test_study_file_errors_name_the_field(workdir, capsys, edit, message):
    (workdir / "bad.toml").write_text(SMALL.replace(*edit))
    assert run("optimize", "bad.toml", "--no-progress") == 2
    err = capsys.readouterr().err
    assert message in err and "bad.toml" in err


def test_shipped_study_files_are_valid_and_each_can_run_its_range_test():
    files = sorted((REPO / "studies").glob("*.toml"))
    assert {f.stem for f in files} >= {
        "digits",
        "mnist",
        "cifar10_smith2017",
        "cifar10_batch_size",
        "cifar10_optimizers",
    }
    shapes = {"digits": (1, 8, 8), "mnist": (1, 28, 28), "cifar10": (3, 32, 32)}
    signature = inspect.signature(lr_range_test)
    for f in files:
        # what `optuna-clr range-test` does with a file whose test is disabled
        sf = StudyFile.load(f).with_overrides(range_test__enabled=True)
        task = sf.task["name"]
        size = sf.task["image_size"]
        shape = shapes[task] if size is None else (shapes[task][0], size, size)
        net = models.create(sf.training["model"], image_shape=shape, num_classes=10, seed=0)
        assert net(torch.zeros(2, *shape)).shape == (2, 10), f.name
        signature.bind(**sf.range_test_kwargs())  # every key is one the range test takes
        space = ScheduleSpace(**sf.space_kwargs(iterations_per_epoch=100, train_size=45_000))
        assert space.families, f.name
        assert sf.make_pruner() is not None and sf.make_sampler() is not None, f.name
    # the embedded default runs end to end: its range test, as `optuna-clr range-test` does
    digits = StudyFile.load(REPO / "studies/digits.toml").with_overrides(
        range_test__enabled=True, range_test__epochs=1, range_test__repeats=1
    )
    result = lr_range_test(**{**digits.range_test_kwargs(), "device": "cpu"})
    assert len(result.lrs) == len(result.losses) > 10


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")
def test_a_device_this_machine_lacks_is_a_one_line_error(workdir, capsys):
    assert run("optimize", "tiny.toml", "--no-progress", "--device", "cuda") == 2
    captured = capsys.readouterr()
    assert "[training] device: 'cuda' (from the file or --device) is not available" in captured.err
    assert "range test" not in captured.out


def test_a_study_name_never_writes_outside_out(workdir, capsys):
    """The name stays as written in the storage; its report folder is a safe form of it."""
    name = "../../escaped_probe"
    common = ("--study-name", name, "--out", "travout/a", "--no-progress")
    assert run("optimize", "tiny.toml", "--n-trials", 1, *common) == 0
    assert run("report", "tiny.toml", *common[:-1]) == 0
    assert sorted(p.name for p in workdir.iterdir()) == [
        "optuna_clr.db",
        "optuna_clr_artifacts",
        "tiny.toml",
        "travout",
    ]
    (folder,) = (workdir / "travout" / "a").iterdir()
    assert folder.name.startswith("__.._escaped_probe-") and (folder / "report.md").is_file()
    assert optuna.load_study(study_name=name, storage="sqlite:///optuna_clr.db").trials


def test_a_study_optuna_clr_did_not_make_is_refused_before_anything_is_added(workdir, capsys):
    plain = optuna.create_study(study_name="tiny", storage="sqlite:///optuna_clr.db")
    plain.optimize(lambda trial: trial.suggest_float("x", 0, 1), n_trials=2)
    for command in (("optimize", "--no-progress"), ("report",), ("compare", "--no-progress")):
        assert run(command[0], "tiny.toml", *command[1:]) == 2, command
        err = capsys.readouterr().err
        assert len(err.strip().splitlines()) == 1, err
        assert "study 'tiny'" in err and "not made by optuna_clr" in err and "--study-name" in err
    again = optuna.load_study(study_name="tiny", storage="sqlite:///optuna_clr.db")
    assert len(again.trials) == 2 and set(again.user_attrs) == set()
    assert not [p for p in (workdir / "reports").rglob("*") if p.is_file()]  # no report of it


def test_compare_retrains_in_rounds_until_decided_and_resumes_the_rounds(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    text = tiny_study(
        "rounds",
        n_trials=3,
        target=0.97,
        more="[compare]\nn_trials = 3\nseeds = 2\nmax_seeds = 6\n",
    )
    (tmp_path / "rounds.toml").write_text(text)
    assert run("compare", "rounds.toml", "--no-progress") == 0

    def stored():
        study = optuna.load_study(study_name="rounds-retrain", storage="sqlite:///optuna_clr.db")
        runs = {
            (t.user_attrs["configuration"], t.user_attrs["seed"]): t.value for t in study.trials
        }
        assert len(runs) == len(study.trials)  # no seed of a configuration trained twice
        return runs

    runs = stored()
    n = len(runs) // 2
    fixed, cyclical = ([runs[arm, s] for s in range(1, n + 1)] for arm in ("fixed", "cyclical"))
    # it stopped at the first look (2, 4, 6 seeds) whose interval decides, or at the cap
    design = statistics.SequentialDesign(first=2, max_seeds=6, margin=0.1)
    decisions = {
        k: design.decide(fixed[:k], cyclical[:k])["decision"] for k in (2, 4, 6) if k <= n
    }
    assert [k for k, d in decisions.items() if d != "more seeds"][:1] == [n], decisions
    assert n > 2  # this study needs more than one round
    report_text = (tmp_path / "reports" / "rounds-compare" / "report.md").read_text()
    assert f"after {n} seeds" in report_text and "valid under repeated looks" in report_text
    # a larger cap continues from the stored seeds: only new seeds train
    (tmp_path / "rounds.toml").write_text(text.replace("max_seeds = 6", "max_seeds = 8"))
    assert run("compare", "rounds.toml", "--no-progress") == 0
    assert {k: v for k, v in stored().items() if k[1] <= n} == runs


def test_compare_with_parallel_trains_a_rounds_seeds_together_where_it_can(workdir, capsys):
    more = (
        "[compare]\nn_trials = 0\nseeds = 3\n"
        '\n[baselines.sgd]\nfamily = "fixed"\nlr = 0.1\n'
        '\n[baselines.adam]\nfamily = "fixed"\nlr = 0.003\noptimizer = "adam"\n'
    )
    (workdir / "together.toml").write_text(tiny_study("together", n_trials=0, more=more))
    assert run("compare", "together.toml", "--no-progress", "--parallel", 3) == 0
    out = capsys.readouterr().out
    # SGD's seeds are stacked; Adam is not in the fused engine, so its seeds train one by one
    assert "baseline sgd: retraining, fixed(lr=0.1), with seeds [1, 2, 3], 3 at a time" in out
    assert "baseline adam: retraining, fixed(lr=0.003), with seeds [1, 2, 3]\n" in out
    study = optuna.load_study(study_name="together-retrain", storage="sqlite:///optuna_clr.db")
    stored = sorted((t.user_attrs["configuration"], t.user_attrs["seed"]) for t in study.trials)
    assert stored == [(c, s) for c in ("adam", "sgd") for s in (1, 2, 3)]
    sgd = [t for t in study.trials if t.user_attrs["configuration"] == "sgd"]
    assert len({tuple(t.intermediate_values.items()) for t in sgd}) == 3  # each its own split
    assert all(t.user_attrs["reached"] for t in sgd)


def test_compare_stops_its_rounds_at_the_compute_cap(tmp_path, monkeypatch):
    # the rounds study above needs more than its first round; a cap of one iteration is spent
    # by tuning alone, so the first round is the last
    monkeypatch.chdir(tmp_path)
    more = "[compare]\nn_trials = 3\nseeds = 2\nmax_seeds = 6\nmax_compute = 1\n"
    (tmp_path / "capped.toml").write_text(tiny_study("capped", n_trials=3, target=0.97, more=more))
    assert run("compare", "capped.toml", "--no-progress") == 0
    study = optuna.load_study(study_name="capped-retrain", storage="sqlite:///optuna_clr.db")
    assert sorted({t.user_attrs["seed"] for t in study.trials}) == [1, 2]
    report_text = (tmp_path / "reports" / "capped-compare" / "report.md").read_text()
    assert "at the compute cap; raise [compare] max_compute" in report_text
