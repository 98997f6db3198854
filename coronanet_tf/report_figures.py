"""CORONA-Net's confusion matrix drawn in the project page's layout [VIP], the published one beside ours.

The project page's figure, ``images/confusionlabel.png`` [VIP] (read by eye; docs/PAPERS.md §3.5):
titled "Confusion matrix", rows true ("True label"), columns predicted ("Predicted label", the class
names turned 45 degrees), classes in the order COVID-19, Pneumonia, Normal, each row divided by its
count and printed as a fraction with two decimals, colour map "Blues" on a colour bar from 0 to 1,
white text on cells above 0.5. :func:`plot_project_page_confusion` draws the published matrix and ours
in that layout side by side, one colour scale for both. :func:`confusion_figures` is the family's
report hook (``FAMILY.published.report_figures``): it writes :data:`FIGURE_FILE` into a run's report.
Figures are written by :func:`cxr_core.report.figures.save_figure` (atomic; a smoke run's figure is
marked). This module imports neither TensorFlow nor Keras.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np
import pandas as pd

from cxr_core.report.figures import figure, run_mark, save_figure
from cxr_core.report.published import published_table

from .report import project_page_confusion, project_page_order

#: The figure's file name in a run's report folder.
FIGURE_FILE = "confusion_matrix_project_page.png"
PUBLISHED_TITLE = "published (project page [VIP])"
OURS_TITLE = "ours (this run, all folds pooled)"
_CMAP = "Blues"  # the project page's colour map [VIP], read by eye


def _panel(ax, values: np.ndarray, labels: Sequence[str], texts: Sequence[Sequence[str]], title: str):
    """One matrix as the page draws it: ``values`` [n, n] fractions in [0, 1] (NaN: blank cell)."""
    n = len(labels)
    image = ax.imshow(np.ma.masked_invalid(values), cmap=_CMAP, vmin=0.0, vmax=1.0, interpolation="nearest")
    for i in range(n):
        for j in range(n):
            v = values[i, j]
            ax.text(j, i, texts[i][j], ha="center", va="center", fontsize=11,
                    color="white" if np.isfinite(v) and v > 0.5 else "black")
    ax.set_xticks(range(n))
    ax.set_yticks(range(n))
    ax.set_xticklabels(labels, rotation=45, ha="right", rotation_mode="anchor")
    ax.set_yticklabels(labels)
    ax.set_xlabel("Predicted label")
    ax.set_ylabel("True label")
    ax.set_title(title, fontsize=11)
    return image


def plot_project_page_confusion(published: pd.DataFrame, ours: pd.DataFrame, counts,
                                path: str | os.PathLike | None = None, *, title: str | None = None,
                                mark: str | None = None):
    """The published confusion matrix (left) beside ours (right) in the project page's layout [VIP].

    ``published``: the page's matrix, rows true and columns predicted in its class order, row fractions
    in [0, 1] (``published_table("coronanet/confusion")``). ``ours``: our matrix in the same order and
    normalisation (:func:`coronanet_tf.report.project_page_confusion`; NaN for a class without samples,
    drawn blank as "n/a"). ``counts``: our counts behind ``ours``, int array [n, n] in the same order.
    Cells are annotated "0.95" (published) and "0.93\\n(140)" (ours: fraction and count); one colour
    bar (0 to 1) serves both panels. Written to ``path`` (PNG) when given, with ``mark`` stamped on it
    (:func:`cxr_core.report.figures.save_figure`; None: a smoke run's mark where ``path`` lies in one).
    Returns the matplotlib ``Figure``; its first two axes are the published and our panels. ValueError
    when the two frames' labels or ``counts``' shape differ.
    """
    labels = [str(c) for c in published.index]
    if list(published.columns) != list(published.index) or list(ours.index) != list(published.index) \
            or list(ours.columns) != list(published.columns):
        raise ValueError(f"plot_project_page_confusion: rows and columns must be {labels} in both frames; "
                         f"found published {list(published.columns)}, ours {list(ours.index)} x {list(ours.columns)}")
    pub = published.to_numpy(dtype=np.float64)
    mine = ours.to_numpy(dtype=np.float64)
    n_cells = np.asarray(counts, dtype=np.int64)
    if n_cells.shape != mine.shape:
        raise ValueError(f"plot_project_page_confusion: counts of shape {n_cells.shape}, expected {mine.shape}")
    n = len(labels)
    fig = figure(10.5, 4.9)
    fig.set_layout_engine("constrained")
    left, right = fig.add_subplot(1, 2, 1), fig.add_subplot(1, 2, 2)
    image = _panel(left, pub, labels, [[f"{pub[i, j]:.2f}" for j in range(n)] for i in range(n)], PUBLISHED_TITLE)
    ours_text = [[(f"{mine[i, j]:.2f}" if np.isfinite(mine[i, j]) else "n/a") + f"\n({n_cells[i, j]})"
                  for j in range(n)] for i in range(n)]
    _panel(right, mine, labels, ours_text, f"{OURS_TITLE}, n = {int(n_cells.sum())}")
    bar = fig.colorbar(image, ax=[left, right], fraction=0.04, pad=0.03)
    bar.set_label("fraction of the true class (row)")
    if path is not None and mark is None:
        mark = run_mark(path)
    fig.suptitle(title or "Confusion matrix", fontsize=12)
    if path is not None:
        save_figure(fig, path, mark=mark)
    return fig


def confusion_figures(key: str, run_dir: str | os.PathLike, config: Mapping, folds: Sequence, pooled, *,
                      selection: Mapping | None = None, mark: str | None = None) -> tuple[list[tuple[str, str]], list[str]]:
    """The report hook (:attr:`cxr_core.family.PublishedPart.report_figures`) of every ``coronanet/...``
    key with a report layout: writes :data:`FIGURE_FILE` into ``run_dir`` (the page's matrix beside
    ``pooled.confusion``, all folds pooled) and returns ``([(FIGURE_FILE, caption)], [])``; the caption
    names the source tag. When one of the page's classes has no counterpart in ``pooled.class_names``:
    no figure (an earlier report's is removed), ``([], [why])``."""
    conf = published_table("coronanet/confusion")
    names = list(pooled.class_names)
    order = project_page_order(conf, names)
    if order is None:
        (Path(run_dir) / FIGURE_FILE).unlink(missing_ok=True)  # a figure of an earlier report would be stale
        return [], [f"No confusion-matrix figure in the project page's layout ({conf.attrs['source']}): its classes "
                    f"{', '.join(conf.index)} do not all have a counterpart in ours ({', '.join(names)})."]
    ours = project_page_confusion(conf, names, pooled.confusion)
    counts = np.asarray(pooled.confusion)[np.ix_(order, order)]
    name = config.get("name", "run")
    plot_project_page_confusion(conf, ours, counts, Path(run_dir) / FIGURE_FILE, mark=mark,
                                title=f"{name}: confusion matrix in the project page's layout")
    caption = (f"Confusion matrix in the project page's layout, published ({conf.attrs['source']}) beside ours "
               f"(all {len(folds)} evaluated result(s) pooled): rows true, columns predicted, each row divided "
               "by its count; one colour scale.")
    return [(FIGURE_FILE, caption)], []
