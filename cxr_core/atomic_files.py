"""Atomic file writing: no reader ever sees a half-written file.

Every output of a run (tables, predictions, configs, figures, checkpoints) is written to a temporary
name in the destination folder and renamed into place, so an interrupted run leaves either the old
file or the new one, never a truncated one.

Permissions: :func:`tempfile.mkstemp` creates its file readable by the owner only (0600); the file
:func:`atomic_path` renames into place gets the mode any new file would get, ``0666`` less the
process umask (0644 under the usual umask 022), as with ``open(path, "w")``. Folders made under a
temporary name (``tempfile.mkdtemp``, 0700) get ``0777`` less the umask through :func:`umask_mode`.

:func:`file_sha256` is the one hash of a file's bytes (data manifests, hazard checks, provenance).
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import tempfile
from pathlib import Path
from typing import Iterator


#: Part of every temporary name :func:`atomic_path` makes (``.<name>.tmp-XXXXXXXX<suffixes>``).
TEMP_MARK = ".tmp-"


def remove_stale_temporaries(folder: str | os.PathLike, *, recursive: bool = True,
                             older_than_s: float = 0.0) -> list[Path]:
    """Delete the temporary files a killed process left behind in ``folder`` (``.<name>.tmp-*``, made by
    :func:`atomic_path`); returns them. Call it when a run starts or resumes in ``folder``; where another
    process may be writing at the same time (a run directory shared by ``--folds`` runs), pass
    ``older_than_s`` so that only files untouched for that long go."""
    import time

    folder = Path(folder)
    if not folder.is_dir():
        return []
    pattern = f".*{TEMP_MARK}*"
    limit = time.time() - older_than_s
    found = sorted(p for p in (folder.rglob(pattern) if recursive else folder.glob(pattern))
                   if p.is_file() and (older_than_s <= 0 or p.stat().st_mtime < limit))
    for p in found:
        p.unlink(missing_ok=True)
    return found


def current_umask() -> int:
    """The process umask (e.g. ``0o022``), read without changing it where the OS allows
    (``/proc/self/status`` on Linux); elsewhere set and restored at once."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def umask_mode(*, folder: bool = False) -> int:
    """The mode a new file (``0o666``) or folder (``0o777``) gets under the current umask."""
    return (0o777 if folder else 0o666) & ~current_umask()


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike, suffix: str | None = None) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; rename it onto ``path`` if the block succeeds.

    ``suffix`` defaults to the destination's suffixes (``.weights.h5``, ``.csv``) so that libraries
    which choose a format from the file name (matplotlib, Keras) still do so.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(
        prefix=f".{path.name}{TEMP_MARK}", suffix="".join(path.suffixes) if suffix is None else suffix, dir=path.parent
    )
    try:
        os.fchmod(fd, umask_mode())  # mkstemp's 0600 would otherwise stay on the result
    finally:
        os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        os.replace(tmp_path, path)
    finally:
        if tmp_path.exists():
            tmp_path.unlink()


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically."""
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)


def atomic_write_text(path: str | os.PathLike, text: str) -> None:
    """Write ``text`` (UTF-8) to ``path`` atomically."""
    atomic_write_bytes(path, text.encode("utf-8"))


def file_sha256(path: str | os.PathLike, chunk: int = 1 << 20) -> str:
    """SHA-256 (64 lower-case hex characters) of a file's bytes, read in ``chunk``-byte blocks (1 MiB).

    Raises:
        FileNotFoundError / OSError: the file cannot be read.
    """
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(chunk), b""):
            digest.update(block)
    return digest.hexdigest()
