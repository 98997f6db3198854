"""Patient-id rules of the public sources, one function per source.

A patient id decides which images must stay on one side of a split (``protocol.group_by_patient``)
and which the hazard checks and ``covid-cxr data audit`` call the same patient. Each source writes
its ids its own way; the rules here are checked on the real files in ``../shared/data/sources``
(tests/cxr_core/data/tables/test_patient_ids.py). Ids of the build readers are namespaced by source
(``figure1-COVID-00015``) so that two sources' numbering never merges different people; COVIDx split
files' ids are kept as written (:func:`covidx_patient_id`). Kermany's rule has its own module
(:func:`cxr_core.data.tables.kermany_names.kermany_patient_id`).
"""

from __future__ import annotations

import re

_FIGURE1_IMAGE_SUFFIX = re.compile(r"^(COVID-\d+)([a-z])$")


def figure1_patient_id(patientid: str) -> str:
    """The patient of a Figure1 ``patientid`` (agchung/Figure1-COVID-chestxray-dataset ``metadata.csv``).

    Figure1 names each image after its ``patientid``; a patient with several images gets the same
    number with a letter: ``COVID-00015a`` / ``COVID-00015b``, ``COVID-00039a`` / ``b`` / ``c`` (COVIDx
    v4 and later list them so, ``fig1`` rows). The letter is dropped: ``COVID-00015a`` -> ``COVID-00015``;
    an id without such a letter is returned as it is. Whitespace around the id is removed.
    """
    text = patientid.strip()
    m = _FIGURE1_IMAGE_SUFFIX.match(text)
    return m.group(1) if m else text


def ieee8023_patient_id(patientid: str) -> str:
    """``ieee8023-<patientid>``: the COVID-19 image data collection numbers patients itself (``patientid``
    column of ``metadata.csv``; one patient, several rows and dates)."""
    return f"ieee8023-{patientid.strip()}"


def covidx_patient_id(patient_id: str, source: str = "") -> str | None:
    """The patient of a COVIDx split-file row: the first field(s) as written (COVID-Net's own ids, e.g.
    ``3``, ``COVID 119``, an RSNA ``patientId``), except ``fig1`` rows, whose ids follow
    :func:`figure1_patient_id` (COVIDx copies Figure1's per-image ids). ``None`` for an empty id."""
    text = patient_id.strip()
    if not text:
        return None
    return figure1_patient_id(text) if source == "fig1" else text


_CHESTXRAY8_NAME = re.compile(r"^(\d{8})_(\d{3})\.png$")


def chestxray8_patient_id(file_name: str) -> str | None:
    """``chestxray8-<8 digits>`` from a ChestX-ray8 (NIH ChestX-ray14) file name, or None.

    The NIH collection names every image ``<Patient ID, 8 digits>_<Follow-up #, 3 digits>.png``
    (``00001684_011.png``: patient 1684, follow-up 11), the ``Image Index`` of its
    ``Data_Entry_2017.csv``; copies that kept the names (Ozturk et al.'s release) keep the patient.
    A name of another shape gives None (no patient is guessed).
    """
    m = _CHESTXRAY8_NAME.match(file_name.strip())
    return f"chestxray8-{m.group(1)}" if m else None
