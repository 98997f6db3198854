"""The family contract harness (tests/family_harness.py) on the tiny test family: every part passes on a
sound family, and a wrong published count or a broken family fails with the family's name."""

from __future__ import annotations

import dataclasses

import pytest

from tests.family_harness import PARTS, FamilyCase, PublishedCount, run_family_test
from tests.tiny_family import FAMILY, IMAGE_SIDE, build_tiny

# conv1 3*3*3*16 + 16, conv2 3*3*16*32 + 32, dense 32*3 + 3 (tests/tiny_family.py: two strided convolutions,
# global average pooling, one dense layer): arithmetic from the architecture, not from a model summary.
TINY_COUNTS = (3 * 3 * 3 * 16 + 16 + 3 * 3 * 16 * 32 + 32 + 32 * 3 + 3, None, 0)
CASE = FamilyCase(
    build={"num_classes": 3, "input_shape": (IMAGE_SIDE, IMAGE_SIDE, 3)},
    published=(PublishedCount({"num_classes": 3, "input_shape": (IMAGE_SIDE, IMAGE_SIDE, 3)}, TINY_COUNTS,
                              "[TEST] tests/tiny_family.py docstring: 5,187"),),
)


def test_every_part_passes_on_the_tiny_family(tmp_path):
    assert TINY_COUNTS[0] == 5_187
    models = run_family_test(FAMILY, CASE, tmp_path, parts=PARTS)
    assert set(models) == {"build", "mixed_precision"}
    assert models["mixed_precision"].get_layer("conv1").compute_dtype == "float16"


def test_a_wrong_published_count_fails_naming_the_family():
    wrong = dataclasses.replace(CASE, published=(PublishedCount(CASE.build, (5_188, None, None), "[X]"),))
    with pytest.raises(AssertionError, match=r"(?s)tinycnn: parameter counts differ .*5188.*\[X\]"):
        run_family_test(FAMILY, wrong, parts=("published_counts",))


def test_a_family_whose_hidden_layers_ignore_mixed_precision_fails():
    def float32_only(num_classes, input_shape=(IMAGE_SIDE, IMAGE_SIDE, 3), backbone_weights=None):
        import keras

        model = build_tiny(num_classes, input_shape)
        config = model.get_config()
        for layer in config["layers"]:
            layer["config"]["dtype"] = "float32"
        return keras.Model.from_config(config)

    broken = dataclasses.replace(FAMILY, name="tinyfloat32", model=dataclasses.replace(FAMILY.model, build=float32_only))
    with pytest.raises(AssertionError, match="tinyfloat32: no layer computes in float16"):
        run_family_test(broken, CASE, parts=("mixed_precision",))


def test_unknown_parts_are_named():
    with pytest.raises(ValueError, match=r"unknown parts \['speed'\]"):
        run_family_test(FAMILY, CASE, parts=("speed",))
