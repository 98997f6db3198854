"""Keras-2 ImageDataGenerator equivalence of our TF augmentation, on real images."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import tensorflow as tf
from keras_preprocessing.image import ImageDataGenerator, img_to_array, load_img

from cxr_core.data.augment.keras2 import (
    Keras2AugmentSpec,
    apply_transform,
    random_transform,
    sample_transform_params,
)

CORONET = Keras2AugmentSpec(  # [CN]
    rotation_range=50, width_shift_range=0.2, height_shift_range=0.2, shear_range=0.25,
    zoom_range=0.1, channel_shift_range=20, horizontal_flip=True, vertical_flip=True,
    fill_mode="constant", cval=0.0,
)


def _generator(spec: Keras2AugmentSpec) -> ImageDataGenerator:
    return ImageDataGenerator(**{k: getattr(spec, k) for k in spec.__dataclass_fields__})


@pytest.fixture(scope="module")
def images(cxr4_mini) -> list[np.ndarray]:
    paths = list(pd.read_csv(cxr4_mini / "MANIFEST.csv")["path"])[::8]  # 24 images, all classes
    return [img_to_array(load_img(str(cxr4_mini / p), target_size=(150, 150))) for p in paths]


def _stats(ref: np.ndarray, ours: np.ndarray) -> tuple[float, float, float]:
    d = np.abs(ref.astype(np.float64) - ours.astype(np.float64))
    return float(d.mean()), float(d.max()), float((d > 1).mean())


def test_coronet_random_params_match_keras_apply_transform(images):
    """Keras-sampled CoroNet parameters, applied by both. Measured: mean 3.2e-5, max 0.004 levels."""
    gen = _generator(CORONET)
    refs, ours = [], []
    for i, x in enumerate(images):
        params = gen.get_random_transform(x.shape, seed=i)
        refs.append(gen.apply_transform(x, params))
        ours.append(apply_transform(x, params, CORONET).numpy())
    mean, mx, frac = _stats(np.stack(refs), np.stack(ours))
    assert mean < 1e-3 and mx < 0.02 and frac == 0.0, (mean, mx, frac)


@pytest.mark.parametrize("params", [
    {"theta": 37.0},
    {"theta": -50.0},
    {"tx": 25.3, "ty": -11.7},           # tx: rows, ty: cols (Keras' convention)
    {"shear": 0.25},
    {"shear": 20.0},
    {"zx": 0.9, "zy": 1.1},
    {"flip_horizontal": True},
    {"flip_vertical": True},
    {"channel_shift_intensity": 17.5},
    {"channel_shift_intensity": -20.0},
    {"theta": -12.0, "tx": -30.0, "ty": 30.0, "shear": 0.2, "zx": 1.08, "zy": 0.93,
     "flip_horizontal": True, "flip_vertical": True, "channel_shift_intensity": 20.0},
])
def test_each_parameter_matches_keras(images, params):
    gen = _generator(CORONET)
    x = images[3]
    ref = gen.apply_transform(x, dict(params))
    ours = apply_transform(x, params, CORONET).numpy()
    mean, mx, frac = _stats(ref, ours)
    assert mean < 1e-3 and mx < 0.02 and frac == 0.0, (params, mean, mx, frac)


def test_non_square_and_nonzero_cval(images):
    spec = Keras2AugmentSpec(fill_mode="constant", cval=128.0)
    gen = _generator(spec)
    x = images[5][:, :120]  # 150 x 120: catches a row/col swap
    params = {"theta": 20.0, "tx": 12.0, "ty": -7.0, "shear": 5.0, "zx": 0.95, "zy": 1.05}
    mean, mx, frac = _stats(gen.apply_transform(x, params), apply_transform(x, params, spec).numpy())
    assert mean < 1e-3 and mx < 0.02 and frac == 0.0


@pytest.mark.parametrize("fill_mode", ["nearest", "reflect"])
def test_other_fill_modes_match_keras(images, fill_mode):
    spec = Keras2AugmentSpec(fill_mode=fill_mode)
    gen = _generator(spec)
    x = images[7]
    params = {"theta": 30.0, "tx": 20.0, "ty": 15.0, "zx": 1.1, "zy": 0.9}
    mean, mx, frac = _stats(gen.apply_transform(x, params), apply_transform(x, params, spec).numpy())
    assert mean < 1e-3 and mx < 0.02 and frac == 0.0, (mean, mx, frac)


def test_batch_equals_per_image(images):
    batch = np.stack(images[:6])
    params = sample_transform_params(CORONET, (150, 150), tf.constant([1, 2]), batch_size=6)
    together = apply_transform(batch, params, CORONET).numpy()
    for i in range(6):
        one = apply_transform(batch[i], {k: v[i] for k, v in params.items()}, CORONET).numpy()
        assert not np.array_equal(one, batch[i])
        np.testing.assert_allclose(together[i], one, atol=1e-4)


def test_identity_params_leave_image_unchanged(images):
    x = images[0]
    np.testing.assert_array_equal(apply_transform(x, {}, CORONET).numpy(), x)
    params = sample_transform_params(Keras2AugmentSpec(), (150, 150), tf.constant([0, 0]))
    np.testing.assert_array_equal(apply_transform(x, params).numpy(), x)


def test_sampled_parameter_distributions():
    n = 20000
    h, w = 100, 200  # height != width: tx must scale with the height, ty with the width
    p = {k: v.numpy() for k, v in
         sample_transform_params(CORONET, (h, w, 3), tf.constant([3, 4]), batch_size=n).items()}
    uniform_sd = 1 / np.sqrt(3)
    for key, bound in (("theta", 50.0), ("tx", 0.2 * h), ("ty", 0.2 * w), ("shear", 0.25),
                       ("channel_shift_intensity", 20.0)):
        v = p[key]
        assert v.min() >= -bound and v.max() <= bound, key
        assert v.min() < -0.98 * bound and v.max() > 0.98 * bound, key
        assert abs(v.mean()) < 0.02 * bound and abs(v.std() / bound - uniform_sd) < 0.01, key
    for key in ("zx", "zy"):
        assert p[key].min() >= 0.9 and p[key].max() <= 1.1 and abs(p[key].mean() - 1.0) < 0.002
    assert abs(np.corrcoef(p["zx"], p["zy"])[0, 1]) < 0.03  # independent draws, as Keras
    assert abs(np.corrcoef(p["theta"], p["shear"])[0, 1]) < 0.03
    for key in ("flip_horizontal", "flip_vertical"):
        assert p[key].dtype == bool and abs(p[key].mean() - 0.5) < 0.02

    off = sample_transform_params(Keras2AugmentSpec(horizontal_flip=True), (h, w), tf.constant([3, 4]), batch_size=500)
    assert not off["flip_vertical"].numpy().any() and off["flip_horizontal"].numpy().any()
    assert (off["theta"].numpy() == 0).all() and (off["zx"].numpy() == 1).all()
    assert off["channel_shift_intensity"] is None


def test_int_and_list_shift_ranges_and_zoom_pair():
    spec = Keras2AugmentSpec(width_shift_range=3, height_shift_range=[0.1, 0.2], zoom_range=[0.8, 1.0])
    p = {k: v.numpy() for k, v in sample_transform_params(spec, (100, 50), tf.constant([5, 6]), batch_size=5000).items()
         if v is not None}
    assert set(np.unique(p["ty"])) == {-2.0, -1.0, 0.0, 1.0, 2.0}  # np.random.choice(3) * +-1
    assert set(np.round(np.unique(p["tx"]), 4)) == {-20.0, -10.0, 10.0, 20.0}  # fractions of the height
    assert p["zx"].min() >= 0.8 and p["zx"].max() <= 1.0
    with pytest.raises(ValueError, match="zoom_range"):
        Keras2AugmentSpec(zoom_range=(1, 2, 3))
    with pytest.raises(ValueError, match="fill_mode"):
        Keras2AugmentSpec(fill_mode="mirror")


def test_sampling_is_stateless_and_seeded(images):
    a = sample_transform_params(CORONET, (150, 150), tf.constant([1, 2]), batch_size=8)
    b = sample_transform_params(CORONET, (150, 150), tf.constant([1, 2]), batch_size=8)
    c = sample_transform_params(CORONET, (150, 150), tf.constant([1, 3]), batch_size=8)
    for k in a:
        np.testing.assert_array_equal(a[k].numpy(), b[k].numpy())
    assert not np.array_equal(a["theta"].numpy(), c["theta"].numpy())
    x = images[1]
    r1 = random_transform(x, CORONET, tf.constant([9, 9])).numpy()
    r2 = random_transform(x, CORONET, tf.constant([9, 9])).numpy()
    np.testing.assert_array_equal(r1, r2)
    assert random_transform(np.stack(images[:3]), CORONET, tf.constant([9, 9])).shape == (3, 150, 150, 3)


def test_gray_batches_take_the_one_channel_path_with_identical_values(images):
    """A batch whose images have equal channels is transformed as one channel: same numbers exactly."""
    gray = np.stack([np.repeat(x[..., :1], 3, axis=-1) for x in images[:6]])
    color = gray.copy()
    color[0, 0, 0, 1] += 1.0  # one differing value sends the whole batch down the three-channel path
    for spec in (CORONET, Keras2AugmentSpec(rotation_range=30, fill_mode="nearest", channel_shift_range=20)):
        params = sample_transform_params(spec, (150, 150), tf.constant([3, 4]), batch_size=6)
        fast = apply_transform(gray, params, spec).numpy()
        slow = apply_transform(color, params, spec).numpy()
        np.testing.assert_array_equal(fast[..., 0], fast[..., 2])
        np.testing.assert_array_equal(fast[1:, ..., 0], slow[1:, ..., 0])
        np.testing.assert_array_equal(fast[1:], slow[1:, ..., :1].repeat(3, axis=-1))
