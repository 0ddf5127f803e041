"""Data sets as tensors: train / validation / test splits ready to live on the training device.

``load(name)`` reads a data set once (through ``torchvision.datasets``, or scikit-learn for the
embedded ``digits``), standardises it per channel with the statistics of the whole official
training set, and carves the validation split from the training set with the given seed. The
target accuracy is measured on the validation split; test accuracy is reported beside it and
never tuned on.

Nothing is downloaded unless ``download=True``: a missing or corrupt file raises
:class:`DataError` naming the folder layout expected, before any training starts.

Example:

    .. testcode::

        import optuna_clr

        task = optuna_clr.tasks.load("digits", seed=0)
        print(task)                          # digits: 1150 train / 287 validation / 360 test, 1x8x8, 10 classes
        print(task.iterations_per_epoch(32))  # 35
"""

from __future__ import annotations

import dataclasses
import functools
import gzip
import os
from pathlib import Path
import shutil
from typing import Any

import numpy as np
import torch


DATA_ENV = "OPTUNA_CLR_DATA"
"""Environment variable with the default data folder (``root``) for file-backed data sets."""

CACHE_ENV = "OPTUNA_CLR_CACHE"
"""Environment variable with a writable folder for MNIST's decompressed files (default
``~/.cache/optuna_clr``); the data folder itself is only read."""


class DataError(FileNotFoundError):
    """A data set is missing, corrupt or laid out differently from what torchvision expects."""


@dataclasses.dataclass(frozen=True)
class Split:
    """Images ``x`` (float32, N x C x H x W, standardised) and labels ``y`` (int64, N)."""

    x: torch.Tensor
    y: torch.Tensor

    def __post_init__(self) -> None:
        if self.x.ndim != 4:
            raise ValueError(f"x must be N x C x H x W, got shape {tuple(self.x.shape)}")
        if self.y.ndim != 1 or len(self.y) != len(self.x):
            raise ValueError(f"y must hold one label per image: x has {len(self.x)}, y has shape {tuple(self.y.shape)}")

    def __len__(self) -> int:
        return len(self.y)

    def to(self, device: torch.device | str, dtype: torch.dtype | None = None) -> Split:
        return Split(self.x.to(device, dtype), self.y.to(device))


@dataclasses.dataclass(frozen=True)
class Task:
    """A classification task: the three splits and what a model needs to know about them."""

    name: str
    train: Split
    valid: Split
    test: Split | None
    classes: tuple[str, ...]

    @property
    def image_shape(self) -> tuple[int, int, int]:
        """(channels, height, width)."""
        return tuple(self.train.x.shape[1:])  # type: ignore[return-value]

    @property
    def num_classes(self) -> int:
        return len(self.classes)

    @property
    def device(self) -> torch.device:
        return self.train.x.device

    def iterations_per_epoch(self, batch_size: int) -> int:
        """Updates per pass over the training split (the last partial batch is dropped)."""
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        return max(1, len(self.train) // batch_size)

    def to(self, device: torch.device | str, dtype: torch.dtype | None = None) -> Task:
        """The same task with every split on ``device`` (and images in ``dtype``); no copy
        where nothing changes."""
        return dataclasses.replace(
            self,
            train=self.train.to(device, dtype),
            valid=self.valid.to(device, dtype),
            test=None if self.test is None else self.test.to(device, dtype),
        )

    @classmethod
    def from_tensors(
        cls,
        *,
        train: tuple[torch.Tensor, torch.Tensor],
        valid: tuple[torch.Tensor, torch.Tensor],
        test: tuple[torch.Tensor, torch.Tensor] | None = None,
        classes: Any = None,
        name: str = "custom",
    ) -> Task:
        """Your own data as a task: ``(x, y)`` pairs, x of shape N x C x H x W (or N x D, which
        becomes N x 1 x 1 x D), y integer labels. Standardise x yourself."""

        def split(pair: tuple[torch.Tensor, torch.Tensor]) -> Split:
            x, y = torch.as_tensor(pair[0]).float(), torch.as_tensor(pair[1]).long()
            if x.ndim == 2:
                x = x[:, None, None, :]
            return Split(x, y)

        splits = [split(train), split(valid), None if test is None else split(test)]
        if classes is None:  # a label may appear in one split only
            classes = [str(c) for c in range(max(int(s.y.max()) for s in splits if s is not None) + 1)]
        return cls(name, *splits, tuple(str(c) for c in classes))

    def __str__(self) -> str:
        c, h, w = self.image_shape
        test = len(self.test) if self.test is not None else 0
        return (
            f"{self.name}: {len(self.train)} train / {len(self.valid)} validation / {test} test, "
            f"{c}x{h}x{w}, {self.num_classes} classes"
        )


# --- the data sets ---

DEFAULT_VALIDATION = {"digits": 0.2, "mnist": 5000, "fashion-mnist": 5000, "cifar10": 5000, "cifar100": 5000}
NAMES = tuple(DEFAULT_VALIDATION)


def load(
    name: str = "digits",
    *,
    root: str | os.PathLike | None = None,
    download: bool = False,
    validation: float | int | None = None,
    seed: int = 0,
) -> Task:
    """Load a task by name: ``digits`` (embedded), ``mnist``, ``fashion-mnist``, ``cifar10``,
    ``cifar100``.

    Args:
        root: folder holding the files in torchvision's layout (default: ``$OPTUNA_CLR_DATA``).
        download: let torchvision download missing files into ``root`` (needs internet).
        validation: size of the validation split, carved from the training set: a fraction
            (0.2) or a count (5000). Default: 0.2 for digits, 5000 for the others.
        seed: fixes which training images become the validation split.
    """
    key = name.lower().replace("_", "-")
    if key == "cifar-10":
        key = "cifar10"
    if key not in DEFAULT_VALIDATION:
        raise ValueError(f"unknown task {name!r}; known tasks: {list(NAMES)} (or build your own with Task.from_tensors)")
    if key == "digits":
        x_train, y_train, x_test, y_test, classes = _digits()
    else:
        folder = _root(root, key)
        x_train, y_train, x_test, y_test, classes = _torchvision(key, str(folder), download)
    n = len(y_train)
    v = DEFAULT_VALIDATION[key] if validation is None else validation
    n_valid = round(v * n) if isinstance(v, float) else int(v)
    if not 0 < n_valid < n:
        raise ValueError(f"validation must leave both splits non-empty: got {validation!r} for {n} training images")
    perm = torch.randperm(n, generator=torch.Generator().manual_seed(seed))
    valid_idx, train_idx = perm[:n_valid], perm[n_valid:]
    return Task(
        name=key,
        train=Split(x_train[train_idx], y_train[train_idx]),
        valid=Split(x_train[valid_idx], y_train[valid_idx]),
        test=Split(x_test, y_test),
        classes=classes,
    )


def _standardise(x_train: torch.Tensor, x_test: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    mean = x_train.mean(dim=(0, 2, 3), keepdim=True)
    std = x_train.std(dim=(0, 2, 3), keepdim=True).clamp_min(1e-6)
    return (x_train - mean) / std, (x_test - mean) / std


@functools.lru_cache(maxsize=1)
def _digits() -> tuple:
    from sklearn.datasets import load_digits

    bunch = load_digits()
    x = torch.from_numpy(bunch.images.astype(np.float32) / 16.0)[:, None]
    y = torch.from_numpy(bunch.target.astype(np.int64))
    # digits has no official test split: a fixed one (360 images, 20%), the same for every seed.
    perm = torch.randperm(len(y), generator=torch.Generator().manual_seed(20170101))
    test, train = perm[:360], perm[360:]
    x_train, x_test = _standardise(x[train], x[test])
    return x_train, y[train], x_test, y[test], tuple(str(c) for c in range(10))


def _root(root: str | os.PathLike | None, key: str) -> Path:
    value = root if root is not None else os.environ.get(DATA_ENV)
    if not value:
        raise DataError(
            f"no data folder for {key!r}: pass root=... (--data-dir on the command line) or set "
            f"{DATA_ENV} to the folder that holds it in torchvision's layout ({_LAYOUT[key]}); "
            "pass download=True to let torchvision fetch it"
        )
    return Path(value).expanduser()


_LAYOUT = {
    "mnist": "<root>/MNIST/raw/train-images-idx3-ubyte.gz and the three other MNIST files",
    "fashion-mnist": "<root>/FashionMNIST/raw/train-images-idx3-ubyte.gz and the three other files",
    "cifar10": "<root>/cifar-10-batches-py/data_batch_1..5, test_batch, batches.meta",
    "cifar100": "<root>/cifar-100-python/train, test, meta",
}


def _dataset_class(key: str) -> type:
    from torchvision import datasets

    return {
        "mnist": datasets.MNIST,
        "fashion-mnist": datasets.FashionMNIST,
        "cifar10": datasets.CIFAR10,
        "cifar100": datasets.CIFAR100,
    }[key]


def _expected_files(key: str, root: Path) -> list[tuple[Path, str]]:
    cls = _dataset_class(key)
    if key.startswith("cifar"):
        folder = root / cls.base_folder
        files = [(folder / name, md5) for name, md5 in cls.train_list + cls.test_list]
        return files + [(folder / cls.meta["filename"], cls.meta["md5"])]
    return [(root / cls.__name__ / "raw" / os.path.basename(url), md5) for url, md5 in cls.resources]


@functools.lru_cache(maxsize=8)
def _verify(key: str, root: Path) -> None:
    from torchvision.datasets.utils import check_integrity

    missing, corrupt = [], []
    for path, md5 in _expected_files(key, root):
        if not path.is_file():
            missing.append(str(path))
        elif not check_integrity(str(path), md5):
            corrupt.append(f"{path} (MD5 differs from the official {md5})")
    if missing or corrupt:
        what = []
        if missing:
            what.append("missing: " + ", ".join(missing))
        if corrupt:
            what.append("corrupt: " + ", ".join(corrupt))
        raise DataError(
            f"{key} under {root} is not usable ({'; '.join(what)}). Expected torchvision's layout: "
            f"{_LAYOUT[key]}. Point root / {DATA_ENV} / --data-dir at the right folder, replace the "
            "files, or pass download=True to let torchvision fetch them."
        )


@functools.lru_cache(maxsize=4)
def _torchvision(key: str, root: str, download: bool) -> tuple:
    cls = _dataset_class(key)
    folder = Path(root)
    if download:
        for train in (True, False):
            cls(root, train=train, download=True)
    _verify(key, folder)
    if not key.startswith("cifar"):
        folder = _decompressed_mnist(key, folder)
    splits = []
    for train in (True, False):
        ds = cls(str(folder), train=train, download=False)
        data = torch.as_tensor(ds.data)
        x = (data.permute(0, 3, 1, 2) if data.ndim == 4 else data[:, None]).float().div_(255)
        splits.append((x, torch.as_tensor(ds.targets, dtype=torch.int64)))
    (x_train, y_train), (x_test, y_test) = splits
    x_train, x_test = _standardise(x_train, x_test)
    return x_train, y_train, x_test, y_test, tuple(ds.classes)


def _decompressed_mnist(key: str, root: Path) -> Path:
    """torchvision's MNIST reads the decompressed files, which the shared read-only folders do
    not hold: decompress the verified .gz files once into a writable cache."""
    cls = _dataset_class(key)
    raw = root / cls.__name__ / "raw"
    names = [os.path.basename(url)[: -len(".gz")] for url, _ in cls.resources]
    if all((raw / n).is_file() for n in names):
        return root
    cache = Path(os.environ.get(CACHE_ENV) or Path.home() / ".cache" / "optuna_clr") / key
    target = cache / cls.__name__ / "raw"
    target.mkdir(parents=True, exist_ok=True)
    for n in names:
        if not (target / n).is_file():
            tmp = target / f"{n}.part"
            with gzip.open(raw / f"{n}.gz", "rb") as src, open(tmp, "wb") as dst:
                shutil.copyfileobj(src, dst)
            tmp.replace(target / n)
    return cache
