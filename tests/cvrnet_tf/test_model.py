"""CVR-Net architecture: the family contract (tests/family_harness.py) with the published parameter counts
[CVR-T], taps, ResNet50 flavours, input scaling."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from cvrnet_tf import FAMILY, LAST_CONV_LAYER, build_cvrnet, resnet_name_map, tap_layer_names
from cvrnet_tf.model import _resnet50, _xception
from cvrnet_tf.backbone import _from_keras_application
from cxr_core.weights.transfer import copy_weights, weighted_layers
from tests.family_harness import FAST_PARTS, SLOW_PARTS, FamilyCase, PublishedCount, run_family_test


@pytest.fixture(scope="module")
def model_224():
    return build_cvrnet(num_classes=2)


#: the family contract (tests/family_harness.py): the smallest CVR-Net (96x96: Xception needs >= 71 and
#: the concatenated branch equal ResNet50 and Xception sides; 2 classes) and the published counts:
#: 2 classes from the notebook's summary [CVR-T], 3 and 4 classes docs/PAPERS.md §2.1 (INFERRED there).
CASE = FamilyCase(
    build={"num_classes": 2, "input_shape": (96, 96, 3)},
    batch=1,  # a float16 forward pass is slow on a CPU without AVX-512 float16 kernels
    published=(
        PublishedCount({"num_classes": 2}, (48_602_610, 48_494_962, 107_648), "[CVR-T] model.summary()"),
        PublishedCount({"num_classes": 3}, (48_602_935, None, None), "docs/PAPERS.md §2.1 (INFERRED)"),
        PublishedCount({"num_classes": 4}, (48_603_260, None, 107_648), "docs/PAPERS.md §2.1 (INFERRED)"),
    ),
)


def test_family_contract():
    """Under mixed_float16 the branch heads compute in float16 and the five softmax layers, their
    average and the output stay float32 (plus the contract's output checks)."""
    model = run_family_test("cvrnet", CASE, parts=FAST_PARTS)["mixed_precision"]
    for k in range(1, 6):
        assert model.get_layer(f"dense_{3 * k}").compute_dtype == "float32"
        assert model.get_layer(f"MKH_{k}").compute_dtype == "float16"
    assert model.get_layer("average_1").compute_dtype == "float32"


@pytest.mark.slow
def test_family_contract_heavy_parts(tmp_path):
    run_family_test("cvrnet", CASE, tmp_path, parts=SLOW_PARTS)


@pytest.mark.slow
def test_taps_shapes_and_wiring(model_224):
    model = model_224
    taps = tap_layer_names("legacy")
    expected = {"1": (7, 7, 4096), "2": (14, 14, 1024), "3": (28, 28, 512), "4": (28, 28, 728), "5": (14, 14, 1024)}
    for k, name in taps.items():
        layer = model.get_layer(name)
        assert tuple(layer.output.shape[1:]) == expected[k], name
        gap = model.get_layer(f"global_average_pooling2d_{k}")
        assert gap.input is layer.output, f"branch {k} should tap {name}"
    # the stage taps are the notebook's res_activation_22 / res_activation_40 after res_add_7 / res_add_13
    assert model.get_layer("res_activation_22").input is model.get_layer("res_add_7").output
    assert model.get_layer("res_activation_40").input is model.get_layer("res_add_13").output
    assert model.get_layer("res_activation_49").input is model.get_layer("res_add_16").output
    concat_inputs = model.get_layer("concatenate_1").input
    assert concat_inputs[0] is model.get_layer("res_activation_49").output
    assert concat_inputs[1] is model.get_layer("xce_block14_sepconv2_act").output
    for k in range(1, 6):
        units = [model.get_layer(n).units for n in (f"dense_{3*k-2}", f"dense_{3*k-1}", f"MKH_{k}", f"dense_{3*k}")]
        assert units == [512, 128, 64, 2]
        assert model.get_layer(f"dense_{3 * k}").get_config()["activation"] == "softmax"
    assert len(model.get_layer("average_1").input) == 5
    # the authors' auto-numbered Xception residual layers
    assert [l.name for l in model.layers if l.name.startswith("xce_conv2d")] == [f"xce_conv2d_{i}" for i in range(1, 5)]
    out = model.get_layer(LAST_CONV_LAYER).output
    assert len(out.shape) == 4


def _bn_epsilons(model, prefix):
    return {l.epsilon for l in model.layers if isinstance(l, keras.layers.BatchNormalization) and l.name.startswith(prefix)}


@pytest.mark.slow
def test_resnet_flavours_epsilon_and_names():
    legacy = build_cvrnet(2, input_shape=(96, 96, 3), resnet="legacy")
    modern = build_cvrnet(2, input_shape=(96, 96, 3), resnet="keras")
    assert _bn_epsilons(legacy, "res_") == {1e-3}
    assert _bn_epsilons(modern, "res_") == {1.001e-5}
    assert _bn_epsilons(legacy, "xce_") == _bn_epsilons(modern, "xce_") == {1e-3}
    assert legacy.count_params() == modern.count_params()
    for name in tap_layer_names("keras").values():
        modern.get_layer(name)
    # every legacy ResNet50 weight layer has a Keras 3 counterpart of the same shapes
    lw, mw = weighted_layers(legacy), weighted_layers(modern)
    mapping = resnet_name_map()
    assert len(mapping) == sum(n.startswith("res_") for n in lw)
    for old, new in mapping.items():
        assert [w.shape for w in lw["res_" + old].weights] == [w.shape for w in mw["res_" + new].weights]


def _assert_same_features(ours, ref, prefix: str, name_map: dict, source_name: str, seed: int) -> None:
    """``ref``'s weights copied into ``ours`` (its layers named ``prefix`` + ``ref``'s, through ``name_map``):
    both give the same features (relative 1e-5) on two random 0-255 images."""
    ours_layers = weighted_layers(ours)
    stored, mapping = _from_keras_application(ref, ours_layers, prefix, name_map)
    copy_weights(ours_layers, stored, name_map=mapping, source_name=source_name)
    x = np.random.default_rng(seed).uniform(0, 255, (2, *ours.input_shape[1:])).astype("float32")
    a, b = ours.predict(x, verbose=0), ref.predict(x, verbose=0)
    assert np.max(np.abs(a - b)) <= 1e-5 * max(1.0, np.max(np.abs(b)))


@pytest.mark.slow
def test_keras_flavour_equals_keras_applications_resnet50():
    """Our resnet="keras" backbone = keras.applications.ResNet50 (same weights -> same features)."""
    inp = keras.Input((64, 64, 3))
    ours = keras.Model(inp, _resnet50(inp, "keras")["output"])
    ref = keras.applications.ResNet50(include_top=False, weights=None, input_shape=(64, 64, 3))
    _assert_same_features(ours, ref, "res_", resnet_name_map(), "ResNet50", seed=1)


@pytest.mark.slow
def test_xception_equals_keras_applications_xception():
    inp = keras.Input((96, 96, 3))
    ours = keras.Model(inp, _xception(inp)["output"])
    ref = keras.applications.Xception(include_top=False, weights=None, input_shape=(96, 96, 3))
    _assert_same_features(ours, ref, "xce_", {}, "Xception", seed=2)


@pytest.mark.slow
def test_input_scaling_inside_the_model():
    x = np.random.default_rng(3).uniform(0, 255, (2, 96, 96, 3)).astype("float32")
    model = build_cvrnet(2, input_shape=(96, 96, 3), input_scaling="imagenet")
    caffe, tf_mode = model.get_layer("res_preprocess_caffe"), model.get_layer("xce_preprocess_tf")
    assert model.get_layer("res_conv1_pad").input is caffe.output
    assert model.get_layer("xce_block1_conv1").input is tf_mode.output
    probe = keras.Model(model.input, [caffe.output, tf_mode.output])
    got_caffe, got_tf = probe.predict(x, verbose=0)
    np.testing.assert_allclose(got_caffe, x[..., ::-1] - np.array([103.939, 116.779, 123.68], "float32"), atol=1e-4)
    np.testing.assert_allclose(got_tf, x / 127.5 - 1.0, atol=1e-5)

    model = build_cvrnet(2, input_shape=(96, 96, 3), input_scaling="rescale01")
    scale = model.get_layer("rescale01")
    assert model.get_layer("res_conv1_pad").input is scale.output
    assert model.get_layer("xce_block1_conv1").input is scale.output
    np.testing.assert_allclose(keras.Model(model.input, scale.output).predict(x, verbose=0), x / 255.0, atol=1e-6)

    model = build_cvrnet(2, input_shape=(96, 96, 3), input_scaling="raw255")
    assert model.get_layer("res_conv1_pad").input is model.input
    assert model.get_layer("xce_block1_conv1").input is model.input


@pytest.mark.parametrize("kwargs, match", [
    ({"input_shape": (100, 100, 3)}, "concatenate"),
    ({"input_shape": (64, 64, 3)}, "at least 71"),
    ({"resnet": "v2"}, "resnet must be"),
    ({"input_scaling": "caffe"}, "input_scaling must be"),
])
def test_bad_arguments_are_named(kwargs, match):
    with pytest.raises(ValueError, match=match):
        build_cvrnet(2, **kwargs)


def test_family_registry():
    from cxr_core.family import get_family

    family = get_family("cvrnet")
    assert family is FAMILY and set(family.presets) == {"paper", "authors_code", "leak_free"}
    model = family.model.build(num_classes=2, input_shape=(96, 96, 3), backbone_weights=None)
    assert model.get_layer(family.model.last_conv_layer).output.shape[1:] == (3, 3, 4096)
