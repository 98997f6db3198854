"""cxr_core.inference.export: .keras and SavedModel exports reload and predict the same."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from cxr_core.inference import export as X


@pytest.fixture(scope="module")
def coronet():
    from coronet_tf import build_coronet

    keras.utils.set_random_seed(0)
    return build_coronet(4, (71, 71, 3))


@pytest.mark.slow
def test_keras_format_roundtrip(tmp_path, coronet):
    path = X.export_model(coronet, tmp_path / "coronet", "keras")
    assert path == tmp_path / "coronet.keras" and path.is_file()
    assert [p.name for p in tmp_path.iterdir()] == ["coronet.keras"]  # no temporary left
    x = X.sample_inputs(coronet, 3, seed=1)
    reloaded = keras.models.load_model(path, safe_mode=True, compile=False)
    np.testing.assert_allclose(reloaded.predict(x, verbose=0), coronet.predict(x, verbose=0), atol=1e-5)
    assert [l.name for l in reloaded.layers] == [l.name for l in coronet.layers]


@pytest.mark.slow
def test_savedmodel_roundtrip(tmp_path, coronet):
    path = X.export_model(coronet, tmp_path / "sm", "savedmodel")  # verified by reloading
    assert (path / "saved_model.pb").is_file()
    x = X.sample_inputs(coronet, 2, seed=2)
    layer = keras.layers.TFSMLayer(str(path), call_endpoint="serve")
    np.testing.assert_allclose(np.asarray(layer(x)), coronet.predict(x, verbose=0), atol=1e-5)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["sm"]


def _tiny(seed=0):
    keras.utils.set_random_seed(seed)
    inp = keras.Input((16, 16, 3))
    h = keras.layers.Conv2D(4, 3, name="conv")(inp)
    out = keras.layers.Dense(3, activation="softmax", name="probs")(keras.layers.Flatten()(h))
    return keras.Model(inp, out)


def test_savedmodel_replaces_existing_folder(tmp_path):
    import tensorflow as tf

    X.export_model(_tiny(0), tmp_path / "sm", "savedmodel")
    second = _tiny(1)
    X.export_model(second, tmp_path / "sm", "savedmodel")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["sm"]
    loaded = tf.saved_model.load(str(tmp_path / "sm"))  # keep a reference: its variables die with it
    x = X.sample_inputs(second, 2)
    np.testing.assert_allclose(loaded.serve(tf.constant(x)).numpy(), second(x).numpy(), atol=1e-6)


def test_multi_output_and_custom_layer(tmp_path):
    from cvrnet_tf import CaffePreprocess

    keras.utils.set_random_seed(0)
    inp = keras.Input((32, 32, 3))
    h = CaffePreprocess(name="caffe")(inp)
    h = keras.layers.Conv2D(4, 3, name="conv")(h)
    a = keras.layers.Dense(3, activation="softmax", name="probs")(keras.layers.GlobalAveragePooling2D()(h))
    b = keras.layers.Conv2D(3, 1, name="recon")(h)
    model = keras.Model(inp, [a, b])
    for fmt in X.FORMATS:
        path = X.export_model(model, tmp_path / f"m_{fmt}", fmt)
        assert X.verify_export(model, path, fmt, X.sample_inputs(model, 2, high=255)) < 1e-3


def test_verify_detects_a_different_model(tmp_path):
    model = _tiny(0)
    path = X.export_model(model, tmp_path / "a", "keras")
    other = _tiny(0)
    kernel = other.get_layer("probs").kernel
    kernel.assign(kernel.numpy() * 3.0)
    with pytest.raises(X.ExportMismatchError, match="predicts differently from the model: output 0 differs by up to"):
        X.verify_export(other, path, "keras")
    with pytest.raises(ValueError, match="expected one of"):
        X.export_path(tmp_path / "x", "onnx")
