"""Which file names are images: one list of what Keras' folder reader accepts, one of what we decode.

- :data:`KERAS_IMAGE_EXTENSIONS`: keras-preprocessing 1.1.2 ``DirectoryIterator.white_list_formats``
  (``png jpg jpeg bmp ppm tif tiff``), what the authors' ``flow_from_directory`` listed [CN] [CVR-T].
- :data:`IMAGE_EXTENSIONS`: what :func:`cxr_core.data.decode.images.decode_to_uint8_rgb` decodes: Keras'
  list, plus ``.gif`` (first frame, ``tf.io.decode_image``) and DICOM ``.dcm`` / ``.dicom``
  (:mod:`cxr_core.data.decode.dicom`, pydicom). Every reader that lists image files uses it: class
  folders, ``data build``'s sources, ``predict`` / ``explain`` folder listings and the paper packages'
  readers. Other files are listed as skipped, never dropped silently.

Class folders therefore take ``.gif`` and DICOM files that Keras 2 would have passed over (stated in
:func:`cxr_core.data.tables.readers.read_class_folders`). No TensorFlow import here.
"""

from __future__ import annotations

import os

__all__ = ["DICOM_EXTENSIONS", "IMAGE_EXTENSIONS", "KERAS_IMAGE_EXTENSIONS", "is_image_name"]

#: keras-preprocessing's ``white_list_formats``, with the dot.
KERAS_IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".ppm", ".tif", ".tiff")
#: DICOM file names (read with pydicom).
DICOM_EXTENSIONS = (".dcm", ".dicom")
#: Everything we decode: Keras' list, GIF and DICOM.
IMAGE_EXTENSIONS = (*KERAS_IMAGE_EXTENSIONS, ".gif", *DICOM_EXTENSIONS)


def is_image_name(name: str | os.PathLike) -> bool:
    """The (base) name ends in one of :data:`IMAGE_EXTENSIONS`, case-insensitive, with the dot
    (Keras tests ``endswith('png')`` without one and would take ``scan_png``; we do not)."""
    return os.path.basename(os.fspath(name)).lower().endswith(IMAGE_EXTENSIONS)
