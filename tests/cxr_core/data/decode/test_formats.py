"""TIFF, PPM/PGM, 1-bit and palette BMP (Keras' file list [CN] [CVR-T]) decode as PIL convert('RGB');
files that cannot be decoded get reasons in plain words."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

from cxr_core.data.decode.extensions import IMAGE_EXTENSIONS
from cxr_core.data.decode.images import (
    decode_problem,
    decode_to_uint8_rgb,
    load_image_array,
    verify_images,
)
from cxr_core.data.pipeline import PipelineSpec, build_dataset
from cxr_core.data.tables.sample_table import SampleTable
from tests.cxr_core.data.sample_tables import one_class_table


def _variants(src: Path, out: Path) -> list[Path]:
    """The same X-ray written as TIFF (RGB, gray, LZW), PPM, PGM, 1-bit BMP, palette BMP, gray BMP."""
    out.mkdir(parents=True, exist_ok=True)
    with Image.open(src) as img:
        rgb = img.convert("RGB")
    gray = rgb.convert("L")
    made = {
        "rgb.tif": (rgb, {}), "gray_lzw.tiff": (gray, {"compression": "tiff_lzw"}),
        "rgb.ppm": (rgb, {}), "gray.ppm": (gray, {}),  # PIL writes mode L as PGM (P5)
        "one_bit.bmp": (gray.convert("1"), {}),
        "palette.bmp": (rgb.convert("P", palette=Image.Palette.ADAPTIVE, colors=200), {}),
        "gray8.bmp": (gray, {}), "rgb24.bmp": (rgb, {}),
    }
    paths = []
    for name, (img, kwargs) in made.items():
        img.save(out / name, **kwargs)
        paths.append(out / name)
    return paths


def _pil(path: Path) -> np.ndarray:
    with Image.open(path) as img:
        return np.asarray(img.convert("RGB"))


def _table(paths) -> SampleTable:
    return one_class_table(paths, sample_id=lambda p: p.name)


def test_keras_extensions_listed():
    assert {".ppm", ".tif", ".tiff", ".bmp", ".png", ".jpg", ".jpeg"} <= set(IMAGE_EXTENSIONS)


def test_pil_formats_bit_identical_eager_graph_and_pipeline(tmp_path, cxr4_mini):
    src = sorted((cxr4_mini / "covid").iterdir())[0]
    paths = _variants(src, tmp_path)
    graph = tf.function(decode_to_uint8_rgb, input_signature=[tf.TensorSpec([], tf.string)])
    for path in paths:
        want = _pil(path)
        data = path.read_bytes()
        assert decode_problem(data) is None, path.name
        np.testing.assert_array_equal(decode_to_uint8_rgb(tf.constant(data)).numpy(), want, err_msg=path.name)
        np.testing.assert_array_equal(graph(tf.constant(data)).numpy(), want, err_msg=path.name)
        with Image.open(path) as img:  # load_img: convert('RGB') then NEAREST to the target size
            ref = np.asarray(img.convert("RGB").resize((150, 150), Image.Resampling.NEAREST), dtype=np.float32)
        np.testing.assert_array_equal(load_image_array(path, (150, 150)), ref, err_msg=path.name)
    spec = PipelineSpec((64, 64), "nearest", "raw255")
    got = np.concatenate([x.numpy() for x, _ in build_dataset(_table(paths), spec, batch_size=3)])
    for path, img in zip(paths, got):
        ref = load_image_array(path, (64, 64))
        np.testing.assert_array_equal(img, ref, err_msg=path.name)


def test_plain_word_reasons(tmp_path, cxr4_mini):
    src = sorted((cxr4_mini / "normal").iterdir())[0]
    png = tmp_path / "x.png"
    Image.open(src).convert("L").save(png)
    jpg = tmp_path / "x.jpg"
    Image.open(src).convert("L").save(jpg, quality=90)
    tif = tmp_path / "x.tif"
    Image.open(src).convert("L").save(tif)
    cases = {
        "truncated PNG": png.read_bytes()[: png.stat().st_size // 2],
        "truncated JPEG": jpg.read_bytes()[: jpg.stat().st_size // 2],
        "truncated TIFF": tif.read_bytes()[: tif.stat().st_size // 2],
        "not an image: text file": b"patient,label\n1,covid\n",
        "not an image: PDF document": b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n",
        "empty file": b"",
    }
    for reason, data in cases.items():
        got = decode_problem(data)
        assert got == reason, (reason, got)
    bad = []
    for i, data in enumerate(cases.values()):
        p = tmp_path / f"bad{i}.png"
        p.write_bytes(data)
        bad.append(p)
    with pytest.raises(ValueError) as info:
        verify_images(_table(bad))
    text = str(info.value)
    assert "truncated PNG" in text and "not an image: text file" in text
    assert "function_node" not in text and "[Op:" not in text
    with pytest.raises(ValueError, match=r"bad0.png: cannot be decoded as an image \(truncated PNG\)"):
        load_image_array(bad[0], (32, 32))
