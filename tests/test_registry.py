import re

import pytest

from bench.data import available_datasets, build_datamodule
from bench.models import available_models, build_model
from bench.registry import Registry
from bench.spiking import encoders, estimators


def test_duplicate_names_are_refused():
    reg = Registry("thing")
    reg.register("a")(dict)
    with pytest.raises(ValueError, match="'a' is already registered"):
        reg.register("a")(list)


def test_alias_keeps_an_old_name_working():
    reg = Registry("thing")
    reg.register("new")(dict)
    reg.alias("old", "new")
    assert reg.get("old") is dict and "old" in reg
    assert reg.available() == ["new"]


def test_import_path_plugs_in_a_users_factory():
    assert estimators.build("bench.spiking.estimators:ATan", alpha=3.0).alpha == 3.0
    with pytest.raises(KeyError, match=re.escape("cannot import estimator 'no.such.module:X'")):
        estimators.build("no.such.module:X")


@pytest.mark.parametrize(
    ("build", "kind", "available"),
    [
        (estimators.build, "estimator", estimators.available()),
        (encoders.build, "encoder", encoders.available()),
        (build_model, "model", available_models()),
        (build_datamodule, "dataset", available_datasets()),
    ],
)
def test_unknown_names_list_the_available_ones(build, kind, available):
    with pytest.raises(KeyError) as err:
        build("nope")
    message = str(err.value)
    assert f"unknown {kind} 'nope'" in message
    assert all(name in message for name in available) and len(available) >= 2
