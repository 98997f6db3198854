"""DICOM windows and bit use (issue 17, part 4): a window / VOI LUT not applied and stored values using a small
part of BitsStored are warned about naming the file; ``scaling="voi_lut"`` applies the window as the
DICOM standard defines it (PS3.3 C.11.2.1.2.1, linear function). Pixels: a real cxr4-mini radiograph."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pydicom
import pytest

from cxr_core.data.decode.dicom import read_dicom_uint8
from cxr_core.data.decode.images import verify_images
from cxr_core.inference.model import image_table
from tests.cxr_core.data.source_fixtures import gray, write_dicom
from tests.log_capture import captured_logs


def _film(shared_data: Path) -> np.ndarray:
    return gray(sorted((shared_data / "cxr4-mini" / "normal").iterdir())[0])


def _windowed(path: Path, center: float, width: float) -> Path:
    ds = pydicom.dcmread(path)
    ds.WindowCenter, ds.WindowWidth = center, width
    ds.save_as(path)
    return path


def _standard_window(x: np.ndarray, c: float, w: float) -> np.ndarray:
    """PS3.3 C.11.2.1.2.1 linear window to 0..255."""
    lo_edge, hi_edge = c - 0.5 - (w - 1) / 2, c - 0.5 + (w - 1) / 2
    y = ((x - (c - 0.5)) / (w - 1) + 0.5) * 255.0
    return np.where(x <= lo_edge, 0.0, np.where(x > hi_edge, 255.0, y))


def test_a_window_that_is_not_applied_is_warned_about_naming_the_file(tmp_path, shared_data):
    path = _windowed(write_dicom(tmp_path / "w.dcm", _film(shared_data).astype(np.uint16) * 16, bits_stored=12),
                     1800, 1200)
    with captured_logs(level=30) as lines:
        verify_images(image_table([path], ("a", "b")))
    assert lines == [f"{path.resolve()}: DICOM with a window (centre 1800, width 1200) that is not applied "
                     "(DICOM scaling bits_stored); scaling voi_lut applies it"]


def test_stored_values_using_a_small_part_of_bits_stored_are_warned_about(tmp_path, shared_data):
    film = _film(shared_data)
    path = write_dicom(tmp_path / "dark.dcm", film.astype(np.uint16), bits_stored=16)  # 8-bit data in 16 bits
    with captured_logs(level=30) as lines:
        verify_images(image_table([path], ("a", "b")))
    assert lines == [f"{path.resolve()}: DICOM whose stored values reach {film.max()} of 65535 (BitsStored 16): "
                     "it decodes dark; scaling minmax or voi_lut uses its range"]
    assert read_dicom_uint8(path).max() <= 1  # what it would look like


def test_voi_lut_scaling_applies_the_window_as_the_standard_defines_it(tmp_path, shared_data):
    stored = _film(shared_data).astype(np.uint16) * 16
    path = _windowed(write_dicom(tmp_path / "w.dcm", stored, bits_stored=12), 1800, 1200)
    out = read_dicom_uint8(path, scaling="voi_lut")
    expected = np.rint(_standard_window(stored.astype(np.float64), 1800, 1200))
    assert np.abs(out.astype(int) - expected).max() <= 1
    assert (out == 0).mean() > 0.01 and (out == 255).mean() > 0.01  # the window clips both ends


def test_the_window_warning_is_silent_once_preprocess_dicom_is_voi_lut(tmp_path, shared_data):
    path = _windowed(write_dicom(tmp_path / "w.dcm", _film(shared_data).astype(np.uint16) * 16, bits_stored=12),
                     1800, 1200)
    with captured_logs(level=30) as lines:
        verify_images(image_table([path], ("a", "b")), dicom="voi_lut")
    assert lines == []


@pytest.mark.slow  # the first tf.data pipeline of a process traces for several seconds
def test_preprocess_dicom_voi_lut_applies_the_window_in_the_pipeline(tmp_path, shared_data):
    from cxr_core.data.pipeline import PipelineSpec, build_dataset

    stored = _film(shared_data)[64:128, 64:128].astype(np.uint16) * 16
    path = _windowed(write_dicom(tmp_path / "w.dcm", stored, bits_stored=12), 1800, 1200)
    spec = PipelineSpec(image_size=stored.shape, scaling="raw255", dicom="voi_lut")
    ds = build_dataset(image_table([path], ("a", "b")), spec, batch_size=1, shuffle=False, augment=False)
    x = next(iter(ds))[0].numpy()[0, ..., 0]
    np.testing.assert_array_equal(x, read_dicom_uint8(path, scaling="voi_lut"))
