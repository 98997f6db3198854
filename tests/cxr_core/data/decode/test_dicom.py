"""DICOM decoding (pydicom) with the stated 8-bit rule, also inside tf.data and the file checks."""

from __future__ import annotations

import numpy as np
import pytest

from cxr_core.data.decode.dicom import DicomError, dicom_to_png_bytes, read_dicom_uint8
from tests.cxr_core.data.source_fixtures import gray, write_dicom


@pytest.fixture
def pixels(shared_data):
    return gray(sorted((shared_data / "cxr4-mini" / "normal").iterdir())[0])


def test_monochrome2_8bit_is_the_stored_values_as_covidx_wrote_them(tmp_path, pixels):
    assert np.array_equal(read_dicom_uint8(write_dicom(tmp_path / "a.dcm", pixels)), pixels)


def test_monochrome1_is_inverted(tmp_path, pixels):
    path = write_dicom(tmp_path / "m1.dcm", 255 - pixels, photometric="MONOCHROME1")
    assert np.array_equal(read_dicom_uint8(path), pixels)


def test_12_bit_uses_the_full_stored_range(tmp_path, pixels):
    stored = pixels.astype(np.uint16) * 16 + 8  # 12-bit detector values, 8..4088
    got = read_dicom_uint8(write_dicom(tmp_path / "b12.dcm", stored, bits_stored=12))
    assert np.array_equal(got, np.rint(stored * 255.0 / 4095).astype(np.uint8))
    assert np.abs(got.astype(int) - pixels).max() <= 1


def test_png_conversion_keeps_pixels(tmp_path, pixels):
    import cv2

    png = dicom_to_png_bytes(write_dicom(tmp_path / "a.dcm", pixels))
    assert np.array_equal(cv2.imdecode(np.frombuffer(png, np.uint8), cv2.IMREAD_UNCHANGED), pixels)


def test_pipeline_decodes_dicom_in_tf_data(tmp_path, pixels):
    import tensorflow as tf

    from cxr_core.data.decode.images import decode_resize_to_uint8_rgb, decode_to_uint8_rgb, image_problem

    path = write_dicom(tmp_path / "m1.dcm", 255 - pixels, photometric="MONOCHROME1")
    assert np.array_equal(decode_to_uint8_rgb(tf.io.read_file(str(path))).numpy()[..., 0], pixels)
    ds = tf.data.Dataset.from_tensor_slices([str(path)]).map(
        lambda p: decode_resize_to_uint8_rgb(tf.io.read_file(p), (32, 32), "nearest"))
    assert next(iter(ds)).shape == (32, 32, 3)
    assert image_problem(str(path)) is None
    bad = tmp_path / "bad.dcm"
    bad.write_bytes(b"\0" * 128 + b"DICM" + b"\x02\x00\x10\x00")
    assert "DICOM" in image_problem(str(bad))


def test_no_pixel_data_is_a_clear_error(tmp_path):
    bad = tmp_path / "sr.dcm"
    bad.write_bytes(b"\0" * 128 + b"DICM")
    with pytest.raises(DicomError, match="sr.dcm"):
        read_dicom_uint8(bad)
