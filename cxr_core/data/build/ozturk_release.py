"""Ozturk et al.'s released data set, read in its download layout (source name ``ozturk``).

github muhammedtalo/COVID-19 (images added 2020-04-22, unchanged since; read at ee3e2cf):
``X-Ray Image DataSet/{Covid-19, No_findings, Pneumonia}/``, 125 / 500 / 500 files, one class per
folder, no metadata file. The README says the COVID-19 images come from the COVID-19 image data
collection (ieee8023) and the other two classes are "500 no-findings and 500 pneumonia class frontal
chest X-ray images" drawn at random from ChestX-ray8 (Wang et al.) [OZ@ee3e2cf].

What the names carry (checked on the release's 1,125 names, docs/VERIFIED.md):

- ``No_findings`` / ``Pneumonia``: ChestX-ray8's own names, ``<patient, 8 digits>_<follow-up>.png``
  (:func:`cxr_core.data.tables.patient_ids.chestxray8_patient_id`), so patients are known: 500 images
  of 332 patients and 500 of 371, 21 patients in both classes.
- ``Covid-19``: the collection's ``metadata.csv`` file names (all 125 are rows of its 2020-06-22
  version), but no patient: the reader leaves ``patient_id`` empty; a recipe that is given the
  collection joins its ``patientid`` by file name (``coronet_tf.recipes``).

The folder may be given as the repository, ``X-Ray Image DataSet`` itself, or any folder above
them. Files that are not images are listed as not used; nothing is dropped silently.
"""

from __future__ import annotations

from pathlib import Path

from cxr_core.data.build.layout import (
    SourceError,
    SourceSamples,
    folders_holding,
    is_image_file,
    make_samples,
    rel_posix,
    require_dir,
    walk_files,
)
from cxr_core.data.tables.patient_ids import chestxray8_patient_id

#: The release's class folders [OZ@ee3e2cf].
OZTURK_FOLDERS = ("Covid-19", "No_findings", "Pneumonia")
_CHESTXRAY8_FOLDERS = ("No_findings", "Pneumonia")
#: Each row's ``source``: the release and where its README says the folder's images come from, so that
#: the class x source checks see the two collections behind the three classes.
_ORIGIN = {"Covid-19": "ozturk-ieee8023", "No_findings": "ozturk-chestxray8", "Pneumonia": "ozturk-chestxray8"}


def _release_folder(root: Path) -> Path:
    """The one folder under ``root`` holding at least two of :data:`OZTURK_FOLDERS` (SourceError when there are
    several, e.g. the notebook's ``Train/`` and ``Valid/``: reading one would drop the other unseen)."""
    found = folders_holding(root, OZTURK_FOLDERS)
    if not found:
        raise SourceError(f"--source ozturk={root}: no folder holds the release's class folders "
                          f"{list(OZTURK_FOLDERS)} (expected 'X-Ray Image DataSet/Covid-19/' ... of "
                          "github muhammedtalo/COVID-19)")
    if len(found) > 1:
        raise SourceError(f"--source ozturk={root}: {len(found)} folders hold the release's class folders "
                          f"({', '.join(rel_posix(f, root) or '.' for f in found)}); give the one to read")
    base = found[0]
    missing = [name for name in OZTURK_FOLDERS if not (base / name).is_dir()]
    if missing:
        raise SourceError(f"--source ozturk={root}: {rel_posix(base, root) or '.'} has no "
                          f"{' or '.join(repr(m) for m in missing)} folder; the release has "
                          f"{list(OZTURK_FOLDERS)}")
    return base


def read_ozturk(root) -> SourceSamples:
    """Ozturk et al.'s release: label = class folder (``Covid-19``, ``No_findings``, ``Pneumonia``).

    ``source``: ``ozturk-ieee8023`` (Covid-19) or ``ozturk-chestxray8`` (the other two), the collection
    each folder's images come from [OZ@ee3e2cf]. Columns beyond the common ones: ``file_name``.
    ``patient_id``: ChestX-ray8's patient for the two
    ChestX-ray8 folders, empty for ``Covid-19`` and for a ChestX-ray8-folder file whose name is not of
    ChestX-ray8's shape (counted in the notes).

    Raises:
        SourceError: ``root`` is not a folder, holds no release folder, misses one of the three class
            folders, or holds no image at all.
    """
    root = require_dir(root, "ozturk")
    base = _release_folder(root)
    out, skipped = [], []
    unnamed: list[str] = []
    for cls in OZTURK_FOLDERS:
        for f in walk_files(base / cls):
            if not is_image_file(f):
                skipped.append((str(f), "not an image file"))
                continue
            chestxray8 = cls in _CHESTXRAY8_FOLDERS
            patient = chestxray8_patient_id(f.name) if chestxray8 else None
            if chestxray8 and patient is None:
                unnamed.append(rel_posix(f, root))
            out.append({"path": str(f), "label": cls, "patient_id": patient, "source": _ORIGIN[cls],
                        "source_path": rel_posix(f, root), "file_name": f.name})
    notes = ([f"{len(unnamed)} images of the ChestX-ray8 folders have no ChestX-ray8 name (no patient id): "
              f"{', '.join(unnamed)}"] if unnamed else [])
    return make_samples("ozturk", root, out, skipped, f"{rel_posix(base, root) or '.'}: "
                        f"{', '.join(OZTURK_FOLDERS)} (github muhammedtalo/COVID-19)", notes)
