"""A gallery of test images with their true and predicted labels: per true class, the most confident
correct predictions and the most confident wrong ones (CoroNet's Figure 8 [S4]; CVR-Net's gallery of
misclassified images [CVR-T]).

:func:`gallery_choice` picks the images (deterministic: by the probability of the predicted class,
ties by row order); :func:`plot_prediction_gallery` draws them, one row per class, correct ones
captioned in green and wrong ones in red, each with ``true / predicted (probability)``. Images are
read with PIL (first frame, grey or RGB, shown as they are, shrunk to fit); a file that cannot be read
is shown as an empty panel naming it. No TensorFlow.
"""

from __future__ import annotations

import os
from typing import Sequence

import numpy as np

from cxr_core.report.figures import figure, save_figure


def gallery_choice(y_true, y_prob, n_classes: int, per_kind: int = 3) -> dict[int, dict[str, list[int]]]:
    """``{class: {"correct": rows, "wrong": rows}}``: for each true class up to ``per_kind`` rows it
    classified right and wrong, most confident first (probability of the predicted class)."""
    t = np.asarray(y_true, dtype=np.int64).reshape(-1)
    p = np.asarray(y_prob, dtype=np.float64)
    if p.ndim != 2 or p.shape != (t.size, n_classes):
        raise ValueError(f"y_prob: expected shape ({t.size}, {n_classes}), found {p.shape}")
    pred = p.argmax(axis=1)
    conf = p.max(axis=1)
    out = {}
    for c in range(n_classes):
        choice = {}
        for kind, mask in (("correct", (t == c) & (pred == c)), ("wrong", (t == c) & (pred != c))):
            rows = np.flatnonzero(mask)
            order = np.argsort(-conf[rows], kind="stable")
            choice[kind] = rows[order][:per_kind].tolist()
        out[c] = choice
    return out


def _thumbnail(path: str, side: int = 256) -> np.ndarray | None:
    from PIL import Image

    try:
        with Image.open(path) as img:
            img.seek(0)
            img = img.convert("L") if img.mode in ("L", "I", "I;16", "F", "1", "LA") else img.convert("RGB")
            img.thumbnail((side, side))
            return np.asarray(img)
    except (OSError, ValueError):
        return None


def plot_prediction_gallery(paths: Sequence[str], y_true, y_prob, class_names: Sequence[str],
                            path: str | os.PathLike, *, per_kind: int = 3, title: str | None = None) -> dict:
    """Draw :func:`gallery_choice` into ``path`` (PNG): one row per true class, ``per_kind`` correct then
    ``per_kind`` wrong panels. Returns the choice. ValueError when ``paths`` does not match ``y_true``."""
    names = [str(c) for c in class_names]
    t = np.asarray(y_true, dtype=np.int64).reshape(-1)
    if len(paths) != t.size:
        raise ValueError(f"paths: {len(paths)} files for {t.size} labels")
    p = np.asarray(y_prob, dtype=np.float64)
    choice = gallery_choice(t, p, len(names), per_kind)
    cols = 2 * per_kind
    fig = figure(1.9 * cols, 2.2 * len(names) + 0.5)
    for c, name in enumerate(names):
        for k, (kind, rows) in enumerate(choice[c].items()):
            for j in range(per_kind):
                ax = fig.add_subplot(len(names), cols, c * cols + k * per_kind + j + 1)
                ax.set_xticks([])
                ax.set_yticks([])
                if j >= len(rows):
                    ax.set_axis_off()
                    if j == 0:
                        ax.text(0.5, 0.5, f"no {kind}\n{name}", ha="center", va="center", fontsize=7, color="grey")
                    continue
                row = rows[j]
                image = _thumbnail(str(paths[row]))
                if image is None:
                    ax.text(0.5, 0.5, f"unreadable\n{os.path.basename(str(paths[row]))}", ha="center",
                            va="center", fontsize=6)
                else:
                    ax.imshow(image, cmap="gray" if image.ndim == 2 else None)
                predicted = int(p[row].argmax())
                colour = "tab:green" if kind == "correct" else "tab:red"
                ax.set_title(f"true {name}\npred {names[predicted]} ({p[row, predicted]:.2f})", fontsize=7,
                             color=colour)
                for spine in ax.spines.values():
                    spine.set_edgecolor(colour)
                    spine.set_linewidth(2)
    fig.suptitle(title or f"predictions: {per_kind} most confident correct (green) and wrong (red) per class",
                 fontsize=10)
    fig.tight_layout()
    save_figure(fig, path)
    return choice
