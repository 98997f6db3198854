"""Loading the authors'-format weight files: equivalence with the legacy architecture built by
keras-applications 1.0.8 on tf_keras exactly as the notebook did [CVR-T], [KA]."""

from __future__ import annotations

import shutil

import h5py
import numpy as np
import pytest

from cvrnet_tf import build_cvrnet, infer_num_classes, load_backbone_weights, load_released_weights
from cxr_core.weights.files import read_keras2_weights
from cxr_core.weights.files import WeightFileError

from tests.references import require

tf_keras = require("tf_keras")
kr = require("keras_applications.resnet50")
kx = require("keras_applications.xception")


def build_oracle(num_classes: int, side: int):
    """The notebook's model [CVR-T] with keras-applications 1.0.8 on tf_keras (0-based auto names).

    tf_keras numbers auto-named layers from 0, so the notebook's res_activation_22 / 40 (stage 3 /
    stage 4 ends) are res_activation_21 / 39 here (docs/VERIFIED.md §3).
    """
    kw = dict(backend=tf_keras.backend, layers=tf_keras.layers, models=tf_keras.models, utils=tf_keras.utils)
    tf_keras.backend.clear_session()
    tf_keras.utils.set_random_seed(side)  # reproducible: random heads on raw 0-255 input can saturate softmax
    L = tf_keras.layers
    inp = L.Input(shape=(side, side, 3))
    res = kr.ResNet50(weights=None, include_top=False, input_tensor=inp, input_shape=(side, side, 3), **kw)
    for layer in res.layers:
        layer._name = "res_" + layer.name
    xce = kx.Xception(weights=None, include_top=False, input_tensor=inp, input_shape=(side, side, 3), **kw)
    for layer in xce.layers:
        layer._name = "xce_" + layer.name
    taps = [L.concatenate([res.output, xce.output]), res.get_layer("res_activation_39").output,
            res.get_layer("res_activation_21").output, xce.get_layer("xce_block4_sepconv2_bn").output,
            xce.get_layer("xce_block13_sepconv2_bn").output]
    outs = []
    for k, tap in enumerate(taps, 1):
        h = L.GlobalAveragePooling2D()(tap)
        h = L.Dense(512, activation="relu")(h)
        h = L.Dense(128, activation="relu")(h)
        h = L.Dense(64, activation="relu", name=f"MKH_{k}")(h)
        outs.append(L.Dense(num_classes, activation="softmax")(h))
    model = tf_keras.models.Model(inp, L.Average()(outs))
    rng = np.random.default_rng(0)
    for layer in model.layers:  # non-trivial BN statistics, so that epsilon and order matter
        if isinstance(layer, L.BatchNormalization):
            g, b, m, v = layer.get_weights()
            layer.set_weights([rng.uniform(0.5, 1.5, g.shape), rng.normal(0, 0.2, b.shape),
                               rng.normal(0, 0.2, m.shape), rng.uniform(0.5, 1.5, v.shape)])
    return model


def _images(root, side, per_class=1):
    from PIL import Image

    files = []
    for cls in ("covid", "normal", "pneumonia_bacterial", "pneumonia_viral"):
        files += sorted((root / cls).iterdir())[:per_class]
    arrays = [np.asarray(Image.open(f).convert("RGB").resize((side, side), Image.NEAREST), dtype="float32") for f in files]
    return np.stack(arrays)



def _renumber_1_based(path):
    """Rewrite the tf_keras (0-based) auto names as Keras 2.3.1 wrote them (1-based)."""
    with h5py.File(path, "r+") as f:
        names = [n.decode() if isinstance(n, bytes) else n for n in f.attrs["layer_names"]]
        new_names = list(names)
        stems = ("dense", "xce_conv2d", "xce_batch_normalization", "xce_add", "res_activation", "res_add",
                 "global_average_pooling2d", "concatenate", "average", "res_max_pooling2d")
        renames = {}
        for name in names:
            for stem in stems:
                if name == stem or (name.startswith(stem + "_") and name[len(stem) + 1:].isdigit()):
                    idx = 0 if name == stem else int(name[len(stem) + 1:])
                    renames[name] = f"{stem}_{idx + 1}"
        for old in sorted(renames, key=lambda n: -int(renames[n].rsplit("_", 1)[1])):
            f.move(old, renames[old])
        f.attrs["layer_names"] = np.array([renames.get(n, n).encode() for n in names])
    return renames


@pytest.fixture(scope="module")
def oracle_96(tmp_path_factory, cxr4_mini):
    model = build_oracle(2, 96)
    path = tmp_path_factory.mktemp("cvr") / "Model_task_1_Fold_2.hdf5"
    model.save_weights(str(path))
    x = _images(cxr4_mini, 96)
    ref = _oracle_outputs(model, x)
    return {"path": path, "x": x, "ref": ref}


def _ours_outputs(model, x):
    names = [f"global_average_pooling2d_{k}" for k in range(1, 6)]
    import keras

    probe = keras.Model(model.inputs, [model.output] + [model.get_layer(n).output for n in names])
    return probe.predict(x, verbose=0)


def _assert_same(got, ref, label=""):
    np.testing.assert_allclose(got[0], ref[0], atol=1e-5, rtol=0)
    rel = []
    for g, r in zip(got[1:], ref[1:]):  # branch features (GAP outputs), in the same branch order
        rel.append(float(np.max(np.abs(g - r)) / max(1.0, float(np.max(np.abs(r))))))
    print(f"{label} max |diff| probabilities {float(np.max(np.abs(got[0] - ref[0]))):.2e}, "
          f"branch features max rel diff {max(rel):.2e}")
    assert max(rel) <= 1e-4


def _oracle_outputs(model, x):
    names = [l.name for l in model.layers if l.name.startswith("global_average_pooling2d")]
    probe = tf_keras.models.Model(model.inputs, [model.output] + [model.get_layer(n).output for n in names])
    return probe.predict(x, verbose=0)


@pytest.mark.slow
def test_tf_keras_file_loads_and_predicts_the_same(oracle_96):
    stored = read_keras2_weights(oracle_96["path"])
    assert "dense" in stored and "dense_14" in stored and "xce_conv2d" in stored  # tf_keras: 0-based
    assert infer_num_classes(stored) == 2
    model = load_released_weights(oracle_96["path"], input_shape=(96, 96, 3))
    got = _ours_outputs(model, oracle_96["x"])
    _assert_same(got, oracle_96["ref"], "96x96 tf_keras (0-based) file:")


@pytest.mark.slow
def test_keras_231_numbering_loads_too(oracle_96, tmp_path):
    path = tmp_path / "Model_task_1_Fold_2.hdf5"
    shutil.copy(oracle_96["path"], path)
    renames = _renumber_1_based(path)
    assert renames["dense"] == "dense_1" and renames["dense_14"] == "dense_15"
    stored = read_keras2_weights(path)
    assert "dense_15" in stored and "dense" not in stored and "xce_conv2d_4" in stored
    model = build_cvrnet(2, input_shape=(96, 96, 3))
    load_released_weights(path, model=model)
    _assert_same(_ours_outputs(model, oracle_96["x"]), oracle_96["ref"], "96x96 Keras 2.3.1 (1-based) names:")


@pytest.mark.slow
def test_wrong_number_of_classes_names_the_layer(oracle_96, tmp_path):
    path = tmp_path / "three.hdf5"
    shutil.copy(oracle_96["path"], path)
    with h5py.File(path, "r+") as f:  # turn the five softmax layers into 3-class layers
        for name in ("dense_2", "dense_5", "dense_8", "dense_11", "dense_14"):
            group = f[name]
            for wname in [w.decode() if isinstance(w, bytes) else w for w in group.attrs["weight_names"]]:
                old = group[wname][()]
                del group[wname]
                group[wname] = np.zeros(old.shape[:-1] + (3,), old.dtype)
    assert infer_num_classes(read_keras2_weights(path)) == 3
    model = build_cvrnet(2, input_shape=(96, 96, 3))
    with pytest.raises(WeightFileError, match=r"three\.hdf5.*first layer that differs: 'dense_(3|6|9|12|15)'"):
        load_released_weights(path, model=model)
    with pytest.raises(WeightFileError, match="asked for 2 classes"):
        load_released_weights(path, num_classes=2, input_shape=(96, 96, 3))
    three = load_released_weights(path, input_shape=(96, 96, 3))
    assert three.output.shape[-1] == 3


@pytest.mark.slow
def test_missing_layer_is_named(oracle_96, tmp_path):
    path = tmp_path / "missing.hdf5"
    shutil.copy(oracle_96["path"], path)
    with h5py.File(path, "r+") as f:
        del f["res_bn2a_branch2a"]
        names = [n.decode() if isinstance(n, bytes) else n for n in f.attrs["layer_names"]]
        f.attrs["layer_names"] = np.array([n.encode() for n in names if n != "res_bn2a_branch2a"])
    model = build_cvrnet(2, input_shape=(96, 96, 3))
    with pytest.raises(WeightFileError, match=r"missing\.hdf5.*'res_bn2a_branch2a'.*missing from the source"):
        load_released_weights(path, model=model)


@pytest.mark.slow
def test_legacy_file_into_keras_flavour_and_backbone_from_file(oracle_96):  # fast tier: cvrnet_tf.backbone
    stored = read_keras2_weights(oracle_96["path"])
    modern = load_released_weights(oracle_96["path"], resnet="keras", input_shape=(96, 96, 3))
    for ours, theirs in (("res_conv2_block1_1_conv", "res_res2a_branch2a"), ("res_conv5_block3_3_bn", "res_bn5c_branch2c"),
                         ("res_conv3_block1_0_conv", "res_res3a_branch1")):
        for a, b in zip(modern.get_layer(ours).get_weights(), stored[theirs]):
            np.testing.assert_array_equal(a, b)
    fresh = build_cvrnet(2, input_shape=(96, 96, 3))
    loaded = load_backbone_weights(fresh, oracle_96["path"])
    assert len(loaded) == sum(n.startswith(("res_", "xce_")) for n in stored)
    np.testing.assert_array_equal(fresh.get_layer("xce_conv2d_4").get_weights()[0], stored["xce_conv2d_3"][0])


@pytest.mark.slow
def test_equivalence_at_224(tmp_path, cxr4_mini):
    oracle = build_oracle(2, 224)
    path = tmp_path / "Model_task_1_Fold_1.hdf5"
    oracle.save_weights(str(path))
    x = _images(cxr4_mini, 224)
    ref = _oracle_outputs(oracle, x)
    model = load_released_weights(path)
    _assert_same(_ours_outputs(model, x), ref, "224x224:")


@pytest.mark.slow
def test_authors_format_file_is_recognised_as_cvrnet_only(oracle_96):
    from coronanet_tf.weights import recognise_weights as coronanet_recognises
    from coronet_tf.weights import recognise_weights as coronet_recognises
    from cvrnet_tf.weights import recognise_weights
    from cxr_core.weights.files import describe_weight_file

    summary = describe_weight_file(oracle_96["path"])
    assert summary.format == "keras2_weights" and "MKH_1" in summary.layers
    assert recognise_weights(summary) and not coronet_recognises(summary) and not coronanet_recognises(summary)
