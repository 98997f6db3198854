"""Resize decoded ``uint8`` images exactly as each paper's code did (graph-safe, usable in ``tf.data``).

The methods (``nearest``: PIL's ``NEAREST`` index rule [CN] [CVR-T]; ``bilinear`` / ``area``: TensorFlow's;
``shorter_side_center_crop``: torchvision ``Resize(s)`` + ``CenterCrop(s)`` [CR]) and the pre-resize
(``pre_resize=(height, width, method)``, PIL ``Image.resize`` filters) are described in
:mod:`cxr_core.data.decode.images`, which decodes, resizes with these functions and scales.
"""

from __future__ import annotations

import tensorflow as tf

from cxr_core.config.choices import PRE_RESIZE_METHODS, RESIZE_METHODS

from cxr_core.data.decode.formats import pil_resize
from cxr_core.errors import CxrError

#: Filters of the pre-resize, each exactly PIL's ``Image.resize`` filter of the same name.


def _pil_nearest_indices(n_in: tf.Tensor, n_out: int) -> tf.Tensor:
    """Source indices PIL's ``ImagingScaleAffine`` uses: ``int(xo)``, ``xo = s/2``, ``xo += s``."""
    # divide_no_nan, not "/": inside a graph (tf.data, tf.function) Grappler rewrites a division by a
    # constant as a multiplication by its reciprocal, which is 1 ulp off for about 40% of the sizes
    # and then picks a different source row for ~1% of the output pixels.
    scale = tf.math.divide_no_nan(tf.cast(n_in, tf.float64), tf.constant(float(n_out), tf.float64))
    steps = tf.concat([tf.reshape(scale * 0.5, [1]), tf.fill([n_out - 1], scale)], axis=0)
    xo = tf.math.cumsum(steps)  # sequential float64 accumulation, as PIL's loop
    idx = tf.cast(tf.floor(xo), tf.int32)
    return tf.clip_by_value(idx, 0, tf.cast(n_in, tf.int32) - 1)


def _resize_nearest_pil(image: tf.Tensor, size: tuple[int, int]) -> tf.Tensor:
    shape = tf.shape(image)
    rows = _pil_nearest_indices(shape[0], size[0])
    cols = _pil_nearest_indices(shape[1], size[1])
    return tf.gather(tf.gather(image, rows, axis=0), cols, axis=1)


def _round_uint8(x: tf.Tensor) -> tf.Tensor:
    return tf.cast(tf.clip_by_value(tf.round(x), 0.0, 255.0), tf.uint8)


def _shorter_side_size(shape: tf.Tensor, s: int) -> tuple[tf.Tensor, tf.Tensor]:
    h, w = shape[0], shape[1]
    short = tf.minimum(h, w)
    long = tf.maximum(h, w)
    new_long = tf.cast(
        tf.floor(tf.cast(s * long, tf.float64) / tf.cast(short, tf.float64)), tf.int32
    )
    new_h = tf.where(w <= h, new_long, s)
    new_w = tf.where(w <= h, s, new_long)
    return new_h, new_w


def check_pre_resize(pre_resize) -> tuple[int, int, str] | None:
    """``None`` or ``(height, width, method)`` checked: sizes >= 1, method in :data:`PRE_RESIZE_METHODS`.

    Raises:
        ValueError: naming what was expected and what was found.
    """
    if pre_resize is None:
        return None
    try:
        h, w, method = pre_resize
        h, w = int(h), int(w)
    except (TypeError, ValueError):
        raise CxrError(f"pre_resize must be (height, width, method) or None; got {pre_resize!r}") from None
    if min(h, w) < 1:
        raise CxrError(f"pre_resize height and width must be >= 1; got {pre_resize!r}")
    if method not in PRE_RESIZE_METHODS:
        raise CxrError(f"pre_resize method must be one of {PRE_RESIZE_METHODS}; got {method!r}")
    return h, w, str(method)


def pre_resize_uint8(image: tf.Tensor, pre_resize: tuple[int, int, str]) -> tf.Tensor:
    """The first of two resizes, exactly as PIL ``convert('RGB').resize((w, h), FILTER)`` (graph-safe).

    ``image``: ``uint8 [H, W, C]`` with C = 1 (gray), 2 (gray + alpha), 3 or 4 (RGBA); alpha is dropped
    first, as ``convert('RGB')`` does. Returns ``uint8 [h, w, 1 or 3]``. ``nearest`` runs our exact
    TensorFlow path; other filters run PIL's own resize through ``tf.numpy_function``.
    """
    h, w, method = check_pre_resize(pre_resize)
    c = tf.shape(image)[-1]
    image = tf.cond(c < 3, lambda: image[..., :1], lambda: image[..., :3])
    if method == "nearest":
        return _resize_any_channels(image, (h, w), "nearest")
    out = tf.numpy_function(lambda a: pil_resize(a, h, w, method), [image], tf.uint8, stateful=False)
    return tf.ensure_shape(out, [h, w, None])


def resize_to_uint8(image: tf.Tensor, size: tuple[int, int], method: str) -> tf.Tensor:
    """Resize ``uint8 [H, W, 3]`` to ``uint8 [h, w, 3]`` with ``method`` (see module docstring)."""
    out = _resize_any_channels(image, size, method)
    return tf.ensure_shape(out, [int(size[0]), int(size[1]), 3])


def _resize_any_channels(image: tf.Tensor, size: tuple[int, int], method: str) -> tf.Tensor:
    """:func:`resize_to_uint8` for any number of channels (each channel resized on its own)."""
    size = (int(size[0]), int(size[1]))
    if method == "nearest":
        out = _resize_nearest_pil(image, size)
    elif method in ("bilinear", "area"):
        x = tf.cast(image, tf.float32)
        if method == "bilinear":
            x = tf.image.resize(x, size, method="bilinear", antialias=True)
        else:
            x = tf.image.resize(x, size, method="area")
        out = _round_uint8(x)
    elif method == "shorter_side_center_crop":
        if size[0] != size[1]:
            raise CxrError(
                f"resize method 'shorter_side_center_crop' needs a square size; got {size}"
            )
        s = size[0]
        new_h, new_w = _shorter_side_size(tf.shape(image), s)
        x = tf.image.resize(tf.cast(image, tf.float32), tf.stack([new_h, new_w]), method="bilinear",
                            antialias=True)
        x = _round_uint8(x)
        # torchvision CenterCrop: int(round((H - s) / 2.0)); Python round is half-to-even, as tf.round.
        top = tf.cast(tf.round(tf.cast(new_h - s, tf.float64) / 2.0), tf.int32)
        left = tf.cast(tf.round(tf.cast(new_w - s, tf.float64) / 2.0), tf.int32)
        out = tf.slice(x, tf.stack([top, left, 0]), [s, s, -1])
    else:
        raise ValueError(f"unknown resize method {method!r}; expected one of {RESIZE_METHODS}")
    return tf.ensure_shape(out, [size[0], size[1], None])


def resize_uint8(image: tf.Tensor, size: tuple[int, int], method: str) -> tf.Tensor:
    """Resize a ``uint8 [H, W, 3]`` image; returns float32 ``[h, w, 3]`` holding whole numbers 0..255."""
    return tf.cast(resize_to_uint8(image, size, method), tf.float32)
