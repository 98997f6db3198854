"""CSV manifests: one row per image with its path, label and optionally patient id and source."""

from __future__ import annotations

import csv
import os

from cxr_core.data.tables.repeated_rows import RepeatedRows
from cxr_core.data.tables.row_checks import admit_row
from cxr_core.data.tables.sample_table import (
    Problems,
    SampleError,
    escaping_name,
    SampleTable,
    resolve_class_names,
    table_from_rows,
)


def _csv_records(path: str):
    """Yield ``(line_number, header, row)`` from a CSV file; the line number is where the row starts."""
    with open(path, newline="", encoding="utf-8-sig") as fh:
        reader = csv.reader(fh)
        try:
            header = [h.strip() for h in next(reader)]
        except StopIteration:
            raise SampleError(f"{path}: empty file (expected a CSV header)") from None
        yield 1, header, None
        previous_end = reader.line_num
        for row in reader:
            start = previous_end + 1
            previous_end = reader.line_num
            if not row or all(not c.strip() for c in row):
                continue
            yield start, header, row


def read_manifest_csv(
    path,
    *,
    root=None,
    class_names=None,
    label_column: str | None = None,
    drop_duplicates: bool = False,
    on_error: str = "raise",
) -> SampleTable:
    """Read a CSV manifest with one row per image.

    Columns: ``path`` (required); the label in ``label`` or ``class`` (auto-detected, or
    ``label_column``; both present is an error unless ``label_column`` says which); optional
    ``patient_id``; optional ``source`` or, as in ``../shared/data/*/MANIFEST.csv``, ``source_repo``
    (``source`` wins). Other columns are ignored. Empty ``patient_id``/``source`` cells become <NA>.

    Relative paths are taken relative to the manifest's folder, or to ``root`` when given; absolute
    paths are kept (a manifest may name files anywhere, on purpose). A relative path with a ``..`` part
    is refused with its line number: it would leave the folder it is relative to. With ``on_error="raise"`` every problem row is gathered first and one
    :class:`SampleError` lists the first 20 and the count. ``sample_id`` is the path relative to that folder (posix; the absolute posix path
    for files outside it). Problems (missing file, empty path, unknown or empty label, repeated
    sample) raise :class:`SampleError` naming the manifest, its line number and the path/label, or
    with ``on_error="skip"`` go to ``skipped``. A repeated row of the same file follows the one rule of
    COVIDx split files too (:mod:`cxr_core.data.tables.repeated_rows`): dropped and listed in
    ``skipped`` with ``drop_duplicates=True``, its own sample (``file#2`` ...) with ``"keep"``, an
    error otherwise or when the labels differ.

    ``class_names`` defaults to the labels found, sorted (the same order as Keras' sorted folders).
    """
    problems = Problems(on_error, collect=True)
    manifest = os.path.abspath(os.fspath(path))
    repeated = RepeatedRows(drop_duplicates, manifest)
    if not os.path.isfile(manifest):
        raise FileNotFoundError(f"manifest {manifest} not found")
    base = os.path.abspath(os.fspath(root)) if root is not None else os.path.dirname(manifest)

    records = _csv_records(manifest)
    _, header, _ = next(records)
    cols = {h: i for i, h in enumerate(header)}
    if "path" not in cols:
        raise SampleError(f"{manifest}: no 'path' column; found columns {header}")
    if label_column is None:
        present = [c for c in ("label", "class") if c in cols]
        if not present:
            raise SampleError(f"{manifest}: no label column ('label' or 'class'); found columns {header}")
        if len(present) == 2:
            raise SampleError(f"{manifest}: both 'label' and 'class' columns; say which holds the labels with "
                              "data.label_column (command line: --set data.label_column=class or =label)")
        label_column = present[0]
    elif label_column not in cols:
        raise SampleError(f"{manifest}: data.label_column {label_column!r} is not a column; found columns {header}")
    source_column = next((c for c in ("source", "source_repo") if c in cols), None)

    def cell(row, name):
        i = cols.get(name)
        return row[i].strip() if i is not None and i < len(row) else ""

    raw = []
    for line, _, row in records:
        if len(row) != len(header):
            problems(f"{manifest}:{line}", f"row has {len(row)} fields, header has {len(header)}",
                     f"{manifest} line {line}: {len(row)} fields, header has {len(header)} ({header})")
            continue
        raw.append((line, cell(row, "path"), cell(row, label_column), cell(row, "patient_id"),
                    cell(row, source_column) if source_column else ""))
    names = resolve_class_names(class_names, [r[2] for r in raw if r[2]], manifest)

    rows: list[dict] = []
    for line, rel, label, patient, source in raw:
        if not rel:
            problems(f"{manifest}:{line}", "empty path", f"{manifest} line {line}: empty 'path' cell")
            continue
        escape = escaping_name(rel)
        if escape and escape != "absolute path":
            problems(f"{manifest}:{line}", f"path {rel!r} refused: {escape}",
                     f"{manifest} line {line}: path {rel!r} refused ({escape}): paths must stay inside the "
                     f"image folder {base}")
            continue
        full = os.path.normpath(rel if os.path.isabs(rel) else os.path.join(base, rel))
        if not label:
            problems(full, "empty label", f"{manifest} line {line}: empty {label_column!r} cell for {rel}")
            continue
        sid = admit_row(repeated, problems, line=line, name=rel, full=full, base=base, label=label, names=names)
        if sid is None:
            continue
        rows.append({"sample_id": sid, "path": full, "label": label,
                     "patient_id": patient, "source": source})
    problems.raise_collected(f"manifest {manifest}")
    return table_from_rows(rows, names, problems.rows)
