"""Reading a dataset into a :class:`SampleTable`: class-per-folder trees and the format dispatch.

Readers for the layouts in use (class-per-folder trees here, CSV manifests in
:mod:`cxr_core.data.tables.manifest`, COVIDx split files in :mod:`cxr_core.data.tables.covidx`, and the readers
a model family adds, :attr:`cxr_core.family.DataPart.readers`) all return a
:class:`SampleTable` (:mod:`cxr_core.data.tables.sample_table`); their names are importable from here.
"""

from __future__ import annotations

import csv
import logging
import os
from pathlib import Path

from cxr_core.config.choices import DATA_FORMATS
from cxr_core.data.decode.extensions import IMAGE_EXTENSIONS, is_image_name
from cxr_core.data.tables.covidx import COVIDX_CLASS_NAMES, read_covidx_split
from cxr_core.data.tables.kermany_names import kermany_patient_id
from cxr_core.data.tables.manifest import read_manifest_csv
from cxr_core.data.tables.sample_table import (
    Problems,
    SampleError,
    SampleTable,
    relative_sample_id,
    resolve_class_names,
    table_from_rows,
)
from cxr_core.errors import CxrError

__all__ = ["read_class_folders", "read_samples"]

log = logging.getLogger(__name__)
#: The manifest a class-folder tree may carry (``covid-cxr data build`` writes one; ../shared/data's sets have one).
FOLDER_MANIFEST = "MANIFEST.csv"


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
      :data:`cxr_core.data.decode.extensions.IMAGE_EXTENSIONS`: Keras' list plus ``.gif`` and DICOM
      ``.dcm`` / ``.dicom``, which we decode and Keras 2 does not list;
      the row order is Keras' ``filenames`` order.

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

    Patient ids: a ``MANIFEST.csv`` in ``root`` with ``path`` and ``patient_id`` columns (what
    ``covid-cxr data build`` writes, and ../shared/data's sets carry) gives each listed file its
    ``patient_id`` and ``source`` (``source`` or ``source_repo``), so a class-folder path is never read
    as id-less in silence (:func:`folder_manifest_ids`); files it does not list keep none, and a
    WARNING gives their count and the first few.

    Returns:
        A :class:`SampleTable`; ``sample_id`` is ``<class folder>/<relative path>`` (posix), the
        same string as Keras' ``DirectoryIterator.filenames`` on posix systems. Patient ids only for
        files named as Kermany named them (:func:`cxr_core.data.tables.kermany_names.kermany_patient_id`,
        the rule of ``data build`` and ``data.format: kermany`` too); other files have none.
    """
    problems = Problems(on_error, collect=True)
    root_s = os.path.abspath(os.fspath(root))
    if not os.path.isdir(root_s):
        raise FileNotFoundError(f"class-folder dataset root {root_s} is not a folder")
    entries = sorted(os.listdir(root_s))
    folders = [e for e in entries if os.path.isdir(os.path.join(root_s, e))]
    for e in entries:
        full = os.path.join(root_s, e)
        if not os.path.isdir(full) and is_image_name(e):
            problems(full, "image outside any class folder",
                     f"{full}: image directly in the dataset root {root_s}, outside any class folder")
    if class_names is None:
        if not folders:
            raise SampleError(f"{root_s}: no class folders found (expected one sub-folder per class)")
        names = tuple(folders)
    else:
        names = resolve_class_names(class_names, (), root_s)
        absent = [c for c in names if c not in folders]
        if absent:
            raise SampleError(
                f"{root_s}: class folder(s) {absent} named in class_names do not exist; found folders {folders}"
            )
        for extra in [f for f in folders if f not in names]:
            problems(os.path.join(root_s, extra), "class folder not in class_names",
                     f"{root_s}: folder {extra!r} is not one of class_names {list(names)} "
                     f"(remove it, add it to data.class_names, or set data.on_bad_file: skip; command line: "
                     "--set data.on_bad_file=skip)")

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
                if os.path.islink(full) and not os.path.exists(full):  # dangling, or a loop of links
                    problems.rows.append((full, f"symbolic link that leads nowhere (-> {os.readlink(full)}: "
                                                "dangling or a loop)"))
                    continue
                if not is_image_name(fname):
                    problems.rows.append((full, "not an image extension"))
                    continue
                n_images += 1
                rows.append({"sample_id": relative_sample_id(full, root_s), "path": full, "label": label,
                             "patient_id": kermany_patient_id(fname)})
        if n_images == 0:
            problems(class_dir, "class folder has no images",
                     f"class folder {class_dir} has no images (extensions {list(IMAGE_EXTENSIONS)})")
    problems.raise_collected(f"class-folder dataset {root_s}")
    ids = folder_manifest_ids(root_s)
    if ids:
        unlisted = []
        for r in rows:
            patient, source = ids.get(os.path.normpath(r["path"]), ("", ""))
            r["patient_id"], r["source"] = patient or r["patient_id"], source  # the manifest's id wins
            if not r["patient_id"]:
                unlisted.append(r["sample_id"])
        if unlisted:
            log.warning("%s: %d of %d images have no patient id in %s (e.g. %s)", root_s, len(unlisted), len(rows),
                        FOLDER_MANIFEST, ", ".join(unlisted[:3]))
    return table_from_rows(rows, names, problems.rows)


def folder_manifest_ids(root: str) -> dict[str, tuple[str, str]]:
    """``{normalised absolute path: (patient_id, source)}`` from ``root/MANIFEST.csv`` (paths relative to
    ``root``); empty when there is no such file or it has no ``path`` + ``patient_id`` columns.

    Raises:
        SampleError: the manifest names one file twice with two patient ids (line numbers given).
    """
    manifest = os.path.join(root, FOLDER_MANIFEST)
    if not os.path.isfile(manifest):
        return {}
    with open(manifest, newline="", encoding="utf-8-sig") as fh:
        reader = csv.DictReader(fh)
        header = [h.strip() for h in reader.fieldnames or ()]
        if not {"path", "patient_id"} <= set(header):
            return {}
        source_column = next((c for c in ("source", "source_repo") if c in header), None)
        out: dict[str, tuple[str, str]] = {}
        first: dict[str, int] = {}
        for line, row in enumerate(reader, start=2):
            rel = (row.get("path") or "").strip()
            if not rel or os.path.isabs(rel):
                continue
            key = os.path.normpath(os.path.join(root, rel))
            value = ((row.get("patient_id") or "").strip(), (row.get(source_column) or "").strip() if source_column else "")
            if key in out and out[key][0] != value[0]:
                raise SampleError(f"{manifest} line {line}: {rel} has patient id {value[0]!r}, but "
                                  f"{out[key][0]!r} on line {first[key]}")
            out.setdefault(key, value)
            first.setdefault(key, line)
    return out


# --------------------------------------------------------------------------------------------------
# Dispatch and label maps
# --------------------------------------------------------------------------------------------------



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
            "column, a COVIDx split 'patientid,filename,label'; say which with data.format (command line: "
            "--set data.format=manifest or =covidx)"
        )
    raise SampleError(f"{source}: unknown data source type {suffix!r} (expected a folder, .csv or .txt)")


def family_readers() -> dict:
    """``data.format`` name -> reader, of every available model family."""
    from cxr_core.family import iter_families

    return {name: reader for family in iter_families() for name, reader in family.data.readers.items()}


def _family_reader(format: str):
    readers = family_readers()
    if format not in readers:
        raise CxrError(f"format must be one of {list(DATA_FORMATS) + sorted(readers)}; got {format!r}")
    return readers[format]


def read_samples(
    source,
    *,
    format: str = "auto",
    class_names=None,
    image_dir=None,
    drop_duplicates: bool = False,
    on_error: str = "raise",
    label_column: str | None = None,
) -> SampleTable:
    """Read any supported dataset layout into a :class:`SampleTable`.

    ``format="auto"``: a folder -> :func:`read_class_folders`; a ``.csv`` with a ``path`` column ->
    :func:`read_manifest_csv`; a ``.txt``, or a ``.csv`` with ``patientid``/``filename`` columns (or
    a header-less 3/4-column CSV) -> :func:`read_covidx_split`. ``image_dir`` is the COVIDx image
    folder (default: the split file's folder) or, for a manifest, the folder relative paths start
    from (default: the manifest's folder); it is an error for class folders. ``class_names`` ``None``
    means each reader's default (sorted folders / sorted labels / COVIDx order).

    Any other ``format`` names a reader a model family adds
    (:attr:`cxr_core.family.DataPart.readers`), called as ``reader(source, class_names=...,
    image_dir=..., drop_duplicates=..., on_error=...)``. ValueError lists the formats there are.
    ``label_column`` (``data.label_column``) names a manifest's label column when it has both
    ``label`` and ``class``; it is an error for the other layouts.
    """
    source = os.fspath(source)
    if format not in DATA_FORMATS:
        if label_column is not None:
            raise CxrError(f"data.label_column applies to CSV manifests only, not to data.format {format!r}")
        return _family_reader(format)(source, class_names=class_names, image_dir=image_dir,
                                      drop_duplicates=drop_duplicates, on_error=on_error)
    fmt = _detect_format(source) if format == "auto" else format
    if label_column is not None and fmt != "manifest":
        raise CxrError(f"data.label_column ({label_column!r}) applies to CSV manifests only; {source} is read as {fmt}")
    if fmt == "folders":
        if image_dir is not None:
            raise CxrError(f"image_dir={image_dir!r} does not apply to the class-folder dataset {source}")
        return read_class_folders(source, class_names, on_error=on_error)
    if fmt == "manifest":
        return read_manifest_csv(source, root=image_dir, class_names=class_names, label_column=label_column,
                                 drop_duplicates=drop_duplicates, on_error=on_error)
    return read_covidx_split(source, image_dir,
                             class_names=COVIDX_CLASS_NAMES if class_names is None else class_names,
                             drop_duplicates=drop_duplicates, on_error=on_error)
