"""COVIDx split files (``train_COVIDx.txt``, ``test_split_v2.csv`` ...) as a :class:`SampleTable`.

(The COVIDx section of the former ``cxr_core/data/tables/readers.py``, same behaviour, plus: whitespace rows
are parsed from the right so a patient id may contain spaces; file names that would leave the image
folder are refused; in ``raise`` mode every problem row is listed at once.)
"""

from __future__ import annotations

import csv
import os

from cxr_core.data.tables.patient_ids import covidx_patient_id
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

#: COVIDx class order of COVID-Net (``{normal: 0, pneumonia: 1, COVID-19: 2}``) [CNet@61a5963].
COVIDX_CLASS_NAMES = ("normal", "pneumonia", "COVID-19")


_COVIDX_FIELDS = ("patientid", "filename", "label", "source")


def _split_from_right(fields: list[str], names) -> list[str] | None:
    """``[patientid, filename, label, source]`` of a whitespace row, read from the right.

    COVIDx rows are ``patientid filename label [source]``, and some patient ids hold spaces
    (``COVID 1 COVID(1).png COVID-19 sirm``): the label is the last field or, with a source column,
    the one before; the file name precedes it; everything before the file name is the patient id.
    None when neither of the last two fields is a class name (the caller reports the row as it is).
    """
    if len(fields) >= 3 and fields[-1] in names:
        return [" ".join(fields[:-2]), fields[-2], fields[-1], ""]
    if len(fields) >= 4 and fields[-2] in names:
        return [" ".join(fields[:-3]), fields[-3], fields[-2], fields[-1]]
    return None


def _covidx_records(path: str):
    """Yield ``(line, fields)`` of a COVIDx split file, header (if any) removed.

    ``.csv``: comma separated, optional header ``patientid,filename,label[,source]`` (CORONA-Net's
    ``test_split_v2.csv`` has one [CR-S]); anything else: whitespace separated
    ``patientid filename label [source]`` (COVID-Net ``train_COVIDx.txt`` [CNet@61a5963]).
    """
    is_csv = path.lower().endswith(".csv")
    with open(path, newline="" if is_csv else None, encoding="utf-8-sig") as fh:
        if is_csv:
            reader = csv.reader(fh)
            previous_end = 0
            numbered = []
            for row in reader:
                numbered.append((previous_end + 1, [c.strip() for c in row]))
                previous_end = reader.line_num
        else:
            numbered = [(i, ln.split()) for i, ln in enumerate(fh, start=1)]
    numbered = [(i, f) for i, f in numbered if f and any(f)]
    order = list(range(4))
    if numbered:
        first = [c.lower() for c in numbered[0][1]]
        if len(first) >= 3 and first[0] in ("patientid", "patient_id") and first[1] == "filename":
            named = {c.replace("patient_id", "patientid"): j for j, c in enumerate(first)}
            if "label" not in named:
                raise SampleError(f"{path}: header {numbered[0][1]} has no 'label' column")
            order = [named.get(f, -1) for f in _COVIDX_FIELDS]
            numbered = numbered[1:]
            for line, fields in numbered:
                yield line, [fields[j] if 0 <= j < len(fields) else "" for j in order], len(fields), len(first)
            return
    for line, fields in numbered:
        yield line, fields + [""] * (4 - len(fields)), len(fields), None


def read_covidx_split(
    path,
    image_dir=None,
    *,
    class_names=COVIDX_CLASS_NAMES,
    drop_duplicates: bool = False,
    on_error: str = "raise",
) -> SampleTable:
    """Read a COVIDx split file (``train_COVIDx.txt``, ``test_split_v2.csv`` ...) [CNet], [CR-S].

    Each row is ``patientid filename label`` (whitespace separated, a 4th ``source`` column as in later
    COVIDx versions is kept) or the CSV variant with or without the header ``patientid,filename,label``
    that CORONA-Net loads [CR-A]. Images are ``image_dir/filename`` (``image_dir`` defaults to the
    split file's folder); ``sample_id`` is ``filename`` (posix); ``patient_id`` is the row's own id as
    written, ``fig1`` rows' by the Figure1 rule (:func:`cxr_core.data.tables.patient_ids.covidx_patient_id`). Whitespace rows are read from the
    right (label last, or before a source column; the file name before it; the rest, spaces
    included, is the patient id: ``COVID 1 COVID(1).png COVID-19 sirm``); a row where neither of the
    last two fields is a class name is reported as it stands, never guessed into a path. A file name
    that is absolute or holds ``..`` is refused with its line number (it would leave ``image_dir``).
    With ``on_error="raise"`` every problem row is gathered first and one :class:`SampleError` lists
    the first 20 and the count.

    Class order defaults to COVID-Net's (``normal, pneumonia, COVID-19``); pass
    :data:`CORONANET_CLASS_NAMES` (``COVID-19, normal, pneumonia``) for CORONA-Net's. Labels are
    matched case-sensitively; an unknown label's error lists the allowed ones.

    A filename repeated with the same label (``test_split_v2`` repeats every image 4 to 16 times
    [CR-S]) is an error unless ``drop_duplicates=True``, which keeps the first row and lists each
    dropped row in ``skipped`` as ``"duplicate row of <file> (line N, kept line M)"``. A filename
    repeated with a different label is an error (or skipped with ``on_error="skip"``) either way.
    ``drop_duplicates="keep"`` keeps every repeated row as its own sample (``sample_id`` ``file#2``,
    ``file#3`` ...), as the authors' CORONA-Net loader evaluates them [CR-A]. The same rule, in the same
    order, as a CSV manifest's (:mod:`cxr_core.data.tables.repeated_rows`).
    """
    problems = Problems(on_error, collect=True)
    split = os.path.abspath(os.fspath(path))
    if not os.path.isfile(split):
        raise FileNotFoundError(f"COVIDx split file {split} not found")
    base = os.path.abspath(os.fspath(image_dir)) if image_dir is not None else os.path.dirname(split)
    if not os.path.isdir(base):
        raise FileNotFoundError(f"COVIDx image folder {base} (for {split}) is not a folder")
    names = resolve_class_names(class_names, (), split)

    repeated = RepeatedRows(drop_duplicates, split, note=" (COVIDx *_split_v2 files repeat images)")
    rows: list[dict] = []
    for line, fields, n_fields, n_header in _covidx_records(split):
        if not n_header and not split.lower().endswith(".csv"):
            parsed = _split_from_right(fields[:n_fields], names)
            if parsed is not None:
                fields, n_fields = parsed, min(n_fields, 4)
            elif n_fields > 4:
                problems(f"{split}:{line}", f"row has {n_fields} fields and no class name among the last two",
                         f"{split} line {line}: {n_fields} fields {fields[:n_fields]} and neither of the last two is "
                         f"a class name {list(names)}; expected 'patientid filename label [source]' (a patient id "
                         "may hold spaces)")
                continue
        expected = f"{n_header} (as the header)" if n_header else "3 or 4 (patientid filename label [source])"
        if (n_header and n_fields != n_header) or (not n_header and n_fields not in (3, 4)):
            problems(f"{split}:{line}", f"row has {n_fields} fields",
                     f"{split} line {line}: {n_fields} fields, expected {expected}: {fields[:n_fields]}")
            continue
        patient, fname, label, source = fields[:4]
        if not fname:
            problems(f"{split}:{line}", "empty filename", f"{split} line {line}: empty filename")
            continue
        escape = escaping_name(fname)
        if escape:
            problems(f"{split}:{line}", f"file name {fname!r} refused: {escape}",
                     f"{split} line {line}: file name {fname!r} refused ({escape}): names in a split file must "
                     f"stay inside the image folder {base}")
            continue
        full = os.path.normpath(os.path.join(base, fname))
        sid = admit_row(repeated, problems, line=line, name=fname, full=full, base=base, label=label, names=names)
        if sid is None:
            continue
        rows.append({"sample_id": sid, "path": full, "label": label, "patient_id": covidx_patient_id(patient, source), "source": source})
    problems.raise_collected(f"COVIDx split file {split}")
    return table_from_rows(rows, names, problems.rows)
