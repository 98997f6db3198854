"""Figures of a run (PNG): confusion matrices and training curves.

Matplotlib's object API with the Agg canvas (no pyplot state, no display needed); every file is
written atomically (:mod:`cxr_core.atomic_files`). This module imports neither TensorFlow nor Keras.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Sequence

import numpy as np
import pandas as pd

from cxr_core.atomic_files import atomic_path
from cxr_core.config.callbacks import monitor_mode
from cxr_core.evaluation import confusion as _confusion


def figure(width: float, height: float):
    """A matplotlib ``Figure`` (``width`` x ``height`` inches, 120 dpi) on the Agg canvas: no pyplot
    state, no display needed."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), dpi=120)
    FigureCanvasAgg(fig)
    return fig


SMOKE_MARK = "SMOKE RUN: pipeline check, not a result"


def run_mark(path: str | os.PathLike) -> str | None:
    """:data:`SMOKE_MARK` when ``path`` lies in a smoke run's directory (a ``config.yaml`` with
    ``smoke: true`` in its folder or up to three folders above), else None."""
    import yaml

    folder = Path(path).resolve().parent
    for candidate in [folder, *folder.parents][:4]:
        config = candidate / "config.yaml"
        if config.is_file():
            try:
                record = yaml.safe_load(config.read_text(encoding="utf-8")) or {}
            except (OSError, yaml.YAMLError):
                return None
            return SMOKE_MARK if isinstance(record, dict) and record.get("smoke") else None
    return None


def add_mark(fig, text: str) -> None:
    """A large, light, diagonal ``text`` across ``fig`` and a red label above its top-left corner
    (outside the figure's area, so no title or panel lies under it; saving with a tight box keeps it)."""
    fig.text(0.5, 0.5, text.split(":")[0], fontsize=64, color="red", alpha=0.12, ha="center",
             va="center", rotation=30, weight="bold", zorder=100)
    fig.text(0.005, 1.0, text, fontsize=8, color="white", ha="left", va="bottom", zorder=101,
             bbox={"facecolor": "red", "alpha": 0.85, "pad": 2, "edgecolor": "none"})


def save_figure(fig, path: str | os.PathLike, *, mark: str | None = None) -> None:
    """Write ``fig`` atomically to ``path``; the format follows the suffix (PNG by default).

    ``mark``: a text stamped across the figure (:func:`add_mark`); by default :func:`run_mark`, so
    every figure written into a smoke run's directory says SMOKE.
    """
    path = Path(path)
    mark = mark if mark is not None else run_mark(path)
    if mark:
        add_mark(fig, mark)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format=path.suffix.lstrip(".") or "png", bbox_inches="tight")


def plot_confusion_matrix(cm, class_names: Sequence[str], path: str | os.PathLike, *,
                          normalize: bool = False, title: str | None = None) -> None:
    """Confusion-matrix heat map (rows true, columns predicted) written atomically to ``path``.

    ``normalize=True`` divides each row by its total (recall on the diagonal; a row with no
    samples stays 0) and annotates each cell with the fraction and the count. Cell text switches
    to white on dark cells. Labels are rotated when long.
    """
    names = [str(c) for c in class_names]
    counts = _confusion.validate_confusion_matrix(cm, names)
    n = len(names)
    if normalize:
        totals = counts.sum(axis=1, keepdims=True)
        values = np.divide(counts, totals, out=np.zeros(counts.shape), where=totals != 0)
        vmax = 1.0
    else:
        values = counts.astype(np.float64)
        vmax = max(float(values.max()), 1.0)
    longest = max(len(s) for s in names)
    side = max(3.6, 0.9 * n + 0.07 * longest + 1.6)
    fig = figure(side + 1.0, side)
    ax = fig.add_subplot(1, 1, 1)
    image = ax.imshow(values, cmap="Blues", vmin=0.0, vmax=vmax, interpolation="nearest")
    cbar = fig.colorbar(image, ax=ax, fraction=0.046, pad=0.04)
    cbar.set_label("fraction of true class" if normalize else "count")
    fontsize = 11 if n <= 4 else (9 if n <= 8 else 7)
    for i in range(n):
        for j in range(n):
            text = f"{values[i, j]:.2f}\n({counts[i, j]})" if normalize else f"{counts[i, j]}"
            colour = "white" if values[i, j] > 0.5 * vmax else "black"
            ax.text(j, i, text, ha="center", va="center", color=colour, fontsize=fontsize)
    ax.set_xticks(range(n))
    ax.set_yticks(range(n))
    rotate = longest > 6 or n > 6
    ax.set_xticklabels(names, rotation=35 if rotate else 0, ha="right" if rotate else "center",
                       rotation_mode="anchor" if rotate else "default")
    ax.set_yticklabels(names)
    ax.set_xlabel("predicted class")
    ax.set_ylabel("true class")
    ax.set_xticks(np.arange(-0.5, n, 1), minor=True)
    ax.set_yticks(np.arange(-0.5, n, 1), minor=True)
    ax.grid(which="minor", color="white", linewidth=1.5)
    ax.tick_params(which="minor", length=0)
    accuracy = np.trace(counts) / counts.sum() if counts.sum() else 0.0
    default = "Confusion matrix" + (" (row-normalised)" if normalize else "")
    ax.set_title(f"{title or default}\naccuracy {accuracy:.3f}, n = {counts.sum()}", fontsize=11)
    fig.tight_layout()
    save_figure(fig, path)


_TRAIN_ACC = ("accuracy", "acc", "categorical_accuracy")


def _read_log(log) -> pd.DataFrame:
    if isinstance(log, pd.DataFrame):
        df = log.copy()
    else:
        path = Path(log)
        if not path.is_file():
            raise FileNotFoundError(f"training log {path} not found")
        df = pd.read_csv(path)
    if df.empty:
        raise ValueError(f"training log {log if not isinstance(log, pd.DataFrame) else ''} is empty")
    if "loss" not in df.columns:
        raise ValueError(f"training log: expected a 'loss' column, found {list(df.columns)}")
    if "epoch" in df.columns:
        df = df.drop_duplicates("epoch", keep="last").sort_values("epoch")
        df["_x"] = df["epoch"].astype(int) + 1
    else:
        df["_x"] = np.arange(1, len(df) + 1)
    return df


def _mark_kept_epoch(ax, df, x, *, acc: str, kept: str | None, monitor: str) -> None:
    """The star of :func:`plot_training_curves` on the accuracy column ``acc``."""
    values = df[acc].to_numpy(dtype=float)
    is_val = acc.startswith("val_")
    best = int(np.nanargmax(values)) if is_val and np.isfinite(values).any() else None
    if kept is None:
        if best is not None:
            ax.plot([x[best]], [values[best]], marker="*", ms=12, color="tab:red", linestyle="none",
                    label=f"best val {values[best]:.3f} (epoch {x[best]})")
        return
    if kept == "last":
        chosen, why = len(values) - 1, "final epoch"
    else:
        scores = df[monitor].to_numpy(dtype=float) if monitor in df.columns else np.full(len(values), np.nan)
        if not np.isfinite(scores).any():
            return
        chosen = int(np.nanargmin(scores) if monitor_mode(monitor) == "min" else np.nanargmax(scores))
        why = f"best {monitor}"
    ax.plot([x[chosen]], [values[chosen]], marker="*", ms=12, color="tab:red", linestyle="none",
            label=f"kept: epoch {x[chosen]}, {why} ({'val' if is_val else 'train'} {values[chosen]:.3f})")
    if best is not None and best != chosen:
        ax.plot([x[best]], [values[best]], marker="o", ms=9, markerfacecolor="none", color="tab:red",
                linestyle="none", label=f"best val {values[best]:.3f} (epoch {x[best]}), not kept")


def plot_training_curves(log_csv_or_df, path: str | os.PathLike, *, title: str | None = None,
                         loss_name: str = "loss", kept: str | None = None,
                         monitor: str = "val_accuracy") -> None:
    """Loss and accuracy per epoch (train and, where logged, validation) in two panels.

    Reads a Keras ``CSVLogger`` file or DataFrame (columns epoch, loss, accuracy, val_loss,
    val_accuracy, optionally lr; legacy ``acc``/``val_acc`` accepted). Keras logs 0-based epochs;
    the x axis shows them 1-based. Repeated epochs (a resumed run's appended log) keep the last row.
    Learning-rate changes (``lr`` or ``learning_rate`` column) are marked by dotted vertical lines.
    The accuracy axis spans [0, 1]. A log without an accuracy column (a reconstruction phase: loss
    only) gets one loss panel, titled by ``loss_name``.

    The star marks the epoch whose weights the run kept (``kept``, ``train.checkpoint``): ``"last"``
    the final epoch (on the validation curve, or the training curve without validation), ``"best"``
    the best epoch by ``monitor`` (``train.checkpoint_monitor``: the lowest for a loss, else the
    highest); when the best validation accuracy lies elsewhere it gets an open circle, "not kept".
    ``kept=None``: the best validation accuracy is starred (a log whose selection is unknown).
    ValueError for another ``kept``.
    """
    if kept not in (None, "last", "best"):
        raise ValueError(f"plot_training_curves: kept must be None, 'last' or 'best'; found {kept!r}")
    df = _read_log(log_csv_or_df)
    x = df["_x"].to_numpy()
    acc = next((c for c in _TRAIN_ACC if c in df.columns), None)
    fig = figure(10.0, 4.0) if acc is not None else figure(5.5, 4.0)
    ax_loss = fig.add_subplot(1, 2 if acc is not None else 1, 1)
    ax_acc = fig.add_subplot(1, 2, 2) if acc is not None else None
    axes = [ax for ax in (ax_loss, ax_acc) if ax is not None]
    marker = "o" if len(x) <= 30 else None
    ax_loss.plot(x, df["loss"], marker=marker, ms=3, label="train", color="tab:blue")
    if "val_loss" in df.columns and df["val_loss"].notna().any():
        ax_loss.plot(x, df["val_loss"], marker=marker, ms=3, label="validation", color="tab:orange")
    ax_loss.set_title(loss_name)
    if ax_acc is not None:
        ax_acc.plot(x, df[acc], marker=marker, ms=3, label="train", color="tab:blue")
        val = f"val_{acc}"
        has_val = val in df.columns and df[val].notna().any()
        if has_val:
            ax_acc.plot(x, df[val], marker=marker, ms=3, label="validation", color="tab:orange")
        _mark_kept_epoch(ax_acc, df, x, acc=val if has_val else acc, kept=kept, monitor=monitor)
        ax_acc.set_title("accuracy")
        ax_acc.set_ylim(0.0, 1.02)  # accuracies lie in [0, 1]: the axis never shows negative values
    lr_col = next((c for c in ("lr", "learning_rate") if c in df.columns), None)
    if lr_col is not None:
        lr = df[lr_col].to_numpy(dtype=float)
        for k in np.flatnonzero(~np.isclose(lr[1:], lr[:-1], rtol=1e-6)) + 1:
            for ax in axes:
                ax.axvline(x[k] - 0.5, color="grey", linestyle=":", linewidth=1)
            ax_loss.annotate(f"lr {lr[k]:.0e}", (x[k] - 0.5, 0.03), xycoords=("data", "axes fraction"),
                             xytext=(2, 0), textcoords="offset points", fontsize=7, color="grey",
                             ha="left", va="bottom", rotation=90)
    from matplotlib.ticker import MaxNLocator

    for ax in axes:
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_xlabel("epoch")
        ax.grid(alpha=0.3)
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize=8)
        if len(x) == 1:
            ax.set_xlim(0.5, 1.5)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    save_figure(fig, path)
