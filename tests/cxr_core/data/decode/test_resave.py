"""``preprocess.jpeg_resave_quality``: JPEGs read as PIL's ``Image.open(p).save(dst)`` leaves them, compared
with files actually re-saved by PIL and read by keras-preprocessing's ``load_img``, on the real ct2-mini CT
images (COVID-CT: 9 JPEGs, all NonCOVID, and PNGs)."""

from __future__ import annotations

import numpy as np
import pytest
from keras_preprocessing.image import load_img
from PIL import Image

from cxr_core.data.decode.resave import check_resave_quality, resave_jpeg_bytes
from cxr_core.data.pipeline import PipelineSpec, build_dataset
from tests.cxr_core.data.sample_tables import one_class_table


def test_pipeline_reads_jpegs_as_pil_resaved_them(ct2_mini, tmp_path):
    paths = sorted(ct2_mini.glob("*/*.*"))
    paths = [p for p in paths if p.suffix.lower() == ".jpg"] + [p for p in paths if p.suffix.lower() == ".png"][::6]
    jpegs = [p for p in paths if p.suffix.lower() == ".jpg"]
    assert len(jpegs) >= 5 and len(paths) > len(jpegs)
    resaved = []
    for p in paths:  # the authors' preparation [CVR-P3]: Image.open(src).save(dst), same file name
        dst = tmp_path / p.parent.name / p.name
        dst.parent.mkdir(exist_ok=True)
        Image.open(p).save(dst)
        resaved.append(dst)
    spec = PipelineSpec((96, 96), "nearest", "raw255", jpeg_resave_quality=75)
    got = np.concatenate([x.numpy() for x, _ in build_dataset(one_class_table(paths), spec, batch_size=64)])
    want = np.stack([np.asarray(load_img(str(p), target_size=(96, 96), interpolation="nearest"), np.float32)
                     for p in resaved])
    np.testing.assert_array_equal(got, want)
    plain = np.stack([np.asarray(load_img(str(p), target_size=(96, 96), interpolation="nearest"), np.float32)
                      for p in paths])
    is_jpeg = np.array([p.suffix.lower() == ".jpg" for p in paths])
    np.testing.assert_array_equal(plain[~is_jpeg], want[~is_jpeg])  # PNGs: lossless, unchanged
    moved = plain[is_jpeg] != want[is_jpeg]
    assert moved.mean() > 0.3  # most JPEG pixels move (measured: see docs/FIDELITY.md)
    assert 0.5 < np.abs(plain[is_jpeg] - want[is_jpeg]).mean() < 10


def test_resave_bytes_and_quality_check(ct2_mini):
    jpeg = sorted(ct2_mini.glob("*/*.jpg"))[0]
    png = sorted(ct2_mini.glob("*/*.png"))[0]
    data = png.read_bytes()
    assert resave_jpeg_bytes(data, str(png)) is data
    out = resave_jpeg_bytes(jpeg.read_bytes(), str(jpeg))
    assert out[:3] == b"\xff\xd8\xff" and out != jpeg.read_bytes()
    assert check_resave_quality(None) is None and check_resave_quality(75) == 75
    for bad in (0, 96, 7.5, True, "75"):
        with pytest.raises(ValueError, match="jpeg_resave_quality"):
            check_resave_quality(bad)
    with pytest.raises(OSError, match="not-an-image.jpg"):
        resave_jpeg_bytes(b"not a jpeg", "not-an-image.jpg")
