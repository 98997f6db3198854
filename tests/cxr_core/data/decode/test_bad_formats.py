"""Bad input, issue 17, part 4: 16-bit TIFF, animated GIF, WebP, TIFF above PIL's pixel limit, links in
predict's folders. Images are real cxr4-mini radiographs re-saved in tmp_path."""

from __future__ import annotations

import io
import os
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

from cxr_core.data.decode.images import decode_problem, decode_to_uint8_rgb, verify_images
from cxr_core.inference.model import folder_files, image_table
from tests.log_capture import captured_logs


def _radiograph(shared_data: Path) -> np.ndarray:
    path = sorted((shared_data / "cxr4-mini" / "normal").iterdir())[0]
    return np.asarray(Image.open(path).convert("L"))


def _save(array: np.ndarray, fmt: str) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(array).save(buf, format=fmt)
    return buf.getvalue()


def _decode(data: bytes, mode: str) -> np.ndarray:
    return decode_to_uint8_rgb(tf.constant(data), png16=mode).numpy()


# ------------------------------------------------------------------ 16-bit TIFF = 16-bit PNG
def test_a_full_range_16_bit_tiff_decodes_to_the_radiograph_not_clipped_white(shared_data):
    gray8 = _radiograph(shared_data)
    tiff = _save(gray8.astype(np.uint16) * 257, "TIFF")  # the 8-bit film in 16 bits, v * 257
    assert Image.open(io.BytesIO(tiff)).mode == "I;16"
    clipped = np.asarray(Image.open(io.BytesIO(tiff)).convert("RGB"))  # what Keras/PIL give
    assert (clipped == 255).mean() > 0.9
    out = _decode(tiff, "scale257")
    np.testing.assert_array_equal(out, np.repeat(gray8[..., None], 3, axis=-1))


@pytest.mark.parametrize("mode", ["scale257", "sbit", "minmax"])
def test_a_12_bit_tiff_decodes_as_the_same_12_bit_png_in_every_png16_mode(shared_data, mode):
    data12 = (_radiograph(shared_data).astype(np.uint16) * 16)  # 0..4080: 12-bit detector data
    png, tiff = _save(data12, "PNG"), _save(data12, "TIFF")
    assert png[24] == 16
    np.testing.assert_array_equal(_decode(tiff, mode), _decode(png, mode))


def test_low_range_warning_names_the_tiff_and_is_silent_once_the_user_chose_sbit(tmp_path, shared_data):
    data12 = _radiograph(shared_data).astype(np.uint16) * 16
    (tmp_path / "a.tif").write_bytes(_save(data12, "TIFF"))
    (tmp_path / "b.png").write_bytes(_save(data12, "PNG"))
    table = image_table([tmp_path / "a.tif", tmp_path / "b.png"], ("x", "y"))
    with captured_logs(level=20) as lines:
        verify_images(table)
    warnings = [x for x in lines if "decodes nearly black" in x]
    assert len(warnings) == 2 and "a.tif: 16-bit TIFF whose maximum is 4080" in warnings[0]
    with captured_logs(level=20) as lines:
        verify_images(table, png16="sbit")
    assert not [x for x in lines if "nearly black" in x]
    assert any("2 low-range 16-bit file(s) decoded with preprocess.png16: sbit" in x for x in lines)


# ------------------------------------------------------------------ GIF, WebP, pixel limit
def test_an_animated_gif_is_warned_about_with_its_frame_count(tmp_path, shared_data):
    gray8 = _radiograph(shared_data)
    frames = [Image.fromarray(gray8), Image.fromarray(255 - gray8), Image.fromarray(gray8[::-1])]
    path = tmp_path / "cine.gif"
    frames[0].save(path, save_all=True, append_images=frames[1:])
    with captured_logs(level=30) as lines:
        verify_images(image_table([path], ("x", "y")))
    assert lines == [f"{path.resolve()}: animated GIF: 3 frames, the first is used"]


def test_gif_in_a_folder_is_predicted_and_webp_named_with_the_real_reason(tmp_path, shared_data):
    gray8 = _radiograph(shared_data)
    Image.fromarray(gray8).save(tmp_path / "a.gif")
    Image.fromarray(gray8).save(tmp_path / "b.webp", format="WEBP")
    images, left_out = folder_files([tmp_path])
    assert [p.name for p in images] == ["a.gif"]
    assert [(p.name, why) for p, why in left_out] == [("b.webp", "WebP: not supported, convert to PNG")]
    assert decode_problem((tmp_path / "b.webp").read_bytes()) == "WebP: not supported, convert to PNG"
    gif = _decode((tmp_path / "a.gif").read_bytes(), "scale257")  # predicted: decoded as the radiograph
    np.testing.assert_array_equal(gif[..., 0], gray8)


def test_a_tiff_above_pils_pixel_limit_is_not_called_corrupt(shared_data, monkeypatch):
    gray8 = _radiograph(shared_data)
    tiff = _save(gray8, "TIFF")
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 1000)  # a radiograph has far more pixels
    why = decode_problem(tiff)
    assert "corrupt" not in why
    assert f"{gray8.size} pixels, above twice PIL's pixel limit (PIL.Image.MAX_IMAGE_PIXELS = 1000)" in why


# ------------------------------------------------------------------ links in predict's folders
def test_folder_links_are_listed_as_skipped_with_the_reason(tmp_path, shared_data):
    top = tmp_path / "images"
    (top / "sub").mkdir(parents=True)
    other = tmp_path / "elsewhere"
    other.mkdir()
    Image.fromarray(_radiograph(shared_data)).save(top / "a.png")
    Image.fromarray(_radiograph(shared_data)).save(other / "b.png")
    os.symlink(other, top / "linked")               # a folder elsewhere
    os.symlink(top, top / "sub" / "up")             # back into the folder: a loop
    os.symlink(top / "gone.png", top / "dangling.png")
    os.symlink(top / "self.png", top / "self.png")  # a link to itself
    os.symlink(top / "a.png", top / "alias.png")    # a link to a file is read
    images, left_out = folder_files([top])
    assert [p.name for p in images] == ["a.png", "alias.png"]
    reasons = {p.name: why for p, why in left_out}
    assert sorted(reasons) == ["dangling.png", "linked", "self.png", "up"]
    assert reasons["dangling.png"].startswith("dangling symbolic link (target ")
    assert reasons["self.png"].startswith("symbolic link loop")
    assert reasons["linked"].startswith("symbolic link to a folder not followed") and str(other) in reasons["linked"]
    assert reasons["up"].endswith("(a loop)")


def test_evaluate_class_folders_list_dangling_and_looping_links_as_skipped(tmp_path, shared_data):
    from cxr_core.data.tables.readers import read_class_folders

    for label in ("a", "b"):
        (tmp_path / label).mkdir()
        Image.fromarray(_radiograph(shared_data)).save(tmp_path / label / "x.png")
    os.symlink(tmp_path / "a" / "gone.png", tmp_path / "a" / "dangling.png")
    os.symlink(tmp_path / "b" / "self.png", tmp_path / "b" / "self.png")
    os.symlink(tmp_path / "a", tmp_path / "b" / "folder_link")
    table = read_class_folders(tmp_path, ("a", "b"), on_error="skip")
    assert sorted(Path(p).name for p in table.frame["path"]) == ["x.png", "x.png"]
    reasons = {Path(p).name: why for p, why in zip(table.skipped["path"], table.skipped["reason"])}
    assert reasons["dangling.png"].startswith("symbolic link that leads nowhere")
    assert reasons["self.png"].startswith("symbolic link that leads nowhere")
    assert reasons["folder_link"].startswith("symbolic link to a folder not followed")
