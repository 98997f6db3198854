"""One process per fold of a run directory: lock files with the process id and host.

Two ``cv`` processes on one ``--run-dir`` used to train the same fold at once and overwrite each
other's checkpoints and predictions. :func:`run_lock` takes ``<run_dir>/locks/fold_K.lock`` for every
fold a process is about to run (atomically, ``O_CREAT | O_EXCL``), before any image is read, and
removes them when the process ends. Folds stay independent: ``--folds 0,1`` and ``--folds 2,3`` may
still run side by side in one directory (docs/DESIGN.md §4); a second process asking for a fold already
taken refuses, naming the pid and host that hold it. A lock left by a process that no longer runs
(same host, no such pid) is taken over with a WARNING; one of another host is never guessed stale:
the message says which file to remove once that process is gone.

Lock file (JSON): ``{"pid": 1234, "host": "gpu-3", "started": "2026-12-06T00:40:00Z", "folds": [0, 1]}``.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import socket
import time
from pathlib import Path
from typing import Iterable, Iterator

from cxr_core.runs.directory import RunDirectoryError

log = logging.getLogger(__name__)

LOCK_FOLDER = "locks"


class RunLockedError(RunDirectoryError):
    """A fold of the run directory is being worked on by another live process (pid and host named)."""


def lock_path(run_dir: str | Path, fold: int) -> Path:
    return Path(run_dir) / LOCK_FOLDER / f"fold_{fold}.lock"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, another user's
        return True
    return True


def _holder(path: Path) -> dict:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}


def _take(path: Path, record: str) -> bool:
    try:
        fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
    except FileExistsError:
        return False
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(record)
    return True


def acquire(run_dir: str | Path, folds: Iterable[int]) -> list[Path]:
    """Take the lock of each fold; returns the lock files (give them to :func:`release`).

    Raises:
        RunLockedError: a fold's lock is held by a live process (or one on another host), naming
            the fold, the pid, the host and the lock file; the locks taken so far are released.
    """
    run_dir = Path(run_dir)
    (run_dir / LOCK_FOLDER).mkdir(parents=True, exist_ok=True)
    host = socket.gethostname()
    folds = sorted(set(int(k) for k in folds))
    record = json.dumps({"pid": os.getpid(), "host": host, "folds": folds,
                         "started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())})
    taken: list[Path] = []
    try:
        for k in folds:
            path = lock_path(run_dir, k)
            while not _take(path, record):
                held = _holder(path)
                pid, where = held.get("pid"), held.get("host")
                if where == host and isinstance(pid, int) and not _alive(pid):
                    log.warning("%s: fold %d was locked by pid %d on %s, which no longer runs: lock taken over",
                                run_dir, k, pid, host)
                    path.unlink(missing_ok=True)
                    continue
                also = "" if where == host else f" (another host: remove {path} once that process is gone)"
                raise RunLockedError(
                    f"{run_dir}: fold {k} is being run by pid {pid} on host {where} (since {held.get('started')}; "
                    f"lock file {path}){also}. Wait for it, or run other folds with --folds")
            taken.append(path)
    except BaseException:
        release(taken)
        raise
    return taken


def release(paths: Iterable[Path]) -> None:
    """Remove lock files this process took (those that are still its own)."""
    for path in paths:
        if _holder(path).get("pid") == os.getpid():
            path.unlink(missing_ok=True)
    for parent in {p.parent for p in paths}:
        with contextlib.suppress(OSError):
            parent.rmdir()  # only when empty


@contextlib.contextmanager
def run_lock(run_dir: str | Path, folds: Iterable[int]) -> Iterator[list[Path]]:
    """``with run_lock(run_dir, [0, 1]):`` the folds are this process's until the block ends."""
    taken = acquire(run_dir, folds)
    try:
        yield taken
    finally:
        release(taken)
