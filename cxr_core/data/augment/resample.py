"""TensorFlow's ``ImageProjectiveTransformV3`` (bilinear) written in gathers, so XLA can compile it.

``ImageProjectiveTransformV3`` has CPU and GPU kernels but no XLA kernel: a training step compiled
with ``jit_compile=True`` cannot contain it. :func:`projective_transform_bilinear` computes the same
thing from ordinary ops (arithmetic, ``floor``, ``gather``), following the kernel
(``tensorflow/core/kernels/image/image_ops.h``, TF 2.21) step by step:

- the input coordinate of output pixel (y, x) is ``((a0 x + a1 y + a2) / k, (b0 x + b1 y + b2) / k)``
  with ``k = c0 x + c1 y + 1`` (``k == 0`` gives the fill value), in float32;
- ``fill_mode`` maps an outside coordinate inside first (``MapCoordinate``): CONSTANT leaves it,
  NEAREST clamps to ``[0, n - 1]``, REFLECT and WRAP fold it with the kernel's own formulas (integer
  truncation included) and clamp;
- bilinear interpolation of the four neighbours ``floor`` / ``floor + 1``, each read as the fill
  value when it lies outside the image (``read_with_fill_value``).

Equal to the kernel up to float32 round-off (tests/cxr_core/data/augment/test_device_augment.py compares both on
real X-rays for every fill mode).
"""

from __future__ import annotations

import tensorflow as tf

from cxr_core.config.choices import FILL_MODES



def _truncate(v: tf.Tensor) -> tf.Tensor:
    """C++ ``static_cast<DenseIndex>`` of a float: rounds toward zero."""
    return tf.where(v < 0, tf.math.ceil(v), tf.math.floor(v))


def _map_coordinate(c: tf.Tensor, n: int, fill_mode: str) -> tf.Tensor:
    """``MapCoordinate<Mode>`` of the kernel, elementwise on float32 coordinates for length ``n``."""
    if fill_mode == "constant":
        return c
    top = float(n - 1)
    if fill_mode == "nearest" or n <= 1:
        return tf.clip_by_value(c, 0.0, top) if n > 1 else tf.zeros_like(c)
    if fill_mode == "reflect":
        sz2 = float(2 * n)
        low = sz2 * _truncate(-c / sz2) + c
        low = tf.where(low < -float(n), low + sz2, -low - 1.0)
        high = c - sz2 * _truncate(c / sz2)
        high = tf.where(high >= float(n), sz2 - high - 1.0, high)
    elif fill_mode == "wrap":
        sz = float(n - 1)
        low = c + float(n) * (_truncate(-c / sz) + 1.0)
        high = c - float(n) * _truncate(c / sz)
    else:
        raise ValueError(f"fill_mode must be one of {FILL_MODES}; got {fill_mode!r}")
    mapped = tf.where(c < 0, low, tf.where(c > top, high, c))
    return tf.clip_by_value(mapped, 0.0, top)


def projective_transform_bilinear(
    images: tf.Tensor, transforms: tf.Tensor, *, fill_mode: str = "constant", fill_value: float = 0.0
) -> tf.Tensor:
    """``ImageProjectiveTransformV3(interpolation="BILINEAR")`` in XLA-compilable ops.

    Args:
        images: float32 ``[B, H, W, C]``.
        transforms: float32 ``[B, 8]`` (or ``[1, 8]`` for all images), TF's output -> input maps
            ``[a0, a1, a2, b0, b1, b2, c0, c1]`` over (x = column, y = row).
        fill_mode: ``constant``, ``nearest``, ``reflect`` or ``wrap`` (lower case).
        fill_value: the value of samples outside the image.

    Returns:
        float32 ``[B, H, W, C]``, the output size equal to the input size.
    """
    if fill_mode not in FILL_MODES:
        raise ValueError(f"fill_mode must be one of {FILL_MODES}; got {fill_mode!r}")
    images = tf.convert_to_tensor(images, tf.float32)
    h, w = int(images.shape[1]), int(images.shape[2])
    shape = tf.shape(images)
    b, c = shape[0], shape[3]
    t = tf.broadcast_to(tf.cast(transforms, tf.float32), tf.stack([b, 8]))
    t = t[:, :, None, None]  # [B, 8, 1, 1]
    ys = tf.range(h, dtype=tf.float32)[None, :, None]
    xs = tf.range(w, dtype=tf.float32)[None, None, :]
    k = t[:, 6] * xs + t[:, 7] * ys + 1.0
    safe_k = tf.where(tf.equal(k, 0.0), tf.ones_like(k), k)
    x = _map_coordinate((t[:, 0] * xs + t[:, 1] * ys + t[:, 2]) / safe_k, w, fill_mode)
    y = _map_coordinate((t[:, 3] * xs + t[:, 4] * ys + t[:, 5]) / safe_k, h, fill_mode)

    flat = tf.reshape(images, tf.stack([-1, c]))
    base = (tf.range(b) * (h * w))[:, None, None]
    fill = tf.constant(fill_value, tf.float32)

    def read(yi: tf.Tensor, xi: tf.Tensor) -> tf.Tensor:
        inside = (yi >= 0) & (yi < h) & (xi >= 0) & (xi < w)
        index = base + tf.clip_by_value(yi, 0, h - 1) * w + tf.clip_by_value(xi, 0, w - 1)
        return tf.where(inside[..., None], tf.gather(flat, index), fill)

    y0 = tf.floor(y)
    x0 = tf.floor(x)
    y1, x1 = y0 + 1.0, x0 + 1.0
    iy0, ix0 = tf.cast(y0, tf.int32), tf.cast(x0, tf.int32)
    iy1, ix1 = iy0 + 1, ix0 + 1
    wx0, wx1 = (x1 - x)[..., None], (x - x0)[..., None]
    wy0, wy1 = (y1 - y)[..., None], (y - y0)[..., None]
    top = wx0 * read(iy0, ix0) + wx1 * read(iy0, ix1)
    bottom = wx0 * read(iy1, ix0) + wx1 * read(iy1, ix1)
    out = wy0 * top + wy1 * bottom
    return tf.where(tf.equal(k, 0.0)[..., None], fill, out)
