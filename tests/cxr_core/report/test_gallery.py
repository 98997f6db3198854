"""The prediction gallery (CoroNet Figure 8 [S4], CVR-Net's misclassified images [CVR-T]) on real cxr4-mini
images: the choice checked against a direct NumPy selection, the figure written and looked at."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from cxr_core.report.gallery import gallery_choice, plot_prediction_gallery


def test_gallery_choice_and_figure(cxr4_mini, tmp_path):
    manifest = pd.read_csv(cxr4_mini / "MANIFEST.csv")
    names = sorted(manifest["class"].unique())
    y = manifest["class"].map({n: i for i, n in enumerate(names)}).to_numpy()
    rng = np.random.default_rng(0)
    logits = rng.normal(size=(len(y), len(names))) + 1.2 * np.eye(len(names))[y]
    p = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    paths = [str(cxr4_mini / q) for q in manifest["path"]]
    choice = plot_prediction_gallery(paths, y, p, names, tmp_path / "gallery.png", per_kind=3)
    assert choice == gallery_choice(y, p, len(names), 3)
    pred, conf = p.argmax(axis=1), p.max(axis=1)
    for c in range(len(names)):
        for kind, mask in (("correct", (y == c) & (pred == c)), ("wrong", (y == c) & (pred != c))):
            rows = np.flatnonzero(mask)
            want = rows[np.argsort(-conf[rows], kind="stable")][:3].tolist()
            assert choice[c][kind] == want and all(y[r] == c for r in want)
            assert all((pred[r] == c) == (kind == "correct") for r in want)
    assert (tmp_path / "gallery.png").stat().st_size > 20_000
    with pytest.raises(ValueError, match="paths: 2 files"):
        plot_prediction_gallery(paths[:2], y, p, names, tmp_path / "bad.png")
