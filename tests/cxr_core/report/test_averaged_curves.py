"""The macro-average ROC, micro-average precision-recall and binary operating point, drawn: each number
against scikit-learn (CVR-Net's helper recipe [CVR-T] is sklearn's own example)."""

from __future__ import annotations

import numpy as np
from sklearn.metrics import auc, average_precision_score, confusion_matrix, precision_recall_curve, roc_curve

from cxr_core.report.score_figures import micro_pr_curve, operating_point, plot_averaged_curves, positive_class


def _scores(n, c, seed):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, c, n)
    logits = rng.normal(size=(n, c)) + 1.5 * np.eye(c)[y]
    p = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    return y, p


def test_three_classes_macro_roc_and_micro_pr_against_sklearn(tmp_path):
    y, p = _scores(300, 3, 0)
    out = plot_averaged_curves(y, p, ["NOR", "CPN", "NCP"], tmp_path / "avg3.png", title="three classes")
    onehot = np.eye(3)[y]
    assert np.isclose(out["micro_ap"], average_precision_score(onehot, p, average="micro"))
    curves = [roc_curve(onehot[:, k], p[:, k]) for k in range(3)]  # sklearn's macro-average ROC example
    grid = np.unique(np.concatenate([f for f, _, _ in curves]))
    mean_tpr = np.mean([np.interp(grid, f, t) for f, t, _ in curves], axis=0)
    assert np.isclose(out["macro_auc"], auc(grid, mean_tpr))
    recall, precision = micro_pr_curve(y, p)
    want_p, want_r, _ = precision_recall_curve(onehot.ravel(), p.ravel())
    np.testing.assert_array_equal(recall, want_r)
    np.testing.assert_array_equal(precision, want_p)
    assert "fpr" not in out and (tmp_path / "avg3.png").stat().st_size > 10_000


def test_binary_operating_point_against_the_confusion_matrix(tmp_path):
    y, p = _scores(200, 2, 1)
    assert positive_class(["NOR", "NCP"]) == 1 and positive_class(["covid", "normal"]) == 0
    out = plot_averaged_curves(y, p, ["NOR", "NCP"], tmp_path / "avg2.png", title="binary")
    tn, fp, fn, tp = confusion_matrix(y, p.argmax(axis=1)).ravel()
    assert (out["fpr"], out["tpr"]) == (fp / (fp + tn), tp / (tp + fn))
    assert operating_point(y, p, 0) == (fn / (fn + tp), tn / (tn + fp))
    fpr, tpr, thresholds = roc_curve(y == 1, p[:, 1])
    near = np.argmin(np.abs(thresholds - 0.5))  # the argmax decision is the 0.5 threshold of p[:, 1]
    assert abs(fpr[near] - out["fpr"]) < 0.02 and abs(tpr[near] - out["tpr"]) < 0.02  # a point on the curve
