"""Data sets as tensors: train / validation / test splits ready to live on the training device.

``load(name)`` reads a data set once (from the files in torchvision's layout, or scikit-learn for
the embedded ``digits``), standardises it per channel with the statistics of the whole official
training set, and carves the validation split from the training set with the given seed. The
target accuracy is measured on the validation split; test accuracy is reported beside it and
never tuned on.

Files are only read, never written, and nothing is downloaded unless ``download=True``. Any
copy whose contents are the data set is used: MNIST's idx files decompressed or as .gz (a .gz
compressed anew, as Linux distributions ship it, too), CIFAR's pickles, each checked by magic
number or keys, counts, shapes, labels and, where it is known, the MD5 of the contents. A file
that is not the official one but holds the data set is used with one logged warning line
(logger ``optuna_clr.training.tasks``, on stderr when logging is not configured) naming it; a
missing, truncated or corrupt file raises :class:`DataError`, one line naming each such file, the
layout expected and where the official files are, before any training starts.

Example:

    .. testcode::

        import optuna_clr

        task = optuna_clr.training.tasks.load("digits", seed=0)
        print(task)  # digits: 1150 train / 287 validation / 360 test, 1x8x8, 10 classes
        print(task.iterations_per_epoch(32))  # 35
"""

from __future__ import annotations

from collections.abc import Callable
from collections.abc import Mapping
import dataclasses
import functools
import gzip
import hashlib
import io
import logging
import math
import os
from pathlib import Path
import pickle
from typing import Any
import zlib

import numpy as np
import torch

from optuna_clr.training.user_code import is_import_path
from optuna_clr.training.user_code import load_factory


_logger = logging.getLogger(__name__)

DATA_ENV = "OPTUNA_CLR_DATA"
"""Environment variable with the default data folder (``root``) for file-backed data sets."""


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
            raise ValueError(
                f"y must hold one label per image: x has {len(self.x)}, "
                f"y has shape {tuple(self.y.shape)}"
            )

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
            classes = [
                str(c) for c in range(max(int(s.y.max()) for s in splits if s is not None) + 1)
            ]
        train_split, valid_split, test_split = splits
        assert train_split is not None and valid_split is not None
        return cls(name, train_split, valid_split, test_split, tuple(str(c) for c in classes))

    def __str__(self) -> str:
        c, h, w = self.image_shape
        test = len(self.test) if self.test is not None else 0
        return (
            f"{self.name}: {len(self.train)} train / {len(self.valid)} validation / {test} test, "
            f"{c}x{h}x{w}, {self.num_classes} classes"
        )


# --- the data sets ---

DEFAULT_VALIDATION = {
    "digits": 0.2,
    "mnist": 5000,
    "fashion-mnist": 5000,
    "cifar10": 5000,
    "cifar100": 5000,
    "imagefolder": 0.1,
}
NAMES = tuple(DEFAULT_VALIDATION)
USER_VALIDATION = 0.1  # the validation fraction of data from your own factory


def load(
    name: str = "digits",
    *,
    root: str | os.PathLike | None = None,
    download: bool = False,
    validation: float | int | None = None,
    seed: int = 0,
    image_size: int | None = None,
) -> Task:
    """Load a task by name: ``digits`` (embedded), ``mnist``, ``fashion-mnist``, ``cifar10``,
    ``cifar100``; ``imagefolder`` (your images, ``root/train/<class>/*`` and ``root/val/``
    or ``root/test/``, as torchvision's ``ImageFolder`` reads them); or an import path to your
    own factory, ``"mypkg.data:load"``, which returns a :class:`Task` or the tensors
    ``(x_train, y_train, x_test, y_test)``.

    Args:
        root: folder holding the files in torchvision's layout (default: ``$OPTUNA_CLR_DATA``).
        download: let torchvision download missing files into ``root`` (needs internet; the
            command line has no such option).
        validation: size of the validation split, carved from the training set: a fraction
            (0.2) or a count (5000). Default: 0.2 for digits, 5000 for the others.
        seed: fixes which training images become the validation split.
        image_size: ``imagefolder`` only: resize every image to this square side (needed
            when the images differ in size).

    Returns:
        The task, on the CPU.

    Raises:
        DataError: no data folder, or a file in it missing or not holding the data set.
        ValueError: an unknown name, or a validation size that leaves a split empty.
    """
    if is_import_path(name):
        made = _from_factory(name)
        if isinstance(made, Task):
            return made
        key, (x_train, y_train, x_test, y_test, classes) = name, made
    else:
        key = name.lower().replace("_", "-")
        if key == "cifar-10":
            key = "cifar10"
        if key not in DEFAULT_VALIDATION:
            raise ValueError(
                f"unknown task {name!r}; known tasks: {list(NAMES)}, or an import path to your "
                "factory ('mypkg.data:load')"
            )
        if key == "digits":
            x_train, y_train, x_test, y_test, classes = _digits()
        elif key == "imagefolder":
            x_train, y_train, x_test, y_test, classes = _image_folder(_root(root, key), image_size)
        else:
            folder = _root(root, key)
            x_train, y_train, x_test, y_test, classes = _files(key, str(folder), download)
    n = len(y_train)
    v = DEFAULT_VALIDATION.get(key, USER_VALIDATION) if validation is None else validation
    n_valid = round(v * n) if isinstance(v, float) else int(v)
    if not 0 < n_valid < n:
        raise ValueError(
            "validation must leave both splits non-empty: "
            f"got {validation!r} for {n} training images"
        )
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
            f"the official files are at {_SOURCE[key]}"
        )
    return Path(value).expanduser()


_TITLE = {
    "mnist": "MNIST",
    "fashion-mnist": "Fashion-MNIST",
    "cifar10": "CIFAR-10",
    "cifar100": "CIFAR-100",
}

_LAYOUT = {
    "mnist": "<root>/MNIST/raw/train-images-idx3-ubyte.gz, train-labels-idx1-ubyte.gz, "
    "t10k-images-idx3-ubyte.gz and t10k-labels-idx1-ubyte.gz, each as .gz or decompressed",
    "fashion-mnist": "<root>/FashionMNIST/raw/ with the same four file names as MNIST's "
    "(train-images-idx3-ubyte.gz, ...), each as .gz or decompressed",
    "cifar10": "<root>/cifar-10-batches-py/data_batch_1..5, test_batch, batches.meta",
    "cifar100": "<root>/cifar-100-python/train, test, meta",
    "imagefolder": "<root>/train/<class>/<image> and <root>/val/<class>/<image> (or test/), "
    "as torchvision.datasets.ImageFolder reads them",
}

_SOURCE = {
    "mnist": "https://ossci-datasets.s3.amazonaws.com/mnist/ (torchvision's mirror)",
    "fashion-mnist": "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
    "cifar10": "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz (unpacked)",
    "cifar100": "https://www.cs.toronto.edu/~kriz/cifar-100-python.tar.gz (unpacked)",
    "imagefolder": "your own images",
}

# The idx files of MNIST's format (Fashion-MNIST's too): unsigned bytes of these shapes.
_IDX_SHAPES = {
    "train-images-idx3-ubyte": (60000, 28, 28),
    "train-labels-idx1-ubyte": (60000,),
    "t10k-images-idx3-ubyte": (10000, 28, 28),
    "t10k-labels-idx1-ubyte": (10000,),
}

# CIFAR's pickles: the key of the labels, of the class names, and the number of classes.
_CIFAR_KEYS = {
    "cifar10": ("labels", "label_names", 10),
    "cifar100": ("fine_labels", "fine_label_names", 100),
}

# MD5s of the official contents, so that a copy packed anew is known by what it holds: MNIST's
# decompressed idx files, and each CIFAR-10 batch's data bytes followed by its labels as
# little-endian int64 (:func:`_cifar_digest`). None is known here for the other data sets.
_CONTENT_MD5 = {
    "mnist": {
        "train-images-idx3-ubyte": "6bbc9ace898e44ae57da46a324031adb",
        "train-labels-idx1-ubyte": "a25bea736e30d166cdddb491f175f624",
        "t10k-images-idx3-ubyte": "2646ac647ad5339dbf082846283269ea",
        "t10k-labels-idx1-ubyte": "27ae3e4e09519cfbb04c329615203637",
    },
    "cifar10": {
        "data_batch_1": "6be289d59adb90df5477a9061ec43be9",
        "data_batch_2": "467f3258faa85906966f752a9844e326",
        "data_batch_3": "bdb9ee9156c06067a92dcf507d563ad5",
        "data_batch_4": "04595ffefc9c7f5294f24734f6418a2b",
        "data_batch_5": "daad72ced81990e45a20b1c319bec2e2",
        "test_batch": "935da9278896be86f011e7b07552559f",
    },
}


def _dataset_class(key: str) -> Any:
    from torchvision import datasets

    return {
        "mnist": datasets.MNIST,
        "fashion-mnist": datasets.FashionMNIST,
        "cifar10": datasets.CIFAR10,
        "cifar100": datasets.CIFAR100,
    }[key]


@functools.lru_cache(maxsize=4)
def _files(key: str, root: str, download: bool) -> tuple:
    if download:
        for train in (True, False):
            _dataset_class(key)(root, train=train, download=True)
    read = _cifar if key.startswith("cifar") else _mnist
    x_train, y_train, x_test, y_test, classes = read(key, Path(root))
    x_train, x_test = _standardise(x_train, x_test)
    return x_train, y_train, x_test, y_test, classes


class _Missing(Exception):
    """A file that is not there (the message is its path)."""


class _Unusable(Exception):
    """A file that is there but does not hold the data set (the message names it and why)."""


def _read_all(key: str, root: Path, readers: Mapping[str, Callable[[], tuple]]) -> dict[str, Any]:
    """Read every file of a data set, then raise one error naming each file that failed, or
    log one line naming each file that is not the official one but holds the data set.

    Args:
        key: the data set.
        root: its data folder, for the messages.
        readers: file name -> a callable returning ``(value, note)``, where ``note`` is
            ``"<file> (MD5 <md5>)"`` for a file that is not the official one, else None.

    Returns:
        File name -> value.

    Raises:
        DataError: a file is missing or does not hold the data set.
    """
    values, missing, unusable, unofficial = {}, [], [], []
    for name, read in readers.items():
        try:
            values[name], note = read()
        except _Missing as error:
            missing.append(str(error))
        except _Unusable as error:
            unusable.append(str(error))
        except PermissionError as error:  # a folder on the way that cannot be read or entered
            unusable.append(f"{error.filename or name} cannot be read (permission denied)")
        else:
            unofficial += [note] if note is not None else []
    if missing or unusable:
        what = "; ".join((["missing: " + ", ".join(missing)] if missing else []) + unusable)
        raise DataError(
            f"{key} under {root} is not usable ({what}). Expected torchvision's layout, "
            f"{_LAYOUT[key]}: copy the official files from {_SOURCE[key]} there, or point "
            f"root / {DATA_ENV} / --data-dir at the folder that holds them."
        )
    if unofficial:
        _logger.warning(_note(key, unofficial))
    return values


def _note(key: str, unofficial: list[str]) -> str:
    """The line that says which files are not the official ones and what was checked."""
    title = _TITLE[key]
    what = f"are {title}'s" if key in _CONTENT_MD5 else f"have {title}'s counts and shapes"
    if len(unofficial) == 1:
        return f"{key}: {unofficial[0]} is not the official file but its contents {what}; using it"
    files = ", ".join(unofficial)
    return f"{key}: {files} are not the official files but their contents {what}; using them"


def _mnist(key: str, root: Path) -> tuple:
    """MNIST's (or Fashion-MNIST's) training and test images and labels and its classes, from
    the four idx files in ``<root>/MNIST/raw`` (``FashionMNIST/raw``)."""
    cls = _dataset_class(key)
    raw = root / cls.__name__ / "raw"
    archive_md5 = {os.path.basename(url)[: -len(".gz")]: md5 for url, md5 in cls.resources}
    readers = {
        name: functools.partial(_read_idx, key, raw / name, shape, archive_md5[name])
        for name, shape in _IDX_SHAPES.items()
    }
    arrays = _read_all(key, root, readers)
    out = []
    for part in ("train", "t10k"):
        images = torch.tensor(arrays[f"{part}-images-idx3-ubyte"], dtype=torch.float32)
        labels = torch.tensor(arrays[f"{part}-labels-idx1-ubyte"], dtype=torch.int64)
        out += [images[:, None].div_(255), labels]
    return (*out, tuple(cls.classes))


def _read_idx(
    key: str, path: Path, shape: tuple[int, ...], archive_md5: str
) -> tuple[np.ndarray, str | None]:
    """One idx file: ``path`` where it is there (torchvision reads that), else ``path.gz``,
    decompressed in memory, so that nothing is ever written.

    The checks that cost nothing run always: magic number, counts, shape, size, labels 0-9.
    The MD5 of the contents is computed only where no official archive vouches for them (a
    decompressed file, or a .gz whose MD5 is not the official one): about 0.1 s for MNIST's
    55 MB, less than decompressing them. gzip's CRC catches a damaged archive.

    Args:
        key: the data set.
        path: the decompressed file's path (with ``.gz`` appended: the archive's).
        shape: the shape of the array it must hold.
        archive_md5: the official archive's MD5.

    Returns:
        The array (uint8, read-only) and, for an archive that is not the official one, the
        note naming it.

    Raises:
        _Missing, _Unusable: no such file, or one that does not hold the data set.
    """
    packed = path.with_name(f"{path.name}.gz")
    fix, note = "", None
    if path.is_file():
        where, data, vouched = path, _read_bytes(path), False
        if packed.is_file():
            fix = f": delete it and {packed.name} beside it is read"
    elif packed.is_file():
        where, blob = packed, _read_bytes(packed)
        digest = hashlib.md5(blob).hexdigest()
        vouched = digest == archive_md5
        note = None if vouched else f"{packed.name} (MD5 {digest})"
        try:
            data = gzip.decompress(blob)
        except (OSError, EOFError, zlib.error) as error:
            raise _Unusable(f"{packed} is corrupt (gzip: {error})") from None
    else:
        raise _Missing(f"{path}[.gz]")
    try:
        array = _parse_idx(key, data, shape, where)
        known = None if vouched else _CONTENT_MD5.get(key, {}).get(path.name)
        if known is not None and (digest := hashlib.md5(data).hexdigest()) != known:
            raise _Unusable(
                f"{where} has the right shape but its contents are not "
                f"{_TITLE[key]}'s (MD5 {digest} decompressed, the official {known})"
            )
    except _Unusable as error:
        raise _Unusable(f"{error}{fix}") from None
    return array, note


def _parse_idx(key: str, data: bytes, shape: tuple[int, ...], where: Path) -> np.ndarray:
    """The array in an idx file of unsigned bytes (magic 0x0000080N, N dimensions, big-endian
    int32 sizes, then the bytes); ``where`` names the file in the error."""
    nd, title = len(shape), _TITLE[key]
    header = 4 * (nd + 1)
    if len(data) < header or data[:4] != bytes([0, 0, 8, nd]):
        raise _Unusable(
            f"{where} is not an idx file of unsigned bytes in {nd} dimensions "
            f"(it starts with {data[:4].hex() or 'nothing'})"
        )
    dims = tuple(int.from_bytes(data[4 * i : 4 * i + 4], "big") for i in range(1, nd + 1))
    if dims != shape:
        raise _Unusable(f"{where} holds {_shape(dims)} values, {title}'s holds {_shape(shape)}")
    size = header + math.prod(shape)
    if len(data) < size:
        raise _Unusable(f"{where} is truncated ({len(data)} of {size} bytes)")
    if len(data) > size:
        raise _Unusable(f"{where} has {len(data) - size} bytes after its {_shape(shape)} values")
    array = np.frombuffer(data, dtype=np.uint8, offset=header).reshape(shape)
    if nd == 1 and array.max() > 9:
        raise _Unusable(f"{where} holds a label {array.max()}, outside {title}'s labels 0-9")
    return array


def _read_bytes(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as error:
        raise _Unusable(f"{path} cannot be read ({error.strerror or error})") from None


def _shape(dims: tuple[int, ...]) -> str:
    return "x".join(str(d) for d in dims)


def _cifar(key: str, root: Path) -> tuple:
    """CIFAR's training and test images and labels and its class names, from the pickles in
    ``<root>/cifar-10-batches-py`` (``cifar-100-python``)."""
    cls = _dataset_class(key)
    folder, meta = root / cls.base_folder, cls.meta["filename"]
    readers: dict[str, Callable[[], tuple]] = {
        name: functools.partial(_read_cifar_batch, key, folder / name, md5)
        for name, md5 in cls.train_list + cls.test_list
    }
    readers[meta] = functools.partial(_read_cifar_meta, key, folder / meta, cls.meta["md5"])
    values = _read_all(key, root, readers)
    out = []
    for files in (cls.train_list, cls.test_list):
        data = np.concatenate([values[name][0] for name, _ in files])
        labels = np.concatenate([values[name][1] for name, _ in files])
        images = torch.tensor(data, dtype=torch.float32).reshape(-1, 3, 32, 32).div_(255)
        out += [images, torch.from_numpy(labels)]
    return (*out, values[meta])


def _read_cifar_batch(key: str, path: Path, md5: str) -> tuple[tuple[np.ndarray, ...], str | None]:
    """One CIFAR pickle of images: ``data`` (uint8, rows x 3072) and its labels.

    A file whose MD5 is not the official ``md5`` is used where its contents are the data set's:
    checked by their MD5 (:func:`_cifar_digest`) where one is known, else by keys and shapes.
    The file's MD5 is computed on every load (about 0.3 s for CIFAR-10's 180 MB, which are read
    anyway); that of the contents only for a file that is not the official one.

    Returns:
        ``(data, labels as int64)`` and, for a file that is not the official one, the note
        naming it.

    Raises:
        _Missing, _Unusable: no such file, or one that does not hold the data set.
    """
    entry, digest = _unpickle(path, md5)
    label_key, _, classes = _CIFAR_KEYS[key]
    title, rows = _TITLE[key], 50000 if path.name == "train" else 10000  # CIFAR-100's one file
    if not (
        isinstance(entry, dict)
        and isinstance(entry.get("data"), np.ndarray)
        and label_key in entry
    ):
        raise _Unusable(f"{path} is not a CIFAR batch: it lacks the keys 'data' and {label_key!r}")
    data, labels = entry["data"], np.asarray(entry[label_key])
    if data.dtype != np.uint8 or data.shape != (rows, 3072):
        raise _Unusable(
            f"{path} holds data of shape {_shape(data.shape)} ({data.dtype}), "
            f"{title}'s is {rows}x3072 (uint8)"
        )
    if (
        labels.shape != (rows,)
        or labels.dtype.kind not in "iu"
        or not 0 <= labels.min() <= labels.max() < classes
    ):
        raise _Unusable(
            f"{path} holds {_shape(labels.shape)} {label_key} ({labels.dtype}), "
            f"{title}'s are {rows} integers 0-{classes - 1}"
        )
    labels = labels.astype(np.int64)
    known = None if digest is None else _CONTENT_MD5.get(key, {}).get(path.name)
    if known is not None and (contents := _cifar_digest(data, labels)) != known:
        raise _Unusable(
            f"{path} has the right shape but its contents are not {title}'s "
            f"(MD5 {contents} of data and labels, the official {known})"
        )
    return (data, labels), None if digest is None else f"{path.name} (MD5 {digest})"


def _read_cifar_meta(key: str, path: Path, md5: str) -> tuple[tuple[str, ...], str | None]:
    """CIFAR's class names, from its meta pickle; the note as for :func:`_read_cifar_batch`."""
    entry, digest = _unpickle(path, md5)
    _, names_key, classes = _CIFAR_KEYS[key]
    names = entry.get(names_key) if isinstance(entry, dict) else None
    if not (
        isinstance(names, list)
        and len(names) == classes
        and all(isinstance(n, str) for n in names)
    ):
        raise _Unusable(
            f"{path} is not CIFAR's meta file: it lacks {names_key!r}, a list of {classes} names"
        )
    return tuple(names), None if digest is None else f"{path.name} (MD5 {digest})"


def _cifar_digest(data: np.ndarray, labels: np.ndarray) -> str:
    digest = hashlib.md5(np.ascontiguousarray(data).tobytes())
    digest.update(labels.astype("<i8").tobytes())
    return digest.hexdigest()


class _Forbidden(pickle.UnpicklingError):
    """A pickle that would build something other than what CIFAR's pickles hold."""


class _ArraysOnly(pickle.Unpickler):
    """Builds what CIFAR's pickles hold (dicts, lists, strings, numbers, numpy arrays) and
    refuses anything else, so that a file that is not the official one runs no code."""

    ALLOWED = {
        ("numpy", "ndarray"),
        ("numpy", "dtype"),
        ("numpy.core.multiarray", "_reconstruct"),  # protocols 2-4, numpy 1 and 2
        ("numpy._core.multiarray", "_reconstruct"),
        ("numpy.core.numeric", "_frombuffer"),  # protocol 5
        ("numpy._core.numeric", "_frombuffer"),
        ("_codecs", "encode"),  # bytes in protocol 2 written by Python 3
    }

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) not in self.ALLOWED:
            raise _Forbidden(f"it would build {module}.{name}; refused, nothing was run")
        return super().find_class(module, name)


def _unpickle(path: Path, md5: str) -> tuple[Any, str | None]:
    """The object in a CIFAR pickle, and the file's MD5 where it is not the official ``md5``."""
    if not path.is_file():
        raise _Missing(str(path))
    blob = _read_bytes(path)
    digest = hashlib.md5(blob).hexdigest()
    try:
        entry = _ArraysOnly(io.BytesIO(blob), encoding="latin1").load()
    except _Forbidden as error:
        raise _Unusable(f"{path} is not a CIFAR pickle: {error}") from None
    except Exception as error:  # a damaged pickle fails in many ways (EOFError, KeyError, ...)
        why = f"{type(error).__name__}: {error}"
        raise _Unusable(f"{path} is truncated or corrupt ({why})") from None
    return entry, None if digest == md5 else digest


# --- your own data: a factory by import path, or a folder of images ---


def _from_factory(spec: str) -> Task | tuple:
    """What the factory at ``spec`` returns: a :class:`Task`, or its four tensors, standardised
    per channel with the training set's statistics as the built-in sets are."""
    made = load_factory(spec, what="[task] name", args=())()
    if isinstance(made, Task):
        return made
    if not (isinstance(made, (tuple, list)) and len(made) == 4):
        raise DataError(
            f"[task] name {spec!r}: the factory returned {type(made).__name__}; return a "
            "optuna_clr.training.tasks.Task or the tensors (x_train, y_train, x_test, y_test)"
        )
    train = Task.from_tensors(train=(made[0], made[1]), valid=(made[2], made[3]), name=spec)
    x_train, x_test = _standardise(train.train.x, train.valid.x)
    return x_train, train.train.y, x_test, train.valid.y, train.classes


def _image_folder(root: Path, image_size: int | None) -> tuple:
    """``root/train`` and ``root/val`` (or ``root/test``) read once into standardised tensors."""
    from torchvision.datasets import ImageFolder

    test_dir = next((root / d for d in ("val", "test") if (root / d).is_dir()), None)
    if not (root / "train").is_dir() or test_dir is None:
        raise DataError(
            f"imagefolder: {root} needs train/ and val/ (or test/) folders of class folders "
            f"({_LAYOUT['imagefolder']})"
        )
    try:
        train, test = ImageFolder(str(root / "train")), ImageFolder(str(test_dir))
    except (FileNotFoundError, OSError) as error:
        raise DataError(f"imagefolder: {error}") from None
    unknown = sorted(set(test.classes) - set(train.classes))
    if unknown:
        raise DataError(f"imagefolder: {test_dir} has classes that train/ lacks: {unknown}")
    _check_fits_in_memory(root, train.samples + test.samples, image_size)
    x_train, y_train = _read_images(train.samples, train.classes, train.classes, image_size)
    x_test, y_test = _read_images(test.samples, test.classes, train.classes, image_size)
    if x_train.shape[1:] != x_test.shape[1:]:
        raise DataError(
            f"imagefolder: train/ images are {_shape(tuple(x_train.shape[1:]))} "
            f"but {test_dir.name}/ ones {_shape(tuple(x_test.shape[1:]))}; "
            "set [task] image_size to resize them all"
        )
    x_train, x_test = _standardise(x_train, x_test)
    return x_train, y_train, x_test, y_test, tuple(train.classes)


def _read_images(
    samples: list[tuple[str, int]], classes: list[str], names: list[str], image_size: int | None
) -> tuple[torch.Tensor, torch.Tensor]:
    """The images as one float tensor in [0, 1] (RGB) and their labels in ``names``' order."""
    from PIL import Image
    from torchvision.transforms import functional as TF

    images, first = [], None
    for path, _ in samples:
        with Image.open(path) as image:
            x = TF.pil_to_tensor(image.convert("RGB"))
        if image_size is not None:
            x = TF.resize(x, [image_size, image_size], antialias=True)
        elif first is None:
            first = (path, tuple(x.shape))
        elif tuple(x.shape) != first[1]:
            raise DataError(
                f"imagefolder: {path} is {_shape(tuple(x.shape))} but {first[0]} is "
                f"{_shape(first[1])}; set [task] image_size to resize them all"
            )
        images.append(x)
    labels = torch.tensor([names.index(classes[c]) for _, c in samples], dtype=torch.int64)
    return torch.stack(images).float() / 255.0, labels


def _check_fits_in_memory(
    root: Path, samples: list[tuple[str, int]], image_size: int | None
) -> None:
    """Refuse, before reading them, images that as float32 tensors would fill more than half of
    the free memory: such data needs a loop that streams from disk."""
    from PIL import Image

    if not samples:
        raise DataError(f"imagefolder: no images under {root}")
    with Image.open(samples[0][0]) as image:
        width, height = (image_size, image_size) if image_size else image.size
    need = len(samples) * 3 * width * height * 4
    free = os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    if need > free / 2:
        raise DataError(
            f"imagefolder: {len(samples)} images of 3x{height}x{width} "
            f"need {need / 1e9:.1f} GB as tensors, more than half the {free / 1e9:.1f} GB free; "
            "set [task] image_size smaller, or "
            "train with your own loop that streams from disk (docs/own-model.md)"
        )


def check_fits(task: Task, device: Any) -> None:
    """Refuse a task too large for ``device``'s free memory (a CUDA device; the host already
    holds it), before it is copied there.

    Raises:
        DataError: naming the size, the free memory and the way out.
    """
    device = torch.device(device)
    if device.type != "cuda":
        return
    splits = [s for s in (task.train, task.valid, task.test) if s is not None]
    need = sum(s.x.numel() * s.x.element_size() + s.y.numel() * 8 for s in splits)
    free, _ = torch.cuda.mem_get_info(device)
    if need > 0.8 * free:
        raise DataError(
            f"{task.name}: the data needs {need / 1e9:.1f} GB on {device}, "
            f"which has {free / 1e9:.1f} GB free: "
            "use a smaller image_size or validation split, or train with your own loop that "
            "streams from disk (docs/own-model.md)"
        )
