import numpy as np
import pytest
import torch

from bench.data import CIFAR10, CIFAR100, Cutout, read_cifar_pickles

from .conftest import write_cifar_parquet


def _as_tensor(images: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(images).permute(0, 3, 1, 2).float() / 255.0


def _stack(dataset):
    xs, ys = zip(*(dataset[i] for i in range(len(dataset))), strict=True)
    return torch.stack(xs), torch.stack(ys)


def test_the_pickle_reader_keeps_cifars_channel_layout(cifar10_files):
    root, arrays = cifar10_files
    images, labels = read_cifar_pickles([root / "cifar-10-batches-py" / "test_batch"], "labels")
    assert images.shape == (20, 32, 32, 3) and images.dtype == np.uint8
    np.testing.assert_array_equal(images, arrays["test"][0])
    with open(root / "cifar-10-batches-py" / "test_batch", "rb") as f:
        import pickle

        row = pickle.load(f, encoding="latin1")["data"][0]
    assert images[0, 0, 0].tolist() == [row[0], row[1024], row[2048]]  # pixel (0, 0): R, G, B planes
    np.testing.assert_array_equal(labels, arrays["test"][1])


def test_torchvision_source_splits_train_into_train_and_val(cifar10_files):
    root, arrays = cifar10_files
    dm = CIFAR10(data_dir=str(root), verify_md5=False, augment=False, num_workers=0)
    dm.setup()
    sizes = {name: len(ds) for name, ds in dm.splits.items()}
    assert sizes == {"train": 90, "val": 10, "test": 20}
    assert dm.labels["val"].bincount().tolist() == [1] * 10  # 10 % of each class
    x_test, y_test = _stack(dm.splits["test"])
    assert torch.equal(x_test, _as_tensor(arrays["test"][0]))  # the official test set, in file order
    assert torch.equal(y_test, torch.as_tensor(arrays["test"][1]))
    x_train, _ = _stack(dm.splits["train"])
    x_val, _ = _stack(dm.splits["val"])
    all_train = _as_tensor(arrays["train"][0])
    rows = {tuple(r.flatten().tolist()[:16]) for r in torch.cat([x_train, x_val])}
    assert len(rows) == 100 == len({tuple(r.flatten().tolist()[:16]) for r in all_train})


def test_cifar100_reads_the_fine_labels(cifar100_files):
    root, arrays = cifar100_files
    dm = CIFAR100(data_dir=str(root), verify_md5=False, augment=False, num_workers=0)
    dm.setup()
    assert dm.num_classes == 100
    assert torch.equal(dm.labels["test"], torch.as_tensor(arrays["test"][1]))
    assert len(dm.splits["val"]) == 100 and dm.labels["val"].bincount().tolist() == [1] * 100


def test_files_that_are_not_the_official_release_are_refused(cifar10_files):
    root, _ = cifar10_files
    with pytest.raises(ValueError, match=r"data_batch_1 has md5 \w+, not the official c99cafc1.*verify_md5: false"):
        CIFAR10(data_dir=str(root)).setup()


def test_missing_data_says_where_and_how(tmp_path):
    with pytest.raises(FileNotFoundError) as err:
        CIFAR10(data_dir=str(tmp_path)).setup()
    message = str(err.value)
    assert str(tmp_path / "cifar-10-batches-py") in message and "data_batch_1" in message
    assert "download: true" in message and "source: huggingface" in message


def test_huggingface_parquet_gives_the_same_tensors_as_torchvision(cifar10_files, tmp_path):
    root, arrays = cifar10_files
    mirror = write_cifar_parquet(tmp_path / "hf", arrays, label="label")
    from_tv = CIFAR10(data_dir=str(root), verify_md5=False, augment=False, num_workers=0)
    from_hf = CIFAR10(source="huggingface", hf_path=str(mirror), augment=False, num_workers=0)
    for dm in (from_tv, from_hf):
        dm.setup()
    for split in ("train", "val", "test"):
        x_tv, y_tv = _stack(from_tv.splits[split])
        x_hf, y_hf = _stack(from_hf.splits[split])
        assert torch.equal(x_tv, x_hf) and torch.equal(y_tv, y_hf)


def test_an_unreachable_hub_dataset_is_explained(tmp_path):
    with pytest.raises(FileNotFoundError, match="local directory of parquet files"):
        CIFAR10(source="huggingface", hf_path=str(tmp_path / "nothing-here")).setup()


def test_augmentation_touches_the_training_split_only(cifar10_files):
    root, _ = cifar10_files
    dm = CIFAR10(data_dir=str(root), verify_md5=False, augment=True, cutout=8, num_workers=0)
    plain = CIFAR10(data_dir=str(root), verify_md5=False, augment=False, num_workers=0)
    dm.setup()
    plain.setup()
    torch.manual_seed(0)
    changed = sum(not torch.equal(dm.splits["train"][i][0], plain.splits["train"][i][0]) for i in range(30))
    assert changed >= 25  # crop/flip/cutout move almost every image (a zero shift and no flip can repeat)
    for split in ("val", "test"):
        assert torch.equal(_stack(dm.splits[split])[0], _stack(plain.splits[split])[0])


def test_cutout_zeroes_the_square_around_a_random_centre():
    image = torch.ones(3, 32, 32, dtype=torch.uint8)
    torch.manual_seed(3)
    out = Cutout(16)(image)
    torch.manual_seed(3)
    cy, cx = int(torch.randint(32, ())), int(torch.randint(32, ()))
    expected = torch.ones_like(image)
    expected[:, max(cy - 8, 0):min(cy + 8, 32), max(cx - 8, 0):min(cx + 8, 32)] = 0
    assert torch.equal(out, expected)
    assert (out == 0).sum() <= 3 * 16 * 16 and torch.equal(image, torch.ones_like(image))  # input untouched
