"""Decode any real chest X-ray file to uint8 RGB, resize it the way each paper's code did, scale it.

Decoding (graph-safe, usable inside ``tf.data``): JPEG, PNG (8- and 16-bit; gray, gray+alpha, RGB,
RGBA, palette), BMP and GIF (first frame) all become ``uint8 [H, W, 3]``:

- gray → the grey value in all three channels, alpha dropped (what ``PIL.Image.convert('RGB')`` does,
  which Keras' ``load_img`` calls for ``color_mode='rgb'`` [CN] [CVR-T] and CORONA-Net calls directly [CR]);
- 16-bit PNG and 16-bit gray TIFF → 8 bit by ``round(v / 257)`` (65535 → 255; or as ``preprocess.png16``
  says, :mod:`cxr_core.data.decode.png16`). DEVIATION: Keras/PIL would *clip* 16-bit
  values at 255 (``convert('RGB')`` from mode ``I``), which turns most 16-bit X-rays white; none of the
  papers' data sets has 16-bit files, so we scale properly instead;
- JPEG is decoded with ``dct_method="INTEGER_ACCURATE"`` (libjpeg ISLOW, PIL's default), so decoded
  pixels equal PIL's bit for bit; TensorFlow's own default is the faster, inexact IFAST.
- CMYK JPEGs are converted to RGB by TensorFlow's decoder (within 1 grey level of PIL's convert('RGB')).
- TIFF, PPM/PGM/PBM (on Keras' file list [CN] [CVR-T], no TensorFlow decoder) and BMPs TensorFlow
  refuses or misreads (1-, 4-, 8-bit palette, 16-bit, RLE: any BMP that is not uncompressed or
  bit-field 24/32-bit) are decoded by PIL (``Image.open(...).convert('RGB')``, first frame) through
  ``tf.numpy_function``, inside ``tf.data`` too: bit-identical to what Keras' ``load_img`` gets.
  Which decoder runs is decided per file from its first bytes (:func:`image_kind`).
- A file that cannot be decoded gets a reason in plain words (:func:`image_problem`), e.g. "truncated
  PNG", "not an image: text file"; never TensorFlow's internal op text.

Pre-resize (``pre_resize=(height, width, method)``): a first resize before the main one, for data sets
that were resized once when they were prepared and then again by the training code (CoroNet: every
image resized to 224x224 [S4], then Keras ``nearest`` 224 -> 150 [CN]). ``method`` is one of
:data:`PRE_RESIZE_METHODS`, each computed exactly as PIL's ``Image.resize`` with that filter (after
``convert('RGB')``, as Keras' ``load_img``): ``nearest`` by our exact TensorFlow path, the others by
PIL itself through ``tf.numpy_function``. So the two steps equal ``img.convert('RGB').resize(pre,
FILTER).resize(size, NEAREST)`` bit for bit (tested on every cxr4-mini image and the raw originals).

Resize methods (``method`` argument):

- ``"nearest"``: exactly PIL ``Image.resize(size, NEAREST)``, i.e. Keras' ``load_img(target_size=...)``
  with ``flow_from_directory``'s default ``interpolation='nearest'`` [CN] [CVR-T]. PIL picks source
  index ``int(xo)`` with ``xo = scale/2`` accumulated by ``xo += scale`` in double precision
  (``ImagingScaleAffine``); we reproduce the same accumulation with a float64 ``cumsum``, so the result
  is bit-identical (tested on every image of cxr4-mini against ``keras_preprocessing.image.load_img``).
- ``"bilinear"``: antialiased bilinear (triangle filter widened by the downscale factor), as PIL's
  ``BILINEAR`` resize; computed by ``tf.image.resize(antialias=True)`` in float and rounded to uint8.
  PIL works in fixed point and rounds to uint8 between its horizontal and vertical passes, so results
  differ slightly: measured on cxr4-mini (192 images to 150x150) mean |diff| 0.11 grey levels, max 1,
  11% of values off by one, none by more (see tests/cxr_core/data/decode/test_images.py).
- ``"area"``: ``tf.image.resize(method="area")`` (box average), rounded.
- ``"shorter_side_center_crop"``: torchvision ``Resize(s)`` (shorter side to ``s``, longer side
  ``int(s * long / short)``, PIL bilinear with antialias) then ``CenterCrop(s)`` (offsets
  ``round((H - s) / 2)`` with Python's round-half-to-even) — CORONA-Net [CR]. Requires a square size.
  Against PIL resize + crop on all cxr4-mini images at 224: mean |diff| 0.15 levels, max 1 (same cause).

All resized images are whole numbers in 0..255 (as PIL's uint8 output); :func:`resize_uint8` returns
them as float32, the pipeline keeps uint8 until after caching.

Speed: the pipeline calls :func:`decode_resize_to_uint8_rgb`, which decodes gray files (most X-rays)
as one channel, resizes, and only then replicates to RGB: the same values as decode-then-resize (each
channel is resized on its own), for less work (benchmarks/RESULTS.md). The ``nearest`` indices are
exact in eager mode and inside graphs (tf.data, tf.function) alike; see :func:`_pil_nearest_indices`.

Scaling: ``"rescale01"`` x/255 [CN]; ``"minus1_1"`` x/127.5 - 1 (Xception's ``preprocess_input``);
``"imagenet"`` (x/255 - mean)/std with ImageNet mean/std [CR]; ``"raw255"`` x unchanged [CVR-T].
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pandas as pd
import tensorflow as tf

from cxr_core.config.choices import ON_BAD_FILE, SCALINGS
from cxr_core.data.decode.formats import (
    clean_tf_message,
    decode_pil,
    frames_note,
    decoded_by_pil,
    image_kind,
    needs_pil,
    not_an_image,
    pil_diagnosis,
)
from cxr_core.data.decode.png16 import png16_to_uint8, sixteen_bit_note
from cxr_core.data.decode.dicom import (decode_dicom_tf, dicom_file_notes, dicom_problem, is_dicom_bytes,
                                       is_dicom_tensor)
from cxr_core.data.tables.sample_table import SampleTable
from cxr_core.data.decode.resize import _resize_any_channels, check_pre_resize, pre_resize_uint8, resize_uint8
from cxr_core.errors import CxrError

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)

_PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
_JPEG_MAGIC = b"\xff\xd8\xff"

# --------------------------------------------------------------------------------------- decoding
def _png16_to_uint8(contents: tf.Tensor, png16: str = "scale257") -> tf.Tensor:
    img = tf.io.decode_png(contents, channels=3, dtype=tf.uint16)
    return png16_to_uint8(img, contents, png16)  # scale257: round(v / 257), 0 -> 0, 65535 -> 255


def _decode_native(contents: tf.Tensor, jpeg_ratio_index: tf.Tensor | None = None,
                   png16: str = "scale257", dicom: str = "bits_stored") -> tf.Tensor:
    """``uint8 [H, W, C]`` with the file's own channels: 1 (gray JPEG/PNG), 2 (gray+alpha PNG), 3, 4 (RGBA).

    Gray stays one channel so that decoding and resizing touch a third of the bytes; :func:`_to_rgb`
    replicates it afterwards, which is what libjpeg/libpng (and PIL's ``convert('RGB')``) would have
    done, value for value. ``jpeg_ratio_index`` (0..3) decodes JPEGs at 1/1, 1/2, 1/4 or 1/8 scale.
    """
    contents = tf.convert_to_tensor(contents, tf.string)
    head = tf.strings.substr(contents, 0, 8)
    is_png = tf.equal(head, _PNG_MAGIC)
    is_jpeg = tf.equal(tf.strings.substr(contents, 0, 3), _JPEG_MAGIC)
    # PNG IHDR: bit depth is the byte at offset 24.
    depth_byte = tf.strings.substr(contents, 24, 1)
    is_png16 = tf.logical_and(is_png, tf.equal(depth_byte, b"\x10"))

    def jpeg_at(ratio: int) -> tf.Tensor:
        # channels=0 keeps gray JPEGs gray (CMYK files come back as RGB).
        return tf.io.decode_jpeg(contents, channels=0, ratio=ratio, dct_method="INTEGER_ACCURATE")

    def jpeg() -> tf.Tensor:
        if jpeg_ratio_index is None:
            return jpeg_at(1)
        return tf.switch_case(jpeg_ratio_index, [(lambda r=r: jpeg_at(r)) for r in (1, 2, 4, 8)])

    def png16_() -> tf.Tensor:  # preprocess.png16 (cxr_core.data.decode.png16)
        return _png16_to_uint8(contents, png16)

    def png8() -> tf.Tensor:
        return tf.io.decode_png(contents, channels=0, dtype=tf.uint8)

    def other() -> tf.Tensor:
        return tf.io.decode_image(contents, channels=3, dtype=tf.uint8, expand_animations=False)

    def pil() -> tf.Tensor:  # 16-bit gray TIFFs by preprocess.png16 too
        return decode_pil(contents, png16)

    def dicom_() -> tf.Tensor:  # DICOM via pydicom (cxr_core.data.decode.dicom states the 8-bit rule)
        return decode_dicom_tf(contents, dicom)  # preprocess.dicom

    img = tf.case([(is_dicom_tensor(contents), dicom_), (is_jpeg, jpeg), (is_png16, png16_), (is_png, png8),
                   (needs_pil(contents), pil)], default=other, exclusive=False)
    return tf.ensure_shape(img, [None, None, None])


def _to_rgb(img: tf.Tensor) -> tf.Tensor:
    """1 or 2 channels (gray, gray+alpha) -> the grey value three times; 3 or 4 (RGBA) -> RGB."""
    c = tf.shape(img)[-1]
    rgb = tf.cond(c < 3, lambda: tf.tile(img[..., :1], [1, 1, 3]), lambda: img[..., :3])
    return tf.ensure_shape(rgb, [None, None, 3])


def decode_to_uint8_rgb(contents: tf.Tensor, png16: str = "scale257", dicom: str = "bits_stored") -> tf.Tensor:
    """Decode the bytes of a JPEG / PNG / BMP / GIF / TIFF / PNM file to ``uint8 [H, W, 3]`` (graph-safe).

    Gray is replicated to three channels, alpha is dropped (as ``PIL convert('RGB')``), 16-bit PNGs are
    scaled by ``round(v / 257)`` (or as ``png16`` says, :mod:`cxr_core.data.decode.png16`). JPEG uses the
    accurate integer IDCT so pixels equal PIL's.
    """
    return _to_rgb(_decode_native(contents, png16=png16, dicom=dicom))


def _jpeg_ratio_index(contents: tf.Tensor, size: tuple[int, int]) -> tf.Tensor:
    """Index into (1, 2, 4, 8) of the largest libjpeg DCT scale keeping the decoded image >= ``size``."""
    shape = tf.io.extract_jpeg_shape(contents)
    factor = tf.minimum(shape[0] // size[0], shape[1] // size[1])
    return tf.where(factor >= 8, 3, tf.where(factor >= 4, 2, tf.where(factor >= 2, 1, 0)))


def _fast_ratio_index(contents: tf.Tensor, size: tuple[int, int]) -> tf.Tensor:
    is_jpeg = tf.equal(tf.strings.substr(contents, 0, 3), _JPEG_MAGIC)
    return tf.cond(is_jpeg, lambda: _jpeg_ratio_index(contents, size), lambda: tf.constant(0, tf.int32))


def decode_to_uint8_rgb_fast(contents: tf.Tensor, size: tuple[int, int]) -> tf.Tensor:
    """Like :func:`decode_to_uint8_rgb`, but JPEGs at least twice ``size`` are decoded at 1/2, 1/4 or
    1/8 scale inside libjpeg (DCT scaling), never below ``size``. Opt-in (``fast_jpeg_decode``): faster
    on large JPEGs, but the pixels are then block averages, so ``nearest`` no longer equals Keras/PIL
    exactly (it becomes closer to an area resize).
    """
    contents = tf.convert_to_tensor(contents, tf.string)
    size = (int(size[0]), int(size[1]))
    return _to_rgb(_decode_native(contents, _fast_ratio_index(contents, size)))


def decode_resize_to_uint8_rgb(contents: tf.Tensor, size: tuple[int, int], method: str, *,
                               fast_jpeg_decode: bool = False,
                               pre_resize: tuple[int, int, str] | None = None,
                               png16: str = "scale257", dicom: str = "bits_stored") -> tf.Tensor:
    """``resize_to_uint8(decode_to_uint8_rgb(contents), size, method)``, value for value, but faster.

    Gray files (most chest X-rays) are decoded and resized as one channel and replicated to three
    only at the target size; every resize method treats channels independently, so the result is
    identical. ``fast_jpeg_decode`` as :func:`decode_to_uint8_rgb_fast`. ``pre_resize``
    ``(height, width, method)`` resizes first (see the module docstring, :func:`pre_resize_uint8`).
    """
    contents = tf.convert_to_tensor(contents, tf.string)
    size = (int(size[0]), int(size[1]))
    pre = check_pre_resize(pre_resize)
    first_size = size if pre is None else pre[:2]
    ratio = _fast_ratio_index(contents, first_size) if fast_jpeg_decode else None
    img = _decode_native(contents, ratio, png16, dicom)
    if pre is not None:
        img = pre_resize_uint8(img, pre)
    small = _resize_any_channels(img, size, method)
    return tf.ensure_shape(_to_rgb(small), [size[0], size[1], 3])


# --------------------------------------------------------------------------------------- scaling
def scale_pixels(image_0_255: tf.Tensor, scaling: str) -> tf.Tensor:
    """Scale float pixels in 0..255: ``rescale01`` [CN], ``minus1_1``, ``imagenet`` [CR], ``raw255`` [CVR-T]."""
    x = tf.cast(image_0_255, tf.float32)
    if scaling == "rescale01":
        return x / 255.0
    if scaling == "minus1_1":
        return x / 127.5 - 1.0
    if scaling == "imagenet":
        mean = tf.constant(IMAGENET_MEAN, tf.float32)
        std = tf.constant(IMAGENET_STD, tf.float32)
        return (x / 255.0 - mean) / std
    if scaling == "raw255":
        return x
    raise ValueError(f"unknown scaling {scaling!r}; expected one of {SCALINGS}")


# --------------------------------------------------------------------------------------- checks
def decode_problem(data: bytes) -> str | None:
    """None when :func:`decode_to_uint8_rgb` decodes these bytes; otherwise why not, in plain words.

    Examples: ``"empty file"``, ``"not an image: text file"``, ``"truncated PNG"``, ``"corrupt JPEG
    data (...)"``. TensorFlow's internal op names never appear.
    """
    if not data:
        return "empty file"
    if is_dicom_bytes(data):
        return dicom_problem(data)
    kind = image_kind(data)
    if kind is None:
        return not_an_image(data)
    if decoded_by_pil(data):
        return pil_diagnosis(data, kind) or None
    try:
        if kind == "JPEG":
            # ratio=8 still entropy-decodes every block (truncation and corrupt data are found) but
            # skips most of the IDCT and colour work.
            tf.io.decode_jpeg(data, channels=3, ratio=8)
        else:
            decode_to_uint8_rgb(tf.constant(data))
    except (tf.errors.OpError, ValueError) as exc:
        return pil_diagnosis(data, kind) or f"{kind} file TensorFlow cannot decode ({clean_tf_message(exc)})"
    return None


def image_problem(path: str) -> str | None:
    """None when the pipeline decodes the file; otherwise a one-line reason in plain words."""
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError as exc:
        return f"cannot read file: {exc.strerror or exc}"
    return decode_problem(data)


def warn_low_range_png16(paths, pool=None, png16: str = "scale257", dicom: str = "bits_stored") -> dict[str, str]:
    """Log a WARNING naming each animated GIF / multi-page TIFF (:func:`~cxr_core.data.decode.formats.frames_note`),
    each DICOM with a window not applied or a small part of its bits used (:func:`~cxr_core.data.decode.dicom.dicom_notes`)
    and each 16-bit PNG or TIFF that uses a fraction of its range
    (:func:`~cxr_core.data.decode.png16.sixteen_bit_note`) when ``png16`` is ``scale257`` (the default);
    with ``sbit`` / ``minmax`` (the user's choice) one INFO line says which mode decoded how many.
    Returns ``{path: note}``. Only files whose header says PNG-16 or TIFF are read again."""
    import logging

    def note(path: str) -> str | None:
        with open(path, "rb") as fh:
            head = fh.read(32)
        is_png16 = head[:8] == _PNG_MAGIC and len(head) > 24 and head[24] == 16
        if not (is_png16 or head[:4] in (b"II*\x00", b"MM\x00*")):
            return None
        return sixteen_bit_note(Path(path).read_bytes())

    def frames(path: str) -> list[str]:
        with open(path, "rb") as fh:
            head = fh.read(132)
        if is_dicom_bytes(head):
            return dicom_file_notes(path, scaling=dicom)
        gif_or_tiff = head[:3] == b"GIF" or head[:2] in (b"II", b"MM")
        return [n for n in [frames_note(Path(path).read_bytes()) if gif_or_tiff else None] if n]

    log = logging.getLogger(__name__)
    for p, found_notes in zip(paths, list(pool.map(frames, paths) if pool is not None else map(frames, paths))):
        for n in found_notes:
            log.warning("%s: %s", p, n)
    notes = list(pool.map(note, paths) if pool is not None else map(note, paths))
    found = {p: n for p, n in zip(paths, notes) if n}
    if found and png16 != "scale257":
        log.info("%d low-range 16-bit file(s) decoded with preprocess.png16: %s", len(found), png16)
        return found
    for p, n in found.items():
        log.warning(
            "%s: %s; with preprocess.png16: scale257 (the default) it decodes nearly black. Set "
            "preprocess.png16: sbit or minmax (command line: --set preprocess.png16=sbit)", p, n)
    return found


def verify_images(table: SampleTable, *, on_error: str = "raise", num_threads: int | None = None,
                  png16: str = "scale257", dicom: str = "bits_stored",
                  skip_hint: str = "set data.on_bad_file: skip (command line: --set data.on_bad_file=skip; "
                                   "predict/evaluate/explain: --skip-bad) to leave them out, each listed") -> SampleTable:
    """Find files the pipeline could not decode (threaded, with TensorFlow's own decoders).

    ``on_error="raise"`` (default) raises ``ValueError`` naming the bad files and why (the first 20
    and the count; ``skip_hint`` says how to skip them, in the caller's terms: ``--skip-bad`` ...);
    ``on_error="skip"`` returns a table without them, each added to ``skipped`` with its reason.
    Nothing is ever dropped silently. JPEGs are checked at 1/8 scale (cheap, still finds truncation).
    """
    if on_error not in ON_BAD_FILE:
        raise ValueError(f"on_error must be one of {ON_BAD_FILE}; got {on_error!r}")
    paths = table.frame["path"].astype(str).tolist()
    threads = num_threads or min(8, (os.cpu_count() or 1) * 2)
    with ThreadPoolExecutor(max_workers=threads) as pool:
        reasons = list(pool.map(image_problem, paths))
        warn_low_range_png16([p for p, r in zip(paths, reasons) if r is None], pool, png16, dicom)
    bad = [(p, r) for p, r in zip(paths, reasons) if r is not None]
    if not bad:
        return table
    if on_error == "raise":
        listing = "\n  ".join(f"{p}: {r}" for p, r in bad[:20])
        more = f"\n  ... and {len(bad) - 20} more" if len(bad) > 20 else ""
        raise CxrError(
            f"{len(bad)} of {len(paths)} image files cannot be decoded"
            f"{' (first 20 listed)' if len(bad) > 20 else ''}:\n  {listing}{more}\n"
            f"Fix or remove them, or {skip_hint}."
        )
    keep = np.array([r is None for r in reasons])
    new_skipped = pd.DataFrame({"path": [p for p, _ in bad], "reason": [r for _, r in bad]})
    skipped = pd.concat([table.skipped, new_skipped], ignore_index=True) if len(table.skipped) else new_skipped
    kept = table.subset(np.flatnonzero(keep))
    return SampleTable(kept.frame, table.class_names, skipped)


def load_image_array(path: str | os.PathLike, size: tuple[int, int], method: str = "nearest",
                     pre_resize: tuple[int, int, str] | None = None, png16: str = "scale257",
                     dicom: str = "bits_stored") -> np.ndarray:
    """Eager convenience for predict/explain: the file as float32 ``[h, w, 3]`` in 0..255.

    ``pre_resize`` ``(height, width, method)`` resizes first (CoroNet's 224x224 data set [S4]), see the
    module docstring; the result equals the pipeline's bit for bit.

    Raises:
        ValueError: the file cannot be decoded, naming it and the reason in plain words.
    """
    data = Path(path).read_bytes()
    pre = check_pre_resize(pre_resize)
    try:
        img = decode_to_uint8_rgb(tf.constant(data), png16, dicom)
        if pre is not None:
            img = _to_rgb(pre_resize_uint8(img, pre))
    except tf.errors.OpError:
        reason = decode_problem(data) or "cannot be decoded"
        raise CxrError(f"{path}: cannot be decoded as an image ({reason})") from None
    return resize_uint8(img, size, method).numpy()
