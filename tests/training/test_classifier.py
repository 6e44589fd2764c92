import lightning as L
import pytest
import torch

from bench.data import Synthetic
from bench.training import SpikingClassifier


def _tiny(**kwargs):
    params = dict(arch="mlp", arch_params={"hidden": [16]}, num_classes=4, input_shape=(1, 4, 4), timesteps=3,
                  seed=0)
    return SpikingClassifier(**{**params, **kwargs})


def _fit(model, tmp_path, epochs=1):
    data = Synthetic(num_classes=4, input_shape=(1, 4, 4), samples=160, batch_size=32)
    trainer = L.Trainer(max_epochs=epochs, logger=False, default_root_dir=tmp_path, enable_progress_bar=False,
                        enable_model_summary=False)
    trainer.fit(model, data)
    return trainer


def test_forward_averages_the_per_step_logits():
    model = _tiny(encoder="direct").eval()
    x = torch.rand(2, 1, 4, 4)
    steps = model.forward_steps(x)
    assert steps.shape == (3, 2, 4)
    assert torch.allclose(model(x), steps.mean(0))


def test_describe_records_every_constant_that_changes_results():
    info = _tiny(estimator="localzo", estimator_params={"delta": 0.2, "samples": 3}, decay=1.0).describe()
    assert info["estimator"]["name"] == "localzo"
    assert info["estimator"]["params"] == {"delta": 0.2, "samples": 3, "sampler": "normal"}
    assert info["estimator"]["area"] == 1.0
    assert info["neuron"] == {"model": "LIF", "decay": 1.0, "threshold": 1.0, "reset": "hard", "v_reset": 0.0,
                              "detach_reset": False}
    assert info["encoder"] == {"name": "rate", "params": {}, "stochastic": True}
    assert info["timesteps"] == 3 and info["seed"] == 0


def test_training_logs_firing_rates_and_gradient_sparsity(tmp_path):
    surrogate = _fit(_tiny(estimator="atan"), tmp_path / "atan").callback_metrics
    assert float(surrogate["train/grad_sparsity"]) == 0.0  # atan's estimate is never exactly 0
    assert 0.0 < float(surrogate["train/firing_rate/features.1"]) < 1.0
    zo = _fit(_tiny(estimator="localzo", estimator_params={"delta": 0.05, "samples": 1}), tmp_path / "zo")
    zo = zo.callback_metrics
    assert float(zo["train/grad_sparsity"]) > 0.5  # narrow delta: most neuron-steps get no gradient


def test_checkpoints_rebuild_the_model_from_plain_hyper_parameters(tmp_path):
    model = _tiny(estimator="localzo")
    trainer = _fit(model, tmp_path)
    path = tmp_path / "model.ckpt"
    trainer.save_checkpoint(path)
    assert torch.load(path, weights_only=True)["hyper_parameters"]["estimator"] == "localzo"
    loaded = SpikingClassifier.load_from_checkpoint(path).eval()
    model.eval()
    x = torch.rand(5, 1, 4, 4)
    for m in (model, loaded):
        m.encoder.restart_eval_stream()
    assert torch.equal(model(x), loaded(x))  # same weights, same seeded eval draws


def test_a_checkpoint_of_another_model_is_refused(tmp_path):
    trainer = _fit(_tiny(estimator="atan"), tmp_path)
    trainer.save_checkpoint(tmp_path / "atan.ckpt")
    checkpoint = torch.load(tmp_path / "atan.ckpt", weights_only=True)
    with pytest.raises(ValueError, match="estimator: checkpoint 'atan' vs config 'triangle'"):
        _tiny(estimator="triangle").on_load_checkpoint(checkpoint)


def test_bad_constants_are_refused_with_their_name():
    with pytest.raises(ValueError, match="threshold must be > 0"):
        _tiny(threshold=0.0)
    with pytest.raises(ValueError, match="timesteps"):
        _tiny(timesteps=0)
    with pytest.raises(KeyError, match="unknown encoder 'poisson'"):
        _tiny(encoder="poisson")
