"""No empty run directories after a failed start.

A run that stops before any fold has saved anything (bad data, a missing input, Ctrl-C while the
images are read) leaves only files it can write again (``config.yaml``, ``samples.csv``,
``splits/``, hazard notes). :func:`discard_failed_start` wraps a run: when it raises and the run
directory was created by this run and holds no results (:func:`holds_results`), the folders this run
created are removed, so ``runs/`` does not fill with empty timestamped directories. A directory that
existed before (a resumed run, another ``--folds`` process) is never touched, nor one in which another
process holds a fold lock (:mod:`cxr_core.runs.lock`: several folds of one run started at the same time,
as a study's workers do); above ``run_dir`` only folders left empty are removed.
"""

from __future__ import annotations

import contextlib
import logging
import shutil
from pathlib import Path

log = logging.getLogger(__name__)


#: Files of a fold's ``checkpoints/`` folder that hold a result: saved weights (``resume``, ``best``,
#: ``last``) and ``state.json`` (written after a finished epoch). Notes made when training starts
#: (``precision.json``) hold nothing to resume from.
RESULT_PATTERNS = ("*.weights.h5", "state.json")


def _checkpoint_results(ckpt_dir: Path) -> bool:
    return any(p.is_file() for pattern in RESULT_PATTERNS for p in ckpt_dir.glob(pattern))


def holds_results(run_dir: str | Path) -> bool:
    """Whether any fold of ``run_dir`` has saved something: saved weights, ``state.json`` or
    ``predictions.csv`` (a training log, TensorBoard file or ``precision.json`` alone is made when
    training starts and holds nothing to resume from)."""
    run_dir = Path(run_dir)
    for fold in run_dir.glob("fold_*"):
        if (fold / "predictions.csv").is_file():
            return True
        ckpt_dirs = [fold / "checkpoints", *fold.glob("*/checkpoints")]  # a fold trained in phases
        if any(_checkpoint_results(d) for d in ckpt_dirs):
            return True
    return False


def _topmost_missing(path: Path) -> Path | None:
    """The outermost folder of ``path`` (itself included) that does not exist yet, or None."""
    missing = None
    for candidate in (path, *path.parents):
        if candidate.exists():
            break
        missing = candidate
    return missing


@contextlib.contextmanager
def discard_failed_start(run_dir: str | Path):
    """Remove the folders created for ``run_dir`` when the block raises (``KeyboardInterrupt``
    included) before any fold saved a result; the exception propagates unchanged."""
    run_dir = Path(run_dir)
    created = _topmost_missing(run_dir.absolute())
    try:
        yield
    except BaseException:
        if created is not None and created.exists() and not holds_results(run_dir) and not _others_working(run_dir):
            shutil.rmtree(run_dir, ignore_errors=True)
            for parent in run_dir.absolute().parents:  # up to the first folder this run created, if empty
                if not parent.is_relative_to(created):
                    break
                with contextlib.suppress(OSError):
                    parent.rmdir()
            log.info("removed %s: the run stopped before any fold saved a result", run_dir)
        raise


def _others_working(run_dir: Path) -> bool:
    """Another process holds a fold lock in ``run_dir`` (this process's were released on the way out)."""
    from cxr_core.runs.lock import LOCK_FOLDER

    return any((Path(run_dir) / LOCK_FOLDER).glob("*.lock"))
