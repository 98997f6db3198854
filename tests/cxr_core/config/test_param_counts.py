"""Expected parameter counts: total, trainable and non-trainable are each compared.

The tiny model's counts are arithmetic: Dense(4 -> 3) has 4*3 + 3 = 15 weights; BatchNormalization
over 3 features has gamma and beta (6, trainable) and the moving mean and variance (6, not trainable).
"""

from __future__ import annotations

import pytest

from cxr_core.config.param_counts import ParamCounts, as_param_counts, compare_param_counts, model_param_counts


@pytest.fixture(scope="module")
def tiny_model():
    import keras

    inputs = keras.Input((4,))
    outputs = keras.layers.BatchNormalization()(keras.layers.Dense(3)(inputs))
    return keras.Model(inputs, outputs)


def test_counts_are_total_trainable_and_non_trainable(tiny_model):
    assert model_param_counts(tiny_model) == ParamCounts(total=27, trainable=21, non_trainable=6)


@pytest.mark.parametrize("spec", [[27, 21, 6], (27, 21, 6), {"total": 27, "trainable": 21, "non_trainable": 6},
                                  {"trainable": 21}, 27, ParamCounts(27, 21, 6)])
def test_every_spelling_of_the_right_counts_passes(tiny_model, spec):
    compare_param_counts(tiny_model, spec, key="extra.expected_params")


def test_a_model_with_the_right_total_but_the_wrong_split_is_refused(tiny_model):
    with pytest.raises(ValueError) as err:
        compare_param_counts(tiny_model, [27, 24, 3], key="extra.expected_params", context="(input (4,))")
    assert str(err.value) == ("extra.expected_params: the model (input (4,)) has trainable 21 parameters, the config "
                              "expects 24; non-trainable 6 parameters, the config expects 3")


def test_the_single_number_form_is_the_total():
    assert as_param_counts(33_969_964) == ParamCounts(total=33_969_964)
    assert as_param_counts([33_969_964, 33_915_436, 54_528]) == ParamCounts(33_969_964, 33_915_436, 54_528)
