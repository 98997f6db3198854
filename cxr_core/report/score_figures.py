"""Figures from the predicted probabilities: per-class ROC and precision-recall curves, and a
reliability (calibration) diagram with its expected calibration error.

Curves are one-vs-rest per class (class ``c`` positive, every other class negative), computed with
scikit-learn (``roc_curve`` / ``auc``, ``precision_recall_curve`` / ``average_precision_score``). A
class without a positive or without a negative sample has no curve (said in the legend).

Calibration (:func:`calibration_bins`, :func:`expected_calibration_error`): the *top-label*
confidence ``max_c p_c`` of each sample against whether its argmax is the true class, in
:data:`ECE_BINS` = 10 equal-width bins of the confidence: bin ``m`` (1-based) holds confidences in
``((m-1)/10, m/10]`` and a confidence of exactly 0 falls in bin 1 (Guo et al. 2017, "On
calibration of modern neural networks"). ``ECE = sum_m (n_m / N) |accuracy_m - confidence_m|``;
empty bins contribute nothing.

Every file goes through :func:`cxr_core.report.figures.save_figure` (atomic; smoke runs marked). This module
imports neither TensorFlow nor Keras.
"""

from __future__ import annotations

import os
from typing import Sequence

import numpy as np

from cxr_core.report.figures import figure, save_figure

ECE_BINS = 10
_COLOURS = ("tab:blue", "tab:orange", "tab:green", "tab:red", "tab:purple", "tab:brown", "tab:pink",
            "tab:olive", "tab:cyan", "tab:gray")


def _check(y_true, y_prob, n_classes: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    t = np.asarray(y_true, dtype=np.int64).reshape(-1)
    p = np.asarray(y_prob, dtype=np.float64)
    if p.ndim != 2 or p.shape[0] != t.shape[0]:
        raise ValueError(f"y_prob: expected shape (N, C) with N = {t.shape[0]}, found {p.shape}")
    if n_classes is not None and p.shape[1] != n_classes:
        raise ValueError(f"y_prob: {p.shape[1]} columns for {n_classes} class names")
    if t.size and (t.min() < 0 or t.max() >= p.shape[1]):
        raise ValueError(f"y_true: labels must lie in [0, {p.shape[1] - 1}], found {t.min()}..{t.max()}")
    return t, p


# ----------------------------------------------------------------------------------- calibration
def calibration_bins(y_true, y_prob, n_bins: int = ECE_BINS) -> dict[str, np.ndarray]:
    """Per bin of top-label confidence (see module doc): ``count`` [n_bins] int, ``confidence``
    (mean confidence) and ``accuracy`` (fraction correct) [n_bins] float (NaN for an empty bin),
    and ``edges`` [n_bins + 1]."""
    t, p = _check(y_true, y_prob)
    conf = p.max(axis=1)
    correct = (p.argmax(axis=1) == t).astype(np.float64)
    edges = np.linspace(0.0, 1.0, n_bins + 1)
    index = np.clip(np.ceil(conf * n_bins).astype(np.int64) - 1, 0, n_bins - 1)
    count = np.bincount(index, minlength=n_bins)
    with np.errstate(invalid="ignore", divide="ignore"):
        confidence = np.bincount(index, weights=conf, minlength=n_bins) / count
        accuracy = np.bincount(index, weights=correct, minlength=n_bins) / count
    return {"count": count, "confidence": confidence, "accuracy": accuracy, "edges": edges}


def expected_calibration_error(y_true, y_prob, n_bins: int = ECE_BINS) -> float:
    """ECE of the top-label confidence in ``n_bins`` equal-width bins (module doc), in [0, 1]."""
    b = calibration_bins(y_true, y_prob, n_bins)
    n = b["count"].sum()
    if n == 0:
        return float("nan")
    used = b["count"] > 0
    return float(np.sum(b["count"][used] / n * np.abs(b["accuracy"][used] - b["confidence"][used])))


def plot_reliability(y_true, y_prob, path: str | os.PathLike, *, title: str | None = None,
                     n_bins: int = ECE_BINS) -> float:
    """Reliability diagram: accuracy per confidence bin (bars) against the diagonal, the gap to
    the bin's mean confidence shaded, and below it the number of samples per bin. Returns the ECE."""
    b = calibration_bins(y_true, y_prob, n_bins)
    ece = expected_calibration_error(y_true, y_prob, n_bins)
    width = 1.0 / n_bins
    centres = b["edges"][:-1] + width / 2
    fig = figure(5.0, 5.6)
    grid = fig.add_gridspec(2, 1, height_ratios=(3, 1), hspace=0.08)
    ax = fig.add_subplot(grid[0])
    hist = fig.add_subplot(grid[1], sharex=ax)
    used = b["count"] > 0
    ax.bar(centres[used], b["accuracy"][used], width=width * 0.95, color="tab:blue", alpha=0.8,
           edgecolor="black", linewidth=0.5, label="accuracy in bin")
    gap_low = np.minimum(b["accuracy"], b["confidence"])[used]
    gap = np.abs(b["accuracy"] - b["confidence"])[used]
    ax.bar(centres[used], gap, bottom=gap_low, width=width * 0.95, facecolor="none", hatch="///",
           edgecolor="tab:red", linewidth=0.8, label="gap to mean confidence")
    ax.plot(centres[used], b["confidence"][used], linestyle="none", marker="_", markersize=14,
            color="black", label="mean confidence in bin")
    ax.plot([0, 1], [0, 1], linestyle="--", color="grey", linewidth=1, label="perfect calibration")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.set_ylabel("accuracy")
    ax.text(0.03, 0.95, f"ECE = {ece:.3f}\n({n_bins} equal-width bins,\ntop-label confidence, "
            f"n = {int(b['count'].sum())})", transform=ax.transAxes, va="top", fontsize=8,
            bbox={"facecolor": "white", "alpha": 0.8, "edgecolor": "lightgrey"})
    ax.legend(fontsize=8, loc="lower right")
    ax.grid(alpha=0.3)
    ax.tick_params(labelbottom=False)
    ax.set_title(title or "Reliability diagram", fontsize=11)
    hist.bar(centres, b["count"], width=width * 0.95, color="grey", edgecolor="black", linewidth=0.5)
    hist.set_xlabel("confidence (top-label probability)")
    hist.set_ylabel("samples")
    hist.grid(alpha=0.3)
    save_figure(fig, path)
    return ece


# ----------------------------------------------------------------------------------- ROC / PR
def class_curves(y_true, y_prob, c: int) -> dict | None:
    """One-vs-rest ROC and PR curves of class ``c``: ``fpr, tpr, auc, recall, precision, ap,
    prevalence``; None when the class has no positive or no negative sample."""
    from sklearn.metrics import auc, average_precision_score, precision_recall_curve, roc_curve

    t, p = _check(y_true, y_prob)
    positive = t == c
    if positive.all() or not positive.any():
        return None
    fpr, tpr, _ = roc_curve(positive, p[:, c])
    precision, recall, _ = precision_recall_curve(positive, p[:, c])
    return {"fpr": fpr, "tpr": tpr, "auc": float(auc(fpr, tpr)), "recall": recall,
            "precision": precision, "ap": float(average_precision_score(positive, p[:, c])),
            "prevalence": float(positive.mean())}


def _unit_axes(ax, xlabel: str, ylabel: str, title: str) -> None:
    """Both axes over [0, 1] (a little margin), labelled, titled, gridded."""
    ax.set_xlim(-0.01, 1.01)
    ax.set_ylim(-0.01, 1.01)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title, fontsize=10)
    ax.grid(alpha=0.3)


def _roc_axes(ax, title: str) -> None:
    ax.plot([0, 1], [0, 1], linestyle=":", color="grey", linewidth=1)
    _unit_axes(ax, "false positive rate (1 - specificity)", "true positive rate (sensitivity)", title)


def _pr_axes(ax, title: str) -> None:
    _unit_axes(ax, "recall (sensitivity)", "precision (PPV)", title)


def _finish_roc_pr(fig, roc, pr, roc_title: str, pr_title: str, title: str, path: str | os.PathLike) -> None:
    """Set up the ROC (left) and precision-recall (right) panels, add their legends (where anything
    is labelled), title the figure and save it."""
    _roc_axes(roc, roc_title)
    _pr_axes(pr, pr_title)
    for ax, where in ((roc, "lower right"), (pr, "lower left")):
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize=8, loc=where)
    fig.suptitle(title, fontsize=11)
    fig.tight_layout()
    save_figure(fig, path)


def plot_roc_pr(y_true, y_prob, class_names: Sequence[str], path: str | os.PathLike, *,
                title: str | None = None) -> dict[str, tuple[float, float]]:
    """ROC (left) and precision-recall (right) curves, one per class (one-vs-rest), AUC and AP in
    the legend; the PR panel marks each class's prevalence (a chance-level classifier's
    precision). Returns ``{class: (auc, ap)}`` (NaN for a class without a curve)."""
    names = [str(c) for c in class_names]
    t, p = _check(y_true, y_prob, len(names))
    fig = figure(11.0, 4.8)
    roc, pr = fig.add_subplot(1, 2, 1), fig.add_subplot(1, 2, 2)
    out = {}
    for c, name in enumerate(names):
        colour = _COLOURS[c % len(_COLOURS)]
        curves = class_curves(t, p, c)
        if curves is None:
            roc.plot([], [], color=colour, label=f"{name}: no curve (one-sided labels)")
            out[name] = (float("nan"), float("nan"))
            continue
        roc.plot(curves["fpr"], curves["tpr"], color=colour, linewidth=1.5,
                 label=f"{name} (AUC {curves['auc']:.3f})")
        pr.step(curves["recall"], curves["precision"], where="post", color=colour, linewidth=1.5,
                label=f"{name} (AP {curves['ap']:.3f})")
        pr.axhline(curves["prevalence"], color=colour, linestyle=":", linewidth=0.8)
        out[name] = (curves["auc"], curves["ap"])
    _finish_roc_pr(fig, roc, pr, "ROC, one-vs-rest", "precision-recall, one-vs-rest (dotted: prevalence)",
                   f"{title or 'ROC and precision-recall'} (n = {len(t)})", path)
    return out


def plot_curves_per_fold(folds: Sequence[tuple[str, np.ndarray, np.ndarray]], class_names: Sequence[str],
                         path: str | os.PathLike, *, kind: str = "roc", title: str | None = None,
                         pooled: tuple[np.ndarray, np.ndarray] | None = None) -> None:
    """One panel per class, one ROC (``kind="roc"``, AUC in the legend) or precision-recall
    (``kind="pr"``, AP) curve per fold; ``folds`` = ``[(label, y_true, y_prob), ...]``;
    ``pooled`` = ``(y_true, y_prob)`` of all folds together, drawn in black."""
    if kind not in ("roc", "pr"):
        raise ValueError(f"kind: expected 'roc' or 'pr', found {kind!r}")
    names = [str(c) for c in class_names]
    n = len(names)
    cols = min(n, 4)
    rows = -(-n // cols)
    fig = figure(4.2 * cols, 4.0 * rows + 0.4)
    items = [(label, t, p, _COLOURS[i % len(_COLOURS)], "-") for i, (label, t, p) in enumerate(folds)]
    if pooled is not None:
        items.append(("pooled", pooled[0], pooled[1], "black", "--"))
    for c, name in enumerate(names):
        ax = fig.add_subplot(rows, cols, c + 1)
        for label, t, p, colour, style in items:
            curves = class_curves(*_check(t, p, n), c)
            if curves is None:
                continue
            if kind == "roc":
                ax.plot(curves["fpr"], curves["tpr"], color=colour, linestyle=style, linewidth=1.2,
                        label=f"{label} (AUC {curves['auc']:.3f})")
            else:
                ax.step(curves["recall"], curves["precision"], where="post", color=colour,
                        linestyle=style, linewidth=1.2, label=f"{label} (AP {curves['ap']:.3f})")
        (_roc_axes if kind == "roc" else _pr_axes)(ax, f"{name} vs rest")
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize=7, loc="lower right" if kind == "roc" else "lower left")
    what = "ROC" if kind == "roc" else "precision-recall"
    fig.suptitle(title or f"{what} per fold", fontsize=11)
    fig.tight_layout()
    save_figure(fig, path)


# ----------------------------------------------------------------------- averaged curves, binary
def micro_pr_curve(y_true, y_prob) -> tuple[np.ndarray, np.ndarray]:
    """Micro-averaged precision-recall curve ``(recall, precision)``: scikit-learn's
    ``precision_recall_curve`` over all ``N x C`` (one-hot label, probability) pairs, the curve whose
    area :func:`cxr_core.evaluation.scores.micro_average_precision` gives."""
    from sklearn.metrics import precision_recall_curve

    t, p = _check(y_true, y_prob)
    onehot = np.zeros(p.shape, dtype=bool)
    onehot[np.arange(t.size), t] = True
    precision, recall, _ = precision_recall_curve(onehot.ravel(), p.ravel())
    return recall, precision


def positive_class(class_names: Sequence[str]) -> int:
    """The class a binary ROC treats as positive: the one whose name contains ``covid`` or ``ncp``
    (case-insensitive), else index 1."""
    for c, name in enumerate(class_names):
        if "covid" in str(name).lower() or str(name).lower() == "ncp":
            return c
    return 1


def operating_point(y_true, y_prob, positive: int) -> tuple[float, float]:
    """``(false positive rate, true positive rate)`` of the argmax decision for class ``positive``."""
    t, p = _check(y_true, y_prob)
    pred = p.argmax(axis=1) == positive
    pos = t == positive
    return float((pred & ~pos).sum() / max((~pos).sum(), 1)), float((pred & pos).sum() / max(pos.sum(), 1))


def plot_averaged_curves(y_true, y_prob, class_names: Sequence[str], path: str | os.PathLike, *,
                         title: str | None = None) -> dict[str, float]:
    """Left: the macro-average ROC curve (mean of the classes' interpolated one-vs-rest curves,
    :func:`cxr_core.evaluation.scores.macro_roc_curve`, the authors' recipe [CVR-T]) with its AUC; for
    two classes also the positive class's ROC (:func:`positive_class`) with the argmax decision's
    operating point marked. Right: the micro-averaged precision-recall curve with its average
    precision. Returns ``{"macro_auc", "micro_ap"}`` (and ``"fpr"``, ``"tpr"`` of the operating point
    for two classes)."""
    from cxr_core.evaluation.scores import macro_roc_auc_interpolated, macro_roc_curve, micro_average_precision

    names = [str(c) for c in class_names]
    t, p = _check(y_true, y_prob, len(names))
    fig = figure(11.0, 4.8)
    roc, pr = fig.add_subplot(1, 2, 1), fig.add_subplot(1, 2, 2)
    fpr, tpr = macro_roc_curve(t, p)
    out = {"macro_auc": macro_roc_auc_interpolated(t, p), "micro_ap": micro_average_precision(t, p)}
    if fpr.size > 1:
        roc.plot(fpr, tpr, color="black", linewidth=1.8, label=f"macro-average (AUC {out['macro_auc']:.3f})")
    if len(names) == 2:
        c = positive_class(names)
        curves = class_curves(t, p, c)
        if curves is not None:
            roc.plot(curves["fpr"], curves["tpr"], color="tab:red", linewidth=1.2, linestyle="--",
                     label=f"{names[c]} positive (AUC {curves['auc']:.3f})")
            out["fpr"], out["tpr"] = operating_point(t, p, c)
            roc.plot([out["fpr"]], [out["tpr"]], marker="o", markersize=8, color="tab:red", linestyle="none",
                     label=f"operating point (argmax): sens {out['tpr']:.3f}, spec {1 - out['fpr']:.3f}")
    recall, precision = micro_pr_curve(t, p)
    pr.step(recall, precision, where="post", color="black", linewidth=1.8,
            label=f"micro-average (AP {out['micro_ap']:.3f})")
    pr.axhline(1.0 / len(names), color="grey", linestyle=":", linewidth=0.8)
    _finish_roc_pr(fig, roc, pr, "ROC, macro-average over classes",
                   "precision-recall, micro-average (dotted: chance 1/C)",
                   f"{title or 'averaged ROC and precision-recall'} (n = {len(t)})", path)
    return out
