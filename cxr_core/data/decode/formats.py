"""File formats by their first bytes, PIL decoding for the formats TensorFlow lacks, and plain-words
reasons for files that cannot be decoded. Used by :mod:`cxr_core.data.decode.images`.

TIFF, PPM/PGM/PBM (on Keras' ``white_list_formats`` [CN] [CVR-T]) and the BMPs TensorFlow refuses
(1-bit: "Number of channels inherent in the image must be 1, 3 or 4") or misreads (palette BMPs come
back as palette indices) are decoded by PIL's ``convert('RGB')``, which is what Keras' ``load_img``
returns for them.
"""

from __future__ import annotations

import io
import re

import numpy as np
import tensorflow as tf

_PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
_JPEG_MAGIC = b"\xff\xd8\xff"
_TIFF_MAGICS = (b"II*\x00", b"MM\x00*")
_PNM_PATTERN = b"P[1-6][ \t\r\n]"
_PAD = b"\x00" * 32


# ------------------------------------------------------------------------------ PIL-decoded formats
def pil_rgb(data: bytes, png16: str = "scale257") -> np.ndarray:
    """``PIL.Image.open(data).convert('RGB')`` as ``uint8 [H, W, 3]`` (first frame); a 16-bit gray TIFF
    is brought to 8 bits by ``png16`` (:func:`cxr_core.data.decode.png16.uint16_to_uint8_np`), not clipped."""
    from PIL import Image

    from cxr_core.data.decode.png16 import uint16_to_uint8_np

    if isinstance(data, np.ndarray):  # a string tensor arrives in tf.numpy_function as a 0-d array
        data = data.item()
    if isinstance(png16, (bytes, np.ndarray)):
        png16 = png16.item() if isinstance(png16, np.ndarray) else png16
        png16 = png16.decode() if isinstance(png16, bytes) else str(png16)
    with Image.open(io.BytesIO(data)) as img:
        if img.mode.startswith("I;16"):
            gray8 = uint16_to_uint8_np(np.asarray(img), png16)
            return np.repeat(gray8[..., None], 3, axis=-1)
        return np.asarray(img.convert("RGB"), dtype=np.uint8)


def _bmp_tf_ok(data: bytes) -> bool:
    """TensorFlow decodes this BMP exactly: uncompressed or bit-field, 24 or 32 bits per pixel."""
    if len(data) < 34:
        return False
    bpp = int.from_bytes(data[28:30], "little")
    compression = int.from_bytes(data[30:34], "little")
    return bpp in (24, 32) and compression in (0, 3)


def image_kind(data: bytes) -> str | None:
    """The format of a file from its first bytes: ``JPEG``, ``PNG``, ``GIF``, ``BMP``, ``TIFF``, ``PNM``
    (PPM/PGM/PBM) or None when it is none of these."""
    if data[:3] == _JPEG_MAGIC:
        return "JPEG"
    if data[:8] == _PNG_MAGIC:
        return "PNG"
    if data[:4] == b"GIF8":
        return "GIF"
    if data[:2] == b"BM":
        return "BMP"
    if data[:4] in _TIFF_MAGICS:
        return "TIFF"
    if re.fullmatch(_PNM_PATTERN, data[:3]):
        return "PNM"
    return None


def decoded_by_pil(data: bytes) -> bool:
    """True for the files :func:`decode_to_uint8_rgb` hands to PIL (TIFF, PNM, BMPs TF cannot read)."""
    kind = image_kind(data)
    return kind in ("TIFF", "PNM") or (kind == "BMP" and not _bmp_tf_ok(data))


def needs_pil(contents: tf.Tensor) -> tf.Tensor:
    """Graph version of :func:`decoded_by_pil` (a scalar bool)."""
    padded = tf.strings.join([contents, _PAD])
    head4 = tf.strings.substr(padded, 0, 4)
    is_tiff = tf.reduce_any(tf.equal(head4, list(_TIFF_MAGICS)))
    is_pnm = tf.strings.regex_full_match(tf.strings.substr(padded, 0, 3), _PNM_PATTERN.decode("latin-1"))
    is_bmp = tf.equal(tf.strings.substr(padded, 0, 2), b"BM")
    bpp = tf.io.decode_raw(tf.strings.substr(padded, 28, 2), tf.uint16, little_endian=True)[0]
    compression = tf.io.decode_raw(tf.strings.substr(padded, 30, 4), tf.int32, little_endian=True)[0]
    bmp_tf_ok = tf.logical_and(
        tf.logical_or(tf.equal(bpp, 24), tf.equal(bpp, 32)),
        tf.logical_or(tf.equal(compression, 0), tf.equal(compression, 3)),
    )
    bmp_tf_ok = tf.logical_and(bmp_tf_ok, tf.strings.length(contents) >= 34)
    return tf.logical_or(tf.logical_or(is_tiff, is_pnm), tf.logical_and(is_bmp, tf.logical_not(bmp_tf_ok)))


def decode_pil(contents: tf.Tensor, png16: str = "scale257") -> tf.Tensor:
    img = tf.numpy_function(lambda b: pil_rgb(b, png16), [contents], tf.uint8, stateful=False)
    return tf.ensure_shape(img, [None, None, 3])


def pil_resize(arr: np.ndarray, height: int, width: int, method: str) -> np.ndarray:
    from PIL import Image

    filters = {"bilinear": Image.Resampling.BILINEAR, "bicubic": Image.Resampling.BICUBIC,
               "lanczos": Image.Resampling.LANCZOS, "box": Image.Resampling.BOX,
               "hamming": Image.Resampling.HAMMING}
    arr = np.asarray(arr, dtype=np.uint8)
    img = Image.fromarray(arr[..., 0] if arr.shape[-1] == 1 else arr)
    out = np.asarray(img.resize((int(width), int(height)), filters[method]), dtype=np.uint8)
    return out[..., None] if out.ndim == 2 else out


_TF_NOISE = re.compile(r"\{\{function_node [^}]*\}\}\s*|\s*\[Op:[^\]]*\]")


def clean_tf_message(exc: BaseException) -> str:
    """TensorFlow's error text without ``{{function_node ...}}`` and ``[Op:...]``, first line only."""
    text = _TF_NOISE.sub("", getattr(exc, "message", None) or str(exc)).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def pipeline_error_text(exc: BaseException) -> str:
    """Plain words for a TensorFlow error raised while a ``tf.data`` pipeline read the images (a file
    that was not checked first): what happened, TensorFlow's first line without its internal op names,
    and how to find the file."""
    return (f"an image could not be read or decoded inside the data pipeline ({clean_tf_message(exc)}). "
            "Check the files first: keep data.verify_images: true (the default) for cv/train/evaluate, or run "
            "predict without --no-verify; each bad file is then named with the reason "
            "(and --skip-bad / --set data.on_bad_file=skip leave them out)")


def not_an_image(data: bytes) -> str:
    """Plain words for a file that is not in any image format we read."""
    head = data[:512]
    if head.startswith(b"%PDF"):
        return "not an image: PDF document"
    if head.startswith(b"PK\x03\x04"):
        return "not an image: ZIP archive"
    if head[:2] == b"\x1f\x8b":
        return "not an image: gzip archive"
    if len(data) > 132 and data[128:132] == b"DICM":
        return "not a PNG/JPEG/BMP/GIF/TIFF/PPM image: DICOM file"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "WebP: not supported, convert to PNG"
    if head.lstrip().lower().startswith((b"<!doctype html", b"<html")):
        return "not an image: HTML page"
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError:
        text = None
    if text is not None and all(ch.isprintable() or ch in "\r\n\t" for ch in text):
        return "not an image: text file"
    return f"not an image: unknown format (first bytes {data[:8]!r})"


def pil_diagnosis(data: bytes, kind: str) -> str:
    """Why PIL cannot decode ``data`` of format ``kind``, in plain words ("truncated PNG", ...)."""
    from PIL import Image

    try:
        pil_rgb(data)
    except Image.DecompressionBombError as exc:  # a large image, not a damaged one
        size = re.search(r"\((\d+) pixels\)", str(exc))
        return (f"{kind} of {size.group(1) if size else 'more than'} pixels, above twice PIL's pixel limit "
                f"(PIL.Image.MAX_IMAGE_PIXELS = {Image.MAX_IMAGE_PIXELS}): not read; downscale it first "
                "(the file is not damaged)")
    except Exception as exc:  # PIL raises OSError, SyntaxError, ValueError... for bad files
        text = str(exc)
        if "truncated" in text.lower() or isinstance(exc, EOFError):
            return f"truncated {kind}"
        text = re.sub(r"\s*<_io\.BytesIO object at 0x[0-9a-f]+>", "", text)  # PIL names its in-memory file
        return f"corrupt {kind} data ({text or type(exc).__name__})"
    return ""


def frames_note(data: bytes) -> str | None:
    """``"animated GIF: 3 frames, the first is used"`` for a GIF or TIFF of several frames, else None."""
    from PIL import Image

    kind = image_kind(data)
    if kind not in ("GIF", "TIFF"):
        return None
    try:
        with Image.open(io.BytesIO(data)) as img:
            n = getattr(img, "n_frames", 1)
    except Exception:  # a bad file: the decode check names it
        return None
    what = "animated GIF" if kind == "GIF" else "multi-page TIFF"
    return f"{what}: {n} frames, the first is used" if n > 1 else None
