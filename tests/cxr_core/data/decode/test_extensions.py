"""cxr_core.data.decode.extensions: Keras' list is Keras' own; every reader lists what we decode."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from cxr_core.data.decode.extensions import IMAGE_EXTENSIONS, KERAS_IMAGE_EXTENSIONS, is_image_name
from tests.cxr_core.data.source_fixtures import gray, write_dicom


def test_keras_list_is_keras_preprocessings_white_list():
    from keras_preprocessing.image import DirectoryIterator

    assert set(KERAS_IMAGE_EXTENSIONS) == {"." + f for f in DirectoryIterator.white_list_formats}


@pytest.fixture
def one_of_each(tmp_path, shared_data):
    """A class folder with one real X-ray (cxr4-mini) per extension we decode, plus two non-images."""
    pixels = gray(sorted((shared_data / "cxr4-mini" / "normal").iterdir())[0])[:64, :48]
    folder = tmp_path / "data" / "normal"
    folder.mkdir(parents=True)
    formats = {".png": "PNG", ".jpg": "JPEG", ".jpeg": "JPEG", ".bmp": "BMP", ".ppm": "PPM", ".tif": "TIFF",
               ".tiff": "TIFF", ".gif": "GIF"}
    for ext in IMAGE_EXTENSIONS:
        path = folder / f"x{ext.upper() if ext == '.gif' else ext}"
        if ext in formats:
            Image.fromarray(pixels).save(path, format=formats[ext])
        else:
            write_dicom(path, pixels)
    (folder / "notes.txt").write_text("not an image")
    (folder / "scan_png").write_bytes(b"")
    return tmp_path / "data", pixels


def test_every_extension_we_list_decodes(one_of_each):
    from cxr_core.data.decode.images import decode_to_uint8_rgb

    root, pixels = one_of_each
    for path in sorted((root / "normal").iterdir()):
        if not is_image_name(path.name):
            continue
        rgb = decode_to_uint8_rgb(path.read_bytes()).numpy()
        assert rgb.shape == (64, 48, 3), path.name
        if path.suffix.lower() not in (".jpg", ".jpeg"):  # lossless formats give the pixels back
            assert np.array_equal(rgb[..., 0], pixels), path.name


def test_every_reader_lists_the_same_files(one_of_each):
    from cvrnet_tf.tasks import _image_files
    from cxr_core.data.build.layout import is_image_file
    from cxr_core.data.tables.readers import read_class_folders
    from cxr_core.inference.model import folder_files

    root, _ = one_of_each
    expected = sorted(p.name for p in (root / "normal").iterdir() if p.name not in ("notes.txt", "scan_png"))
    assert len(expected) == len(IMAGE_EXTENSIONS)
    table = read_class_folders(root)
    assert sorted(p.rsplit("/", 1)[-1] for p in table.frame["path"]) == expected
    assert sorted(table.skipped["path"].map(lambda p: p.rsplit("/", 1)[-1])) == ["notes.txt", "scan_png"]
    images, left_out = folder_files([root])
    assert sorted(p.name for p in images) == expected and len(left_out) == 2
    assert sorted(p.name for p in (root / "normal").iterdir() if is_image_file(p)) == expected
    assert sorted(p.name for p in _image_files(root / "normal")) == expected
