"""The public data sources of the three papers, read in the layouts users download them in.

Each reader takes the folder the user downloaded (or unpacked) and returns a :class:`SourceSamples`:
one row per usable image (``path, label, patient_id, source, source_path`` plus source-specific
columns such as ``split`` or ``view``) and every file or metadata row it could not use, with the
reason. Nothing is fetched; nothing is dropped silently. Layouts checked against the sources
themselves (read with the project's code-search tools, June 2025 snapshot):

- ``ieee8023`` - github ieee8023/covid-chestxray-dataset: ``metadata.csv`` + ``images/``. Early
  versions (March 2020) have ``Patientid``, flat findings ("COVID-19", "SARS", "COVID-19, ARDS") and
  no ``modality`` column (CT rows say ``view=CT``); later versions have ``patientid``, hierarchical
  findings ("Pneumonia/Viral/COVID-19"), ``modality`` (X-ray / CT) and ``folder`` (images / volumes).
  Column names are matched case-insensitively.
- ``kermany`` - Kermany/Mooney "Chest X-Ray Images (Pneumonia)": ``chest_xray/{train,test,val}/
  {NORMAL,PNEUMONIA}/``; ``personN_bacteria_M.jpeg``, ``personN_virus_M.jpeg``, ``IM-xxxx-xxxx.jpeg``,
  ``NORMAL2-IM-xxxx-xxxx.jpeg``. The Kaggle archive nests a second copy (``chest_xray/chest_xray``)
  and macOS ``__MACOSX`` folders: the shallowest tree is used, the others listed as skipped.
- ``covid-ct`` - github UCSD-AI4H/COVID-CT: ``Images-processed/CT_COVID``, ``CT_NonCOVID`` (the zips
  unpack to ``CT_COVID/CT_COVID`` as CVR-Net's notebook reads them [CVR-P3]) and the official lists
  ``Data-split/COVID/{train,val,test}CT_COVID.txt``, ``Data-split/NonCOVID/{...}CT_NonCOVID.txt``
  (one file name per line).
- ``figure1`` / ``actualmed`` - github agchung/Figure1-COVID-chestxray-dataset and
  agchung/Actualmed-COVID-chestxray-dataset: ``metadata.csv`` (``patientid, finding, view, modality``;
  Actualmed names the file in ``imagename``; Figure1 has no file column: ``images/<patientid>.jpg`` or
  ``.png``, the rule of COVID-Net's ``create_COVIDx.ipynb``) + ``images/``. The label is the first
  comma-separated finding (COVIDx's rule); rows whose ``finding`` cell is empty are skipped ("empty finding
  cell", not to be confused with Actualmed's label ``No finding``).
- ``rsna`` - Kaggle RSNA Pneumonia Detection Challenge: ``stage_2_detailed_class_info.csv``
  (``patientId, class``: Normal / Lung Opacity / No Lung Opacity / Not Normal) and
  ``stage_2_train_images/<patientId>.dcm``.
- ``radiography`` - Kaggle COVID-19 Radiography Database: v1 ``COVID-19/``, ``NORMAL/``,
  ``Viral Pneumonia/``; later ``COVID/images/``, ``Normal/images/``, ``Lung_Opacity/images/``,
  ``Viral Pneumonia/images/`` (``masks/`` skipped). Label = folder name; no patient ids.
- ``ozturk`` - github muhammedtalo/COVID-19 (Ozturk et al.'s release): ``X-Ray Image DataSet/
  {Covid-19,No_findings,Pneumonia}/`` (:mod:`cxr_core.data.build.ozturk_release`).

Patient ids are namespaced by source (``ieee8023-19``, ``kermany-person1_bacteria``) so that two
sources' numbering never merges different people; Kermany's rule (the same for ``data.format`` readers
and class folders) is :func:`cxr_core.data.tables.kermany_names.kermany_patient_id`.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Callable

from cxr_core.data.tables.patient_ids import figure1_patient_id, ieee8023_patient_id
from cxr_core.data.build.layout import (
    JUNK_DIRS,
    SourceError,
    SourceSamples,
    find_file,
    folders_holding,
    is_image_file,
    make_samples,
    need_columns,
    read_csv_rows,
    rel_posix,
    require_dir,
    safe_relative_name,
    walk_files,
)
from cxr_core.data.tables.kermany_names import kermany_patient_id, kermany_pneumonia_kind
from cxr_core.data.build.ozturk_release import read_ozturk

__all__ = ["READERS", "ieee8023_rows_by_file", "index_files_by_name", "read_source"]


# ------------------------------------------------------------------------------------------ ieee8023
def read_ieee8023(root) -> SourceSamples:
    """COVID-19 image data collection: X-ray rows only; label ``COVID-19`` when the finding names it,
    else the finding's last level (``Pneumonia/Bacterial/Streptococcus`` -> ``Streptococcus``).

    Columns ``finding``, ``view`` and ``modality`` are kept; ``offset`` (days since symptoms) and the
    metadata ``line`` too. Listed as not used: a second row naming a file already named (the 2020-06
    collection names ``000001-24.jpg`` ... under patients 285 and 339: the first row is kept, the other
    listed as "file named by two patients"), and images in the image folders that no row names.
    """
    root = require_dir(root, "ieee8023")
    meta = find_file(root, "metadata.csv", "ieee8023", "expected metadata.csv + images/")
    base = meta.parent
    header, rows = read_csv_rows(meta)
    need_columns(header, ("patientid", "finding", "filename"), meta)
    has_modality, has_folder = "modality" in header, "folder" in header
    out, skipped = [], []
    named: dict[Path, tuple[int, str]] = {}
    for line, r in rows:
        where = f"{meta} line {line}"
        name = safe_relative_name(r["filename"], where)
        folder = safe_relative_name(r["folder"], where) if has_folder and r["folder"] else "images"
        path = base / folder / name
        if path in named:
            first, patient = named[path]
            why = (f"file named by two patients: {patient} (line {first}, kept) and {r['patientid']} (line {line})"
                   if patient != r["patientid"] else f"repeated row of {folder}/{name} (line {line}, kept line {first})")
            skipped.append((str(path), why))
            continue
        named[path] = (line, r["patientid"])
        modality = r.get("modality", "")
        is_xray = modality.lower() in ("x-ray", "xray") if has_modality else r.get("view", "").upper() != "CT"
        if not is_xray:
            skipped.append((str(path), f"not an X-ray: modality {modality or r.get('view', '')!r} (line {line})"))
            continue
        finding = r["finding"]
        parts = [p.strip() for p in re.split(r"[/,]", finding) if p.strip()]
        if not parts:
            skipped.append((str(path), f"empty finding (line {line})"))
            continue
        if not path.is_file():
            skipped.append((str(path), f"file not found: {folder}/{name} (line {line})"))
            continue
        label = "COVID-19" if "COVID-19" in parts else parts[-1] if "/" in finding else parts[0]
        out.append({"path": str(path), "label": label, "patient_id": ieee8023_patient_id(r["patientid"]),
                    "source": "ieee8023", "source_path": rel_posix(path, root), "finding": finding,
                    "view": r.get("view", ""), "modality": modality or "X-ray", "offset": r.get("offset", ""),
                    "line": line})
    folders = {p.parent for p in named} | {base / "images"}
    for folder in sorted(f for f in folders if f.is_dir()):
        for f in sorted(folder.iterdir()):
            if f.is_file() and f not in named and is_image_file(f):
                skipped.append((str(f), "no metadata.csv row names this file"))
    layout = ("metadata.csv with modality/folder columns (2020-05 or later)" if has_modality
              else "early metadata.csv (no modality column; CT rows by view=CT)")
    return make_samples("ieee8023", root, out, skipped, layout)


def ieee8023_rows_by_file(root) -> dict[str, dict]:
    """Every ``metadata.csv`` row of the collection by its file name (``filename``), whether or not the
    file was downloaded: ``{name: {"patient_id", "finding", "view", "line", "also"}}``: the first row of a
    name; ``also`` lists ``(patient_id, line)`` of later rows naming the same file for another patient
    (the 2020-06 collection names five files under two patients each). For recipes that take images from
    elsewhere and need the collection's patients.

    Raises:
        SourceError: no ``metadata.csv`` under ``root`` or it lacks ``patientid`` / ``finding`` /
            ``filename``.
    """
    root = require_dir(root, "ieee8023")
    meta = find_file(root, "metadata.csv", "ieee8023", "expected metadata.csv + images/")
    header, rows = read_csv_rows(meta)
    need_columns(header, ("patientid", "finding", "filename"), meta)
    out: dict[str, dict] = {}
    for line, r in rows:
        name = r["filename"].strip()
        patient = ieee8023_patient_id(r["patientid"])
        if name in out:
            if patient != out[name]["patient_id"]:
                out[name]["also"].append((patient, line))
        elif name:
            out[name] = {"patient_id": patient, "finding": r["finding"], "view": r.get("view", ""), "line": line,
                         "also": []}
    return out


# ------------------------------------------------------------------------------------------ kermany
_KERMANY_SPLITS = ("train", "test", "val")
_KERMANY_CLASSES = ("NORMAL", "PNEUMONIA")
_KERMANY_LABELS = {"bacteria": "bacterial", "virus": "viral"}


def kermany_label(file_name: str, folder: str) -> str | None:
    """The label of a Kermany file: ``bacterial``/``viral`` from a ``PNEUMONIA`` file's name, ``normal``
    in ``NORMAL``; ``None`` for a pneumonia name without Kermany's ``personN_bacteria_M`` /
    ``personN_virus_M`` (:func:`cxr_core.data.tables.kermany_names.kermany_pneumonia_kind`, the names
    that have a patient id: :func:`cxr_core.data.tables.kermany_names.kermany_patient_id`)."""
    if folder.upper() == "PNEUMONIA":
        return _KERMANY_LABELS.get(kermany_pneumonia_kind(file_name))
    return "normal"


def _kermany_trees(root: Path) -> list[Path]:
    trees = []
    for dirpath, dirs, _ in os.walk(root):
        dirs[:] = sorted(d for d in dirs if d not in JUNK_DIRS)
        here = Path(dirpath)
        if any((here / s / c).is_dir() for s in _KERMANY_SPLITS for c in _KERMANY_CLASSES):
            trees.append(here)
            dirs[:] = [d for d in dirs if d not in _KERMANY_SPLITS]
    return sorted(trees, key=lambda p: (len(p.parts), str(p)))


def read_kermany(root) -> SourceSamples:
    """Kermany/Mooney pediatric X-rays; labels ``normal``, ``bacterial``, ``viral``; ``split`` column
    = Kermany's own train/test/val folder."""
    root = require_dir(root, "kermany")
    trees = _kermany_trees(root)
    if not trees:
        raise SourceError(f"--source kermany={root}: no chest_xray/{{train,test,val}}/{{NORMAL,PNEUMONIA}}/ folders found")
    tree, extra = trees[0], trees[1:]
    out, skipped = [], []
    for other in extra:
        for f in walk_files(other):
            skipped.append((str(f), f"second copy of the Kermany tree at {rel_posix(other, root)} (used {rel_posix(tree, root) or '.'})"))
    for split in _KERMANY_SPLITS:
        for cls in _KERMANY_CLASSES:
            folder = tree / split / cls
            if not folder.is_dir():
                continue
            for f in walk_files(folder):
                if any(f.is_relative_to(o) for o in extra):
                    continue
                if not is_image_file(f):
                    skipped.append((str(f), "not an image file"))
                    continue
                label = kermany_label(f.name, cls)
                if label is None:
                    skipped.append((str(f), "pneumonia file name not personN_bacteria_M / personN_virus_M"))
                    continue
                out.append({"path": str(f), "label": label,
                            "patient_id": kermany_patient_id(f.name),
                            "source": "kermany", "source_path": rel_posix(f, root), "split": split})
    layout = f"Kermany tree at {rel_posix(tree, root) or '.'} (splits: {', '.join(s for s in _KERMANY_SPLITS if (tree / s).is_dir())})"
    return make_samples("kermany", root, out, skipped, layout)


# ------------------------------------------------------------------------------------------ COVID-CT
COVID_CT_CLASSES = {"CT_COVID": "COVID", "CT_NonCOVID": "NonCOVID"}
COVID_CT_LISTS = {"CT_COVID": ("COVID", "CT_COVID"), "CT_NonCOVID": ("NonCOVID", "CT_NonCOVID")}


def _image_folder(root: Path, name: str) -> Path:
    """The folder called ``name`` that directly holds images (``CT_COVID/CT_COVID`` when nested)."""
    candidates = [Path(d) for d, dirs, _ in os.walk(root) if Path(d).name == name
                  and not (set(Path(d).parts) & JUNK_DIRS)]
    with_images = [c for c in candidates if any(is_image_file(p) for p in c.iterdir() if p.is_file())]
    if not with_images:
        raise SourceError(f"--source covid-ct={root}: no folder {name}/ with images found "
                          "(unzip Images-processed/{name}.zip)".replace("{name}", name))
    return min(with_images, key=lambda p: (len(p.parts), str(p)))


def read_covid_ct(root) -> SourceSamples:
    """UCSD-AI4H COVID-CT: labels ``COVID`` / ``NonCOVID``; ``split`` = ``train``/``val``/``test`` from
    the official lists (empty when a file is in no list, or when the lists are absent)."""
    root = require_dir(root, "covid-ct")
    out, skipped, notes = [], [], []
    for folder_name, label in COVID_CT_CLASSES.items():
        folder = _image_folder(root, folder_name)
        files = {f.name: f for f in sorted(folder.iterdir()) if f.is_file()}
        for name, f in files.items():
            if not is_image_file(f):
                skipped.append((str(f), "not an image file"))
        split_of: dict[str, str] = {}
        list_dir_name, stem = COVID_CT_LISTS[folder_name]
        for split in ("train", "val", "test"):
            list_name = f"{split}{stem}.txt"
            found = sorted(p for p in root.rglob(list_name) if p.parent.name == list_dir_name
                           and not (set(p.parts) & JUNK_DIRS))
            if not found:
                notes.append(f"official list Data-split/{list_dir_name}/{list_name} not found")
                continue
            lst = min(found, key=lambda p: (len(p.parts), str(p)))
            for line, raw in enumerate(lst.read_text(encoding="utf-8-sig").splitlines(), start=1):
                if not raw.strip():
                    continue
                name = safe_relative_name(raw, f"{lst} line {line}")
                if name not in files:
                    skipped.append((str(folder / name), f"listed but not found: {rel_posix(lst, root)} line {line}"))
                    continue
                if name in split_of and split_of[name] != split:
                    raise SourceError(f"{lst} line {line}: {name} is also in the {split_of[name]} list")
                split_of[name] = split
        for name, f in files.items():
            if is_image_file(f):
                out.append({"path": str(f), "label": label, "patient_id": None, "source": "covid-ct",
                            "source_path": rel_posix(f, root), "split": split_of.get(name, "")})
    unlisted = sum(1 for r in out if not r["split"])
    if unlisted:
        notes.append(f"{unlisted} images are in no official split list")
    return make_samples("covid-ct", root, out, skipped, "Images-processed/CT_COVID, CT_NonCOVID + Data-split lists", notes)


# ------------------------------------------------------------------------------- Figure1 / Actualmed
def _read_agchung(root, source: str) -> SourceSamples:
    root = require_dir(root, source)
    meta = find_file(root, "metadata.csv", source, "expected metadata.csv + images/")
    images = meta.parent / "images"
    header, rows = read_csv_rows(meta)
    need_columns(header, ("patientid", "finding"), meta)
    file_column = "imagename" if "imagename" in header else "filename" if "filename" in header else None
    out, skipped = [], []
    for line, r in rows:
        where = f"{meta} line {line}"
        if file_column:
            name = safe_relative_name(r[file_column], where)
            path = images / name
        else:  # Figure1: images/<patientid>.jpg or .png (COVID-Net create_COVIDx rule)
            pid = safe_relative_name(r["patientid"], where)
            path = next((images / f"{pid}{ext}" for ext in (".jpg", ".png") if (images / f"{pid}{ext}").is_file()),
                        images / f"{pid}.jpg")
        finding = r["finding"]
        if not finding:
            skipped.append((str(path), f"empty finding cell in metadata.csv (line {line})"))
            continue
        if not path.is_file():
            skipped.append((str(path), f"file not found: images/{path.name} (line {line})"))
            continue
        patient = figure1_patient_id(r["patientid"]) if source == "figure1" else r["patientid"]
        out.append({"path": str(path), "label": finding.split(",")[0].strip(), "patient_id": f"{source}-{patient}",
                    "source": source, "source_path": rel_posix(path, root), "finding": finding, "view": r.get("view", ""),
                    "line": line})
    return make_samples(source, root, out, skipped, f"metadata.csv ({file_column or 'patientid + .jpg/.png'}) + images/")


def read_figure1(root) -> SourceSamples:
    """agchung/Figure1-COVID-chestxray-dataset; label = first finding (``COVID-19``, ``Pneumonia``, ...)."""
    return _read_agchung(root, "figure1")


def read_actualmed(root) -> SourceSamples:
    """agchung/Actualmed-COVID-chestxray-dataset; label = first finding (``COVID-19``, ``No finding``)."""
    return _read_agchung(root, "actualmed")


# ------------------------------------------------------------------------------------------ RSNA
def read_rsna(root) -> SourceSamples:
    """RSNA Pneumonia Detection Challenge (stage 2): label = ``class`` of
    ``stage_2_detailed_class_info.csv``; images ``stage_2_train_images/<patientId>.dcm``."""
    root = require_dir(root, "rsna")
    info = find_file(root, "stage_2_detailed_class_info.csv", "rsna",
                      "expected stage_2_detailed_class_info.csv and stage_2_train_images/")
    images = info.parent / "stage_2_train_images"
    header, rows = read_csv_rows(info)
    need_columns(header, ("patientid", "class"), info)
    seen: dict[str, tuple[int, str]] = {}
    out, skipped = [], []
    for line, r in rows:
        pid = safe_relative_name(r["patientid"], f"{info} line {line}")
        if pid in seen:
            first, label = seen[pid]
            if label != r["class"]:
                raise SourceError(f"{info} line {line}: {pid} is {r['class']!r} but {label!r} on line {first}")
            continue  # one row per bounding box: repeats are expected
        seen[pid] = (line, r["class"])
        path = images / f"{pid}.dcm"
        if not path.is_file():
            skipped.append((str(path), f"file not found: stage_2_train_images/{pid}.dcm (line {line})"))
            continue
        out.append({"path": str(path), "label": r["class"], "patient_id": f"rsna-{pid}", "source": "rsna",
                    "source_path": rel_posix(path, root), "line": line})
    return make_samples("rsna", root, out, skipped, "stage_2_detailed_class_info.csv + stage_2_train_images/*.dcm")


# ------------------------------------------------------------------------------------------ Radiography
RADIOGRAPHY_FOLDERS = ("COVID", "COVID-19", "Normal", "NORMAL", "Viral Pneumonia", "Lung_Opacity")


def read_radiography(root) -> SourceSamples:
    """COVID-19 Radiography Database (any version): label = class folder name; ``masks/`` skipped."""
    root = require_dir(root, "radiography")
    bases = folders_holding(root, RADIOGRAPHY_FOLDERS)
    if not bases:
        raise SourceError(f"--source radiography={root}: no class folders {list(RADIOGRAPHY_FOLDERS)} found")
    base = bases[0]
    out, skipped = [], []
    for cls in sorted(d.name for d in base.iterdir() if d.is_dir() and d.name in RADIOGRAPHY_FOLDERS):
        folder = base / cls
        for f in walk_files(folder):
            rel_parts = f.relative_to(folder).parts
            if rel_parts[0] == "masks":
                skipped.append((str(f), "segmentation mask (masks/)"))
            elif not is_image_file(f):
                skipped.append((str(f), "not an image file"))
            else:
                out.append({"path": str(f), "label": cls, "patient_id": None, "source": "radiography",
                            "source_path": rel_posix(f, root)})
    version = "later (class/images/)" if (base / "COVID" / "images").is_dir() else "v1 (flat class folders)"
    return make_samples("radiography", root, out, skipped, f"{rel_posix(base, root) or '.'}: {version}")


READERS: dict[str, Callable[..., SourceSamples]] = {
    "ieee8023": read_ieee8023,
    "kermany": read_kermany,
    "covid-ct": read_covid_ct,
    "figure1": read_figure1,
    "actualmed": read_actualmed,
    "rsna": read_rsna,
    "radiography": read_radiography,
    "ozturk": read_ozturk,
}


def read_source(name: str, root) -> SourceSamples:
    """Read the source called ``name`` (one of :data:`READERS`) from ``root``."""
    try:
        reader = READERS[name]
    except KeyError:
        raise SourceError(f"unknown source {name!r}; known sources: {sorted(READERS)}") from None
    return reader(root)


def index_files_by_name(root, *, squeeze_spaces: bool = False) -> dict[str, list[Path]]:
    """Every file under ``root`` by its file name (junk folders skipped), each list sorted.

    ``squeeze_spaces`` also indexes the name with spaces removed (COVIDx renamed ``COVID (1).png`` of
    the Radiography Database to ``COVID(1).png`` [CNet@1914bcb]).
    """
    index: dict[str, list[Path]] = {}
    for f in walk_files(Path(root)):
        index.setdefault(f.name, []).append(f)
        if squeeze_spaces and " " in f.name:
            index.setdefault(f.name.replace(" ", ""), []).append(f)
    return index
