"""Loading Keras-2 (tf_keras) CoroNet HDF5 files, as the authors saved theirs [CN], into our Keras 3 model.

The reference model is built with tf_keras exactly like the authors' notebook [CN]:
``Sequential([Xception(include_top=False), Flatten(), Dropout(0.5), Dense(256, relu), Dense(4, softmax)])``.
Predictions on real chest X-rays (cxr4-mini) must agree within 1e-5.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

import h5py

from tests.references import require

tf_keras = require("tf_keras")
from PIL import Image  # noqa: E402

from coronet_tf import build_coronet, load_finetune_weights, load_released_weights  # noqa: E402
from cxr_core.weights.files import WeightFileError
from cxr_core.weights.transfer import weighted_layers

pytestmark = pytest.mark.filterwarnings("ignore:You are saving your model as an HDF5 file")

SMALL = 71  # Xception's minimum input side keeps the Keras-2 reference fast
TOL = 1e-5


def _authors_model(side: int, classes: int = 4, *, fresh_session: bool = True):
    """The notebook's model, in tf_keras (Keras 2), with auto-named head layers like theirs [CN].

    The softmax kernel is scaled up so that the random model's probabilities are far from uniform and
    a 1e-5 comparison can tell models apart.
    """
    if fresh_session:
        tf_keras.backend.clear_session()
    conv_base = tf_keras.applications.Xception(weights=None, include_top=False, input_shape=(side, side, 3))
    conv_base.trainable = True
    model = tf_keras.models.Sequential([
        conv_base,
        tf_keras.layers.Flatten(),
        tf_keras.layers.Dropout(0.5),
        tf_keras.layers.Dense(256, activation="relu"),
        tf_keras.layers.Dense(classes, activation="softmax"),
    ])
    kernel, bias = model.layers[-1].get_weights()
    model.layers[-1].set_weights([kernel * 300.0, bias])
    return model


def _images(root: Path, side: int, per_class: int = 2) -> np.ndarray:
    """Real images, x/255 after a nearest resize, as the authors' generators feed them [CN]."""
    arrays = []
    for folder in sorted(p for p in root.iterdir() if p.is_dir()):
        for path in sorted(folder.iterdir())[:per_class]:
            with Image.open(path) as im:
                arrays.append(np.asarray(im.convert("RGB").resize((side, side), Image.NEAREST), np.float32) / 255.0)
    return np.stack(arrays)


@pytest.fixture(scope="module")
def small_files(tmp_path_factory):
    """A 4-class 71x71 model after one compiled fit step, saved with optimizer and as weights."""
    tmp = tmp_path_factory.mktemp("coronet_k2")
    model = _authors_model(SMALL)
    assert [layer.name for layer in model.layers] == ["xception", "flatten", "dropout", "dense", "dense_1"]
    model.compile(optimizer=tf_keras.optimizers.Adam(learning_rate=1e-4), loss="categorical_crossentropy",
                  metrics=["acc"], run_eagerly=True)  # eager: one step without minutes of tracing
    rng = np.random.default_rng(0)
    model.fit(rng.random((2, SMALL, SMALL, 3), dtype=np.float32), np.eye(4, dtype=np.float32)[:2], batch_size=2,
              epochs=1, verbose=0)
    full, weights = tmp / "4-class-Covid19-Mod-Xception.h5", tmp / "weights.h5"
    model.save(str(full), include_optimizer=True)
    model.save_weights(str(weights))
    with h5py.File(full, "r") as f:
        assert "optimizer_weights" in f and "model_config" in f.attrs
    return {"model": model, "full": full, "weights": weights, "tmp": tmp}


def _max_diff(ours, theirs, x) -> float:
    """Largest absolute difference of the softmax outputs (eager calls: no graph tracing)."""
    diff = float(np.max(np.abs(np.asarray(ours(x, training=False)) - np.asarray(theirs(x, training=False)))))
    print(f"max |ours - tf_keras| = {diff:.3g}")
    return diff


@pytest.mark.slow
def test_full_model_with_optimizer_loads_and_predicts_the_same(small_files, cxr4_mini):
    x = _images(cxr4_mini, SMALL)
    ours = load_released_weights(small_files["full"])
    assert tuple(ours.input_shape) == (None, SMALL, SMALL, 3) and tuple(ours.output_shape) == (None, 4)
    assert _max_diff(ours, small_files["model"], x) < TOL
    feats = np.asarray(ours.get_layer("xception")(x, training=False))
    ref = np.asarray(small_files["model"].layers[0](x, training=False))
    np.testing.assert_allclose(feats, ref, rtol=1e-4, atol=1e-5 * float(np.abs(ref).max()))
    fresh = build_coronet(4, (SMALL, SMALL, 3))
    assert _max_diff(fresh, small_files["model"], x) > 0.05  # the comparison can tell models apart


@pytest.mark.slow
def test_weights_only_file_infers_input_size(small_files, cxr4_mini):
    x = _images(cxr4_mini, SMALL)
    ours = load_released_weights(small_files["weights"])  # 3x3x2048 features -> smallest input, 71
    assert tuple(ours.input_shape) == (None, SMALL, SMALL, 3)
    assert _max_diff(ours, small_files["model"], x) < TOL
    given = build_coronet(4, (SMALL, SMALL, 3))
    assert load_released_weights(small_files["weights"], given) is given
    assert _max_diff(given, small_files["model"], x) < TOL


@pytest.mark.slow
def test_renumbered_layers_from_a_second_build_load(small_files, cxr4_mini):
    """Re-running the notebook's model cell names layers dense_2, conv2d_4, batch_normalization_4 ..."""
    theirs = _authors_model(SMALL, classes=3, fresh_session=False)
    names = [layer.name for layer in theirs.layers]
    assert names[3:] != ["dense", "dense_1"], names
    path = small_files["tmp"] / "3class_renumbered.h5"
    theirs.save(str(path))
    ours = load_released_weights(path)
    assert tuple(ours.output_shape) == (None, 3)
    assert _max_diff(ours, theirs, _images(cxr4_mini, SMALL, per_class=1)) < TOL
    with pytest.raises(WeightFileError, match=r"first layer that differs: 'dense_1'.*\(256, 4\).*\(256, 3\)"):
        load_released_weights(path, build_coronet(4, (SMALL, SMALL, 3)))


def _edited_copy(src: Path, dst: Path, edit) -> Path:
    shutil.copyfile(src, dst)
    with h5py.File(dst, "r+") as f:
        edit(f)
    return dst


@pytest.mark.slow
def test_renamed_or_missing_layer_is_named(small_files):
    model = build_coronet(4, (SMALL, SMALL, 3))

    def rename_dense(f):
        names = [n.decode() if isinstance(n, bytes) else n for n in f.attrs["layer_names"]]
        f.attrs["layer_names"] = np.array([("fc256" if n == "dense" else n).encode() for n in names])
        f.move("dense", "fc256")
        f["fc256"].move("dense", "fc256")
        f["fc256"].attrs["weight_names"] = np.array([b"fc256/kernel:0", b"fc256/bias:0"])

    renamed = _edited_copy(small_files["weights"], small_files["tmp"] / "renamed.h5", rename_dense)
    with pytest.raises(WeightFileError, match=r"renamed\.h5: first layer that differs: 'dense'.* missing"):
        load_released_weights(renamed, model)

    def drop_bn(f):
        group = f["xception"]
        names = [n.decode() if isinstance(n, bytes) else str(n) for n in group.attrs["weight_names"]]
        group.attrs["weight_names"] = np.array([n.encode() for n in names if not n.startswith("block14_sepconv2_bn/")])

    missing = _edited_copy(small_files["weights"], small_files["tmp"] / "missing.h5", drop_bn)
    with pytest.raises(WeightFileError, match="first layer that differs: 'block14_sepconv2_bn'"):
        load_released_weights(missing, model)
    before = model.get_layer("dense").get_weights()[0].copy()
    np.testing.assert_array_equal(model.get_layer("dense").get_weights()[0], before)  # nothing half-assigned
    with pytest.raises(FileNotFoundError):
        load_released_weights(small_files["tmp"] / "absent.h5")


@pytest.mark.slow
def test_finetune_start_keeps_everything_but_the_head(small_files):
    """Paper: 3-class model = 4-class model slightly modified and fine-tuned [S4]."""
    model = build_coronet(3, (SMALL, SMALL, 3))
    head = model.get_layer("dense_1").get_weights()[0].copy()
    load_finetune_weights(model, small_files["full"])
    theirs = small_files["model"]
    np.testing.assert_array_equal(model.get_layer("dense").get_weights()[0], theirs.layers[3].get_weights()[0])
    ours_x, theirs_x = weighted_layers(model.get_layer("xception")), theirs.layers[0]
    for name in ("block1_conv1", "block14_sepconv2_bn", "batch_normalization_3"):
        for a, b in zip(ours_x[name].get_weights(), theirs_x.get_layer(name).get_weights()):
            np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(model.get_layer("dense_1").get_weights()[0], head)
    # the same from a Keras 3 checkpoint of our own 4-class model
    ours4 = load_released_weights(small_files["weights"])
    keras3_file = small_files["tmp"] / "coronet4.weights.h5"
    ours4.save_weights(keras3_file)
    again = load_finetune_weights(build_coronet(3, (SMALL, SMALL, 3)), keras3_file)
    np.testing.assert_array_equal(again.get_layer("dense").get_weights()[0], theirs.layers[3].get_weights()[0])
    np.testing.assert_array_equal(weighted_layers(again)["block14_sepconv2_bn"].get_weights()[2],
                                  theirs_x.get_layer("block14_sepconv2_bn").get_weights()[2])


@pytest.mark.slow
def test_authors_size_150(tmp_path, cxr4_mini):
    """One file at the authors' 150x150 [CN]: size and classes come from the file."""
    theirs = _authors_model(150)
    path = tmp_path / "coronet150.h5"
    theirs.save(str(path), include_optimizer=False)
    ours = load_released_weights(path)
    assert tuple(ours.input_shape) == (None, 150, 150, 3)
    assert ours.count_params() == 33_969_964
    assert _max_diff(ours, theirs, _images(cxr4_mini, 150, per_class=1)) < TOL


def test_keras2_files_are_recognised_as_coronet_only(small_files):
    from coronanet_tf.weights import recognise_weights as coronanet_recognises
    from coronet_tf.weights import recognise_weights
    from cvrnet_tf.weights import recognise_weights as cvrnet_recognises
    from cxr_core.weights.files import describe_weight_file

    for path in (small_files["full"], small_files["weights"]):
        summary = describe_weight_file(path)
        assert recognise_weights(summary) and not cvrnet_recognises(summary) and not coronanet_recognises(summary)
