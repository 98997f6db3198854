"""augment.placement: device — the gather resampler equals TF's kernel, and both placements give the
same batches and the same training for the same seed."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import tensorflow as tf

from cxr_core.data.augment.keras2 import Keras2AugmentSpec, keras_affine_matrices, sample_transform_params
from cxr_core.data.augment.device import (
    RAW_IMAGES,
    RAW_PARAMS,
    DeviceAugmentation,
    check_train_data,
    is_raw_batch,
    with_device_augmentation,
)
from cxr_core.data.decode.images import decode_to_uint8_rgb
from cxr_core.data.decode.resize import resize_to_uint8
from cxr_core.data.pipeline import PipelineSpec, build_dataset, device_augmentation
from cxr_core.data.augment.resample import projective_transform_bilinear
from cxr_core.data.tables.sample_table import SampleTable

CLASSES = ("covid", "normal", "pneumonia_bacterial", "pneumonia_viral")
CORONET = Keras2AugmentSpec(  # [CN]
    rotation_range=50, width_shift_range=0.2, height_shift_range=0.2, shear_range=0.25,
    zoom_range=0.1, channel_shift_range=20, horizontal_flip=True, vertical_flip=True,
)
SIZE = (64, 64)


@pytest.fixture(scope="module")
def table(cxr4_mini) -> SampleTable:
    rows = pd.read_csv(cxr4_mini / "MANIFEST.csv").iloc[::12].reset_index(drop=True)  # 16 images
    frame = pd.DataFrame({
        "sample_id": list(rows["path"]),
        "path": [str(cxr4_mini / p) for p in rows["path"]],
        "label": list(rows["class"]),
        "label_index": [CLASSES.index(c) for c in rows["class"]],
        "patient_id": list(rows["patient_id"]),
        "source": list(rows["source_repo"]),
    })
    return SampleTable(frame=frame, class_names=CLASSES)


def _images(table: SampleTable, n: int = 8) -> np.ndarray:
    paths = list(table.frame["path"])[:n]
    return np.stack([resize_to_uint8(decode_to_uint8_rgb(tf.io.read_file(p)), SIZE, "bilinear").numpy()
                     for p in paths]).astype(np.float32)


def _tf_transforms(m: tf.Tensor) -> tf.Tensor:
    # (row, col) inverse maps -> TF's [a0, a1, a2, b0, b1, b2, 0, 0] over (x = col, y = row)
    return tf.cast(tf.stack([m[:, 1, 1], m[:, 1, 0], m[:, 1, 2], m[:, 0, 1], m[:, 0, 0], m[:, 0, 2],
                             tf.zeros_like(m[:, 0, 0]), tf.zeros_like(m[:, 0, 0])], axis=-1), tf.float32)


@pytest.mark.parametrize("fill_mode", ["constant", "nearest", "reflect", "wrap"])
def test_gather_resampler_equals_the_tf_kernel(table, fill_mode):
    """Real X-rays, CoroNet's random affine maps (large shifts reach far outside for reflect/wrap)."""
    x = _images(table)
    params = sample_transform_params(CORONET, SIZE, tf.constant([3, 4], tf.int64), batch_size=len(x))
    params["tx"] = params["tx"] * 4.0  # also coordinates beyond one image length (reflect/wrap folds)
    t = _tf_transforms(keras_affine_matrices(params, *SIZE))
    expected = tf.raw_ops.ImageProjectiveTransformV3(
        images=x, transforms=t, output_shape=tf.constant(SIZE, tf.int32), fill_value=tf.constant(7.0),
        interpolation="BILINEAR", fill_mode=fill_mode.upper()).numpy()
    got = projective_transform_bilinear(x, t, fill_mode=fill_mode, fill_value=7.0).numpy()
    xla = tf.function(lambda a, b: projective_transform_bilinear(a, b, fill_mode=fill_mode, fill_value=7.0),
                      jit_compile=True)(x, t).numpy()
    for out in (got, xla):
        diff = np.abs(out - expected)
        assert diff.max() < 1e-3, f"{fill_mode}: max |diff| {diff.max():.2e} grey levels"  # measured 3e-5
        assert diff.mean() < 1e-4
    assert np.abs(expected - x).mean() > 5.0, "the transforms change the images"


def _spec(placement: str, scaling: str = "rescale01") -> PipelineSpec:
    return PipelineSpec(SIZE, "nearest", scaling, augment=CORONET, cache=True, augment_placement=placement)


@pytest.mark.slow
@pytest.mark.parametrize("scaling", ["rescale01", "imagenet"])
def test_both_placements_give_the_same_batches(table, scaling):
    host = build_dataset(table, _spec("host", scaling), batch_size=5, shuffle=True, augment=True, seed=11,
                         repeat=True, include_ids=True)
    device = build_dataset(table, _spec("device", scaling), batch_size=5, shuffle=True, augment=True, seed=11,
                           repeat=True, include_ids=True)
    aug = device_augmentation(_spec("device", scaling))
    assert aug == DeviceAugmentation(CORONET, scaling)
    on_device = tf.function(aug, jit_compile=True)  # as inside a training step compiled with XLA
    n = 0
    for (hx, hy, hid), (dx, dy, did) in zip(host.take(5), device.take(5)):  # > 1 epoch of 16 images
        assert is_raw_batch(dx) and dx[RAW_IMAGES].dtype == tf.uint8 and dx[RAW_PARAMS].shape[-1] == 9
        np.testing.assert_array_equal(hid.numpy(), did.numpy())
        np.testing.assert_array_equal(hy.numpy(), dy.numpy())
        for got in (aug(dx).numpy(), on_device(dx).numpy()):
            scale = 1.0 / 255 if scaling == "rescale01" else 1.0 / (255 * 0.224)
            np.testing.assert_allclose(got, hx.numpy(), rtol=0, atol=1e-3 * scale)  # 1/1000 grey level
            assert np.abs(got - hx.numpy()).mean() < 1e-4 * scale
        n += 1
    assert n == 5


def test_no_raw_batches_without_augmentation_or_on_host(table):
    assert device_augmentation(_spec("host")) is None
    assert device_augmentation(PipelineSpec(SIZE, augment=None, augment_placement="device")) is None
    ds = build_dataset(table, _spec("device"), batch_size=4, augment=False)  # validation / prediction
    x, _ = next(iter(ds))
    assert not is_raw_batch(x) and x.dtype == tf.float32
    with pytest.raises(ValueError, match="augment.placement"):
        PipelineSpec(SIZE, augment_placement="gpu")


def _tiny_model():
    import keras

    inp = keras.Input((*SIZE, 3))
    h = keras.layers.Conv2D(4, 3, strides=2, name="conv")(inp)
    h = keras.layers.GlobalAveragePooling2D(name="pool")(h)
    return keras.Model(inp, keras.layers.Dense(len(CLASSES), activation="softmax", name="head")(h), name="tiny")


@pytest.mark.slow
def test_fit_split_device_placement_trains_like_host(table, tmp_path: Path):
    """Two epochs of fit_split from the same seed: same weights (float tolerance), same log, and the
    saved weights load into the plain model."""
    from cxr_core.config.experiment import TrainConfig
    from cxr_core.training.fit import fit_split, seed_everything

    train = TrainConfig(batch_size=4, epochs=2, verbose=0, checkpoint="last", seed=1)
    results = {}
    for placement in ("host", "device"):
        spec = _spec(placement)
        seed_everything(1, True)
        res = fit_split(
            _tiny_model,
            lambda first, spec=spec: build_dataset(table, spec, batch_size=4, shuffle=True, augment=True, seed=5),
            lambda first, spec=spec: build_dataset(table, spec, batch_size=4, augment=True, seed=6),  # raw too
            tmp_path / placement, train, device_augmentation=device_augmentation(spec),
        )
        plain = _tiny_model()
        plain.load_weights(res.weights_path)
        results[placement] = (plain.get_weights(), pd.read_csv(res.log_path))
    (w_host, log_host), (w_dev, log_dev) = results["host"], results["device"]
    for a, b in zip(w_host, w_dev):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(log_host[["loss", "val_loss"]].to_numpy(), log_dev[["loss", "val_loss"]].to_numpy(),
                               rtol=1e-4)
    seed_everything(1, True)
    initial = _tiny_model().get_weights()
    assert np.abs(w_host[0] - initial[0]).max() > 1e-4, "training moved the weights"


def test_mismatched_data_and_model_are_refused(table):
    raw = build_dataset(table, _spec("device"), batch_size=4, augment=True)
    with pytest.raises(ValueError, match="device_augmentation"):
        check_train_data(raw.element_spec, None)
    with pytest.raises(ValueError, match="reconstruction"):
        check_train_data(raw.map(lambda x, y: (x, x)).element_spec, device_augmentation(_spec("device")))
    check_train_data(raw.element_spec, device_augmentation(_spec("device")))
    with pytest.raises(ValueError, match="DeviceAugmentation"):
        with_device_augmentation(_tiny_model(), object())


def test_config_accepts_placement_and_rejects_others():
    from cxr_core.config.schema import ConfigError
    from cxr_core.config.experiment import resolve_config

    base = {"preset": "coronet/authors_code"}
    assert resolve_config(base).augment.placement == "host"
    assert resolve_config({**base, "augment": {"placement": "device"}}).augment.placement == "device"
    with pytest.raises(ConfigError, match="placement"):
        resolve_config({**base, "augment": {"placement": "gpu"}})
