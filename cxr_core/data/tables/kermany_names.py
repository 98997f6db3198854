"""Patient ids and pneumonia kinds from Kermany's file names: the one rule that every reader uses.

Kermany/Mooney "Chest X-Ray Images (Pneumonia)" (Mendeley rscbjbr9sj, Kaggle "chest-xray-pneumonia";
docs/SOURCES.md) has no metadata file; the file names are all there is:

- ``PNEUMONIA/personN_bacteria_M.jpeg``, ``PNEUMONIA/personN_virus_M.jpeg`` (one file ``..._M_1.jpeg``);
- ``NORMAL/IM-xxxx-yyyy.jpeg`` (``IM-xxxx-yyyy-zzzz.jpeg`` for a second picture of the same study) and
  ``NORMAL/NORMAL2-IM-xxxx-yyyy.jpeg``.

The patient id is ``kermany-person<N>_<bacteria|virus>`` for pneumonia and ``kermany-<stem>`` with the
stem ``IM-xxxx`` or ``NORMAL2-IM-xxxx`` for normal images. Why the kind and the ``NORMAL2-`` prefix are
part of the id (measured on the real release in ../shared/data/sources/kermany-224/chest_xray,
5,840 files, train + test):

- Kermany's train/test split is by patient. With the kind kept, no ``personN_bacteria`` and no
  ``personN_virus`` occurs in both train and test (0 of 1,430 and 0 of 1,216); with the kind dropped,
  170 ``personN`` would straddle the split. 979 numbers occur with both kinds, more than a chance
  co-infection could explain: bacterial and viral cases are numbered separately, so
  ``person100_bacteria`` and ``person100_virus`` are two children (their pictures differ in build
  and age). The ``_M`` counter is per kind as well (unique within each kind).
- Likewise with the prefix kept no normal stem occurs in both train and test; with ``NORMAL2-``
  stripped, 94 stems would straddle it (328 numbers occur in both series). The two series are
  numbered separately: ``IM-1427-0001.jpeg`` and ``NORMAL2-IM-1427-0001.jpeg`` are different children.
  ``IM-0011-0001-0001.jpeg`` and ``IM-0011-0001-0002.jpeg`` are nearly the same picture: one patient.

A ``kermany_`` / ``kermany-`` prefix before Kermany's name (as in ../shared/data/cxr4-mini) is
accepted. Any other name gets no id (``None``): the rule never guesses.

The pneumonia kind (bacterial or viral, :func:`kermany_pneumonia_kind`) is read from the same
``personN_<bacteria|virus>_M`` names, so a pneumonia file has a kind exactly when it has a patient id.
"""

from __future__ import annotations

import os
import re

__all__ = ["kermany_patient_id", "kermany_pneumonia_kind"]

_PREFIX = r"(?:kermany[_-])?"
_PNEUMONIA = re.compile(_PREFIX + r"(person\d+)_(bacteria|virus)_\d+(?:_\d+)?\.[A-Za-z0-9]+", re.IGNORECASE)
_NORMAL = re.compile(_PREFIX + r"((?:NORMAL\d*-)?IM-\d+)(?:-\d+)+\.[A-Za-z0-9]+", re.IGNORECASE)


def kermany_patient_id(file_name: str | os.PathLike) -> str | None:
    """The patient id a Kermany file name gives, namespaced ``kermany-``; ``None`` for other names.

    ``person1_bacteria_1.jpeg`` -> ``kermany-person1_bacteria``; ``person1_virus_6.jpeg`` ->
    ``kermany-person1_virus`` (another child); ``IM-0115-0001.jpeg`` -> ``kermany-IM-0115``;
    ``NORMAL2-IM-1427-0001.jpeg`` -> ``kermany-NORMAL2-IM-1427`` (not ``IM-1427``'s child). Only the base
    name counts (a path is fine); case is normalized (``person``, kind lower; ``IM``/``NORMAL2`` upper).
    """
    name = os.path.basename(os.fspath(file_name))
    m = _PNEUMONIA.fullmatch(name)
    if m:
        return f"kermany-{m.group(1).lower()}_{m.group(2).lower()}"
    m = _NORMAL.fullmatch(name)
    if m:
        return f"kermany-{m.group(1).upper()}"
    return None


def kermany_pneumonia_kind(file_name: str | os.PathLike) -> str | None:
    """``"bacteria"`` or ``"virus"`` (lower case) from a Kermany pneumonia file name, ``None`` for other names.

    ``person1_bacteria_1.jpeg`` -> ``"bacteria"``; ``kermany_person100_virus_184.jpeg`` -> ``"virus"``;
    ``IM-0115-0001.jpeg`` and ``scan7.jpeg`` -> ``None``. The names :func:`kermany_patient_id` reads as
    pneumonia (only the base name counts, case is ignored).
    """
    m = _PNEUMONIA.fullmatch(os.path.basename(os.fspath(file_name)))
    return m.group(2).lower() if m else None
