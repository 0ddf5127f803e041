"""The optimizers users pick instead of tuning a schedule (the [baselines] extra): Schedule-Free
SGD and AdamW, and Prodigy, trained for real on digits, as compare's baselines too."""

from __future__ import annotations

import importlib.util

from conftest import run_cli as run
from conftest import tiny_study
import optuna
import pytest
import torch

import optuna_clr
from optuna_clr import schedules as S
from optuna_clr.results import compare
from optuna_clr.search.range_test import RangeTestResult
from optuna_clr.study.storage import open_storage
from optuna_clr.study.studyfile import StudyFile
from optuna_clr.study.studyfile import StudyFileError
from optuna_clr.training import models
from optuna_clr.training.engine import evaluating
from optuna_clr.training.engine import make_optimizer


pytest.importorskip("schedulefree", reason='pip install "optuna-clr[baselines]"')
pytest.importorskip("prodigyopt", reason='pip install "optuna-clr[baselines]"')

CASES = [("sgd_schedulefree", 0.5), ("adamw_schedulefree", 0.005), ("prodigy", 1.0)]


@pytest.mark.parametrize(("optimizer", "lr"), CASES)
def test_a_tuning_free_optimizer_trains_digits_to_the_target(optimizer, lr):
    config = optuna_clr.TrainConfig(
        max_iterations=1000, eval_every=10, target_accuracy=0.95, batch_size=32, device="cpu",
        optimizer=optimizer,
    )  # fmt: skip
    result = optuna_clr.Experiment(task="digits", model="mlp", config=config).run(S.Fixed(lr))
    assert result.reached and result.iterations_to_target < 1000, result.best_accuracy


def test_schedule_free_is_evaluated_with_its_averaged_weights_and_trains_on():
    config = optuna_clr.TrainConfig(max_iterations=10, optimizer="sgd_schedulefree", device="cpu")
    net = models.create("mlp", image_shape=(1, 8, 8), num_classes=10, seed=0)
    opt = make_optimizer(net, config)
    opt.train()
    x, y = torch.randn(32, 1, 8, 8), torch.randint(0, 10, (32,))
    for _ in range(5):
        for group in opt.param_groups:
            group["lr"] = 0.1
        opt.zero_grad()
        config.loss(net(x), y).backward()
        opt.step()
    training = [p.detach().clone() for p in net.parameters()]
    with evaluating(opt):
        averaged = [p.detach().clone() for p in net.parameters()]
    assert any(not torch.equal(a, b) for a, b in zip(training, averaged))  # other weights
    # swapped back (by arithmetic, so to rounding)
    assert all(torch.allclose(a, p, atol=1e-6) for a, p in zip(training, net.parameters()))


def test_a_missing_extra_is_one_line_naming_it(monkeypatch, tmp_path):
    found = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util,
        "find_spec",
        lambda name, *a: None if name == "prodigyopt" else found(name, *a),
    )
    with pytest.raises(
        ValueError, match=r'needs the prodigyopt package: pip install "optuna-clr\[baselines\]"'
    ):
        optuna_clr.TrainConfig(max_iterations=10, optimizer="prodigy")
    path = tmp_path / "p.toml"
    path.write_text(
        tiny_study("p", n_trials=1).replace('optimizer = "sgd"', 'optimizer = "prodigy"')
    )
    with pytest.raises(StudyFileError, match=r"p\.toml.*optimizer.*optuna-clr\[baselines\]"):
        StudyFile.load(path)


def test_compare_retrains_the_baselines_users_pick_instead_of_tuning(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    baselines = "".join(
        f'\n[baselines.{name}]\nfamily = "fixed"\nlr = {lr}\noptimizer = "{name}"\n'
        for name, lr in CASES
    )
    more = f"[compare]\nn_trials = 0\nseeds = 2\none_cycle = true\n{baselines}"
    (tmp_path / "free.toml").write_text(tiny_study("free", n_trials=0, more=more))
    assert run("compare", "free.toml", "--no-progress") == 0
    storage = open_storage("sqlite:///optuna_clr.db")
    comparison, _ = compare.stored_comparison(storage, "free")
    arms = {a.name: a for a in comparison.arms}
    assert list(arms) == [name for name, _ in CASES] + ["one_cycle"]
    assert all(arms[name].training["optimizer"] == name for name, _ in CASES)
    assert all([r.seed for r in a.runs] == [1, 2] for a in comparison.arms)
    assert all(r.reached for name, _ in CASES for r in arms[name].runs)
    # fastai's fit_one_cycle from the stored range test, over the budget (300 iterations)
    test = RangeTestResult.from_study(optuna.load_study(study_name="free", storage=storage))
    assert S.from_dict(arms["one_cycle"].schedule) == test.one_cycle(300)
    assert (test.one_cycle(300).max_lr, test.one_cycle(300).pct_start) == (test.max_lr, 0.25)
