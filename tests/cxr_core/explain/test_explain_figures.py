"""Grad-CAM figures: flat maps say so, branch panels are named by the family with the map's size."""

from __future__ import annotations

import numpy as np

from cxr_core.explain import overlays as E
from cxr_core.explain.gradcam import Explanation
from tests.figure_capture import saved_figures


def test_flat_maps_are_named_on_the_figure(tmp_path, monkeypatch):
    assert "flat map: no gradient signal" in E.flat_map_text(np.zeros((4, 4)))
    assert "the same value everywhere" in E.flat_map_text(np.ones((4, 4)))
    assert E.flat_map_text(np.eye(4)) is None
    import cxr_core.report.figures as F

    drawn = saved_figures(monkeypatch, F, write=False)
    E.plot_overlay(np.full((8, 8, 3), 100.0), [("zero", np.zeros((8, 8))), ("real", np.eye(8))], tmp_path / "x.png")
    texts = [[t.get_text() for t in ax.texts] for ax in drawn[0].axes if ax.get_title() in ("zero", "real")]
    assert any("flat map: no gradient signal" in t for t in texts[0]) and not texts[1]


def test_branch_titles_come_from_the_family_with_the_feature_map_size():
    import keras

    inputs = keras.Input((16, 16, 3))
    tap = keras.layers.Conv2D(2, 3, strides=2, padding="same", name="tap")(inputs)
    model = keras.Model(inputs, keras.layers.GlobalAveragePooling2D()(tap))
    e = Explanation("branch 3", "tap", np.zeros((1, 16, 16)), np.zeros((1, 2)), np.zeros(1, int))
    assert E.branch_title(model, e, {"tap": "branch 3: ResNet50 stage 3"}) == "branch 3: ResNet50 stage 3 (8x8)"
    assert E.branch_title(model, e, {}) == "branch 3: tap (8x8)"


def test_cvrnet_names_each_tapped_layer_of_both_resnet_flavours():
    from cvrnet_tf import BRANCH_TITLES, FAMILY
    from cvrnet_tf.layer_names import tap_layer_names

    for flavour in ("legacy", "keras"):
        taps = tap_layer_names(flavour)
        assert BRANCH_TITLES[taps["3"]] == "branch 3: ResNet50 stage 3"  # docs/PAPERS.md §2.1, 28x28 at 224
        assert BRANCH_TITLES[taps["5"]] == "branch 5: Xception block 13"
    assert FAMILY.model.explain_branches == BRANCH_TITLES
