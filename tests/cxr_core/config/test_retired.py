"""Runs made before a key left the config schema are still read and resumed."""

from cxr_core.config.retired import without_retired_keys
from cxr_core.runs.directory import config_differences


def test_a_retired_key_is_dropped_and_not_a_difference():
    old = {"name": "demo", "train": {"epochs": 4, "bn_momentum": 0.9}}
    assert without_retired_keys(old) == {"name": "demo", "train": {"epochs": 4}}
    assert old["train"]["bn_momentum"] == 0.9  # the input is left as it was
    assert config_differences(old, {"name": "demo", "train": {"epochs": 4}}) == []
    assert config_differences(old, {"name": "demo", "train": {"epochs": 5}}) == ["train.epochs: 4 -> 5"]
