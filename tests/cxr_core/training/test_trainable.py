"""train.trainable: all trains end to end; head freezes the nested backbone model and trains the rest."""

from __future__ import annotations

import numpy as np
import pytest

import keras

from cxr_core.config.experiment import OptimizerConfig, TrainConfig
from cxr_core.training.fit import fit_split
from cxr_core.training.trainable import set_trainable


def _model():
    inner_in = keras.Input((6,))
    backbone = keras.Model(inner_in, keras.layers.BatchNormalization()(keras.layers.Dense(5)(inner_in)),
                           name="backbone")
    inputs = keras.Input((6,))
    outputs = keras.layers.Dense(2, activation="softmax", name="top")(backbone(inputs))
    return keras.Model(inputs, outputs, name="net")


def _data(first_epoch: int):
    import tensorflow as tf

    rng = np.random.default_rng(0)
    x = rng.normal(size=(16, 6)).astype("float32")
    return tf.data.Dataset.from_tensor_slices((x, np.eye(2, dtype="float32")[rng.integers(0, 2, 16)])).batch(8)


@pytest.mark.parametrize("mode", ["all", "head"])
def test_head_freezes_the_backbone_and_all_trains_everything(tmp_path, mode):
    keras.utils.set_random_seed(0)
    start = _model()
    backbone_before = [w.copy() for w in start.get_layer("backbone").get_weights()]
    head_before = start.get_layer("top").get_weights()[0].copy()
    built = []

    def build():
        m = _model()
        m.set_weights(start.get_weights())
        built.append(m)
        return m

    train = TrainConfig(optimizer=OptimizerConfig("sgd", 0.5), batch_size=8, epochs=1, verbose=0, trainable=mode)
    fit_split(build, _data, None, tmp_path, train)
    model = built[0]
    backbone_changed = [not np.array_equal(a, b) for a, b in zip(backbone_before,
                                                                 model.get_layer("backbone").get_weights())]
    head_changed = not np.array_equal(head_before, model.get_layer("top").get_weights()[0])
    assert head_changed
    assert any(backbone_changed) == (mode == "all")  # frozen: kernel, gamma and moving statistics all kept


def test_set_trainable_errors():
    inputs = keras.Input((3,))
    flat = keras.Model(inputs, keras.layers.Dense(2)(inputs), name="flat")
    with pytest.raises(ValueError, match="'flat' has no nested backbone"):
        set_trainable(flat, "head")
    with pytest.raises(ValueError, match="train.trainable must be one of"):
        set_trainable(flat, "backbone")
    assert set_trainable(flat, "all") == 0

