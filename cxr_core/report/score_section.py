"""The run report's score figures (ROC, precision-recall, reliability), its calibration table and
the Markdown that shows every figure inline.

Called by :func:`cxr_core.report.markdown.write_run_report`; the plots are :mod:`cxr_core.report.score_figures`.
This module imports neither TensorFlow nor Keras.
"""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np
import pandas as pd

from cxr_core.report.score_figures import (ECE_BINS, calibration_bins, expected_calibration_error, plot_averaged_curves,
                                           plot_curves_per_fold, plot_reliability, plot_roc_pr)

CALIBRATION_TEXT = (
    f"Expected calibration error (ECE) of the top-label confidence (the highest class probability), "
    f"{ECE_BINS} equal-width bins of confidence ((0, 0.1], (0.1, 0.2], ... (0.9, 1]): ECE = sum over "
    "bins of (samples in bin / N) x |accuracy in bin - mean confidence in bin|; 0 = calibrated. Also "
    "in calibration.csv; the pooled reliability diagram is reliability_pooled.png.\n\n")


def _fold_label(result, position: int) -> str:
    fold = getattr(result, "fold", None)
    return f"fold {fold if fold is not None else position}"


def write_score_figures(out_dir: Path, name: str, folds: Sequence, pooled, class_names: Sequence[str]) -> list[Path]:
    """ROC + precision-recall of all folds pooled, ROC and PR per fold (one panel per class, one
    curve per fold), and the pooled reliability diagram, into ``out_dir``; returns their paths
    relative to ``out_dir``. Folds without stored predictions are left out of the per-fold figures."""
    out_dir = Path(out_dir)
    written = [Path("roc_pr_pooled.png")]
    plot_roc_pr(pooled.y_true, pooled.y_prob, class_names, out_dir / written[0],
                title=f"{name}: all folds pooled")
    written.append(Path("roc_pr_averaged.png"))
    plot_averaged_curves(pooled.y_true, pooled.y_prob, class_names, out_dir / written[-1],
                         title=f"{name}: all folds pooled, averaged")
    per_fold = [(_fold_label(r, i), r.y_true, r.y_prob) for i, r in enumerate(folds)
                if r.y_true is not None and r.y_prob is not None]
    if len(per_fold) > 1:
        for kind, stem in (("roc", "roc_per_fold"), ("pr", "pr_per_fold")):
            what = "ROC" if kind == "roc" else "precision-recall"
            plot_curves_per_fold(per_fold, class_names, out_dir / f"{stem}.png", kind=kind,
                                 pooled=(pooled.y_true, pooled.y_prob), title=f"{name}: {what} per fold, one-vs-rest")
            written.append(Path(f"{stem}.png"))
    plot_reliability(pooled.y_true, pooled.y_prob, out_dir / "reliability_pooled.png",
                     title=f"{name}: reliability, all folds pooled")
    written.append(Path("reliability_pooled.png"))
    return written


def calibration_table(folds: Sequence, pooled) -> pd.DataFrame:
    """Rows ``fold k`` (each fold with stored predictions) and ``pooled``; columns ECE, mean
    confidence, accuracy, n (fractions in [0, 1])."""
    rows, index = [], []
    items = [(_fold_label(r, i), r) for i, r in enumerate(folds)] + [("pooled", pooled)]
    for label, r in items:
        if r.y_true is None or r.y_prob is None:
            continue
        p = np.asarray(r.y_prob, dtype=np.float64)
        bins = calibration_bins(r.y_true, p)
        rows.append({"ECE": expected_calibration_error(r.y_true, p), "mean confidence": float(p.max(axis=1).mean()),
                     "accuracy": float((p.argmax(axis=1) == np.asarray(r.y_true)).mean()),
                     "n": int(bins["count"].sum())})
        index.append(label)
    return pd.DataFrame(rows, index=index)


def _image(path: Path) -> str:
    text = path.as_posix()
    return f"![{text}]({text})\n\n"


def figures_markdown(run_images: Sequence[Path], fold_images: Sequence[Path]) -> str:
    """The figures inline (relative image links, so report.md renders beside its PNGs): the run's
    own figures first, then each fold's (``fold_k/...``, phase folders included) under a heading."""
    parts = ["### All folds pooled\n\n"] + [_image(p) for p in run_images]
    by_fold: dict[str, list[Path]] = {}
    for p in fold_images:
        by_fold.setdefault(p.parts[0], []).append(p)
    for folder, paths in by_fold.items():
        parts.append(f"### {folder.replace('_', ' ')}\n\n")
        parts += [_image(p) for p in paths]
    return "".join(parts)
