"""Where a run is, so that Ctrl-C can say it in one line and the next run can say where it resumes.

:data:`PROGRESS` is updated by the protocol (:func:`cxr_core.protocol.run.run_protocol`, which fold is
being trained or evaluated) and by :func:`cxr_core.training.fit.fit_split` (how many epochs of the fold's
training are saved in its checkpoint: a callback after the checkpoint writer). ``covid-cxr``
catches ``KeyboardInterrupt``, prints :meth:`RunProgress.interrupted_message` and exits with 130::

    interrupted after epoch 3 of fold 1; run the same command to resume

Folds are numbered as the ``fold_k`` folders and the log lines (from 0); epochs from 1, as the
``epoch 3/30`` log lines. The epochs counted are those saved in the fold's checkpoint, so the next
run of the same command resumes exactly there and logs ``resuming fold 1 at epoch 4``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

RESUME_HINT = "run the same command to resume"


@dataclass
class RunProgress:
    """What the current process is doing (one run at a time; :meth:`start` resets it)."""

    run_dir: Path | None = None
    fold: int | None = None
    stage: str = "idle"
    """``idle``, ``preparing`` (data, splits), ``training``, ``evaluating`` or ``finished``."""
    epochs_done: int = 0
    """Epochs of the current fold's (or phase's) training saved in its checkpoint."""
    epochs: int | None = None
    phase: str | None = None
    """The sub-folder of a fold that trains in several phases (e.g. ``phase1``), else None."""

    def start(self, run_dir: str | Path) -> None:
        self.run_dir, self.fold, self.stage = Path(run_dir), None, "preparing"
        self.epochs_done, self.epochs, self.phase = 0, None, None

    def fold_started(self, fold: int) -> None:
        self.fold, self.stage, self.epochs_done, self.epochs, self.phase = fold, "training", 0, None, None

    def training_started(self, out_dir: str | Path, epochs_done: int, epochs: int) -> None:
        """A fit (one fold, or one phase of it) begins at ``epochs_done`` of ``epochs``."""
        out_dir = Path(out_dir)
        self.stage, self.epochs_done, self.epochs = "training", int(epochs_done), int(epochs)
        self.phase = out_dir.name if self.run_dir is not None and out_dir.parent.name.startswith("fold_") else None

    def epoch_saved(self, epochs_done: int) -> None:
        self.epochs_done = int(epochs_done)

    def evaluating(self) -> None:
        self.stage = "evaluating"

    def finished(self) -> None:
        self.stage, self.fold = "finished", None

    def interrupted_message(self) -> str:
        """One line for the console, e.g. ``interrupted after epoch 3 of fold 1; run the same command to resume``."""
        if self.fold is None:
            where = {"preparing": "before training started",
                     "finished": "after the last fold, while writing the report"}.get(self.stage, "")
            return f"interrupted{' ' + where if where else ''}; {RESUME_HINT}"
        fold = f"fold {self.fold}" + (f" ({self.phase})" if self.phase else "")
        if self.stage == "evaluating":
            return f"interrupted while evaluating {fold} (its training had finished); {RESUME_HINT}"
        if self.epochs_done <= 0:
            return f"interrupted during epoch 1 of {fold} (no epoch finished yet); {RESUME_HINT}"
        return f"interrupted after epoch {self.epochs_done} of {fold}; {RESUME_HINT}"


#: The process's progress record (``covid-cxr`` runs one command per process).
PROGRESS = RunProgress()


def progress_callback():
    """A Keras callback recording each finished epoch in :data:`PROGRESS`; put it after the
    checkpoint writer so that an epoch counts once it is saved."""
    import keras

    class EpochSaved(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            PROGRESS.epoch_saved(epoch + 1)

    return EpochSaved()
