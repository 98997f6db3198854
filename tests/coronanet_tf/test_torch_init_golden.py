"""PyTorch's default initialisation of the layers [CR] adds on VGG16-BN, without PyTorch: our initializers
against torch's fan-in and spread stored in tests/coronanet_tf/golden/torch_init.npz (written by
``python -m tests.coronanet_tf.make_golden``; test_torch_init.py checks the file against live torch)."""

from __future__ import annotations

import numpy as np
import pytest

import keras

from coronanet_tf.model import build_coronanet
from coronanet_tf.torch_init import TorchDefaultBias, TorchDefaultKernel, torch_fan_in
from tests.coronanet_tf.golden_tensors import INIT_DRAWS, INIT_GOLDEN, load_golden


def _keras_draws(initializer, shape, n=INIT_DRAWS):
    """``n`` values of the layer's initializer in one call: the last kernel axis never enters the
    fan-in (Dense (in, OUT), Conv2D (kh, kw, in, OUT), Conv2DTranspose (kh, kw, out, IN)), so it is
    widened; a bias initializer is drawn as a long vector."""
    shape = tuple(shape)
    wide = (*shape[:-1], -(-n // int(np.prod(shape[:-1])))) if len(shape) > 1 else (n,)
    return np.asarray(initializer(wide, dtype="float32")).ravel()


@pytest.fixture(scope="module")
def model():
    keras.utils.set_random_seed(3)
    return build_coronanet(with_decoder=True)


def test_every_added_layer_matches_torch_default(model):
    golden = load_golden(INIT_GOLDEN)
    columns = list(golden["columns"])
    assert len(golden["layers"]) == 1 + 4 + 12
    for name, row in zip(golden["layers"], golden["stats"]):
        torch_stats = dict(zip(columns, row))
        name = str(name)
        layer = model.get_layer(name)
        kernel, bias = (np.asarray(v) for v in layer.get_weights())
        # the Keras kernel is the torch weight transposed: same number of values, torch's fan-in
        assert kernel.size == torch_stats["weight_numel"] and bias.size == torch_stats["bias_numel"], name
        layout = {"Conv2D": "conv2d", "Dense": "dense", "Conv2DTranspose": "conv2d_transpose"}[type(layer).__name__]
        fan_in = torch_stats["fan_in"]
        assert torch_fan_in(kernel.shape, layout) == fan_in, name
        bound = 1 / np.sqrt(fan_in)
        # the built model's own weights lie within torch's bound, biases are not zero
        assert np.abs(kernel).max() <= bound * (1 + 1e-6), name
        assert np.abs(bias).max() <= bound * (1 + 1e-6) and np.any(bias != 0), name
        # spread: many draws of our initializers against many torch reset_parameters()
        kw = _keras_draws(layer.kernel_initializer, kernel.shape)
        kb = _keras_draws(layer.bias_initializer, bias.shape)
        for ours, what in ((kw, "weight"), (kb, "bias")):
            theirs_max, theirs_std = torch_stats[f"{what}_max"], torch_stats[f"{what}_std"]
            assert np.abs(ours).max() <= theirs_max * 1.002 + 1e-9, (name, what)
            assert np.abs(ours).max() >= 0.995 * bound, (name, what)
            assert theirs_max >= 0.995 * bound, (name, what)  # torch's bound is 1/sqrt(fan_in)
            assert ours.std() == pytest.approx(theirs_std, rel=0.03), (name, what)
            assert ours.std() == pytest.approx(bound / np.sqrt(3), rel=0.03), (name, what)
            assert abs(ours.mean()) < 0.03 * bound, (name, what)


def test_first_linear_bound_is_torch_not_glorot():
    """Issue figures: classifier_0 torch bound 1/sqrt(4900) = 0.0143, Glorot sqrt(6/4950) = 0.0348."""
    keras.utils.set_random_seed(1)
    torch_like = build_coronanet(with_decoder=False).get_layer("classifier_0")
    keras.utils.set_random_seed(1)
    glorot = build_coronanet(with_decoder=False, head_init="glorot").get_layer("classifier_0")
    assert np.abs(np.asarray(torch_like.kernel)).max() == pytest.approx(1 / 70, rel=0.01)
    assert np.abs(np.asarray(glorot.kernel)).max() == pytest.approx(np.sqrt(6 / 4950), rel=0.01)
    assert not np.any(np.asarray(glorot.bias))
    with pytest.raises(ValueError, match="head_init"):
        build_coronanet(with_decoder=False, head_init="he")


def test_initializers_serialise_and_check_arguments():
    k = TorchDefaultKernel("conv2d_transpose", seed=4)
    again = TorchDefaultKernel.from_config(k.get_config())
    np.testing.assert_array_equal(np.asarray(k((3, 3, 24, 22))), np.asarray(again((3, 3, 24, 22))))
    b = TorchDefaultBias(216, seed=2)
    assert TorchDefaultBias.from_config(b.get_config()).fan_in == 216
    with pytest.raises(ValueError, match="layout"):
        TorchDefaultKernel("linear")
    with pytest.raises(ValueError, match="fan_in"):
        TorchDefaultBias(-1)
    with pytest.raises(ValueError, match="dense kernel"):
        torch_fan_in((3, 3, 1, 1), "dense")
