"""The Lightning callback, with a real ``lightning.Trainer`` on digits, against the built-in
engine."""

from __future__ import annotations

import optuna
import pytest
import torch


lightning = pytest.importorskip("lightning", reason="the [lightning] extra is not installed")

from optuna_clr import models  # noqa: E402
from optuna_clr import schedules as S  # noqa: E402
from optuna_clr import TargetPruner  # noqa: E402
from optuna_clr import tasks  # noqa: E402
from optuna_clr.integration import ScheduleCallback  # noqa: E402
from optuna_clr.training.engine import BatchOrder  # noqa: E402
from optuna_clr.training.engine import make_optimizer  # noqa: E402
from optuna_clr.training.engine import train  # noqa: E402
from optuna_clr.training.engine import TrainConfig  # noqa: E402


SEED, BATCH, EVERY, BUDGET, TARGET = 0, 32, 10, 600, 0.95


class Digits(lightning.LightningModule):
    """The built-in MLP, its optimizer, and the validation accuracy logged as ``val_acc``."""

    def __init__(self, task: tasks.Task, config: TrainConfig) -> None:
        super().__init__()
        self.net = models.create(
            "mlp", image_shape=task.image_shape, num_classes=task.num_classes, seed=SEED
        )
        self.config = config

    def training_step(self, batch, batch_idx):
        x, y = batch
        return torch.nn.functional.cross_entropy(self.net(x), y)

    def validation_step(self, batch, batch_idx):
        x, y = batch
        self.log("val_acc", (self.net(x).argmax(1) == y).float().mean())

    def configure_optimizers(self):
        return make_optimizer(self.net, self.config)


def loaders(task: tasks.Task):
    """The built-in engine's batches (same seed, same order), and the validation split in one
    batch."""
    order = BatchOrder(len(task.train), SEED, torch.device("cpu"))
    batches = [order.take(BATCH).tolist() for _ in range(BUDGET)]
    train_set = torch.utils.data.TensorDataset(task.train.x, task.train.y)
    valid_set = torch.utils.data.TensorDataset(task.valid.x, task.valid.y)
    return (
        torch.utils.data.DataLoader(train_set, batch_sampler=batches),
        torch.utils.data.DataLoader(valid_set, batch_size=len(valid_set)),
    )


def fit(trial: optuna.Trial, schedule: S.Schedule, task: tasks.Task, config: TrainConfig):
    callback = ScheduleCallback(
        trial, schedule, monitor="val_acc", target_accuracy=TARGET, max_iterations=BUDGET
    )
    trainer = lightning.Trainer(
        max_steps=BUDGET,
        val_check_interval=EVERY,
        num_sanity_val_steps=0,
        callbacks=[callback],
        accelerator="cpu",
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
    )
    train_loader, valid_loader = loaders(task)
    trainer.fit(Digits(task, config), train_loader, valid_loader)
    return callback, trainer


@pytest.fixture(scope="module")
def task() -> tasks.Task:
    return tasks.load("digits", seed=SEED)


CONFIG = TrainConfig(
    max_iterations=BUDGET,
    eval_every=EVERY,
    target_accuracy=TARGET,
    batch_size=BATCH,
    device="cpu",
    seed=SEED,
)


@pytest.mark.parametrize("schedule", [S.Fixed(0.05), S.Triangular2(0.01, 0.1, 70)], ids=repr)
def test_lightning_counts_the_iterations_the_built_in_engine_counts(task, schedule):
    study = optuna.create_study(direction="minimize")
    trial = study.ask()
    callback, trainer = fit(trial, schedule, task, CONFIG)
    alone = train(task, "mlp", schedule, CONFIG)
    assert alone.reached
    assert callback.value() == alone.iterations_to_target
    assert trainer.global_step == alone.iterations_to_target  # stopped at the target
    study.tell(trial, callback.value())
    assert study.best_value == alone.iterations_to_target


def test_a_pruned_trial_stops_early(task):
    study = optuna.create_study(direction="minimize", pruner=TargetPruner())
    first = study.ask()
    callback, _ = fit(first, S.Fixed(0.05), task, CONFIG)
    study.tell(first, callback.value())
    slow = study.ask()
    with pytest.raises(optuna.TrialPruned):
        _, trainer = fit(slow, S.Fixed(1e-4), task, CONFIG)  # far too low an LR to get there first
    steps = sorted(study.trials[1].intermediate_values)
    assert steps and steps[-1] == study.best_value < BUDGET  # pruned where it could no longer win
