"""The two-step resize (pre-resize, then the main resize) bit-exact against PIL doing the same two steps.

Reference: ``Image.open(p).convert('RGB').resize((224, 224), FILTER).resize((150, 150), NEAREST)``,
i.e. a data set resized to 224x224 once [S4] and then read by Keras' ``load_img(target_size=(150, 150))``
with ``flow_from_directory``'s default ``interpolation='nearest'`` [CN].
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from cxr_core.config.choices import PRE_RESIZE_METHODS
from cxr_core.data.decode.resize import check_pre_resize
from cxr_core.data.decode.images import load_image_array
from cxr_core.data.pipeline import PipelineSpec, build_dataset
from tests.cxr_core.data.sample_tables import one_class_table

FILTERS = {"nearest": Image.Resampling.NEAREST, "bilinear": Image.Resampling.BILINEAR,
           "bicubic": Image.Resampling.BICUBIC, "lanczos": Image.Resampling.LANCZOS,
           "box": Image.Resampling.BOX, "hamming": Image.Resampling.HAMMING}


def _files(root: Path) -> list[Path]:
    return [root / p for p in pd.read_csv(root / "MANIFEST.csv")["path"]]


def _pil_two_step(path: Path, pre: tuple[int, int, str], size: tuple[int, int]) -> np.ndarray:
    with Image.open(path) as img:
        first = img.convert("RGB").resize((pre[1], pre[0]), FILTERS[pre[2]])
    return np.asarray(first.resize((size[1], size[0]), Image.Resampling.NEAREST), dtype=np.float32)


@pytest.mark.parametrize("method", ["bicubic", "bilinear", "nearest"])
@pytest.mark.slow
def test_array_helper_two_step_bit_exact_on_cxr4_mini(cxr4_mini, method):
    pre = (224, 224, method)
    for path in _files(cxr4_mini):
        ours = load_image_array(path, (150, 150), "nearest", pre_resize=pre)
        np.testing.assert_array_equal(ours, _pil_two_step(path, pre, (150, 150)), err_msg=str(path))


@pytest.mark.slow
def test_array_helper_two_step_on_raw_originals_all_filters(cxr4_mini_raw):
    """Full-size gray, RGBA and RGB originals; every filter; a non-square pre-resize."""
    for path in _files(cxr4_mini_raw):
        for method in PRE_RESIZE_METHODS:
            for pre, size in (((224, 224, method), (150, 150)), ((240, 200, method), (150, 120))):
                np.testing.assert_array_equal(load_image_array(path, size, pre_resize=pre),
                                              _pil_two_step(path, pre, size), err_msg=f"{path} {pre}")


def test_build_dataset_two_step_bit_exact(cxr4_mini, cxr4_mini_raw):
    """Through tf.data (graph mode, parallel map): all 192 cxr4-mini images plus the raw originals."""
    paths = _files(cxr4_mini) + _files(cxr4_mini_raw)
    pre = (224, 224, "bicubic")
    spec = PipelineSpec((150, 150), "nearest", "raw255", pre_resize=pre)
    got = np.concatenate([x.numpy() for x, _ in build_dataset(one_class_table(paths), spec, batch_size=32)])
    want = np.stack([_pil_two_step(p, pre, (150, 150)) for p in paths])
    assert got.shape == want.shape == (len(paths), 150, 150, 3)
    np.testing.assert_array_equal(got, want)


def test_pre_resize_changes_nearest_result_and_validation(cxr4_mini_raw):
    """Nearest from the original aliases differently from nearest after a 224 pre-resize [S4] [CN]."""
    path = _files(cxr4_mini_raw)[0]
    direct = load_image_array(path, (150, 150))
    two_step = load_image_array(path, (150, 150), pre_resize=(224, 224, "bicubic"))
    assert np.abs(direct - two_step).mean() > 1.0
    assert check_pre_resize(None) is None
    assert check_pre_resize([224, 224, "bicubic"]) == (224, 224, "bicubic")
    with pytest.raises(ValueError, match="pre_resize method must be one of"):
        check_pre_resize((224, 224, "cubic"))
    with pytest.raises(ValueError, match=r"\(height, width, method\)"):
        check_pre_resize((224, "bicubic"))
    with pytest.raises(ValueError, match="pre_resize method must be one of"):
        PipelineSpec((150, 150), pre_resize=(224, 224, "area"))
