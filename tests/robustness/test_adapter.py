import pytest
import torch
from torch import nn

from bench.robustness import AttackableSNN, check_gradient_mode
from bench.robustness.adapter import _BPTR
from bench.spiking import LIF
from bench.training import SpikingClassifier


def _model(**kwargs):
    params = dict(arch="mlp", arch_params={"hidden": [16]}, num_classes=3, input_shape=[1, 3, 3], timesteps=4,
                  decay=0.5, seed=1)
    return SpikingClassifier(**{**params, **kwargs}).eval()


def _input_grad(module, x, weights):
    x = x.clone().requires_grad_(True)
    (module(x) * weights).sum().backward()
    return x.grad


def test_every_mode_gives_batch_by_class_logits_and_the_same_forward():
    model, x = _model(encoder="direct"), torch.rand(5, 1, 3, 3)
    reference = AttackableSNN(model)(x)
    assert reference.shape == (5, 3)
    for mode in ("surrogate:atan", "surrogate:triangle", "bptr"):
        assert torch.equal(AttackableSNN(model, mode)(x), reference)  # only the backward differs
    assert torch.equal(AttackableSNN(model)(x), reference)  # neurons start at rest on every call


def test_own_mode_is_the_models_own_gradient_and_surrogates_match_a_model_trained_with_them():
    torch.manual_seed(0)
    x, w = torch.rand(4, 1, 3, 3), torch.randn(4, 3)
    atan = _model(encoder="direct", estimator="atan")
    triangle = _model(encoder="direct", estimator="triangle")
    triangle.load_state_dict(atan.state_dict())
    assert torch.allclose(_input_grad(AttackableSNN(atan), x, w), _input_grad(lambda v: atan(v), x, w))
    through = _input_grad(AttackableSNN(atan, "surrogate:triangle"), x, w)
    assert torch.allclose(through, _input_grad(lambda v: triangle(v), x, w), atol=1e-7)
    assert not torch.allclose(through, _input_grad(AttackableSNN(atan), x, w))
    assert isinstance(atan.network.features[1], LIF)  # the swap is undone after each call


def test_bptr_passes_gradient_only_where_a_neuron_fired():
    lif = LIF(decay=1.0, threshold=1.0)
    x = torch.tensor([[[0.4, 0.1, 1.2]], [[0.7, 0.1, 0.0]]])  # [T=2, B=1, 3]: fires, never fires, fires at t=0
    x.requires_grad_(True)
    upstream = torch.tensor([[[2.0, 3.0, 5.0]], [[7.0, 11.0, 13.0]]])
    (_BPTR(lif)(x) * upstream).sum().backward()
    assert torch.equal(x.grad, upstream * torch.tensor([1.0, 0.0, 1.0]))


def test_ann_twin_is_the_same_weights_with_relu():
    model = _model(encoder="rate")
    x = torch.rand(6, 1, 3, 3)
    linear1, linear2 = model.network.features[0], model.network.head
    manual = linear2(torch.relu(linear1(x.flatten(1))))
    assert torch.allclose(AttackableSNN(model, "ann")(x), manual, atol=1e-6)
    direct = _model(encoder="direct", encoder_params={"mean": [0.5], "std": [0.25]})
    manual = direct.network.head(torch.relu(direct.network.features[0](((x - 0.5) / 0.25).flatten(1))))
    assert torch.allclose(AttackableSNN(direct, "ann")(x), manual, atol=1e-6)


def test_rate_encoding_keeps_a_straight_through_gradient():
    model, x = _model(encoder="rate"), torch.rand(3, 1, 3, 3)
    grad = _input_grad(AttackableSNN(model), x, torch.randn(3, 3))
    assert grad.abs().sum() > 0


def test_bad_modes_are_refused_with_the_choices():
    with pytest.raises(ValueError, match="unknown gradient mode 'bptt'; choose one of own, bptr, ann"):
        check_gradient_mode("bptt")
    with pytest.raises(ValueError, match="surrogate:<name> with <name> in atan"):
        AttackableSNN(_model(), "surrogate:spline")
    frames = SpikingClassifier(arch="mlp", num_classes=3, input_shape=[2, 2, 2], encoder="frames", timesteps=2)
    with pytest.raises(ValueError, match="'ann' needs an image encoder"):
        AttackableSNN(frames, "ann")
    no_lif = _model()
    no_lif.network = nn.Linear(9, 3)
    with pytest.raises(ValueError, match="no LIF layers"):
        AttackableSNN(no_lif)


def test_an_attack_leaves_the_model_in_the_mode_it_found():
    from bench.robustness import build_attack

    for training in (False, True):
        model = _model(encoder="rate").train(training)
        build_attack("fgsm", AttackableSNN(model), 0.1)(torch.rand(2, 1, 3, 3), torch.tensor([0, 1]))
        assert model.training is training and model.encoder.training is training
