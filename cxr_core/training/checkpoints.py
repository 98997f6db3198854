"""Checkpoint files of one training split, and what a finished split keeps.

While a split trains (:func:`cxr_core.training.fit.fit_split`), its ``checkpoints/`` folder holds::

    resume.weights.h5   model AND optimizer variables (Adam moments, iteration count) after the last
                        finished epoch: what an interrupted run resumes from
    best.weights.h5     model weights only, the best epoch on ``train.checkpoint_monitor``
                        (``train.checkpoint: best``)
    state.json          epochs done, callback state, learning rate

When the split finishes, :func:`finish_split` writes the selected model's weights (``best.weights.h5``
with ``checkpoint: best``, ``last.weights.h5`` with ``checkpoint: last``), **weights only**, and
deletes ``resume.weights.h5``: optimizer state lives only in the resume checkpoint of an unfinished
split. A finished split therefore costs one model's weights on disk (``parameters x 4`` bytes in
float32), an unfinished one at most that plus the resume checkpoint (``parameters x 4`` plus the
optimizer's slots, ``2 x trainable x 4`` for Adam).

Runs made before this layout kept ``last.weights.h5`` with the optimizer state; they still load
(an optimizer group in a weights file is ignored by a model that is not compiled) and resume
(:func:`resume_checkpoint`).
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

from cxr_core.atomic_files import atomic_path
from cxr_core.errors import CxrError

log = logging.getLogger(__name__)

RESUME_NAME = "resume.weights.h5"
BEST_NAME = "best.weights.h5"
LAST_NAME = "last.weights.h5"


def selected_name(checkpoint: str) -> str:
    """``best.weights.h5`` for ``train.checkpoint: best``, ``last.weights.h5`` for ``last``."""
    if checkpoint not in ("last", "best"):
        raise CxrError(f"train.checkpoint: expected 'last' or 'best', found {checkpoint!r}")
    return BEST_NAME if checkpoint == "best" else LAST_NAME


def load_model_weights(model, path: str | Path) -> None:
    """Read a file of :func:`save_model_weights` into ``model`` (its optimizer, if any, left as it is).

    Keras' ``model.load_weights`` on a compiled model whose optimizer is built expects the optimizer's
    variables in the file and warns "Skipping variable loading for optimizer ... the saved optimizer has
    0 variables"; the file has none on purpose, so the optimizer is skipped here instead.
    """
    optimizer = getattr(model, "optimizer", None)
    if optimizer is None or not getattr(optimizer, "built", False):
        model.load_weights(path)
        return
    try:
        from keras.src.saving import saving_lib

        saving_lib.load_weights_only(model, str(path), objects_to_skip=[optimizer])
    except (ImportError, TypeError, AttributeError):  # a Keras without objects_to_skip
        model.load_weights(path)


def save_model_weights(model, path: str | Path) -> None:
    """Write ``model``'s weights, without its optimizer's variables, atomically to ``path``
    (a ``.weights.h5`` file that ``model.load_weights`` reads).

    Keras 3's ``model.save_weights`` stores a compiled model's optimizer too (three times the
    model's size with Adam); this skips it.
    """
    optimizer = getattr(model, "optimizer", None)
    with atomic_path(path) as tmp:
        if optimizer is None:
            model.save_weights(tmp)
            return
        try:
            from keras.src.saving import saving_lib

            saving_lib.save_weights_only(model, tmp, objects_to_skip=[optimizer])
        except (ImportError, TypeError, AttributeError):  # a Keras without objects_to_skip
            log.debug("weights-only save not available in this Keras; saving with the optimizer state")
            model.save_weights(tmp)


def save_resume_checkpoint(model, ckpt_dir: str | Path) -> Path:
    """``ckpt_dir/resume.weights.h5``: model and optimizer variables, written atomically."""
    path = Path(ckpt_dir) / RESUME_NAME
    with atomic_path(path) as tmp:
        model.save_weights(tmp)
    return path


def resume_checkpoint(ckpt_dir: str | Path) -> Path:
    """The checkpoint to resume from: ``resume.weights.h5``, or ``last.weights.h5`` of a run made
    before the resume checkpoint had its own name (it held the optimizer state).

    Raises:
        FileNotFoundError: neither exists although ``state.json`` says epochs were done.
    """
    ckpt_dir = Path(ckpt_dir)
    for name in (RESUME_NAME, LAST_NAME):
        if (ckpt_dir / name).is_file():
            return ckpt_dir / name
    raise FileNotFoundError(f"{ckpt_dir}: state.json records finished epochs but there is no {RESUME_NAME} to "
                            "resume from; delete the folder to train this split again")


def finish_split(ckpt_dir: str | Path, checkpoint: str, model=None, build_model=None) -> Path:
    """Leave a finished split with its selected weights only; returns their path.

    With ``checkpoint: last`` the selected weights are the model after the last epoch: ``model``
    (as training left it) or, when the process stopped between the last epoch and this step, the
    resume checkpoint loaded into ``build_model()``. Then ``resume.weights.h5`` is deleted.
    """
    ckpt_dir = Path(ckpt_dir)
    selected = ckpt_dir / selected_name(checkpoint)
    resume = ckpt_dir / RESUME_NAME
    if checkpoint == "last" and (model is not None or not selected.is_file()):
        if model is None and resume.is_file() and build_model is not None:
            model = build_model()
            model.load_weights(resume)
        if model is not None:
            save_model_weights(model, selected)
    if resume.is_file() and selected.is_file():
        resume.unlink()
        log.debug("%s: finished; resume checkpoint deleted, kept %s", ckpt_dir, selected.name)
    return selected


def read_state(ckpt_dir: Path) -> dict | None:
    """The saved training state of a split, or None when it has not finished an epoch."""
    path = Path(ckpt_dir) / "state.json"
    if not path.is_file():
        return None
    return json.loads(path.read_text())


def restore_resume_checkpoint(model, weights_path: Path) -> None:
    """Load model and optimizer variables saved by the checkpoint callback. A file without optimizer
    variables (the selected weights of a finished split that is extended with more epochs) loads the
    model's weights alone: the optimizer starts afresh, without Keras' "Skipping variable loading for
    optimizer" warning."""
    optimizer = model.optimizer
    if not optimizer.built:
        optimizer.build(model.trainable_variables)
    try:
        if _has_optimizer_variables(weights_path):
            model.load_weights(weights_path)
        else:
            log.info("%s holds no optimizer state: the optimizer starts afresh", weights_path)
            load_model_weights(model, weights_path)
    except ValueError as exc:
        raise CxrError(f"{weights_path}: cannot resume from this checkpoint ({exc}); was the config changed?") from exc


def _has_optimizer_variables(path: Path) -> bool:
    import h5py

    try:
        with h5py.File(path, "r") as f:
            found = []
            if "optimizer" in f:
                f["optimizer"].visititems(lambda name, obj: found.append(name) if isinstance(obj, h5py.Dataset) else None)
            return bool(found)
    except OSError:
        return True  # let Keras say what is wrong with the file


def truncate_log(log_path: Path, epochs_done: int) -> None:
    """Keep the log rows of the epochs the checkpoint holds: an epoch logged but interrupted before its
    checkpoint was written is trained and logged again, not twice."""
    import pandas as pd

    rows = pd.read_csv(log_path)
    if "epoch" in rows.columns and (rows["epoch"] >= epochs_done).any():
        with atomic_path(log_path) as tmp:
            rows[rows["epoch"] < epochs_done].to_csv(tmp, index=False)
