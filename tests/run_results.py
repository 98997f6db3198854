"""Evaluation results for report tests: random predictions of a given strength, and reading a report back."""

from __future__ import annotations

import numpy as np
import pandas as pd

from cxr_core.evaluation import metrics as M


def fold_results(names, n_folds=2, n=200, seed=0, n_boot=200, strength=0.4):
    """``n_folds`` evaluation results of ``n`` random labels each: Dirichlet probabilities with
    ``strength`` added to the true class (0.4: clearly better than chance, far from perfect)."""
    rng = np.random.default_rng(seed)
    c = len(names)
    out = []
    for k in range(n_folds):
        y = rng.integers(0, c, n)
        p = rng.dirichlet(np.ones(c), n)
        p[np.arange(n), y] += strength
        out.append(M.evaluate_predictions(y, p / p.sum(1, keepdims=True), names, n_boot=n_boot,
                                          seed=k))
    return out


def read_report(run_dir):
    """``(report.md text, published_comparison.csv as a frame)`` of a run directory."""
    text = (run_dir / "report.md").read_text()
    cmp = pd.read_csv(run_dir / "published_comparison.csv", index_col=0)
    return text, cmp
