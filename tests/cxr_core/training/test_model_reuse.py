"""One compiled model across folds (cxr_core.training.model_reuse): the reset start equals a fresh build, and
a run with reuse predicts what a run without it predicts; weights saved with the unbiased BatchNorm
swap load into a plain model."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest

from cxr_core.training.model_reuse import ModelReuse, compile_key_of, reusing_models, structure_key
from tests.cxr_core.training.test_training import _train_cfg


def _bn_model(num_classes: int = 3, input_shape=(8, 8, 3), backbone_weights=None, width: int = 4):
    """Conv, BatchNorm, Dropout (a random-seed state), Dense: every kind of variable a reset must copy."""
    import keras

    inputs = keras.Input(tuple(input_shape), name="image")
    x = keras.layers.Conv2D(width, 3, strides=2, padding="same", name="conv1")(inputs)
    x = keras.layers.BatchNormalization(name="bn1")(x)
    x = keras.layers.Activation("relu")(x)
    x = keras.layers.GlobalAveragePooling2D()(x)
    x = keras.layers.Dropout(0.25)(x)
    outputs = keras.layers.Dense(num_classes, activation="softmax", dtype="float32", name="predictions")(x)
    return keras.Model(inputs, outputs)


def _xy(n: int = 12, seed: int = 0):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(n, 8, 8, 3)).astype("float32"), np.eye(3, dtype="float32")[rng.integers(0, 3, n)]


def _fresh(seed: int):
    import keras

    keras.utils.set_random_seed(seed)
    return _bn_model()


def test_reset_start_equals_a_fresh_build_of_the_folds_seed():
    """After a fold has trained (weights, BatchNorm statistics, seed states, Adam moments, iteration
    count and a lowered learning rate all moved), taking the model for seed 5 gives exactly the
    variables of a fresh build with seed 5, optimizer variables at their start, and the same traced step."""
    from cxr_core.training.fit import compile_model

    train = _train_cfg()
    session = ModelReuse()

    def compile_fn(m):
        return compile_model(m, train)

    key = compile_key_of(train, None, ("accuracy",), None, "float32")
    first = session.take(_fresh(3), compile_fn, key)
    start = [np.array(v.numpy()) for v in first.optimizer.variables]
    x, y = _xy()
    first.fit(x, y, batch_size=4, epochs=2, verbose=0)
    first.optimizer.learning_rate.assign(1e-4)  # as ReduceLROnPlateau would
    traced = first.train_function
    assert int(first.optimizer.iterations.numpy()) == 6

    second = session.take(_fresh(5), compile_fn, key)
    assert second is first and session.reused == 1
    expected = _fresh(5)
    assert len(second.variables) == len(expected.variables)
    for got, want in zip(second.variables, expected.variables):
        np.testing.assert_array_equal(got.numpy(), want.numpy(), err_msg=want.path)
    for got, want in zip(second.optimizer.variables, start):
        np.testing.assert_array_equal(got.numpy(), want, err_msg=got.path)
    assert float(second.optimizer.learning_rate.numpy()) == pytest.approx(train.optimizer.learning_rate)
    second.fit(x, y, batch_size=4, epochs=1, verbose=0)
    assert second.train_function is traced, "the traced training step is kept"


def test_another_graph_is_not_reused():
    from cxr_core.training.fit import compile_model

    train = _train_cfg()
    session = ModelReuse()
    key = compile_key_of(train, None, ("accuracy",), None, "float32")
    a = session.take(_fresh(1), lambda m: compile_model(m, train), key)
    import keras

    keras.utils.set_random_seed(1)
    wider = _bn_model(width=6)
    assert structure_key(wider) != structure_key(a)
    assert session.take(wider, lambda m: compile_model(m, train), key) is wider
    other_lr = compile_key_of(dataclasses.replace(train, optimizer=dataclasses.replace(train.optimizer, learning_rate=0.5)),
                              None, ("accuracy",), None, "float32")
    assert session.take(_fresh(1), lambda m: compile_model(m, train), other_lr) is not a
    assert session.reused == 0


def test_unbiased_batchnorm_weights_load_into_a_plain_build(tmp_path):
    """train.bn_moving_variance: unbiased swaps the BatchNorm class during training; the selected
    weights must load into the model the evaluation builds (plain BatchNormalization) and predict
    what the trained model predicts."""
    import tensorflow as tf

    from cxr_core.training.fit import fit_split

    built = []

    def build():
        built.append(_bn_model())
        return built[-1]

    x, y = _xy(24)
    data = lambda first_epoch: tf.data.Dataset.from_tensor_slices((x, y)).batch(6)  # noqa: E731
    result = fit_split(build, data, None, tmp_path, _train_cfg(epochs=2, bn_moving_variance="unbiased"))
    trained = built[0]
    assert type(trained.get_layer("bn1")).__qualname__ == "UnbiasedMovingVarianceBatchNormalization"
    plain = _bn_model()
    plain.load_weights(result.weights_path)
    np.testing.assert_allclose(plain.predict(x, verbose=0), trained.predict(x, verbose=0), rtol=0, atol=1e-6)
    assert not np.allclose(plain.get_layer("bn1").moving_variance.numpy(), 1.0), "statistics were trained and loaded"


@pytest.fixture()
def tiny_bn_family():
    """The tiny test family with BatchNorm and Dropout (``tinybn``)."""
    from tests.tiny_family import FAMILY, IMAGE_SIDE, registered

    def build(num_classes, input_shape=(IMAGE_SIDE, IMAGE_SIDE, 3), backbone_weights=None, width=8):
        return _bn_model(num_classes, input_shape, width=width)

    with registered(dataclasses.replace(FAMILY, name="tinybn", model=dataclasses.replace(FAMILY.model, build=build))) \
            as family:
        yield family


@pytest.mark.slow
def test_two_fold_run_with_reuse_predicts_as_fresh_builds(tiny_family, tiny_bn_family, tmp_path, caplog):
    """Two folds, unbiased BatchNorm, Dropout: per-fold predictions with one reused model equal those of
    a fresh build per fold (to float tolerance), and the second fold did reuse the first fold's model."""
    import logging

    from cxr_core.config.experiment import resolve_config
    from cxr_core.protocol.run import run_protocol
    from tests.tiny_family import write_separable_dataset

    write_separable_dataset(tmp_path / "data", per_class=8, seed=1)
    runs = {}
    for reuse in (False, True):
        cfg = resolve_config({"name": f"reuse_{reuse}", "preset": "tinycnn/authors_code",
                              "data": {"source": str(tmp_path / "data")},
                              "model": {"family": "tinybn"},
                              "train": {"epochs": 3, "bn_moving_variance": "unbiased",
                                        "reuse_model_across_folds": reuse}})
        with caplog.at_level(logging.INFO, logger="cxr_core.training.model_reuse"):
            caplog.clear()
            runs[reuse] = run_protocol(cfg, tmp_path / f"run_{reuse}")
            reused = [r for r in caplog.records if "reusing the compiled model" in r.getMessage()]
        assert len(reused) == (1 if reuse else 0)
    for fold in (0, 1):
        fresh = pd.read_csv(runs[False] / f"fold_{fold}" / "predictions.csv")
        reused = pd.read_csv(runs[True] / f"fold_{fold}" / "predictions.csv")
        assert list(fresh["sample_id"]) == list(reused["sample_id"])
        probs = [c for c in fresh.columns if c.startswith("prob_")]
        np.testing.assert_allclose(reused[probs].to_numpy(), fresh[probs].to_numpy(), rtol=0, atol=1e-5)
        assert not np.allclose(fresh[probs].to_numpy(), 1 / 3, atol=0.05), "the model learned something"


def test_no_session_means_no_reuse():
    from cxr_core.training.model_reuse import compiled_model

    calls = []
    with reusing_models(False):
        m = compiled_model(object(), calls.append, ())
    assert calls == [m]


def _with_nested_backbone(activation: str = "relu"):
    """A model whose backbone is a nested model (as an ImageNet backbone is), itself nesting a block."""
    import keras

    block_in = keras.Input((4, 4, 4))
    block = keras.Model(block_in, keras.layers.BatchNormalization(name="inner_bn")(
        keras.layers.Conv2D(4, 1, activation=activation, name="inner_conv")(block_in)), name="block")
    backbone_in = keras.Input((8, 8, 3))
    backbone = keras.Model(backbone_in, block(keras.layers.Conv2D(4, 3, strides=2, padding="same")(backbone_in)),
                           name="backbone")
    inputs = keras.Input((8, 8, 3))
    x = keras.layers.GlobalAveragePooling2D()(backbone(inputs))
    return keras.Model(inputs, keras.layers.Dense(3, activation="softmax")(x))


def test_all_layers_walks_nested_models_through_the_public_layers():
    """Nested models (two levels) are followed by their layers, each layer once; a change inside the
    innermost model changes the structure key, a rebuild (other auto-numbered names) does not; the
    BatchNorm momentum reaches a nested model's layer (cxr_core.cli.demo.set_bn_momentum)."""
    from cxr_core.training.model_reuse import all_layers
    from cxr_core.cli.demo import set_bn_momentum

    model = _with_nested_backbone()
    kinds = [type(layer).__name__ for layer in all_layers(model) if type(layer).__name__ != "InputLayer"]
    assert kinds == ["Functional", "Conv2D", "Functional", "Conv2D", "BatchNormalization",
                     "GlobalAveragePooling2D", "Dense"]
    assert structure_key(_with_nested_backbone()) == structure_key(model)
    assert structure_key(_with_nested_backbone("tanh")) != structure_key(model)
    assert set_bn_momentum(model, 0.9) == 1
    assert model.get_layer("backbone").get_layer("block").get_layer("inner_bn").momentum == 0.9
