"""Classification metrics: confusion-matrix metrics, one-vs-rest ROC-AUC, bootstrap CIs, paper tables.

Conventions
-----------
* Confusion matrices follow scikit-learn: ``cm[i, j]`` = number of samples whose TRUE class is ``i``
  and whose PREDICTED class is ``j`` (rows = true, columns = predicted).
* Zero divisions give ``0.0``, like scikit-learn's ``zero_division=0``: a class that is never predicted
  has precision 0; a class with no true samples has recall 0 (and still counts in the macro average,
  as sklearn does when ``labels`` lists every class). Specificity and NPV follow the same rule.
* Per-class metrics (one-vs-rest): precision = TP/(TP+FP) (= PPV), recall = TP/(TP+FN)
  (= sensitivity), specificity = TN/(TN+FP), F1 = 2TP/(2TP+FP+FN) (= harmonic mean of precision and
  recall), NPV = TN/(TN+FN), support = TP+FN.
  CoroNet's paper prints recall as (TP+FN)/(TP+FN), a misprint [S4] (PAPERS.md §1.7 item 7).
* ``macro`` = unweighted mean over classes; ``weighted`` = mean weighted by support (sklearn
  ``average="weighted"``; specificity and NPV weighted the same way). The papers do not say which
  averaging their tables use (not stated in CoroNet [S4]; CVR-Net abstract [S2], PAPERS.md §2.7
  item 7); :func:`fold_table` defaults to macro.
* Bootstrap confidence intervals: percentile intervals over ``n_boot`` resamples of the samples
  (with replacement, same size), seeded with ``numpy.random.default_rng(seed)``; ``stratified=True``
  resamples within each true class so class counts stay fixed. Resamples where a metric is undefined
  (e.g. ROC-AUC of a class absent from the resample) are ignored for that metric.

This module imports neither TensorFlow nor Keras.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Iterator, Sequence

import numpy as np
import pandas as pd

METRIC_COLUMNS = ("precision", "recall", "specificity", "f1", "npv", "support")
AVERAGES = ("macro", "weighted")
TABLE_COLUMNS = ("Precision", "Recall", "Specificity", "F-measure", "Accuracy")
CLASSWISE_COLUMNS = ("Precision", "Recall", "Specificity", "F-measure")
_TABLE_FROM_METRIC = {"Precision": "precision", "Recall": "recall", "Specificity": "specificity",
                      "F-measure": "f1"}
# Elements of a (resamples x samples) matrix processed at once by the vectorised bootstrap.
_CHUNK_ELEMENTS = 2_000_000


# ----------------------------------------------------------------------------------------------
# input checking
# ----------------------------------------------------------------------------------------------
def _class_names(class_names: Sequence[str], what: str = "class_names") -> tuple[str, ...]:
    names = tuple(str(c) for c in class_names)
    if len(names) < 2:
        raise ValueError(f"{what}: expected at least 2 class names, found {len(names)}: {names!r}")
    if len(set(names)) != len(names):
        raise ValueError(f"{what}: class names must be unique, found {names!r}")
    reserved = {"macro", "weighted"} & set(names)
    if reserved:
        raise ValueError(f"{what}: {sorted(reserved)} are reserved row names, found {names!r}")
    return names


def _labels(y, num_classes: int, what: str) -> np.ndarray:
    """Integer labels from integer labels or one-hot / probability rows (argmax)."""
    arr = np.asarray(y)
    if arr.ndim == 2:
        if arr.shape[1] != num_classes:
            raise ValueError(
                f"{what}: expected {num_classes} columns (one per class), found shape {arr.shape}"
            )
        return arr.argmax(axis=1).astype(np.int64)
    if arr.ndim != 1:
        raise ValueError(f"{what}: expected a 1-D array of class indices, found shape {arr.shape}")
    if arr.size and not np.issubdtype(arr.dtype, np.integer):
        if not (np.issubdtype(arr.dtype, np.number) and np.all(np.mod(arr, 1) == 0)):
            raise ValueError(f"{what}: expected integer class indices, found dtype {arr.dtype}")
    arr = arr.astype(np.int64)
    if arr.size and (arr.min() < 0 or arr.max() >= num_classes):
        raise ValueError(
            f"{what}: class indices must lie in [0, {num_classes - 1}], found min {arr.min()} "
            f"max {arr.max()}"
        )
    return arr


def _probabilities(y_prob, num_classes: int, n: int) -> np.ndarray:
    """(N, C) float array; a 1-D array with 2 classes is taken as P(class 1)."""
    p = np.asarray(y_prob, dtype=np.float64)
    if p.ndim == 1 and num_classes == 2:
        p = np.stack([1.0 - p, p], axis=1)
    if p.ndim != 2 or p.shape != (n, num_classes):
        raise ValueError(
            f"y_prob: expected shape ({n}, {num_classes}) (samples x classes), found {p.shape}"
        )
    if not np.all(np.isfinite(p)):
        raise ValueError("y_prob: found NaN or infinite scores")
    return p


def validate_confusion_matrix(cm, class_names: Sequence[str] | None = None) -> np.ndarray:
    """Return ``cm`` as an int64 array after checking it is square, non-negative and integral.

    Raises ``ValueError`` naming what was expected and what was found; ``class_names`` (if given)
    must have one name per row.
    """
    arr = np.asarray(cm)
    if arr.ndim != 2 or arr.shape[0] != arr.shape[1]:
        raise ValueError(f"confusion matrix: expected a square 2-D array, found shape {arr.shape}")
    if class_names is not None and len(class_names) != arr.shape[0]:
        raise ValueError(
            f"confusion matrix: shape {arr.shape} does not match {len(class_names)} class names "
            f"{tuple(class_names)!r}"
        )
    if not np.issubdtype(arr.dtype, np.number) or np.issubdtype(arr.dtype, np.complexfloating):
        raise ValueError(f"confusion matrix: expected numbers, found dtype {arr.dtype}")
    if not np.all(np.isfinite(arr)):
        raise ValueError("confusion matrix: found NaN or infinite entries")
    if np.any(arr < 0):
        raise ValueError(f"confusion matrix: expected non-negative counts, found min {arr.min()}")
    if not np.issubdtype(arr.dtype, np.integer) and np.any(np.mod(arr, 1) != 0):
        raise ValueError("confusion matrix: expected integer counts, found non-integral entries")
    return arr.astype(np.int64)


# ----------------------------------------------------------------------------------------------
# confusion-matrix metrics
# ----------------------------------------------------------------------------------------------
def confusion_matrix(y_true, y_pred, num_classes: int) -> np.ndarray:
    """Confusion matrix ``[true, predicted]`` of integer labels (or one-hot rows), int64 (C, C).

    Same as ``sklearn.metrics.confusion_matrix(y_true, y_pred, labels=range(num_classes))``.
    """
    t = _labels(y_true, num_classes, "y_true")
    p = _labels(y_pred, num_classes, "y_pred")
    if t.shape != p.shape:
        raise ValueError(f"y_true and y_pred: lengths differ ({t.shape[0]} vs {p.shape[0]})")
    return np.bincount(t * num_classes + p, minlength=num_classes**2).reshape(num_classes, num_classes)


def _safe_div(num, den) -> np.ndarray:
    num = np.asarray(num, dtype=np.float64)
    den = np.asarray(den, dtype=np.float64)
    out = np.zeros(np.broadcast_shapes(num.shape, den.shape))
    np.divide(num, den, out=out, where=den != 0)
    return out


def _stats(cm: np.ndarray) -> dict[str, np.ndarray]:
    """Per-class metrics of one or many confusion matrices, shape (..., C, C) -> (..., C)."""
    cm = np.asarray(cm, dtype=np.float64)
    tp = np.diagonal(cm, axis1=-2, axis2=-1)
    support = cm.sum(axis=-1)
    predicted = cm.sum(axis=-2)
    total = cm.sum(axis=(-2, -1))[..., None]
    fp = predicted - tp
    fn = support - tp
    tn = total - tp - fp - fn
    return {
        "precision": _safe_div(tp, tp + fp),
        "recall": _safe_div(tp, support),
        "specificity": _safe_div(tn, tn + fp),
        "f1": _safe_div(2 * tp, 2 * tp + fp + fn),
        "npv": _safe_div(tn, tn + fn),
        "support": support,
        "accuracy": _safe_div(tp.sum(axis=-1), total[..., 0]),
    }


def _averages(stats: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """macro_* and weighted_* of the per-class stats (last axis = classes)."""
    support = stats["support"]
    weights = _safe_div(support, support.sum(axis=-1, keepdims=True))
    out = {}
    for name in ("precision", "recall", "specificity", "f1", "npv"):
        out[f"macro_{name}"] = stats[name].mean(axis=-1)
        out[f"weighted_{name}"] = (stats[name] * weights).sum(axis=-1)
    return out


def overall_accuracy(cm) -> float:
    """Overall accuracy ``trace / total`` of a confusion matrix (0.0 for an empty matrix)."""
    arr = validate_confusion_matrix(cm)
    total = arr.sum()
    return float(np.trace(arr) / total) if total else 0.0


def from_confusion_matrix(cm, class_names: Sequence[str]) -> pd.DataFrame:
    """Per-class and averaged metrics of a confusion matrix (rows true, columns predicted).

    Returns a DataFrame indexed by the class names then ``macro`` and ``weighted``, with columns
    precision, recall, specificity, f1, npv (fractions in [0, 1]) and support (int; the averages'
    support is the total). ``df.attrs["accuracy"]`` is the overall accuracy and
    ``df.attrs["confusion"]`` a copy of the matrix as nested lists. Zero divisions give 0.0
    (sklearn ``zero_division=0``). Precision, recall, F1 and their macro/weighted averages equal
    ``sklearn.metrics.precision_recall_fscore_support(..., labels=range(C), zero_division=0)``.
    """
    names = _class_names(class_names)
    arr = validate_confusion_matrix(cm, names)
    stats = _stats(arr)
    avg = _averages(stats)
    total = int(arr.sum())
    rows = {}
    for i, name in enumerate(names):
        rows[name] = [stats[m][i] for m in METRIC_COLUMNS[:-1]] + [int(stats["support"][i])]
    for a in AVERAGES:
        rows[a] = [float(avg[f"{a}_{m}"]) for m in METRIC_COLUMNS[:-1]] + [total]
    df = pd.DataFrame.from_dict(rows, orient="index", columns=list(METRIC_COLUMNS))
    df["support"] = df["support"].astype(np.int64)
    df.attrs["accuracy"] = float(stats["accuracy"])
    df.attrs["confusion"] = arr.tolist()
    return df


def from_labels(y_true, y_pred, class_names: Sequence[str]) -> pd.DataFrame:
    """:func:`from_confusion_matrix` of integer (or one-hot) true and predicted labels."""
    names = _class_names(class_names)
    return from_confusion_matrix(confusion_matrix(y_true, y_pred, len(names)), names)


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
    out of the macro mean.
    """
    names = _class_names(class_names)
    t = _labels(y_true, len(names), "y_true")
    p = _probabilities(y_prob, len(names), t.shape[0])
    auc = _ovr_auc(_auc_plan(t, p), np.ones((1, t.shape[0]), dtype=np.int64))[0]
    macro = float(np.nanmean(auc)) if np.any(np.isfinite(auc)) else float("nan")
    return pd.Series(list(auc) + [macro], index=list(names) + ["macro"], name="roc_auc")


# ----------------------------------------------------------------------------------------------
# bootstrap
# ----------------------------------------------------------------------------------------------
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


def _percentile_ci(values: np.ndarray, alpha: float) -> tuple[np.ndarray, np.ndarray]:
    """Percentile interval along axis 0, ignoring NaN; NaN where no resample is defined."""
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

    Generic (one Python call per resample); :func:`evaluate_predictions` computes its intervals
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
    low, high = _percentile_ci(values[:, None], alpha)
    return float(low[0]), float(high[0])


# ----------------------------------------------------------------------------------------------
# evaluation of one set of predictions
# ----------------------------------------------------------------------------------------------
@dataclass
class EvaluationResult:
    """Metrics of one set of predictions (one fold, one test set, or pooled folds).

    confusion: int64 (C, C), rows true, columns predicted. per_class: :func:`from_confusion_matrix`
    frame. accuracy: overall accuracy. roc_auc: :func:`roc_auc_ovr` series (None without scores).
    summary: flat dict (accuracy, macro_/weighted_ precision, recall, specificity, f1, npv,
    macro_roc_auc, n). ci: DataFrame indexed by metric name with columns value, low, high
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


def _summary(cm: np.ndarray, roc: pd.Series | None) -> dict[str, float]:
    stats = _stats(cm)
    summary = {"accuracy": float(stats["accuracy"])}
    summary.update({k: float(v) for k, v in _averages(stats).items()})
    summary["macro_roc_auc"] = float(roc["macro"]) if roc is not None else float("nan")
    summary["n"] = int(cm.sum())
    return summary


def evaluate_confusion(cm, class_names: Sequence[str]) -> EvaluationResult:
    """:class:`EvaluationResult` from a confusion matrix alone (no ROC-AUC, no intervals)."""
    names = _class_names(class_names)
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
    stats = _stats(cms)
    avg = _averages(stats)
    finite = np.isfinite(auc)
    n_defined = finite.sum(axis=1)
    macro_auc = np.where(n_defined > 0, _safe_div(np.where(finite, auc, 0.0).sum(axis=1), n_defined),
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
    recall (``precision[<class>]``). The bootstrap is vectorised: confusion matrices of all
    resamples via one ``np.bincount``, AUCs via sample multiplicities, so 1000 resamples of 10,000
    samples take well under a second or two. ``n_boot=0`` skips it (NaN bounds).
    """
    names = _class_names(class_names)
    num_classes = len(names)
    t = _labels(y_true, num_classes, "y_true")
    p = _probabilities(y_prob, num_classes, t.shape[0])
    if t.size == 0:
        raise ValueError("evaluate_predictions: no samples")
    pred = p.argmax(axis=1)
    cm = confusion_matrix(t, pred, num_classes)
    per_class = from_confusion_matrix(cm, names)
    roc = roc_auc_ovr(t, p, names)
    summary = _summary(cm, roc)

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
        low, high = _percentile_ci(np.concatenate(values), alpha)
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
    for k, r in enumerate(folds[1:], start=2):
        other = [str(i) for i in _per_class_frame(r).index]
        if other != first:
            raise ValueError(f"per_fold: fold {k} has rows {other}, fold 1 has {first}")
    return folds


def _table_row(per_class: pd.DataFrame, average: str) -> list[float]:
    if average not in AVERAGES:
        raise ValueError(f"average: expected one of {AVERAGES}, found {average!r}")
    row = per_class.loc[average]
    return [100 * float(row[_TABLE_FROM_METRIC[c]]) for c in TABLE_COLUMNS[:-1]] + [
        100 * float(per_class.attrs["accuracy"])]


def fold_table(per_fold: Sequence, average: str = "macro") -> pd.DataFrame:
    """CoroNet Table III layout [S4]: rows ``fold 1`` .. ``fold k``, ``mean``, ``std``.

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
    labels = ([f"fold {n + 1}" for n in numbers] if all(n is not None for n in numbers)
              else [f"fold {k}" for k in range(1, len(folds) + 1)])
    df = pd.DataFrame(rows, columns=list(TABLE_COLUMNS), index=labels)
    stats = pd.DataFrame([df.mean(axis=0), df.std(axis=0, ddof=1)], index=["mean", "std"])
    out = pd.concat([df, stats])
    out.attrs.update(average=average, units="percent")
    return out


def classwise_table(per_fold: Sequence) -> pd.DataFrame:
    """CoroNet Table IV layout [S4]: one row per class, mean over folds of each class's metrics.

    Columns Precision, Recall, Specificity, F-measure in percent (one-vs-rest per class; F-measure
    is the mean of the folds' F1, not the F1 of the mean precision and recall).
    """
    folds = _check_folds(per_fold)
    frames = [_per_class_frame(r) for r in folds]
    names = [i for i in frames[0].index if i not in AVERAGES]
    cols = [_TABLE_FROM_METRIC[c] for c in CLASSWISE_COLUMNS]
    stacked = np.stack([f.loc[names, cols].to_numpy(dtype=np.float64) for f in frames])
    out = pd.DataFrame(100 * stacked.mean(axis=0), index=names, columns=list(CLASSWISE_COLUMNS))
    out.attrs.update(units="percent", n_folds=len(frames))
    return out


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
    """Table III layout, one row ``pooled``: metrics of the summed confusion matrix of all folds."""
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
