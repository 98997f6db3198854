"""Percentile bootstrap: resample positions and confidence intervals.

Percentile intervals over ``n_boot`` resamples of the samples (with replacement, same size), seeded
with ``numpy.random.default_rng(seed)``; ``stratified=True`` resamples within each true class so
class counts stay fixed. Resamples where a metric is undefined (e.g. ROC-AUC of a class absent from
the resample) are ignored for that metric. :func:`cxr_core.evaluation.metrics.evaluate_predictions` draws its
resamples from :func:`bootstrap_indices`, so its vectorised intervals equal :func:`bootstrap_ci`'s on
the same seed.

NumPy only.
"""

from __future__ import annotations

from typing import Callable, Iterator

import numpy as np


def bootstrap_indices(y_true, n_boot: int, seed: int = 0, *, stratified: bool = False
                      ) -> Iterator[np.ndarray]:
    """Yield ``n_boot`` arrays of resampled sample positions (with replacement, same size).

    Drawn one resample at a time from ``numpy.random.default_rng(seed)``, so the stream does not
    depend on how callers batch it. ``stratified`` resamples within each true class (class counts
    fixed); positions are then grouped by class.
    """
    t = np.asarray(y_true)
    if t.ndim == 2:
        t = t.argmax(axis=1)
    n = t.shape[0]
    if n == 0:
        raise ValueError("bootstrap: no samples to resample")
    rng = np.random.default_rng(seed)
    groups = [np.flatnonzero(t == c) for c in np.unique(t)] if stratified else None
    for _ in range(int(n_boot)):
        if groups is None:
            yield rng.integers(0, n, size=n)
        else:
            yield np.concatenate([g[rng.integers(0, g.size, size=g.size)] for g in groups])


def percentile_ci(values: np.ndarray, alpha: float) -> tuple[np.ndarray, np.ndarray]:
    """Percentile ``(low, high)`` along axis 0 (resamples) of ``values``, ignoring NaN: the
    ``100 * alpha / 2`` and ``100 * (1 - alpha / 2)`` percentiles (numpy's linear interpolation);
    NaN where no resample is defined."""
    values = np.asarray(values, dtype=np.float64)
    low = np.full(values.shape[1:], np.nan)
    high = np.full(values.shape[1:], np.nan)
    defined = np.isfinite(values).any(axis=0)
    if np.any(defined):
        q = np.nanpercentile(values[:, defined], [100 * alpha / 2, 100 * (1 - alpha / 2)], axis=0)
        low[defined], high[defined] = q[0], q[1]
    return low, high


def bootstrap_ci(y_true, y_prob, metric_fn: Callable[[np.ndarray, np.ndarray], float],
                 n_boot: int = 1000, seed: int = 0, alpha: float = 0.05, *,
                 stratified: bool = False) -> tuple[float, float]:
    """Percentile bootstrap ``(low, high)`` of ``metric_fn(y_true_resampled, y_prob_resampled)``.

    Generic (one Python call per resample); :func:`cxr_core.evaluation.metrics.evaluate_predictions` computes its intervals
    vectorised from the same resamples (same ``seed`` -> same intervals). ``y_prob`` may be any
    per-sample array (scores or predicted labels). NaN results are ignored; ``(nan, nan)`` if all
    are NaN.
    """
    if not 0 < alpha < 1:
        raise ValueError(f"bootstrap_ci: alpha must lie in (0, 1), found {alpha}")
    t = np.asarray(y_true)
    p = np.asarray(y_prob)
    if t.shape[0] != p.shape[0]:
        raise ValueError(f"bootstrap_ci: y_true has {t.shape[0]} samples, y_prob {p.shape[0]}")
    values = np.array([float(metric_fn(t[idx], p[idx]))
                       for idx in bootstrap_indices(t, n_boot, seed, stratified=stratified)])
    if values.size == 0:
        return float("nan"), float("nan")
    low, high = percentile_ci(values[:, None], alpha)
    return float(low[0]), float(high[0])
