"""What every public-source reader shares: the result type, safe file names, CSV rows, file walking.

Used by :mod:`cxr_core.data.build.sources` (the readers) and the recipes' split-file parsers.
"""

from __future__ import annotations

import csv
import os
import re
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath, PureWindowsPath
from typing import Sequence

import pandas as pd

from cxr_core.data.decode.extensions import is_image_name
from cxr_core.errors import CxrError

SOURCE_COLUMNS = ("path", "label", "patient_id", "source", "source_path")
JUNK_DIRS = {"__MACOSX", ".git", ".ipynb_checkpoints"}


class SourceError(CxrError):
    """A source folder or metadata row that does not fit the layout (message names file and line)."""


@dataclass(frozen=True)
class SourceSamples:
    """One source read from disk.

    ``frame``: :data:`SOURCE_COLUMNS` (``path`` absolute, ``source_path`` posix relative to ``root``)
    plus source-specific columns; ``skipped``: ``path, reason`` of every file or row not used;
    ``layout``: which layout/version was recognised.
    """

    source: str
    root: Path
    frame: pd.DataFrame
    skipped: pd.DataFrame
    layout: str = ""
    notes: tuple[str, ...] = field(default_factory=tuple)

    def skipped_counts(self) -> dict[str, int]:
        """Number of skipped entries per reason (reasons without the per-file detail after ':')."""
        reasons = self.skipped["reason"].astype(str).str.split(":").str[0].str.replace(r"\s*\(line \d+\)$", "", regex=True)
        return {k: int(v) for k, v in reasons.value_counts().sort_index().items()}

    def label_counts(self) -> dict[str, int]:
        return {k: int(v) for k, v in self.frame["label"].value_counts().sort_index().items()}


def make_samples(source: str, root: Path, rows: list[dict], skipped: list[tuple[str, str]], layout: str,
             notes=()) -> SourceSamples:
    """A reader's rows as a :class:`SourceSamples`.

    Raises:
        SourceError: no usable row at all, saying how many entries were read and why each kind was not
            used (``file not found``, ...), with the first few (a wrong folder, a partial download).
    """
    if not rows:
        raise SourceError(no_usable_rows_message(source, root, skipped, layout))
    frame = pd.DataFrame(rows)
    for col in SOURCE_COLUMNS:
        if col not in frame.columns:
            frame[col] = pd.Series(dtype="object")
    extra = [c for c in frame.columns if c not in SOURCE_COLUMNS]
    frame = frame[list(SOURCE_COLUMNS) + extra].sort_values("source_path", kind="stable").reset_index(drop=True)
    skipped_frame = pd.DataFrame(skipped, columns=["path", "reason"], dtype="object")
    return SourceSamples(source, root, frame, skipped_frame, layout, tuple(notes))


def no_usable_rows_message(source: str, root, skipped: Sequence[tuple[str, str]], layout: str) -> str:
    """One message for a source that gave no usable image: entries read, counts per reason, first few."""
    if not skipped:
        return f"--source {source}={root}: no image found ({layout})"
    reasons: dict[str, int] = {}
    for _, reason in skipped:
        key = re.sub(r"\s*\(line \d+\)$", "", str(reason).split(":")[0])
        reasons[key] = reasons.get(key, 0) + 1
    counts = ", ".join(f"{n} {why}" for why, n in sorted(reasons.items(), key=lambda kv: -kv[1]))
    first = "; ".join(str(r) if Path(p).name in str(r) else f"{Path(p).name}: {r}" for p, r in list(skipped)[:3])
    return (f"--source {source}={root}: no usable image: {len(skipped)} entries read ({layout}), none usable "
            f"({counts}); first: {first}. Is the folder the whole download (images/ beside metadata.csv)?")


# ------------------------------------------------------------------------------------------ helpers
def safe_relative_name(name: str, where: str) -> str:
    """``name`` if it is a relative path that stays inside its folder; else :class:`SourceError`.

    Refused: empty names, absolute paths (``/x``, ``C:\\x``, ``\\\\server\\x``) and any ``..`` part,
    whether the separator is ``/`` or ``\\``. ``where`` (``file line N``) goes into the message.
    """
    text = name.strip()
    if not text:
        raise SourceError(f"{where}: empty file name")
    posix, windows = PurePosixPath(text.replace("\\", "/")), PureWindowsPath(text)
    if posix.is_absolute() or windows.is_absolute() or windows.drive or text.startswith(("/", "\\")):
        raise SourceError(f"{where}: absolute path {text!r} refused (file names must be relative)")
    if ".." in posix.parts:
        raise SourceError(f"{where}: path {text!r} refused: '..' would leave the image folder")
    return posix.as_posix()


def read_csv_rows(path: Path):
    """``(line_number, {lower-cased column: value})`` for each data row; UTF-8, else Latin-1.

    Figure1's ``metadata.csv`` is Latin-1 (COVID-Net reads it with ``encoding='ISO-8859-1'``).
    """
    for encoding in ("utf-8-sig", "latin-1"):
        try:
            with open(path, newline="", encoding=encoding) as fh:
                reader = csv.reader(fh)
                header = [h.strip().lower() for h in next(reader, [])]
                out, end = [], reader.line_num
                for row in reader:
                    start, end = end + 1, reader.line_num
                    if row and any(c.strip() for c in row):
                        out.append((start, {h: (row[i].strip() if i < len(row) else "") for i, h in enumerate(header)}))
            return header, out
        except UnicodeDecodeError:
            continue
    raise SourceError(f"{path}: cannot decode as UTF-8 or Latin-1")


def need_columns(header: list[str], names: tuple[str, ...], path: Path) -> None:
    missing = [n for n in names if n not in header]
    if missing:
        raise SourceError(f"{path}: missing column(s) {missing} (matched case-insensitively); found {header}")


def folders_holding(root: Path, names, at_least: int = 2) -> list[Path]:
    """Folders under ``root`` (``root`` included, junk folders skipped) with at least ``at_least`` of the
    sub-folders ``names``: where a class-folder download's classes sit. Shallowest first, then by path."""
    return sorted({Path(d) for d, dirs, _ in os.walk(root) if not (set(Path(d).parts) & JUNK_DIRS)
                   and sum(1 for x in dirs if x in names) >= at_least}, key=lambda p: (len(p.parts), str(p)))


def walk_files(root: Path):
    """All files under ``root`` (sorted, junk folders skipped), as absolute paths."""
    for dirpath, dirs, files in os.walk(root):
        dirs[:] = sorted(d for d in dirs if d not in JUNK_DIRS)
        for f in sorted(files):
            yield Path(dirpath) / f


def is_image_file(path: Path) -> bool:
    """A name we decode (:data:`cxr_core.data.decode.extensions.IMAGE_EXTENSIONS`)."""
    return is_image_name(path.name)


def rel_posix(path: Path, root: Path) -> str:
    return Path(os.path.relpath(path, root)).as_posix()


def require_dir(root, source: str) -> Path:
    root = Path(os.path.abspath(os.fspath(root)))
    if not root.is_dir():
        raise SourceError(f"--source {source}={root}: not a folder")
    return root


def find_file(root: Path, name: str, source: str, hint: str) -> Path:
    direct = root / name
    if direct.is_file():
        return direct
    found = sorted(p for p in root.rglob(name) if not (set(p.parts) & JUNK_DIRS))
    if not found:
        raise SourceError(f"--source {source}={root}: no {name} found ({hint})")
    return min(found, key=lambda p: (len(p.parts), str(p)))
