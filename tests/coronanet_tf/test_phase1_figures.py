"""CORONA-Net phase 1 figures: the reconstruction-loss curve and the input-versus-reconstruction panel."""

from __future__ import annotations

import numpy as np
import pandas as pd

from coronanet_tf import phase1_figures as P
from cxr_core.data.decode.images import IMAGENET_MEAN, IMAGENET_STD
from tests.figure_capture import saved_figures


def test_to_pixels_inverts_the_imagenet_normalisation():
    pixels = np.random.default_rng(0).uniform(0, 1, (2, 3, 3))
    normalised = (pixels - np.array(IMAGENET_MEAN)) / np.array(IMAGENET_STD)
    np.testing.assert_allclose(P.to_pixels(normalised), pixels, atol=1e-12)


def test_phase1_figures_are_written_with_their_own_loss_curve(tmp_path, monkeypatch):
    import cxr_core.report.figures as F

    drawn = saved_figures(monkeypatch, F, P)
    pd.DataFrame({"epoch": [0, 1], "loss": [1.0, 0.7]}).to_csv(tmp_path / "training_log.csv", index=False)
    x = np.random.default_rng(1).normal(size=(6, 16, 16, 3)).astype(np.float32)
    written = P.write_phase1_figures(tmp_path, tmp_path / "training_log.csv", np.tanh, x)
    assert [p.name for p in written] == ["curves.png", "reconstruction.png"]
    assert all(p.read_bytes()[:4] == b"\x89PNG" for p in written)
    assert [ax.get_title() for ax in drawn[0].axes] == ["reconstruction loss (MSE)"]
    titles = [ax.get_title() for ax in drawn[1].axes if ax.get_title()]
    assert len(titles) == 3 * P.PANEL_IMAGES
    mse = float(np.mean((np.tanh(x[0]) - x[0]) ** 2))
    assert f"MSE {mse:.3f}" in titles[1]
