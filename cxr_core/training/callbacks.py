"""Keras callbacks of a training split built from its config: resumable EarlyStopping /
ReduceLROnPlateau, the atomic per-epoch checkpoint, the epoch logger, TensorBoard scalars.

Used by :func:`cxr_core.training.fit.fit_split`; the files they write are described in
:mod:`cxr_core.training.checkpoints`.
"""

from __future__ import annotations

import json
import logging
import math
import sys
from pathlib import Path

import numpy as np

from cxr_core.atomic_files import atomic_write_text

logger = logging.getLogger(__name__)


def _callback_state(cb) -> dict:
    keys = ("wait", "best", "cooldown_counter", "stopped_epoch")
    return {k: _jsonable(getattr(cb, k)) for k in keys if hasattr(cb, k)}


def _jsonable(value):
    if isinstance(value, (np.floating, np.integer)):
        return value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    return value


def _from_json(value):
    if isinstance(value, str) and value in ("inf", "-inf", "nan"):
        return float(value)
    return value


def resumable(base):
    """A subclass of a Keras callback whose state survives a restart (restored after on_train_begin)."""

    class Resumable(base):
        restore: dict | None = None

        def on_train_begin(self, logs=None):
            super().on_train_begin(logs)
            for key, value in (self.restore or {}).items():
                setattr(self, key, _from_json(value))

    Resumable.__name__ = f"Resumable{base.__name__}"
    return Resumable


def make_checkpointer(ckpt_dir: Path, monitor: str, mode_best: str | None, state_callbacks: dict):
    import keras

    from cxr_core.training.checkpoints import BEST_NAME, save_model_weights, save_resume_checkpoint

    class AtomicCheckpoint(keras.callbacks.Callback):
        """Saves weights, optimizer variables and callback state after every epoch, atomically."""

        def __init__(self, best: float | None):
            super().__init__()
            self.best = best

        def on_epoch_end(self, epoch, logs=None):
            logs = logs or {}
            improved = False
            if mode_best is not None and monitor in logs:
                value = float(logs[monitor])
                better = (lambda a, b: a > b) if mode_best == "max" else (lambda a, b: a < b)
                if self.best is None or better(value, self.best):
                    self.best = value
                    improved = True
                    save_model_weights(self.model, ckpt_dir / BEST_NAME)  # no optimizer state
            save_resume_checkpoint(self.model, ckpt_dir)  # model + optimizer, until the split finishes
            lr = self.model.optimizer.learning_rate
            state = {
                "epochs_done": epoch + 1,
                "best": self.best,
                "best_epoch_improved": improved,
                "learning_rate": float(np.asarray(lr)) if not callable(lr) else None,
                "optimizer_iterations": int(self.model.optimizer.iterations.numpy()),
                "callbacks": {name: _callback_state(cb) for name, cb in state_callbacks.items()},
                "stopped_early": False,
            }
            atomic_write_text(ckpt_dir / "state.json", json.dumps(state, indent=2))

    return AtomicCheckpoint


def epoch_logger(epochs: int, steps: int | None = None, bar: bool | None = None, label: str | None = None):
    """A Keras callback logging ``epoch 3/30: loss 0.4123, accuracy 0.8750, val_loss ... (12 s)`` at INFO
    (``label``: a prefix naming the training phase, e.g. ``phase1: epoch 3/30: ...``).

    ``bar``: within each epoch, a tqdm progress bar on stderr (steps done of ``steps``, the running loss),
    removed when the epoch line is logged. The default shows it only where it helps: stderr is a terminal
    and INFO lines are shown (not ``--quiet``); a log file gets the epoch lines alone.
    """
    import time

    import keras

    if bar is None:
        bar = _stderr_is_a_terminal() and logger.isEnabledFor(logging.INFO)
    prefix = f"{label}: " if label else ""

    class EpochLogger(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            self.t0 = time.perf_counter()
            self.bar = None
            if bar:
                from tqdm import tqdm

                self.bar = tqdm(total=steps, desc=f"{prefix}epoch {epoch + 1}/{epochs}", unit="step", leave=False,
                                file=sys.stderr, dynamic_ncols=True)

        def on_train_batch_end(self, batch, logs=None):
            if self.bar is not None:
                self.bar.update(1)
                if logs and "loss" in logs:
                    self.bar.set_postfix(loss=f"{float(logs['loss']):.4f}", refresh=False)

        def on_epoch_end(self, epoch, logs=None):
            if self.bar is not None:
                self.bar.close()
            values = ", ".join(f"{k} {float(v):.4f}" for k, v in (logs or {}).items() if np.ndim(v) == 0)
            logger.info("%sepoch %d/%d: %s (%.0f s)", prefix, epoch + 1, epochs, values, time.perf_counter() - self.t0)

    return EpochLogger()


def _stderr_is_a_terminal() -> bool:
    try:
        return sys.stderr.isatty()
    except (AttributeError, ValueError):
        return False


TENSORBOARD_DIR = "tensorboard"


def tensorboard_callback(out_dir: Path):
    """Keras' TensorBoard callback writing per-epoch scalars under ``out_dir/tensorboard`` (None,
    with a WARNING, when the tensorboard package is missing).

    Tags (step = 0-based epoch): ``epoch_loss`` and each metric (``epoch_accuracy``) in ``train/``
    and ``validation/``, and ``epoch_learning_rate`` in ``train/`` (Keras 3 logs the optimizer's
    current rate, schedules included). No graph, histograms or profiling. A resumed fit continues
    with ``initial_epoch``, so its steps follow the earlier ones; an epoch logged but interrupted
    before its checkpoint is logged again with the same step (TensorBoard shows both points).
    """
    import keras

    try:  # tf.summary.scalar comes from the tensorboard package (an install requirement)
        import tensorboard  # noqa: F401
    except ImportError:
        logger.warning("train.tensorboard: the tensorboard package is not installed (pip install tensorboard); "
                       "no TensorBoard scalars are written")
        return None
    return keras.callbacks.TensorBoard(log_dir=str(Path(out_dir) / TENSORBOARD_DIR), histogram_freq=0,
                                       write_graph=False, write_images=False, update_freq="epoch",
                                       profile_batch=0)
