"""Sample tables: which image files make up a dataset, with labels, patient ids and sources.

Readers for the three layouts the papers use (class-per-folder trees, CSV manifests, COVIDx split
files) all return a :class:`SampleTable`.
"""

from __future__ import annotations

import csv
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

SAMPLE_COLUMNS = ("sample_id", "path", "label", "label_index", "patient_id", "source")
SKIPPED_COLUMNS = ("path", "reason")


def empty_skipped() -> pd.DataFrame:
    """An empty table of skipped files."""
    return pd.DataFrame({c: pd.Series(dtype="object") for c in SKIPPED_COLUMNS})


@dataclass(frozen=True)
class SampleTable:
    """A dataset as a table: one row per image, plus the files that were skipped and why.

    ``frame`` has the columns of :data:`SAMPLE_COLUMNS`; ``class_names`` gives the class order
    (``label_index`` indexes it); ``skipped`` lists files left out (columns ``path``, ``reason``), so
    that no sample is ever dropped silently.
    """

    frame: pd.DataFrame
    class_names: tuple[str, ...]
    skipped: pd.DataFrame = field(default_factory=empty_skipped)

    def __post_init__(self) -> None:
        missing = [c for c in SAMPLE_COLUMNS if c not in self.frame.columns]
        if missing:
            raise ValueError(f"SampleTable frame lacks columns {missing}; found {list(self.frame.columns)}")
        object.__setattr__(self, "class_names", tuple(self.class_names))

    def __len__(self) -> int:
        return len(self.frame)

    def subset(self, positions) -> "SampleTable":
        """The rows at ``positions`` (integer positions or a boolean mask), same classes and skips."""
        positions = np.asarray(positions)
        if positions.dtype == bool:
            positions = np.flatnonzero(positions)
        return SampleTable(
            self.frame.iloc[positions].reset_index(drop=True), self.class_names, self.skipped
        )

    @property
    def labels(self) -> np.ndarray:
        """Integer class index of each row."""
        return self.frame["label_index"].to_numpy(dtype=np.int64)

    @property
    def groups(self) -> np.ndarray | None:
        """Patient id of each row (a row without one is its own group), or ``None`` when no row has one."""
        ids = self.frame["patient_id"]
        if ids.isna().all():
            return None
        out = ids.astype("string").to_numpy(dtype=object)
        for i in np.flatnonzero(ids.isna().to_numpy()):
            out[i] = f"<row {i}>"  # its own group, never merged with others
        return out.astype(str).astype(object)

    def class_counts(self) -> pd.Series:
        """Number of rows per class, in class order (zeros included)."""
        counts = self.frame["label"].value_counts()
        return pd.Series([int(counts.get(c, 0)) for c in self.class_names], index=list(self.class_names))

    def with_skipped(self, rows: list[tuple[str, str]]) -> "SampleTable":
        """This table with ``rows`` (``(path, reason)`` pairs) appended to ``skipped``."""
        if not rows:
            return self
        extra = pd.DataFrame(rows, columns=list(SKIPPED_COLUMNS), dtype="object")
        skipped = extra if self.skipped.empty else pd.concat([self.skipped, extra], ignore_index=True)
        return SampleTable(self.frame, self.class_names, skipped)


# --------------------------------------------------------------------------------------------------
# Shared helpers
# --------------------------------------------------------------------------------------------------

#: Keras 2 ``flow_from_directory`` white list (``keras_preprocessing.image.Iterator.white_list_formats``),
#: matched case-insensitively. Keras tests ``name.lower().endswith('png')`` without a dot, so it would
#: also accept a file called ``scan_png``; we require the dot (such a file is listed in ``skipped``).
KERAS_IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".ppm", ".tif", ".tiff")

#: COVIDx class order of COVID-Net (``{normal: 0, pneumonia: 1, COVID-19: 2}``) [CNet@61a5963].
COVIDX_CLASS_NAMES = ("normal", "pneumonia", "COVID-19")
#: CORONA-Net's order (sorted pathologies: COVID-19, normal, pneumonia) [CR-A].
CORONANET_CLASS_NAMES = ("COVID-19", "normal", "pneumonia")

_ON_ERROR = ("raise", "skip")


class SampleError(ValueError):
    """A dataset file or row that does not fit what the reader expects (message names it)."""


def _check_on_error(on_error: str) -> None:
    if on_error not in _ON_ERROR:
        raise ValueError(f"on_error must be one of {_ON_ERROR}; got {on_error!r}")


def _is_image_name(name: str) -> bool:
    return name.lower().endswith(KERAS_IMAGE_EXTENSIONS)


def _missing_text(value) -> bool:
    return value is None or (isinstance(value, float) and np.isnan(value)) or str(value).strip() == ""


def _sample_id(path: str, root: str) -> str:
    """Posix path of ``path`` relative to ``root``; the absolute posix path when outside ``root``."""
    rel = os.path.relpath(path, root)
    if rel == os.pardir or rel.startswith(os.pardir + os.sep):
        return Path(path).as_posix()
    return Path(rel).as_posix()


def _resolve_class_names(class_names, found_labels, where: str) -> tuple[str, ...]:
    if class_names is None:
        names = tuple(sorted(set(found_labels)))
        if not names:
            raise SampleError(f"{where}: no labels found, so no class names can be inferred")
        return names
    names = tuple(str(c) for c in class_names)
    if len(set(names)) != len(names):
        raise ValueError(f"class_names has repeated entries: {list(names)}")
    if not names:
        raise ValueError("class_names is empty")
    return names


def _label_hint(label: str, class_names: tuple[str, ...]) -> str:
    near = [c for c in class_names if c.lower() == label.lower()]
    return f" (labels are matched case-sensitively; did you mean {near[0]!r}?)" if near else ""


def table_from_rows(
    rows: list[dict], class_names: tuple[str, ...], skipped: list[tuple[str, str]] = ()
) -> SampleTable:
    """Rows of ``sample_id, path, label[, patient_id, source]`` -> :class:`SampleTable`.

    For readers of other layouts (e.g. :func:`cvrnet_tf.tasks.read_kermany`); ``skipped`` is a list of
    ``(path, reason)``. Blank patient ids and sources become ``<NA>``.
    """
    index = {c: i for i, c in enumerate(class_names)}
    frame = pd.DataFrame(
        {
            "sample_id": pd.Series([r["sample_id"] for r in rows], dtype="string"),
            "path": pd.Series([r["path"] for r in rows], dtype="string"),
            "label": pd.Series([r["label"] for r in rows], dtype="string"),
            "label_index": pd.Series([index[r["label"]] for r in rows], dtype="int64"),
            "patient_id": pd.Series(
                [None if _missing_text(r.get("patient_id")) else str(r["patient_id"]).strip() for r in rows],
                dtype="string",
            ),
            "source": pd.Series(
                [None if _missing_text(r.get("source")) else str(r["source"]).strip() for r in rows],
                dtype="string",
            ),
        }
    )
    dup = frame["sample_id"].duplicated(keep=False)
    if dup.any():  # readers check first; this guards against a reader bug
        raise SampleError(f"sample_id not unique: {frame['sample_id'][dup].iloc[0]!r}")
    table = SampleTable(frame, class_names)
    return table.with_skipped(skipped)


class _Problems:
    """Raise, or collect ``(path, reason)`` rows, depending on ``on_error``."""

    def __init__(self, on_error: str) -> None:
        _check_on_error(on_error)
        self.on_error = on_error
        self.rows: list[tuple[str, str]] = []

    def __call__(self, path: str, reason: str, message: str) -> None:
        if self.on_error == "raise":
            raise SampleError(message)
        self.rows.append((str(path), reason))


# --------------------------------------------------------------------------------------------------
# Class-per-folder trees (Keras flow_from_directory layout)
# --------------------------------------------------------------------------------------------------


def read_class_folders(root, class_names=None, *, on_error: str = "raise") -> SampleTable:
    """Read a class-per-folder tree the way Keras 2 ``flow_from_directory`` lists it.

    Used by CoroNet ([CN] ``four_classes/train``) and CVR-Net ([CVR-T] ``01_NOR`` ...).
    Behaviour copied from ``keras_preprocessing.image.DirectoryIterator`` 1.1.2:

    - classes: every sub-folder of ``root`` (``os.path.isdir``, so a symlinked folder counts) in
      ``sorted(os.listdir(root))`` order, unless ``class_names`` is given;
    - files: each class folder is walked recursively (``os.walk(followlinks=False)``, folders sorted by
      path, files sorted by name), keeping names whose lower-cased extension is in
      :data:`KERAS_IMAGE_EXTENSIONS`; the row order is Keras' ``filenames`` order.

    Differences from Keras (nothing disappears silently):

    - Keras tests ``name.lower().endswith('png')`` without a dot, so it would take a file called
      ``scan_png``; we require the dot. Such files and every other non-image file in a class folder
      are listed in ``skipped`` as ``"not an image extension"``.
    - images directly in ``root`` are an error (``on_error="skip"``: listed in ``skipped``); other
      files in ``root`` (``MANIFEST.csv``, ``README.md``) are ignored;
    - symlinked sub-folders, which Keras does not descend into, are listed in ``skipped``;
    - a class folder without images is an error (Keras accepts it with zero samples); with
      ``on_error="skip"`` it is listed in ``skipped`` and the class keeps its index;
    - with explicit ``class_names`` every named folder must exist (always an error); folders not
      named are an error (Keras ignores them) or, with ``on_error="skip"``, listed in ``skipped``.

    Args:
        root: dataset folder holding one folder per class.
        class_names: class order; default alphabetical folder names as Keras sorts them.
        on_error: ``"raise"`` or ``"skip"``.

    Returns:
        A :class:`SampleTable`; ``sample_id`` is ``<class folder>/<relative path>`` (posix), the
        same string as Keras' ``DirectoryIterator.filenames`` on posix systems; no patient ids.
    """
    problems = _Problems(on_error)
    root_s = os.path.abspath(os.fspath(root))
    if not os.path.isdir(root_s):
        raise FileNotFoundError(f"class-folder dataset root {root_s} is not a folder")
    entries = sorted(os.listdir(root_s))
    folders = [e for e in entries if os.path.isdir(os.path.join(root_s, e))]
    for e in entries:
        full = os.path.join(root_s, e)
        if not os.path.isdir(full) and _is_image_name(e):
            problems(full, "image outside any class folder",
                     f"{full}: image directly in the dataset root {root_s}, outside any class folder")
    if class_names is None:
        if not folders:
            raise SampleError(f"{root_s}: no class folders found (expected one sub-folder per class)")
        names = tuple(folders)
    else:
        names = _resolve_class_names(class_names, (), root_s)
        absent = [c for c in names if c not in folders]
        if absent:
            raise SampleError(
                f"{root_s}: class folder(s) {absent} named in class_names do not exist; found folders {folders}"
            )
        for extra in [f for f in folders if f not in names]:
            problems(os.path.join(root_s, extra), "class folder not in class_names",
                     f"{root_s}: folder {extra!r} is not one of class_names {list(names)} "
                     f"(remove it, add it to class_names, or use on_error='skip')")

    rows: list[dict] = []
    for label in names:
        class_dir = os.path.join(root_s, label)
        n_images = 0
        for walk_root, dirs, files in sorted(os.walk(class_dir, followlinks=False), key=lambda w: w[0]):
            for d in sorted(dirs):
                full = os.path.join(walk_root, d)
                if os.path.islink(full):
                    problems.rows.append(
                        (full, "symbolic link to a folder not followed (Keras follow_links=False)"))
            for fname in sorted(files):
                full = os.path.join(walk_root, fname)
                if not _is_image_name(fname):
                    problems.rows.append((full, "not an image extension"))
                    continue
                n_images += 1
                rows.append({"sample_id": _sample_id(full, root_s), "path": full, "label": label})
        if n_images == 0:
            problems(class_dir, "class folder has no images",
                     f"class folder {class_dir} has no images (extensions {list(KERAS_IMAGE_EXTENSIONS)})")
    return table_from_rows(rows, names, problems.rows)


# --------------------------------------------------------------------------------------------------
# CSV manifests
# --------------------------------------------------------------------------------------------------


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
    paths are kept. ``sample_id`` is the path relative to that folder (posix; the absolute posix path
    for files outside it). Problems (missing file, empty path, unknown or empty label, repeated
    sample) raise :class:`SampleError` naming the manifest, its line number and the path/label, or
    with ``on_error="skip"`` go to ``skipped``. A repeated row of the same file is dropped (and listed
    in ``skipped``) when ``drop_duplicates=True`` and carries the same label; with
    ``drop_duplicates="keep"`` every repeated row is its own sample (``sample_id`` ``file#2`` ...),
    as for COVIDx split files (:func:`read_covidx_split`).

    ``class_names`` defaults to the labels found, sorted (the same order as Keras' sorted folders).
    """
    if drop_duplicates not in (True, False, "keep"):
        raise ValueError(f"drop_duplicates must be true, false or 'keep' ({path}); found {drop_duplicates!r}")
    repeats: dict[str, int] = {}
    problems = _Problems(on_error)
    manifest = os.path.abspath(os.fspath(path))
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
            raise SampleError(f"{manifest}: both 'label' and 'class' columns; pass label_column= to choose")
        label_column = present[0]
    elif label_column not in cols:
        raise SampleError(f"{manifest}: label_column {label_column!r} not found; found columns {header}")
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
    names = _resolve_class_names(class_names, [r[2] for r in raw if r[2]], manifest)

    rows: list[dict] = []
    first_line: dict[str, tuple[int, str]] = {}
    for line, rel, label, patient, source in raw:
        if not rel:
            problems(f"{manifest}:{line}", "empty path", f"{manifest} line {line}: empty 'path' cell")
            continue
        full = os.path.normpath(rel if os.path.isabs(rel) else os.path.join(base, rel))
        if not label:
            problems(full, "empty label", f"{manifest} line {line}: empty {label_column!r} cell for {rel}")
            continue
        if label not in names:
            problems(full, f"label {label!r} not in class_names",
                     f"{manifest} line {line}: label {label!r} of {rel} is not one of the allowed "
                     f"classes {list(names)}{_label_hint(label, names)}")
            continue
        if not os.path.isfile(full):
            problems(full, "file not found", f"{manifest} line {line}: file not found: {rel} (looked for {full})")
            continue
        sid = _sample_id(full, base)
        if sid in first_line:
            first, first_label = first_line[sid]
            if drop_duplicates == "keep" and first_label == label:
                repeats[sid] = repeats.get(sid, 1) + 1
                rows.append({"sample_id": f"{sid}#{repeats[sid]}", "path": full, "label": label,
                             "patient_id": patient, "source": source})
            elif drop_duplicates and first_label == label:
                problems.rows.append((full, f"duplicate row of {sid} (line {line}, kept line {first})"))
            else:
                why = "with a different label " + repr(first_label) if first_label != label else ""
                problems(full, f"duplicate row of {sid} (line {line}, first on line {first})",
                         f"{manifest} line {line}: {rel} repeats line {first} {why}".rstrip()
                         + ("" if why else " (pass drop_duplicates=True to drop repeats)"))
            continue
        first_line[sid] = (line, label)
        rows.append({"sample_id": sid, "path": full, "label": label,
                     "patient_id": patient, "source": source})
    return table_from_rows(rows, names, problems.rows)


# --------------------------------------------------------------------------------------------------
# COVIDx split files
# --------------------------------------------------------------------------------------------------

_COVIDX_FIELDS = ("patientid", "filename", "label", "source")


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
    split file's folder); ``sample_id`` is ``filename`` (posix).

    Class order defaults to COVID-Net's (``normal, pneumonia, COVID-19``); pass
    :data:`CORONANET_CLASS_NAMES` (``COVID-19, normal, pneumonia``) for CORONA-Net's. Labels are
    matched case-sensitively; an unknown label's error lists the allowed ones.

    A filename repeated with the same label (``test_split_v2`` repeats every image 4 to 16 times
    [CR-S]) is an error unless ``drop_duplicates=True``, which keeps the first row and lists each
    dropped row in ``skipped`` as ``"duplicate row of <file> (line N, kept line M)"``. A filename
    repeated with a different label is an error (or skipped with ``on_error="skip"``) either way.
    ``drop_duplicates="keep"`` keeps every repeated row as its own sample (``sample_id`` ``file#2``,
    ``file#3`` ...), as the authors' CORONA-Net loader evaluates them [CR-A].
    """
    problems = _Problems(on_error)
    split = os.path.abspath(os.fspath(path))
    if not os.path.isfile(split):
        raise FileNotFoundError(f"COVIDx split file {split} not found")
    base = os.path.abspath(os.fspath(image_dir)) if image_dir is not None else os.path.dirname(split)
    if not os.path.isdir(base):
        raise FileNotFoundError(f"COVIDx image folder {base} (for {split}) is not a folder")
    names = _resolve_class_names(class_names, (), split)

    if drop_duplicates not in (True, False, "keep"):
        raise ValueError(f"drop_duplicates must be true, false or 'keep'; found {drop_duplicates!r}")
    rows: list[dict] = []
    first_line: dict[str, tuple[int, str]] = {}
    repeats: dict[str, int] = {}
    for line, fields, n_fields, n_header in _covidx_records(split):
        expected = f"{n_header} (as the header)" if n_header else "3 or 4 (patientid filename label [source])"
        if (n_header and n_fields != n_header) or (not n_header and n_fields not in (3, 4)):
            problems(f"{split}:{line}", f"row has {n_fields} fields",
                     f"{split} line {line}: {n_fields} fields, expected {expected}: {fields[:n_fields]}")
            continue
        patient, fname, label, source = fields[:4]
        if not fname:
            problems(f"{split}:{line}", "empty filename", f"{split} line {line}: empty filename")
            continue
        full = os.path.normpath(os.path.join(base, fname))
        if label not in names:
            problems(full, f"label {label!r} not in class_names",
                     f"{split} line {line}: label {label!r} of {fname} is not one of the allowed classes "
                     f"{list(names)}{_label_hint(label, names)}")
            continue
        sid = _sample_id(full, base)
        if sid in first_line:
            first, first_label = first_line[sid]
            if first_label != label:
                problems(full, f"{fname} labelled {label!r} on line {line} but {first_label!r} on line {first}",
                         f"{split} line {line}: {fname} labelled {label!r}, but {first_label!r} on line {first}")
            elif drop_duplicates == "keep":
                repeats[sid] = repeats.get(sid, 1) + 1
                rows.append({"sample_id": f"{sid}#{repeats[sid]}", "path": full, "label": label,
                             "patient_id": patient, "source": source})
            elif drop_duplicates:
                problems.rows.append((full, f"duplicate row of {fname} (line {line}, kept line {first})"))
            else:
                problems(full, f"duplicate row of {fname} (line {line}, first on line {first})",
                         f"{split} line {line}: {fname} repeats line {first} (COVIDx *_split_v2 files repeat "
                         "images; pass drop_duplicates=True to keep the first row)")
            continue
        if not os.path.isfile(full):
            problems(full, "file not found",
                     f"{split} line {line}: file not found: {fname} (looked for {full})")
            continue
        first_line[sid] = (line, label)
        rows.append({"sample_id": sid, "path": full, "label": label, "patient_id": patient, "source": source})
    return table_from_rows(rows, names, problems.rows)


# --------------------------------------------------------------------------------------------------
# Dispatch and label maps
# --------------------------------------------------------------------------------------------------

_FORMATS = ("auto", "folders", "manifest", "covidx")


def _detect_format(source: str) -> str:
    if os.path.isdir(source):
        return "folders"
    if not os.path.isfile(source):
        raise FileNotFoundError(f"data source {source} not found")
    suffix = Path(source).suffix.lower()
    if suffix == ".txt":
        return "covidx"
    if suffix == ".csv":
        with open(source, newline="", encoding="utf-8-sig") as fh:
            header = [h.strip().lower() for h in next(csv.reader(fh), [])]
        if "path" in header:
            return "manifest"
        if {"patientid", "filename"} <= set(header) or {"patient_id", "filename"} <= set(header):
            return "covidx"
        if len(header) in (3, 4) and "label" not in header and "class" not in header:
            return "covidx"  # header-less COVIDx CSV: the first row is data
        raise SampleError(
            f"{source}: cannot tell the CSV format from its header {header}: a manifest needs a 'path' "
            "column, a COVIDx split 'patientid,filename,label'; pass format="
        )
    raise SampleError(f"{source}: unknown data source type {suffix!r} (expected a folder, .csv or .txt)")


def read_samples(
    source,
    *,
    format: str = "auto",
    class_names=None,
    image_dir=None,
    drop_duplicates: bool = False,
    on_error: str = "raise",
) -> SampleTable:
    """Read any supported dataset layout into a :class:`SampleTable`.

    ``format="auto"``: a folder -> :func:`read_class_folders`; a ``.csv`` with a ``path`` column ->
    :func:`read_manifest_csv`; a ``.txt``, or a ``.csv`` with ``patientid``/``filename`` columns (or
    a header-less 3/4-column CSV) -> :func:`read_covidx_split`. ``image_dir`` is the COVIDx image
    folder (default: the split file's folder) or, for a manifest, the folder relative paths start
    from (default: the manifest's folder); it is an error for class folders. ``class_names`` ``None``
    means each reader's default (sorted folders / sorted labels / COVIDx order).
    """
    if format not in _FORMATS:
        raise ValueError(f"format must be one of {_FORMATS}; got {format!r}")
    source = os.fspath(source)
    fmt = _detect_format(source) if format == "auto" else format
    if fmt == "folders":
        if image_dir is not None:
            raise ValueError(f"image_dir={image_dir!r} does not apply to the class-folder dataset {source}")
        return read_class_folders(source, class_names, on_error=on_error)
    if fmt == "manifest":
        return read_manifest_csv(source, root=image_dir, class_names=class_names,
                                 drop_duplicates=drop_duplicates, on_error=on_error)
    return read_covidx_split(source, image_dir,
                             class_names=COVIDX_CLASS_NAMES if class_names is None else class_names,
                             drop_duplicates=drop_duplicates, on_error=on_error)


def remap_labels(table: SampleTable, mapping: dict[str, str | None], class_names) -> SampleTable:
    """Relabel ``table`` with ``mapping`` onto the classes ``class_names`` (in that order).

    Example, cxr4-mini 4 classes -> COVIDx 3 classes: ``{"pneumonia_bacterial": "pneumonia",
    "pneumonia_viral": "pneumonia", "covid": "COVID-19"}`` with ``class_names=("normal", "pneumonia",
    "COVID-19")``. A label that is already one of ``class_names`` keeps itself when not in
    ``mapping``; any other unmapped label is an error naming it. Mapping a label to ``None`` drops its
    rows (listed in ``skipped`` with reason ``"label <x> dropped by the label map"``).
    """
    names = _resolve_class_names(class_names, (), "remap_labels")
    bad_targets = sorted({str(v) for v in mapping.values() if v is not None and v not in names})
    if bad_targets:
        raise SampleError(f"label map targets {bad_targets} are not in class_names {list(names)}")
    labels = table.frame["label"].astype(str)
    unmapped = sorted({lab for lab in labels.unique() if lab not in mapping and lab not in names})
    if unmapped:
        raise SampleError(
            f"label(s) {unmapped} have no entry in the label map {mapping} and are not in class_names {list(names)}"
        )
    new = labels.map(lambda lab: mapping[lab] if lab in mapping else lab)
    keep = new.notna().to_numpy()
    frame = table.frame.copy()
    frame["label"] = pd.Series(new, dtype="string")
    index = {c: i for i, c in enumerate(names)}
    frame = frame[keep].reset_index(drop=True)
    frame["label_index"] = frame["label"].map(index).astype("int64")
    dropped = [(p, f"label {lab!r} dropped by the label map")
               for p, lab in zip(table.frame["path"][~keep], labels[~keep])]
    return SampleTable(frame, names, table.skipped).with_skipped(dropped)
