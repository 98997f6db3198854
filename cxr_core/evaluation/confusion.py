"""Confusion-matrix metrics and the input checks every metric shares.

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
  CoroNet's paper prints recall as (TP+FN)/(TP+FN), a misprint [S4] (docs/PAPERS.md §1.7 item 7).
* ``macro`` = unweighted mean over classes; ``weighted`` = mean weighted by support (sklearn
  ``average="weighted"``; specificity and NPV weighted the same way). The papers do not say which
  averaging their tables use (not stated in CoroNet [S4]; CVR-Net abstract [S2], docs/PAPERS.md §2.7
  item 7).

This module imports neither
TensorFlow nor Keras.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
import pandas as pd

METRIC_COLUMNS = ("precision", "recall", "specificity", "f1", "npv", "support")
AVERAGES = ("macro", "weighted")


# ----------------------------------------------------------------------------------------------
# input checking
# ----------------------------------------------------------------------------------------------
def check_class_names(class_names: Sequence[str], what: str = "class_names") -> tuple[str, ...]:
    """``class_names`` as a tuple of str; ValueError (naming ``what``) unless there are at least two,
    all unique, and none is a reserved row name (``macro``, ``weighted``)."""
    names = tuple(str(c) for c in class_names)
    if len(names) < 2:
        raise ValueError(f"{what}: expected at least 2 class names, found {len(names)}: {names!r}")
    if len(set(names)) != len(names):
        raise ValueError(f"{what}: class names must be unique, found {names!r}")
    reserved = {"macro", "weighted"} & set(names)
    if reserved:
        raise ValueError(f"{what}: {sorted(reserved)} are reserved row names, found {names!r}")
    return names


def as_labels(y, num_classes: int, what: str) -> np.ndarray:
    """Integer labels (int64, shape (N,)) from integer labels or one-hot / probability rows (argmax).

    ValueError naming ``what`` for a wrong shape, non-integral values or indices outside
    ``[0, num_classes - 1]``.
    """
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


def as_scores(y_prob, num_classes: int, n: int) -> np.ndarray:
    """Scores as a float64 (N, C) array; a 1-D array with 2 classes is taken as P(class 1).

    ValueError for another shape or NaN / infinite scores.
    """
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
    t = as_labels(y_true, num_classes, "y_true")
    p = as_labels(y_pred, num_classes, "y_pred")
    if t.shape != p.shape:
        raise ValueError(f"y_true and y_pred: lengths differ ({t.shape[0]} vs {p.shape[0]})")
    return np.bincount(t * num_classes + p, minlength=num_classes**2).reshape(num_classes, num_classes)


def safe_div(num, den) -> np.ndarray:
    """``num / den`` elementwise (broadcast, float64), 0.0 where ``den == 0``."""
    num = np.asarray(num, dtype=np.float64)
    den = np.asarray(den, dtype=np.float64)
    out = np.zeros(np.broadcast_shapes(num.shape, den.shape))
    np.divide(num, den, out=out, where=den != 0)
    return out


def confusion_stats(cm: np.ndarray) -> dict[str, np.ndarray]:
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
        "precision": safe_div(tp, tp + fp),
        "recall": safe_div(tp, support),
        "specificity": safe_div(tn, tn + fp),
        "f1": safe_div(2 * tp, 2 * tp + fp + fn),
        "npv": safe_div(tn, tn + fn),
        "support": support,
        "accuracy": safe_div(tp.sum(axis=-1), total[..., 0]),
    }


def class_averages(stats: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """``macro_*`` and ``weighted_*`` of :func:`confusion_stats`' per-class values (last axis = classes)."""
    support = stats["support"]
    weights = safe_div(support, support.sum(axis=-1, keepdims=True))
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
    names = check_class_names(class_names)
    arr = validate_confusion_matrix(cm, names)
    stats = confusion_stats(arr)
    avg = class_averages(stats)
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
    names = check_class_names(class_names)
    return from_confusion_matrix(confusion_matrix(y_true, y_pred, len(names)), names)
