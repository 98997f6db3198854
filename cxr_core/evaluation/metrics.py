"""Classification metrics: evaluation of predicted scores, one-vs-rest ROC-AUC, paper-format tables.

The building blocks live in their own modules of :mod:`cxr_core.evaluation` (import them from there):

* :mod:`cxr_core.evaluation.confusion`: input checks and confusion-matrix metrics (conventions: rows true,
  columns predicted; zero divisions give 0.0 like sklearn's ``zero_division=0``; ``macro`` and
  ``weighted`` averages) -- :func:`confusion_matrix`, :func:`from_confusion_matrix`,
  :func:`from_labels`, :func:`overall_accuracy`, :func:`validate_confusion_matrix`;
* :mod:`cxr_core.evaluation.bootstrap`: percentile bootstrap -- :func:`bootstrap_indices`, :func:`bootstrap_ci`;
* :mod:`cxr_core.evaluation.scores`: the interpolated macro-average ROC-AUC and micro-averaged average
  precision of CVR-Net's helper [CVR-T], top-k accuracy of CORONA-Net's evaluation [CR].

:func:`evaluate_predictions` gathers them for one set of predictions; :func:`fold_table` /
:func:`classwise_table` give CoroNet's Table III / IV layouts [S4]. The papers do not say which
averaging their tables use (not stated in CoroNet [S4]; CVR-Net abstract [S2], docs/PAPERS.md §2.7
item 7); :func:`fold_table` defaults to macro.

This module imports neither TensorFlow nor Keras.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Sequence

import numpy as np
import pandas as pd

from cxr_core.evaluation.bootstrap import bootstrap_indices, percentile_ci
from cxr_core.evaluation.confusion import (
    AVERAGES,
    as_labels,
    as_scores,
    check_class_names,
    class_averages,
    confusion_matrix,
    confusion_stats,
    from_confusion_matrix,
    safe_div,
    validate_confusion_matrix,
)
from cxr_core.evaluation.scores import macro_roc_auc_interpolated, micro_average_precision, top_k_accuracy

__all__ = [
    "CLASSWISE_COLUMNS", "SCORE_SUMMARY", "TABLE_COLUMNS", "EvaluationResult", "classwise_table",
    "evaluate_confusion", "evaluate_predictions", "fold_table", "pooled_classwise_table",
    "pooled_confusion", "pooled_evaluation", "pooled_fold_table", "roc_auc_ovr",
]

TABLE_COLUMNS = ("Precision", "Recall", "Specificity", "F-measure", "Accuracy")
CLASSWISE_COLUMNS = ("Precision", "Recall", "Specificity", "F-measure")
_TABLE_FROM_METRIC = {"Precision": "precision", "Recall": "recall", "Specificity": "specificity",
                      "F-measure": "f1"}
# Elements of a (resamples x samples) matrix processed at once by the vectorised bootstrap.
_CHUNK_ELEMENTS = 2_000_000


# ----------------------------------------------------------------------------------------------
# ROC-AUC
# ----------------------------------------------------------------------------------------------
def _auc_plan(y_true: np.ndarray, y_prob: np.ndarray) -> list[tuple]:
    """Per class: sample order by score, start of each run of tied scores, positive mask (sorted)."""
    plan = []
    for c in range(y_prob.shape[1]):
        order = np.argsort(y_prob[:, c], kind="mergesort")
        s = y_prob[order, c]
        starts = np.flatnonzero(np.r_[True, s[1:] != s[:-1]])
        plan.append((order, None if starts.size == s.size else starts, y_true[order] == c))
    return plan


def _ovr_auc(plan: list[tuple], weights: np.ndarray) -> np.ndarray:
    """One-vs-rest AUC per class for each row of integer sample ``weights`` (B, N) -> (B, C).

    Mann-Whitney statistic with ties counted 1/2 (= trapezoidal ROC AUC, as sklearn). A weight is
    how often a sample occurs (bootstrap multiplicity; all ones for the plain AUC); integer
    arithmetic keeps it exact. NaN where a class has no positive or no negative sample.
    """
    out = np.full((weights.shape[0], len(plan)), np.nan)
    for c, (order, starts, positive) in enumerate(plan):
        w = weights[:, order]
        gp = w * positive
        gn = w - gp
        if starts is not None:
            gp = np.add.reduceat(gp, starts, axis=1)
            gn = np.add.reduceat(gn, starts, axis=1)
        n_pos = gp.sum(axis=1)
        n_neg = gn.sum(axis=1)
        below_twice = 2 * np.cumsum(gn, axis=1) - gn  # 2 * (negatives below) + ties
        num = np.einsum("ij,ij->i", gp.astype(np.float64), below_twice.astype(np.float64))
        ok = (n_pos > 0) & (n_neg > 0)
        out[ok, c] = num[ok] / (2.0 * n_pos[ok] * n_neg[ok])
    return out


def roc_auc_ovr(y_true, y_prob, class_names: Sequence[str]) -> pd.Series:
    """One-vs-rest ROC-AUC per class from scores, plus ``macro`` (mean over the defined classes).

    ``y_prob`` is (N, C) (for 2 classes a 1-D array of P(class 1) is accepted). Each class's AUC
    equals ``sklearn.metrics.roc_auc_score(y_true == c, y_prob[:, c])``; ``macro`` equals
    ``roc_auc_score(y_true, y_prob, multi_class="ovr", average="macro")`` when every class occurs.
    A class with no positive or no negative sample gets NaN (sklearn raises instead) and is left
    out of the macro mean. Not the area under the macro-average ROC CURVE that CVR-Net's helper
    reports [CVR-T]: that is :func:`macro_roc_auc_interpolated` (typically 1e-3 apart).
    """
    names = check_class_names(class_names)
    t = as_labels(y_true, len(names), "y_true")
    p = as_scores(y_prob, len(names), t.shape[0])
    auc = _ovr_auc(_auc_plan(t, p), np.ones((1, t.shape[0]), dtype=np.int64))[0]
    macro = float(np.nanmean(auc)) if np.any(np.isfinite(auc)) else float("nan")
    return pd.Series(list(auc) + [macro], index=list(names) + ["macro"], name="roc_auc")


# ----------------------------------------------------------------------------------------------
# evaluation of one set of predictions
# ----------------------------------------------------------------------------------------------
@dataclass
class EvaluationResult:
    """Metrics of one set of predictions (one fold, one test set, or pooled folds).

    confusion: int64 (C, C), rows true, columns predicted. per_class: :func:`from_confusion_matrix`
    frame. accuracy: overall accuracy. roc_auc: :func:`roc_auc_ovr` series (None without scores).
    summary: flat dict (accuracy, macro_/weighted_ precision, recall, specificity, f1, npv,
    macro_roc_auc (mean of the per-class AUCs), n, and from the scores -- NaN without them --
    macro_roc_auc_interpolated (area under the macro-average ROC curve, CVR-Net's helper [CVR-T]),
    micro_average_precision ([CVR-T]), top_1_accuracy / top_2_accuracy ([CR]'s ``topk=(1, 2)``;
    top-1 equals accuracy; top-2 is 1.0 with two classes)). ci: DataFrame indexed by metric name with columns value, low, high
    (percentile bootstrap; ``attrs`` n_boot, seed, alpha, stratified). y_true / y_prob: the
    predictions, kept so folds can be pooled (None when built from a confusion matrix).
    """

    confusion: np.ndarray
    per_class: pd.DataFrame
    accuracy: float
    roc_auc: pd.Series | None
    summary: dict[str, float]
    ci: pd.DataFrame
    class_names: tuple[str, ...] = ()
    y_true: np.ndarray | None = field(default=None, repr=False)
    y_prob: np.ndarray | None = field(default=None, repr=False)


SCORE_SUMMARY = ("macro_roc_auc_interpolated", "micro_average_precision", "top_1_accuracy",
                 "top_2_accuracy")
"""Summary entries computed from the scores themselves (no bootstrap interval)."""


def _summary(cm: np.ndarray, roc: pd.Series | None) -> dict[str, float]:
    stats = confusion_stats(cm)
    summary = {"accuracy": float(stats["accuracy"])}
    summary.update({k: float(v) for k, v in class_averages(stats).items()})
    summary["macro_roc_auc"] = float(roc["macro"]) if roc is not None else float("nan")
    summary["n"] = int(cm.sum())
    for name in SCORE_SUMMARY:
        summary[name] = float("nan")
    return summary


def _score_summary(t: np.ndarray, p: np.ndarray) -> dict[str, float]:
    return {"macro_roc_auc_interpolated": macro_roc_auc_interpolated(t, p),
            "micro_average_precision": micro_average_precision(t, p),
            "top_1_accuracy": top_k_accuracy(t, p, 1),
            "top_2_accuracy": top_k_accuracy(t, p, 2)}


def evaluate_confusion(cm, class_names: Sequence[str]) -> EvaluationResult:
    """:class:`EvaluationResult` from a confusion matrix alone (no ROC-AUC, no intervals)."""
    names = check_class_names(class_names)
    arr = validate_confusion_matrix(cm, names)
    per_class = from_confusion_matrix(arr, names)
    ci = pd.DataFrame(columns=["value", "low", "high"], dtype=float)
    return EvaluationResult(arr, per_class, per_class.attrs["accuracy"], None,
                            _summary(arr, None), ci, names)


def _ci_metric_names(names: Sequence[str]) -> list[str]:
    return (["accuracy", "macro_precision", "macro_recall", "macro_specificity", "macro_f1",
             "weighted_f1", "macro_roc_auc"]
            + [f"precision[{c}]" for c in names] + [f"recall[{c}]" for c in names])


def _boot_matrix(cms: np.ndarray, auc: np.ndarray) -> np.ndarray:
    """(B, metrics) in the order of :func:`_ci_metric_names`."""
    stats = confusion_stats(cms)
    avg = class_averages(stats)
    finite = np.isfinite(auc)
    n_defined = finite.sum(axis=1)
    macro_auc = np.where(n_defined > 0, safe_div(np.where(finite, auc, 0.0).sum(axis=1), n_defined),
                         np.nan)
    cols = [stats["accuracy"], avg["macro_precision"], avg["macro_recall"],
            avg["macro_specificity"], avg["macro_f1"], avg["weighted_f1"], macro_auc]
    return np.column_stack(cols + [stats["precision"], stats["recall"]])


def evaluate_predictions(y_true, y_prob, class_names: Sequence[str], *, n_boot: int = 1000,
                         seed: int = 0, alpha: float = 0.05, stratified: bool = False
                         ) -> EvaluationResult:
    """Metrics of predicted class scores with percentile bootstrap ``1 - alpha`` intervals.

    ``y_true``: integer labels (or one-hot rows); ``y_prob``: (N, C) scores (argmax = prediction;
    for 2 classes a 1-D P(class 1) is accepted). Intervals are given for accuracy, macro
    precision / recall / specificity / F1, weighted F1, macro ROC-AUC, and per-class precision and
    recall (``precision[<class>]``); the summary's score metrics (:data:`SCORE_SUMMARY`) have none.
    The bootstrap is vectorised: confusion matrices of all
    resamples via one ``np.bincount``, AUCs via sample multiplicities, so 1000 resamples of 10,000
    samples take well under a second or two. ``n_boot=0`` skips it (NaN bounds).
    """
    names = check_class_names(class_names)
    num_classes = len(names)
    t = as_labels(y_true, num_classes, "y_true")
    p = as_scores(y_prob, num_classes, t.shape[0])
    if t.size == 0:
        raise ValueError("evaluate_predictions: no samples")
    pred = p.argmax(axis=1)
    cm = confusion_matrix(t, pred, num_classes)
    per_class = from_confusion_matrix(cm, names)
    roc = roc_auc_ovr(t, p, names)
    summary = _summary(cm, roc)
    summary.update(_score_summary(t, p))

    metric_names = _ci_metric_names(names)
    point = np.concatenate([[summary[m] for m in metric_names[:7]],
                            per_class["precision"].to_numpy()[:num_classes],
                            per_class["recall"].to_numpy()[:num_classes]])
    low = np.full(len(metric_names), np.nan)
    high = np.full(len(metric_names), np.nan)
    if n_boot > 0:
        if not 0 < alpha < 1:
            raise ValueError(f"evaluate_predictions: alpha must lie in (0, 1), found {alpha}")
        n = t.shape[0]
        codes = t * num_classes + pred
        chunk = max(1, _CHUNK_ELEMENTS // n)
        plan = _auc_plan(t, p)
        values = []
        stream = bootstrap_indices(t, n_boot, seed, stratified=stratified)
        remaining = int(n_boot)
        while remaining > 0:
            b = min(chunk, remaining)
            idx = np.stack([next(stream) for _ in range(b)])
            offsets = np.arange(b)[:, None]
            cms = np.bincount((codes[idx] + offsets * num_classes**2).ravel(),
                              minlength=b * num_classes**2).reshape(b, num_classes, num_classes)
            counts = np.bincount((idx + offsets * n).ravel(), minlength=b * n).reshape(b, n)
            auc = _ovr_auc(plan, counts)
            values.append(_boot_matrix(cms, auc))
            remaining -= b
        low, high = percentile_ci(np.concatenate(values), alpha)
    ci = pd.DataFrame({"value": point, "low": low, "high": high}, index=metric_names)
    ci.index.name = "metric"
    ci.attrs.update(n_boot=int(n_boot), seed=int(seed), alpha=float(alpha),
                    stratified=bool(stratified))
    return EvaluationResult(cm, per_class, summary["accuracy"], roc, summary, ci, names, t, p)


# ----------------------------------------------------------------------------------------------
# pooling and paper-format tables
# ----------------------------------------------------------------------------------------------
def _per_class_frame(result) -> pd.DataFrame:
    if isinstance(result, EvaluationResult):
        return result.per_class
    if isinstance(result, pd.DataFrame) and "accuracy" in result.attrs:
        return result
    raise TypeError(
        f"expected an EvaluationResult or a from_confusion_matrix() DataFrame, found {type(result)}"
    )


def _check_folds(per_fold) -> list:
    folds = list(per_fold)
    if not folds:
        raise ValueError("per_fold: expected at least one fold result, found none")
    first = [str(i) for i in _per_class_frame(folds[0]).index]
    for k, r in enumerate(folds[1:], start=1):
        other = [str(i) for i in _per_class_frame(r).index]
        if other != first:
            raise ValueError(f"per_fold: result {k} (counting from 0) has rows {other}, result 0 has {first}")
    return folds


def _table_row(per_class: pd.DataFrame, average: str) -> list[float]:
    if average not in AVERAGES:
        raise ValueError(f"average: expected one of {AVERAGES}, found {average!r}")
    row = per_class.loc[average]
    return [100 * float(row[_TABLE_FROM_METRIC[c]]) for c in TABLE_COLUMNS[:-1]] + [
        100 * float(per_class.attrs["accuracy"])]


def fold_table(per_fold: Sequence, average: str = "macro") -> pd.DataFrame:
    """Per-fold table in the column layout of CoroNet's Table III [S4]: rows ``fold 0`` ..
    ``fold k-1``, ``mean``, ``std``. Folds are numbered from 0 everywhere (the ``fold_k`` folders,
    ``--folds``, console and figure titles); a published table's ``fold 1`` is the paper's first fold.

    Columns Precision, Recall, Specificity, F-measure, Accuracy in percent. Precision ... F-measure
    are ``average`` ("macro", the default, or "weighted") averages over classes within each fold;
    the paper does not say which averaging it used (not stated in [S4]). ``mean`` is the unweighted mean
    of the fold rows (the paper's "avg" row), ``std`` the sample standard deviation (ddof=1; NaN for
    a single fold). Items of ``per_fold`` are EvaluationResults or from_confusion_matrix frames.
    """
    folds = _check_folds(per_fold)
    rows = [_table_row(_per_class_frame(r), average) for r in folds]
    # A result that knows its fold (``result.fold``, 0-based) keeps its number in merged reports.
    numbers = [getattr(r, "fold", None) for r in folds]
    labels = ([f"fold {n}" for n in numbers] if all(n is not None for n in numbers)
              else [f"fold {k}" for k in range(len(folds))])
    df = pd.DataFrame(rows, columns=list(TABLE_COLUMNS), index=labels)
    stats = pd.DataFrame([df.mean(axis=0), df.std(axis=0, ddof=1)], index=["mean", "std"])
    out = pd.concat([df, stats])
    out.attrs.update(average=average, units="percent")
    return out


def classwise_table(per_fold: Sequence) -> pd.DataFrame:
    """CoroNet Table IV layout [S4]: one row per class, mean over folds of each class's metrics.

    Columns Precision, Recall, Specificity, F-measure in percent (one-vs-rest per class; F-measure
    is the mean of the folds' F1, not the F1 of the mean precision and recall), then Accuracy
    (:func:`one_vs_rest_accuracy`, mean over folds).
    """
    folds = _check_folds(per_fold)
    frames = [_per_class_frame(r) for r in folds]
    names = [i for i in frames[0].index if i not in AVERAGES]
    cols = [_TABLE_FROM_METRIC[c] for c in CLASSWISE_COLUMNS]
    stacked = np.stack([f.loc[names, cols].to_numpy(dtype=np.float64) for f in frames])
    out = pd.DataFrame(100 * stacked.mean(axis=0), index=names, columns=list(CLASSWISE_COLUMNS))
    out["Accuracy"] = 100 * np.mean([one_vs_rest_accuracy(f.attrs["confusion"]) for f in frames], axis=0)
    out.attrs.update(units="percent", n_folds=len(frames))
    return out


def one_vs_rest_accuracy(confusion) -> np.ndarray:
    """Per class ``(TP + TN) / N`` of a confusion matrix (rows true, columns predicted), in [0, 1]: the
    accuracy of "this class or not" (CoroNet's COVID-19 class accuracy 96.6% [S4]); NaN when N = 0."""
    cm = np.asarray(confusion, dtype=np.float64)
    total = cm.sum()
    tp = np.diag(cm)
    tn = total - cm.sum(axis=0) - cm.sum(axis=1) + tp
    with np.errstate(invalid="ignore", divide="ignore"):
        return (tp + tn) / total


def pooled_confusion(per_fold: Sequence) -> np.ndarray:
    """Sum of the folds' confusion matrices."""
    folds = _check_folds(per_fold)
    return sum(np.asarray(_per_class_frame(r).attrs["confusion"], dtype=np.int64) for r in folds)


def pooled_evaluation(per_fold: Sequence, *, n_boot: int = 1000, seed: int = 0,
                      alpha: float = 0.05, stratified: bool = False) -> EvaluationResult:
    """Metrics of all folds' predictions together (with bootstrap CIs and ROC-AUC).

    Uses the stored predictions when every fold has them; otherwise the summed confusion matrices
    (no ROC-AUC, no intervals).
    """
    folds = _check_folds(per_fold)
    names = tuple(i for i in _per_class_frame(folds[0]).index if i not in AVERAGES)
    if all(isinstance(r, EvaluationResult) and r.y_true is not None and r.y_prob is not None
           for r in folds):
        t = np.concatenate([r.y_true for r in folds])
        p = np.concatenate([r.y_prob for r in folds])
        return evaluate_predictions(t, p, names, n_boot=n_boot, seed=seed, alpha=alpha,
                                    stratified=stratified)
    return evaluate_confusion(pooled_confusion(folds), names)


def pooled_fold_table(per_fold: Sequence, average: str = "macro") -> pd.DataFrame:
    """The :func:`fold_table` columns, one row ``pooled``: metrics of the summed confusion matrix of all folds."""
    folds = _check_folds(per_fold)
    names = [i for i in _per_class_frame(folds[0]).index if i not in AVERAGES]
    per_class = from_confusion_matrix(pooled_confusion(folds), names)
    out = pd.DataFrame([_table_row(per_class, average)], columns=list(TABLE_COLUMNS),
                       index=["pooled"])
    out.attrs.update(average=average, units="percent")
    return out


def pooled_classwise_table(per_fold: Sequence) -> pd.DataFrame:
    """Table IV layout from the summed confusion matrix of all folds (instead of the fold mean)."""
    folds = _check_folds(per_fold)
    names = [i for i in _per_class_frame(folds[0]).index if i not in AVERAGES]
    return classwise_table([from_confusion_matrix(pooled_confusion(folds), names)])
