"""A data set's JPEG files re-encoded as PIL re-saves them: ``Image.open(src).save(dst)``.

Some authors prepared their folders by opening every image with PIL and saving it under the same file
name (CVR-Net's COVID-CT preparation [CVR-P3]). PIL picks the format from ``dst``'s extension and, for
JPEG, encodes at its default quality 75 with 4:2:0 chroma subsampling (colour images), so every JPEG
of such a folder is a second-generation JPEG while PNG (lossless) files keep their pixels.
``preprocess.jpeg_resave_quality`` (75 = PIL's default, the authors' call) models that folder on the
original files: a file named ``.jpg``/``.jpeg``/``.jpe``/``.jfif`` is re-encoded in memory with the
PIL installed here before it is decoded; other files pass unchanged. Bit-exact with PIL's own
``save`` of the same version (libjpeg builds of another Pillow may round differently).
"""

from __future__ import annotations

import io
import os

import numpy as np

JPEG_EXTENSIONS = (".jpg", ".jpeg", ".jpe", ".jfif")
PIL_DEFAULT_QUALITY = 75


def check_resave_quality(quality) -> int | None:
    """``None`` (off) or an int 1..95 (PIL's usable JPEG qualities); ValueError otherwise."""
    if quality is None:
        return None
    if isinstance(quality, bool) or not isinstance(quality, (int, np.integer)) or not 1 <= int(quality) <= 95:
        raise ValueError(f"preprocess.jpeg_resave_quality must be null or an integer 1..95 (75 = PIL's default); "
                         f"got {quality!r}")
    return int(quality)


def resave_jpeg_bytes(data: bytes, path: str, quality: int = PIL_DEFAULT_QUALITY) -> bytes:
    """``data`` (the bytes of ``path``) as ``Image.open(path).save(same name)`` would leave the file.

    JPEG-named files: decoded and re-encoded as JPEG (``quality`` 75: exactly PIL's argument-free
    ``save``); other names: ``data`` unchanged. Raises PIL's ``UnidentifiedImageError`` (an ``OSError``)
    naming ``path`` when a JPEG-named file is no image.
    """
    if not str(path).lower().endswith(JPEG_EXTENSIONS):
        return data
    from PIL import Image

    out = io.BytesIO()
    try:
        with Image.open(io.BytesIO(data)) as img:
            kwargs = {} if quality == PIL_DEFAULT_QUALITY else {"quality": int(quality)}
            img.save(out, format="JPEG", **kwargs)
    except OSError as err:
        raise OSError(f"{path}: cannot re-save as JPEG ({err})") from None
    return out.getvalue()


def resave_jpeg_tensor(contents, path, quality: int):
    """:func:`resave_jpeg_bytes` inside a ``tf.data`` map (string tensors in, string tensor out)."""
    import tensorflow as tf

    def run(data, name):
        name = name.decode() if isinstance(name, bytes) else str(name)
        return np.array(resave_jpeg_bytes(bytes(data), os.fsdecode(name), quality), dtype=object)

    out = tf.numpy_function(run, [contents, path], tf.string, stateful=False)
    return tf.ensure_shape(out, [])
