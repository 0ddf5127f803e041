"""The papers' networks by name, and the hook for your own.

=========================  ====================================================================
name                       network
=========================  ====================================================================
``mlp``                    one hidden layer of 128 ReLU units (for ``digits``)
``lenet``                  LeNet-5 (two 5x5 conv + pool, three linear layers), MNIST-size inputs
``caffe-cifar10-full``     the CLR paper's CIFAR-10 network, Caffe's ``cifar10_full``
``caffe-cifar10-quick``    Caffe's ``cifar10_quick``
``resnet20``               He et al.'s CIFAR ResNet-20 (3 stages of 3 basic blocks, 16/32/64)
``resnet18``               torchvision's ResNet-18 with a 3x3 stem and no max-pool, for 32x32
=========================  ====================================================================

:func:`create` takes one of these names, any zero-argument callable that returns a fresh
``torch.nn.Module`` (``lambda: MyNet()``), so each trial starts from new weights, or an import
path to a builder called like the registered ones, ``build(image_shape, num_classes)``
(``"mypkg.nets:build"``, as a study file names it; see :mod:`optuna_clr.training.user_code`).

A model may carry ``param_multipliers``: ``{parameter name: (lr_scale, weight_decay_scale)}``,
Caffe's ``lr_mult`` / ``decay_mult``; :func:`param_groups` turns them into optimizer groups.
"""

from __future__ import annotations

from collections.abc import Callable
import math
from typing import Any
from typing import cast

import torch
from torch import nn
import torch.nn.functional as F

from optuna_clr.training.user_code import is_import_path
from optuna_clr.training.user_code import load_factory


ModelSpec = str | Callable[[], nn.Module]
_REGISTRY: dict[str, Callable[[tuple[int, int, int], int], nn.Module]] = {}


def register(name: str) -> Callable:
    """Decorator: register ``builder(image_shape, num_classes) -> nn.Module`` under ``name``."""

    def wrap(builder: Callable[[tuple[int, int, int], int], nn.Module]) -> Callable:
        _REGISTRY[name] = builder
        return builder

    return wrap


def names() -> list[str]:
    return sorted(_REGISTRY)


def check(model: Any) -> None:
    """Refuse a model that :func:`create` could not build, without building it: an import
    path is imported and its builder's signature checked.

    Raises:
        ValueError: a name that is neither registered nor an import path, or an import path
            that does not import or names no builder taking ``(image_shape, num_classes)``
            (:class:`~optuna_clr.training.user_code.UserCodeError`).
        TypeError: a module instance (every trial needs fresh weights), or neither a name nor
            a callable.
    """
    if isinstance(model, nn.Module):
        raise TypeError(
            "pass a model factory (e.g. lambda: MyNet()) or a registered name, "
            "not a module instance, "
            "so that every trial starts from fresh weights"
        )
    if is_import_path(model):
        load_factory(model, what="model", args=("image_shape", "num_classes"))
    elif isinstance(model, str):
        if model not in _REGISTRY:
            raise ValueError(
                f"unknown model {model!r}: model must be one of {names()}, an import path to "
                "your builder ('mypkg.nets:build') or a zero-argument factory (lambda: MyNet())"
            )
    elif not callable(model):
        raise TypeError(
            f"model must be a registered name ({names()}), an import path to your builder "
            f"('mypkg.nets:build') or a zero-argument factory, got {model=}"
        )


def create(
    model: ModelSpec,
    *,
    image_shape: tuple[int, int, int],
    num_classes: int,
    seed: int | None = None,
) -> nn.Module:
    """Build a fresh model. With ``seed``, the initial weights depend on it alone (the global
    RNG is left as it was).

    Raises:
        ValueError: an unknown name or a broken import path (see :func:`check`).
        TypeError: a module instance, or neither a name nor a callable.
    """
    check(model)
    shape = cast(tuple[int, int, int], tuple(image_shape))  # a list from a study file, too
    build: Callable[[], nn.Module]
    if is_import_path(model):
        builder = load_factory(model, what="model", args=("image_shape", "num_classes"))  # type: ignore[arg-type]
        build = lambda: builder(shape, num_classes)  # noqa: E731
    elif isinstance(model, str):
        build = lambda: _REGISTRY[model](shape, num_classes)  # noqa: E731
    else:
        build = model
    with torch.random.fork_rng(devices=[]):
        if seed is not None:
            torch.manual_seed(seed)
        net = build()
    if not isinstance(net, nn.Module):
        raise TypeError(f"the model factory returned {type(net).__name__}, not a torch.nn.Module")
    return net


def multipliers(model: nn.Module) -> dict[str, tuple[float, float]]:
    """Each parameter's (LR, weight decay) multipliers: the model's ``param_multipliers``
    (Caffe's lr_mult and decay_mult), (1, 1) for the parameters it does not name."""
    named: dict[str, tuple[float, float]] = getattr(model, "param_multipliers", {})
    return {name: named.get(name, (1.0, 1.0)) for name, _ in model.named_parameters()}


def param_groups(model: nn.Module, weight_decay: float) -> list[dict[str, Any]]:
    """Optimizer param groups honouring the model's :func:`multipliers`; one group with
    ``weight_decay`` when it has none."""
    if not getattr(model, "param_multipliers", None):
        return [
            {
                "params": [p for p in model.parameters() if p.requires_grad],
                "weight_decay": weight_decay,
            }
        ]
    scales = multipliers(model)
    groups: dict[tuple[float, float], list[nn.Parameter]] = {}
    for name, p in model.named_parameters():
        if p.requires_grad:
            groups.setdefault(scales[name], []).append(p)
    return [
        {"params": ps, "lr_scale": lr_scale, "weight_decay": weight_decay * decay_scale}
        for (lr_scale, decay_scale), ps in groups.items()
    ]


def _flat_size(features: nn.Module, image_shape: tuple[int, int, int]) -> int:
    with torch.no_grad():
        return int(features(torch.zeros(1, *image_shape)).numel())


@register("mlp")
def mlp(image_shape: tuple[int, int, int], num_classes: int, hidden: int = 128) -> nn.Module:
    return nn.Sequential(
        nn.Flatten(),
        nn.Linear(math.prod(image_shape), hidden),
        nn.ReLU(),
        nn.Linear(hidden, num_classes),
    )


@register("lenet")
def lenet(image_shape: tuple[int, int, int], num_classes: int) -> nn.Module:
    small = image_shape[1] < 16  # 8x8 digits: pad the second conv too, or nothing is left
    features = nn.Sequential(
        nn.Conv2d(image_shape[0], 6, 5, padding=2),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Conv2d(6, 16, 5, padding=2 if small else 0),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Flatten(),
    )
    return nn.Sequential(
        features,
        nn.Linear(_flat_size(features, image_shape), 120),
        nn.ReLU(),
        nn.Linear(120, 84),
        nn.ReLU(),
        nn.Linear(84, num_classes),
    )


class WithinChannelLRN(nn.Module):
    """Caffe's LRN with ``norm_region: WITHIN_CHANNEL``: ``x / (1 + alpha * mean(x^2 over a
    size x size window))^beta`` (zero padding counted, as Caffe's average pooling does).
    ``torch.nn.LocalResponseNorm`` normalises across channels instead."""

    def __init__(self, size: int = 3, alpha: float = 5e-5, beta: float = 0.75) -> None:
        super().__init__()
        self.size, self.alpha, self.beta = size, alpha, beta

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        mean_sq = F.avg_pool2d(
            x * x, self.size, stride=1, padding=self.size // 2, count_include_pad=True
        )
        return x / (1 + self.alpha * mean_sq).pow(self.beta)


class CaffeInputScale(nn.Module):
    """Caffe's CIFAR-10 nets see raw 0-255 pixels minus the mean image; our tasks are
    standardised (std 1), so scale by 64 (255 x CIFAR-10's pixel std, about 0.25) to give
    conv1's tiny 1e-4 initialisation the input scale it was tuned for."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * 64.0


def _gaussian_(layer: nn.Module, std: float) -> nn.Module:
    nn.init.normal_(cast(torch.Tensor, layer.weight), std=std)
    nn.init.zeros_(cast(torch.Tensor, layer.bias))
    return layer


class CaffeCifar10Full(nn.Module):
    """Caffe's ``cifar10_full``, the CLR paper's CIFAR-10 network.

    conv1 5x5x32 (std 1e-4) -> max-pool 3/2 -> ReLU -> LRN; conv2 5x5x32 (std 0.01) -> ReLU ->
    avg-pool 3/2 -> LRN; conv3 5x5x64 (std 0.01) -> ReLU -> avg-pool 3/2; ip1 -> classes
    (std 0.01). Pooling rounds up, as Caffe's does (32 -> 16 -> 8 -> 4). Biases learn at twice
    the LR; ip1's weights decay 250 times more and its bias not at all (Caffe's multipliers).
    """

    def __init__(self, image_shape: tuple[int, int, int], num_classes: int) -> None:
        super().__init__()
        c = image_shape[0]
        self.features = nn.Sequential(
            CaffeInputScale(),
            _gaussian_(nn.Conv2d(c, 32, 5, padding=2), 1e-4),
            nn.MaxPool2d(3, 2, ceil_mode=True),
            nn.ReLU(),
            WithinChannelLRN(),
            _gaussian_(nn.Conv2d(32, 32, 5, padding=2), 0.01),
            nn.ReLU(),
            nn.AvgPool2d(3, 2, ceil_mode=True),
            WithinChannelLRN(),
            _gaussian_(nn.Conv2d(32, 64, 5, padding=2), 0.01),
            nn.ReLU(),
            nn.AvgPool2d(3, 2, ceil_mode=True),
            nn.Flatten(),
        )
        self.classifier = _gaussian_(
            nn.Linear(_flat_size(self.features, image_shape), num_classes), 0.01
        )
        self.param_multipliers = {
            "features.1.bias": (2.0, 1.0),
            "features.5.bias": (2.0, 1.0),
            "classifier.weight": (1.0, 250.0),
            "classifier.bias": (2.0, 0.0),
        }

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.features(x))


class CaffeCifar10Quick(nn.Module):
    """Caffe's ``cifar10_quick``: conv 5x5x32 (std 1e-4) -> max-pool -> ReLU; conv 5x5x32 ->
    ReLU -> avg-pool; conv 5x5x64 -> ReLU -> avg-pool; ip 64 -> ip classes (std 0.1). Biases
    learn at twice the LR."""

    def __init__(self, image_shape: tuple[int, int, int], num_classes: int) -> None:
        super().__init__()
        c = image_shape[0]
        self.features = nn.Sequential(
            CaffeInputScale(),
            _gaussian_(nn.Conv2d(c, 32, 5, padding=2), 1e-4),
            nn.MaxPool2d(3, 2, ceil_mode=True),
            nn.ReLU(),
            _gaussian_(nn.Conv2d(32, 32, 5, padding=2), 0.01),
            nn.ReLU(),
            nn.AvgPool2d(3, 2, ceil_mode=True),
            _gaussian_(nn.Conv2d(32, 64, 5, padding=2), 0.01),
            nn.ReLU(),
            nn.AvgPool2d(3, 2, ceil_mode=True),
            nn.Flatten(),
        )
        flat = _flat_size(self.features, image_shape)
        self.classifier = nn.Sequential(
            _gaussian_(nn.Linear(flat, 64), 0.1), _gaussian_(nn.Linear(64, num_classes), 0.1)
        )
        self.param_multipliers = {
            name: (2.0, 1.0) for name, _ in self.named_parameters() if name.endswith("bias")
        }

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.features(x))


register("caffe-cifar10-full")(CaffeCifar10Full)
register("caffe-cifar10-quick")(CaffeCifar10Quick)


class BasicBlock(nn.Module):
    def __init__(self, c_in: int, c_out: int, stride: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(c_in, c_out, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(c_out)
        self.conv2 = nn.Conv2d(c_out, c_out, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(c_out)
        self.shortcut: nn.Module = nn.Identity()
        if stride != 1 or c_in != c_out:
            self.shortcut = nn.Sequential(
                nn.Conv2d(c_in, c_out, 1, stride, bias=False), nn.BatchNorm2d(c_out)
            )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = F.relu(self.bn1(self.conv1(x)))
        return F.relu(self.bn2(self.conv2(out)) + self.shortcut(x))


class CifarResNet(nn.Module):
    """He et al. (2016), section 4.2: a 3x3 stem of 16 channels, three stages of ``n`` basic
    blocks (16, 32, 64 channels; stride 2 at stages 2 and 3), global average pool, linear.
    ``n = 3`` is ResNet-20 (0.27M parameters)."""

    def __init__(self, image_shape: tuple[int, int, int], num_classes: int, n: int = 3) -> None:
        super().__init__()
        layers: list[nn.Module] = [
            nn.Conv2d(image_shape[0], 16, 3, 1, 1, bias=False),
            nn.BatchNorm2d(16),
            nn.ReLU(),
        ]
        c = 16
        for width, stride in ((16, 1), (32, 2), (64, 2)):
            for i in range(n):
                layers.append(BasicBlock(c, width, stride if i == 0 else 1))
                c = width
        self.features = nn.Sequential(*layers, nn.AdaptiveAvgPool2d(1), nn.Flatten())
        self.classifier = nn.Linear(c, num_classes)
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.features(x))


register("resnet20")(CifarResNet)


@register("resnet18")
def resnet18(image_shape: tuple[int, int, int], num_classes: int) -> nn.Module:
    import torchvision

    net = torchvision.models.resnet18(num_classes=num_classes)
    net.conv1 = nn.Conv2d(image_shape[0], 64, 3, 1, 1, bias=False)
    net.maxpool = nn.Identity()
    return net
