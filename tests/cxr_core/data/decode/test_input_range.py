"""The input-range check warns once when the first batch does not fit the preset's scaling."""

from __future__ import annotations

import logging

import numpy as np
import pytest

from cxr_core.data.decode import input_range
from cxr_core.data.decode.input_range import EXPECTED_RANGE, check_input_range, range_problem, with_range_check


@pytest.fixture(autouse=True)
def _fresh():
    input_range.reset_warnings()
    yield
    input_range.reset_warnings()


def _pixels(seed=0):
    return np.random.default_rng(seed).integers(0, 256, size=(2, 8, 8, 3)).astype(np.float32)


def test_expected_ranges_are_those_of_scale_pixels():
    from cxr_core.data.decode.images import scale_pixels

    extremes = np.array([0.0, 255.0], dtype=np.float32).reshape(1, 1, 2, 1).repeat(3, axis=-1)
    for scaling, (low, high) in EXPECTED_RANGE.items():
        scaled = scale_pixels(extremes, scaling).numpy()
        assert scaled.min() == pytest.approx(low, abs=1e-5) and scaled.max() == pytest.approx(high, abs=1e-5)
        assert range_problem(scale_pixels(_pixels(), scaling).numpy(), scaling) is None, scaling


def test_0_255_pixels_where_0_1_is_expected_warn_once_with_both_ranges(caplog):
    caplog.set_level(logging.WARNING, logger="cxr_core.data.decode.input_range")
    assert check_input_range(_pixels(), "rescale01", where="prediction input") is False
    assert check_input_range(_pixels(1), "rescale01", where="prediction input") is False
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1
    text = warnings[0].getMessage()
    assert "expected values in [0, 1]" in text and "'rescale01'" in text and "found [0, 255]" in text


def test_0_1_inputs_where_raw255_is_expected_warn(caplog):
    caplog.set_level(logging.WARNING, logger="cxr_core.data.decode.input_range")
    assert check_input_range(_pixels() / 255.0, "raw255") is False
    assert "already scaled to [0, 1]" in caplog.text and "[0, 255]" in caplog.text


def test_fitting_inputs_and_augmented_channel_shifts_do_not_warn(caplog):
    caplog.set_level(logging.WARNING, logger="cxr_core.data.decode.input_range")
    assert check_input_range(_pixels(), "raw255")
    assert check_input_range(_pixels() / 255.0 + 0.05, "rescale01")  # small channel shift
    assert check_input_range(_pixels() / 127.5 - 1.0, "minus1_1")
    assert not caplog.records


def test_the_first_batch_of_a_dataset_is_checked_as_it_is_served(caplog):
    import tensorflow as tf

    caplog.set_level(logging.WARNING, logger="cxr_core.data.decode.input_range")
    x = np.concatenate([_pixels(), _pixels(1)])
    ds = tf.data.Dataset.from_tensor_slices((x, np.zeros((4, 2), np.float32))).batch(2)
    served = list(with_range_check(ds, "imagenet", where="training data"))
    assert len(served) == 2 and np.array_equal(served[1][0].numpy(), x[2:])
    assert len(caplog.records) == 1 and "training data" in caplog.text and "'imagenet'" in caplog.text


def test_predict_probabilities_warns_about_unscaled_batches(caplog):
    import keras
    import tensorflow as tf

    from cxr_core.inference.model import predict_probabilities

    caplog.set_level(logging.WARNING, logger="cxr_core.data.decode.input_range")
    inputs = keras.Input((8, 8, 3))
    model = keras.Model(inputs, keras.layers.Dense(2, activation="softmax")(keras.layers.Flatten()(inputs)))
    probs = predict_probabilities(model, tf.data.Dataset.from_tensor_slices(_pixels()).batch(2), scaling="rescale01")
    assert probs.shape == (2, 2)
    assert "prediction input: expected values in [0, 1]" in caplog.text
