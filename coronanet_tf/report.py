"""CORONA-Net's metric-per-row report layout: per-class PPV and sensitivity, overall accuracy.

Registered for ``coronanet/table5_ppv``, ``coronanet/table5_ppv_relabelled``,
``coronanet/confusion`` and ``coronanet/accuracy`` (``FAMILY.published.report_layouts``; presets may name
``coronanet/abstract``, an alias of ``coronanet/accuracy``). Called by
:func:`cxr_core.report.markdown.write_run_report` (see :mod:`cxr_core.report.comparison` for the frame),
which also draws the project-page confusion matrix beside ours for these keys (:data:`REPORT_FIGURES`,
:mod:`coronanet_tf.report_figures`).
"""

from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np
import pandas as pd

from cxr_core.family import lazy
from cxr_core.report.comparison import class_lookup, metric_row, ours, summary_frame
from cxr_core.report.published import published_table

#: Label spellings of the same class (normalised: lower case, letters and digits only).
CLASS_ALIASES = {"covid19": "covid"}
PUBLISHED_ALIASES = {r"^coronanet/abstract$": "coronanet/accuracy"}
_ROW = "CORONA-Net"


def ppv_sensitivity_layout(key: str, config: Mapping, folds: Sequence, pooled, *,
                           selection: Mapping | None = None) -> tuple[pd.DataFrame, str, list[str]]:
    """Per-class PPV (project-page 'TABLE 5', CORONA-Net row [VIP]; the relabelled variant when
    ``key`` names it), per-class sensitivity (diagonal of the project-page confusion matrix [VIP])
    and the journal's overall accuracy 95.84% [PG], beside ours (percent). The notes add what the
    confusion matrix implies with our class counts (INFERRED)."""
    names = list(pooled.class_names)
    ppv_key = key if key.startswith("coronanet/table5_ppv") else "coronanet/table5_ppv"
    ppv = published_table(ppv_key)
    conf = published_table("coronanet/confusion")
    acc = published_table("coronanet/accuracy")
    rows: list[dict] = []
    notes: list[str] = []
    for label in ppv.columns:
        ours_name = class_lookup(names, label, CLASS_ALIASES)
        if ours_name is None:
            notes.append(f"class {label!r} of {ppv.attrs['source']} has no counterpart in our "
                         f"classes {names}")
            continue
        rows.append(metric_row(f"PPV {label}", ours(pooled, folds, f"precision[{ours_name}]"),
                               float(ppv.at[_ROW, label]), f"{ppv.attrs['source']}, row {_ROW}"))
    for label in conf.index:
        ours_name = class_lookup(names, label, CLASS_ALIASES)
        if ours_name is None:
            continue
        rows.append(metric_row(f"Sensitivity {label}", ours(pooled, folds, f"recall[{ours_name}]"),
                               100 * float(conf.at[label, label]), f"{conf.attrs['source']} (diagonal)"))
    rows.append(metric_row("Accuracy", ours(pooled, folds, "accuracy"),
                           float(acc.iloc[0]["Accuracy"]), acc.attrs["source"]))
    rows += topk_rows(folds, pooled)
    for table in (ppv, conf, acc):
        notes.append(f"{table.attrs['source']} ({table.attrs['key']}): {table.attrs['notes']}")
    notes += consistency_notes(conf, ppv, acc, names, pooled.confusion)
    notes += project_page_confusion_notes(conf, names, pooled.confusion)
    notes.append(TOPK_NOTE)
    return summary_frame(rows), "CORONA-Net: per-class PPV and sensitivity, overall accuracy", notes


def project_page_order(published: pd.DataFrame, names: Sequence[str]) -> list[int] | None:
    """Positions in ``names`` of the published matrix's classes, in its order (the project page's
    COVID-19, Pneumonia, Normal [VIP]), e.g. ``[0, 2, 1]`` for ``["covid", "normal", "pneumonia"]``.
    None when one of its classes has no counterpart in ``names`` (:data:`CLASS_ALIASES` applied)."""
    order = [class_lookup(list(names), label, CLASS_ALIASES) for label in published.index]
    if any(o is None for o in order):
        return None
    return [list(names).index(o) for o in order]


def project_page_confusion(published: pd.DataFrame, names: Sequence[str], confusion) -> pd.DataFrame | None:
    """Our confusion matrix in the project page's layout [VIP]: its class order (COVID-19, Pneumonia,
    Normal), rows true, columns predicted, each row divided by its count (fractions in [0, 1], float64;
    NaN for a class without samples). None when one of its classes has no counterpart in ``names``."""
    cm = np.asarray(confusion, dtype=np.float64)
    idx = project_page_order(published, names)
    if idx is None:
        return None
    sub = cm[np.ix_(idx, idx)]
    with np.errstate(invalid="ignore", divide="ignore"):
        rows = sub / cm[idx].sum(axis=1, keepdims=True)
    return pd.DataFrame(rows, index=list(published.index), columns=list(published.columns))


def project_page_confusion_notes(published: pd.DataFrame, names: Sequence[str], confusion) -> list[str]:
    """One line per true class: our row of :func:`project_page_confusion` beside the published row."""
    ours_frame = project_page_confusion(published, names, confusion)
    if ours_frame is None:
        return []
    cols = " / ".join(published.columns)
    lines = [f"Confusion matrix in the project page's layout (rows true, columns predicted {cols}, row fractions) "
             f"[VIP]:"]
    for label in published.index:
        mine = " / ".join(f"{v:.2f}" for v in ours_frame.loc[label])
        theirs = " / ".join(f"{v:.2f}" for v in published.loc[label])
        lines.append(f"{label}: ours {mine}; published {theirs}")
    return lines


TOPK_NOTE = ("Top-1 and top-2 accuracy as the authors' evaluation printed them: "
             "accuracy(output, target, topk=(1, 2)), printed as 'Prec@1' and 'Prec@5' [CR]. Top-1 "
             "equals Accuracy; no top-2 figure is published; no interval.")


def topk_rows(folds: Sequence, pooled) -> list[dict]:
    """Top-1 / top-2 accuracy rows of [CR]'s ``validate`` (``topk=(1, 2)``); nothing published."""
    nan = float("nan")
    return [metric_row("Top-1 accuracy ([CR] Prec@1)", ours(pooled, folds, "top_1_accuracy"), nan,
                       "[CR] validate(): accuracy(..., topk=(1, 2))[0]"),
            metric_row("Top-2 accuracy ([CR] 'Prec@5')", ours(pooled, folds, "top_2_accuracy"), nan,
                       "[CR] validate(): accuracy(..., topk=(1, 2))[1]")]


def consistency_notes(conf: pd.DataFrame, ppv: pd.DataFrame, acc: pd.DataFrame,
                      names: Sequence[str], ours_cm: np.ndarray) -> list[str]:
    """What the published row-normalised confusion matrix implies for PPV and accuracy with our
    test set's class counts, against the published PPV row and accuracy (INFERRED). Empty when a
    published class has no counterpart among ``names``."""
    support = {}
    for label in conf.index:
        ours_name = class_lookup(names, label, CLASS_ALIASES)
        if ours_name is None:
            return []
        support[label] = int(ours_cm[list(names).index(ours_name)].sum())
    counts = np.array([support[c] for c in conf.index], dtype=float)
    rates = conf.to_numpy(dtype=float)
    expected = rates * counts[:, None]
    implied_acc = 100 * np.trace(expected) / counts.sum() if counts.sum() else float("nan")
    col = expected.sum(axis=0)
    implied_ppv = np.divide(100 * np.diag(expected), col, out=np.full(len(col), np.nan),
                            where=col > 0)
    shown = ", ".join(f"{c} {support[c]}" for c in conf.index)
    ppv_text = "; ".join(
        f"{c} {v:.1f} (published {float(ppv.at[_ROW, c]):.1f})"
        for c, v in zip(conf.index, implied_ppv) if c in ppv.columns)
    return [f"INFERRED check: the published confusion matrix applied to our test set's class counts "
            f"({shown}) implies accuracy {implied_acc:.2f}% (journal abstract: "
            f"{float(acc.iloc[0]['Accuracy']):.2f}%) and PPV {ppv_text}. Where these disagree the "
            "published figures cannot all come from one run on a set of this composition."]


REPORT_LAYOUTS = {key: ppv_sensitivity_layout for key in (
    "coronanet/table5_ppv", "coronanet/table5_ppv_relabelled", "coronanet/confusion", "coronanet/accuracy")}
#: The same keys -> the project-page confusion matrix drawn beside ours
#: (:func:`coronanet_tf.report_figures.confusion_figures`; a lazy reference, since that module imports this one).
REPORT_FIGURES = {key: lazy("coronanet_tf.report_figures:confusion_figures") for key in REPORT_LAYOUTS}
