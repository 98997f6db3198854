"""Disk trouble in plain words: a folder we cannot write found before any work, a full disk in one line.

:func:`require_writable` probes the nearest existing folder of an output path by creating (and
removing) a temporary file there: permission bits alone do not tell (root ignores them, a read-only
mount does not show in them). :func:`disk_full_message` turns ``ENOSPC`` (from Python, h5py or
TensorFlow) into one line: where, how much is free, how much a fold of the run needs (the largest
finished fold folder, else what the current fold wrote so far), and that the same command resumes.
"""

from __future__ import annotations

import errno
import os
import shutil
import tempfile
from pathlib import Path

from cxr_core.runs.directory import RunDirectoryError

NO_SPACE_TEXT = "No space left on device"


def require_writable(path: str | Path, option: str) -> None:
    """Raise :class:`RunDirectoryError` when nothing can be written at ``path`` (a folder or file to be
    created or replaced), naming ``option`` (``--run-dir``, ``--out``...), the folder and the reason."""
    path = Path(path).absolute()
    existing = next((p for p in (path, *path.parents) if p.exists()), Path("/"))
    if not existing.is_dir():
        if existing != path:
            raise RunDirectoryError(f"{option} {path}: {existing} is a file, not a folder")
        existing = existing.parent  # a file to be replaced: its folder must be writable
    try:
        fd, probe = tempfile.mkstemp(prefix=".write-test-", dir=existing)
        os.close(fd)
        os.unlink(probe)
    except OSError as exc:
        raise RunDirectoryError(f"{option} {path}: cannot write in {existing} ({exc.strerror or exc}); "
                                "give a folder you can write to") from None


def is_disk_full(exc: BaseException) -> bool:
    """``ENOSPC`` from Python, or h5py / TensorFlow text saying so."""
    return getattr(exc, "errno", None) == errno.ENOSPC or NO_SPACE_TEXT in str(exc)


def _folder_bytes(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file() and not p.is_symlink())


def fold_bytes(run_dir: str | Path) -> tuple[int, str]:
    """``(bytes, how)``: the size of the largest finished ``fold_K`` folder (``how`` says which), else
    of the largest unfinished one ("at least": what it wrote so far); ``(0, "")`` when none."""
    folds = sorted(Path(run_dir).glob("fold_*"))
    done = [f for f in folds if (f / "predictions.csv").is_file()]
    pool, how = (done, "as {name} took") if done else (folds, "at least: {name} had written that much")
    if not pool:
        return 0, ""
    sizes = {f: _folder_bytes(f) for f in pool}
    largest = max(sizes, key=sizes.get)
    return sizes[largest], how.format(name=largest.name)


def disk_full_message(exc: BaseException, run_dir: str | Path | None) -> str:
    """One line: where the disk is full, how much is free, what a fold needs, and how to resume."""
    where = getattr(exc, "filename", None) or run_dir or "the output folder"
    probe = next((p for p in (Path(where).absolute(), *Path(where).absolute().parents) if p.exists()), Path("/"))
    free = shutil.disk_usage(probe).free
    text = f"disk full while writing {where} ({free / 1e6:.1f} MB free on that disk)"
    if run_dir is not None:
        need, how = fold_bytes(run_dir)
        if need:
            text += f"; a fold of this run needs about {need / 1e6:.1f} MB ({how})"
        text += "; free some space and run the same command to resume (saved epochs and finished folds are kept)"
    return text
