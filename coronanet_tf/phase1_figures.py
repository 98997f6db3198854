"""Figures of CORONA-Net's phase 1 (re-initialisation by reconstruction): its loss curve and a panel
of inputs beside their reconstructions.

Phase 1 trains the encoder and decoder on ``MSE(reconstruction, x)`` with ``x`` the ImageNet-
normalised input [CR] (docs/PAPERS.md §3.4); its log has a loss and no accuracy, so it gets its own
curve (``phase1/curves.png``, "reconstruction loss (MSE)"). The panel (``phase1/reconstruction.png``)
shows a few inputs and the decoder's outputs, both mapped back to pixels with the same
de-normalisation (``x * std + mean``, clipped to [0, 1]), and the absolute difference in the
normalised space the loss sees. The decoder ends in tanh, so its output cannot leave [-1, 1] while
the target spans about [-2.1, 2.6] (the authors' mismatch, kept: docs/PAPERS.md §3.2): dark and bright
areas cannot be reproduced, which the panel shows. :func:`write_phase1_figures` is called by
:func:`coronanet_tf.training.fit_reinit`.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from cxr_core.data.decode.images import IMAGENET_MEAN, IMAGENET_STD
from cxr_core.report.figures import figure, plot_training_curves, save_figure

PANEL_IMAGES = 4
"""Images in the reconstruction panel."""


def to_pixels(normalised: np.ndarray) -> np.ndarray:
    """ImageNet-normalised ``[..., 3]`` values back to [0, 1] pixels (clipped) for display."""
    x = np.asarray(normalised, dtype=np.float64) * np.array(IMAGENET_STD) + np.array(IMAGENET_MEAN)
    return np.clip(x, 0.0, 1.0)


def plot_reconstruction_panel(inputs: np.ndarray, reconstructions: np.ndarray, path: str | Path, *,
                              title: str | None = None) -> Path:
    """Rows of input | reconstruction | |difference| for ``inputs`` and ``reconstructions``
    (``[N, H, W, 3]``, ImageNet-normalised); each row's MSE in its title. Returns ``path``."""
    x = np.asarray(inputs, dtype=np.float64)
    r = np.asarray(reconstructions, dtype=np.float64)
    if x.shape != r.shape or x.ndim != 4:
        raise ValueError(f"inputs {x.shape} and reconstructions {r.shape}: expected the same [N, H, W, 3] shape")
    n = len(x)
    fig = figure(9.6, 3.1 * n + 0.6)
    diff = np.abs(r - x).mean(axis=-1)
    vmax = max(float(diff.max()), 1e-6)
    for i in range(n):
        mse = float(np.mean((r[i] - x[i]) ** 2))
        panels = ((to_pixels(x[i]), "input (de-normalised)", None),
                  (to_pixels(r[i]), f"reconstruction, MSE {mse:.3f}\n(tanh output: range "
                                    f"[{r[i].min():.2f}, {r[i].max():.2f}])", None),
                  (diff[i], f"|reconstruction - input|\n(normalised units; input range "
                            f"[{x[i].min():.2f}, {x[i].max():.2f}])", "magma"))
        for j, (image, label, cmap) in enumerate(panels):
            ax = fig.add_subplot(n, 3, 3 * i + j + 1)
            if cmap is None:
                ax.imshow(image, interpolation="nearest")
            else:
                shown = ax.imshow(image, cmap=cmap, vmin=0.0, vmax=vmax, interpolation="nearest")
                fig.colorbar(shown, ax=ax, fraction=0.046, pad=0.03)
            ax.set_title(label, fontsize=8)
            ax.set_xticks([])
            ax.set_yticks([])
    fig.suptitle(title or "Phase 1: input versus reconstruction", fontsize=10)
    fig.tight_layout()
    save_figure(fig, path)
    return Path(path)


def write_phase1_figures(out_dir: str | Path, log_path: str | Path, reconstruct, batch: np.ndarray) -> list[Path]:
    """``out_dir/curves.png`` (phase 1's loss per epoch) and ``out_dir/reconstruction.png`` (the
    first :data:`PANEL_IMAGES` images of ``batch`` through ``reconstruct``, a callable
    ``[N, H, W, 3] -> [N, H, W, 3]``). Returns the paths written."""
    out_dir = Path(out_dir)
    written = []
    if Path(log_path).is_file():
        plot_training_curves(log_path, out_dir / "curves.png", loss_name="reconstruction loss (MSE)",
                             title="CORONA-Net phase 1: re-initialisation by reconstruction")
        written.append(out_dir / "curves.png")
    x = np.asarray(batch, dtype=np.float32)[:PANEL_IMAGES]
    written.append(plot_reconstruction_panel(x, np.asarray(reconstruct(x)), out_dir / "reconstruction.png"))
    return written
