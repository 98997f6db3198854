"""The checks every row of a CSV manifest and of a COVIDx split file ends with, in the one order.

Both readers (:func:`cxr_core.data.tables.manifest.read_manifest_csv`,
:func:`cxr_core.data.tables.covidx.read_covidx_split`) first check a row's own cells their own way
(field count, empty or escaping name); :func:`admit_row` then checks, in this order, that the label is
one of the classes, that the row is no repeat of a file already taken
(:meth:`cxr_core.data.tables.repeated_rows.RepeatedRows.check`) and that the file exists, and records
a row that passes (:meth:`~cxr_core.data.tables.repeated_rows.RepeatedRows.taken`).
"""

from __future__ import annotations

import os

from cxr_core.data.tables.repeated_rows import RepeatedRows
from cxr_core.data.tables.sample_table import Problems, label_hint, relative_sample_id

__all__ = ["admit_row"]


def admit_row(repeated: RepeatedRows, problems: Problems, *, line: int, name: str, full: str, base: str,
              label: str, names: tuple[str, ...]) -> str | None:
    """The sample id of a row of ``repeated.where`` (the manifest or split file), or ``None`` when the row
    is left out.

    Args:
        repeated: the file's repeat rule and the files it took so far (``repeated.where`` names the file).
        problems: where a problem goes (raised, collected or skipped, by its ``on_error``).
        line: the row's line number in the file.
        name: the file as the row writes it (named in messages).
        full: the file's absolute, normalized path.
        base: the folder sample ids are relative to (:func:`cxr_core.data.tables.sample_table.relative_sample_id`).
        label: the row's label; ``names``: the allowed classes.

    Returns:
        ``relative_sample_id(full, base)``, or ``...#k`` for a kept repeat (``drop_duplicates="keep"``);
        ``None`` for a dropped repeat (listed in ``problems.rows``) or a problem (reported to
        ``problems``, each message naming the file, the line and what was expected and found: a label
        outside ``names``, a repeat, a missing file).
    """
    where = repeated.where
    if label not in names:
        problems(full, f"label {label!r} not in class_names",
                 f"{where} line {line}: label {label!r} of {name} is not one of the allowed classes "
                 f"{list(names)}{label_hint(label, names)}")
        return None
    sid = repeated.check(relative_sample_id(full, base), line, label, full, name, problems)
    if sid is None:
        return None
    if not os.path.isfile(full):
        problems(full, "file not found", f"{where} line {line}: file not found: {name} (looked for {full})")
        return None
    repeated.taken(sid, line, label)
    return sid
