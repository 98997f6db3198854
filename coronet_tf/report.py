"""CoroNet's metric-per-row report layouts: a row of Table V [S4], or Table VI [S4], beside our run.

Registered as ``FAMILY.published.report_layouts["coronet/table5"]`` and ``["coronet/table6"]``, called by
:func:`cxr_core.report.markdown.write_run_report` (see :mod:`cxr_core.report.comparison` for the frame).
"""

from __future__ import annotations

import re
from typing import Mapping, Sequence

import pandas as pd

from cxr_core.report.comparison import class_lookup, metric_row, ours, percent, summary_frame
from cxr_core.report.published import published_table
from cxr_core.errors import CxrError

#: Table V rows by class count [S4].
_ROW_BY_CLASSES = {4: "4-class", 3: "3-class", 2: "binary"}
_METRICS = (("Precision", "macro_precision"), ("Recall", "macro_recall"),
            ("Specificity", "macro_specificity"), ("F-measure", "macro_f1"), ("Accuracy", "accuracy"))


def table5_row(config: Mapping, n_classes: int) -> str:
    """The Table V row of a run: ``row <name>`` in ``config["published"]["source"]`` (e.g. ``[S4]
    Table V, row 3-class``), else by class count (4 -> ``4-class``, 3 -> ``3-class``, 2 ->
    ``binary``). CxrError for another class count without such a source."""
    published = config.get("published") if isinstance(config.get("published"), Mapping) else {}
    source = str(published.get("source") or "")
    match = re.search(r"row\s+([\w-]+)", source, re.IGNORECASE)
    if match and match.group(1).lower() in _ROW_BY_CLASSES.values():
        return match.group(1).lower()
    if n_classes not in _ROW_BY_CLASSES:
        raise CxrError(f"coronet/table5: no row for {n_classes} classes and no 'row ...' in "
                         f"published.source {source!r}; expected 4, 3 or 2 classes")
    return _ROW_BY_CLASSES[n_classes]


def table5_layout(key: str, config: Mapping, folds: Sequence, pooled, *,
                  selection: Mapping | None = None) -> tuple[pd.DataFrame, str, list[str]]:
    """Table V [S4]: macro Precision, Recall, Specificity, F-measure and Accuracy of the row
    :func:`table5_row` picks, beside ours (percent). The paper does not state its averaging; macro
    is assumed (docs/PAPERS.md §1.7)."""
    pub = published_table(key)
    row = table5_row(config, len(pooled.class_names))
    rows = []
    for column, metric in _METRICS:
        label = column if column == "Accuracy" else f"{column} (macro)"
        rows.append(metric_row(label, ours(pooled, folds, metric),
                               percent(pub.at[row, column], pub.attrs["units"]),
                               f"{pub.attrs['source']}, row {row}"))
    notes = [f"{pub.attrs['source']}: {pub.attrs['notes']}",
             "Precision, Recall, Specificity and F-measure: macro averages over classes "
             "(the paper does not state its averaging [S4])."]
    return summary_frame(rows), f"{pub.attrs['title']}: row {row}", notes


#: Table VI's columns [S4] -> per-class metric names of :func:`cxr_core.report.comparison.ours`.
_TABLE6_COLUMNS = (("Precision", "precision"), ("Recall", "recall"), ("Specificity", "specificity"),
                   ("F-measure", "f1"))


def table6_layout(key: str, config: Mapping, folds: Sequence, pooled, *,
                  selection: Mapping | None = None) -> tuple[pd.DataFrame, str, list[str]]:
    """Table VI [S4] (CoroNet on Dataset-2 of Ozturk et al.): per-class precision, recall, specificity
    and F-measure of COVID-19, Normal and Pneumonia, the 'Average' row as macro averages (the paper's
    averaging is not stated; its Average row equals the mean of its class rows to rounding), and the
    overall accuracy 90.21%, beside ours (percent). A published class without a counterpart among our
    classes is named in the notes."""
    pub = published_table(key)
    names = list(pooled.class_names)
    rows, notes = [], []
    for label in pub.index:
        if label == "Average":
            for column, metric in _TABLE6_COLUMNS:
                rows.append(metric_row(f"{column} (macro)", ours(pooled, folds, f"macro_{metric}"),
                                       float(pub.at[label, column]), f"{pub.attrs['source']}, row Average"))
            continue
        mine = class_lookup(names, label, pub.attrs.get("class_aliases"))
        if mine is None:
            notes.append(f"{pub.attrs['source']} row {label!r} has no counterpart in our classes {names}")
            continue
        for column, metric in _TABLE6_COLUMNS:
            rows.append(metric_row(f"{column} {label}", ours(pooled, folds, f"{metric}[{mine}]"),
                                   float(pub.at[label, column]), f"{pub.attrs['source']}, row {label}"))
    accuracy = pub.attrs["accuracy"]
    rows.append(metric_row("Accuracy", ours(pooled, folds, "accuracy"), float(accuracy),
                           f"{pub.attrs['source']}, overall accuracy"))
    notes += [f"{pub.attrs['source']}: {pub.attrs['notes']}",
              "Dataset-2 [S4] = Ozturk et al.'s release (covid-cxr data build coronet-dataset2): 125 COVID-19 "
              "images where the paper says 157, and a protocol the paper does not state ('slight modification "
              "and fine-tuning' [S4]; docs/FIDELITY.md)."]
    return summary_frame(rows), pub.attrs["title"], notes


REPORT_LAYOUTS = {"coronet/table5": table5_layout, "coronet/table6": table6_layout}
