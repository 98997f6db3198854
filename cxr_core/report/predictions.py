"""Prediction files and the evaluation written from them.

``predictions.csv`` (a fold's test set, or ``covid-cxr evaluate``'s data) has one row per sample in
the sample table's order::

    sample_id, label, label_index, predicted, predicted_index, prob_<class> (one per class, float)

:func:`write_fold_evaluation` writes a fold's predictions, metrics table and figures;
:func:`write_evaluation` the same for ``covid-cxr evaluate`` (with bootstrap CIs);
:func:`read_predictions` reads labels and probabilities back for merging runs.
"""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np
import pandas as pd
from cxr_core.errors import CxrError


def predictions_frame(table, probs: np.ndarray) -> pd.DataFrame:
    """sample_id, true label (name and index), predicted label and one probability column per class.

    ``probs``: ``[len(table), C]`` class probabilities in ``table``'s row order.
    """
    frame = pd.DataFrame(
        {
            "sample_id": table.frame["sample_id"].to_numpy(),
            "label": table.frame["label"].to_numpy(),
            "label_index": table.labels,
            "predicted": [table.class_names[i] for i in probs.argmax(axis=1)],
            "predicted_index": probs.argmax(axis=1),
        }
    )
    for i, name in enumerate(table.class_names):
        frame[f"prob_{name}"] = probs[:, i]
    return frame


def image_predictions_frame(table, probs: np.ndarray) -> pd.DataFrame:
    """``covid-cxr predict --csv``: path (the sample id as given), predicted class, one probability per class."""
    names = table.class_names
    rows = []
    for sid, p in zip(table.frame["sample_id"], probs):
        rows.append({"path": sid, "predicted": names[int(np.argmax(p))],
                     **{f"prob_{c}": float(v) for c, v in zip(names, p)}})
    return pd.DataFrame(rows)


def read_predictions(path: Path, class_names: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    """Labels ``[N]`` int64 and probabilities ``[N, C]`` float64 from a predictions.csv.

    Raises:
        ValueError: a ``prob_<class>`` column of ``class_names`` is missing (naming the file).
    """
    frame = pd.read_csv(path)
    cols = [f"prob_{c}" for c in class_names]
    missing = [c for c in cols if c not in frame.columns]
    if missing:
        raise CxrError(f"{path}: missing column {missing[0]!r}; expected {cols}")
    return frame["label_index"].to_numpy(dtype=np.int64), frame[cols].to_numpy(dtype=np.float64)


def write_fold_evaluation(fold_dir: Path, table, probs: np.ndarray, *, title: str, n_boot: int, seed: int,
                          log_path: Path | None = None, kept: str | None = None, monitor: str = "val_accuracy"):
    """A fold's metrics.csv/.md, confusion matrices (counts and row-normalised), curves.png (from the
    training log, when there is one; ``kept`` / ``monitor``: ``train.checkpoint`` /
    ``train.checkpoint_monitor``, the epoch its star marks, :func:`cxr_core.report.figures.plot_training_curves`)
    and, last, predictions.csv (whose presence marks the fold finished). Returns the
    :class:`cxr_core.evaluation.metrics` evaluation."""
    from cxr_core.evaluation.metrics import evaluate_predictions
    from cxr_core.report.figures import plot_confusion_matrix, plot_training_curves
    from cxr_core.report.tables import write_table

    fold_dir = Path(fold_dir)
    evaluation = evaluate_predictions(table.labels, probs, table.class_names, n_boot=n_boot, seed=seed)
    write_table(evaluation.per_class, fold_dir / "metrics")
    plot_confusion_matrix(evaluation.confusion, table.class_names, fold_dir / "confusion_matrix.png", title=title)
    plot_confusion_matrix(evaluation.confusion, table.class_names, fold_dir / "confusion_matrix_normalized.png",
                          normalize=True, title=f"{title} (row-normalised)")
    if log_path is not None and Path(log_path).is_file():
        plot_training_curves(log_path, fold_dir / "curves.png", kept=kept, monitor=monitor)
    if "path" in table.frame:
        from cxr_core.report.gallery import plot_prediction_gallery

        plot_prediction_gallery(table.frame["path"].astype(str).tolist(), table.labels, probs, table.class_names,
                                fold_dir / "prediction_gallery.png", title=f"{title}: correct and wrong predictions")
    write_table(predictions_frame(table, probs), fold_dir / "predictions", index=False, markdown=False)
    return evaluation


def write_evaluation(out: Path, table, probs: np.ndarray, *, n_boot: int, seed: int = 0, title: str = "evaluation",
                     notes: Sequence[str] = ()):
    """``covid-cxr evaluate``'s folder, with the figures of a run's report: metrics, metrics_ci and
    predictions (CSV + Markdown), confusion matrices (counts and row-normalised), ROC + precision-recall
    curves (``roc_pr.png``), the reliability diagram (``reliability.png``), ``report.md`` /
    ``report.html`` gathering them (``notes``: lines said at its top, e.g. which model and data), and
    skipped.csv when files were left out. Returns the evaluation."""
    from cxr_core.atomic_files import atomic_path, atomic_write_text
    from cxr_core.evaluation.metrics import evaluate_predictions
    from cxr_core.report.figures import plot_confusion_matrix
    from cxr_core.report.html import write_html
    from cxr_core.report.score_figures import plot_reliability, plot_roc_pr
    from cxr_core.report.tables import to_markdown, write_table

    out = Path(out)
    class_names = table.class_names
    result = evaluate_predictions(table.labels, probs, class_names, n_boot=n_boot, seed=seed)
    write_table(result.per_class, out / "metrics")
    write_table(result.ci, out / "metrics_ci")
    write_table(predictions_frame(table, probs), out / "predictions", floatfmt=".6f")
    plot_confusion_matrix(result.confusion, class_names, out / "confusion_matrix.png", title=title)
    plot_confusion_matrix(result.confusion, class_names, out / "confusion_matrix_normalized.png", normalize=True,
                          title=f"{title} (row-normalised)")
    figures = ["confusion_matrix.png", "confusion_matrix_normalized.png"]
    labels = np.asarray(table.labels)
    if len(np.unique(labels)) > 1:  # curves need both positives and negatives
        plot_roc_pr(labels, probs, class_names, out / "roc_pr.png", title=f"{title}: one-vs-rest")
        plot_reliability(labels, probs, out / "reliability.png", title=f"{title}: reliability")
        figures += ["roc_pr.png", "reliability.png"]
    if len(table.skipped):
        with atomic_path(out / "skipped.csv") as tmp:
            table.skipped.to_csv(tmp, index=False)
    lines = [f"# {title}", "", *[f"- {n}" for n in notes], "" if notes else "",
             f"{len(table)} images, accuracy {result.accuracy:.4f}"
             + (f"; {len(table.skipped)} file(s) skipped (skipped.csv)" if len(table.skipped) else ""), "",
             "## Per class", "", to_markdown(result.per_class, floatfmt=".4f").strip(), "",
             f"## 95% bootstrap intervals ({result.ci.attrs.get('n_boot', n_boot)} resamples)", "",
             to_markdown(result.ci, floatfmt=".4f").strip(), "", "## Figures", "",
             *[f"![{name}]({name})" for name in figures], ""]
    atomic_write_text(out / "report.md", "\n".join(lines))
    write_html(out / "report.md")
    return result
