"""cxr_core.explain.overlays: Grad-CAM overlay PNGs of real X-ray files (random-weight CoroNet, 71x71)."""

from __future__ import annotations

import keras
import pytest

from cxr_core.explain import overlays as E

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def coronet():
    from coronet_tf import build_coronet

    keras.utils.set_random_seed(0)
    return build_coronet(4, (71, 71, 3))


def test_explain_images(tmp_path, coronet, cxr4_mini):
    paths = sorted((cxr4_mini / "covid").glob("*.png"))[:2]
    names = ["covid", "normal", "pneumonia_bac", "pneumonia_vir"]
    pre = {"image_size": [71, 71], "resize_method": "nearest", "scaling": "rescale01"}
    out = E.explain_images("coronet", coronet, paths, tmp_path / "png", pre, class_names=names,
                           target_class="normal")
    assert [p.name for p in out] == [f"{p.stem}_gradcam.png" for p in paths]
    for p in out:
        assert p.read_bytes()[:8] == PNG_MAGIC and p.stat().st_size > 10_000
    with pytest.raises(ValueError, match="expected an index or one of"):
        E.explain_images("coronet", coronet, paths, tmp_path / "x", pre, class_names=names,
                         target_class="cat")
