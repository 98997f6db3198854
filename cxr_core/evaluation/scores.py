"""Metrics of class scores beyond the confusion matrix: the interpolated macro-average ROC curve,
micro-averaged average precision, and top-k accuracy.

Two ROC-AUC "macro" figures exist and differ (usually in the third decimal):

* :func:`cxr_core.evaluation.metrics.roc_auc_ovr`'s ``macro``: the mean of the per-class one-vs-rest AUCs
  (``sklearn.metrics.roc_auc_score(..., multi_class="ovr", average="macro")``);
* :func:`macro_roc_auc_interpolated`: the area under the macro-average ROC CURVE, built as
  scikit-learn's ROC example does it and as CVR-Net's ``Performance_helper`` [CVR-T] computed it:
  every class's one-vs-rest curve (``roc_curve`` with its default ``drop_intermediate``), the union of all their false-positive rates,
  each class's true-positive rate linearly interpolated there (``np.interp``), the mean over
  classes, and the trapezoidal area of that mean curve (``auc``).

:func:`micro_average_precision` is ``sklearn.metrics.average_precision_score(onehot, scores,
average="micro")`` as the same helper called it [CVR-T]: the step-wise average precision
``sum_n (R_n - R_(n-1)) P_n`` over the distinct thresholds of all ``N x C`` (one-hot label, score)
pairs taken together.

:func:`top_k_accuracy` is the fraction of samples whose true class is among the ``k`` highest
scores; CORONA-Net's evaluation printed top-1 and top-2 (``accuracy(output, target, topk=(1, 2))``,
printed as ``Prec@1`` / ``Prec@5`` [CR]).

NumPy only (scikit-learn is the reference in the tests, not a dependency of the computation).
"""

from __future__ import annotations

import numpy as np

from cxr_core.evaluation.confusion import as_labels, as_scores


def _inputs(y_true, y_score) -> tuple[np.ndarray, np.ndarray]:
    """Integer labels (N,) and float64 scores (N, C) from labels (or one-hot rows) and scores."""
    score = np.asarray(y_score)
    if score.ndim != 2 or score.shape[1] < 2:
        raise ValueError(f"y_score: expected shape (samples, classes >= 2), found {score.shape}")
    n, c = score.shape
    t = as_labels(y_true, c, "y_true")
    if t.shape[0] != n:
        raise ValueError(f"y_true has {t.shape[0]} samples, y_score {n}")
    if n == 0:
        raise ValueError("y_true: no samples")
    return t, as_scores(score, c, n)


def roc_curve_points(positive: np.ndarray, score: np.ndarray, *, drop_intermediate: bool = True
                     ) -> tuple[np.ndarray, np.ndarray]:
    """``(fpr, tpr)`` of one binary problem, as ``sklearn.metrics.roc_curve`` returns them.

    ``positive``: bool (N,); ``score``: (N,), higher = more positive. One point per distinct score
    threshold (decreasing), then, with ``drop_intermediate`` (sklearn's default, so what the
    authors' sklearn 0.22.1 returned [CVR-T]), only the points where the slope changes (sklearn's
    rule: keep the ends and every point where the second difference of the FP or TP counts is
    non-zero), then (0, 0) in front. NaN rates where a side has no sample (sklearn: NaN with a
    warning).

    The dropped points lie on straight lines, so the curve is the same, but ``np.interp`` on a
    curve with long vertical runs (repeated FPR values) is not: the macro-average recipe depends on
    which points are there, hence the default.
    """
    positive = np.asarray(positive, dtype=bool)
    order = np.argsort(-np.asarray(score, dtype=np.float64), kind="mergesort")
    s = np.asarray(score, dtype=np.float64)[order]
    hits = positive[order]
    last = np.r_[np.flatnonzero(np.diff(s) != 0), s.size - 1]  # last sample of each distinct score
    tps = np.cumsum(hits)[last].astype(np.float64)
    fps = (last + 1.0) - tps
    if drop_intermediate and fps.size > 2:
        keep = np.r_[True, (np.diff(fps, 2) != 0) | (np.diff(tps, 2) != 0), True]
        tps, fps = tps[keep], fps[keep]
    tps, fps = np.r_[0.0, tps], np.r_[0.0, fps]
    with np.errstate(invalid="ignore", divide="ignore"):
        fpr = fps / fps[-1] if fps[-1] > 0 else np.full(fps.shape, np.nan)
        tpr = tps / tps[-1] if tps[-1] > 0 else np.full(tps.shape, np.nan)
    return fpr, tpr


def _trapezoid(x: np.ndarray, y: np.ndarray) -> float:
    return float(np.sum(np.diff(x) * (y[1:] + y[:-1]) / 2.0))


def macro_roc_curve(y_true, y_score) -> tuple[np.ndarray, np.ndarray]:
    """The macro-average one-vs-rest ROC curve ``(fpr, mean_tpr)`` of scikit-learn's example [CVR-T].

    ``fpr`` = sorted union of every class's false-positive rates (:func:`roc_curve_points`, sklearn's
    default ``drop_intermediate``); ``mean_tpr`` = mean over classes of ``np.interp(fpr, fpr_c, tpr_c)``. ``y_true``: integer labels (N,) or one-hot (N, C); ``y_score``:
    (N, C) probabilities or any scores (higher = more likely). NaN when a class has no positive or
    no negative sample (its curve is undefined).
    """
    t, p = _inputs(y_true, y_score)
    curves = [roc_curve_points(t == c, p[:, c]) for c in range(p.shape[1])]
    if any(np.isnan(fpr).any() or np.isnan(tpr).any() for fpr, tpr in curves):
        nan = np.array([np.nan])
        return nan, nan
    all_fpr = np.unique(np.concatenate([fpr for fpr, _ in curves]))
    mean_tpr = np.mean([np.interp(all_fpr, fpr, tpr) for fpr, tpr in curves], axis=0)
    return all_fpr, mean_tpr


def macro_roc_auc_interpolated(y_true, y_score) -> float:
    """Area under :func:`macro_roc_curve` (trapezoidal), in [0, 1]; NaN if a class's curve is undefined.

    CVR-Net's reported "Macro-avg ROC with AUC" [CVR-T] (``Performance_helper`` and ``ROC``: sklearn
    ``roc_curve`` per class, ``interp``, ``auc``). Not the mean of per-class AUCs
    (:func:`cxr_core.evaluation.metrics.roc_auc_ovr`), which it approaches but does not equal.
    """
    fpr, tpr = macro_roc_curve(y_true, y_score)
    if fpr.size < 2:
        return float("nan")
    return _trapezoid(fpr, tpr)


def micro_average_precision(y_true, y_score) -> float:
    """``sklearn.metrics.average_precision_score(onehot(y_true), y_score, average="micro")`` [CVR-T].

    All ``N x C`` (one-hot label, score) pairs ranked together by score; at each distinct threshold
    (decreasing) precision ``P_n`` = TP / (TP + FP) and recall ``R_n`` = TP / N; the result is
    ``sum_n (R_n - R_(n-1)) P_n``, in [0, 1] (1.0 when every true class outscores every other
    (sample, class) pair).
    """
    t, p = _inputs(y_true, y_score)
    onehot = np.zeros(p.shape, dtype=bool)
    onehot[np.arange(t.size), t] = True
    order = np.argsort(-p.ravel(), kind="mergesort")
    s = p.ravel()[order]
    hits = onehot.ravel()[order]
    last = np.r_[np.flatnonzero(np.diff(s) != 0), s.size - 1]
    tps = np.cumsum(hits)[last].astype(np.float64)
    precision = tps / (last + 1.0)
    recall = tps / t.size
    return float(np.sum(np.diff(np.r_[0.0, recall]) * precision))


def true_class_rank(y_true, y_score) -> np.ndarray:
    """0-based rank of each sample's true class among its scores (0 = highest), int64 (N,).

    Ties rank the lower class index first, the rule ``np.argmax`` uses for the top-1 prediction, so
    ``top_k_accuracy(k=1)`` equals the accuracy of the argmax predictions. (scikit-learn's
    ``top_k_accuracy_score`` breaks ties toward the HIGHER index, torch's ``topk`` leaves them
    unspecified [CR]; with continuous scores ties do not occur.)
    """
    t, p = _inputs(y_true, y_score)
    own = p[np.arange(t.size), t][:, None]
    columns = np.arange(p.shape[1])[None, :]
    ahead = (p > own) | ((p == own) & (columns < t[:, None]))
    return ahead.sum(axis=1).astype(np.int64)


def top_k_accuracy(y_true, y_score, k: int) -> float:
    """Fraction of samples whose true class is among their ``k`` highest scores, in [0, 1].

    ``y_score``: (N, C) probabilities or logits (the order is all that matters). ``k`` from 1 to C
    (``k = C`` gives 1.0). [CR] prints ``topk=(1, 2)`` as ``Prec@1`` and ``Prec@5`` (in percent).
    """
    t, p = _inputs(y_true, y_score)
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or not 1 <= k <= p.shape[1]:
        raise ValueError(f"top_k_accuracy: k must be an integer from 1 to {p.shape[1]} (classes), found {k!r}")
    return float(np.mean(true_class_rank(t, p) < k))
