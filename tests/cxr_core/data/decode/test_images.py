"""Decoding, resizing and scaling against PIL / Keras' load_img on real images."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pandas as pd
import pytest
import tensorflow as tf
from keras_preprocessing.image import load_img
from PIL import Image

from cxr_core.data.decode.images import (
    IMAGENET_MEAN,
    IMAGENET_STD,
    decode_to_uint8_rgb,
    decode_to_uint8_rgb_fast,
    load_image_array,
    scale_pixels,
    verify_images,
)
from cxr_core.data.decode.resize import resize_to_uint8, resize_uint8
from cxr_core.data.decode.resize import _pil_nearest_indices
from cxr_core.data.tables.sample_table import SampleTable
from tests.cxr_core.data.sample_tables import one_class_table

CLASSES = ("covid", "normal", "pneumonia_bacterial", "pneumonia_viral")


def _files(root: Path) -> list[Path]:
    manifest = pd.read_csv(root / "MANIFEST.csv")
    return [root / p for p in manifest["path"]]


def _decode(path: Path) -> np.ndarray:
    return decode_to_uint8_rgb(tf.constant(path.read_bytes())).numpy()


def _table(paths: list[Path]) -> SampleTable:
    return one_class_table(paths, sample_id=lambda p: p.name, label="covid", class_names=CLASSES)


# ------------------------------------------------------------------------------------ decoding
def test_decode_equals_pil_convert_rgb_on_raw_originals(cxr4_mini_raw):
    """Full-size originals: gray PNG, RGBA PNG, RGB PNG, gray and RGB JPEGs -> PIL convert('RGB')."""
    files = _files(cxr4_mini_raw)
    modes = set()
    for path in files:
        ref_img = Image.open(path)
        modes.add((path.suffix.lower(), ref_img.mode))
        ref = np.asarray(ref_img.convert("RGB"))
        ours = _decode(path)
        assert ours.dtype == np.uint8 and ours.shape == ref.shape, path
        np.testing.assert_array_equal(ours, ref, err_msg=str(path))
    assert {("png", "RGBA"), ("png", "L")} <= {(s.strip("."), m) for s, m in modes}


def test_decode_equals_pil_on_mini_sample(cxr4_mini):
    for path in _files(cxr4_mini)[::6]:
        np.testing.assert_array_equal(_decode(path), np.asarray(Image.open(path).convert("RGB")), err_msg=str(path))


def test_decode_16bit_png_scales_to_8bit(tmp_path):
    rng = np.random.default_rng(0)
    gray = rng.integers(0, 65536, size=(37, 53), dtype=np.uint16)
    gray[0, :4] = [0, 65535, 257 * 100, 257 * 100 + 128]
    bgr = rng.integers(0, 65536, size=(20, 31, 3), dtype=np.uint16)
    bgra = rng.integers(0, 65536, size=(9, 11, 4), dtype=np.uint16)
    expected = lambda v: ((v.astype(np.int64) + 128) // 257).astype(np.uint8)  # noqa: E731
    for name, arr, rgb in (
        ("gray16.png", gray, np.repeat(gray[..., None], 3, axis=-1)),
        ("bgr16.png", bgr, bgr[..., ::-1]),  # cv2 writes BGR(A); the file holds RGB(A)
        ("bgra16.png", bgra, bgra[..., 2::-1]),
    ):
        path = tmp_path / name
        assert cv2.imwrite(str(path), arr)
        assert path.read_bytes()[24] == 16  # really a 16-bit PNG
        ours = _decode(path)
        np.testing.assert_array_equal(ours, expected(rgb), err_msg=name)
    ours = _decode(tmp_path / "gray16.png")
    assert list(ours[0, :4, 0]) == [0, 255, 100, 100]


def test_decode_bmp_and_8bit_png_variants(tmp_path):
    rng = np.random.default_rng(1)
    rgb = rng.integers(0, 256, size=(13, 17, 3), dtype=np.uint8)
    gray = rng.integers(0, 256, size=(13, 17), dtype=np.uint8)
    Image.fromarray(rgb).save(tmp_path / "rgb.bmp")
    Image.fromarray(gray).convert("LA").save(tmp_path / "la.png")
    Image.fromarray(rgb).convert("P", palette=Image.Palette.ADAPTIVE).save(tmp_path / "p.png")
    for name in ("rgb.bmp", "la.png", "p.png"):
        path = tmp_path / name
        np.testing.assert_array_equal(_decode(path), np.asarray(Image.open(path).convert("RGB")), err_msg=name)


def test_decode_is_graph_safe(cxr4_mini):
    path = _files(cxr4_mini)[0]
    fn = tf.function(lambda c: decode_to_uint8_rgb(c), input_signature=[tf.TensorSpec([], tf.string)])
    np.testing.assert_array_equal(fn(tf.constant(path.read_bytes())).numpy(), _decode(path))


# ------------------------------------------------------------------------------------ resizing
def test_pil_nearest_index_accumulation_matches_pil_loop():
    """PIL's ImagingScaleAffine: xo = s/2; idx = int(xo); xo += s (double). Exact, incl. integer hits."""
    for n_out in (150, 224, 331):
        for n_in in list(range(1, 1200, 7)) + [1024, 2048, 2394, 1969, n_out * 5]:
            scale = n_in / n_out
            xo, ref = scale * 0.5, []
            for _ in range(n_out):
                ref.append(min(int(xo), n_in - 1))
                xo += scale
            np.testing.assert_array_equal(_pil_nearest_indices(tf.constant(n_in), n_out).numpy(), ref,
                                          err_msg=f"{n_in}->{n_out}")


@pytest.mark.parametrize("size", [(150, 150), (224, 224)])
def test_nearest_equals_keras_load_img_exactly(cxr4_mini, size):
    """Every cxr4-mini image: decode + our nearest == keras_preprocessing load_img(..., 'nearest')."""
    files = _files(cxr4_mini)
    for path in files:
        ref = np.asarray(load_img(str(path), target_size=size, interpolation="nearest"))
        ours = resize_to_uint8(tf.constant(_decode(path)), size, "nearest").numpy()
        np.testing.assert_array_equal(ours, ref, err_msg=str(path))


def test_nearest_exact_on_large_raw_and_non_square(cxr4_mini_raw):
    for path in _files(cxr4_mini_raw):
        ref = np.asarray(load_img(str(path), target_size=(299, 181), interpolation="nearest"))
        ours = resize_to_uint8(tf.constant(_decode(path)), (299, 181), "nearest").numpy()
        np.testing.assert_array_equal(ours, ref, err_msg=str(path))


def test_bilinear_close_to_pil_bilinear(cxr4_mini):
    """Measured (192 images -> 150x150): mean |diff| 0.11 levels, max 1, ~11% of values off by one.

    PIL's BILINEAR resize is antialiased (filter widened by the scale) in fixed point, rounding to
    uint8 between its two passes; ours is TF's antialiased bilinear in float, rounded once.
    """
    diffs = []
    for path in _files(cxr4_mini):
        img = _decode(path)
        ref = np.asarray(Image.fromarray(img).resize((150, 150), Image.BILINEAR)).astype(int)
        ours = resize_to_uint8(tf.constant(img), (150, 150), "bilinear").numpy().astype(int)
        diffs.append(np.abs(ours - ref))
    d = np.stack(diffs)
    assert d.max() <= 1
    assert d.mean() < 0.15
    assert (d > 0).mean() < 0.15


def _torchvision_resize_center_crop(img: np.ndarray, s: int) -> np.ndarray:
    """torchvision Resize(s) + CenterCrop(s) on a PIL image, written out (torchvision is unavailable)."""
    h, w = img.shape[:2]
    if w <= h:
        new_w, new_h = s, int(s * h / w)
    else:
        new_h, new_w = s, int(s * w / h)
    resized = np.asarray(Image.fromarray(img).resize((new_w, new_h), Image.BILINEAR))
    top = int(round((new_h - s) / 2.0))
    left = int(round((new_w - s) / 2.0))
    return resized[top:top + s, left:left + s]


def test_shorter_side_center_crop_matches_torchvision_semantics(cxr4_mini, cxr4_mini_raw):
    paths = _files(cxr4_mini)[::8] + _files(cxr4_mini_raw)[:2]
    diffs = []
    for path in paths:
        img = _decode(path)
        ref = _torchvision_resize_center_crop(img, 224).astype(int)
        ours = resize_to_uint8(tf.constant(img), (224, 224), "shorter_side_center_crop").numpy().astype(int)
        assert ours.shape == (224, 224, 3)
        diffs.append(np.abs(ours - ref))
    d = np.stack(diffs)
    assert d.max() <= 1 and d.mean() < 0.2, (d.mean(), d.max())
    # crop offsets use round-half-to-even like Python's round: a ramp shows any off-by-one offset
    ramp = np.tile(np.arange(0, 255, dtype=np.uint8)[None, :], (100, 1))  # 100 x 255 -> 224 x 571
    ramp = np.repeat(ramp[..., None], 3, axis=-1)
    ours = resize_to_uint8(tf.constant(ramp), (50, 50), "shorter_side_center_crop").numpy().astype(int)
    ref = _torchvision_resize_center_crop(ramp, 50).astype(int)
    assert np.abs(ours - ref).max() <= 1
    with pytest.raises(ValueError, match="square"):
        resize_to_uint8(tf.constant(ramp), (50, 60), "shorter_side_center_crop")


def test_area_and_unknown_method():
    rng = np.random.default_rng(2)
    img = rng.integers(0, 256, size=(300, 200, 3), dtype=np.uint8)
    ours = resize_uint8(tf.constant(img), (150, 100), "area").numpy()
    ref = img.reshape(150, 2, 100, 2, 3).astype(np.float64).mean(axis=(1, 3))
    assert ours.dtype == np.float32
    assert np.abs(ours - np.round(ref)).max() <= 1 and np.abs(ours - ref).max() <= 1
    with pytest.raises(ValueError, match="unknown resize method 'cubic'"):
        resize_uint8(tf.constant(img), (10, 10), "cubic")


def test_fast_jpeg_decode_is_reduced_and_close(cxr4_mini_raw):
    jpegs = [p for p in _files(cxr4_mini_raw) if p.suffix.lower() in (".jpg", ".jpeg")]
    path = jpegs[0]
    data = tf.constant(path.read_bytes())
    full = decode_to_uint8_rgb(data).numpy()
    fast = decode_to_uint8_rgb_fast(data, (150, 150)).numpy()
    assert fast.shape[0] >= 150 and fast.shape[1] >= 150
    assert fast.shape[0] < full.shape[0] / 4  # decoded at 1/8 scale
    a = resize_uint8(tf.constant(full), (150, 150), "area").numpy()
    b = resize_uint8(tf.constant(fast), (150, 150), "area").numpy()
    assert np.abs(a - b).mean() < 3.0
    png = tf.constant(_files(cxr4_mini_raw)[0].read_bytes())
    assert decode_to_uint8_rgb_fast(png, (150, 150)).shape[-1] == 3


# ------------------------------------------------------------------------------------ scaling
def test_scale_pixels():
    x = tf.constant([[[0.0, 127.5, 255.0]]])
    np.testing.assert_allclose(scale_pixels(x, "rescale01").numpy(), [[[0, 0.5, 1]]], atol=1e-7)
    np.testing.assert_allclose(scale_pixels(x, "minus1_1").numpy(), [[[-1, 0, 1]]], atol=1e-7)
    np.testing.assert_allclose(scale_pixels(x, "raw255").numpy(), x.numpy())
    expected = (np.array([0.0, 127.5, 255.0]) / 255 - np.array(IMAGENET_MEAN)) / np.array(IMAGENET_STD)
    np.testing.assert_allclose(scale_pixels(x, "imagenet").numpy()[0, 0], expected, rtol=1e-6)
    with pytest.raises(ValueError, match="unknown scaling"):
        scale_pixels(x, "zscore")


# ------------------------------------------------------------------------------------ checks
def test_verify_images_raise_and_skip(tmp_path, cxr4_mini):
    good = _files(cxr4_mini)[:3]
    jpeg = next(p for p in _files(cxr4_mini) if p.suffix == ".jpeg")
    (tmp_path / "truncated.jpeg").write_bytes(jpeg.read_bytes()[: len(jpeg.read_bytes()) // 2])
    (tmp_path / "empty.png").write_bytes(b"")
    (tmp_path / "text.png").write_text("not an image")
    png = next(p for p in _files(cxr4_mini) if p.suffix == ".png")
    (tmp_path / "corrupt.png").write_bytes(png.read_bytes()[:200])
    bad = [tmp_path / n for n in ("truncated.jpeg", "empty.png", "text.png", "corrupt.png", "missing.jpg")]
    table = _table(good + bad)

    clean = _table(good)
    checked = verify_images(clean)
    assert list(checked.frame["path"]) == list(clean.frame["path"]) and len(checked.skipped) == 0, (
        "good files: every row kept, in order, nothing skipped")
    with pytest.raises(ValueError) as info:
        verify_images(table)
    for p in bad:
        assert str(p) in str(info.value)

    kept = verify_images(table, on_error="skip")
    assert list(kept.frame["path"]) == [str(p) for p in good]
    assert list(kept.skipped["path"]) == [str(p) for p in bad]
    reasons = dict(zip(kept.skipped["path"], kept.skipped["reason"]))
    assert reasons[str(tmp_path / "empty.png")] == "empty file"
    assert reasons[str(tmp_path / "text.png")] == "not an image: text file"
    assert "cannot read" in reasons[str(tmp_path / "missing.jpg")]
    assert reasons[str(tmp_path / "truncated.jpeg")] == "truncated JPEG"
    assert reasons[str(tmp_path / "corrupt.png")] == "truncated PNG"
    with pytest.raises(ValueError, match="on_error"):
        verify_images(table, on_error="ignore")


def test_load_image_array_equals_keras(cxr4_mini, tmp_path):
    path = _files(cxr4_mini)[5]
    arr = load_image_array(path, (150, 150), "nearest")
    assert arr.dtype == np.float32
    np.testing.assert_array_equal(arr, np.asarray(load_img(str(path), target_size=(150, 150)), dtype=np.float32))
    (tmp_path / "x.png").write_text("nope")
    with pytest.raises(ValueError, match="x.png"):
        load_image_array(tmp_path / "x.png", (10, 10))


@pytest.mark.parametrize("method,size", [("nearest", (150, 150)), ("bilinear", (64, 80)),
                                         ("shorter_side_center_crop", (96, 96))])
def test_decode_resize_equals_decode_then_resize(cxr4_mini, cxr4_mini_raw, method, size):
    """The pipeline's fused decode+resize (gray kept as one channel until the end) changes no value."""
    from cxr_core.data.decode.images import decode_resize_to_uint8_rgb

    paths = _files(cxr4_mini)[::6] + _files(cxr4_mini_raw)
    fused = tf.function(lambda c: decode_resize_to_uint8_rgb(c, size, method),
                        input_signature=[tf.TensorSpec([], tf.string)])
    for path in paths:
        data = tf.constant(path.read_bytes())
        expected = resize_to_uint8(decode_to_uint8_rgb(data), size, method).numpy()
        np.testing.assert_array_equal(fused(data).numpy(), expected, err_msg=str(path))


def test_nearest_indices_are_exact_inside_graphs():
    """Grappler turns x / const into x * (1 / const) in graphs; the PIL index scale must not change."""
    from cxr_core.data.decode.resize import _pil_nearest_indices

    graph = tf.function(lambda n: _pil_nearest_indices(n, 150))
    for n_in in (400, 421, 512, 1000, 1969, 2394):
        xo, expected = (n_in / 150) / 2, []
        for _ in range(150):
            expected.append(min(int(xo), n_in - 1))
            xo += n_in / 150
        np.testing.assert_array_equal(graph(tf.constant(n_in)).numpy(), expected, err_msg=str(n_in))
