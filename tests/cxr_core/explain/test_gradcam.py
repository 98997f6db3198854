"""cxr_core.explain.gradcam: Grad-CAM maps for the three models (random weights, small inputs), against a hand-written
Grad-CAM and each model's own predictions."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from cxr_core.explain import gradcam as G


@pytest.fixture(scope="module")
def coronet():
    from coronet_tf import build_coronet

    keras.utils.set_random_seed(0)
    return build_coronet(4, (71, 71, 3))


@pytest.fixture(scope="module")
def images():
    return np.random.default_rng(0).uniform(0, 1, (2, 71, 71, 3)).astype(np.float32)


def _check_maps(h, n, size):
    assert h.shape == (n, *size) and h.dtype == np.float32
    assert h.min() >= 0.0 and h.max() <= 1.0
    for m in h:  # each map is scaled to its maximum (or all zero)
        assert m.max() == pytest.approx(1.0) or m.max() == 0.0


@pytest.mark.slow
def test_gradcam_nested_coronet(coronet, images):
    from coronet_tf import LAST_CONV_LAYER

    assert G.find_layer_path(coronet, LAST_CONV_LAYER) == ["xception", LAST_CONV_LAYER]
    assert G.default_layer(coronet) == LAST_CONV_LAYER
    maps = [G.gradcam(coronet, images, c, LAST_CONV_LAYER) for c in range(4)]
    for h in maps:
        _check_maps(h, 2, (71, 71))
    assert sum(float(h.max()) for h in maps) > 0
    # the map depends on the target class
    assert max(float(np.abs(maps[0] - maps[c]).max()) for c in range(1, 4)) > 0.05
    e = G.gradcam_explanation(coronet, images, None, LAST_CONV_LAYER)
    np.testing.assert_allclose(e.probabilities, coronet.predict(images, verbose=0), atol=1e-5)
    np.testing.assert_array_equal(e.target, e.probabilities.argmax(1))
    # per-image targets
    mixed = G.gradcam(coronet, images, [0, 1], LAST_CONV_LAYER)
    np.testing.assert_allclose(mixed[0], maps[0][0], atol=1e-5)
    np.testing.assert_allclose(mixed[1], maps[1][1], atol=1e-5)
    with pytest.raises(ValueError, match="no layer named 'nope'"):
        G.gradcam(coronet, images, 0, "nope")
    with pytest.raises(ValueError, match=r"class indices must lie in \[0, 3\]"):
        G.gradcam(coronet, images, 4, LAST_CONV_LAYER)


def test_gradcam_matches_manual_computation():
    """Against a hand-written Grad-CAM on a tiny functional model (logit of a softmax Dense)."""
    import tensorflow as tf

    keras.utils.set_random_seed(1)
    inp = keras.Input((16, 16, 3))
    f = keras.layers.Conv2D(4, 3, padding="same", activation="relu", name="conv")(inp)
    g = keras.layers.GlobalAveragePooling2D()(f)
    out = keras.layers.Dense(3, activation="softmax", name="head")(g)
    model = keras.Model(inp, out)
    x = np.random.default_rng(1).normal(size=(2, 16, 16, 3)).astype(np.float32)
    feat_model = keras.Model(inp, f)
    head = model.get_layer("head")
    with tf.GradientTape() as tape:
        feat = feat_model(x)
        tape.watch(feat)
        z = tf.matmul(tf.reduce_mean(feat, axis=(1, 2)), head.kernel) + head.bias
        score = z[:, 2]
    grads = tape.gradient(score, feat)
    cam = tf.nn.relu(tf.reduce_sum(tf.reduce_mean(grads, axis=(1, 2), keepdims=True) * feat, -1)).numpy()
    expected = cam / cam.reshape(2, -1).max(1)[:, None, None]
    np.testing.assert_allclose(G.gradcam(model, x, 2, "conv"), expected, atol=1e-5)


@pytest.mark.slow
def test_gradcam_cvrnet_branches():
    from cvrnet_tf import build_cvrnet, tap_layer_names

    keras.utils.set_random_seed(0)
    model = build_cvrnet(3, (96, 96, 3), input_scaling="rescale01")
    branches = G.average_branches(model)
    assert [t for t, _ in branches] == list(tap_layer_names("legacy").values())
    assert [h for _, h in branches] == ["dense_3", "dense_6", "dense_9", "dense_12", "dense_15"]
    x = np.random.default_rng(0).uniform(0, 255, (1, 96, 96, 3)).astype(np.float32)
    by_class = [G.gradcam_branches(model, x, c) for c in range(3)]
    explanations = by_class[0]
    assert [e.name for e in explanations] == [f"branch {k}" for k in range(1, 6)] + ["averaged output"]
    for e in explanations:
        _check_maps(e.heatmaps, 1, (96, 96))
    branch_probs = np.stack([e.probabilities for e in explanations[:5]])
    np.testing.assert_allclose(branch_probs.mean(0), explanations[-1].probabilities, atol=1e-5)
    np.testing.assert_allclose(explanations[-1].probabilities, model.predict(x, verbose=0), atol=1e-5)
    # target class changes the maps of the branches
    diffs = [np.abs(by_class[0][k].heatmaps - by_class[c][k].heatmaps).max()
             for k in range(6) for c in (1, 2)]
    assert max(diffs) > 0.05
    assert G.average_branches(keras.Sequential([keras.Input((4,)), keras.layers.Dense(2)])) is None


@pytest.mark.slow
def test_gradcam_coronanet_logits_multi_output():
    from coronanet_tf import LAST_CONV_LAYER, build_coronanet

    keras.utils.set_random_seed(0)
    model = build_coronanet(3, (224, 224, 3), with_decoder=True)
    x = np.random.default_rng(0).normal(size=(1, 224, 224, 3)).astype(np.float32)
    maps = [G.gradcam_explanation(model, x, c, LAST_CONV_LAYER, output_kind="logits") for c in range(3)]
    for m in maps:
        _check_maps(m.heatmaps, 1, (224, 224))
        np.testing.assert_allclose(m.probabilities.sum(1), 1.0, atol=1e-5)
    assert max(float(np.abs(maps[0].heatmaps - maps[c].heatmaps).max()) for c in (1, 2)) > 0.05
