"""COVIDx from its split files: parse the rows, find each file in the public sources, plan the build.

COVID-Net's split files [CNet] list one image per row: ``patientid filename label`` (v1/v2,
``train_COVIDx.txt``) or ``patientid filename label source`` (``*_split_v2.txt`` and later,
``source`` one of ``cohen``, ``fig1``, ``actmed``, ``sirm``, ``rsna``, ``ricord``), space separated;
CORONA-Net ships a CSV variant with the header ``patientid,filename,label`` [CR-S]. Some patient
ids contain a space (``COVID 119 COVID(119).png COVID-19 sirm``, from the Radiography Database), so
whitespace rows are parsed from the right: the last field is the source when it is not a label,
then the label, then the file name; whatever remains is the patient id.

Where each file comes from (COVID-Net ``create_COVIDx.ipynb`` [CNet@1914bcb], read for this module):

- ``cohen`` / ``fig1`` / ``actmed``: copied byte for byte from the source's ``images/``;
- ``sirm``: the Radiography Database's ``COVID (N).png`` read with ``cv2.imread`` (BGR), converted
  with ``cv2.cvtColor(..., COLOR_BGR2GRAY)`` and written as ``COVID(N).png`` (spaces removed);
  we do the same (``gray_png``);
- ``rsna``: ``<patientId>.dcm`` written as ``<patientId>.png`` from ``pixel_array``
  (:mod:`cxr_core.data.decode.dicom` states the rule).

A file name is looked up anywhere under the named source's folder (``index_files_by_name``), so
any unpacking layout works; rows without a source column are looked up in every source given.
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping, Sequence

from cxr_core.data.build.assemble import BuildItem, BuildPlan
from cxr_core.data.build.layout import SourceError, safe_relative_name
from cxr_core.data.tables.patient_ids import covidx_patient_id
from cxr_core.data.build.sources import index_files_by_name

COVIDX_LABELS = ("normal", "pneumonia", "COVID-19", "positive", "negative")
#: COVIDx source column value -> our source name.
#: COVID-Net's own spellings, as its split files write them: ``rnsa`` is RSNA in COVIDx v9A/9B; ``ricord``,
#: ``stonybrook`` and ``bimcv`` have no reader here and are looked up by file name under ``--source NAME=PATH``.
COVIDX_SOURCES = {"cohen": "ieee8023", "fig1": "figure1", "actmed": "actualmed", "sirm": "radiography",
                  "rsna": "rsna", "rnsa": "rsna", "ricord": "ricord", "stonybrook": "stonybrook", "bimcv": "bimcv",
                  **{n: n for n in ("ieee8023", "figure1", "actualmed", "radiography")}}
#: Every ``--source`` name a COVIDx build accepts.
COVIDX_SOURCE_NAMES = tuple(sorted(set(COVIDX_SOURCES.values())))
SEARCH_ORDER = ("ieee8023", "figure1", "actualmed", "radiography", "rsna")
_UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\.", re.IGNORECASE)


@dataclass(frozen=True)
class CovidxRow:
    """One row of a split file: ``line`` (1-based), ``patient_id``, ``filename``, ``label``, ``source``
    (COVIDx spelling, ``""`` when the file has no source column)."""

    file: str
    line: int
    patient_id: str
    filename: str
    label: str
    source: str = ""


def parse_covidx_fields(fields: Sequence[str], where: str) -> CovidxRow | None:
    """Whitespace fields of one row, parsed from the right (see the module docstring)."""
    if len(fields) < 3:
        raise SourceError(f"{where}: {len(fields)} fields {list(fields)}; expected 'patientid filename label [source]'")
    if fields[-1] in COVIDX_LABELS:
        label, name, rest, source = fields[-1], fields[-2], fields[:-2], ""
    elif fields[-2] in COVIDX_LABELS and len(fields) >= 4:
        label, name, rest, source = fields[-2], fields[-3], fields[:-3], fields[-1]
    else:
        raise SourceError(f"{where}: no label among the last two fields {list(fields[-2:])}; labels are {list(COVIDX_LABELS)}")
    name = safe_relative_name(name, where)
    return CovidxRow("", 0, " ".join(rest), name, label, source)


def read_covidx_rows(path) -> list[CovidxRow]:
    """Every row of a COVIDx split file (``.txt`` space separated, ``.csv`` with or without header),
    repeats included; unsafe file names (absolute, ``..``) raise :class:`SourceError` with the line."""
    path = Path(path)
    if not path.is_file():
        raise SourceError(f"--split-file {path}: not found")
    rows = []
    with open(path, newline="", encoding="utf-8-sig") as fh:
        if path.suffix.lower() == ".csv":
            records = list(csv.reader(fh))
            numbered = [(i, [c.strip() for c in r]) for i, r in enumerate(records, start=1) if any(c.strip() for c in r)]
            if numbered and "filename" in [c.lower() for c in numbered[0][1]]:
                header = [c.lower().replace("patient_id", "patientid") for c in numbered[0][1]]
                col = {h: j for j, h in enumerate(header)}
                for line, r in numbered[1:]:
                    where = f"{path} line {line}"
                    get = lambda k: r[col[k]] if k in col and col[k] < len(r) else ""  # noqa: E731
                    if get("label") not in COVIDX_LABELS:
                        raise SourceError(f"{where}: label {get('label')!r} is not one of {list(COVIDX_LABELS)}")
                    rows.append(CovidxRow(str(path), line, get("patientid"), safe_relative_name(get("filename"), where),
                                          get("label"), get("source")))
                return rows
        else:
            numbered = [(i, ln.split()) for i, ln in enumerate(fh, start=1) if ln.strip()]
    for line, fields in numbered:
        row = parse_covidx_fields(fields, f"{path} line {line}")
        rows.append(CovidxRow(str(path), line, row.patient_id, row.filename, row.label, row.source))
    return rows


def split_file_counts(rows: Sequence[CovidxRow]) -> dict[str, int]:
    """Distinct files per label of one split file's rows (repeated rows counted once): the "expected"
    column of BUILD.md for its subset."""
    files: dict[str, set[str]] = {}
    for r in rows:
        files.setdefault(r.label, set()).add(r.filename)
    return {label: len(names) for label, names in files.items()}


def subset_of_split_file(path) -> str:
    """``test`` when the file name contains ``test`` (case-insensitive), else ``train``."""
    return "test" if "test" in Path(path).name.lower() else "train"


def guess_source(filename: str) -> str:
    """Where a file of a split file without source column most likely comes from (for messages)."""
    if _UUID.match(filename):
        return "rsna"
    if filename.startswith("COVID(") or filename.startswith("COVID ("):
        return "radiography"
    if filename.startswith("COVID-000"):
        return "figure1"
    if filename.startswith(("CR.1.2.840", "DX.1.2.840")):
        return "actualmed"
    return "ieee8023"


def plan_covidx(recipe: str, split_files: Sequence[Path], sources: Mapping[str, Path]) -> BuildPlan:
    """The :class:`BuildPlan` that writes every file the split files list into ``train/`` / ``test/``.

    Each split file is also copied into its subset folder (so ``--data OUT/train/<file>`` reads the
    images beside it). Rows not found are listed with the source they should come from, in the
    ``--source`` name the recipe accepts (COVID-Net's ``rnsa`` -> ``rsna``). The expected counts
    (``plan.published``, ``expected_from="split file"``) are each subset's split files' own distinct
    files per label.
    """
    plan = BuildPlan(recipe, expected_from="split file")
    indexes = {name: index_files_by_name(root, squeeze_spaces=(name == "radiography"))
               for name, root in sorted(sources.items())}
    placed: dict[str, tuple[str, str]] = {}
    for split in split_files:
        subset = subset_of_split_file(split)
        plan.extra_files[f"{subset}/{Path(split).name}"] = str(split)
        rows = read_covidx_rows(split)
        own = plan.published.setdefault(subset, {})
        for label, names in split_file_counts(rows).items():
            own[label] = own.get(label, 0) + names
        plan.notes.append(f"{Path(split).name} -> {subset}/: {len(rows)} rows, "
                          f"{len({r.filename for r in rows})} distinct files")
        for row in rows:
            where = f"{Path(split).name} line {row.line}"
            dest = f"{subset}/{row.filename}"
            if dest in placed:
                if placed[dest][0] != row.label:
                    raise SourceError(f"{where}: {row.filename} labelled {row.label!r}, but {placed[dest][0]!r} "
                                      f"on {placed[dest][1]}")
                continue  # repeated row: the file is written once; readers keep or drop repeats
            wanted = COVIDX_SOURCES.get(row.source, row.source) if row.source else ""
            candidates = [wanted] if wanted else [s for s in SEARCH_ORDER if s in sources]
            found = None
            for src in candidates:
                index = indexes.get(src, {})
                stem = Path(row.filename).stem
                hits = index.get(row.filename) or index.get(f"{stem}.dcm") or []
                if hits:
                    found = (src, sorted(hits)[0], len(hits))
                    break
            if found is None:
                expected = wanted or guess_source(row.filename)
                why = (f"source {expected!r} not given (--source {expected}=PATH)" if expected not in sources
                       else f"not found under --source {expected}={sources[expected]}")
                plan.skipped.append((expected, f"{where}: {row.filename}", why))
                continue
            src, path, n_hits = found
            if n_hits > 1:
                plan.notes.append(f"{where}: {n_hits} files named {path.name} under {src}; used {path}")
            convert = "dicom_png" if path.suffix.lower() == ".dcm" else "gray_png" if src == "radiography" else None
            plan.items.append(BuildItem(dest=dest, label=row.label, source=src, source_file=str(path),
                                        source_path=path.relative_to(sources[src]).as_posix(),
                                        patient_id=covidx_patient_id(row.patient_id, row.source), subset=subset, convert=convert))
            placed[dest] = (row.label, where)
    return plan
