"""CORONA-Net Keras model: the family contract (tests/family_harness.py) with the parameter counts, the\nDecoder224 shape trace and the flatten order [CR]."""

from __future__ import annotations

import numpy as np
import pytest

import keras

from coronanet_tf import FAMILY, build_coronanet
from coronanet_tf.layout import LAST_CONV_LAYER, VGG16_BN_CONV_INDICES
from tests.family_harness import FAST_PARTS, SLOW_PARTS, FamilyCase, PublishedCount, run_family_test


@pytest.fixture(scope="module")
def full_model():
    return build_coronanet()


#: the family contract (tests/family_harness.py): CORONA-Net only builds at 224..255 (the flatten is
#: 100x7x7), so the smallest model is the published one with its decoder; the fit trains the
#: classification path. Counts docs/PAPERS.md §3.1 (INFERRED from [CR]): trainable = classification
#: path 15,021,699, + used decoder 15,050,059; non-trainable = BN moving mean/variance, VGG 8,448,
#: decoder 352.
CASE = FamilyCase(
    build={"num_classes": 3, "input_shape": (224, 224, 3), "with_decoder": True},
    fit_build={"num_classes": 3, "input_shape": (224, 224, 3), "with_decoder": False},
    published=(
        PublishedCount({"num_classes": 3, "with_decoder": True}, (15_050_059 + 8_800, 15_050_059, 8_800),
                       "docs/PAPERS.md §3.1"),
        PublishedCount({"num_classes": 3, "with_decoder": False}, (15_021_699 + 8_448, 15_021_699, 8_448),
                       "docs/PAPERS.md §3.1"),
    ),
    batch=1,
)


def test_family_contract():
    """Published counts (both variants are cheap enough for the fast tier) and, under mixed_float16,
    float32 logits and reconstruction, the reconstruction tanh-bounded."""
    model = run_family_test("coronanet", CASE, parts=(*FAST_PARTS, "published_counts"))["mixed_precision"]
    _, rec = model(np.zeros((1, 224, 224, 3), np.float32), training=False)
    assert np.all(np.abs(np.asarray(rec)) <= 1.0)  # tanh


@pytest.mark.slow
def test_family_contract_heavy_parts(tmp_path):
    run_family_test("coronanet", CASE, tmp_path, parts=tuple(p for p in SLOW_PARTS if p != "published_counts"))


def test_stage_parameter_counts(full_model):
    def params(prefix):
        return sum(int(np.prod(w.shape)) for layer in full_model.layers if layer.name.startswith(prefix)
                   for w in layer.trainable_weights)

    assert params("net_fet_") == 14_723_136
    assert params("nscnn_") == 51_300
    assert params("classifier_") == 247_263
    assert params("dec_") == 28_008 + 352


def test_outputs_and_decoder_trace(full_model):
    assert [tuple(o.shape) for o in full_model.outputs] == [(None, 3), (None, 224, 224, 3)]
    assert full_model.get_layer("dec_view").output.shape[1:] == (1, 3, 1)  # torch view(-1,1,1,3) = C1,H1,W3
    trace = [(2, 3), (4, 4), (8, 8), (10, 10), (40, 40), (120, 120), (122, 122), (245, 245),
             (239, 239), (233, 233), (227, 227), (224, 224)]  # docs/PAPERS.md §3.1
    channels = [6, 8, 10, 14, 16, 18, 20, 22, 24, 32, 3, 3]
    for i, (hw, c) in enumerate(zip(trace, channels), start=1):
        assert tuple(full_model.get_layer(f"dec_batchnorm{i}").output.shape[1:]) == (*hw, c), i
        assert full_model.get_layer(f"dec_batchnorm{i}").epsilon == 1e-3
    assert full_model.get_layer("nscnn_0").output.shape[1:] == (7, 7, 100)
    assert full_model.get_layer("flatten").output.shape[1:] == (4900,)


def test_vgg_layout(full_model):
    convs = [layer for layer in full_model.layers if isinstance(layer, keras.layers.Conv2D)
             and layer.name.startswith("net_fet_")]
    assert [int(layer.name.split("_")[-1]) for layer in convs] == list(VGG16_BN_CONV_INDICES)
    bns = [full_model.get_layer(f"net_fet_{i + 1}") for i in VGG16_BN_CONV_INDICES]
    assert all(b.epsilon == 1e-5 and b.momentum == 0.9 for b in bns)
    pools = [layer for layer in full_model.layers if isinstance(layer, keras.layers.MaxPooling2D)]
    assert [layer.name for layer in pools] == ["net_fet_6", "net_fet_13", "net_fet_23", "net_fet_33", "net_fet_43"]
    assert FAMILY.model.last_conv_layer == LAST_CONV_LAYER == "net_fet_42"
    assert full_model.get_layer(LAST_CONV_LAYER).output.shape[1:] == (14, 14, 512)


def test_flatten_is_channel_major(full_model):
    """The flat vector equals torch ``conv.view(N, -1)`` of the NCHW map (index c*49 + h*7 + w)."""
    sub = keras.Model(full_model.get_layer("to_channel_major").input, full_model.get_layer("flatten").output)
    fmap = np.random.default_rng(0).normal(size=(2, 7, 7, 100)).astype(np.float32)
    flat = np.asarray(sub(fmap))
    np.testing.assert_array_equal(flat, fmap.transpose(0, 3, 1, 2).reshape(2, -1))


def test_other_class_counts_and_errors(tmp_path, monkeypatch):
    model = build_coronanet(num_classes=4, with_decoder=False, input_shape=(240, 240, 3))
    assert tuple(model.output.shape) == (None, 4)
    with pytest.raises(ValueError, match="num_classes=3"):
        build_coronanet(num_classes=4, with_decoder=True)
    with pytest.raises(ValueError, match="224..255"):
        build_coronanet(input_shape=(150, 150, 3))
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    monkeypatch.delenv("COVID_CXR_VGG16_BN_WEIGHTS", raising=False)
    with pytest.raises(FileNotFoundError, match="vgg16_bn-6c64b313.pth"):
        build_coronanet(with_decoder=False, backbone_weights="imagenet")


@pytest.mark.slow
def test_save_and_load_roundtrip_across_decoder(tmp_path, full_model):
    from coronanet_tf.weights import load_weights as load_coronanet_weights

    path = tmp_path / "m.weights.h5"
    full_model.save_weights(path)
    model = build_coronanet(with_decoder=False)
    load_coronanet_weights(model, path)
    for name in ("net_fet_0", "classifier_6"):
        for a, b in zip(model.get_layer(name).get_weights(), full_model.get_layer(name).get_weights()):
            np.testing.assert_array_equal(a, b)
    with pytest.raises(ValueError, match="num_classes=4"):
        load_coronanet_weights(build_coronanet(num_classes=4, with_decoder=False), path)


@pytest.mark.slow
def test_package_import_does_not_import_torch():
    import subprocess
    import sys

    code = "import sys, coronanet_tf; assert 'torch' not in sys.modules, 'torch imported'"
    subprocess.run([sys.executable, "-c", code], check=True, capture_output=True)
