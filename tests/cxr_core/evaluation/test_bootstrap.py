"""cxr_core.evaluation.bootstrap: resample streams and percentile intervals (against numpy directly)."""

from __future__ import annotations

import numpy as np
import pytest

from cxr_core.evaluation import bootstrap as B
from cxr_core.evaluation import bootstrap


def test_names_importable_from_metrics():
    assert bootstrap.bootstrap_ci is B.bootstrap_ci and bootstrap.bootstrap_indices is B.bootstrap_indices


def test_indices_are_the_seeded_generator_stream():
    y = np.arange(7) % 3
    rng = np.random.default_rng(5)
    for idx in B.bootstrap_indices(y, 4, seed=5):
        np.testing.assert_array_equal(idx, rng.integers(0, 7, size=7))


def test_stratified_keeps_class_counts():
    y = np.repeat([0, 1, 2], [50, 30, 5])
    for idx in B.bootstrap_indices(y, 20, seed=1, stratified=True):
        np.testing.assert_array_equal(np.bincount(y[idx], minlength=3), np.bincount(y))


def test_bootstrap_ci_is_the_percentile_interval_of_the_resampled_metric():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 200)
    score = rng.random(200)
    values = [np.mean(score[i]) for i in B.bootstrap_indices(y, 300, seed=2)]
    want = np.percentile(values, [2.5, 97.5])
    got = B.bootstrap_ci(y, score, lambda t, s: s.mean(), n_boot=300, seed=2)
    assert got == pytest.approx(tuple(want))
    with pytest.raises(ValueError, match="alpha"):
        B.bootstrap_ci(y, score, lambda t, s: s.mean(), alpha=1.5)
    nan = B.bootstrap_ci(y, score, lambda t, s: float("nan"), n_boot=5)
    assert np.isnan(nan).all()
