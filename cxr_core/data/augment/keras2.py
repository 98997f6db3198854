"""Keras 2 ``ImageDataGenerator`` augmentation, reproduced in TensorFlow ops (per image or per batch).

CoroNet's authors train (and validate) with ``ImageDataGenerator(rotation_range=50,
width_shift_range=0.2, height_shift_range=0.2, shear_range=0.25, zoom_range=0.1,
channel_shift_range=20, horizontal_flip=True, vertical_flip=True, fill_mode='constant')`` [CN]; CVR-Net
uses flips only [CVR-T]. This module follows ``keras_preprocessing`` 1.1.2
(``image_data_generator.py``, ``affine_transformations.py``; the code behind ``tf.keras`` 2.x):

Sampling (``get_random_transform``), per image:
  - ``theta ~ U(-rotation_range, rotation_range)`` degrees;
  - ``tx`` is the ROW (vertical) shift, from ``height_shift_range``; ``ty`` the COLUMN shift, from
    ``width_shift_range``. A float range ``r`` gives ``U(-r, r)``, multiplied by the image height
    (resp. width) when ``r < 1``; an int ``n`` gives a whole number from ``{0..n-1}`` with a random
    sign; a sequence gives one of its values with a random sign (multiplied by the size when all < 1);
  - ``shear ~ U(-shear_range, shear_range)`` degrees;
  - ``zx, zy ~ U(zoom[0], zoom[1])`` independently (float ``z`` means ``[1 - z, 1 + z]``);
  - flips each with probability 0.5 when enabled; ``channel_shift_intensity ~ U(-c, c)``.
  Keras draws these from NumPy's global RNG; we draw them with ``tf.random.stateless_uniform`` from
  an explicit seed, so the distributions match and runs are reproducible, but the values differ.

Application (``apply_transform``), in Keras' order:
  1. affine: ``M = R(theta) @ Shift(tx, ty) @ Shear(shear) @ Zoom(zx, zy)`` on (row, col) coordinates,
     centred by ``transform_matrix_offset_center`` (centre ``h/2 + 0.5``, ``w/2 + 0.5`` — Keras' own
     half-pixel offset, reproduced), used as an inverse map (output → input coordinate) by
     ``scipy.ndimage.affine_transform(order=1, mode=fill_mode, cval=cval)``. We run the same inverse
     map through ``ImageProjectiveTransformV3`` (bilinear), swapping (row, col) to TF's (x=col, y=row);
  2. channel shift: ``clip(x + intensity, min(x), max(x))`` with min/max over the whole image (after the
     affine step, so the fill value counts);
  3. horizontal flip (columns), then vertical flip (rows). (We fold the flips into the inverse map of
     step 1 — same result, one resampling pass; pure flips stay bit-exact.)
All of it on the 0..255 scale, before rescaling: Keras calls ``random_transform`` before
``standardize`` [CN].

Measured against ``keras_preprocessing`` ``ImageDataGenerator().apply_transform`` with identical
parameters (drawn by Keras' own ``get_random_transform`` for CoroNet's settings) on 24 real cxr4-mini
images at 150x150 (tests/cxr_core/data/augment/test_augment.py), scipy 1.17.1, TF 2.21:
  fill_mode constant: mean |diff| 3.2e-5 grey levels, max |diff| 0.004, pixels off by > 1 level: 0;
  fill_mode nearest:  mean 3.7e-5, max 0.004, 0;   fill_mode reflect: mean 4.1e-5, max 0.004, 0.
i.e. equal up to float32 round-off of the sample coordinates (SciPy computes them in float64).
One detail needed care: for ``mode='constant'`` SciPy (>= 1.6) returns ``cval`` for every sample whose
coordinate lies outside ``[0, n-1]``, whereas TF's CONSTANT blends the edge pixel with the fill value
for coordinates in ``(-1, 0)`` and ``(n-1, n)``; we mask those samples (computed in float64) to
``cval``. Without the mask the border of the fill region differed (mean 0.5, max 235 levels).
``fill_mode='wrap'`` maps to TF's WRAP, which is not checked against SciPy's ``wrap``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Mapping, Sequence

import tensorflow as tf

from cxr_core.config.choices import FILL_MODES
from cxr_core.data.augment.resample import projective_transform_bilinear



@dataclass(frozen=True)
class Keras2AugmentSpec:
    """The ``ImageDataGenerator`` arguments CoroNet/CVR-Net use [CN] [CVR-T], with Keras 2 defaults."""

    rotation_range: float = 0.0
    width_shift_range: float | int | Sequence[float] = 0.0
    height_shift_range: float | int | Sequence[float] = 0.0
    shear_range: float = 0.0
    zoom_range: float | tuple[float, float] = 0.0
    channel_shift_range: float = 0.0
    horizontal_flip: bool = False
    vertical_flip: bool = False
    fill_mode: str = "constant"
    cval: float = 0.0

    def __post_init__(self) -> None:
        if self.fill_mode not in FILL_MODES:
            raise ValueError(f"Keras2AugmentSpec.fill_mode must be one of {FILL_MODES}; got {self.fill_mode!r}")
        z = self.zoom_range
        if isinstance(z, (int, float)):
            pass
        elif isinstance(z, (list, tuple)) and len(z) == 2 and all(isinstance(v, (int, float)) for v in z):
            object.__setattr__(self, "zoom_range", (float(z[0]), float(z[1])))
        else:
            raise ValueError(f"Keras2AugmentSpec.zoom_range must be a float or [lower, upper]; got {z!r}")
        for name in ("width_shift_range", "height_shift_range"):
            v = getattr(self, name)
            if isinstance(v, list):
                object.__setattr__(self, name, tuple(v))

    @property
    def zoom_bounds(self) -> tuple[float, float]:
        """``[lower, upper]`` as Keras stores it (float ``z`` -> ``[1 - z, 1 + z]``)."""
        z = self.zoom_range
        if isinstance(z, (int, float)):
            return (1.0 - float(z), 1.0 + float(z))
        return (float(z[0]), float(z[1]))

    @property
    def is_identity(self) -> bool:
        """True when no argument changes the image."""
        return (not self.rotation_range and not _shift_active(self.width_shift_range)
                and not _shift_active(self.height_shift_range) and not self.shear_range
                and self.zoom_bounds == (1.0, 1.0) and not self.channel_shift_range
                and not self.horizontal_flip and not self.vertical_flip)


def _shift_active(r) -> bool:
    if isinstance(r, (tuple, list)):
        return len(r) > 0
    return bool(r)


# --------------------------------------------------------------------------------------- sampling
def _seed_for(seed: tf.Tensor, k: int) -> tf.Tensor:
    return tf.random.experimental.stateless_fold_in(seed, k)


def _uniform(shape, seed, k, low, high) -> tf.Tensor:
    return tf.random.stateless_uniform(shape, _seed_for(seed, k), minval=low, maxval=high, dtype=tf.float32)


def _sample_shift(r, size: int, shape, seed, k) -> tf.Tensor:
    if not _shift_active(r):
        return tf.zeros(shape, tf.float32)
    sign = tf.where(_uniform(shape, seed, k + 100, 0.0, 1.0) < 0.5, -1.0, 1.0)
    if isinstance(r, bool):
        r = int(r)
    if isinstance(r, int):  # np.random.choice(n) -> {0..n-1}, random sign
        values = tf.cast(tf.random.stateless_uniform(shape, _seed_for(seed, k), 0, r, dtype=tf.int32), tf.float32)
        v = values * sign
        top = r
    elif isinstance(r, (tuple, list)):  # one of the values, random sign
        table = tf.constant([float(x) for x in r], tf.float32)
        pick = tf.random.stateless_uniform(shape, _seed_for(seed, k), 0, len(r), dtype=tf.int32)
        v = tf.gather(table, pick) * sign
        top = max(r)
    else:
        v = _uniform(shape, seed, k, -float(r), float(r))
        top = r
    if top < 1:
        v = v * float(size)
    return v


def sample_transform_params(
    spec: Keras2AugmentSpec, image_shape, seed: tf.Tensor, *, batch_size: int | tf.Tensor | None = None
) -> dict[str, tf.Tensor]:
    """Draw ``ImageDataGenerator.get_random_transform`` parameters statelessly from ``seed`` (int [2]).

    ``image_shape`` is ``(h, w[, c])`` of the image(s) to transform. Returns scalars, or tensors of
    shape ``[batch_size]`` (independent draws per image) when ``batch_size`` is given. Keys as Keras:
    theta, tx (rows), ty (cols), shear, zx, zy, flip_horizontal, flip_vertical (bool),
    channel_shift_intensity (None when ``channel_shift_range`` is 0, as Keras).
    """
    h, w = int(image_shape[0]), int(image_shape[1])
    seed = tf.cast(tf.convert_to_tensor(seed), tf.int64)
    shape = [] if batch_size is None else [batch_size]
    zeros = tf.zeros(shape, tf.float32)
    theta = _uniform(shape, seed, 0, -float(spec.rotation_range), float(spec.rotation_range)) \
        if spec.rotation_range else zeros
    tx = _sample_shift(spec.height_shift_range, h, shape, seed, 1)
    ty = _sample_shift(spec.width_shift_range, w, shape, seed, 2)
    shear = _uniform(shape, seed, 3, -float(spec.shear_range), float(spec.shear_range)) \
        if spec.shear_range else zeros
    lo, hi = spec.zoom_bounds
    if lo == 1.0 and hi == 1.0:
        zx = zy = zeros + 1.0
    else:
        zx = _uniform(shape, seed, 4, lo, hi)
        zy = _uniform(shape, seed, 5, lo, hi)
    fh = tf.logical_and(_uniform(shape, seed, 6, 0.0, 1.0) < 0.5, bool(spec.horizontal_flip))
    fv = tf.logical_and(_uniform(shape, seed, 7, 0.0, 1.0) < 0.5, bool(spec.vertical_flip))
    c = float(spec.channel_shift_range)
    cs = _uniform(shape, seed, 8, -c, c) if c else None  # None: no channel shift, as Keras
    return {"theta": theta, "tx": tx, "ty": ty, "shear": shear, "zx": zx, "zy": zy,
            "flip_horizontal": fh, "flip_vertical": fv, "channel_shift_intensity": cs}


# --------------------------------------------------------------------------------------- applying
def _param(params: Mapping, name: str, default: float, dtype=tf.float64) -> tf.Tensor:
    v = params.get(name, default)
    if v is None:
        v = default
    return tf.cast(tf.convert_to_tensor(v), dtype)


def keras_affine_matrices(params: Mapping, h: int, w: int) -> tf.Tensor:
    """Keras' centred 3x3 inverse maps on (row, col) coordinates, float64 ``[..., 3, 3]``."""
    theta = _param(params, "theta", 0.0) * (math.pi / 180.0)
    tx = _param(params, "tx", 0.0)
    ty = _param(params, "ty", 0.0)
    shear = _param(params, "shear", 0.0) * (math.pi / 180.0)
    zx = _param(params, "zx", 1.0)
    zy = _param(params, "zy", 1.0)
    one = tf.ones_like(theta + tx + ty + shear + zx + zy)
    zero = tf.zeros_like(one)

    def mat(rows):
        return tf.stack([tf.stack([a * one for a in r], axis=-1) for r in rows], axis=-2)

    rot = mat([[tf.cos(theta), -tf.sin(theta), zero], [tf.sin(theta), tf.cos(theta), zero], [zero, zero, one]])
    shift = mat([[one, zero, tx], [zero, one, ty], [zero, zero, one]])
    shr = mat([[one, -tf.sin(shear), zero], [zero, tf.cos(shear), zero], [zero, zero, one]])
    zoom = mat([[zx, zero, zero], [zero, zy, zero], [zero, zero, one]])
    m = rot @ shift @ shr @ zoom
    o_x = float(h) / 2 + 0.5
    o_y = float(w) / 2 + 0.5
    offset = tf.constant([[1, 0, o_x], [0, 1, o_y], [0, 0, 1]], tf.float64)
    reset = tf.constant([[1, 0, -o_x], [0, 1, -o_y], [0, 0, 1]], tf.float64)
    return offset @ m @ reset


def _tf_transforms(m: tf.Tensor) -> tf.Tensor:
    """(row, col) inverse maps ``[B, 3, 3]`` -> TF's 8-vectors over (x=col, y=row), float32 ``[B, 8]``."""
    a0 = m[:, 1, 1]
    a1 = m[:, 1, 0]
    a2 = m[:, 1, 2]
    b0 = m[:, 0, 1]
    b1 = m[:, 0, 0]
    b2 = m[:, 0, 2]
    z = tf.zeros_like(a0)
    return tf.cast(tf.stack([a0, a1, a2, b0, b1, b2, z, z], axis=-1), tf.float32)


def _flip_matrices(params: Mapping, b: tf.Tensor, h: int, w: int) -> tf.Tensor:
    """Output-coordinate reflections ``[B, 3, 3]`` (row, col) for the vertical/horizontal flips."""
    def flag(key):
        v = params.get(key, False)
        v = tf.cast(tf.convert_to_tensor(False if v is None else v), tf.bool)
        return tf.broadcast_to(tf.reshape(v, [-1]), [b])

    fv, fh = flag("flip_vertical"), flag("flip_horizontal")
    one = tf.ones([b], tf.float64)
    zero = tf.zeros([b], tf.float64)
    sv, tv = tf.where(fv, -one, one), tf.where(fv, one * (h - 1), zero)
    sh, th = tf.where(fh, -one, one), tf.where(fh, one * (w - 1), zero)
    return tf.stack([tf.stack([sv, zero, tv], -1), tf.stack([zero, sh, th], -1),
                     tf.stack([zero, zero, one], -1)], axis=-2)


RESAMPLERS = ("kernel", "gather")


def apply_transform(
    image_0_255_float: tf.Tensor, params: Mapping, spec: Keras2AugmentSpec | None = None, *, resampler: str = "kernel"
) -> tf.Tensor:
    """``ImageDataGenerator.apply_transform`` in TF ops; image ``[H, W, C]`` or batch ``[B, H, W, C]``.

    ``params`` holds scalars for one image or ``[B]`` tensors for a batch (keys as
    :func:`sample_transform_params`; missing keys mean "no change"; ``channel_shift_intensity=None``
    as in Keras means none). ``spec`` supplies ``fill_mode`` and ``cval`` (default constant 0).
    ``resampler``: ``kernel`` runs TF's ``ImageProjectiveTransformV3`` (CPU/GPU kernels, no XLA);
    ``gather`` the same computation in XLA-compilable ops (:mod:`cxr_core.data.augment.resample`), equal to
    float32 round-off; the training step uses it with ``augment.placement: device``.
    """
    if resampler not in RESAMPLERS:
        raise ValueError(f"apply_transform: resampler must be one of {RESAMPLERS}; got {resampler!r}")
    spec = spec or Keras2AugmentSpec()
    x = tf.cast(tf.convert_to_tensor(image_0_255_float), tf.float32)
    single = x.shape.rank == 3
    if single:
        x = x[tf.newaxis]
        params = {k: (None if v is None else tf.reshape(tf.convert_to_tensor(v), [1])) for k, v in params.items()}
    h, w = int(x.shape[1]), int(x.shape[2])
    b = tf.shape(x)[0]

    m = keras_affine_matrices(params, h, w)
    m = tf.broadcast_to(m, tf.stack([b, 3, 3]))
    # Keras flips the transformed image (after the channel shift, which commutes with flips: it adds
    # one number and clips to the global min/max). A flip of the output is a reflection of the output
    # coordinates, so we fold it into the inverse map: one resampling pass, exact for pure flips.
    m = m @ _flip_matrices(params, b, h, w)
    transforms = _tf_transforms(m)
    outside = None
    if spec.fill_mode == "constant":
        # SciPy's mode='constant' returns cval for every sample whose coordinate lies outside
        # [0, n-1] (no blending with the edge pixel, unlike TF's CONSTANT): mask those, in float64.
        rows = tf.range(h, dtype=tf.float64)[None, :, None]
        cols = tf.range(w, dtype=tf.float64)[None, None, :]
        r_in = m[:, 0, 0, None, None] * rows + m[:, 0, 1, None, None] * cols + m[:, 0, 2, None, None]
        c_in = m[:, 1, 0, None, None] * rows + m[:, 1, 1, None, None] * cols + m[:, 1, 2, None, None]
        outside = ((r_in < 0) | (r_in > h - 1) | (c_in < 0) | (c_in > w - 1))[..., None]
    shift = params.get("channel_shift_intensity")
    if shift is not None:
        shift = tf.cast(tf.convert_to_tensor(shift), tf.float32)
        shift = tf.broadcast_to(tf.reshape(shift, [-1]), [b])[:, None, None, None]

    def transform(img: tf.Tensor) -> tf.Tensor:
        if resampler == "gather":
            out = projective_transform_bilinear(img, transforms, fill_mode=spec.fill_mode, fill_value=float(spec.cval))
        else:
            out = tf.raw_ops.ImageProjectiveTransformV3(
                images=img, transforms=transforms, output_shape=tf.constant([h, w], tf.int32),
                fill_value=tf.constant(float(spec.cval), tf.float32), interpolation="BILINEAR",
                fill_mode=spec.fill_mode.upper(),
            )
        if outside is not None:
            out = tf.where(outside, tf.constant(float(spec.cval), tf.float32), out)
        if shift is not None:
            lo = tf.reduce_min(out, axis=[1, 2, 3], keepdims=True)
            hi = tf.reduce_max(out, axis=[1, 2, 3], keepdims=True)
            out = tf.clip_by_value(out + shift, lo, hi)
        return out

    channels = x.shape[-1]
    if channels is not None and channels > 1:
        # Chest X-rays are gray in RGB clothing: when every image of the batch has equal channels,
        # transform one channel and replicate it. Each channel is resampled, masked, shifted and
        # clipped with the same numbers, so the result is identical, for a third of the work.
        gray = tf.reduce_all(tf.equal(x[..., :1], x[..., 1:]))
        x = tf.cond(gray, lambda: tf.tile(transform(x[..., :1]), [1, 1, 1, channels]), lambda: transform(x))
    else:
        x = transform(x)
    return x[0] if single else x


def random_transform(image: tf.Tensor, spec: Keras2AugmentSpec, seed: tf.Tensor) -> tf.Tensor:
    """Sample parameters from ``seed`` and apply them; image ``[H, W, C]`` or batch ``[B, H, W, C]``."""
    image = tf.convert_to_tensor(image)
    if image.shape.rank == 4:
        params = sample_transform_params(spec, image.shape[1:3], seed, batch_size=tf.shape(image)[0])
    else:
        params = sample_transform_params(spec, image.shape[0:2], seed)
    return apply_transform(image, params, spec)
