"""The one rule for a file named on two rows of a manifest or a COVIDx split file (``data.drop_duplicates``).

Both readers (:func:`cxr_core.data.tables.manifest.read_manifest_csv`,
:func:`cxr_core.data.tables.covidx.read_covidx_split`) check each row in the same order
(:func:`cxr_core.data.tables.row_checks.admit_row`): the row's own cells (path, label), then
:meth:`RepeatedRows.check` (a repeat of a file already taken), then whether the file exists; a row that
passes is recorded with :meth:`RepeatedRows.taken`.

A repeat with a *different* label is always a problem (an error, or with ``on_error="skip"`` a
skipped row). A repeat with the same label is, by ``drop_duplicates``:

- ``False``: a problem naming both lines and how to go on;
- ``True``: left out, listed in ``skipped`` as ``duplicate row of NAME (line L, kept line F)``;
- ``"keep"``: its own sample, ``sample_id`` ``NAME#2``, ``NAME#3`` ... (COVIDx ``*_split_v2`` files
  repeat images and the authors' CORONA-Net loader evaluates every row [CR-A]).
"""

from __future__ import annotations

from cxr_core.data.tables.sample_table import Problems, SampleError

__all__ = ["DROP_DUPLICATES", "RepeatedRows"]

#: The values of ``data.drop_duplicates``.
DROP_DUPLICATES = (False, True, "keep")


class RepeatedRows:
    """First line and label of every file taken so far from one file (``where``), and the repeat rule.

    Raises:
        SampleError: ``drop_duplicates`` is not one of :data:`DROP_DUPLICATES`.
    """

    def __init__(self, drop_duplicates, where: str, *, note: str = "") -> None:
        if drop_duplicates not in DROP_DUPLICATES:
            raise SampleError(f"drop_duplicates must be true, false or 'keep' ({where}); found {drop_duplicates!r}")
        self.drop_duplicates = drop_duplicates
        self.where = where
        self.note = note  # said when a repeat is an error, e.g. which files are known to repeat rows
        self._first: dict[str, tuple[int, str]] = {}
        self._count: dict[str, int] = {}

    def check(self, sample_id: str, line: int, label: str, full: str, name: str, problems: Problems) -> str | None:
        """The sample id of this row (``sample_id``, or ``sample_id#k`` for a kept repeat), or ``None``
        when the row is left out (a dropped repeat, listed, or a problem, reported to ``problems``)."""
        if sample_id not in self._first:
            return sample_id
        first, first_label = self._first[sample_id]
        if first_label != label:
            problems(full, f"{name} labelled {label!r} on line {line} but {first_label!r} on line {first}",
                     f"{self.where} line {line}: {name} labelled {label!r}, but {first_label!r} on line {first}")
        elif self.drop_duplicates == "keep":
            self._count[sample_id] = self._count.get(sample_id, 1) + 1
            return f"{sample_id}#{self._count[sample_id]}"
        elif self.drop_duplicates:
            problems.rows.append((full, f"duplicate row of {name} (line {line}, kept line {first})"))
        else:
            problems(full, f"duplicate row of {name} (line {line}, first on line {first})",
                     f"{self.where} line {line}: {name} repeats line {first}{self.note} (set "
                     "data.drop_duplicates: true to keep the first row, or keep to keep every row; command "
                     "line: --set data.drop_duplicates=true)")
        return None

    def taken(self, sample_id: str, line: int, label: str) -> None:
        """Record the first row of ``sample_id`` (call once its file was found)."""
        self._first.setdefault(sample_id, (line, label))
