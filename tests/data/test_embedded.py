import pytest
import torch

from bench.data import Digits, MNIST5k, Synthetic, build_datamodule, stratified_split


def test_mnist5k_is_the_real_embedded_mnist_with_a_fixed_stratified_split():
    dm = MNIST5k()
    dm.setup()
    sizes = {name: len(ds) for name, ds in dm.splits.items()}
    assert sizes == {"train": 3500, "val": 500, "test": 1000}
    for name, per_class in (("train", 350), ("val", 50), ("test", 100)):
        assert dm.splits[name].tensors[1].bincount().tolist() == [per_class] * 10
    x = dm.splits["test"].tensors[0]
    assert x.shape[1:] == (1, 28, 28) and x.dtype == torch.float32
    assert 0.0 <= x.min() and x.max() == 1.0  # 255 / 255
    # The split depends on split_seed only: a second module gives the same test images.
    again = MNIST5k(split_seed=0)
    again.setup()
    assert torch.equal(again.splits["test"].tensors[0], x)
    other = MNIST5k(split_seed=1)
    other.setup()
    assert not torch.equal(other.splits["test"].tensors[0], x)


def test_stratified_split_partitions_every_class():
    labels = torch.tensor([0] * 50 + [1] * 30 + [2] * 7)
    test, val, train = stratified_split(labels, (0.2, 0.1), torch.Generator().manual_seed(0))
    everything = torch.cat([test, val, train])
    assert sorted(everything.tolist()) == list(range(len(labels)))  # disjoint and complete
    assert labels[test].bincount().tolist() == [10, 6, 1]  # round(0.2 * n) per class
    assert labels[val].bincount().tolist() == [5, 3, 1]  # round(0.1 * n) per class


def test_digits_are_sklearns_digits_scaled_to_unit_range():
    dm = Digits()
    dm.setup()
    x_all, y_all = dm.load()
    assert sum(len(ds) for ds in dm.splits.values()) == len(x_all) == 1797
    assert dm.input_shape == (1, 8, 8) and float(x_all.max()) == 1.0  # 16 / 16
    assert y_all.unique().tolist() == list(range(10))


def test_synthetic_is_seeded_and_balanced():
    a, b = Synthetic(samples=200, sample_seed=3), Synthetic(samples=200, sample_seed=3)
    assert torch.equal(a.load()[0], b.load()[0])
    x, y = a.load()
    assert y.bincount().tolist() == [20] * 10 and 0 <= x.min() and x.max() <= 1


def test_bad_fractions_are_refused():
    with pytest.raises(ValueError, match="val_fraction"):
        MNIST5k(val_fraction=0.5, test_fraction=0.6)


def test_build_by_name():
    assert isinstance(build_datamodule("digits", batch_size=8), Digits)
