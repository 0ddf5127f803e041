from __future__ import annotations

import gzip
import hashlib
import logging
from pathlib import Path
import pickle
import shutil

from conftest import shared_data
import pytest
import torch

import optuna_clr
from optuna_clr.training import tasks


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
    rare = tasks.Task.from_tensors(
        train=(x[:40], y[:40] % 3), valid=(x[40:], torch.full((10,), 4))
    )
    assert rare.num_classes == 5  # a label seen in validation only still has its class
    with pytest.raises(ValueError, match="one label per image"):
        tasks.Split(torch.zeros(3, 1, 2, 2), torch.zeros(4, dtype=torch.long))


def test_missing_data_folder_names_the_layout_and_where_to_copy_from(tmp_path, monkeypatch):
    monkeypatch.delenv(tasks.DATA_ENV, raising=False)
    with pytest.raises(tasks.DataError, match="OPTUNA_CLR_DATA"):
        tasks.load("cifar10")
    with pytest.raises(tasks.DataError) as info:
        tasks.load("cifar10", root=tmp_path)
    text = str(info.value)
    assert "cifar-10-batches-py/data_batch_1..5" in text and "missing" in text
    assert "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz" in text
    assert "download=True" not in text and "\n" not in text  # the command line cannot pass it
    with pytest.raises(tasks.DataError) as info:
        tasks.load("mnist", root=tmp_path)
    text = str(info.value)
    assert "MNIST/raw/train-images-idx3-ubyte" in text and "missing" in text
    assert "download=True" not in text and "\n" not in text


# --- the files of MNIST and CIFAR-10: any copy whose contents are the data set ---


@pytest.fixture(scope="module")
def shared() -> Path:
    # module-scoped twin of conftest's data_dir, so that loaded data sets are shared by the tests
    folder = shared_data()
    if folder is None:
        pytest.skip("no offline data folder: ../shared/data (or $OPTUNA_CLR_TEST_DATA)")
    return folder


@pytest.fixture(scope="module")
def mnist_idx(shared) -> dict[str, bytes]:
    """The four official MNIST idx files, decompressed, by name."""
    raw = shared / "mnist" / "MNIST" / "raw"
    return {p.name[:-3]: gzip.decompress(p.read_bytes()) for p in sorted(raw.glob("*.gz"))}


@pytest.fixture(scope="module")
def official_mnist(shared) -> tasks.Task:
    return tasks.load("mnist", root=shared / "mnist", seed=0)


def mnist_folder(
    root: Path, files: dict[str, bytes], *, official_gz: Path | None = None, folder: str = "MNIST"
) -> Path:
    """``root`` in torchvision's layout holding ``files`` (and the official .gz files)."""
    raw = root / folder / "raw"
    if official_gz is not None:
        shutil.copytree(official_gz / "MNIST" / "raw", raw)
    raw.mkdir(parents=True, exist_ok=True)
    for name, data in files.items():
        (raw / name).write_bytes(data)
    return root


def assert_same_task(a: tasks.Task, b: tasks.Task) -> None:
    for split in ("train", "valid", "test"):
        assert torch.equal(getattr(a, split).x, getattr(b, split).x)
        assert torch.equal(getattr(a, split).y, getattr(b, split).y)
    assert a.classes == b.classes


def notes(caplog) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == tasks.__name__]


def data_error(*args, **kwargs) -> str:
    """The message of the DataError that loading raises; it is one line."""
    with pytest.raises(tasks.DataError) as info:
        tasks.load(*args, **kwargs)
    text = str(info.value)
    assert "\n" not in text and "download=True" not in text
    return text


def test_mnist_loads_from_the_offline_folder(official_mnist, mnist_idx, tmp_path):
    from torchvision.datasets.mnist import read_image_file
    from torchvision.datasets.mnist import read_label_file

    task = official_mnist
    assert (len(task.train), len(task.valid), len(task.test)) == (55000, 5000, 10000)
    assert task.image_shape == (1, 28, 28) and task.num_classes == 10
    assert task.train.x.dtype == torch.float32 and task.train.y.dtype == torch.int64
    # torchvision's own reader as the reference: the same labels, ink in the same pixels
    for name in ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"):
        (tmp_path / name).write_bytes(mnist_idx[name])
    assert torch.equal(task.test.y, read_label_file(str(tmp_path / "t10k-labels-idx1-ubyte")))
    ink = read_image_file(str(tmp_path / "t10k-images-idx3-ubyte")) > 0
    assert torch.equal(task.test.x[:, 0] > task.test.x.min(), ink)


def test_recompressed_mnist_loads_with_a_one_line_note(
    official_mnist, mnist_idx, shared, tmp_path, caplog
):
    # what Linux distributions ship: the same idx bytes, gzipped again
    files = {
        f"{name}.gz": gzip.compress(data, compresslevel=1, mtime=0)
        for name, data in mnist_idx.items()
    }
    for name, data in files.items():
        official = (shared / "mnist" / "MNIST" / "raw" / name).read_bytes()
        assert hashlib.md5(data).hexdigest() != hashlib.md5(official).hexdigest()
    with caplog.at_level(logging.WARNING, logger=tasks.__name__):
        task = tasks.load("mnist", root=mnist_folder(tmp_path, files), seed=0)
    assert_same_task(task, official_mnist)
    [note] = notes(caplog)
    assert "\n" not in note and "not the official" in note and "contents are MNIST's" in note
    assert all(name in note for name in files)


def test_decompressed_only_mnist_loads_without_a_note(official_mnist, mnist_idx, tmp_path, caplog):
    with caplog.at_level(logging.WARNING, logger=tasks.__name__):
        task = tasks.load("mnist", root=mnist_folder(tmp_path, mnist_idx), seed=0)
    assert_same_task(task, official_mnist)
    assert notes(caplog) == []


def test_fashion_mnist_is_read_alike_and_checked_by_shape(mnist_idx, tmp_path, caplog):
    # no Fashion-MNIST here: MNIST's files in its folder have its format, counts and shapes
    files = {
        f"{name}.gz": gzip.compress(data, compresslevel=1, mtime=0)
        for name, data in mnist_idx.items()
        if "labels" in name
    }
    files.update((name, data) for name, data in mnist_idx.items() if "images" in name)
    with caplog.at_level(logging.WARNING, logger=tasks.__name__):
        root = mnist_folder(tmp_path, files, folder="FashionMNIST")
        task = tasks.load("fashion-mnist", root=root)
    assert len(task.test) == 10000 and task.classes[0] == "T-shirt/top"
    [note] = notes(caplog)
    assert "train-labels-idx1-ubyte.gz" in note and "t10k-labels-idx1-ubyte.gz" in note
    assert "images" not in note and "contents have Fashion-MNIST's counts and shapes" in note


def test_truncated_idx_inside_a_valid_gz_is_refused(mnist_idx, shared, tmp_path):
    victim = "t10k-labels-idx1-ubyte"
    root = mnist_folder(
        tmp_path,
        {f"{victim}.gz": gzip.compress(mnist_idx[victim][:-1000])},
        official_gz=shared / "mnist",
    )
    text = data_error("mnist", root=root)
    assert f"{victim}.gz" in text and "truncated" in text and "9008 of 10008 bytes" in text
    assert "https://ossci-datasets.s3.amazonaws.com/mnist/" in text


def test_cut_gz_is_refused_as_corrupt(shared, tmp_path):
    # an interrupted download: the archive itself ends early
    victim = "train-labels-idx1-ubyte.gz"
    cut = (shared / "mnist" / "MNIST" / "raw" / victim).read_bytes()[:10000]
    root = mnist_folder(tmp_path, {victim: cut}, official_gz=shared / "mnist")
    text = data_error("mnist", root=root)
    assert f"MNIST/raw/{victim} is corrupt" in text and "ended before" in text


def _truncate(data: bytes) -> bytes:
    return data[:-1000]


def _label_ten(data: bytes) -> bytes:
    return data[:-1] + bytes([10])


def _one_pixel(data: bytes) -> bytes:
    return data[:-1] + bytes([data[-1] ^ 0xFF])


def _one_image_fewer(data: bytes) -> bytes:
    count = int.from_bytes(data[4:8], "big")
    return data[:4] + (count - 1).to_bytes(4, "big") + data[8 : -28 * 28]


@pytest.mark.parametrize(
    "victim, damage, words",
    [
        ("t10k-images-idx3-ubyte", _truncate, ["truncated", "7839016 of 7840016 bytes"]),
        ("train-labels-idx1-ubyte", _label_ten, ["labels 0-9", "10"]),
        ("t10k-images-idx3-ubyte", _one_pixel, ["not MNIST's", "MD5"]),
        ("t10k-images-idx3-ubyte", _one_image_fewer, ["9999x28x28", "10000x28x28"]),
    ],
)
def test_damaged_decompressed_only_file_is_refused(mnist_idx, tmp_path, victim, damage, words):
    files = dict(mnist_idx, **{victim: damage(mnist_idx[victim])})
    text = data_error("mnist", root=mnist_folder(tmp_path, files))
    assert f"MNIST/raw/{victim} " in text and all(w in text for w in words), text
    assert "copy the official files" in text


def test_truncated_file_beside_its_gz_is_refused_and_named(mnist_idx, shared, tmp_path):
    # torchvision extracts next to the .gz files; a stale or cut extraction used to end in
    # "RuntimeError: shape '[60000, 28, 28]' is invalid"
    victim = "train-images-idx3-ubyte"
    root = mnist_folder(
        tmp_path, {victim: mnist_idx[victim][:-1000]}, official_gz=shared / "mnist"
    )
    text = data_error("mnist", root=root)
    assert f"MNIST/raw/{victim} " in text and "truncated" in text
    assert f"delete it and {victim}.gz beside it is read" in text


def test_corrupt_file_is_caught_before_training(data_dir, tmp_path):
    root = tmp_path / "mnist"
    shutil.copytree(data_dir / "mnist", root)
    victim = root / "MNIST" / "raw" / "t10k-labels-idx1-ubyte.gz"
    data = bytearray(victim.read_bytes())
    data[100] ^= 0xFF
    victim.write_bytes(bytes(data))
    with pytest.raises(tasks.DataError) as info:
        optuna_clr.IterationsToTarget(
            task="mnist", data_dir=root, model="lenet", target_accuracy=0.9, max_iterations=10
        )
    assert "corrupt" in str(info.value) and "t10k-labels-idx1-ubyte.gz" in str(info.value)


@pytest.fixture(scope="module")
def official_cifar(shared) -> tasks.Task:
    return tasks.load("cifar10", root=shared / "cifar10", seed=0)


def cifar_folder(shared: Path, root: Path, files: dict[str, bytes]) -> Path:
    """``root`` in torchvision's layout: ``files``, and links to the other official files."""
    src, dst = shared / "cifar10" / "cifar-10-batches-py", root / "cifar-10-batches-py"
    dst.mkdir(parents=True)
    for path in src.iterdir():
        if path.name in files:
            (dst / path.name).write_bytes(files[path.name])
        else:
            (dst / path.name).symlink_to(path)
    return root


def official_batch(shared: Path, name: str) -> dict:
    with open(shared / "cifar10" / "cifar-10-batches-py" / name, "rb") as f:
        return pickle.load(f, encoding="latin1")


def test_cifar10_loads_from_the_offline_folder(official_cifar):
    task = official_cifar
    assert (len(task.train), len(task.valid), len(task.test)) == (45000, 5000, 10000)
    assert task.image_shape == (3, 32, 32) and task.classes[0] == "airplane"
    assert task.iterations_per_epoch(100) == 450


def test_repickled_cifar_batch_loads_with_a_one_line_note(
    official_cifar, shared, tmp_path, caplog
):
    files = {"data_batch_4": pickle.dumps(official_batch(shared, "data_batch_4"), protocol=4)}
    with caplog.at_level(logging.WARNING, logger=tasks.__name__):
        task = tasks.load("cifar10", root=cifar_folder(shared, tmp_path, files), seed=0)
    assert_same_task(task, official_cifar)
    [note] = notes(caplog)
    assert "\n" not in note and "data_batch_4" in note and "contents are CIFAR-10's" in note


def test_truncated_cifar_batch_is_refused(shared, tmp_path):
    path = shared / "cifar10" / "cifar-10-batches-py" / "data_batch_3"
    files = {"data_batch_3": path.read_bytes()[:1_000_000]}
    text = data_error("cifar10", root=cifar_folder(shared, tmp_path, files))
    assert "cifar-10-batches-py/data_batch_3 " in text and "truncated or corrupt" in text
    assert "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz" in text


def test_cifar_batch_with_the_wrong_shape_is_refused(shared, tmp_path):
    entry = official_batch(shared, "test_batch")
    entry["data"] = entry["data"][:, :3000]
    files = {"test_batch": pickle.dumps(entry, protocol=2)}
    text = data_error("cifar10", root=cifar_folder(shared, tmp_path, files))
    assert "cifar-10-batches-py/test_batch " in text
    assert "10000x3000" in text and "10000x3072" in text


def test_cifar_pickle_that_builds_anything_else_is_refused_unrun(shared, tmp_path):
    entry = official_batch(shared, "data_batch_2")
    entry["extra"] = Path("built by unpickling")
    files = {"data_batch_2": pickle.dumps(entry, protocol=2)}
    text = data_error("cifar10", root=cifar_folder(shared, tmp_path, files))
    assert "cifar-10-batches-py/data_batch_2 " in text and "pathlib" in text
