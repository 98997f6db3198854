"""DICOM (``.dcm``) images as 8-bit pixels, read with pydicom, with one stated conversion rule.

What COVIDx did: COVID-Net's ``create_COVIDx.ipynb`` [CNet@1914bcb] reads each RSNA file with
``pydicom.dcmread(f).pixel_array`` and writes it unchanged with ``cv2.imwrite(name + '.png', array)``:
no inversion, no windowing, no rescaling. The RSNA challenge files are 8-bit ``MONOCHROME2`` (as the
challenge describes them; not checked here on the real files), so that is a plain copy of the
stored values.

Our rule (:func:`dicom_to_uint8`), equal to COVIDx's on such files:

- 8-bit unsigned ``MONOCHROME2``: the stored values, unchanged (bit-identical to COVIDx);
- more than 8 stored bits (``BitsStored`` b > 8): scaled from the full range of the stored bits,
  ``round(v * 255 / (2**b - 1))`` (signed data shifted by ``2**(b-1)`` first), so a 12-bit detector
  image uses 0..255 whatever its content; ``scaling="minmax"`` stretches each image's own
  minimum..maximum to 0..255 instead (COVIDx had no rule for these files: ``cv2.imwrite`` would have
  written a 16-bit PNG);
- ``MONOCHROME1`` (0 = white): inverted after scaling (``255 - v``), so bone is bright as in
  ``MONOCHROME2``;
- RGB files are returned as RGB (``YBR_*`` converted to RGB by pydicom);
- not applied by default, on purpose (COVIDx did not either): the modality LUT (``RescaleSlope`` /
  ``RescaleIntercept``, identity on most CR/DX files), the VOI LUT / window centre and width
  (a display setting), ``PixelPaddingValue``. ``scaling="voi_lut"`` applies them: pydicom's
  ``apply_modality_lut`` then ``apply_voi_lut`` (the file's first window or VOI LUT), and the
  output range of that window / LUT to 0..255 (MONOCHROME1 inverted after);
- warned about (:func:`dicom_notes`, logged naming the file by the image check): a window / VOI LUT
  the chosen scaling does not apply, and stored values that use a small part of ``BitsStored``
  (maximum below 1/16 of the range: the image decodes dark with ``bits_stored``);
- multi-frame files are refused (a chest radiograph is one frame), as are files without pixel data
  or with a compressed transfer syntax whose decoder is not installed (the message says which).

DICOM files are recognised by the ``DICM`` marker after the 128-byte preamble (:func:`is_dicom_bytes`);
files without the preamble (rare, pre-2000 "raw" DICOM) are not recognised by content, only by the
``.dcm`` extension in :func:`read_dicom_uint8`.
"""

from __future__ import annotations

import io
import os
from pathlib import Path

import numpy as np

from cxr_core.data.decode.extensions import DICOM_EXTENSIONS
from cxr_core.errors import CxrError

DICOM_SCALINGS = ("bits_stored", "minmax", "voi_lut")


class DicomError(CxrError):
    """A DICOM file that cannot be turned into an 8-bit image (message names the file and why)."""


def is_dicom_bytes(data: bytes) -> bool:
    """True when ``data`` starts like a DICOM Part-10 file (``DICM`` at byte 128)."""
    return len(data) >= 132 and data[128:132] == b"DICM"


def _read_dataset(source, where: str):
    import pydicom
    from pydicom.errors import InvalidDicomError

    try:
        if isinstance(source, (bytes, bytearray)):
            return pydicom.dcmread(io.BytesIO(bytes(source)), force=True)
        return pydicom.dcmread(os.fspath(source), force=True)
    except (InvalidDicomError, EOFError, OSError, ValueError) as exc:
        raise DicomError(f"{where}: not a readable DICOM file ({exc})") from None


def dicom_to_uint8(ds, *, scaling: str = "bits_stored", where: str = "DICOM") -> np.ndarray:
    """The pixels of a pydicom dataset as ``uint8 [H, W]`` (gray) or ``[H, W, 3]`` (RGB); rule above.

    Raises :class:`DicomError` naming ``where`` for missing pixel data, several frames, an unknown
    photometric interpretation, or pixel data pydicom cannot decode.
    """
    if scaling not in DICOM_SCALINGS:
        raise ValueError(f"DICOM scaling must be one of {DICOM_SCALINGS}; got {scaling!r}")
    if "PixelData" not in ds:
        raise DicomError(f"{where}: DICOM file has no pixel data (a report or structured document?)")
    frames = int(getattr(ds, "NumberOfFrames", 1) or 1)
    if frames != 1:
        raise DicomError(f"{where}: DICOM file has {frames} frames; one frame (a radiograph) is expected")
    try:
        pixels = ds.pixel_array
    except Exception as exc:  # pydicom raises many types for unsupported compression
        syntax = getattr(getattr(ds, "file_meta", None), "TransferSyntaxUID", "unknown")
        raise DicomError(
            f"{where}: pydicom cannot decode the pixel data (transfer syntax {syntax}: {exc}); "
            "compressed DICOM needs pylibjpeg or gdcm installed"
        ) from None
    photometric = str(getattr(ds, "PhotometricInterpretation", "MONOCHROME2")).strip().upper()
    samples = int(getattr(ds, "SamplesPerPixel", 1) or 1)
    if samples == 3:
        if photometric.startswith("YBR"):
            from pydicom.pixels import convert_color_space

            pixels = convert_color_space(pixels, photometric, "RGB")
        if pixels.dtype != np.uint8:
            raise DicomError(f"{where}: colour DICOM with {pixels.dtype} samples; 8-bit RGB is expected")
        return np.ascontiguousarray(pixels)
    if samples != 1 or photometric not in ("MONOCHROME1", "MONOCHROME2"):
        raise DicomError(
            f"{where}: photometric interpretation {photometric!r} with {samples} samples per pixel is not "
            "supported (expected MONOCHROME1, MONOCHROME2 or RGB)"
        )
    bits = int(getattr(ds, "BitsStored", pixels.dtype.itemsize * 8) or 8)
    signed = int(getattr(ds, "PixelRepresentation", 0) or 0) == 1
    v = pixels.astype(np.float64)
    if scaling == "voi_lut":
        v = _voi_lut_0_255(pixels, ds, bits, signed)
    elif scaling == "minmax":
        lo, hi = float(v.min()), float(v.max())
        v = (v - lo) * (255.0 / (hi - lo)) if hi > lo else np.zeros_like(v)
    elif bits > 8 or signed or pixels.dtype != np.uint8:
        if signed:
            v = v + 2.0 ** (bits - 1)
        v = v * (255.0 / (2.0**bits - 1.0))
    out = np.clip(np.rint(v), 0, 255).astype(np.uint8)
    if photometric == "MONOCHROME1":
        out = 255 - out
    return out


def has_voi(ds) -> bool:
    """True when the dataset carries a window (``WindowCenter``/``WindowWidth``) or a ``VOILUTSequence``."""
    return ("WindowCenter" in ds and "WindowWidth" in ds) or "VOILUTSequence" in ds


def _voi_lut_0_255(pixels: np.ndarray, ds, bits: int, signed: bool) -> np.ndarray:
    """Modality LUT + VOI LUT (pydicom) as float values in 0..255: the window / LUT's output range."""
    from pydicom.pixels import apply_modality_lut, apply_voi_lut

    def voi(arr: np.ndarray) -> np.ndarray:
        return np.asarray(apply_voi_lut(apply_modality_lut(arr, ds), ds), dtype=np.float64)

    if "VOILUTSequence" in ds:
        out_bits = int(ds.VOILUTSequence[0].LUTDescriptor[2])
        lo, hi = 0.0, 2.0**out_bits - 1.0
    else:  # a window is monotonic: its output range is that of the smallest and largest stored value
        smallest = -(2 ** (bits - 1)) if signed else 0
        ends = voi(np.array([smallest, smallest + 2**bits - 1], dtype=pixels.dtype))
        lo, hi = float(ends.min()), float(ends.max())
    return (voi(pixels) - lo) * (255.0 / max(hi - lo, 1e-12))


def _first(value) -> float:
    """The first of a possibly multi-valued DICOM number."""
    return float(value[0] if isinstance(value, (list, tuple)) or hasattr(value, "__getitem__") and
                 not isinstance(value, str) else value)


def dicom_notes(ds, *, scaling: str = "bits_stored") -> list[str]:
    """What to warn about in a DICOM that converts (see the module rule): a window / VOI LUT not applied,
    stored values using a small part of ``BitsStored``. Plain words; the caller names the file."""
    notes = []
    if has_voi(ds) and scaling != "voi_lut":
        what = "a VOI LUT" if "VOILUTSequence" in ds else (
            f"a window (centre {_first(ds.WindowCenter):g}, width {_first(ds.WindowWidth):g})")
        notes.append(f"DICOM with {what} that is not applied (DICOM scaling {scaling}); "
                     "scaling voi_lut applies it")
    bits = int(getattr(ds, "BitsStored", 8) or 8)
    if scaling == "bits_stored" and bits > 8 and "PixelData" in ds:
        try:
            peak = int(np.max(ds.pixel_array))
        except Exception:  # the decode check names files pydicom cannot read
            return notes
        if int(getattr(ds, "PixelRepresentation", 0) or 0) == 0 and peak < 2 ** (bits - 4):
            notes.append(f"DICOM whose stored values reach {peak} of {2**bits - 1} (BitsStored {bits}): "
                         "it decodes dark; scaling minmax or voi_lut uses its range")
    return notes


def dicom_file_notes(path, *, scaling: str = "bits_stored") -> list[str]:
    """:func:`dicom_notes` of a DICOM file (an empty list for a file pydicom cannot read)."""
    try:
        return dicom_notes(_read_dataset(path, os.fspath(path)), scaling=scaling)
    except DicomError:
        return []


def read_dicom_uint8(source, *, scaling: str = "bits_stored") -> np.ndarray:
    """Read a DICOM file (path or bytes) as ``uint8 [H, W]`` or ``[H, W, 3]`` (see the module rule)."""
    where = "<bytes>" if isinstance(source, (bytes, bytearray)) else os.fspath(source)
    return dicom_to_uint8(_read_dataset(source, where), scaling=scaling, where=where)


def read_dicom_uint8_rgb(source, *, scaling: str = "bits_stored") -> np.ndarray:
    """:func:`read_dicom_uint8` with gray replicated to three channels: ``uint8 [H, W, 3]``."""
    img = read_dicom_uint8(source, scaling=scaling)
    return np.repeat(img[..., None], 3, axis=2) if img.ndim == 2 else img


def dicom_to_png_bytes(source, *, scaling: str = "bits_stored") -> bytes:
    """The 8-bit PNG COVIDx would write for this DICOM (gray ``L`` or ``RGB``), as bytes.

    Encoded by OpenCV, as COVIDx did (``cv2.imwrite``); the pixel values are what matters, the
    compressed bytes may differ between OpenCV versions.
    """
    import cv2

    img = read_dicom_uint8(source, scaling=scaling)
    if img.ndim == 3:
        img = img[..., ::-1]  # OpenCV writes BGR
    ok, buf = cv2.imencode(".png", img)
    if not ok:
        raise DicomError(f"{source}: OpenCV could not encode the converted image as PNG")
    return buf.tobytes()


def decode_dicom_bytes_for_tf(contents, scaling="bits_stored") -> np.ndarray:
    """``uint8 [H, W, C]`` (C = 1 or 3) from DICOM bytes, for ``tf.numpy_function`` (see images.py)."""
    data = contents.item() if isinstance(contents, np.ndarray) else contents
    scaling = scaling.decode() if isinstance(scaling, bytes) else str(scaling)
    img = read_dicom_uint8(bytes(data), scaling=scaling)
    return img[..., None] if img.ndim == 2 else img


def decode_dicom_tf(contents, scaling: str = "bits_stored"):
    """Graph-safe DICOM decoding: a ``tf.numpy_function`` around pydicom, ``uint8 [H, W, C]``.

    Runs Python (holds the GIL) inside ``tf.data``; fine for the occasional DICOM, slow for a large
    DICOM-only data set: convert those to PNG first (``covid-cxr data build covidx`` does).
    """
    import tensorflow as tf

    img = tf.numpy_function(lambda b: decode_dicom_bytes_for_tf(b, scaling), [contents], tf.uint8, stateful=False)
    return tf.ensure_shape(img, [None, None, None])


def is_dicom_tensor(contents):
    """Graph version of :func:`is_dicom_bytes` (scalar bool; safe on files shorter than 132 bytes)."""
    import tensorflow as tf

    padded = tf.strings.join([tf.strings.substr(contents, 0, 132), b"\0" * 132])
    return tf.equal(tf.strings.substr(padded, 128, 4), b"DICM")


def dicom_problem(data: bytes) -> str | None:
    """None when :func:`read_dicom_uint8` converts these DICOM bytes; otherwise why not, in plain words."""
    try:
        read_dicom_uint8(data)
    except DicomError as exc:
        return str(exc).replace("<bytes>: ", "")
    return None


def is_dicom_path(path) -> bool:
    """True for a ``.dcm`` / ``.dicom`` file name (case-insensitive)."""
    return Path(os.fspath(path)).suffix.lower() in DICOM_EXTENSIONS
