from __future__ import annotations

import pytest
import torch

from optuna_clr.training import models


@pytest.mark.parametrize(
    "name, shape",
    [
        ("mlp", (1, 8, 8)),
        ("lenet", (1, 28, 28)),
        ("caffe-cifar10-full", (3, 32, 32)),
        ("caffe-cifar10-quick", (3, 32, 32)),
        ("resnet20", (3, 32, 32)),
        ("resnet18", (3, 32, 32)),
    ],
)
def test_every_model_maps_images_to_class_scores(name, shape):
    net = models.create(name, image_shape=shape, num_classes=10, seed=0)
    out = net(torch.randn(4, *shape))
    assert out.shape == (4, 10)
    out.sum().backward()  # trainable end to end
    assert all(p.grad is not None for p in net.parameters())


def test_registry_lists_the_papers_models():
    assert {
        "mlp",
        "lenet",
        "caffe-cifar10-full",
        "caffe-cifar10-quick",
        "resnet20",
        "resnet18",
    } <= set(models.names())


def test_caffe_cifar10_full_matches_the_prototxt():
    net = models.create("caffe-cifar10-full", image_shape=(3, 32, 32), num_classes=10, seed=0)
    convs = [m for m in net.modules() if isinstance(m, torch.nn.Conv2d)]
    assert [(c.out_channels, c.kernel_size, c.padding) for c in convs] == [
        (32, (5, 5), (2, 2)),
        (32, (5, 5), (2, 2)),
        (64, (5, 5), (2, 2)),
    ]
    assert net.classifier.in_features == 64 * 4 * 4  # Caffe pooling rounds up: 32 -> 16 -> 8 -> 4
    assert (
        abs(float(convs[0].weight.detach().std()) - 1e-4) < 2e-5
        and abs(float(convs[1].weight.detach().std()) - 0.01) < 2e-3
    )
    assert sum(p.numel() for p in net.parameters()) == 2_432 + 25_632 + 51_264 + 10_250
    groups = models.param_groups(net, weight_decay=0.004)
    by_scale = {
        (g["lr_scale"], g["weight_decay"]): sum(p.numel() for p in g["params"]) for g in groups
    }
    assert by_scale[(1.0, 0.004 * 250)] == 10 * 1024  # ip1 weights decay 250x
    assert by_scale[(2.0, 0.0)] == 10  # ip1 bias: twice the LR, no decay
    assert by_scale[(2.0, 0.004)] == 64  # conv1/conv2 biases


def test_within_channel_lrn_normalises_each_channel_alone():
    lrn = models.WithinChannelLRN(size=3, alpha=1.0, beta=1.0)
    x = torch.zeros(1, 2, 5, 5)
    x[0, 0, 2, 2] = 3.0
    y = lrn(x)
    assert y[0, 1].abs().sum() == 0  # channel 1 untouched by channel 0
    assert float(y[0, 0, 2, 2]) == pytest.approx(3.0 / (1 + 9.0 / 9))


def test_factories_and_seeds():
    a = models.create("mlp", image_shape=(1, 8, 8), num_classes=10, seed=3)
    b = models.create("mlp", image_shape=(1, 8, 8), num_classes=10, seed=3)
    c = models.create("mlp", image_shape=(1, 8, 8), num_classes=10, seed=4)
    assert all(torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters()))
    assert not torch.equal(a[1].weight, c[1].weight)
    mine = models.create(
        lambda: torch.nn.Linear(3, 2), image_shape=(1, 1, 3), num_classes=2, seed=0
    )
    assert isinstance(mine, torch.nn.Linear)
    with pytest.raises(TypeError, match="factory"):
        models.create(torch.nn.Linear(3, 2), image_shape=(1, 1, 3), num_classes=2)
    with pytest.raises(ValueError, match="unknown model 'vgg'"):
        models.create("vgg", image_shape=(1, 1, 3), num_classes=2)
