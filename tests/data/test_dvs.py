import numpy as np
import pytest
import torch

import bench.data.dvs as dvs
from bench.data import DVSGesture
from bench.data.dvs import bin_events


def _module(root, tmp_path, **kwargs):
    params = {"data_dir": str(root), "cache_dir": str(tmp_path / "cache"), "timesteps": 4, "num_workers": 0}
    return DVSGesture(**{**params, **kwargs})


def _events(rows):
    dtype = np.dtype([("x", np.int16), ("y", np.int16), ("p", bool), ("t", np.int64)])
    return np.array([tuple(r) for r in rows], dtype=dtype)


def test_an_event_lands_at_its_polarity_row_and_column():
    frames = bin_events(_events([(5, 7, 1, 0), (9, 2, 0, 10), (5, 7, 1, 20), (0, 0, 0, 30)]), 2, "count", 128, None)
    assert frames.shape == (2, 2, 128, 128)
    assert frames[0, 1, 7, 5] == 1 and frames[0, 0, 2, 9] == 1  # [t, p, y, x], two events per frame
    assert frames[1, 1, 7, 5] == 1 and frames[1, 0, 0, 0] == 1
    small = bin_events(_events([(5, 7, 1, 0), (127, 127, 0, 5)]), 1, "count", 32, None)
    assert small[0, 1, 1, 1] == 1 and small[0, 0, 31, 31] == 1  # 128 -> 32: coordinates // 4


@pytest.mark.parametrize("size", [128, 32])
def test_count_binning_loses_no_event(dvs_files, tmp_path, size):
    root, events = dvs_files
    dm = _module(root, tmp_path, size=size)
    dm.setup()
    assert dm.input_shape == (2, size, size)
    frames, label = dm.splits["test"][0]
    assert frames.shape == (4, 2, size, size) and frames.dtype == torch.float32
    # The test split in path order: user24_fluorescent/0.npy first.
    assert label == 0 and frames.sum() == len(events[("test", 24, "fluorescent", 0)])
    total = sum(dm.splits["test"][i][0].sum() for i in range(len(dm.splits["test"])))
    assert total == sum(len(e) for (split, *_), e in events.items() if split == "test")


def test_time_binning_loses_no_event_either(dvs_files, tmp_path):
    root, events = dvs_files
    dm = _module(root, tmp_path, binning="time")
    dm.setup()
    n = len(events[("test", 24, "fluorescent", 0)])
    assert dm.splits["test"][0][0].sum() == n


def test_clip_makes_binary_frames_in_a_byte(dvs_files, tmp_path):
    root, _ = dvs_files
    dm = _module(root, tmp_path, clip=1, size=16)
    dm.setup()
    assert dm.dtype is np.uint8
    frames = dm.splits["train"][0][0]
    assert set(frames.unique().tolist()) <= {0.0, 1.0}


def test_validation_holds_out_whole_training_users(dvs_files, tmp_path):
    root, _ = dvs_files
    dm = _module(root, tmp_path)
    dm.setup()
    assert {k: len(v) for k, v in dm.splits.items()} == {"test": 110, "train": 88, "val": 22}  # 1 of 5 users
    val_user = dm.validation_users(np.array([1, 2, 3, 4, 5]))
    assert len(val_user) == 1 and val_user[0] in range(1, 6)
    assert dm.labels["val"].bincount().tolist() == [2] * 11  # two lightings x 11 gestures of one user


def test_the_cache_is_hit_again_and_missed_when_a_setting_changes(dvs_files, tmp_path, monkeypatch):
    root, _ = dvs_files
    first = _module(root, tmp_path)
    first.setup()
    calls = []
    real = dvs.bin_events
    monkeypatch.setattr(dvs, "bin_events", lambda *a: calls.append(a) or real(*a))
    again = _module(root, tmp_path)
    again.setup()
    assert calls == [] and again.cache_path() == first.cache_path()  # hit: nothing binned again
    for changed in ({"timesteps": 5}, {"binning": "time"}, {"size": 64}, {"clip": 2}):
        other = _module(root, tmp_path, **changed)
        assert other.cache_path() != first.cache_path()
        calls.clear()
        other.setup()
        assert len(calls) == 220  # miss: every recording binned with the new setting
        assert other.splits["test"][0][0].shape[0] == changed.get("timesteps", 4)


def test_missing_data_says_where_and_how(tmp_path):
    with pytest.raises(FileNotFoundError) as err:
        _module(tmp_path, tmp_path).setup()
    assert "ibmGestureTrain" in str(err.value) and "download: true" in str(err.value)


@pytest.mark.parametrize(("kwargs", "match"), [({"binning": "space"}, "binning"), ({"size": 256}, "size"),
                                               ({"timesteps": 0}, "timesteps"), ({"clip": 0}, "clip")])
def test_bad_settings_are_refused(kwargs, match, tmp_path):
    with pytest.raises(ValueError, match=match):
        _module(tmp_path, tmp_path, **kwargs)


def test_bins_follow_spikingjellys_rules():
    # 7 events, T = 3. By count: 7 // 3 = 2 per frame, the last frame takes the remainder (3).
    # By time: t in [0, 60], frame = floor(3 t / 60), and the last event falls in the last frame.
    times = [0, 5, 10, 20, 40, 50, 60]
    events = _events([(k, 0, 0, t) for k, t in enumerate(times)])
    by_count = bin_events(events, 3, "count", 128, None)[:, 0, 0, :7]
    assert by_count.sum(axis=1).tolist() == [2, 2, 3]
    by_time = bin_events(events, 3, "time", 128, None)[:, 0, 0, :7]
    assert by_time.sum(axis=1).tolist() == [3, 1, 3]  # [0,20): 0,5,10 | [20,40): 20 | [40,60]: 40,50,60
    assert by_time[1].tolist() == [0, 0, 0, 1, 0, 0, 0]  # the event at t = 20 (x = 3)


def test_workers_get_the_cache_path_not_the_frames(dvs_files, tmp_path):
    import pickle

    root, _ = dvs_files
    dm = _module(root, tmp_path)
    dm.setup()
    dataset = dm.splits["train"]
    first = dataset[0][0]
    copy = pickle.loads(pickle.dumps(dataset))
    assert len(pickle.dumps(dataset)) < 20_000  # a path, rows and labels; not 88 x 4 x 2 x 128 x 128 counts
    assert torch.equal(copy[0][0], first)
