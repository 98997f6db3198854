"""The weight-transfer API: copy by layer name with a report, the Keras-2 reader, the name normaliser.

Keras-2 files are written by tf_keras (the Keras 2 line the papers' code ran on) and must give the
same predictions once copied into the Keras 3 twin of the model.
"""

from __future__ import annotations

import types
import warnings

import keras
import numpy as np
import pytest
import tf_keras
import yaml

from cxr_core.weights import load as cw
from cxr_core.weights.files import describe_weight_file, read_keras2_file, weight_file_format
from cxr_core.weights.files import WeightFileError
from cxr_core.weights.transfer import copy_weights, numbered_members, renumber_map
from cxr_core.weights.load import init_from_file, load_keras_weights
from cxr_core.weights import transfer


# ------------------------------------------------------------------------------ the normaliser
def test_numbered_members_are_in_numbering_order_with_the_bare_name_first():
    names = ["dense_10", "dense_2", "dense", "dense_1", "dense_out", "xdense_3", "batch_normalization_1"]
    assert numbered_members(names, "dense") == ["dense", "dense_1", "dense_2", "dense_10"]
    assert numbered_members(names, "batch_normalization") == ["batch_normalization_1"]
    assert transfer.auto_name_index("dense_out", "dense") is None and transfer.auto_name_index("dense", "dense") == 0


def test_renumber_map_pairs_zero_and_one_based_numbering():
    ours = ["dense_1", "dense_2", "dense_3", "conv"]  # Keras 2.3.1: from 1
    tf_keras_names = ["dense", "dense_1", "dense_2", "conv"]  # tf.keras: from 0
    assert renumber_map(ours, tf_keras_names, ["dense"]) == {"dense_1": "dense", "dense_2": "dense_1", "dense_3": "dense_2"}
    assert renumber_map(ours, ["dense_4", "dense_5", "dense_6"], ["dense"]) == {
        "dense_1": "dense_4", "dense_2": "dense_5", "dense_3": "dense_6"}  # a session that built layers before
    assert renumber_map(ours, ["dense", "dense_1"], ["dense"]) == {}  # counts differ: left to the transfer
    assert renumber_map(["xce_conv2d_1", "xce_conv2d_2"], ["conv2d_7", "conv2d_8"], {"xce_conv2d": "conv2d"}) == {
        "xce_conv2d_1": "conv2d_7", "xce_conv2d_2": "conv2d_8"}
    with pytest.raises(WeightFileError, match=r"f\.h5: expected 3 .*dense_<n> with consecutive numbers.*found 3"):
        renumber_map(ours, ["dense_1", "dense_2", "dense_4"], ["dense"], expected={"dense": 3}, source="f.h5")


# ------------------------------------------------------------------------------ the transfer report
def _net(spec: dict[str, int], name: str) -> keras.Model:
    x = inputs = keras.Input((3,))
    for layer_name, units in spec.items():
        x = keras.layers.Dense(units, name=layer_name)(x)
    return keras.Model(inputs, x, name=name)


def test_report_counts_filled_skipped_and_mis_shaped_layers():
    target = _net({"a": 2, "b": 4, "c": 5}, "target")  # b: (2, 4); c: absent from the source
    source = _net({"a": 2, "b": 6, "d": 7}, "source")  # b: (2, 6); d: absent from the target
    before_b = target.get_layer("b").get_weights()[0].copy()
    report = copy_weights(target, source, strict=False)
    assert report.filled == ["a"]
    assert report.not_in_source == ["c"] and report.not_in_target == ["d"]
    assert report.mismatched == {"b": ([(2, 4), (4,)], [(2, 6), (6,)])}
    np.testing.assert_array_equal(target.get_layer("a").get_weights()[0], source.get_layer("a").get_weights()[0])
    np.testing.assert_array_equal(target.get_layer("b").get_weights()[0], before_b)
    assert "1 layers filled" in report.summary() and "b mis-shaped: expected [(2, 4), (4,)]" in report.summary()


def test_strict_mode_names_the_first_offending_layer_and_assigns_nothing():
    target = _net({"a": 2, "b": 4, "c": 5}, "target")
    source = _net({"a": 2, "b": 6, "d": 7}, "source")
    kept = target.get_layer("a").get_weights()[0].copy()
    with pytest.raises(WeightFileError, match=r"model 'source': first layer that differs: 'b': expected .*\(2, 4\).*found .*\(2, 6\)"):
        copy_weights(target, source)
    np.testing.assert_array_equal(target.get_layer("a").get_weights()[0], kept)  # nothing half-assigned
    with pytest.raises(WeightFileError, match=r"'c' is missing from the source"):
        copy_weights(target, source, allow=("mismatched",))
    with pytest.raises(WeightFileError, match=r"holds 1 weight-bearing layer\(s\) the model lacks, first 'd'"):
        copy_weights(target, source, allow=("mismatched", "not_in_source"))
    report = copy_weights(target, source, skip=["b"], name_map={"c": "d"}, strict=False)
    assert report.filled == ["a"] and report.skipped == ["b"] and report.renamed == {"c": "d"}
    assert report.mismatched == {"c": ([(4, 5), (5,)], [(6, 7), (7,)])} and report.not_in_target == []
    with pytest.raises(ValueError, match="unknown problem"):
        copy_weights(target, source, allow=("typo",))


def test_arrays_by_name_fill_a_subset_of_layers():
    target = _net({"a": 2, "b": 4}, "target")
    arrays = {"b": [np.ones((2, 4), "float32"), np.zeros(4, "float32")]}
    report = copy_weights(target, arrays, allow=("not_in_source",), source_name="arrays")
    assert report.filled == ["b"] and report.not_in_source == ["a"] and report.source == "arrays"
    np.testing.assert_array_equal(target.get_layer("b").get_weights()[0], np.ones((2, 4)))


# ------------------------------------------------------------------------------ Keras-2 HDF5 files
def _keras2_nested(tmp_path):
    """tf_keras: a Sequential holding a nested model (like CoroNet's ``xception``) and a renamed layer."""
    tf_keras.backend.clear_session()
    inner_in = tf_keras.Input((6, 6, 3))
    h = tf_keras.layers.Conv2D(4, 3, name="block_conv")(inner_in)
    h = tf_keras.layers.BatchNormalization(name="block_bn")(h)
    inner = tf_keras.Model(inner_in, h, name="backbone")
    outer = tf_keras.Sequential([inner, tf_keras.layers.Flatten(), tf_keras.layers.Dense(3, activation="softmax")])
    rng = np.random.default_rng(0)
    bn = inner.get_layer("block_bn")
    bn.set_weights([rng.uniform(0.5, 1.5, 4), rng.normal(0, 0.2, 4), rng.normal(0, 0.2, 4), rng.uniform(0.5, 1.5, 4)])
    full, weights_only = tmp_path / "full.h5", tmp_path / "weights.h5"
    outer.save(str(full))
    outer.save_weights(str(weights_only))
    return outer, full, weights_only


def _keras3_twin() -> keras.Model:
    inner_in = keras.Input((6, 6, 3))
    h = keras.layers.Conv2D(4, 3, name="block_conv")(inner_in)
    h = keras.layers.BatchNormalization(name="block_bn")(h)
    inner = keras.Model(inner_in, h, name="backbone")
    return keras.Sequential([keras.Input((6, 6, 3)), inner, keras.layers.Flatten(), keras.layers.Dense(3, activation="softmax", name="dense")])


@pytest.mark.filterwarnings("ignore:You are saving your model as an HDF5 file")
def test_keras2_full_and_weights_only_files_predict_like_tf_keras(tmp_path):
    theirs, full, weights_only = _keras2_nested(tmp_path)
    assert weight_file_format(full) == "keras2_full_model" and weight_file_format(weights_only) == "keras2_weights"
    stored = read_keras2_file(full)
    assert list(stored.layers) == ["block_conv", "block_bn", "dense"]  # nested model flattened
    assert stored.model_config is not None and read_keras2_file(weights_only).model_config is None
    x = np.random.default_rng(1).normal(size=(2, 6, 6, 3)).astype("float32")
    for path in (full, weights_only):
        ours = _keras3_twin()
        report = copy_weights(ours, path)
        assert report.filled == ["block_conv", "block_bn", "dense"] and report.source == str(path)
        np.testing.assert_allclose(ours(x, training=False), theirs(x, training=False), atol=1e-6)
    summary = describe_weight_file(full)
    assert summary.top_level[0] == "backbone" and summary.layers["block_bn"] == [(4,)] * 4


def test_not_a_weight_file_is_named(tmp_path):
    bad = tmp_path / "notes.h5"
    bad.write_text("not hdf5")
    with pytest.raises(WeightFileError, match=r"notes\.h5: a unknown file, not Keras weights"):
        copy_weights(_net({"a": 2}, "m"), bad)
    with pytest.raises(FileNotFoundError):
        copy_weights(_net({"a": 2}, "m"), tmp_path / "absent.h5")


# ------------------------------------------------------------------------------ Keras 3 files
def test_init_from_file_keeps_a_head_of_another_size_fresh(tmp_path):
    donor = _net({"a": 8, "b": 8, "head": 4}, "four_class")
    path = tmp_path / "four.weights.h5"
    donor.save_weights(path)
    model = _net({"a": 8, "b": 8, "head": 3}, "three_class")
    head = model.get_layer("head").get_weights()[0].copy()
    report = init_from_file(model, path)
    assert report.filled == ["a", "b"] and report.not_in_source == ["head"]
    np.testing.assert_array_equal(model.get_layer("b").get_weights()[0], donor.get_layer("b").get_weights()[0])
    np.testing.assert_array_equal(model.get_layer("head").get_weights()[0], head)
    archive = tmp_path / "four.keras"
    donor.save(archive)
    assert describe_weight_file(archive).format == "keras3_archive"
    report = init_from_file(_net({"a": 8, "b": 8, "head": 3}, "three_class"), archive)  # read by name
    assert report.filled == ["a", "b"] and report.mismatched == {"head": ([(8, 3), (3,)], [(8, 4), (4,)])}
    other = _net({"a": 5, "b": 8, "head": 3}, "other")  # every kernel has another shape
    with pytest.raises(WeightFileError, match=r"model\.init_from: .*four\.weights\.h5 fits only 0 of the model's 3 .*'a'"):
        init_from_file(other, path)


def test_a_file_of_another_model_fails_in_one_line_without_warnings(tmp_path, monkeypatch):
    path = tmp_path / "other.weights.h5"
    _net({"x": 8, "y": 2, "z": 3}, "other").save_weights(path)
    recognisers = [types.SimpleNamespace(name="tiny", weights=types.SimpleNamespace(recognise=lambda s: "dense_2" in s.top_level)),
                   types.SimpleNamespace(name="never", weights=types.SimpleNamespace(recognise=lambda s: False))]
    monkeypatch.setattr("cxr_core.family.iter_families", lambda: iter(recognisers))
    model = keras.Sequential([keras.Input((4, 4, 3)), keras.layers.Conv2D(2, 3), keras.layers.Flatten(),
                              keras.layers.Dense(2)], name="convnet")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with pytest.raises(WeightFileError) as info:
            load_keras_weights(model, path)
    message = str(info.value)
    assert not caught, [str(w.message)[:80] for w in caught]
    assert "\n" not in message and "other.weights.h5: does not fit model 'convnet'" in message
    assert message.endswith("the file looks like weights of a 'tiny' model (keras3_weights)")
    family = types.SimpleNamespace(name="never", weights=types.SimpleNamespace(recognise=lambda s: False, load=None))
    with pytest.raises(WeightFileError, match=r"other\.weights\.h5: looks like weights of a 'tiny' model .*not 'never'"):
        cw.load_weights_for(family, model, path)


def test_the_transfer_imports_no_loader():
    """The transfer (cxr_core.weights.transfer) is below the loaders: it imports neither them nor the registry."""
    import ast
    import inspect

    from cxr_core.weights import transfer as weight_transfer

    tree = ast.parse(inspect.getsource(weight_transfer))
    imported = {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)}
    assert "cxr_core.weights.load" not in imported and "cxr_core.family" not in imported


def test_a_smoke_runs_weights_in_a_full_size_model_name_the_layer_shapes_and_the_runs_input(tmp_path):
    def net(side):
        return keras.Sequential([keras.Input((side, side, 3)), keras.layers.Conv2D(2, 3, name="conv"),
                                 keras.layers.Flatten(), keras.layers.Dense(2, name="head")], name="convnet")

    run = tmp_path / "run"
    (run / "fold_0" / "checkpoints").mkdir(parents=True)
    (run / "config.yaml").write_text(yaml.safe_dump({"config": {"preprocess": {"image_size": [8, 8]}}, "smoke": True}))
    path = run / "fold_0" / "checkpoints" / "last.weights.h5"
    net(8).save_weights(path)
    with pytest.raises(WeightFileError) as info:
        load_keras_weights(net(16), path)
    message = str(info.value)
    # conv output 6x6x2 = 72 inputs to the head at 8x8; 14x14x2 = 392 at 16x16
    assert "layer convnet/head: kernel (392, 2) in the model, (72, 2) in the file" in message, message
    assert f"the file comes from run {run.resolve()}, input 8x8 (a smoke run)" in message and "\n" not in message
