"""16-bit PNGs and TIFFs that use a fraction of their range, and the ways to bring them to 8 bits.

Detector data are often 10 to 14 bits stored in 16-bit PNGs (values up to 4095 for 12 bits). Scaled as
if they used the full range (``round(v / 257)``), such an image decodes to 0..16 of 0..255: nearly
black, and a model predicts it without complaint. :func:`png16_note` finds them (the PNG ``sBIT``
chunk, or a maximum below ``2**12``) and the check of the images (:func:`cxr_core.data.decode.images.verify_images`)
logs a WARNING naming each file. ``preprocess.png16`` chooses the conversion:

- ``scale257`` (default): ``round(v / 257)``, 65535 -> 255, what our decoder always did. (PIL/Keras
  clip 16-bit values at 255 instead, see :mod:`cxr_core.data.decode.images`.)
- ``sbit``: by the file's significant bits: ``round(v * 255 / (2**b - 1))`` with ``b`` from the
  ``sBIT`` chunk, else the bit length of the image's maximum (at least 8), values above clipped.
- ``minmax``: the image's own minimum..maximum to 0..255 (a constant image becomes 0).

16-bit gray TIFFs (PIL modes ``I;16``, ``I;16B``, ...) follow the same rule, options and warning
(:func:`uint16_to_uint8_np`, the same integer arithmetic in NumPy; ``sbit`` takes the bits from the
image's maximum, TIFF having no ``sBIT``). Keras/PIL would clip them at 255 (``convert('RGB')``):
a full-range 16-bit radiograph then has most of its pixels at 255.
When the user chose ``sbit`` or ``minmax`` the low-range warning is not given (the file is decoded
as asked); the check logs one INFO line saying which mode decoded how many such files.
"""

from __future__ import annotations

import struct

import numpy as np
import tensorflow as tf

from cxr_core.config.choices import PNG16_MODES
from cxr_core.errors import CxrError

_PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
#: A 16-bit image whose maximum is below this uses at most 12 of its bits.
LOW_RANGE_MAX = 1 << 12


def png_bit_depth(data: bytes) -> int | None:
    """The IHDR bit depth of a PNG (1, 2, 4, 8 or 16), or None for anything else."""
    if data[:8] != _PNG_MAGIC or len(data) < 25:
        return None
    return data[24]


def png_sbit(data: bytes) -> int | None:
    """The largest significant-bit count of the PNG's ``sBIT`` chunk, or None when it has none."""
    pos = 8
    while pos + 8 <= len(data):
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        if kind == b"sBIT":
            body = data[pos + 8:pos + 8 + length]
            return max(body) if body else None
        if kind in (b"IDAT", b"IEND"):
            return None  # sBIT must come before the image data
        pos += 12 + length
    return None


def png16_note(data: bytes) -> str | None:
    """Why a 16-bit PNG would decode too dark with ``scale257``, or None (not 16-bit, or full range)."""
    if png_bit_depth(data) != 16:
        return None
    sbit = png_sbit(data)
    if sbit is not None and sbit < 16:
        return f"16-bit PNG with {sbit} significant bits (sBIT chunk)"
    peak = int(tf.reduce_max(tf.io.decode_png(data, channels=0, dtype=tf.uint16)))
    if peak < LOW_RANGE_MAX:
        return f"16-bit PNG whose maximum is {peak} of 65535 (about {max(peak, 1).bit_length()}-bit data)"
    return None


def tiff16_array(data: bytes) -> np.ndarray | None:
    """The pixels of a 16-bit gray TIFF as ``uint16 [H, W]`` (first frame), or None for any other file."""
    import io

    from PIL import Image

    if data[:4] not in (b"II*\x00", b"MM\x00*"):
        return None
    with Image.open(io.BytesIO(data)) as img:
        if not img.mode.startswith("I;16"):
            return None
        return np.asarray(img).astype(np.uint16)


def sixteen_bit_note(data: bytes) -> str | None:
    """:func:`png16_note` for PNGs and 16-bit gray TIFFs alike (None for every other file)."""
    if data[:4] in (b"II*\x00", b"MM\x00*"):
        try:
            pixels = tiff16_array(data)
        except Exception:  # PIL's errors for bad files; the decode check names those
            return None
        if pixels is None:
            return None
        peak = int(pixels.max()) if pixels.size else 0
        if peak < LOW_RANGE_MAX:
            return f"16-bit TIFF whose maximum is {peak} of 65535 (about {max(peak, 1).bit_length()}-bit data)"
        return None
    return png16_note(data)


def uint16_to_uint8_np(v: np.ndarray, mode: str = "scale257", sbit: int | None = None) -> np.ndarray:
    """NumPy twin of :func:`png16_to_uint8` (same integer arithmetic, same results): ``uint16`` to ``uint8``.
    ``sbit``: significant bits when the file states them (else the bit length of the maximum, at least 8)."""
    v = np.asarray(v).astype(np.int64)
    if mode == "scale257":
        return ((v + 128) // 257).astype(np.uint8)
    if mode == "minmax":
        lo, hi = (int(v.min()), int(v.max())) if v.size else (0, 0)
        span = max(hi - lo, 1)
        return (((v - lo) * 255 * 2 + span) // (2 * span)).astype(np.uint8)
    if mode == "sbit":
        peak = int(v.max()) if v.size else 0
        b = sbit if sbit else max(int(np.ceil(np.log2(peak + 1.0))), 8)
        top = (1 << b) - 1
        return np.minimum((v * 255 * 2 + top) // (2 * top), 255).astype(np.uint8)
    raise ValueError(f"preprocess.png16: expected one of {PNG16_MODES}, found {mode!r}")


def _sbit_bits(contents) -> np.int32:
    data = contents.item() if isinstance(contents, np.ndarray) else contents
    return np.int32(png_sbit(bytes(data)) or 0)


def png16_to_uint8(image16: tf.Tensor, contents: tf.Tensor, mode: str = "scale257") -> tf.Tensor:
    """A decoded 16-bit image (``uint16 [H, W, C]``) to ``uint8`` by ``mode`` (:data:`PNG16_MODES`);
    ``contents`` are the file's bytes (for the ``sBIT`` chunk). Graph-safe."""
    v = tf.cast(image16, tf.int64)
    if mode == "scale257":
        return tf.cast((v + 128) // 257, tf.uint8)  # round(v / 257): 0 -> 0, 65535 -> 255
    if mode == "minmax":
        lo, hi = tf.reduce_min(v), tf.reduce_max(v)
        span = tf.maximum(hi - lo, 1)
        return tf.cast(((v - lo) * 255 * 2 + span) // (2 * span), tf.uint8)
    if mode == "sbit":
        bits = tf.numpy_function(_sbit_bits, [contents], tf.int32, stateful=False)
        peak = tf.reduce_max(v)
        from_peak = tf.cast(tf.math.ceil(tf.math.log(tf.cast(peak, tf.float64) + 1.0) / np.log(2.0)), tf.int64)
        b = tf.where(bits > 0, tf.cast(bits, tf.int64), tf.maximum(from_peak, 8))
        top = tf.bitwise.left_shift(tf.constant(1, tf.int64), b) - 1
        return tf.cast(tf.minimum((v * 255 * 2 + top) // (2 * top), 255), tf.uint8)
    raise CxrError(f"preprocess.png16: expected one of {PNG16_MODES}, found {mode!r}")
