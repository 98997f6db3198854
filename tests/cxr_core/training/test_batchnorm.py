"""BatchNormalization moving variance after one training step: ours against tf-keras (Keras 2 on TF 2,
fused BatchNorm) and PyTorch (live, and without PyTorch through a golden file); Keras 3's default (biased)
differs by m / (m - 1)."""

from __future__ import annotations

import numpy as np
import pytest

from cxr_core.training.batchnorm import UnbiasedMovingVarianceBatchNormalization, set_bn_moving_variance

B, H, W, C_IN, C = 10, 5, 5, 3, 4  # m = 10 * 5 * 5 = 250 values per channel, CoroNet's batch of 10 at 5x5


def _data():
    rng = np.random.default_rng(0)
    x = rng.normal(1.5, 2.0, size=(B, H, W, C_IN)).astype("float32")
    y = np.eye(2, dtype="float32")[rng.integers(0, 2, size=B)]
    kernel = rng.normal(0, 0.5, size=(3, 3, C_IN, C)).astype("float32")
    dense = rng.normal(0, 0.5, size=(C, 2)).astype("float32")
    return x, y, kernel, dense


def _build(lib):
    inputs = lib.Input((H, W, C_IN))
    z = lib.layers.Conv2D(C, 3, padding="same", use_bias=False, name="conv")(inputs)
    z = lib.layers.BatchNormalization(momentum=0.9, epsilon=1e-3, name="bn")(z)
    z = lib.layers.GlobalAveragePooling2D()(z)
    out = lib.layers.Dense(2, activation="softmax", use_bias=False, name="head")(z)
    return lib.Model(inputs, out)


def _one_step(lib, model, x, y, kernel, dense):
    model.get_layer("conv").set_weights([kernel])
    model.get_layer("head").set_weights([dense])
    model.compile(optimizer=lib.optimizers.SGD(0.1), loss="categorical_crossentropy")
    model.train_on_batch(x, y)
    return [np.asarray(w) for w in model.get_layer("bn").get_weights()]  # gamma, beta, mean, variance


def test_unbiased_moving_variance_equals_tf_keras_after_one_step():
    import keras
    import tf_keras

    x, y, kernel, dense = _data()
    ref = _one_step(tf_keras, _build(tf_keras), x, y, kernel, dense)

    ours_model = _build(keras)
    assert set_bn_moving_variance(ours_model, "unbiased") == 1
    assert isinstance(ours_model.get_layer("bn"), UnbiasedMovingVarianceBatchNormalization)
    ours = _one_step(keras, ours_model, x, y, kernel, dense)
    biased = _one_step(keras, _build(keras), x, y, kernel, dense)

    np.testing.assert_allclose(ours[3], ref[3], rtol=2e-6, atol=1e-7)  # moving variance
    np.testing.assert_allclose(ours[2], ref[2], rtol=2e-6, atol=1e-7)  # moving mean
    np.testing.assert_allclose(ours[0], ref[0], rtol=1e-5, atol=1e-6)  # gamma: same forward/backward
    np.testing.assert_allclose(ours[1], ref[1], rtol=1e-5, atol=1e-6)  # beta
    # Keras 3's default: (variance - 0.9) / 0.1 is the biased batch variance, 249/250 of tf-keras'
    m = B * H * W
    np.testing.assert_allclose((biased[3] - 0.9) / 0.1 * m / (m - 1), (ref[3] - 0.9) / 0.1, rtol=2e-5)
    assert np.abs(biased[3] - ref[3]).max() > 1e-4


def test_unbiased_matches_pytorch_batchnorm2d_update():
    import keras

    from tests.references import require

    torch = require("torch")
    x, y, kernel, dense = _data()
    model = _build(keras)
    set_bn_moving_variance(model, "unbiased")
    ours = _one_step(keras, model, x, y, kernel, dense)
    conv_out = keras.ops.convert_to_numpy(keras.ops.conv(x, kernel, padding="same"))
    bn = torch.nn.BatchNorm2d(C, momentum=0.1, eps=1e-3)
    bn.train()
    bn(torch.from_numpy(conv_out).permute(0, 3, 1, 2))
    np.testing.assert_allclose(ours[3], bn.running_var.detach().numpy(), rtol=1e-5)
    np.testing.assert_allclose(ours[2], bn.running_mean.detach().numpy(), rtol=1e-5, atol=1e-6)
    # the golden file of the torch-free test below is still what torch computes (else regenerate:
    # python -m tests.cxr_core.training.make_golden)
    from tests.cxr_core.training.make_golden import GOLDEN

    with np.load(GOLDEN, allow_pickle=False) as golden:
        np.testing.assert_allclose(golden["running_var"], bn.running_var.detach().numpy(), rtol=1e-6)
        np.testing.assert_allclose(golden["running_mean"], bn.running_mean.detach().numpy(), rtol=1e-6, atol=1e-7)


def test_unbiased_matches_pytorch_batchnorm2d_update_golden():
    """The same comparison without PyTorch: torch's running statistics stored once
    (tests/cxr_core/training/golden/batchnorm2d_update.npz)."""
    import keras

    from tests.cxr_core.training.make_golden import GOLDEN

    x, y, kernel, dense = _data()
    model = _build(keras)
    set_bn_moving_variance(model, "unbiased")
    ours = _one_step(keras, model, x, y, kernel, dense)
    with np.load(GOLDEN, allow_pickle=False) as golden:
        np.testing.assert_allclose(ours[3], golden["running_var"], rtol=1e-5)
        np.testing.assert_allclose(ours[2], golden["running_mean"], rtol=1e-5, atol=1e-6)
        # not a comparison that Keras' own (biased) update would pass: 250/249 apart
        biased = _one_step(keras, _build(keras), x, y, kernel, dense)
        assert np.abs(biased[3] - golden["running_var"]).max() > 1e-4


def test_switch_back_inference_and_errors():
    import keras

    x, _, kernel, _ = _data()
    model = _build(keras)
    set_bn_moving_variance(model, "unbiased")
    assert set_bn_moving_variance(model, "biased") == 1
    assert type(model.get_layer("bn")) is keras.layers.BatchNormalization
    set_bn_moving_variance(model, "unbiased")
    model.get_layer("conv").set_weights([kernel])
    plain = _build(keras)
    plain.set_weights(model.get_weights())
    np.testing.assert_allclose(model.predict(x, verbose=0), plain.predict(x, verbose=0), rtol=1e-6)
    with pytest.raises(ValueError, match="bn_moving_variance must be one of"):
        set_bn_moving_variance(model, "bessel")


def _keras231_moving_variance(x, moving_variance, momentum, epsilon, tf1: bool):
    """Keras 2.3.1's update, transcribed from its source (keras/layers/normalization.py and
    keras/backend/tensorflow_backend.py at tag 2.3.1) and run with the TensorFlow ops it calls:
    ``normalize_batch_in_training`` -> ``tf.nn.fused_batch_norm`` when ``ndim(x) == 4`` and reduction
    axes ``[0, 1, 2]`` ``and _is_tf_1()``, else ``tf.nn.moments``; then
    ``variance *= m / (m - (1.0 + epsilon))`` and ``moving_average_update``:
    ``x - (x - value) * (1 - momentum)``."""
    import tensorflow as tf

    axes = list(range(x.ndim - 1))
    if tf1 and x.ndim == 4:
        c = x.shape[-1]
        _, _, variance = tf.compat.v1.nn.fused_batch_norm(x, tf.ones(c), tf.zeros(c), epsilon=epsilon,
                                                          is_training=True)
    else:
        _, variance = tf.nn.moments(tf.constant(x), axes)
    m = float(np.prod([x.shape[a] for a in axes]))
    variance = variance * (m / (m - (1.0 + epsilon)))
    return moving_variance - (moving_variance - variance.numpy()) * (1.0 - momentum)


@pytest.mark.parametrize("shape", [(8, 7, 7, 4), (8, 16)])
@pytest.mark.parametrize("mode", ["keras231_tf1", "keras231_tf2"])
def test_keras231_moving_variance_equals_its_source(mode, shape):
    """CVR-Net's Keras 2.3.1 [CVR-T]: on TensorFlow 1.x a 4-D BatchNorm's variance is corrected twice,
    +1/(m-1) over unbiased (+0.26% at m = 8 x 7 x 7 = 392); on TensorFlow 2.x once, by m/(m-1-eps)."""
    import keras

    x = np.random.default_rng(3).normal(2.0, 1.5, size=shape).astype("float32")
    inputs = keras.Input(shape[1:])
    model = keras.Model(inputs, keras.layers.BatchNormalization(momentum=0.99, epsilon=1e-3, name="bn")(inputs))
    assert set_bn_moving_variance(model, mode) == 1
    bn = model.get_layer("bn")
    start = np.full(shape[-1], 0.7, "float32")
    bn.moving_variance.assign(start)
    model(x, training=True)
    want = _keras231_moving_variance(x, start, 0.99, 1e-3, tf1=mode == "keras231_tf1")
    np.testing.assert_allclose(bn.moving_variance.numpy(), want, rtol=2e-6)
    unbiased = start * 0.99 + 0.01 * x.reshape(-1, shape[-1]).var(0, ddof=1)
    excess = (want - 0.99 * start) / (unbiased - 0.99 * start) - 1.0  # of the batch term
    if mode == "keras231_tf1" and len(shape) == 4:
        np.testing.assert_allclose(excess, 1 / 391, rtol=0.01)  # +0.26%: 1/(m-1), plus eps/(m-1)
    else:
        assert np.all(np.abs(excess) < 2e-4)  # eps/(m-1): 1.4e-4 at m = 8
