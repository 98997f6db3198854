"""CVR-Net's metric-per-row report layout: the abstract's task row [S2] beside our run.

Registered as ``FAMILY.published.report_layouts["cvrnet/abstract"]``; presets name the table as
``cvrnet/abstract_task<N>`` (``FAMILY.published.aliases``), which selects the task. Called by
:func:`cxr_core.report.markdown.write_run_report` (see :mod:`cxr_core.report.comparison` for the frame).
"""

from __future__ import annotations

import re
from typing import Mapping, Sequence

import pandas as pd

from cxr_core.report.comparison import metric_row, ours, percent, summary_frame
from cxr_core.report.published import published_table
from cxr_core.errors import CxrError

PUBLISHED_ALIASES = {r"^cvrnet/abstract_task(?P<task>\d)$": "cvrnet/abstract"}


def task_number(config: Mapping, selection: Mapping) -> int | None:
    """The CVR-Net task of a run: ``selection["task"]`` (from the key alias), else
    ``config["extra"]["cvrnet"]["task"]`` (``config["extra"]["task"]`` in runs made before the task
    moved into CVR-Net's own section), else ``task<N>`` in the config's name or published source."""
    if selection.get("task") is not None:
        return int(selection["task"])
    extra = config.get("extra") if isinstance(config.get("extra"), Mapping) else {}
    own = extra.get("cvrnet") if isinstance(extra.get("cvrnet"), Mapping) else {}
    task = own.get("task", extra.get("task"))
    if task is not None:
        return int(re.sub(r"\D", "", str(task)) or 0) or None
    for text in (config.get("name", ""), (config.get("published") or {}).get("source", "")
                 if isinstance(config.get("published"), Mapping) else ""):
        match = re.search(r"task[\s_-]*(\d)", str(text), re.IGNORECASE)
        if match:
            return int(match.group(1))
    return None


def abstract_layout(key: str, config: Mapping, folds: Sequence, pooled, *,
                    selection: Mapping | None = None) -> tuple[pd.DataFrame, str, list[str]]:
    """The abstract's F1 and accuracy of one task [S2] beside ours (percent). Its F1 averaging is
    not stated (docs/PAPERS.md §2.7 item 7): our macro AND weighted F1 are both compared with it.
    CxrError when the task cannot be told (see :func:`task_number`)."""
    pub = published_table(key)
    task = task_number(config, dict(selection or {}))
    if task is None or f"task {task}" not in pub.index:
        raise CxrError(
            "cvrnet/abstract: cannot tell the task; expected config['extra']['cvrnet']['task'] (1-5), a "
            f"key cvrnet/abstract_task<N>, or 'task<N>' in the name; found name "
            f"{config.get('name')!r}, extra {config.get('extra')!r}")
    row = f"task {task}"
    f1 = percent(pub.at[row, "F1"], pub.attrs["units"])
    acc = percent(pub.at[row, "accuracy"], pub.attrs["units"])
    src = f"{pub.attrs['source']}, Task-{task}"
    rows = [metric_row("F1 (macro)", ours(pooled, folds, "macro_f1"), f1, src),
            metric_row("F1 (weighted)", ours(pooled, folds, "weighted_f1"), f1, src),
            metric_row("Accuracy", ours(pooled, folds, "accuracy"), acc, src)]
    rows += helper_metric_rows(folds, pooled)
    heading = (f"{pub.attrs['title']}: Task-{task} ({pub.at[row, 'classes']} classes, "
               f"{pub.at[row, 'dataset']})")
    notes = [f"{pub.attrs['source']}: {pub.attrs['notes']}",
             "The abstract gives one F1 per task without its averaging: both our macro and "
             "weighted F1 are compared with it; 'ours (pooled)' = all folds' predictions "
             "together, 'ours (fold mean)' = mean of the per-fold values (which of the two "
             "the authors report is not stated).",
             HELPER_NOTE]
    return summary_frame(rows), heading, notes


HELPER_NOTE = (
    "ROC-AUC and average precision as the authors' Performance_helper computed them [CVR-T]: "
    "'ROC-AUC (macro curve)' = area under the macro-average ROC curve (sklearn's example: per-class "
    "roc_curve, TPR interpolated at all classes' FPRs, averaged, auc), beside 'ROC-AUC (mean of "
    "classes)' = mean of the per-class one-vs-rest AUCs; 'AP (micro)' = average_precision_score("
    "one-hot, scores, average='micro'). The paper's values are NOT RETRIEVED (docs/PAPERS.md §2.5), so "
    "these rows have no published figure; no interval for the curve-based two.")


def helper_metric_rows(folds: Sequence, pooled) -> list[dict]:
    """Rows of the authors' helper metrics [CVR-T] (no published value: paper NOT RETRIEVED)."""
    nan = float("nan")
    return [metric_row("ROC-AUC (macro curve) [CVR-T]", ours(pooled, folds, "macro_roc_auc_interpolated"),
                       nan, "[CVR-T] Performance_helper roc_auc['macro']"),
            metric_row("ROC-AUC (mean of classes)", ours(pooled, folds, "macro_roc_auc"), nan,
                       "mean of one-vs-rest AUCs (sklearn roc_auc_score ovr macro)"),
            metric_row("AP (micro) [CVR-T]", ours(pooled, folds, "micro_average_precision"), nan,
                       "[CVR-T] Performance_helper average_precision['micro']")]


REPORT_LAYOUTS = {"cvrnet/abstract": abstract_layout}
