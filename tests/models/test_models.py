import itertools

import pytest
import torch
from torch import nn

from bench.models import NeuronFactory, TimeDistributed, available_models, build_model
from bench.spiking import LIF, LIFParameters


@pytest.mark.parametrize(
    ("name", "input_shape"),
    [("mlp", (1, 28, 28)), ("cnn", (1, 8, 8)), ("vgg11", (3, 32, 32)), ("resnet19", (3, 32, 32))],
)
def test_every_model_maps_time_major_input_to_per_step_logits(name, input_shape):
    model = build_model(name, num_classes=7, input_shape=input_shape)
    out = model(torch.rand(2, 3, *input_shape))
    assert out.shape == (2, 3, 7)
    assert name in available_models()


def test_vgg11_has_the_certifiedsnn_layout():
    model = build_model("vgg11", num_classes=10)
    convs = [m for m in model.modules() if isinstance(m, nn.Conv2d)]
    assert [c.out_channels for c in convs] == [64, 128, 256, 512, 512, 512, 512, 512]
    widths = [3, 64, 128, 256, 512, 512, 512, 512, 512]
    conv_bn = sum(9 * a * b + 2 * b for a, b in itertools.pairwise(widths))  # bias-free conv + BN
    fc = (8192 * 4096 + 4096) + (4096 * 4096 + 4096) + (4096 * 10 + 10)  # 512 x 4 x 4 = 8192 features
    assert sum(p.numel() for p in model.parameters()) == conv_bn + fc
    assert sum(isinstance(m, LIF) for m in model.modules()) == 8 + 2


def test_resnet19_matches_the_published_size():
    # TET (Deng et al., ICLR 2022) and LocalZO report ResNet-19 with 12.63 M parameters.
    model = build_model("resnet19", num_classes=10)
    assert round(sum(p.numel() for p in model.parameters()) / 1e6, 2) == 12.63
    # stem + 8 blocks x 2 + the FC layer's LIF
    assert sum(isinstance(m, LIF) for m in model.modules()) == 1 + 16 + 1


def test_time_distributed_equals_a_loop_over_steps():
    torch.manual_seed(0)
    layers = TimeDistributed(nn.Conv2d(2, 3, 3), nn.BatchNorm2d(3)).eval()
    x = torch.randn(4, 5, 2, 6, 6)
    assert torch.allclose(layers(x), torch.stack([layers[1](layers[0](xt)) for xt in x]), atol=1e-6)


def test_the_neuron_factory_sets_constants_and_independent_estimator_seeds():
    make = NeuronFactory(LIFParameters(decay=1.0, threshold=0.5), "localzo", {"delta": 0.3}, seed=100)
    model = build_model("cnn", input_shape=(1, 8, 8), neuron=make)
    lifs = [m for m in model.modules() if isinstance(m, LIF)]
    assert [lif.p.decay for lif in lifs] == [1.0, 1.0] and lifs[0].p.threshold == 0.5
    assert [lif.estimator.seed for lif in lifs] == [100, 101]
    assert all(lif.estimator.delta == 0.3 for lif in lifs)


def test_a_bad_estimator_fails_when_the_factory_is_made():
    with pytest.raises(ValueError, match="delta must be > 0"):
        NeuronFactory(estimator="localzo", estimator_params={"delta": 0.0})


def test_none_keeps_the_builders_default():
    model = build_model("mlp", num_classes=3, hidden=None)
    assert model.features[0].out_features == 256
