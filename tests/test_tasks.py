from __future__ import annotations

import shutil

import pytest
import torch

import optuna_clr
from optuna_clr import tasks


def test_digits_is_embedded_and_split_by_seed():
    a = tasks.load("digits", seed=0)
    b = tasks.load("digits", seed=0)
    c = tasks.load("digits", seed=1)
    assert (len(a.train), len(a.valid), len(a.test)) == (1150, 287, 360)
    assert a.image_shape == (1, 8, 8) and a.num_classes == 10
    assert torch.equal(a.valid.x, b.valid.x) and torch.equal(a.valid.y, b.valid.y)
    assert not torch.equal(a.valid.y, c.valid.y)  # another seed, another validation split
    assert torch.equal(a.test.x, c.test.x)  # the test split never moves
    # validation and training images are disjoint and together the non-test images
    pairs = {tuple(x.flatten().tolist()) for x in torch.cat([a.train.x, a.valid.x])}
    assert len(a.train) + len(a.valid) - len(pairs) < 20  # (digits has a few duplicate images)
    assert abs(float(a.train.x.mean())) < 0.1 and abs(float(a.train.x.std()) - 1) < 0.1
    assert a.iterations_per_epoch(32) == 1150 // 32


def test_validation_size_and_errors():
    assert len(tasks.load("digits", validation=100).valid) == 100
    with pytest.raises(ValueError, match="unknown task 'imagenet'"):
        tasks.load("imagenet")
    with pytest.raises(ValueError, match="validation"):
        tasks.load("digits", validation=5000)


def test_task_from_tensors_for_your_own_data():
    x = torch.randn(50, 7)
    y = torch.randint(0, 3, (50,))
    task = tasks.Task.from_tensors(train=(x[:40], y[:40]), valid=(x[40:], y[40:]))
    assert task.image_shape == (1, 1, 7) and len(task.valid) == 10 and task.test is None
    rare = tasks.Task.from_tensors(train=(x[:40], y[:40] % 3), valid=(x[40:], torch.full((10,), 4)))
    assert rare.num_classes == 5  # a label seen in validation only still has its class
    with pytest.raises(ValueError, match="one label per image"):
        tasks.Split(torch.zeros(3, 1, 2, 2), torch.zeros(4, dtype=torch.long))


def test_missing_data_folder_names_the_layout_and_download(tmp_path, monkeypatch):
    monkeypatch.delenv(tasks.DATA_ENV, raising=False)
    with pytest.raises(tasks.DataError, match="OPTUNA_CLR_DATA"):
        tasks.load("cifar10")
    with pytest.raises(tasks.DataError) as info:
        tasks.load("cifar10", root=tmp_path)
    text = str(info.value)
    assert "cifar-10-batches-py/data_batch_1..5" in text and "download=True" in text and "missing" in text


def test_mnist_loads_from_the_offline_folder(data_dir):
    task = tasks.load("mnist", root=data_dir / "mnist", seed=0)
    assert (len(task.train), len(task.valid), len(task.test)) == (55000, 5000, 10000)
    assert task.image_shape == (1, 28, 28) and task.num_classes == 10
    assert task.train.x.dtype == torch.float32 and task.train.y.dtype == torch.int64


def test_cifar10_loads_from_the_offline_folder(data_dir):
    task = tasks.load("cifar10", root=data_dir / "cifar10", seed=0)
    assert (len(task.train), len(task.valid), len(task.test)) == (45000, 5000, 10000)
    assert task.image_shape == (3, 32, 32) and task.classes[0] == "airplane"
    assert task.iterations_per_epoch(100) == 450


def test_corrupt_file_is_caught_before_training(data_dir, tmp_path):
    root = tmp_path / "mnist"
    shutil.copytree(data_dir / "mnist", root)
    victim = root / "MNIST" / "raw" / "t10k-labels-idx1-ubyte.gz"
    data = bytearray(victim.read_bytes())
    data[100] ^= 0xFF
    victim.write_bytes(bytes(data))
    with pytest.raises(tasks.DataError) as info:
        optuna_clr.IterationsToTarget(task="mnist", data_dir=root, model="lenet", target_accuracy=0.9, max_iterations=10)
    assert "corrupt" in str(info.value) and "t10k-labels-idx1-ubyte.gz" in str(info.value)
