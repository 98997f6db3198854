"""Grad-CAM overlay PNGs of image files: :func:`explain_images` (``covid-cxr explain``) and :func:`plot_overlay`.

The maps come from :mod:`cxr_core.explain.gradcam` (the model's last convolutional feature map; one map
per branch plus the averaged output for ensembles of pooled branches). The overlays show the input
in grey with the heat map in the ``jet`` colour map (alpha 0.45), a colour bar, and the target
class with its probability in each panel's title. This module knows nothing about the command line
(``covid-cxr explain`` is :func:`cxr_core.cli.main.cmd_explain`).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np

from cxr_core.explain.gradcam import average_branches, gradcam_branches, gradcam_explanation
from cxr_core.errors import CxrError


def _shorten(text: str, width: int = 64) -> str:
    return text if len(text) <= width else text[: width // 2 - 2] + "..." + text[-(width // 2 - 1):]


def flat_map_text(heat) -> str | None:
    """What a panel says over a Grad-CAM map that carries no spatial information: one that is zero
    everywhere (no positive gradient, e.g. a saturated softmax) or the same everywhere; else None."""
    values = np.asarray(heat, dtype=np.float64)
    if not np.any(values > 0):
        return "flat map: no gradient signal\n(zero everywhere: no positive gradient,\ne.g. a saturated softmax)"
    if float(values.max() - values.min()) < 1e-6:
        return "flat map: no gradient signal\n(the same value everywhere)"
    return None


def plot_overlay(image_0_255: np.ndarray, panels: Sequence[tuple[str, np.ndarray]],
                 path: str | os.PathLike, *, title: str | None = None, alpha: float = 0.45,
                 show_input: bool = True) -> Path:
    """Overlay PNG: the input in grey (first panel, ``show_input``), then each heat map (``[H, W]``
    in [0, 1]) in the ``jet`` colour map over the grey image, one panel per ``(panel title, heat
    map)``, at most 4 panels per row, each overlay with a colour bar (0 = no evidence for the
    target class, 1 = the map's maximum). Written atomically; returns ``path``."""
    from matplotlib.cm import ScalarMappable
    from matplotlib.colors import Normalize

    from cxr_core.report.figures import figure as _figure, save_figure as _save

    image = np.asarray(image_0_255, dtype=np.float32)
    gray = image.mean(axis=-1) if image.ndim == 3 else image
    gray = (gray - gray.min()) / max(float(gray.max() - gray.min()), 1e-6)
    items = ([("input", None)] if show_input else []) + list(panels)
    n = len(items)
    cols = min(n, 4)
    rows = -(-n // cols)
    fig = _figure(4.0 * cols, 3.9 * rows + (0.4 if title else 0.0))
    for i, (label, heat) in enumerate(items):
        ax = fig.add_subplot(rows, cols, i + 1)
        ax.imshow(gray, cmap="gray", vmin=0.0, vmax=1.0, interpolation="bilinear")
        if heat is not None:
            ax.imshow(np.asarray(heat, dtype=np.float32), cmap="jet", vmin=0.0, vmax=1.0,
                      alpha=alpha, interpolation="bilinear")
            cbar = fig.colorbar(ScalarMappable(norm=Normalize(0.0, 1.0), cmap="jet"), ax=ax,
                                fraction=0.046, pad=0.03)
            cbar.set_label("Grad-CAM (normalised)", fontsize=8)
            cbar.ax.tick_params(labelsize=7)
            flat = flat_map_text(heat)
            if flat:
                ax.text(0.5, 0.5, flat, transform=ax.transAxes, ha="center", va="center", fontsize=8,
                        color="white", bbox={"facecolor": "black", "alpha": 0.6, "pad": 3})
        ax.set_title(label, fontsize=9)
        ax.set_xticks([])
        ax.set_yticks([])
    if title:
        fig.suptitle(_shorten(title, 90), fontsize=10)
    fig.tight_layout(rect=(0, 0, 1, 0.97 if title else 1), h_pad=2.4)
    path = Path(path)
    _save(fig, path)
    return path


def branch_title(model, explanation, titles: Mapping[str, str]) -> str:
    """A branch panel's title: the family's name for its tapped layer (else ``branch k: <layer>``)
    and the tapped feature map's size, e.g. ``branch 3: ResNet50 stage 3 (28x28)``."""
    title = titles.get(explanation.layer) or f"{explanation.name}: {explanation.layer}"
    try:
        shape = model.get_layer(explanation.layer).output.shape
        return f"{title} ({int(shape[1])}x{int(shape[2])})"
    except (ValueError, AttributeError, TypeError, IndexError):
        return title


def _preprocess_fields(preprocess) -> tuple[tuple[int, int], str, str, tuple | None, str, str]:
    """``(image_size, resize_method, scaling, pre_resize, png16, dicom)`` of a preprocess section."""
    if isinstance(preprocess, Mapping):
        get = preprocess.get
    else:
        def get(key, default=None):
            return getattr(preprocess, key, default)
    size = get("image_size")
    if size is None:
        raise ValueError("explain_images: preprocess needs image_size (and resize_method, scaling)")
    pre_resize = get("pre_resize")
    return ((int(size[0]), int(size[1])), str(get("resize_method", "nearest")), str(get("scaling", "rescale01")),
            tuple(pre_resize) if pre_resize else None, str(get("png16", "scale257") or "scale257"),
            str(get("dicom", "bits_stored") or "bits_stored"))


def _class_index(target, class_names: Sequence[str]) -> int | None:
    if target is None:
        return None
    if isinstance(target, (int, np.integer)):
        return int(target)
    text = str(target)
    if text.isdigit():
        return int(text)
    if text in class_names:
        return list(class_names).index(text)
    raise CxrError(f"target class {text!r}: expected an index or one of {list(class_names)}")


def _label(class_names, target: int, probs: np.ndarray) -> str:
    pred = int(np.argmax(probs))
    text = f"target {class_names[target]} (p = {probs[target]:.2f})"
    if pred != target:
        text += f"\npredicted {class_names[pred]} (p = {probs[pred]:.2f})"
    return text


def explain_images(family_name: str, model, paths: Sequence[str | os.PathLike],
                   out_dir: str | os.PathLike, preprocess, *, class_names: Sequence[str],
                   target_class=None, layer_name: str | None = None,
                   output_kind: str | None = None, batch_size: int = 8) -> list[Path]:
    """Grad-CAM overlay PNGs of ``paths`` in ``out_dir`` (``<stem>_gradcam.png``); returns them.

    ``family_name``: ``coronet``, ``cvrnet``, ``coronanet`` or any registered family (its
    ``last_conv_layer`` and ``output_kind`` are the defaults). ``preprocess``: the experiment's
    ``preprocess`` section (``image_size``, ``resize_method``, ``scaling``; a mapping or
    :class:`cxr_core.config.experiment.PreprocessConfig`). ``target_class``: index, class name, or None for
    the predicted class. CVR-Net-style ensembles (:func:`average_branches`) get one panel per
    branch plus the averaged output; other models one panel.
    """
    from cxr_core.data.decode.images import load_image_array, scale_pixels

    size, method, scaling, pre_resize, png16, dicom = _preprocess_fields(preprocess)
    names = [str(c) for c in class_names]
    chosen_layer = layer_name  # a layer the caller names replaces the per-branch grid
    per_branch = False
    branch_titles: dict[str, str] = {}
    if output_kind is None or layer_name is None:
        try:
            from cxr_core.family import get_family

            family = get_family(family_name)
            output_kind = output_kind or family.model.output_kind
            layer_name = layer_name or family.model.last_conv_layer
            per_branch = bool(family.model.explain_branches)
            if isinstance(family.model.explain_branches, Mapping):
                branch_titles = dict(family.model.explain_branches)
        except KeyError:
            output_kind = output_kind or "probabilities"
    target = _class_index(target_class, names)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    ensemble = per_branch and chosen_layer is None and average_branches(model) is not None
    written: list[Path] = []
    paths = [Path(p) for p in paths]
    used: dict[str, int] = {}
    for start in range(0, len(paths), batch_size):
        chunk = paths[start:start + batch_size]
        raw = np.stack([load_image_array(p, size, method, pre_resize=pre_resize, png16=png16, dicom=dicom)
                        for p in chunk])
        x = scale_pixels(raw, scaling).numpy()
        if ensemble:
            explanations = gradcam_branches(model, x, target)
        else:
            explanations = [gradcam_explanation(model, x, target, layer_name, output_kind=output_kind)]
        for i, p in enumerate(chunk):
            panels = []
            for e in explanations:
                t = int(e.target[i])
                if len(names) != e.probabilities.shape[1]:
                    raise CxrError(f"class_names: {len(names)} names for a model with "
                                     f"{e.probabilities.shape[1]} outputs")
                where = e.name if e.name != "output" else f"{family_name}, layer {e.layer}"
                if e.name.startswith("branch"):
                    where = branch_title(model, e, branch_titles)
                panels.append((f"{where}\n{_label(names, t, e.probabilities[i])}", e.heatmaps[i]))
            stem = p.stem
            used[stem] = used.get(stem, 0) + 1
            if used[stem] > 1:
                stem = f"{stem}_{used[stem]}"
            title = f"Grad-CAM: {_shorten(p.name)}"
            written.append(plot_overlay(raw[i], panels, out_dir / f"{stem}_gradcam.png", title=title))
    return written
