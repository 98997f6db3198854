"""Shortcut probes on a synthetic set with a planted shortcut (a corner mark per class) and on one without."""

from __future__ import annotations

import numpy as np
import pytest

from tests.cxr_core.study.study_data import shortcut_image
from tests.tiny_family import CLASSES


def _thumbnail_set(planted: bool, per_class: int = 20, seed: int = 0):
    import cv2

    rng = np.random.default_rng(seed)
    x, y = [], []
    for k, label in enumerate(CLASSES):
        for _ in range(per_class):
            img = shortcut_image(label, rng, planted)[..., 0]
            x.append(cv2.resize(img, (32, 32), interpolation=cv2.INTER_AREA).ravel() / 255.0)
            y.append(k)
    x, y = np.array(x), np.array(y)
    train = np.arange(len(y)) % 2 == 0
    return x[train], y[train], x[~train], y[~train]


def test_thumbnail_baseline_finds_the_planted_corner_mark():
    from cxr_core.evaluation.probes import thumbnail_baseline

    scores, probs = thumbnail_baseline(*_thumbnail_set(planted=True), CLASSES)
    assert scores["accuracy"] >= 0.95 and scores["chance"] == pytest.approx(1 / 3)
    assert probs.shape == (30, 3) and np.allclose(probs.sum(axis=1), 1)


def test_thumbnail_baseline_is_near_chance_without_a_shortcut():
    from cxr_core.evaluation.probes import thumbnail_baseline

    scores, _ = thumbnail_baseline(*_thumbnail_set(planted=False), CLASSES)
    assert scores["accuracy"] <= 0.6  # chance 1/3; 30 test images


def test_masked_fills_centre_or_border_with_the_image_mean():
    from cxr_core.evaluation.probes import masked

    x = np.arange(2 * 8 * 8 * 3, dtype=np.float32).reshape(2, 8, 8, 3)
    mean = x.mean(axis=(1, 2))
    hidden = masked(x, 0.5, keep="border")
    assert np.array_equal(hidden[:, 2:6, 2:6, :], np.broadcast_to(mean[:, None, None, :], (2, 4, 4, 3)))
    assert np.array_equal(hidden[:, :2], x[:, :2]) and np.array_equal(hidden[:, :, 6:], x[:, :, 6:])
    centre = masked(x, 0.5, keep="centre")
    assert np.array_equal(centre[:, 2:6, 2:6], x[:, 2:6, 2:6]) and np.allclose(centre[:, 0, 0], mean)
    with pytest.raises(ValueError, match="keep"):
        masked(x, 1.5)


def test_source_probe_counts_each_class_and_source():
    from cxr_core.evaluation.probes import source_probe

    rng = np.random.default_rng(0)
    x = rng.normal(size=(40, 16))
    x[:20] += 3  # source A brighter everywhere
    sources = np.array(["A"] * 20 + ["B"] * 20, dtype=object)
    labels = np.array([0, 1] * 20)
    train = np.arange(40) % 2 == 0
    scores, cells = source_probe(x[train], sources[train], x[~train], sources[~train], labels[~train],
                                 labels[~train], None)
    assert scores["accuracy"] == 1.0 and scores["chance"] == 0.5
    assert cells["n"].sum() == 20 and set(cells["source"]) == {"A", "B"} and (cells["baseline_accuracy"] == 1).all()
    none, _ = source_probe(x[train], [None] * 20, x[~train], [None] * 20, labels[~train], labels[~train])
    assert none is None


@pytest.mark.slow
def test_probes_of_a_model_trained_on_a_planted_shortcut(tmp_path):
    """The tiny CNN learns the corner mark: the thumbnail baseline, the source probe and the lungs-hidden
    (border only) score find it; the centre alone is near chance."""
    from cxr_core.api import run_experiment
    from cxr_core.cli.main import main
    from cxr_core.family import unregister_family
    from tests.cxr_core.study.study_data import register_tiny, write_shortcut_dataset

    register_tiny()
    try:
        manifest = write_shortcut_dataset(tmp_path / "data", per_class=24, sources=True)
        run = run_experiment({"preset": "tinycnn/authors_code", "train": {"epochs": 15}}, data=manifest,
                             run_dir=tmp_path / "run", folds=[0])
        assert main(["-q", "evaluate", "--run", str(run.run_dir), "--fold", "0", "--probes",
                     "--out", str(tmp_path / "probes")]) == 0
    finally:
        unregister_family("tinycnn")
    import pandas as pd

    scores = pd.read_csv(tmp_path / "probes" / "probes.csv").set_index("variant")
    by_probe = scores.reset_index().set_index("probe")
    assert by_probe.loc["thumbnail baseline", "accuracy"] >= 0.9
    assert by_probe.loc["source probe", "accuracy"] >= 0.9
    whole = scores.loc["whole image", "accuracy"]
    hidden = scores.filter(like="lungs hidden", axis=0)["accuracy"].iloc[0]
    centre = scores.filter(like="centre only", axis=0)["accuracy"].iloc[0]
    assert whole >= 0.8 and hidden >= 0.8, scores
    assert centre <= 0.6, scores
    assert (tmp_path / "probes" / "probes.md").read_text().count("DeGrave") == 1
