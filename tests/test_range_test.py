from __future__ import annotations

import copy
import json
import math

import numpy as np
import optuna
import pytest
import torch

import optuna_clr
from optuna_clr import records
from optuna_clr.results import dashboard
from optuna_clr.search.range_test import RangeTestResult
from optuna_clr.search.range_test import suggest_bounds


def run(**kw):
    base = dict(
        task="digits", model="mlp", min_lr=0.0, max_lr=1.0, epochs=4, batch_size=32, device="cpu"
    )
    return optuna_clr.lr_range_test(**{**base, **kw})


@pytest.fixture(scope="module")
def result():
    return run()


def test_suggestions_are_ordered_and_inside_the_tested_range(result):
    assert result.clear, result.message
    assert 0.0 <= result.base_lr < result.best_lr <= result.max_lr <= 1.0
    assert (
        len(result.lrs) == len(result.accuracies) == len(result.losses) == 140
    )  # 4 epochs of 35, eval every step
    assert result.lrs == sorted(result.lrs)
    # accuracy really rises between base_lr and max_lr
    acc_at = dict(zip(result.lrs, result.smoothed))
    assert acc_at[result.max_lr] - acc_at[result.base_lr] > 0.3
    assert result.snr > 3


def test_reproducible_for_one_seed(result):
    again = run()
    assert again.suggestions() == result.suggestions()
    assert again.accuracies == result.accuracies


def test_repeats_report_the_spread():
    r = run(repeats=3)
    assert len(r.runs) == 3 and r.settings["repeats"] == 3
    for key in ("base_lr", "best_lr", "max_lr"):
        s = r.spread[key]
        assert s["values"] == [getattr(x, key) for x in r.runs]
        assert s["min"] <= getattr(r, key) <= s["max"]  # the median lies inside the spread
    assert r.base_lr < r.best_lr <= r.max_lr


def test_json_round_trip(result, tmp_path):
    d = json.loads(json.dumps(result.to_dict()))
    back = RangeTestResult.from_dict(d)
    assert back == result


def test_model_and_optimizer_left_exactly_as_found(digits):
    torch.manual_seed(0)
    net = torch.nn.Sequential(
        torch.nn.Flatten(),
        torch.nn.Linear(64, 32),
        torch.nn.BatchNorm1d(32),
        torch.nn.ReLU(),
        torch.nn.Linear(32, 10),
    )
    opt = torch.optim.SGD(net.parameters(), lr=0.123, momentum=0.9)
    # give the optimizer state (momentum buffers) and the parameters gradients first
    loss = torch.nn.functional.cross_entropy(net(digits.train.x[:64]), digits.train.y[:64])
    loss.backward()
    opt.step()
    net.eval()
    before = {k: v.clone() for k, v in net.state_dict().items()}
    grads = [p.grad.clone() for p in net.parameters()]
    opt_before = {
        i: {k: v.clone() for k, v in s.items()} for i, s in enumerate(opt.state.values())
    }

    r = optuna_clr.lr_range_test(
        task=digits,
        model=net,
        optimizer=opt,
        min_lr=0.0,
        max_lr=1.0,
        steps=100,
        batch_size=32,
        repeats=2,
    )
    # a real test ran from the user's state: both seeds find the rise, well inside the range
    assert r.clear and all(run_.clear for run_ in r.runs), r.message
    assert 0.0 < r.base_lr < r.best_lr <= r.max_lr < 0.5

    after = net.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)  # weights and BatchNorm buffers
    assert all(torch.equal(g, p.grad) for g, p in zip(grads, net.parameters()))
    assert not net.training
    assert opt.param_groups[0]["lr"] == 0.123
    opt_after = {i: dict(s) for i, s in enumerate(opt.state.values())}
    assert all(
        torch.equal(opt_before[i][k], opt_after[i][k]) for i in opt_before for k in opt_before[i]
    )


def frozen_bn_net(dtype):
    """A model in train mode whose BatchNorm is frozen (eval mode), and an SGD with momentum
    over it."""
    torch.manual_seed(0)
    net = torch.nn.Sequential(
        torch.nn.Flatten(),
        torch.nn.Linear(64, 32),
        torch.nn.BatchNorm1d(32),
        torch.nn.ReLU(),
        torch.nn.Linear(32, 10),
    ).to(dtype)
    net[2].eval()
    opt = torch.optim.SGD(net.parameters(), lr=0.123, momentum=0.9)
    return net, opt


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_dtype_and_frozen_submodule_are_left_as_found(digits, dtype):
    net, opt = frozen_bn_net(dtype)
    x = digits.train.x[:64].to(dtype)
    torch.nn.functional.cross_entropy(net(x), digits.train.y[:64]).backward()
    opt.step()
    flags = [m.training for m in net.modules()]
    assert flags == [True, True, True, False, True, True]
    before = copy.deepcopy(net.state_dict())
    grads = [p.grad.clone() for p in net.parameters()]
    opt_before = copy.deepcopy(opt.state_dict())

    r = optuna_clr.lr_range_test(
        task=digits,
        model=net,
        optimizer=opt,
        min_lr=0.0,
        max_lr=1.0,
        steps=100,
        batch_size=32,
        repeats=2,
    )
    assert r.clear, r.message  # it trained (in float32) and found the rise

    assert [m.training for m in net.modules()] == flags  # the BatchNorm is still frozen
    after = net.state_dict()
    assert all(after[k].dtype == v.dtype and torch.equal(after[k], v) for k, v in before.items())
    assert all(p.dtype == dtype and p.grad.dtype == dtype for p in net.parameters())
    assert all(torch.equal(g, p.grad) for g, p in zip(grads, net.parameters()))
    opt_after = opt.state_dict()
    assert opt_after["param_groups"] == opt_before["param_groups"]
    for i, state in opt_before["state"].items():
        buf = opt_after["state"][i]["momentum_buffer"]
        assert buf.dtype == dtype and torch.equal(buf, state["momentum_buffer"])
    # and it still trains as the user's model, in its dtype, with the user's optimizer
    torch.nn.functional.cross_entropy(net(x), digits.train.y[:64]).backward()
    opt.step()


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a second device")
def test_model_on_another_device_comes_back_there(digits):
    net, opt = frozen_bn_net(torch.float32)
    optuna_clr.lr_range_test(
        task=digits,
        model=net,
        optimizer=opt,
        min_lr=0.0,
        max_lr=1.0,
        steps=20,
        batch_size=32,
        device="cuda",
    )
    assert all(t.device.type == "cpu" for t in net.state_dict().values())


class CountingNet(torch.nn.Sequential):
    """A plain model that counts how often its state is loaded back."""

    loads = 0

    def load_state_dict(self, *args, **kwargs):
        self.loads += 1
        return super().load_state_dict(*args, **kwargs)


def test_each_seed_starts_from_the_users_model_restored_once(digits):
    torch.manual_seed(0)
    net = CountingNet(
        torch.nn.Flatten(), torch.nn.Linear(64, 32), torch.nn.ReLU(), torch.nn.Linear(32, 10)
    )
    fresh = copy.deepcopy(net)
    r = optuna_clr.lr_range_test(
        task=digits, model=net, min_lr=0.0, max_lr=1.0, steps=60, batch_size=32, repeats=3
    )
    assert net.loads == 3  # between seeds 0-1 and 1-2, and once at the end
    # the third seed trained from the user's weights, exactly as a run of that seed alone
    alone = optuna_clr.lr_range_test(
        task=digits, model=fresh, min_lr=0.0, max_lr=1.0, steps=60, batch_size=32, seed=2
    )
    assert r.runs[2].accuracies == alone.accuracies and r.runs[2].losses == alone.losses


def test_nan_mid_test_is_handled():
    # an exponential ramp resolves the rise at small LRs and still reaches LRs that give NaN
    r = run(min_lr=1e-3, max_lr=1e9, mode="exponential")
    assert r.diverged_at_lr is not None and len(r.lrs) < 140  # stopped part way
    assert all(lr < r.diverged_at_lr for lr in r.lrs)  # nothing after the divergence is kept
    assert not any(math.isnan(v) for v in r.losses)  # no NaN in the curve
    assert r.clear and "diverged" in r.message, r.message
    assert 1e-3 <= r.base_lr < r.best_lr <= r.max_lr < r.diverged_at_lr
    # a linear ramp this steep rises within its first evaluation: said so, nothing invented
    steep = run(max_lr=3000.0, epochs=2, mode="linear")
    assert steep.diverged_at_lr is not None and not any(math.isnan(v) for v in steep.losses)
    assert not steep.clear and steep.base_lr is None and "no clear improvement" in steep.message


def test_loss_metric_uses_an_exponential_ramp_and_stops_on_divergence():
    r = run(metric="loss", min_lr=1e-4, max_lr=100.0)
    assert r.settings["mode"] == "exponential" and r.accuracies[0] is None
    assert r.diverged_at_lr is not None and r.lrs[-1] < 100.0  # stopped before the end
    assert r.clear and 1e-4 <= r.base_lr < r.best_lr <= r.max_lr < r.diverged_at_lr


def test_no_clear_answer_is_said_not_invented():
    flat = run(min_lr=0.0, max_lr=1e-6)
    assert not flat.clear and flat.base_lr is None and flat.best_lr is None and flat.max_lr is None
    assert "no clear improvement" in flat.message
    with pytest.raises(ValueError, match="no clear bounds"):
        optuna_clr.ScheduleSpace(iterations_per_epoch=35).narrow(flat)
    rising = run(min_lr=0.0, max_lr=0.003)  # accuracy 0.85 at the end, on its way to 0.94
    assert not rising.clear and "still improving" in rising.message
    assert rising.max_lr <= 0.003


def test_suggest_bounds_on_a_known_curve():
    lrs = [i / 100 for i in range(100)]
    acc = [
        0.1 if x < 0.2 else min(0.9, 0.1 + (x - 0.2) * 4) if x < 0.6 else 0.9 - (x - 0.6)
        for x in lrs
    ]
    found = suggest_bounds(lrs, acc, log_x=False, metric="accuracy")
    assert found["clear"]
    assert 0.18 <= found["base_lr"] <= 0.25 and 0.35 <= found["max_lr"] <= 0.45
    assert found["base_lr"] < found["best_lr"] <= found["max_lr"]


def test_one_high_last_point_is_not_still_improving():
    # levels off at 0.4 and eases down; only the last evaluation happens to be high
    lrs = [i / 100 for i in range(100)]
    acc = [
        0.1 if x < 0.2 else 0.1 + (x - 0.2) * 4 if x < 0.4 else 0.9 - 0.02 * (x - 0.4) for x in lrs
    ]
    acc[-1] = 0.93
    found = suggest_bounds(lrs, acc, log_x=False, metric="accuracy")
    assert found["clear"], found["message"]
    assert 0.2 <= found["base_lr"] < found["best_lr"] <= found["max_lr"] <= 0.4
    # while a curve that really rises to the end is still flagged
    rising = [0.1 + 0.8 * x for x in lrs]
    assert (
        "still improving" in suggest_bounds(lrs, rising, log_x=False, metric="accuracy")["message"]
    )


def test_flat_noise_rarely_gets_bounds():
    # short curves of pure noise: counting the end points' zero residuals as noise made a
    # chance bump look like a rise (bounds for 16% of these curves before, 10% now)
    rng = np.random.default_rng(0)
    lrs = [i / 11 for i in range(12)]
    found = [
        suggest_bounds(lrs, list(0.5 + rng.normal(0, 0.03, 12)), log_x=False, metric="accuracy")
        for _ in range(500)
    ]
    assert np.mean([f["base_lr"] is not None for f in found]) < 0.125


def test_attach_stores_the_result_and_its_plot(result, tmp_path):
    storage = f"sqlite:///{tmp_path / 's.db'}"
    study = optuna.create_study(storage=storage, study_name="rt")
    store = dashboard.artifact_store(tmp_path / "artifacts")
    artifact_id = dashboard.attach_range_test(study, result, store)
    reloaded = optuna.load_study(study_name="rt", storage=storage)
    assert RangeTestResult.from_study(reloaded) == result
    assert (tmp_path / "artifacts" / artifact_id).stat().st_size > 5000  # the PNG
    assert records.load(reloaded, "range_test_plot") == artifact_id
    assert "range_test_plot" not in reloaded.user_attrs


def test_argument_errors():
    with pytest.raises(ValueError, match="exactly one of steps"):
        optuna_clr.lr_range_test(min_lr=0.0, max_lr=1.0)
    with pytest.raises(ValueError, match="min_lr > 0"):
        optuna_clr.lr_range_test(min_lr=0.0, max_lr=1.0, steps=10, mode="exponential")
    with pytest.raises(ValueError, match="min_lr < max_lr"):
        optuna_clr.lr_range_test(min_lr=1.0, max_lr=0.5, steps=10)


def test_a_divergence_while_still_improving_is_the_upper_bound():
    # a higher max_lr would diverge at the same LR: "rerun with a higher max_lr" cannot help
    from optuna_clr.search.range_test import bounded_by_divergence

    lrs = [i / 100 for i in range(1, 60)]
    rising = [0.1 + 0.8 * x for x in lrs]
    found = suggest_bounds(lrs, rising, log_x=False, metric="accuracy")
    assert not found["clear"] and "still improving" in found["message"]
    bounded = bounded_by_divergence(found, 0.6, "accuracy")
    assert bounded["clear"] and "diverged at LR 0.6" in bounded["message"]
    assert "rerun" not in bounded["message"]
    assert bounded["base_lr"] < bounded["best_lr"] <= bounded["max_lr"] < 0.6
    assert (
        bounded_by_divergence(found, None, "accuracy") == found
    )  # no divergence: still a lower bound
    flat = suggest_bounds(lrs, [0.5] * len(lrs), log_x=False, metric="accuracy")
    assert not bounded_by_divergence(flat, 0.6, "accuracy")["clear"]  # nothing found below it


def test_the_range_test_of_an_experiment_runs_as_its_trials_will():
    config = optuna_clr.TrainConfig(
        max_iterations=100, batch_size=32, device="cpu", momentum=0.5, seed=0
    )
    experiment = optuna_clr.Experiment(task="digits", model="mlp", config=config)
    from_experiment = optuna_clr.lr_range_test(
        experiment=experiment, min_lr=0.0, max_lr=1.0, epochs=2, repeats=2
    )
    by_hand = run(momentum=0.5, epochs=2, repeats=2)
    assert (
        from_experiment.settings["momentum"] == 0.5
        and from_experiment.settings["batch_size"] == 32
    )
    assert from_experiment.accuracies == by_hand.accuracies
    assert from_experiment.runs[1].accuracies == by_hand.runs[1].accuracies  # seed 1's own split


def test_the_old_plot_and_attach_still_work_with_a_future_warning(result, tmp_path):
    storage = f"sqlite:///{tmp_path / 's.db'}"
    study = optuna.create_study(storage=storage, study_name="rt")
    store = dashboard.artifact_store(tmp_path / "artifacts")
    with pytest.warns(FutureWarning, match="plot_range_test"):
        assert result.plot().axes  # a matplotlib Figure with the curve's axes
    with pytest.warns(FutureWarning, match="attach_range_test"):
        artifact_id = result.attach(study, artifact_store=store)
    assert (tmp_path / "artifacts" / artifact_id).stat().st_size > 5000
    assert RangeTestResult.from_study(study) == result
